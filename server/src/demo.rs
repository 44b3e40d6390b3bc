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

use app::billing::{
    Adjustment, BillingPeriod, CloudTenantId, Meter, MeterId, Percent, PriceEntry, PricingModel, Quantity, SheetId,
    SubscriptionId, TaxRate, UnitConversion, UnitPrice, UsageRecord,
};
use app::i18n::Locale;
use app::ssr::auth::Caller;
use app::ssr::services::accounts::{self, UserInput};
use app::ssr::services::catalogue::{parse_catalogue, METERS_CSV};
use app::ssr::services::ingest::{self, Batch, IngestCache, Source};
use app::ssr::services::{customers, lookup, mappings, ownership, price_sheets, registrations, terms};
use app::ssr::AppState;
use app::types::Role;
use chrono::{DateTime, Datelike, Duration, DurationRound, NaiveDate, Timelike, Utc, Weekday};
use clap::Args;
use std::collections::HashMap;
use std::fmt::Write as _;

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

/// SplitMix64: a tiny, well-known generator; good enough for demo data and stable forever.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn hash(parts: &[u64]) -> u64 {
    parts.iter().fold(0x5354_4143_4b42_494c, |acc, p| mix(acc ^ mix(*p)))
}

fn text_id(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A random-looking but fixed GUID (version 4 layout) for a seed and a label.
fn guid(seed: u64, label: &str, n: u64) -> u128 {
    let hi = hash(&[seed, text_id(label), n, 1]);
    let lo = hash(&[seed, text_id(label), n, 2]);
    let v = (u128::from(hi) << 64) | u128::from(lo);
    (v & !(0xf << 76) | (0x4 << 76)) & !(0x3 << 62) | (0x2 << 62)
}

/// A uniform fraction in [0, 1) for a seed and some coordinates.
fn unit(parts: &[u64]) -> f64 {
    (hash(parts) >> 11) as f64 / (1u64 << 53) as f64
}

struct DemoCustomer {
    name: String,
    short: String,
    locale: Locale,
    tax_rate: &'static str,
    /// Day from which the tenant is mapped to a customer subscription; None = never.
    mapped_from: Option<NaiveDate>,
    minimum_monthly_charge: Option<&'static str>,
    adjustments: Vec<(Option<&'static str>, &'static str)>,
    email: &'static str,
    address: &'static str,
}

fn customers(count: usize, first_day: NaiveDate, last_day: NaiveDate) -> Vec<DemoCustomer> {
    // One tenant gets mapped on the 10th of a month inside the window — the month before
    // the last if the window reaches back that far, else the last one: its usage before
    // that day stays on the base subscription, after it moves to its own. Never after the
    // window (a mapping in the future would not be a mapping yet).
    let last_month = BillingPeriod::of_date(last_day);
    let mid_window = [last_month.previous(), last_month]
        .iter()
        .map(|m| m.first_day() + Duration::days(9))
        .find(|tenth| *tenth > first_day && *tenth <= last_day)
        .unwrap_or(first_day);
    let mut list = vec![
        DemoCustomer {
            name: "Contoso Manufacturing Inc.".into(),
            short: "contoso".into(),
            locale: Locale::En,
            tax_rate: "0",
            mapped_from: Some(first_day),
            minimum_monthly_charge: Some("250"),
            adjustments: vec![],
            email: "ap@contoso.test",
            address: "1 Microsoft Way\nRedmond, WA 98052\nUnited States",
        },
        DemoCustomer {
            name: "Fabrikam Télécom SA".into(),
            short: "fabrikam".into(),
            locale: Locale::Fr,
            tax_rate: "20",
            mapped_from: Some(first_day),
            minimum_monthly_charge: None,
            adjustments: vec![(None, "15")],
            email: "factures@fabrikam.test",
            address: "12 rue de la Paix\n75002 Paris\nFrance",
        },
        DemoCustomer {
            name: "Woodgrove Bank N.V.".into(),
            short: "woodgrove".into(),
            locale: Locale::Nl,
            tax_rate: "21",
            mapped_from: Some(mid_window),
            minimum_monthly_charge: None,
            adjustments: vec![(Some("Windows VM Size Hours"), "-10")],
            email: "crediteuren@woodgrove.test",
            address: "Herengracht 1\n1015 BA Amsterdam\nNederland",
        },
        DemoCustomer {
            name: "台灣雲端股份有限公司".into(),
            short: "twcloud".into(),
            locale: Locale::ZhTw,
            tax_rate: "5",
            mapped_from: Some(first_day),
            minimum_monthly_charge: None,
            adjustments: vec![],
            email: "billing@twcloud.test",
            address: "台北市信義區信義路五段7號",
        },
        DemoCustomer {
            name: "北京数据科技有限公司".into(),
            short: "bjdata".into(),
            locale: Locale::ZhCn,
            tax_rate: "6",
            mapped_from: None,
            minimum_monthly_charge: None,
            adjustments: vec![],
            email: "finance@bjdata.test",
            address: "北京市海淀区中关村大街1号",
        },
        DemoCustomer {
            name: "Northwind Traders".into(),
            short: "northwind".into(),
            locale: Locale::En,
            tax_rate: "0",
            mapped_from: None,
            minimum_monthly_charge: None,
            adjustments: vec![],
            email: "billing@northwind.test",
            address: "200 Harbour Road\nSeattle, WA 98101",
        },
    ];
    list.truncate(count);
    for i in list.len()..count {
        list.push(DemoCustomer {
            name: format!("Customer {:04}", i + 1),
            short: format!("customer{:04}", i + 1),
            locale: Locale::ALL[i % Locale::ALL.len()],
            tax_rate: "0",
            mapped_from: (i % 3 != 2).then_some(first_day),
            minimum_monthly_charge: None,
            adjustments: vec![],
            email: "billing@example.test",
            address: "",
        });
    }
    list
}

/// The meter IDs the generator uses, looked up by name in the shipped catalogue.
struct Meters {
    vm_hours: MeterId,
    base_vm: MeterId,
    windows_vm: MeterId,
    disk_tiers: Vec<(&'static str, MeterId, u32)>,
    std_disk_size: MeterId,
    prem_disk_size: MeterId,
    block_blob: MeterId,
    table: MeterId,
    static_ip: MeterId,
    dynamic_ip: MeterId,
    event_hubs: MeterId,
}

fn meters(catalogue: &[Meter]) -> Result<Meters, String> {
    let find = |name: &str, unit: &str| {
        catalogue
            .iter()
            .find(|m| m.name.eq_ignore_ascii_case(name) && m.unit == unit)
            .map(|m| m.id)
            .ok_or_else(|| format!("the meter catalogue has no `{name}` in `{unit}`"))
    };
    let month = "Count of Disks*month";
    Ok(Meters {
        vm_hours: find("VM size hours", "VM hours")?,
        base_vm: find("Base VM Size Hours", "Virtual core hours")?,
        windows_vm: find("Windows VM Size Hours", "Virtual core hours")?,
        disk_tiers: vec![
            ("S4", find("S4", month)?, 32),
            ("S10", find("S10", month)?, 128),
            ("S20", find("S20", month)?, 512),
            ("P10", find("P10", month)?, 128),
            ("P20", find("P20", month)?, 512),
        ],
        std_disk_size: find("ActualStandardDiskSize", "GB*month")?,
        prem_disk_size: find("ActualPremiumDiskSize", "GB*month")?,
        block_blob: find("BlockBlobCapacity", "GB*hours")?,
        table: find("TableCapacity", "GB*hours")?,
        static_ip: find("Static IP Address Usage", "IP addresses")?,
        dynamic_ip: find("Dynamic IP Address Usage", "IP addresses")?,
        event_hubs: find("1 Core", "Core*hours")?,
    })
}

/// Prices per meter name at Microsoft's public pay-as-you-use list prices where they are
/// published (Base VM 0.008 and Windows VM 0.046 USD per vCPU-hour, blob 0.006 and
/// table/queue 0.018 USD per GB-month) and plausible prices elsewhere. `VM size hours`
/// and the operator's App Service meter are report-only and get no price; Event Hubs is
/// deliberately left unpriced so the unpriced path shows up in the demo.
fn list_prices() -> Vec<(&'static str, &'static str, &'static str, &'static str, UnitConversion)> {
    let hourly = UnitConversion::IDENTITY;
    let monthly = UnitConversion::MONTHLY_FROM_HOURLY;
    let month = "Count of Disks*month";
    vec![
        ("Base VM Size Hours", "Virtual core hours", "0.008", "vCPU-hour", hourly),
        (
            "Windows VM Size Hours",
            "Virtual core hours",
            "0.046",
            "vCPU-hour",
            hourly,
        ),
        ("BlockBlobCapacity", "GB*hours", "0.006", "GB-month", monthly),
        ("PageBlobCapacity", "GB*hours", "0.006", "GB-month", monthly),
        ("TableCapacity", "GB*hours", "0.018", "GB-month", monthly),
        ("QueueCapacity", "GB*hours", "0.018", "GB-month", monthly),
        ("S4", month, "1.54", "disk-month", hourly),
        ("S6", month, "3.01", "disk-month", hourly),
        ("S10", month, "5.89", "disk-month", hourly),
        ("S15", month, "11.33", "disk-month", hourly),
        ("S20", month, "21.76", "disk-month", hourly),
        ("S30", month, "40.96", "disk-month", hourly),
        ("P4", month, "5.28", "disk-month", hourly),
        ("P6", month, "10.21", "disk-month", hourly),
        ("P10", month, "19.71", "disk-month", hourly),
        ("P15", month, "38.02", "disk-month", hourly),
        ("P20", month, "73.22", "disk-month", hourly),
        ("P30", month, "135.17", "disk-month", hourly),
        // The disk size meters are informational next to the tier price: priced at zero.
        ("ActualStandardDiskSize", "GB*month", "0", "GB-month", hourly),
        ("ActualPremiumDiskSize", "GB*month", "0", "GB-month", hourly),
        ("ActualStandardSnapshotSize", "GB*month", "0.05", "GB-month", hourly),
        ("ActualPremiumSnapshotSize", "GB*month", "0.12", "GB-month", hourly),
        ("Static IP Address Usage", "IP addresses", "0.004", "IP-hour", hourly),
        ("Dynamic IP Address Usage", "IP addresses", "0.003", "IP-hour", hourly),
        (
            "BlobTransactions",
            "Requests count in 10,000s",
            "0",
            "10,000 requests",
            hourly,
        ),
        (
            "TableTransactions",
            "Request count in 10,000s",
            "0",
            "10,000 requests",
            hourly,
        ),
        (
            "QueueTransactions",
            "Requests count in 10,000s",
            "0",
            "10,000 requests",
            hourly,
        ),
        (
            "Key Vault transactions",
            "Request count in 10,000s",
            "0.03",
            "10,000 transactions",
            hourly,
        ),
        ("Shared App Service Hours", "1 hour", "0.013", "hour", hourly),
        ("Free App Service Hours", "1 hour", "0", "hour", hourly),
        ("Small Standard App Service Hours", "1 hour", "0.1", "hour", hourly),
        ("Medium Standard App Service Hours", "1 hour", "0.2", "hour", hourly),
        ("Large Standard App Service Hours", "1 hour", "0.4", "hour", hourly),
    ]
}

#[derive(Clone, Copy)]
enum ResourceKind {
    Vm {
        vcpus: u32,
        windows: bool,
        size: &'static str,
        office_hours: bool,
    },
    Disk {
        tier: usize,
        used_gb: u32,
    },
    Blob {
        base_gb: f64,
        growth_per_day: f64,
    },
    Table {
        gb: f64,
    },
    Ip {
        fixed: bool,
    },
    EventHubs {
        cores: u32,
    },
}

struct Resource {
    subscription: SubscriptionId,
    uri: String,
    kind: ResourceKind,
    n: u64,
}

fn resources_for(sub: SubscriptionId, short: &str, production: bool, with_event_hubs: bool, n0: u64) -> Vec<Resource> {
    let rg = if production {
        format!("{short}-prod")
    } else {
        format!("{short}-dev")
    };
    let mut list: Vec<(String, ResourceKind)> = Vec::new();
    let vm = |name: &str| {
        format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachines/{name}")
    };
    let disk =
        |name: &str| format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/disks/{name}");
    let storage = format!(
        "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{short}{}",
        if production { "prod" } else { "dev" }
    );
    let ip = format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Network/publicIPAddresses/{rg}-ip");
    if production {
        list.push((
            vm("web01"),
            ResourceKind::Vm {
                vcpus: 2,
                windows: true,
                size: "Standard_D2s_v3",
                office_hours: false,
            },
        ));
        list.push((
            vm("app01"),
            ResourceKind::Vm {
                vcpus: 4,
                windows: false,
                size: "Standard_D4s_v3",
                office_hours: false,
            },
        ));
        list.push((
            vm("sql01"),
            ResourceKind::Vm {
                vcpus: 8,
                windows: true,
                size: "Standard_F8s",
                office_hours: false,
            },
        ));
        list.push((disk("web01-os"), ResourceKind::Disk { tier: 3, used_gb: 58 }));
        list.push((disk("app01-os"), ResourceKind::Disk { tier: 1, used_gb: 22 }));
        list.push((disk("sql01-data"), ResourceKind::Disk { tier: 4, used_gb: 412 }));
        list.push((
            storage.clone(),
            ResourceKind::Blob {
                base_gb: 180.0,
                growth_per_day: 0.7,
            },
        ));
        list.push((
            format!("{storage}/tableServices/default"),
            ResourceKind::Table { gb: 0.42 },
        ));
        list.push((ip, ResourceKind::Ip { fixed: true }));
    } else {
        list.push((
            vm("build01"),
            ResourceKind::Vm {
                vcpus: 2,
                windows: false,
                size: "Standard_F2s",
                office_hours: true,
            },
        ));
        list.push((
            vm("test01"),
            ResourceKind::Vm {
                vcpus: 4,
                windows: true,
                size: "Standard_D4s_v3",
                office_hours: true,
            },
        ));
        list.push((disk("build01-os"), ResourceKind::Disk { tier: 0, used_gb: 19 }));
        list.push((disk("test01-os"), ResourceKind::Disk { tier: 1, used_gb: 61 }));
        list.push((
            storage,
            ResourceKind::Blob {
                base_gb: 35.0,
                growth_per_day: 0.1,
            },
        ));
        list.push((ip, ResourceKind::Ip { fixed: false }));
    }
    if with_event_hubs {
        let ns =
            format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.EventHub/clusters/{short}-events");
        list.push((ns, ResourceKind::EventHubs { cores: 10 }));
    }
    list.into_iter()
        .enumerate()
        .map(|(i, (uri, kind))| Resource {
            subscription: sub,
            uri,
            kind,
            n: n0 + i as u64,
        })
        .collect()
}

/// Formats an f64 the way Azure Stack's JSON does (shortest round-trip form) and parses it
/// exactly, so demo quantities look like the real ones (`0.0013440860215053762`).
fn q(value: f64) -> Quantity {
    Quantity::parse(&format!("{value}")).unwrap_or(Quantity::ZERO)
}

fn vm_info(size: &str, windows: bool) -> String {
    if windows {
        format!(
            r#"{{"ServiceType":"{size}","ImageType":null,"Publisher":"MicrosoftWindowsServer","Offer":"WindowsServer","Sku":"2019-Datacenter"}}"#
        )
    } else {
        format!(
            r#"{{"ServiceType":"{size}","ImageType":null,"Publisher":"Canonical","Offer":"0001-com-ubuntu-server-jammy","Sku":"22_04-lts"}}"#
        )
    }
}

fn records_for_hour(
    seed: u64,
    r: &Resource,
    m: &Meters,
    start: DateTime<Utc>,
    first_day: NaiveDate,
) -> Vec<UsageRecord> {
    let end = start + Duration::hours(1);
    let h = start.timestamp() as u64;
    // Usage is reported one to three hours after the hour it describes.
    let reported = end + Duration::hours(1 + (hash(&[seed, r.n, h, 7]) % 3) as i64);
    let hours_in_month = BillingPeriod::containing(start).hours();
    let record = |meter: MeterId, quantity: Quantity, info: String| UsageRecord {
        subscription_id: r.subscription,
        meter_id: meter,
        usage_start: start,
        usage_end: end,
        quantity,
        resource_uri: r.uri.clone(),
        location: "northwest".into(),
        tags: String::new(),
        additional_info: info,
        reported_at: Some(reported),
    };
    let days_in = (start.date_naive() - first_day).num_days().max(0) as f64;
    match r.kind {
        ResourceKind::Vm {
            vcpus,
            windows,
            size,
            office_hours,
        } => {
            let weekend = matches!(start.weekday(), Weekday::Sat | Weekday::Sun);
            let running = if office_hours {
                !weekend && (7..19).contains(&start.hour())
            } else {
                unit(&[seed, r.n, h, 1]) > 0.003
            };
            if !running {
                return vec![];
            }
            let info = vm_info(size, windows);
            let core_meter = if windows { m.windows_vm } else { m.base_vm };
            vec![
                record(m.vm_hours, q(1.0), info.clone()),
                record(core_meter, q(f64::from(vcpus)), info),
            ]
        }
        ResourceKind::Disk { tier, used_gb } => {
            let (name, meter, _size) = m.disk_tiers[tier];
            let size_meter = if name.starts_with('P') {
                m.prem_disk_size
            } else {
                m.std_disk_size
            };
            let per_hour = 1.0 / f64::from(hours_in_month);
            vec![
                record(meter, q(per_hour), String::new()),
                record(size_meter, q(f64::from(used_gb) * per_hour), String::new()),
            ]
        }
        ResourceKind::Blob {
            base_gb,
            growth_per_day,
        } => {
            let gb = base_gb + growth_per_day * days_in + unit(&[seed, r.n, h, 2]) * 0.5;
            vec![record(m.block_blob, q((gb * 100.0).round() / 100.0), String::new())]
        }
        ResourceKind::Table { gb } => vec![record(m.table, q(gb), String::new())],
        ResourceKind::Ip { fixed } => vec![record(
            if fixed { m.static_ip } else { m.dynamic_ip },
            q(1.0),
            String::new(),
        )],
        ResourceKind::EventHubs { cores } => {
            vec![record(m.event_hubs, q(f64::from(cores)), String::new())]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_guids_are_stable_version_4_guids() {
        let a = SubscriptionId::from_u128(guid(42, "tenant", 0)).to_string();
        assert_eq!(a, SubscriptionId::from_u128(guid(42, "tenant", 0)).to_string());
        assert_ne!(a, SubscriptionId::from_u128(guid(42, "tenant", 1)).to_string());
        assert_eq!(&a[14..15], "4", "{a}");
        assert!(matches!(&a[19..20], "8" | "9" | "a" | "b"), "{a}");
    }

    #[test]
    fn december_disks_emit_one_744th_of_a_disk_month_per_hour() {
        let catalogue: Vec<Meter> = parse_catalogue(METERS_CSV)
            .unwrap()
            .into_iter()
            .map(|c| c.meter)
            .collect();
        let m = meters(&catalogue).unwrap();
        let sub = SubscriptionId::from_u128(1);
        let r = Resource {
            subscription: sub,
            uri: "/x/disk".into(),
            kind: ResourceKind::Disk { tier: 1, used_gb: 22 },
            n: 0,
        };
        let start: DateTime<Utc> = "2024-12-10T18:00:00Z".parse().unwrap();
        let records = records_for_hour(1, &r, &m, start, start.date_naive());
        // The shortest form of the f64 1/744, as a JSON serialiser writes it. (The recorded
        // Azure Stack response shows 0.0013440860215053762: another double-to-text route
        // for the same fraction; the parser takes either exactly.)
        assert_eq!(records[0].quantity.canonical(), "0.0013440860215053765");
    }

    #[test]
    fn vms_emit_both_meters_of_their_pair() {
        let catalogue: Vec<Meter> = parse_catalogue(METERS_CSV)
            .unwrap()
            .into_iter()
            .map(|c| c.meter)
            .collect();
        let m = meters(&catalogue).unwrap();
        let sub = SubscriptionId::from_u128(1);
        let kind = ResourceKind::Vm {
            vcpus: 8,
            windows: true,
            size: "Standard_A4",
            office_hours: false,
        };
        let r = Resource {
            subscription: sub,
            uri: "/x/vm".into(),
            kind,
            n: 5,
        };
        let start: DateTime<Utc> = "2024-12-10T18:00:00Z".parse().unwrap();
        let records = records_for_hour(1, &r, &m, start, start.date_naive());
        let pairs: Vec<(MeterId, String)> = records.iter().map(|r| (r.meter_id, r.quantity.canonical())).collect();
        assert_eq!(pairs, vec![(m.vm_hours, "1".into()), (m.windows_vm, "8".into())]);
    }
}
