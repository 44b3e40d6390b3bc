//! Rating benchmarks (issue: "Billing core").
//!
//! - `rate/month_1000_accounts_30_meters`: one month of daily rollups for 1,000 billing
//!   accounts × 30 meters × 30 days = 900,000 rows. Target: ≤ 500 ms on one core.
//! - `rate/hourly_records`: raw rating throughput on 1,000,000 hourly records.
//!   Target: ≥ 2,000,000 records per second per core.
//! - `baseline/sum_decimals_*`: a loop that only sums the same quantities, to express
//!   rating's cost as a ratio of bare decimal addition.
//!
//! Run: `cargo bench -p app --bench rating` (single-threaded; criterion reports the median
//! in target/criterion/*/new/estimates.json).

use app::billing::meter::{BASE_VM_SIZE_HOURS, VM_SIZE_HOURS};
use app::billing::*;
use chrono::NaiveDate;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rust_decimal::Decimal;
use std::collections::HashMap;
use std::hint::black_box;
use std::time::Duration;

const ACCOUNTS: u128 = 1_000;
const METERS: u128 = 30;
const LIST: SheetId = SheetId(1);

struct World {
    owners: Ownerships,
    maps: Mappings,
    sheets: HashMap<SheetId, PriceSheet>,
    default_sheet: Dated<Option<SheetId>>,
    meter_billing: HashMap<MeterId, Dated<MeterBilling>>,
    pricing: HashMap<CloudTenantId, CustomerPricing>,
    meters: HashMap<MeterId, Meter>,
}

fn meter_id(i: u128) -> MeterId {
    match i {
        0 => BASE_VM_SIZE_HOURS,
        1 => VM_SIZE_HOURS,
        _ => MeterId::from_u128(0x1000 + i),
    }
}

fn world() -> World {
    let day = |s: &str| s.parse::<NaiveDate>().unwrap();
    let mut owners = ownerships();
    let mut maps = mappings();
    let mut pricing = HashMap::new();
    for a in 0..ACCOUNTS {
        let tenant = CloudTenantId::from_u128(0x7e_0000 + a);
        owners
            .insert(
                SubscriptionId::from_u128(0x5b_0000 + a),
                day("2020-01-01"),
                None,
                tenant,
            )
            .unwrap();
        // Nine in ten tenants are mapped; the rest fall back to the base subscription.
        if a % 10 != 0 {
            maps.insert(
                tenant,
                day("2020-01-01"),
                None,
                SubscriptionId::from_u128(0xc5_0000 + a),
            )
            .unwrap();
        }
        if a % 7 == 0 {
            let adj = Adjustment {
                overall: Some(Percent::parse("12.5").unwrap()),
                per_meter: HashMap::new(),
            };
            pricing.insert(tenant, CustomerPricing::adjusted(adj));
        }
    }
    let mut meters = HashMap::new();
    let mut entries = Vec::new();
    for i in 0..METERS {
        let id = meter_id(i);
        let billing = if i == 1 {
            MeterBilling::ReportOnly
        } else {
            MeterBilling::Billable
        };
        meters.insert(
            id,
            Meter {
                id,
                name: format!("Meter {i}"),
                unit: "unit".into(),
                service: "bench".into(),
                billing,
            },
        );
        // Meters 27–29 have no price (unpriced lines); a few are tiered; one converts units.
        let model = match i {
            27..=29 => continue,
            3 | 4 => PricingModel::Graduated {
                tiers: vec![
                    Tier {
                        from: Decimal::ZERO,
                        unit_price: UnitPrice::parse("0.02").unwrap(),
                    },
                    Tier {
                        from: Decimal::from(500),
                        unit_price: UnitPrice::parse("0.015").unwrap(),
                    },
                ],
            },
            5 => PricingModel::Volume {
                tiers: vec![
                    Tier {
                        from: Decimal::ZERO,
                        unit_price: UnitPrice::parse("0.02").unwrap(),
                    },
                    Tier {
                        from: Decimal::from(500),
                        unit_price: UnitPrice::parse("0.015").unwrap(),
                    },
                ],
            },
            _ => PricingModel::PerUnit {
                unit_price: UnitPrice::parse("0.008").unwrap(),
            },
        };
        let conversion = if i == 6 {
            UnitConversion::MONTHLY_FROM_HOURLY
        } else {
            UnitConversion::IDENTITY
        };
        entries.push(PriceEntry {
            meter_id: id,
            model,
            billing_unit: "unit".into(),
            conversion,
        });
    }
    // A price change on the 15th, so half the lines take the second version.
    let mut second = entries.clone();
    for e in &mut second {
        if let PricingModel::PerUnit { .. } = e.model {
            e.model = PricingModel::PerUnit {
                unit_price: UnitPrice::parse("0.009").unwrap(),
            };
        }
    }
    let sheet = PriceSheet::new(
        "bench",
        Currency::USD,
        vec![
            PriceSheetVersion::new(day("2020-01-01"), Some(day("2026-04-15")), entries).unwrap(),
            PriceSheetVersion::new(day("2026-04-15"), None, second).unwrap(),
        ],
    )
    .unwrap();
    World {
        owners,
        maps,
        sheets: HashMap::from([(LIST, sheet)]),
        default_sheet: Dated::always(Some(LIST)),
        meter_billing: HashMap::new(),
        pricing,
        meters,
    }
}

fn input(w: &World) -> RatingInput<'_> {
    RatingInput {
        period: BillingPeriod::new(2026, 4).unwrap(),
        currency: Currency::USD,
        resolver: Resolver {
            base_subscription: SubscriptionId::from_u128(0xba5e),
            ownerships: &w.owners,
            mappings: &w.maps,
        },
        sheets: &w.sheets,
        default_sheet: &w.default_sheet,
        customer_pricing: &w.pricing,
        meters: &w.meters,
        meter_billing: &w.meter_billing,
    }
}

/// 1,000 accounts × 30 meters × 30 days of daily rollups (quantities with 18 decimals,
/// as the rollups hold them).
fn daily_rollups() -> Vec<UsageLine> {
    let mut out = Vec::with_capacity((ACCOUNTS * METERS * 30) as usize);
    for a in 0..ACCOUNTS {
        for m in 0..METERS {
            for d in 1..=30u32 {
                let q = Decimal::from_i128_with_scale((a * 7919 + m * 104_729 + u128::from(d)) as i128 * 1_000_003, 18);
                out.push(UsageLine {
                    subscription_id: SubscriptionId::from_u128(0x5b_0000 + a),
                    meter_id: meter_id(m),
                    day: NaiveDate::from_ymd_opt(2026, 4, d).unwrap(),
                    quantity: Quantity::try_from_decimal(q * Decimal::from(1_000_000)).unwrap(),
                });
            }
        }
    }
    out
}

/// 1,000,000 hourly records: 200 subscriptions × 7 meters × 720 hours (each hour is one
/// line of its day, the way records are rated when no rollup is used).
fn hourly_records() -> Vec<UsageLine> {
    let mut out = Vec::with_capacity(1_008_000);
    for a in 0..200u128 {
        for m in 0..7u128 {
            for h in 0..720u32 {
                out.push(UsageLine {
                    subscription_id: SubscriptionId::from_u128(0x5b_0000 + a * 5),
                    meter_id: meter_id(m),
                    day: NaiveDate::from_ymd_opt(2026, 4, h / 24 + 1).unwrap(),
                    quantity: Quantity::parse("0.0013440860215053762").unwrap(),
                });
            }
        }
    }
    out
}

fn sum_quantities(lines: &[UsageLine]) -> Decimal {
    let mut sum = Decimal::ZERO;
    for l in lines {
        sum += l.quantity.value();
    }
    sum
}

fn bench(c: &mut Criterion) {
    let w = world();
    let rollups = daily_rollups();
    let records = hourly_records();

    let mut rate_group = c.benchmark_group("rate");
    rate_group.sample_size(20).measurement_time(Duration::from_secs(20));
    rate_group.throughput(Throughput::Elements(rollups.len() as u64));
    rate_group.bench_function("month_1000_accounts_30_meters", |b| {
        b.iter(|| black_box(rate(&input(&w), black_box(&rollups)).unwrap()))
    });
    rate_group.throughput(Throughput::Elements(records.len() as u64));
    rate_group.bench_function("hourly_records", |b| {
        b.iter(|| black_box(rate(&input(&w), black_box(&records)).unwrap()))
    });
    rate_group.finish();

    let mut base = c.benchmark_group("baseline");
    base.sample_size(20);
    base.throughput(Throughput::Elements(rollups.len() as u64));
    base.bench_function("sum_decimals_daily_rollups", |b| {
        b.iter(|| black_box(sum_quantities(black_box(&rollups))))
    });
    base.throughput(Throughput::Elements(records.len() as u64));
    base.bench_function("sum_decimals_hourly_records", |b| {
        b.iter(|| black_box(sum_quantities(black_box(&records))))
    });
    base.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
