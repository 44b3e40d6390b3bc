//! The command line: `stackbill [serve|migrate|demo-seed|user add|token create]`.
//!
//! Every command prints one clear line on failure and exits non-zero; nothing is written
//! when an argument is invalid.

pub mod bench;
mod bench_aggregates;
pub mod bench_console;
mod bench_portal;
mod bench_rating;
mod import;

use crate::config::Config;
use crate::{demo, open_database, settings, spawn, spawn_housekeeping, telemetry};
use app::billing::CloudTenantId;
use app::i18n::Locale;
use app::ssr::auth::{self, Caller};
use app::ssr::db;
use app::ssr::services::accounts::{self, TokenInput, UserInput};
use app::ssr::services::ingest::Source;
use app::ssr::{AppState, Clock};
use app::types::Role;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

/// Stackbill: chargeback and billing for Azure Stack Hub.
#[derive(Debug, Parser)]
#[command(name = "stackbill", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web server (the default when no command is given).
    Serve,
    /// Apply database migrations and synchronise the meter catalogue, then exit.
    Migrate,
    /// Create or refresh the demo CSP (idempotent and deterministic for a given seed).
    DemoSeed(demo::DemoArgs),
    /// Manage people who sign in.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens for scripts and BI tools.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Import usage from a file (JSON usage-API pages, arrays of records, or CSV).
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Manage registrations (stamps) and where their usage is collected.
    Registration {
        #[command(subcommand)]
        command: RegistrationCommand,
    },
    /// Collect usage from the Azure Stack usage API (from the watermark to the last closed
    /// hour, or an explicit window to backfill).
    Pull(PullArgs),
    /// Work the quarantine of records that could not be accepted.
    Quarantine {
        #[command(subcommand)]
        command: QuarantineCommand,
    },
    /// Map cloud tenants to customer subscriptions. Changes take effect at the start of a
    /// UTC day (00:00 UTC); a later change for the same day replaces the earlier one for
    /// that whole day, and every change stays in the history.
    Mapping {
        #[command(subcommand)]
        command: MappingCommand,
    },
    /// User subscriptions on the stamps: assign an owner to unassigned usage.
    Subscription {
        #[command(subcommand)]
        command: SubscriptionCommand,
    },
    /// Check the daily rollups against the records they sum, or rebuild them.
    Rollups {
        #[command(subcommand)]
        command: RollupsCommand,
    },
    /// What each billing account costs in a period: the rating service's figures (the same
    /// as the home pages, the API and, later, the invoices).
    Cost(CostArgs),
    /// Month-end invoicing: draft a period's invoices, issue them, void one with a credit
    /// note, list them.
    Invoice {
        #[command(subcommand)]
        command: InvoiceCommand,
    },
    /// Benchmarks.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum InvoiceCommand {
    /// Draft one invoice per billing account with usage in the period (re-running replaces
    /// the period's drafts and nothing else).
    Run {
        /// The billing period, `YYYY-MM`.
        #[arg(long)]
        period: String,
        /// Only this registration (name or id).
        #[arg(long)]
        registration: Option<String>,
    },
    /// Issue drafts: one by id, or every draft of a period.
    Issue {
        /// The draft's id.
        #[arg(long, conflicts_with = "period")]
        id: Option<i64>,
        /// Every draft of this period, `YYYY-MM`.
        #[arg(long)]
        period: Option<String>,
        /// With --period: only this registration.
        #[arg(long)]
        registration: Option<String>,
        /// Issue even though some usage has no price (recorded in the audit log).
        #[arg(long)]
        waive_unpriced: bool,
    },
    /// Void an issued invoice: a credit note reverses it.
    Void {
        /// The invoice number.
        number: String,
    },
    /// List a period's invoices and credit notes.
    List {
        /// The billing period, `YYYY-MM`.
        #[arg(long)]
        period: String,
    },
}

#[derive(Debug, Args)]
struct CostArgs {
    /// The billing period, `YYYY-MM` (default: the month in progress).
    #[arg(long)]
    period: Option<String>,
    /// Only this customer's part of each account (id, cloud tenant GUID or exact name).
    #[arg(long)]
    customer: Option<String>,
    /// Output: an aligned table, CSV (UTF-8, dot decimals) or JSON.
    #[arg(long, value_enum, default_value_t = CostFormat::Table)]
    format: CostFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CostFormat {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
enum ImportCommand {
    /// Import a usage file, or `-` for stdin. Prints accepted / duplicate / corrected /
    /// quarantined counts; a malformed file is refused whole (nothing stored).
    Usage(ImportArgs),
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// The file, or `-` for standard input.
    file: String,
    /// The registration the usage belongs to (default: the only one).
    #[arg(long)]
    registration: Option<String>,
    /// Records per batch (each batch commits atomically).
    #[arg(long, default_value_t = app::ssr::services::import::DEFAULT_BATCH_SIZE)]
    batch_size: usize,
}

#[derive(Debug, Subcommand)]
enum RegistrationCommand {
    /// Add a registration, optionally with its collector configuration.
    Add(RegistrationAddArgs),
}

#[derive(Debug, Args)]
struct RegistrationAddArgs {
    /// Registration name.
    #[arg(long)]
    name: String,
    /// Base (default) subscription GUID.
    #[arg(long)]
    subscription: String,
    /// Resource group of the registration resource in Azure.
    #[arg(long, default_value = "azurestack")]
    resource_group: String,
    /// Invoice currency (ISO 4217).
    #[arg(long, default_value = "USD")]
    currency: String,
    /// The stamp's admin endpoint, e.g. https://adminmanagement.local.azurestack.external
    #[arg(long)]
    usage_endpoint: Option<String>,
    /// The Default Provider Subscription GUID.
    #[arg(long)]
    provider_subscription: Option<String>,
    /// Environment variable that holds a bearer token for the admin endpoint.
    #[arg(long)]
    token_env: Option<String>,
    /// Program that prints a bearer token, e.g. `az` (run without a shell; give its
    /// arguments with --token-arg).
    #[arg(long)]
    token_command: Option<String>,
    /// One argument of the token command (repeat, in order): --token-arg account
    /// --token-arg get-access-token …
    #[arg(long = "token-arg", allow_hyphen_values = true, requires = "token_command")]
    token_args: Vec<String>,
    /// First UTC day billing may be dated on (YYYY-MM-DD; default the first day of this
    /// month, where the collector starts). Mappings, owners and prices cannot start before it.
    #[arg(long)]
    active_from: Option<String>,
}

#[derive(Debug, Args)]
struct PullArgs {
    /// Only this registration (default: every configured one).
    #[arg(long)]
    registration: Option<String>,
    /// Backfill from this reported time (RFC 3339), leaving the watermark alone.
    #[arg(long, requires = "to")]
    from: Option<DateTime<Utc>>,
    /// End of the backfill (exclusive).
    #[arg(long, requires = "from")]
    to: Option<DateTime<Utc>>,
    /// Print each registration's collector state and exit.
    #[arg(long)]
    status: bool,
    /// Minutes a reported window must have been closed before it is pulled (0–1440;
    /// default STACKBILL_COLLECTOR_SETTLE_MINUTES or 15).
    #[arg(long, allow_hyphen_values = true)]
    settle_minutes: Option<i64>,
    /// How many of the last closed windows to pull again (0–24; default
    /// STACKBILL_COLLECTOR_REPULL_HOURS or 2).
    #[arg(long, allow_hyphen_values = true)]
    repull_hours: Option<i64>,
}

#[derive(Debug, Subcommand)]
enum QuarantineCommand {
    /// List open quarantined records.
    List {
        /// Only this registration.
        #[arg(long)]
        registration: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// Parse quarantined records again and store those that are now valid.
    Reprocess {
        /// One record.
        #[arg(long, conflicts_with = "all")]
        id: Option<i64>,
        /// Every open record.
        #[arg(long)]
        all: bool,
    },
    /// Discard a quarantined record (kept as discarded, never deleted).
    Discard {
        /// The record.
        #[arg(long)]
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
enum MappingCommand {
    /// Map (or re-map) a tenant to a customer subscription from the start of a UTC day.
    Set {
        /// The registration (default: the only one).
        #[arg(long)]
        registration: Option<String>,
        /// The customer's cloud tenant (directory) GUID, any case or hyphenation.
        #[arg(long)]
        tenant: String,
        /// The customer subscription GUID.
        #[arg(long)]
        subscription: String,
        /// The UTC day it takes effect (YYYY-MM-DD; default today).
        #[arg(long)]
        effective_on: Option<String>,
    },
    /// Unmap a tenant from the start of a UTC day: its usage falls back to the base
    /// subscription.
    Remove {
        /// The registration (default: the only one).
        #[arg(long)]
        registration: Option<String>,
        /// The cloud tenant GUID.
        #[arg(long)]
        tenant: String,
        /// The UTC day it takes effect (YYYY-MM-DD; default today).
        #[arg(long)]
        effective_on: Option<String>,
    },
    /// Every mapping change of a tenant, newest first, replaced ones marked.
    History {
        /// The cloud tenant GUID.
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Debug, Subcommand)]
enum SubscriptionCommand {
    /// Assign the owner of a user subscription. Without --effective-on, a subscription
    /// that never had an owner gets it from its first usage (never inside an invoiced
    /// period); one that had an owner changes from today.
    Assign {
        /// The registration (default: the only one).
        #[arg(long)]
        registration: Option<String>,
        /// The user subscription GUID.
        #[arg(long)]
        subscription: String,
        /// The owner's cloud tenant GUID.
        #[arg(long)]
        tenant: String,
        /// The UTC day it takes effect (YYYY-MM-DD).
        #[arg(long)]
        effective_on: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum RollupsCommand {
    /// Compare every daily rollup with the exact sum of its records; exits non-zero on
    /// any difference.
    Check(DayRange),
    /// Recompute the daily rollups exactly from the records.
    Rebuild(DayRange),
}

#[derive(Debug, Args)]
struct DayRange {
    /// First day (YYYY-MM-DD; default: the first day with usage).
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// Last day, inclusive.
    #[arg(long, requires = "from")]
    to: Option<String>,
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Ingestion throughput: generate usage-API pages, import them, compare with a plain
    /// INSERT baseline.
    Ingest(bench::BenchArgs),
    /// The rating service on a month of daily rollups (all accounts, and one customer).
    Rating(bench_rating::RatingBenchArgs),
    /// The customer portal on a year of daily usage: overview, explorer, charts and CSV,
    /// customer by customer.
    Portal(bench_portal::PortalBenchArgs),
    /// The operator console at 10,000 customers and 100,000 user subscriptions: every list,
    /// a mapping change, and the customers page under 16 concurrent requests.
    Console(bench_console::ConsoleBenchArgs),
    /// Paging through stored records with the Azure-compatible provider usage endpoint over
    /// HTTP: records per second, and page 1 against page 900.
    Aggregates(bench_aggregates::AggregatesBenchArgs),
    /// Write synthetic usage-API pages to a file (for memory and scale measurements).
    Generate(bench::GenerateArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum PersonRole {
    Operator,
    Finance,
    Customer,
}

impl From<PersonRole> for Role {
    fn from(r: PersonRole) -> Role {
        match r {
            PersonRole::Operator => Role::Operator,
            PersonRole::Finance => Role::Finance,
            PersonRole::Customer => Role::Customer,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum TokenRole {
    Operator,
    Finance,
    Customer,
    /// May only push usage.
    Ingest,
}

impl From<TokenRole> for Role {
    fn from(r: TokenRole) -> Role {
        match r {
            TokenRole::Operator => Role::Operator,
            TokenRole::Finance => Role::Finance,
            TokenRole::Customer => Role::Customer,
            TokenRole::Ingest => Role::Ingest,
        }
    }
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user. The password is read from stdin with --password-stdin, otherwise one
    /// is generated and printed once.
    Add(UserAddArgs),
    /// List users with their role, state and last sign-in.
    List,
    /// Disable a user: they cannot sign in and their sessions end at once.
    Disable(UserEmail),
    /// Enable a disabled user again.
    Enable(UserEmail),
    /// Set a new password (read from stdin with --password-stdin, or generated and printed
    /// once); their sessions end and their known browsers are forgotten.
    ResetPassword {
        /// The user's email.
        #[arg(long)]
        email: String,
        /// Read the new password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// End every session of a user (signed out everywhere).
    SignOut(UserEmail),
}

#[derive(Debug, Args)]
struct UserEmail {
    /// The user's email.
    #[arg(long)]
    email: String,
}

#[derive(Debug, Args)]
struct UserAddArgs {
    /// Sign-in email.
    #[arg(long)]
    email: String,
    /// Role.
    #[arg(long, value_enum)]
    role: PersonRole,
    /// The customer (id, cloud tenant GUID or exact name); required for customer users.
    #[arg(long)]
    customer: Option<String>,
    /// Display name (defaults to the part of the email before @).
    #[arg(long)]
    name: Option<String>,
    /// Interface language: en, fr, nl, zh-TW, zh-CN.
    #[arg(long, default_value = "en")]
    locale: String,
    /// Read the password from the first line of stdin.
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create an API token; it is printed once and only its hash is stored.
    Create(TokenCreateArgs),
    /// List tokens: role, scope, prefix, last use, expiry, revocation.
    List,
    /// Revoke a token: it stops working at once.
    Revoke {
        /// The token's id (see `token list`).
        #[arg(long)]
        id: i64,
    },
}

#[derive(Debug, Args)]
struct TokenCreateArgs {
    /// Role the token acts with.
    #[arg(long, value_enum)]
    role: TokenRole,
    /// The customer (id, cloud tenant GUID or exact name); required for customer tokens.
    #[arg(long)]
    customer: Option<String>,
    /// What the token is for ("Power BI export").
    #[arg(long)]
    name: String,
    /// The registration an ingest token may push usage for (required for ingest tokens).
    #[arg(long)]
    registration: Option<String>,
    /// How long it works: 90d, 12h, 6w, 1y or never (default: never for ingest tokens,
    /// which must not silently stop billing data; 1y for others).
    #[arg(long, allow_hyphen_values = true)]
    expires_in: Option<String>,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("stackbill: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("stackbill: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command.unwrap_or(Command::Serve), config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("stackbill: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn state(config: &Config) -> Result<AppState, String> {
    let clock = Clock::system();
    let db = open_database(config, &clock).await?;
    Ok(AppState {
        clock,
        ..AppState::new(db, settings(config))
    })
}

async fn run(command: Command, config: Config) -> Result<(), String> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let state = state(&config).await?;
            let meters = app::ssr::services::catalogue::count_meters(&state.db)
                .await
                .map_err(message)?;
            println!("Database {} is up to date ({meters} meters).", config.database_url);
            Ok(())
        }
        Command::DemoSeed(args) => {
            let state = state(&config).await?;
            let summary = demo::seed(&state, &args).await?;
            println!("{summary}");
            Ok(())
        }
        Command::User {
            command: UserCommand::Add(args),
        } => user_add(config, args).await,
        Command::User { command } => user_admin(config, command).await,
        Command::Token {
            command: TokenCommand::Create(args),
        } => token_create(config, args).await,
        Command::Token { command } => token_admin(config, command).await,
        Command::Import {
            command: ImportCommand::Usage(args),
        } => import_usage(config, args).await,
        Command::Registration {
            command: RegistrationCommand::Add(args),
        } => registration_add(config, args).await,
        Command::Pull(args) => pull(config, args).await,
        Command::Quarantine { command } => quarantine(config, command).await,
        Command::Mapping { command } => mapping(config, command).await,
        Command::Subscription {
            command:
                SubscriptionCommand::Assign {
                    registration,
                    subscription,
                    tenant,
                    effective_on,
                },
        } => subscription_assign(config, registration, subscription, tenant, effective_on).await,
        Command::Rollups { command } => rollups(config, command).await,
        Command::Cost(args) => cost(config, args).await,
        Command::Invoice { command } => invoice(config, command).await,
        Command::Bench {
            command: BenchCommand::Ingest(args),
        } => {
            println!("{}", bench::run(&args).await?);
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Rating(args),
        } => {
            println!("{}", bench_rating::run(&args).await?);
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Portal(args),
        } => {
            println!("{}", bench_portal::run(&args).await?);
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Console(args),
        } => {
            println!("{}", bench_console::run(&args).await?);
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Aggregates(args),
        } => {
            println!("{}", bench_aggregates::run(&args).await?);
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Generate(args),
        } => {
            let bytes = bench::generate(&args)?;
            println!(
                "Wrote {} records ({:.1} MB) to {}",
                args.records,
                bytes as f64 / 1e6,
                args.out.display()
            );
            Ok(())
        }
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let state = state(&config).await?;
    let running = spawn(&config, state.clone())
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let state_for_collector = state.clone();
    spawn_housekeeping(state);
    tracing::info!(addr = %running.addr, database = %config.database_url, "Stackbill is serving");
    println!("Stackbill is running. Sign in at {}/sign-in", config.public_url);
    if let Some(minutes) = config.collector_interval_minutes {
        crate::collector::spawn_scheduler(
            state_for_collector,
            std::time::Duration::from_secs(minutes as u64 * 60),
            config.collector_timing,
        );
        tracing::info!(minutes, "collector scheduler on");
    }
    running
        .handle
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Finds a customer by id, cloud tenant GUID or exact name.
async fn resolve_customer(state: &AppState, key: &str) -> Result<i64, String> {
    app::ssr::services::lookup::resolve_customer(&state.db, key)
        .await
        .map_err(message)
}

fn message(e: app::error::AppError) -> String {
    match e.field {
        Some(field) => format!("--{field}: {}", e.message),
        None => e.message,
    }
}

async fn user_add(config: Config, args: UserAddArgs) -> Result<(), String> {
    // Check everything that needs no database first.
    let email = accounts::parse_email(&args.email).map_err(message)?;
    let locale = Locale::parse(&args.locale)
        .ok_or_else(|| format!("--locale: `{}` is not one of en, fr, nl, zh-TW, zh-CN", args.locale))?;
    let role: Role = args.role.into();
    if role == Role::Customer && args.customer.is_none() {
        return Err("--customer: a customer user needs the customer they belong to".into());
    }
    if role != Role::Customer && args.customer.is_some() {
        return Err("--customer: only customer users belong to a customer".into());
    }
    let (password, generated) = if args.password_stdin {
        (read_password_line()?, false)
    } else {
        (auth::generate_password(), true)
    };
    auth::check_password_policy(&password).map_err(message)?;

    let state = state(&config).await?;
    let customer_id = match &args.customer {
        Some(key) => Some(resolve_customer(&state, key).await?),
        None => None,
    };
    let input = UserInput {
        email: email.clone(),
        display_name: args.name,
        role,
        customer_id,
        password: password.clone(),
        locale,
    };
    let id = accounts::create_user(&state, &Caller::cli(), input)
        .await
        .map_err(message)?;
    println!("Created {role} user {email} (id {id}).");
    if generated {
        println!("Password: {password}");
        println!(
            "It is shown only now; the user can sign in at {}/sign-in",
            config.public_url
        );
    }
    Ok(())
}

async fn token_create(config: Config, args: TokenCreateArgs) -> Result<(), String> {
    let role: Role = args.role.into();
    if role == Role::Customer && args.customer.is_none() {
        return Err("--customer: a customer token needs the customer it belongs to".into());
    }
    if role != Role::Customer && args.customer.is_some() {
        return Err("--customer: only customer tokens belong to a customer".into());
    }
    if role == Role::Ingest && args.registration.is_none() {
        return Err("--registration: an ingest token names the registration it may push usage for".into());
    }
    if role != Role::Ingest && args.registration.is_some() {
        return Err("--registration: only ingest tokens are scoped to a registration".into());
    }
    let expires_in = match &args.expires_in {
        Some(raw) => accounts::parse_expires_in(raw).map_err(message)?,
        None => accounts::default_token_lifetime(role),
    };
    let state = state(&config).await?;
    let customer_id = match &args.customer {
        Some(key) => Some(resolve_customer(&state, key).await?),
        None => None,
    };
    let registration_id = match &args.registration {
        Some(name) => Some(registration_by_name(&state, Some(name)).await?.id),
        None => None,
    };
    let (id, token) = accounts::create_token(
        &state,
        &Caller::cli(),
        TokenInput {
            name: args.name,
            role,
            customer_id,
            registration_id,
            expires_in,
        },
    )
    .await
    .map_err(message)?;
    let expiry = expires_in
        .map(|d| format!("expires {}", when(Some(state.now_secs() + d.num_seconds()))))
        .unwrap_or_else(|| "never expires".into());
    println!("Created {role} token {id} ({expiry}). Use it as `Authorization: Bearer <token>`; it is shown only now:");
    println!("{token}");
    Ok(())
}

async fn token_admin(config: Config, command: TokenCommand) -> Result<(), String> {
    let state = state(&config).await?;
    match command {
        TokenCommand::List => {
            let now = state.now_secs();
            let tokens = accounts::list_tokens(&state).await.map_err(message)?;
            if tokens.is_empty() {
                println!("No API tokens.");
            }
            for t in tokens {
                let status = match (t.revoked_at, t.expires_at) {
                    (Some(r), _) => format!("revoked {}", when(Some(r))),
                    (None, Some(e)) if e <= now => format!("expired {}", when(Some(e))),
                    (None, Some(e)) => format!("active, expires {}", when(Some(e))),
                    (None, None) => "active, never expires".into(),
                };
                let scope = match (t.role.as_str(), &t.registration_name, t.customer_id) {
                    ("ingest", Some(r), _) => format!(" for registration {r}"),
                    ("ingest", None, _) => " for ANY registration (created before scoping; recreate it)".into(),
                    (_, _, Some(c)) => format!(" for customer {c}"),
                    _ => String::new(),
                };
                println!(
                    "#{} {} ({}…) {}{scope}: {status}; last used {}",
                    t.id,
                    t.name,
                    t.token_prefix,
                    t.role,
                    when(t.last_used_at)
                );
            }
            Ok(())
        }
        TokenCommand::Revoke { id } => {
            accounts::revoke_token(&state, &Caller::cli(), id)
                .await
                .map_err(message)?;
            println!("Revoked token {id}; it no longer works.");
            Ok(())
        }
        TokenCommand::Create(_) => unreachable!("handled by token_create"),
    }
}

fn read_password_line() -> Result<String, String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("Password (input is not hidden; end with Enter):");
    }
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn user_admin(config: Config, command: UserCommand) -> Result<(), String> {
    let state = state(&config).await?;
    let by = Caller::cli();
    match command {
        UserCommand::List => {
            for u in accounts::list_users(&state).await.map_err(message)? {
                println!(
                    "{} {} ({}{}) {}; last sign-in {}",
                    u.id,
                    u.email,
                    u.role,
                    u.customer_id.map(|c| format!(", customer {c}")).unwrap_or_default(),
                    if u.disabled_at.is_some() { "DISABLED" } else { "enabled" },
                    when(u.last_sign_in_at)
                );
            }
            Ok(())
        }
        UserCommand::Disable(u) => {
            accounts::set_user_enabled(&state, &by, &u.email, false)
                .await
                .map_err(message)?;
            println!("Disabled {}; their sessions have ended.", u.email);
            Ok(())
        }
        UserCommand::Enable(u) => {
            accounts::set_user_enabled(&state, &by, &u.email, true)
                .await
                .map_err(message)?;
            println!("Enabled {}.", u.email);
            Ok(())
        }
        UserCommand::ResetPassword { email, password_stdin } => {
            let given = if password_stdin {
                Some(read_password_line()?)
            } else {
                None
            };
            let generated = given.is_none();
            let password = accounts::reset_password(&state, &by, &email, given)
                .await
                .map_err(message)?;
            println!("Set a new password for {email}; their sessions have ended.");
            if generated {
                println!("Password: {password}");
                println!("It is shown only now.");
            }
            Ok(())
        }
        UserCommand::SignOut(u) => {
            let n = accounts::sign_out_everywhere(&state, &by, &u.email)
                .await
                .map_err(message)?;
            println!("Ended {n} session(s) of {}.", u.email);
            Ok(())
        }
        UserCommand::Add(_) => unreachable!("handled by user_add"),
    }
}

async fn registration_by_name(
    state: &AppState,
    name: Option<&str>,
) -> Result<db::registrations::RegistrationRow, String> {
    app::ssr::services::lookup::resolve_registration(&state.db, name)
        .await
        .map_err(|e| match e.field {
            Some(_) => format!("--registration: {}", e.message),
            None => e.message,
        })
}

async fn import_usage(config: Config, args: ImportArgs) -> Result<(), String> {
    use app::ssr::services::import::{import_file, ImportError, ImportOptions};
    use import::{spawn_progress, spool_stdin};
    let state = state(&config).await?;
    let reg = registration_by_name(&state, args.registration.as_deref()).await?;
    let (path, spooled, label) = if args.file == "-" {
        (spool_stdin().map_err(|e| e.to_string())?, true, "stdin".to_owned())
    } else {
        let p = std::path::PathBuf::from(&args.file);
        if !p.is_file() {
            return Err(format!("{}: no such file", args.file));
        }
        let label = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        (p, false, label)
    };
    let total = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let progress = (std::io::stderr().is_terminal() && total > 10_000_000)
        .then(|| std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0)));
    let bar = progress.clone().map(|p| spawn_progress(total, p));
    let options = ImportOptions {
        registration_id: reg.id,
        batch_size: args.batch_size,
        source: Source::Import,
        actor: "cli".into(),
        label: format!("import {label}"),
        writers: None,
    };
    let result = import_file(&state, &path, &options, progress.clone()).await;
    if let (Some(p), Some(bar)) = (progress, bar) {
        p.store(total, std::sync::atomic::Ordering::Relaxed);
        let _ = bar.await;
    }
    if spooled {
        let _ = std::fs::remove_file(&path);
    }
    let summary = match result {
        Ok(s) => s,
        Err(ImportError::Document(d)) => return Err(format!("{label}: {d}; nothing was stored")),
        Err(e) => return Err(format!("{label}: {e}")),
    };
    println!(
        "{label} → {}: {} records: {} accepted, {} duplicate, {} corrected, {} stale, {} quarantined ({} batches).",
        reg.name,
        summary.records,
        summary.report.accepted,
        summary.report.duplicates,
        summary.report.corrected,
        summary.report.stale,
        summary.report.quarantined,
        summary.batches
    );
    for (index, reason) in &summary.rejected {
        println!("  record {index}: {reason}");
    }
    if summary.report.quarantined as usize > summary.rejected.len() {
        println!("  … see `stackbill quarantine list` for all of them");
    }
    Ok(())
}

async fn registration_add(config: Config, args: RegistrationAddArgs) -> Result<(), String> {
    use app::ssr::services::registrations::{add_registration, check_collector, CollectorInput, RegistrationInput};
    let collector = CollectorInput {
        usage_endpoint: args.usage_endpoint,
        provider_subscription: args.provider_subscription,
        token_env: args.token_env,
        token_command: args.token_command.map(|program| {
            let mut argv = vec![program];
            argv.extend(args.token_args);
            argv
        }),
    };
    check_collector(&collector).map_err(message)?;
    let active_from = match &args.active_from {
        Some(d) => Some(parse_day(d, "active-from").map_err(message)?),
        None => None,
    };
    let state = state(&config).await?;
    let input = RegistrationInput {
        name: args.name.clone(),
        base_subscription: args.subscription,
        resource_group: args.resource_group,
        currency: args.currency,
        active_from,
        collector,
    };
    let id = add_registration(&state, &Caller::cli(), input).await.map_err(message)?;
    println!("Added registration {} (id {id}).", args.name);
    Ok(())
}

fn when(secs: Option<i64>) -> String {
    secs.and_then(|s| DateTime::from_timestamp(s, 0))
        .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "never".into())
}

async fn pull(config: Config, args: PullArgs) -> Result<(), String> {
    use crate::collector::{Collector, Range, Timing};
    let timing = Timing::new(
        args.settle_minutes
            .unwrap_or(config.collector_timing.settle.num_minutes()),
        args.repull_hours.unwrap_or(config.collector_timing.repull_hours),
    )
    .map_err(|e| format!("--settle-minutes/--repull-hours: {e}"))?;
    if let Some(from) = args.from {
        let now = Utc::now();
        if from > now || args.to.is_some_and(|t| t > now) {
            return Err(format!(
                "--from/--to: the backfill range reaches into the future (now is {}); only closed reported windows can be pulled",
                now.format("%Y-%m-%dT%H:%MZ")
            ));
        }
        if args.to.is_some_and(|t| t <= from) {
            return Err("--from/--to: the backfill range is empty or reversed".into());
        }
    }
    let state = state(&config).await?;
    let regs = app::ssr::services::lookup::registrations(&state.db, args.registration.as_deref())
        .await
        .map_err(message)?;
    if args.status {
        let statuses = app::ssr::services::collector::status(&state.db, args.registration.as_deref())
            .await
            .map_err(message)?;
        for s in statuses {
            let configured = if s.configured { "" } else { " (no collector configured)" };
            match s.watermark_at {
                Some(watermark) => println!(
                    "{}{configured}: watermark {}, last success {}, last window {} records{}",
                    s.registration,
                    when(Some(watermark)),
                    when(s.last_success_at),
                    s.last_window_records.unwrap_or_default(),
                    s.last_error
                        .map(|e| format!(", last error {}: {e}", when(s.last_error_at)))
                        .unwrap_or_default()
                ),
                None => println!("{}{configured}: never collected", s.registration),
            }
        }
        return Ok(());
    }
    let targets: Vec<_> = regs
        .into_iter()
        .filter(|r| r.usage_endpoint.is_some() || args.registration.is_some())
        .collect();
    if targets.is_empty() {
        return Err(
            "no registration has a usage endpoint; add one with `stackbill registration add … --usage-endpoint`".into(),
        );
    }
    let collector = Collector::default().with_timing(timing).named("pull");
    let mut failed = false;
    for reg in targets {
        match collector
            .pull(
                &state,
                &reg,
                Range {
                    from: args.from,
                    to: args.to,
                },
            )
            .await
        {
            Ok(r) => {
                println!(
                    "{}: {} windows, {} pages, {} records: {} accepted, {} duplicate, {} corrected, {} stale, \
                     {} quarantined; {} subscriptions known; watermark {}",
                    reg.name,
                    r.windows,
                    r.pages,
                    r.records,
                    r.report.accepted,
                    r.report.duplicates,
                    r.report.corrected,
                    r.report.stale,
                    r.report.quarantined,
                    r.subscriptions,
                    r.watermark
                        .map(|w| w.format("%Y-%m-%d %H:%M UTC").to_string())
                        .unwrap_or_else(|| "unchanged".into())
                );
                if let Some(e) = &r.subscriptions_error {
                    eprintln!("{}: warning: the stamp's subscriptions were not read ({e}); usage of new subscriptions stays unassigned until they are", reg.name);
                }
            }
            Err(e) => {
                eprintln!("{}: {e}", reg.name);
                failed = true;
            }
        }
    }
    if failed {
        Err("the collector failed for at least one registration (see above)".into())
    } else {
        Ok(())
    }
}

async fn quarantine(config: Config, command: QuarantineCommand) -> Result<(), String> {
    use app::ssr::services::quarantine::{discard, reprocess, Reprocessed};
    let state = state(&config).await?;
    match command {
        QuarantineCommand::List { registration, limit } => {
            let reg = match registration.as_deref() {
                Some(n) => Some(registration_by_name(&state, Some(n)).await?.id),
                None => None,
            };
            let (open, rows) = app::ssr::services::quarantine::list_open(&state.db, reg, limit)
                .await
                .map_err(message)?;
            println!("{open} open quarantined records.");
            for r in rows {
                let raw: String = r.raw.chars().take(120).collect();
                println!(
                    "#{} (batch {}, record {}, {}): {}\n    {raw}",
                    r.id,
                    r.batch_id,
                    r.index,
                    when(Some(r.received_at)),
                    r.reason
                );
            }
            Ok(())
        }
        QuarantineCommand::Reprocess { id, all } => {
            let ids: Vec<i64> = match (id, all) {
                (Some(id), _) => vec![id],
                (None, true) => {
                    let (_, open) = app::ssr::services::quarantine::list_open(&state.db, None, i64::MAX)
                        .await
                        .map_err(message)?;
                    open.iter().map(|r| r.id).collect()
                }
                (None, false) => return Err("give --id N or --all".into()),
            };
            let (mut ok, mut still) = (0, 0);
            for id in ids {
                match reprocess(&state, &Caller::cli(), id, None).await.map_err(message)? {
                    Reprocessed::Accepted(_) => ok += 1,
                    Reprocessed::StillRejected(reason) => {
                        still += 1;
                        println!("#{id} is still not valid: {reason}");
                    }
                }
            }
            println!("{ok} reprocessed, {still} still quarantined.");
            Ok(())
        }
        QuarantineCommand::Discard { id } => {
            discard(&state, &Caller::cli(), id).await.map_err(message)?;
            println!("Discarded quarantined record #{id}.");
            Ok(())
        }
    }
}

fn parse_day(raw: &str, field: &str) -> Result<chrono::NaiveDate, app::error::AppError> {
    app::ssr::services::periods::parse_day(raw, field)
}

fn parse_guid<T>(
    raw: &str,
    field: &str,
    parse: impl Fn(&str) -> Result<T, app::billing::BillingError>,
) -> Result<T, String> {
    parse(raw).map_err(|e| format!("--{field}: {e}"))
}

async fn mapping(config: Config, command: MappingCommand) -> Result<(), String> {
    use app::billing::SubscriptionId;
    use app::ssr::services::mappings::{change_mapping, mapping_history, ChangeSource, MappingChange};
    let state = state(&config).await?;
    let (registration, tenant, subscription, effective_on) = match command {
        MappingCommand::History { tenant } => {
            let tenant = parse_guid(&tenant, "tenant", CloudTenantId::parse)?;
            let history = mapping_history(&state, &Caller::cli(), tenant).await.map_err(message)?;
            if history.is_empty() {
                println!("Cloud tenant {tenant} has never been mapped.");
            }
            for h in history {
                println!(
                    "{} from {}: {}  (recorded {} by {}{}{}){}",
                    h.registration,
                    h.effective_on,
                    h.subscription
                        .as_deref()
                        .unwrap_or("unmapped — falls back to the base subscription"),
                    when(Some(h.recorded_at)),
                    h.actor,
                    if h.actor_label.is_empty() { "" } else { " " },
                    h.actor_label,
                    if h.replaced {
                        " — replaced by a later change the same day"
                    } else {
                        ""
                    }
                );
            }
            return Ok(());
        }
        MappingCommand::Set {
            registration,
            tenant,
            subscription,
            effective_on,
        } => (
            registration,
            tenant,
            Some(parse_guid(&subscription, "subscription", SubscriptionId::parse)?),
            effective_on,
        ),
        MappingCommand::Remove {
            registration,
            tenant,
            effective_on,
        } => (registration, tenant, None, effective_on),
    };
    let tenant = parse_guid(&tenant, "tenant", CloudTenantId::parse)?;
    let effective_on = match effective_on {
        Some(d) => Some(parse_day(&d, "effective-on").map_err(message)?),
        None => None,
    };
    let reg = registration_by_name(&state, registration.as_deref()).await?;
    let out = change_mapping(
        &state,
        &Caller::cli(),
        MappingChange {
            registration_id: reg.id,
            cloud_tenant: tenant,
            subscription,
            effective_on,
            source: ChangeSource::Cli,
        },
    )
    .await
    .map_err(message)?;
    let show = |s: Option<SubscriptionId>| s.map_or("the base subscription".to_owned(), |s| s.to_string());
    println!(
        "{}: cloud tenant {tenant} bills to {} from {} 00:00 UTC (was {}){}.",
        reg.name,
        show(out.after),
        out.effective_on,
        show(out.before),
        if out.replaced_same_day {
            "; this replaces the earlier change for that day"
        } else {
            ""
        }
    );
    Ok(())
}

async fn subscription_assign(
    config: Config,
    registration: Option<String>,
    subscription: String,
    tenant: String,
    effective_on: Option<String>,
) -> Result<(), String> {
    use app::billing::SubscriptionId;
    let subscription = parse_guid(&subscription, "subscription", SubscriptionId::parse)?;
    let tenant = parse_guid(&tenant, "tenant", CloudTenantId::parse)?;
    let effective_on = match effective_on {
        Some(d) => Some(parse_day(&d, "effective-on").map_err(message)?),
        None => None,
    };
    let state = state(&config).await?;
    let reg = registration_by_name(&state, registration.as_deref()).await?;
    let day = app::ssr::services::ownership::assign_owner(
        &state,
        &Caller::cli(),
        reg.id,
        subscription,
        tenant,
        effective_on,
        "cli",
    )
    .await
    .map_err(message)?;
    println!(
        "{}: user subscription {subscription} belongs to cloud tenant {tenant} from {day}.",
        reg.name
    );
    Ok(())
}

async fn rollups(config: Config, command: RollupsCommand) -> Result<(), String> {
    use app::ssr::services::maintenance::{check_rollups, rebuild_rollups};
    let range = |r: &DayRange| -> Result<Option<(chrono::NaiveDate, chrono::NaiveDate)>, String> {
        match (&r.from, &r.to) {
            (Some(f), Some(t)) => {
                let (f, t) = (
                    parse_day(f, "from").map_err(message)?,
                    parse_day(t, "to").map_err(message)?,
                );
                if t < f {
                    return Err("--from/--to: the last day is before the first".into());
                }
                Ok(Some((f, t)))
            }
            _ => Ok(None),
        }
    };
    let state = state(&config).await?;
    match command {
        RollupsCommand::Check(r) => {
            let diffs = check_rollups(&state.db, range(&r)?).await.map_err(|e| e.to_string())?;
            if diffs.is_empty() {
                println!("Every daily rollup equals the exact sum of its records.");
                return Ok(());
            }
            for d in &diffs {
                println!(
                    "{} {} row {} meter {}: rollup {:?}, records {:?}",
                    d.table, d.day, d.key, d.meter_id, d.rollup, d.records
                );
            }
            Err(format!(
                "{} rollups differ from their records; run `stackbill rollups rebuild`",
                diffs.len()
            ))
        }
        RollupsCommand::Rebuild(r) => {
            let days = rebuild_rollups(&state.db, range(&r)?)
                .await
                .map_err(|e| e.to_string())?;
            println!("Rebuilt the rollups of {days} days from their records.");
            Ok(())
        }
    }
}

async fn cost(config: Config, args: CostArgs) -> Result<(), String> {
    use app::ssr::services::{costs, rating::Scope};
    let state = state(&config).await?;
    let now = state.clock.now();
    let period = costs::period_or_current(args.period.as_deref(), now).map_err(message)?;
    let scope = match args.customer.as_deref() {
        Some(key) => Scope::Customer(resolve_customer(&state, key).await?),
        None => Scope::Everything,
    };
    let figures = costs::period_cost(&state.db, scope, period, now)
        .await
        .map_err(message)?;
    match args.format {
        CostFormat::Json => {
            println!("{}", serde_json::to_string_pretty(&figures).map_err(|e| e.to_string())?);
        }
        CostFormat::Csv => print!("{}", costs::to_csv(&figures).map_err(message)?),
        CostFormat::Table => print!("{}", costs::to_table(&figures)),
    }
    Ok(())
}

/// Runs `work` while drawing its progress on standard error: a bar redrawn in place on a
/// terminal, a line per phase otherwise (logs, CI).
async fn with_progress_bar<T>(
    progress: &app::ssr::services::jobs::Progress,
    work: impl std::future::Future<Output = T>,
) -> T {
    use app::types::RunPhase;
    use std::io::{IsTerminal, Write};
    let tty = std::io::stderr().is_terminal();
    let draw = |last: &mut Option<RunPhase>| {
        let (phase, done, total) = progress.now();
        let name = match phase {
            RunPhase::Queued => "starting",
            RunPhase::Rating => "rating the month's usage",
            RunPhase::Adjusting => "late usage of the month before",
            RunPhase::Drafting => "drafting",
            RunPhase::Saving => "saving the drafts",
            RunPhase::Done => "done",
        };
        let mut err = std::io::stderr().lock();
        if tty {
            const WIDTH: u64 = 30;
            let filled = (done * WIDTH).checked_div(total).unwrap_or(0).min(WIDTH) as usize;
            let count = if total > 0 {
                format!(" {done}/{total}")
            } else {
                String::new()
            };
            let _ = write!(
                err,
                "\r\x1b[2K[{}{}] {name}{count}",
                "#".repeat(filled),
                ".".repeat(WIDTH as usize - filled)
            );
            let _ = err.flush();
        } else if *last != Some(phase) {
            let _ = writeln!(err, "{name}…");
        }
        *last = Some(phase);
    };
    let mut last = None;
    tokio::pin!(work);
    let mut tick = tokio::time::interval(std::time::Duration::from_millis(100));
    let out = loop {
        tokio::select! {
            out = &mut work => break out,
            _ = tick.tick() => draw(&mut last),
        }
    };
    if tty {
        eprint!("\r\x1b[2K");
    }
    out
}

async fn invoice(config: Config, command: InvoiceCommand) -> Result<(), String> {
    use app::ssr::services::invoicing;
    let state = state(&config).await?;
    let by = Caller::cli();
    match command {
        InvoiceCommand::Run { period, registration } => {
            let progress = app::ssr::services::jobs::Progress::default();
            let r = with_progress_bar(
                &progress,
                invoicing::run(&state, &by, &period, registration.as_deref(), Some(&progress)),
            )
            .await
            .map_err(message)?;
            println!(
                "{}: {} draft(s) ({} replaced, {} already issued, {} with unpriced usage) in {} SQL statements",
                r.period, r.drafts, r.replaced, r.already_issued, r.with_unpriced, r.statements
            );
            for (currency, total) in r.totals {
                println!("  {currency} {total}");
            }
        }
        InvoiceCommand::Issue {
            id,
            period,
            registration,
            waive_unpriced,
        } => {
            let report = match (id, period) {
                (Some(id), _) => app::types::IssueAllReport {
                    issued: vec![invoicing::issue(&state, &by, id, waive_unpriced)
                        .await
                        .map_err(message)?],
                    refused: Vec::new(),
                },
                (None, Some(p)) => invoicing::issue_all(&state, &by, &p, registration.as_deref(), waive_unpriced)
                    .await
                    .map_err(message)?,
                (None, None) => return Err("Give --id N or --period YYYY-MM.".into()),
            };
            for n in &report.issued {
                println!("issued {n}");
            }
            for r in &report.refused {
                eprintln!("not issued: draft {} ({}): {}", r.id, r.bill_to, r.message);
            }
            if !report.refused.is_empty() {
                return Err(format!(
                    "{} draft(s) issued, {} refused (above).",
                    report.issued.len(),
                    report.refused.len()
                ));
            }
        }
        InvoiceCommand::Void { number } => {
            let credit = invoicing::void(&state, &by, &number).await.map_err(message)?;
            println!("voided {number}; credit note {credit}");
        }
        InvoiceCommand::List { period } => {
            for i in invoicing::list(&state, &by, Some(&period), None)
                .await
                .map_err(message)?
            {
                println!(
                    "{:<18} {:<11} {:<7} {:<30} {} {}",
                    i.number.unwrap_or_else(|| format!("draft {}", i.id)),
                    i.kind,
                    i.status,
                    i.bill_to.name,
                    i.currency.code(),
                    i.total
                );
            }
        }
    }
    Ok(())
}
