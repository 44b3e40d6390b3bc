//! Month-long billing stories with fixed dates, through the public billing API only.
//! Every expected amount has its arithmetic next to it.

use app::billing::meter::{BASE_VM_SIZE_HOURS, VM_SIZE_HOURS, WINDOWS_VM_SIZE_HOURS};
use app::billing::*;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use std::collections::HashMap;

const BASE: SubscriptionId = SubscriptionId::from_u128(0xba5e_0000_0000_0000_0000_0000_0000_0001);
const BLOB: MeterId = MeterId::from_u128(0x09f8879e_87e9_4305_a572_4b7be209f857);
const S10: MeterId = MeterId::from_u128(0xd5f7731b_f639_404a_89d0_e46186e22c8d);
const EVENT_HUBS: MeterId = MeterId::from_u128(0xcb6a35c5_fade_406c_b14d_6ddb7c4ca3d5);

const CONTOSO: CloudTenantId = CloudTenantId::from_u128(0xc0);
const CONTOSO_SUB: SubscriptionId = SubscriptionId::from_u128(0xc0_0001);
const CONTOSO_CSP: SubscriptionId = SubscriptionId::from_u128(0xc0_c5b0);
const FABRIKAM: CloudTenantId = CloudTenantId::from_u128(0xfa);
const FABRIKAM_SUB: SubscriptionId = SubscriptionId::from_u128(0xfa_0001);
const FABRIKAM_CSP: SubscriptionId = SubscriptionId::from_u128(0xfa_c5b0);
const ORPHAN_SUB: SubscriptionId = SubscriptionId::from_u128(0x0bad);
const LIST: SheetId = SheetId(1);

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn meter(id: MeterId, name: &str, unit: &str, billing: MeterBilling) -> (MeterId, Meter) {
    (
        id,
        Meter {
            id,
            name: name.into(),
            unit: unit.into(),
            service: String::new(),
            billing,
        },
    )
}

fn catalogue() -> HashMap<MeterId, Meter> {
    HashMap::from([
        meter(
            BASE_VM_SIZE_HOURS,
            "Base VM Size Hours",
            "Virtual core hours",
            MeterBilling::Billable,
        ),
        meter(
            WINDOWS_VM_SIZE_HOURS,
            "Windows VM Size Hours",
            "Virtual core hours",
            MeterBilling::Billable,
        ),
        meter(VM_SIZE_HOURS, "VM size hours", "VM hours", MeterBilling::ReportOnly),
        meter(BLOB, "BlockBlobCapacity", "GB*hours", MeterBilling::Billable),
        meter(S10, "S10", "Count of Disks*month", MeterBilling::Billable),
        meter(EVENT_HUBS, "1 Core", "Core*hours", MeterBilling::Billable),
    ])
}

fn price(p: &str) -> UnitPrice {
    UnitPrice::parse(p).unwrap()
}

/// Microsoft's public list prices (USD): Base VM 0.008 and Windows VM 0.046 per vCPU-hour,
/// blob 0.006 per GB-month; an S10 disk at 5.89 per disk-month. Event Hubs unpriced.
fn list_price_entries(base_vm: &str) -> Vec<PriceEntry> {
    vec![
        PriceEntry::per_unit(BASE_VM_SIZE_HOURS, price(base_vm), "vCPU-hour"),
        PriceEntry::per_unit(WINDOWS_VM_SIZE_HOURS, price("0.046"), "vCPU-hour"),
        PriceEntry {
            meter_id: BLOB,
            model: PricingModel::PerUnit {
                unit_price: price("0.006"),
            },
            billing_unit: "GB-month".into(),
            conversion: UnitConversion::MONTHLY_FROM_HOURLY,
        },
        PriceEntry::per_unit(S10, price("5.89"), "disk-month"),
    ]
}

struct Csp {
    owners: Ownerships,
    maps: Mappings,
    sheets: HashMap<SheetId, PriceSheet>,
    default_sheet: Dated<Option<SheetId>>,
    meter_billing: HashMap<MeterId, Dated<MeterBilling>>,
    pricing: HashMap<CloudTenantId, CustomerPricing>,
    meters: HashMap<MeterId, Meter>,
}

impl Csp {
    /// Contoso owns CONTOSO_SUB and is mapped all the time; Fabrikam owns FABRIKAM_SUB and
    /// is not mapped (until a scenario maps it).
    fn new() -> Self {
        let mut owners = ownerships();
        owners.insert(CONTOSO_SUB, day("2020-01-01"), None, CONTOSO).unwrap();
        owners.insert(FABRIKAM_SUB, day("2020-01-01"), None, FABRIKAM).unwrap();
        let mut maps = mappings();
        maps.insert(CONTOSO, day("2020-01-01"), None, CONTOSO_CSP).unwrap();
        let sheet = PriceSheet::new(
            "list",
            Currency::USD,
            vec![PriceSheetVersion::new(day("2020-01-01"), None, list_price_entries("0.008")).unwrap()],
        )
        .unwrap();
        Csp {
            owners,
            maps,
            sheets: HashMap::from([(LIST, sheet)]),
            default_sheet: Dated::always(Some(LIST)),
            meter_billing: HashMap::new(),
            pricing: HashMap::new(),
            meters: catalogue(),
        }
    }

    fn input(&self, period: &str) -> RatingInput<'_> {
        RatingInput {
            period: BillingPeriod::parse(period).unwrap(),
            currency: Currency::USD,
            resolver: Resolver {
                base_subscription: BASE,
                ownerships: &self.owners,
                mappings: &self.maps,
            },
            sheets: &self.sheets,
            default_sheet: &self.default_sheet,
            customer_pricing: &self.pricing,
            meters: &self.meters,
            meter_billing: &self.meter_billing,
        }
    }

    fn rate(&self, period: &str, usage: &[UsageLine]) -> Rating {
        rate(&self.input(period), usage).unwrap()
    }
}

/// Hourly usage of one meter for every hour of `[from, to)`, aggregated per day the way
/// the daily rollups hold it.
fn hourly(sub: SubscriptionId, meter: MeterId, per_hour: &str, from: &str, to: &str) -> Vec<UsageLine> {
    let q = Quantity::parse(per_hour).unwrap().value();
    let mut out: Vec<UsageLine> = Vec::new();
    let mut t: DateTime<Utc> = format!("{from}T00:00:00Z").parse().unwrap();
    let end: DateTime<Utc> = format!("{to}T00:00:00Z").parse().unwrap();
    while t < end {
        let d = t.date_naive();
        match out.last_mut() {
            Some(last) if last.day == d => {
                last.quantity = Quantity::try_from_decimal(last.quantity.value() + q).unwrap();
            }
            _ => out.push(UsageLine {
                subscription_id: sub,
                meter_id: meter,
                day: d,
                quantity: Quantity::try_from_decimal(q).unwrap(),
            }),
        }
        t += Duration::hours(1);
    }
    out
}

fn lines_of(r: &Rating, sub: SubscriptionId) -> Vec<RatedLine> {
    r.account(sub)
        .map(|a| a.sections.iter().flat_map(|s| s.lines.clone()).collect())
        .unwrap_or_default()
}

#[test]
fn a_windows_and_a_linux_vm_of_8_vcpus_for_december_at_list_prices() {
    let csp = Csp::new();
    let mut usage = hourly(CONTOSO_SUB, WINDOWS_VM_SIZE_HOURS, "8", "2026-12-01", "2027-01-01");
    usage.extend(hourly(CONTOSO_SUB, VM_SIZE_HOURS, "1", "2026-12-01", "2027-01-01"));
    usage.extend(hourly(CONTOSO_SUB, BASE_VM_SIZE_HOURS, "8", "2026-12-01", "2027-01-01"));
    usage.extend(hourly(CONTOSO_SUB, VM_SIZE_HOURS, "1", "2026-12-01", "2027-01-01"));
    let r = csp.rate("2026-12", &usage);
    let account = r.account(CONTOSO_CSP).unwrap();
    let section = &account.sections[0];
    let by_name = |n: &str| section.lines.iter().find(|l| l.meter_name == n).unwrap();
    // Linux: 8 vCPU × 744 h = 5,952 vCPU-hours × 0.008 = 47.616 → 47.62
    assert_eq!(by_name("Base VM Size Hours").quantity.value(), dec!(5952));
    assert_eq!(by_name("Base VM Size Hours").amount.amount(), dec!(47.62));
    // Windows: 5,952 vCPU-hours × 0.046 = 273.792 → 273.79
    assert_eq!(by_name("Windows VM Size Hours").amount.amount(), dec!(273.79));
    // VM size hours (2 × 744) is listed, never charged: each VM is charged once.
    assert_eq!(section.report_only.len(), 1);
    assert_eq!(section.report_only[0].quantity.value(), dec!(1488));
    assert_eq!(section.lines.len(), 2);
    // 47.62 + 273.79 = 321.41
    assert_eq!(account.total(Currency::USD).amount(), dec!(321.41));
}

#[test]
fn decembers_744_hourly_s10_fractions_make_one_disk_month_at_exactly_the_monthly_price() {
    let csp = Csp::new();
    let usage = hourly(CONTOSO_SUB, S10, "0.0013440860215053762", "2026-12-01", "2027-01-01");
    let r = csp.rate("2026-12", &usage);
    let line = &lines_of(&r, CONTOSO_CSP)[0];
    // 744 × 0.0013440860215053762 = 0.9999999999999998928 disk-months
    assert_eq!(line.quantity.value(), dec!(0.9999999999999998928));
    // × 5.89 = 5.889999999999999368592 → 5.89, exactly the monthly price
    assert_eq!(line.precise_amount, dec!(5.889999999999999368592));
    assert_eq!(line.amount.amount(), dec!(5.89));
}

#[test]
fn a_price_change_on_the_15th_splits_the_month_by_usage_day() {
    let mut csp = Csp::new();
    csp.sheets.insert(
        LIST,
        PriceSheet::new(
            "list",
            Currency::USD,
            vec![
                PriceSheetVersion::new(day("2020-01-01"), Some(day("2026-03-15")), list_price_entries("0.008"))
                    .unwrap(),
                PriceSheetVersion::new(day("2026-03-15"), None, list_price_entries("0.010")).unwrap(),
            ],
        )
        .unwrap(),
    );
    let usage = hourly(CONTOSO_SUB, BASE_VM_SIZE_HOURS, "4", "2026-03-01", "2026-04-01");
    let lines = lines_of(&csp.rate("2026-03", &usage), CONTOSO_CSP);
    assert_eq!(lines.len(), 2);
    // 1–14 March: 14 days × 24 h × 4 vCPU = 1,344 × 0.008 = 10.752 → 10.75
    assert_eq!(
        (lines[0].price_version_from, lines[0].quantity.value()),
        (day("2020-01-01"), dec!(1344))
    );
    assert_eq!(lines[0].amount.amount(), dec!(10.75));
    // 15–31 March: 17 × 24 × 4 = 1,632 × 0.010 = 16.32
    assert_eq!(
        (lines[1].price_version_from, lines[1].quantity.value()),
        (day("2026-03-15"), dec!(1632))
    );
    assert_eq!(lines[1].amount.amount(), dec!(16.32));
}

#[test]
fn february_of_a_leap_year_has_696_hours_and_a_gb_month_is_still_a_month() {
    let csp = Csp::new();
    let mut usage = hourly(CONTOSO_SUB, BLOB, "100", "2024-02-01", "2024-03-01");
    usage.extend(hourly(
        CONTOSO_SUB,
        WINDOWS_VM_SIZE_HOURS,
        "2",
        "2024-02-01",
        "2024-03-01",
    ));
    let lines = lines_of(&csp.rate("2024-02", &usage), CONTOSO_CSP);
    let blob = lines.iter().find(|l| l.meter_id == BLOB).unwrap();
    // 100 GB × 696 h = 69,600 GB-hours ÷ 696 = 100 GB-months × 0.006 = 0.60
    assert_eq!(blob.quantity.value(), dec!(69600));
    assert_eq!(blob.billing_quantity, dec!(100));
    assert_eq!(blob.amount.amount(), dec!(0.60));
    let vm = lines.iter().find(|l| l.meter_id == WINDOWS_VM_SIZE_HOURS).unwrap();
    // 2 vCPU × 696 h = 1,392 × 0.046 = 64.032 → 64.03
    assert_eq!(vm.amount.amount(), dec!(64.03));
    // The same 100 GB in February 2023 (672 h): 67,200 GB-hours ÷ 672 = 100 → 0.60
    let lines = lines_of(
        &csp.rate("2023-02", &hourly(CONTOSO_SUB, BLOB, "100", "2023-02-01", "2023-03-01")),
        CONTOSO_CSP,
    );
    assert_eq!(
        (lines[0].quantity.value(), lines[0].amount.amount()),
        (dec!(67200), dec!(0.60))
    );
}

#[test]
fn a_tenant_mapped_on_the_10th_is_billed_to_the_base_before_and_to_itself_after() {
    let mut csp = Csp::new();
    csp.maps
        .insert(FABRIKAM, day("2026-01-10"), None, FABRIKAM_CSP)
        .unwrap();
    let usage = hourly(FABRIKAM_SUB, BASE_VM_SIZE_HOURS, "2", "2026-01-01", "2026-02-01");
    let r = csp.rate("2026-01", &usage);
    let base = r.account(BASE).unwrap();
    assert_eq!(base.sections.len(), 1);
    assert_eq!(base.sections[0].section, Section::Tenant(FABRIKAM));
    // 1–9 January: 9 × 24 × 2 = 432 vCPU-hours × 0.008 = 3.456 → 3.46 on the base
    assert_eq!(base.sections[0].lines[0].quantity.value(), dec!(432));
    assert_eq!(base.sections[0].lines[0].amount.amount(), dec!(3.46));
    // 10–31 January: 22 × 24 × 2 = 1,056 × 0.008 = 8.448 → 8.45 on Fabrikam's own
    let own = &lines_of(&r, FABRIKAM_CSP)[0];
    assert_eq!(own.quantity.value(), dec!(1056));
    assert_eq!(own.amount.amount(), dec!(8.45));
    // Nothing is lost or doubled: 432 + 1,056 = 1,488 = 31 × 24 × 2, and no other
    // account or line carries any of it.
    assert_eq!(r.accounts.len(), 2);
    let all: Decimal = r
        .accounts
        .iter()
        .flat_map(|a| &a.sections)
        .flat_map(|s| &s.lines)
        .map(|l| l.quantity.value())
        .sum();
    assert_eq!(all, dec!(1488));
    assert_eq!(all, usage.iter().map(|l| l.quantity.value()).sum::<Decimal>());
}

#[test]
fn a_remapped_tenant_moves_to_the_new_customer_subscription_from_that_day() {
    let mut csp = Csp::new();
    let new_csp = SubscriptionId::from_u128(0xc0_c5b1);
    // Re-mapped on the 20th (Azure's PUT replaces the customer subscription).
    csp.maps = mappings();
    let log = Dated::from_changes([
        (day("2020-01-01"), Some(CONTOSO_CSP)),
        (day("2026-01-20"), Some(new_csp)),
    ]);
    csp.maps.insert_dated(CONTOSO, &log).unwrap();
    let r = csp.rate(
        "2026-01",
        &hourly(CONTOSO_SUB, BASE_VM_SIZE_HOURS, "1", "2026-01-01", "2026-02-01"),
    );
    // 19 days × 24 = 456 on the old subscription, 12 × 24 = 288 on the new one
    assert_eq!(lines_of(&r, CONTOSO_CSP)[0].quantity.value(), dec!(456));
    assert_eq!(lines_of(&r, new_csp)[0].quantity.value(), dec!(288));
}

#[test]
fn an_unassigned_user_subscription_is_billed_to_the_base_in_its_own_section() {
    let csp = Csp::new();
    let usage = hourly(ORPHAN_SUB, BASE_VM_SIZE_HOURS, "2", "2026-01-01", "2026-01-11");
    let r = csp.rate("2026-01", &usage);
    let base = r.account(BASE).unwrap();
    assert_eq!(base.sections[0].section, Section::Unassigned);
    // 10 days × 24 × 2 = 480 × 0.008 = 3.84
    assert_eq!(base.sections[0].lines[0].amount.amount(), dec!(3.84));
}

#[test]
fn an_unpriced_meter_is_listed_with_its_quantity_and_never_charged_as_zero() {
    let csp = Csp::new();
    let mut usage = hourly(CONTOSO_SUB, EVENT_HUBS, "10", "2026-01-01", "2026-01-03");
    usage.extend(hourly(CONTOSO_SUB, BASE_VM_SIZE_HOURS, "1", "2026-01-01", "2026-01-02"));
    let r = csp.rate("2026-01", &usage);
    let section = &r.account(CONTOSO_CSP).unwrap().sections[0];
    assert_eq!(section.lines.len(), 1, "only the priced meter has a line");
    assert_eq!(section.unpriced.len(), 1);
    // 2 days × 24 h × 10 cores = 480 core-hours, listed as unpriced
    assert_eq!(section.unpriced[0].meter_name, "1 Core");
    assert_eq!(section.unpriced[0].quantity.value(), dec!(480));
    // 24 × 1 × 0.008 = 0.192 → 0.19 is the whole charge
    assert_eq!(r.grand_total().amount(), dec!(0.19));
}

#[test]
fn a_full_month_invoice_with_markup_minimum_charge_and_tax() {
    let mut csp = Csp::new();
    csp.pricing.insert(
        CONTOSO,
        CustomerPricing::adjusted(Adjustment {
            overall: Some(Percent::parse("10").unwrap()),
            per_meter: HashMap::new(),
        }),
    );
    let usage = hourly(CONTOSO_SUB, BASE_VM_SIZE_HOURS, "4", "2026-04-01", "2026-05-01");
    let r = csp.rate("2026-04", &usage);
    let account = r.account(CONTOSO_CSP).unwrap();
    // 4 × 720 = 2,880 vCPU-hours × 0.008 = 23.04 × 1.10 = 25.344 → 25.34
    assert_eq!(account.sections[0].lines[0].amount.amount(), dec!(25.34));
    let terms = InvoiceTerms {
        minimum_monthly_charge: Some(dec!(50)),
        tax_rate: TaxRate::parse("21").unwrap(),
    };
    let invoice = build_invoice(account, r.period, r.currency, &terms).unwrap();
    // 25.34 is below the 50.00 minimum: a top-up line of 24.66; tax 21% of 50.00 = 10.50
    assert_eq!(invoice.lines.last().unwrap().kind, LineKind::MinimumCharge);
    assert_eq!(invoice.lines.last().unwrap().amount.amount(), dec!(24.66));
    assert_eq!(invoice.subtotal.amount(), dec!(50.00));
    assert_eq!(invoice.tax.amount(), dec!(10.50));
    assert_eq!(invoice.total.amount(), dec!(60.50));
    let credit = credit_note(&invoice);
    assert_eq!(credit.total.amount(), dec!(-60.50));
}

#[test]
fn month_to_date_and_forecast_come_from_the_same_rating() {
    let csp = Csp::new();
    // 10 days of April into a 30-day month: 4 vCPU × 240 h = 960 × 0.008 = 7.68
    let usage = hourly(CONTOSO_SUB, BASE_VM_SIZE_HOURS, "4", "2026-04-01", "2026-04-11");
    let as_of: DateTime<Utc> = "2026-04-11T00:00:00Z".parse().unwrap();
    let e = estimate(&csp.input("2026-04"), &usage, as_of, CONTOSO).unwrap();
    assert_eq!(e.month_to_date.amount(), dec!(7.68));
    assert_eq!(e.elapsed_hours, dec!(240));
    // Run rate: 960 × 720/240 = 2,880 × 0.008 = 23.04
    assert_eq!(e.forecast.amount(), dec!(23.04));
    // An unmapped customer sees its share of the base subscription priced the same way.
    let usage = hourly(FABRIKAM_SUB, BASE_VM_SIZE_HOURS, "1", "2026-04-01", "2026-04-11");
    let e = estimate(&csp.input("2026-04"), &usage, as_of, FABRIKAM).unwrap();
    // 240 × 0.008 = 1.92; forecast 720 × 0.008 = 5.76
    assert_eq!(
        (e.month_to_date.amount(), e.forecast.amount()),
        (dec!(1.92), dec!(5.76))
    );
}

#[test]
fn the_forecast_prices_the_days_to_come_at_the_prices_and_mappings_they_will_have() {
    let mut csp = Csp::new();
    // A new price from the 20th, and Fabrikam mapped to its own subscription from the 25th.
    csp.sheets.insert(
        LIST,
        PriceSheet::new(
            "list",
            Currency::USD,
            vec![
                PriceSheetVersion::new(day("2020-01-01"), Some(day("2026-04-20")), list_price_entries("0.008"))
                    .unwrap(),
                PriceSheetVersion::new(day("2026-04-20"), None, list_price_entries("0.016")).unwrap(),
            ],
        )
        .unwrap(),
    );
    csp.maps
        .insert(FABRIKAM, day("2026-04-25"), None, FABRIKAM_CSP)
        .unwrap();
    let as_of: DateTime<Utc> = "2026-04-11T00:00:00Z".parse().unwrap();
    let usage = hourly(CONTOSO_SUB, BASE_VM_SIZE_HOURS, "4", "2026-04-01", "2026-04-11");
    let e = estimate(&csp.input("2026-04"), &usage, as_of, CONTOSO).unwrap();
    assert_eq!(e.month_to_date.amount(), dec!(7.68));
    // Run rate 4 vCPU-hours an hour. 1–19 April: 19 × 24 × 4 = 1,824 × 0.008 = 14.592
    // → 14.59; 20–30 April: 11 × 24 × 4 = 1,056 × 0.016 = 16.896 → 16.90; 31.49 in all
    // (scaling the first ten days instead would have priced everything at 0.008: 23.04).
    assert_eq!(e.forecast.amount(), dec!(31.49));
    // Fabrikam's projected days from the 25th go to its own account; its section of the
    // base subscription only carries 1–24 April. 1 vCPU: 1–19 → 456 × 0.008 = 3.648 →
    // 3.65; 20–24 → 120 × 0.016 = 1.92; the 25th on → 144 × 0.016 = 2.304 → 2.30.
    let usage = hourly(FABRIKAM_SUB, BASE_VM_SIZE_HOURS, "1", "2026-04-01", "2026-04-11");
    let e = estimate(&csp.input("2026-04"), &usage, as_of, FABRIKAM).unwrap();
    assert_eq!(e.month_to_date.amount(), dec!(1.92));
    assert_eq!(e.forecast.amount(), dec!(3.65) + dec!(1.92) + dec!(2.30));
}
