//! `stackbill demo-seed`: a living CSP to click through, test against and benchmark.
//!
//! One registration with a base subscription; customers with cloud tenants, four of them
//! mapped to customer subscriptions and two not (their usage falls back to the base
//! subscription); two user subscriptions per customer and one that nobody owns; the full
//! meter catalogue; a default price sheet at Microsoft's public list prices; and hourly
//! usage shaped like the real thing: VMs emitting both meters of their pair, disks as
//! monthly fractions per hour, storage in GB for the hour, IP address counts.
//!
//! Deterministic: every GUID and quantity comes from the seed and the hour it describes,
//! so a second run over the same hours stores nothing new (idempotent), and a later run
//! only adds the hours since. Passwords are random: printed once when a demo user is
//! created (and written to the credentials file), never changed by a later run.

mod data;

use app::billing::{
    Adjustment, BillingPeriod, CloudTenantId, Meter, MeterId, Percent, PriceEntry, PricingModel, SheetId,
    SubscriptionId, TaxRate, UnitPrice,
};
use app::i18n::Locale;
use app::ssr::auth::Caller;
use app::ssr::services::accounts::{self, UserInput};
use app::ssr::services::catalogue::{parse_catalogue, METERS_CSV};
use app::ssr::services::ingest::{self, Batch, IngestCache, Source};
use app::ssr::services::{customers, lookup, mappings, ownership, price_sheets, registrations, terms};
use app::ssr::AppState;
use app::types::Role;
use chrono::{DateTime, Duration, DurationRound, Utc};
use clap::Args;
use std::collections::HashMap;
use std::fmt::Write as _;

use data::*;

/// Options of `stackbill demo-seed`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Seed for every generated GUID, quantity and password.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Number of customers (the first six are the named demo customers).
    #[arg(long, default_value_t = 6)]
    pub customers: usize,
    /// Days of hourly usage, ending with the last closed hour.
    #[arg(long, default_value_t = 90)]
    pub days: u32,
    /// End of the usage (exclusive, an RFC 3339 instant; default: the current hour).
    #[arg(long)]
    pub until: Option<DateTime<Utc>>,
    /// Also write the demo sign-ins as JSON to this file (for the end-to-end tests).
    #[arg(long)]
    pub credentials_file: Option<std::path::PathBuf>,
}

impl Default for DemoArgs {
    fn default() -> Self {
        DemoArgs {
            seed: 42,
            customers: 6,
            days: 90,
            until: None,
            credentials_file: None,
        }
    }
}

/// The people the demo creates; any other user means the database is not a demo.
const DEMO_EMAILS: [&str; 3] = [
    "operator@demo.stackbill.test",
    "finance@demo.stackbill.test",
    "it@contoso.test",
];

/// Writes a file readable by its owner only (it holds passwords).
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    std::io::Write::write_all(&mut options.open(path)?, text.as_bytes())
}

/// Creates or refreshes the demo data and returns a summary with the sign-ins. Refuses a
/// database that has users other than the demo's: it is somebody's real installation.
pub async fn seed(state: &AppState, args: &DemoArgs) -> Result<String, String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    {
        let others: Vec<String> = accounts::list_users(state)
            .await
            .map_err(|x| x.message)?
            .into_iter()
            .map(|u| u.email)
            .filter(|email| !DEMO_EMAILS.contains(&email.as_str()))
            .collect();
        if let Some(first) = others.first() {
            return Err(format!(
                "this database has {} user(s) that are not the demo's (e.g. {first}); demo-seed only runs on a \
                 new database or one it seeded itself",
                others.len()
            ));
        }
    }
    let seed = args.seed;
    let now = state.now_secs();
    let until = args
        .until
        .unwrap_or_else(|| state.clock.now())
        .duration_trunc(Duration::hours(1))
        .map_err(|x| e(&x))?;
    let from = until - Duration::days(i64::from(args.days));
    let first_day = from.date_naive();
    let catalogue: Vec<Meter> = parse_catalogue(METERS_CSV)?.into_iter().map(|c| c.meter).collect();
    let m = meters(&catalogue)?;
    let by_name: HashMap<(&str, &str), MeterId> = catalogue
        .iter()
        .map(|c| ((c.name.as_str(), c.unit.as_str()), c.id))
        .collect();

    // Price sheet with one version covering the whole demo window.
    let cli = Caller::cli();
    let sheet_name = "Azure Stack Hub list prices (USD)";
    let sheet_id = match price_sheets::find_by_name(&state.db, sheet_name)
        .await
        .map_err(|x| x.message)?
    {
        Some(s) => s.id,
        None => price_sheets::create_price_sheet(
            state,
            &cli,
            sheet_name,
            "USD",
            "Microsoft's public pay-as-you-use list prices; plausible prices where none are published.",
        )
        .await
        .map_err(|x| x.message)?,
    };
    let sheet_start = BillingPeriod::of_date(first_day).first_day();
    let starts = price_sheets::version_starts(&state.db, sheet_id)
        .await
        .map_err(|x| x.message)?;
    if !starts.iter().any(|d| *d <= sheet_start) {
        // A first run, or an earlier run that started later: a version from the new start
        // (it runs until the earlier one's, with the same prices).
        let mut entries = Vec::new();
        for (name, unit, price, billing_unit, conversion) in list_prices() {
            let Some(meter) = by_name.get(&(name, unit)) else {
                continue;
            };
            entries.push(PriceEntry {
                meter_id: *meter,
                model: PricingModel::PerUnit {
                    unit_price: UnitPrice::parse(price).map_err(|x| e(&x))?,
                },
                billing_unit: billing_unit.to_owned(),
                conversion,
            });
        }
        price_sheets::add_version(state, &cli, sheet_id, sheet_start, "Demo list prices", entries)
            .await
            .map_err(|x| x.message)?;
    }

    // The registration. Billing on it starts with the demo's first month (a longer
    // re-seed moves the start back, never forward).
    let reg_name = "azs-northwest";
    let base_subscription = SubscriptionId::from_u128(guid(seed, "base-subscription", 0)).to_string();
    let active_from = BillingPeriod::of_date(first_day).first_day();
    let reg_id = match lookup::resolve_registration(&state.db, Some(reg_name)).await {
        Ok(r) => {
            registrations::move_start_back(state, &cli, r.id, active_from)
                .await
                .map_err(|x| x.message)?;
            r.id
        }
        Err(_) => registrations::add_registration(
            state,
            &cli,
            registrations::RegistrationInput {
                name: reg_name.to_owned(),
                base_subscription: base_subscription.clone(),
                resource_group: "azurestack".to_owned(),
                currency: "USD".to_owned(),
                active_from: Some(active_from),
                collector: Default::default(),
            },
        )
        .await
        .map_err(|x| x.message)?,
    };

    // Customers and their cloud tenants.
    let demo_customers = customers(args.customers, first_day, until.date_naive());
    let mut customer_ids = Vec::new();
    let mut tenants = Vec::new();
    for (i, c) in demo_customers.iter().enumerate() {
        let tenant = CloudTenantId::from_u128(guid(seed, "tenant", i as u64));
        let saved = customers::save_customer(
            state,
            &cli,
            customers::CustomerInput {
                name: c.name.clone(),
                cloud_tenant: tenant,
                tenant_display_name: format!("{}.onmicrosoft.com", c.short),
                billing_email: c.email.to_owned(),
                billing_address: c.address.to_owned(),
                locale: c.locale,
                tax_id: demo_tax_id(c.locale, i),
                // Some customers negotiated shorter terms; the rest get the default.
                payment_terms_days: (i % 4 == 1).then_some(14),
            },
        )
        .await
        .map_err(|x| x.message)?;
        customer_ids.push(saved.id);
        tenants.push((tenant, saved.cloud_tenant_row));
    }

    // Terms, mappings and owners go through the same services as the console, so the
    // demo's history reads like a real one.
    let reg_terms = terms::registration_terms(&state.db, reg_id)
        .await
        .map_err(|x| x.message)?;
    if reg_terms.default_sheet.at(active_from).copied().flatten() != Some(SheetId(sheet_id)) {
        terms::set_registration_terms(
            state,
            &cli,
            reg_id,
            terms::RegistrationTermsChange {
                effective_on: Some(active_from),
                price_sheet: Some(Some(sheet_id)),
                tax_rate: Some(TaxRate::ZERO),
            },
        )
        .await
        .map_err(|x| x.message)?;
    }
    let mut mapped = 0;
    let mut resources: Vec<Resource> = Vec::new();
    for (i, c) in demo_customers.iter().enumerate() {
        let (tenant, tenant_id) = tenants[i];
        let customer_id = customer_ids[i];
        let has_terms = terms::customer_has_terms(&state.db, customer_id)
            .await
            .map_err(|x| x.message)?;
        let mapped_now = mappings::is_mapped(&state.db, reg_id, tenant_id)
            .await
            .map_err(|x| x.message)?;
        if !has_terms {
            let mut adjustment = Adjustment::default();
            for (meter, pct) in &c.adjustments {
                let pct = Percent::parse(pct).map_err(|x| e(&x))?;
                match meter.and_then(|name| catalogue.iter().find(|m| m.name == name)) {
                    Some(m) => {
                        adjustment.per_meter.insert(m.id, pct);
                    }
                    None => adjustment.overall = Some(pct),
                }
            }
            let minimum = match c.minimum_monthly_charge {
                Some(m) => Some(m.parse::<rust_decimal::Decimal>().map_err(|x| e(&x))?),
                None => None,
            };
            terms::set_customer_terms(
                state,
                &cli,
                customer_id,
                terms::CustomerTermsChange {
                    effective_on: Some(app::billing::dated::since_always()),
                    price_sheet: Some(None),
                    adjustment: Some(adjustment),
                    minimum_monthly_charge: Some(minimum),
                    tax_rate: Some(TaxRate::parse(c.tax_rate).map_err(|x| e(&x))?),
                },
            )
            .await
            .map_err(|x| x.message)?;
        }
        if let Some(day) = c.mapped_from {
            mapped += 1;
            if !mapped_now {
                let sub = SubscriptionId::from_u128(guid(seed, "customer-subscription", i as u64));
                mappings::change_mapping(
                    state,
                    &cli,
                    mappings::MappingChange {
                        registration_id: reg_id,
                        cloud_tenant: tenant,
                        subscription: Some(sub),
                        effective_on: Some(day),
                        source: mappings::ChangeSource::Demo,
                    },
                )
                .await
                .map_err(|x| x.message)?;
            }
        }
        let mut stamp = Vec::new();
        for (k, production) in [(0u64, true), (1u64, false)] {
            let sub = SubscriptionId::from_u128(guid(seed, "user-subscription", i as u64 * 2 + k));
            stamp.push(ownership::StampSubscription {
                subscription_id: sub,
                display_name: if production {
                    format!("{} production", c.short)
                } else {
                    format!("{} dev/test", c.short)
                },
                owner_email: c.email.to_owned(),
                offer: if production { "Standard" } else { "Dev/Test" }.to_owned(),
                state: "Enabled".to_owned(),
                // Owners are assigned below, from the demo's first day.
                tenant: None,
            });
            let event_hubs = i == 3 && production;
            resources.extend(resources_for(
                sub,
                &c.short,
                production,
                event_hubs,
                resources.len() as u64,
            ));
        }
        let reg_row = lookup::registration_by_id(&state.db, reg_id)
            .await
            .map_err(|x| x.message)?;
        ownership::record_stamp_subscriptions(state, &reg_row, &stamp)
            .await
            .map_err(|x| x.message)?;
        for s in &stamp {
            let owned = ownership::has_owner(&state.db, reg_id, s.subscription_id)
                .await
                .map_err(|x| x.message)?
                .ok_or("a demo user subscription vanished")?;
            if !owned {
                ownership::assign_owner(
                    state,
                    &cli,
                    reg_id,
                    s.subscription_id,
                    tenant,
                    Some(active_from),
                    "demo",
                )
                .await
                .map_err(|x| x.message)?;
            }
        }
    }

    // One subscription nobody owns: its usage is kept as unassigned and billed to the base.
    let orphan = SubscriptionId::from_u128(guid(seed, "orphan-subscription", 0));
    let mut orphan_resources = resources_for(orphan, "legacy", false, false, resources.len() as u64);
    orphan_resources.truncate(3);
    resources.extend(orphan_resources);

    // Usage, one batch per day.
    let mut accepted = 0u64;
    let mut duplicates = 0u64;
    let mut cache = IngestCache::default();
    let mut day_start = from;
    while day_start < until {
        let day_end = (day_start + Duration::days(1)).min(until);
        let mut batch = Vec::new();
        let mut hour = day_start;
        while hour < day_end {
            for r in &resources {
                batch.extend(records_for_hour(seed, r, &m, hour, first_day));
            }
            hour += Duration::hours(1);
        }
        let label = format!("demo {}", day_start.date_naive());
        let report = ingest::ingest_batch(
            &state.db,
            reg_id,
            &Batch::records(&ingest::prepare_all(reg_id, batch), Source::Demo, "cli", &label),
            &mut cache,
            now,
        )
        .await
        .map_err(|x| e(&x))?;
        accepted += report.accepted;
        duplicates += report.duplicates + report.corrected;
        day_start = day_end;
    }

    // One person per role. Passwords are random, shown once when the user is created and
    // written to the credentials file; a user that exists is never touched again (its
    // password, role and disabled state stay as they are).
    let people = [
        (
            "operator",
            "operator@demo.stackbill.test",
            "Olivia Operator",
            Role::Operator,
            None,
            Locale::En,
        ),
        (
            "finance",
            "finance@demo.stackbill.test",
            "Frank Finance",
            Role::Finance,
            None,
            Locale::En,
        ),
        (
            "customer",
            "it@contoso.test",
            "Chris Contoso",
            Role::Customer,
            customer_ids.first().copied(),
            Locale::En,
        ),
    ];
    let mut sign_ins = String::new();
    // Entries of an earlier run are kept for the users that already exist.
    let mut credentials: Vec<serde_json::Value> = args
        .credentials_file
        .as_ref()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    for (role_name, email, name, role, customer_id, locale) in people {
        if role == Role::Customer && customer_id.is_none() {
            continue;
        }
        let password = app::ssr::auth::generate_password();
        let input = UserInput {
            email: email.into(),
            display_name: Some(name.into()),
            role,
            customer_id,
            password: password.clone(),
            locale,
        };
        let created = accounts::create_user_if_missing(state, &Caller::cli(), input)
            .await
            .map_err(|x| x.message)?;
        let whose = match role {
            Role::Customer => format!("  ({})", demo_customers[0].name),
            _ => String::new(),
        };
        if created {
            let _ = writeln!(sign_ins, "  {role_name:<9} {email:<30} {password}{whose}");
            credentials.retain(|c| c["email"] != email);
            credentials.push(serde_json::json!({
                "role": role_name,
                "email": email,
                "password": password,
                "customer": (role == Role::Customer).then(|| demo_customers[0].name.clone()),
            }));
        } else {
            let _ = writeln!(
                sign_ins,
                "  {role_name:<9} {email:<30} (exists: its password is unchanged){whose}"
            );
        }
    }
    if let Some(path) = &args.credentials_file {
        let json = serde_json::to_string_pretty(&credentials).map_err(|x| e(&x))?;
        write_private(path, &json).map_err(|x| format!("cannot write {}: {x}", path.display()))?;
        let _ = writeln!(sign_ins, "  (every demo password is in {})", path.display());
    }

    let customers_total = demo_customers.len();
    let subs_total = customers_total * 2 + 1;
    Ok(format!(
        "Demo data ready (seed {seed}): registration {reg_name} (base subscription {base_subscription}), \
         {customers_total} customers ({mapped} mapped, {} on the base subscription), {subs_total} user subscriptions \
         (1 unassigned), {} catalogue meters.\nUsage {} to {}: {accepted} new records, {duplicates} already stored.\n\n\
         Sign in with:\n{sign_ins}",
        customers_total - mapped,
        catalogue.len(),
        from.format("%Y-%m-%d %H:00"),
        until.format("%Y-%m-%d %H:00 UTC"),
    ))
}

/// A plausible tax id in the customer's country's format (made up, deterministic).
fn demo_tax_id(locale: Locale, i: usize) -> String {
    let n = 10_000_000 + (i as u64 * 7_919) % 89_999_999;
    match locale {
        Locale::ZhTw => format!("{:08}", n % 100_000_000),
        Locale::ZhCn => format!("91310000MA1K{:06}", n % 1_000_000),
        Locale::Fr => format!("FR{:02}{:09}", n % 97, n),
        Locale::Nl => format!("NL{:09}B01", n),
        Locale::En => format!("GB{:09}", n),
    }
}
