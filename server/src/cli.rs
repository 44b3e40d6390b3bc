//! The command line: `stackbill [serve|migrate|demo-seed|user add|token create]`.
//!
//! Every command prints one clear line on failure and exits non-zero; nothing is written
//! when an argument is invalid.

use crate::config::Config;
use crate::{demo, open_database, settings, spawn, spawn_housekeeping, telemetry};
use app::billing::CloudTenantId;
use app::i18n::Locale;
use app::ssr::auth::{self, Caller};
use app::ssr::db;
use app::ssr::services::accounts::{self, TokenInput, UserInput};
use app::ssr::{AppState, Clock};
use app::types::Role;
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
        db,
        clock,
        settings: settings(config),
    })
}

async fn run(command: Command, config: Config) -> Result<(), String> {
    match command {
        Command::Serve => serve(config).await,
        Command::Migrate => {
            let state = state(&config).await?;
            let mut c = state.db.conn().await.map_err(|e| e.to_string())?;
            let meters = db::meters::count_meters(&mut c).await.map_err(|e| e.to_string())?;
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
        Command::Token {
            command: TokenCommand::Create(args),
        } => token_create(config, args).await,
    }
}

async fn serve(config: Config) -> Result<(), String> {
    let state = state(&config).await?;
    let running = spawn(&config, state.clone())
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    spawn_housekeeping(state);
    tracing::info!(addr = %running.addr, database = %config.database_url, "Stackbill is serving");
    println!("Stackbill is running. Sign in at {}/sign-in", config.public_url);
    running
        .handle
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Finds a customer by id, cloud tenant GUID or exact name.
async fn resolve_customer(state: &AppState, key: &str) -> Result<i64, String> {
    let mut c = state.db.conn().await.map_err(|e| e.to_string())?;
    if let Ok(id) = key.parse::<i64>() {
        return match db::customers::find_customer(&mut c, id)
            .await
            .map_err(|e| e.to_string())?
        {
            Some(row) => Ok(row.id),
            None => Err(format!("--customer: there is no customer with id {id}")),
        };
    }
    if let Ok(tenant) = CloudTenantId::parse(key) {
        let tenant_row = db::customers::find_cloud_tenant(&mut c, &tenant.to_string())
            .await
            .map_err(|e| e.to_string())?;
        if let Some(t) = tenant_row {
            if let Some(row) = db::customers::find_customer_by_tenant(&mut c, t)
                .await
                .map_err(|e| e.to_string())?
            {
                return Ok(row.id);
            }
        }
        return Err(format!("--customer: no customer owns the cloud tenant {tenant}"));
    }
    let rows = db::customers::find_customers_by_name(&mut c, key)
        .await
        .map_err(|e| e.to_string())?;
    match rows.as_slice() {
        [one] => Ok(one.id),
        [] => Err(format!("--customer: there is no customer named `{key}`")),
        many => Err(format!(
            "--customer: {} customers are named `{key}`; use the id ({})",
            many.len(),
            many.iter().map(|r| r.id.to_string()).collect::<Vec<_>>().join(", ")
        )),
    }
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
        let stdin = std::io::stdin();
        if stdin.is_terminal() {
            eprintln!("Password (input is not hidden; end with Enter):");
        }
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
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
    let state = state(&config).await?;
    let customer_id = match &args.customer {
        Some(key) => Some(resolve_customer(&state, key).await?),
        None => None,
    };
    let (id, token) = accounts::create_token(
        &state,
        &Caller::cli(),
        TokenInput {
            name: args.name,
            role,
            customer_id,
        },
    )
    .await
    .map_err(message)?;
    println!("Created {role} token {id}. Use it as `Authorization: Bearer <token>`; it is shown only now:");
    println!("{token}");
    Ok(())
}
