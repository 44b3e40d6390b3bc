//! The rating service through storage: everything below is written with the services and
//! ingestion the product uses, read back by `rate_period`, on both engines.

use super::*;
use crate::billing::meter::{BASE_VM_SIZE_HOURS, VM_SIZE_HOURS};
use crate::billing::{Adjustment, Percent, PricingModel, UnitConversion, UnitPrice, UsageRecord};
use crate::ssr::auth::Caller;
use crate::ssr::db::customers::NewCustomer;
use crate::ssr::db::testing::for_each_engine;
use crate::ssr::services::ingest::{self, Batch, IngestCache, Source};
use crate::ssr::services::mappings::tests::setup;
use crate::ssr::services::mappings::{change_mapping, ChangeSource, MappingChange};
use crate::ssr::services::ownership::assign_owner;
use crate::ssr::services::terms::{
    set_customer_terms, set_registration_terms, CustomerTermsChange, RegistrationTermsChange,
};
use crate::ssr::services::{costs, price_sheets};
use crate::ssr::state::AppState;
use crate::types::PeriodCost;
use rust_decimal_macros::dec;

const BASE: &str = "dd8597b4-8739-4467-8b10-f8679f62bfbf";
const TENANT_A: &str = "dbab3982-796f-4d03-9908-044c08aef8a2";
const TENANT_B: &str = "d9b782d5-d098-4374-8f2c-3907cc34611c";
const TENANT_C: &str = "5e3b8a10-6f3c-4a4e-9d0e-0b7c1a2f3e4d";
const SUB_X: &str = "e09a4e93-29a7-4eba-a6d4-76202383f07f";
const SUB_Y: &str = "5144634d-7e4d-443b-a304-d27e44220fc6";
const SUB_Z: &str = "0c2a7f6e-8d4b-4f2a-9b1c-3e5d7f9a1b2c";
const US_A: &str = "1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4";
const US_B: &str = "2e7d5474-4bac-4dc7-9f7d-0d3f0fd85db5";
const US_C: &str = "3f8e6585-5cbd-4ed8-8a8e-1e4a1ae96ec6";
const US_U: &str = "4a9f7696-6dce-4fe9-9b9f-2f5b2bfa7fd7";

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A billable meter the list has no price for.
fn static_ip() -> MeterId {
    MeterId::parse("F271A8A3-88C4-4D93-956A-063E1D2FA80B").unwrap()
}

fn feb() -> BillingPeriod {
    BillingPeriod::parse("2026-02").unwrap()
}

fn sub(s: &str) -> SubscriptionId {
    SubscriptionId::parse(s).unwrap()
}

fn tenant(s: &str) -> CloudTenantId {
    CloudTenantId::parse(s).unwrap()
}

/// One record a day at 10:00 UTC for each day of February 2026.
fn daily(us: &str, meter: MeterId, qty: &str, days: std::ops::RangeInclusive<u32>) -> Vec<UsageRecord> {
    days.map(|d| {
        let start = NaiveDate::from_ymd_opt(2026, 2, d)
            .unwrap()
            .and_hms_opt(10, 0, 0)
            .unwrap()
            .and_utc();
        UsageRecord {
            subscription_id: sub(us),
            meter_id: meter,
            usage_start: start,
            usage_end: start + chrono::Duration::hours(1),
            quantity: crate::billing::Quantity::parse(qty).unwrap(),
            resource_uri: format!(
                "/subscriptions/{us}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1"
            ),
            location: "local".into(),
            tags: String::new(),
            additional_info: String::new(),
            reported_at: None,
        }
    })
    .collect()
}

/// The February the scenarios share:
/// - list prices: the base VM meter at 0.50 until 14 February, 0.40 from the 15th (a
///   version starting mid-month); the VM size meter has no price;
/// - tenant A (customer 「Contoso 株式会社」) on customer subscription X, re-mapped to Y
///   from 10 February; tenant B (Fabrikam, 10 % markup) on Z; tenant C (a customer never
///   mapped) on the base; one user subscription nobody owns;
/// - 10 units a day of the base VM meter on each user subscription, and 3 unpriced VM
///   size hours (report-only) and 24 unpriced static IP address hours for A on 5 February.
async fn february(db: &Db) -> (AppState, i64, HashMap<&'static str, i64>) {
    let (state, reg) = setup(db).await;
    let by = Caller::cli();
    crate::ssr::services::catalogue::sync_meter_catalogue(db, 0)
        .await
        .unwrap();
    let list = price_sheets::create_price_sheet(&state, &by, "list", "USD", "")
        .await
        .unwrap();
    let entry = |price: &str| PriceEntry {
        meter_id: BASE_VM_SIZE_HOURS,
        model: PricingModel::PerUnit {
            unit_price: UnitPrice::parse(price).unwrap(),
        },
        billing_unit: "hour".into(),
        conversion: UnitConversion::default(),
    };
    // The later version first: adding the earlier one must end it where the later starts.
    price_sheets::add_version(&state, &by, list, day("2026-02-15"), "", vec![entry("0.40")])
        .await
        .unwrap();
    price_sheets::add_version(&state, &by, list, day("2026-01-01"), "", vec![entry("0.50")])
        .await
        .unwrap();
    assert_eq!(
        price_sheets::version_starts(db, list).await.unwrap(),
        vec![day("2026-01-01"), day("2026-02-15")]
    );
    let mut c = db.conn().await.unwrap();
    let mut customers = HashMap::new();
    for (key, guid, name) in [
        ("a", TENANT_A, "Contoso 株式会社"),
        ("b", TENANT_B, "Fabrikam"),
        ("c", TENANT_C, "Never Mapped"),
    ] {
        let t = db::customers::upsert_cloud_tenant(&mut c, guid, name, 0).await.unwrap();
        let id = db::customers::insert_customer(
            &mut c,
            &NewCustomer {
                name,
                cloud_tenant_id: t,
                billing_email: "billing@example.test",
                billing_address: "",
                locale: "en",
                tax_id: "",
                payment_terms_days: None,
            },
            0,
        )
        .await
        .unwrap();
        customers.insert(key, id);
    }
    drop(c);
    set_registration_terms(
        &state,
        &by,
        reg,
        RegistrationTermsChange {
            effective_on: Some(day("2026-01-01")),
            price_sheet: Some(Some(list)),
            tax_rate: None,
        },
    )
    .await
    .unwrap();
    set_customer_terms(
        &state,
        &by,
        customers["b"],
        CustomerTermsChange {
            effective_on: Some(day("2026-01-01")),
            adjustment: Some(Adjustment {
                overall: Some(Percent::parse("10").unwrap()),
                per_meter: Default::default(),
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let map = |t: &str, s: &str, on: &str| MappingChange {
        registration_id: reg,
        cloud_tenant: tenant(t),
        subscription: Some(sub(s)),
        effective_on: Some(day(on)),
        source: ChangeSource::Api,
    };
    change_mapping(&state, &by, map(TENANT_A, SUB_X, "2026-01-01"))
        .await
        .unwrap();
    change_mapping(&state, &by, map(TENANT_A, SUB_Y, "2026-02-10"))
        .await
        .unwrap();
    change_mapping(&state, &by, map(TENANT_B, SUB_Z, "2026-01-01"))
        .await
        .unwrap();

    let mut records = Vec::new();
    for us in [US_A, US_B, US_C, US_U] {
        records.extend(daily(us, BASE_VM_SIZE_HOURS, "10", 1..=28));
    }
    records.extend(daily(US_A, VM_SIZE_HOURS, "3", 5..=5));
    records.extend(daily(US_A, static_ip(), "24", 5..=5));
    let prepared = ingest::prepare_all(reg, records);
    ingest::ingest_batch(
        db,
        reg,
        &Batch::records(&prepared, Source::Import, "cli", "february"),
        &mut IngestCache::default(),
        0,
    )
    .await
    .unwrap();
    for (us, t) in [(US_A, TENANT_A), (US_B, TENANT_B), (US_C, TENANT_C)] {
        assign_owner(&state, &by, reg, sub(us), tenant(t), Some(day("2026-02-01")), "test")
            .await
            .unwrap();
    }
    (state, reg, customers)
}

fn totals(p: &PeriodCost) -> Vec<(String, Decimal, usize)> {
    p.accounts
        .iter()
        .map(|a| (a.billing_account.clone(), a.total, a.unpriced.len()))
        .collect()
}

#[tokio::test]
async fn a_february_through_storage_bills_each_account_what_its_mappings_prices_and_terms_say() {
    for_each_engine(|db| async move {
        let (state, _reg, customers) = february(&db).await;
        let now = state.clock.now();
        let all = costs::period_cost(&db, Scope::Everything, feb(), now).await.unwrap();
        // A: 9 days on X at 0.50; 5 days at 0.50 and 14 at 0.40 on Y after the re-map.
        // B: the same usage with a 10 % markup. C (never mapped) and the unassigned user
        // subscription: each its own section of the base.
        assert_eq!(
            totals(&all),
            vec![
                (SUB_Y.to_owned(), dec!(81.00), 0),
                (SUB_X.to_owned(), dec!(45.00), 1),
                (SUB_Z.to_owned(), dec!(138.60), 0),
                (BASE.to_owned(), dec!(252.00), 0),
            ]
        );
        assert_eq!(all.accounts[1].customer_name.as_deref(), Some("Contoso 株式会社"));
        assert_eq!(all.accounts[3].customer_id, None);
        // The unpriced meter is listed with its quantity, never charged as zero; the
        // report-only meter is neither charged nor listed as unpriced.
        let unpriced = &all.accounts[1].unpriced;
        assert_eq!(unpriced.len(), 1);
        assert_eq!(
            (unpriced[0].meter_id.clone(), unpriced[0].quantity),
            (static_ip().to_string(), dec!(24))
        );
        // A closed month's forecast is its total.
        assert!(all.accounts.iter().all(|a| a.forecast == Some(a.total)));

        // The base account's sections: C and the unassigned usage, 126.00 each.
        let rated = rate_period(&db, Scope::Everything, feb(), now, Detail::Shares)
            .await
            .unwrap();
        let base = rated.registrations[0].rating.account(sub(BASE)).unwrap();
        let mut sections: Vec<(Section, Decimal)> = base
            .sections
            .iter()
            .map(|s| (s.section, s.total(Currency::USD).amount()))
            .collect();
        sections.sort();
        assert_eq!(
            sections,
            vec![
                (Section::Tenant(tenant(TENANT_C)), dec!(126.00)),
                (Section::Unassigned, dec!(126.00))
            ]
        );
        // The shares add up to the lines, by day too: 28 days of usage.
        let by_day = rated.totals_by(by_day);
        assert_eq!(by_day.len(), 28);
        assert_eq!(by_day.values().copied().sum::<Decimal>(), dec!(516.60));

        // A customer's own figures: its part of each account, the same amounts.
        let a = costs::customer_cost(&db, customers["a"], feb(), now).await.unwrap();
        assert_eq!(
            (a.currency, a.total, a.forecast),
            (Some(Currency::USD), Some(dec!(126.00)), Some(dec!(126.00)))
        );
        assert_eq!(a.accounts.len(), 2);
        assert_eq!(a.unpriced.len(), 1);
        let c = costs::customer_cost(&db, customers["c"], feb(), now).await.unwrap();
        assert_eq!(c.total, Some(dec!(126.00)));
        assert_eq!(c.accounts.len(), 1);
        assert_eq!(c.accounts[0].kind, crate::types::AccountKind::Base);
        // Customer scope reads that customer's rows only; loading is a handful of statements.
        let one = rate_period(&db, Scope::Customer(customers["c"]), feb(), now, Detail::Lines)
            .await
            .unwrap();
        assert!(one.statements <= 16, "{} statements", one.statements);
        // A billing account alone.
        let z = costs::period_cost(
            &db,
            Scope::BillingAccount {
                registration_id: rated.registrations[0].registration_id,
                subscription: sub(SUB_Z),
            },
            feb(),
            now,
        )
        .await
        .unwrap();
        assert_eq!(totals(&z), vec![(SUB_Z.to_owned(), dec!(138.60), 0)]);
    })
    .await;
}

#[tokio::test]
async fn the_month_in_progress_has_a_forecast_and_an_unknown_customer_is_404() {
    for_each_engine(|db| async move {
        let (state, _reg, customers) = february(&db).await;
        // As of 14 February at noon: 14 days of usage so far.
        let as_of = "2026-02-14T12:00:00Z".parse().unwrap();
        let b = costs::customer_cost(&db, customers["b"], feb(), as_of).await.unwrap();
        let total = b.total.unwrap();
        let forecast = b.forecast.unwrap();
        assert!(total > Decimal::ZERO);
        assert!(forecast > total, "forecast {forecast} ≤ total {total}");
        let err = costs::customer_cost(&db, 999_999, feb(), state.clock.now())
            .await
            .unwrap_err();
        assert_eq!(err.status(), 404);
    })
    .await;
}

#[tokio::test]
async fn a_stored_price_sheet_the_core_refuses_is_an_error_naming_it_not_a_zero() {
    for_each_engine(|db| async move {
        let (state, _reg, _) = february(&db).await;
        let mut c = db.conn().await.unwrap();
        // A version overlapping the others, written behind the services' back.
        let sheet = db::price_sheets::find_price_sheet_by_name(&mut c, "list")
            .await
            .unwrap()
            .unwrap();
        db::price_sheets::insert_version(&mut c, sheet.id, day("2026-02-01"), Some(day("2026-02-20")), "", 0)
            .await
            .unwrap();
        drop(c);
        let err = rate_period(&db, Scope::Everything, feb(), state.clock.now(), Detail::Lines)
            .await
            .unwrap_err();
        assert_eq!(err.code, INVALID_DATA);
        assert!(err.message.contains("`list`"), "{}", err.message);
        // The home pages explain instead of failing.
        let overview = costs::cost_overview(&db, "2026-03-05T00:00:00Z".parse().unwrap())
            .await
            .unwrap();
        assert!(overview.problem.as_deref().unwrap_or_default().contains("`list`"));
        assert!(overview.accounts.is_empty());
    })
    .await;
}

#[tokio::test]
async fn the_home_pages_show_month_to_date_forecast_and_last_month_per_account_and_customer() {
    for_each_engine(|db| async move {
        let (_state, _reg, customers) = february(&db).await;
        let overview = costs::cost_overview(&db, "2026-03-05T00:00:00Z".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(overview.problem, None);
        let z = overview.accounts.iter().find(|r| r.reference == SUB_Z).unwrap();
        assert_eq!((z.month_to_date, z.last_month), (dec!(0.00), dec!(138.60)));
        let a = overview
            .customers
            .iter()
            .find(|r| r.customer_id == Some(customers["a"]))
            .unwrap();
        assert_eq!(a.last_month, dec!(126.00));
        let c = overview
            .customers
            .iter()
            .find(|r| r.customer_id == Some(customers["c"]))
            .unwrap();
        assert_eq!(c.last_month, dec!(126.00));
        // CSV and table of the same figures.
        let feb_cost = costs::period_cost(&db, Scope::Everything, feb(), "2026-03-05T00:00:00Z".parse().unwrap())
            .await
            .unwrap();
        let csv = costs::to_csv(&feb_cost).unwrap();
        assert!(csv.starts_with("period,registration,billing_account,kind,customer_id"));
        assert!(csv.contains(&format!(
            "2026-02,azs-1,{SUB_Z},customer_subscription,{},Fabrikam,USD,138.60,138.60,",
            customers["b"]
        )));
        assert!(csv.contains("Contoso 株式会社"));
        assert!(costs::to_table(&feb_cost).contains("138.60"));
    })
    .await;
}

#[tokio::test]
async fn a_tiered_meter_through_storage_equals_the_billing_core_on_the_same_records_by_hand() {
    use crate::billing::dated::Dated;
    use crate::billing::resolution::{mappings, ownerships, Resolver};
    use crate::billing::{PriceSheet, PriceSheetVersion, Quantity, RatingInput, Tier, UsageLine};
    for_each_engine(|db| async move {
        let (state, reg) = setup(&db).await;
        let by = Caller::cli();
        crate::ssr::services::catalogue::sync_meter_catalogue(&db, 0)
            .await
            .unwrap();
        // 100 hours at 0.10, every hour after at 0.05.
        let entry = PriceEntry {
            meter_id: BASE_VM_SIZE_HOURS,
            model: PricingModel::Graduated {
                tiers: vec![
                    Tier {
                        from: 0.into(),
                        unit_price: UnitPrice::parse("0.10").unwrap(),
                    },
                    Tier {
                        from: 100.into(),
                        unit_price: UnitPrice::parse("0.05").unwrap(),
                    },
                ],
            },
            billing_unit: "hour".into(),
            conversion: UnitConversion::default(),
        };
        let sheet = price_sheets::create_price_sheet(&state, &by, "tiered", "USD", "")
            .await
            .unwrap();
        price_sheets::add_version(&state, &by, sheet, day("2026-01-01"), "", vec![entry.clone()])
            .await
            .unwrap();
        set_registration_terms(
            &state,
            &by,
            reg,
            RegistrationTermsChange {
                effective_on: Some(day("2026-01-01")),
                price_sheet: Some(Some(sheet)),
                tax_rate: None,
            },
        )
        .await
        .unwrap();
        // Two tenants that fall back to the base, 7.5 hours a day each through February.
        let mut records = daily(US_A, BASE_VM_SIZE_HOURS, "7.5", 1..=28);
        records.extend(daily(US_B, BASE_VM_SIZE_HOURS, "7.5", 1..=28));
        let prepared = ingest::prepare_all(reg, records);
        ingest::ingest_batch(
            &db,
            reg,
            &Batch::records(&prepared, Source::Import, "cli", "tiers"),
            &mut IngestCache::default(),
            0,
        )
        .await
        .unwrap();
        for (us, t) in [(US_A, TENANT_A), (US_B, TENANT_B)] {
            assign_owner(&state, &by, reg, sub(us), tenant(t), Some(day("2026-02-01")), "test")
                .await
                .unwrap();
        }
        let stored = rate_period(&db, Scope::Everything, feb(), state.clock.now(), Detail::Lines)
            .await
            .unwrap();

        // The same records, sheet and owners, given to the billing core by hand.
        let by_hand_sheet = PriceSheet::new(
            "tiered",
            Currency::USD,
            vec![PriceSheetVersion::new(day("2026-01-01"), None, vec![entry]).unwrap()],
        )
        .unwrap();
        let sheets = HashMap::from([(SheetId(sheet), by_hand_sheet)]);
        let mut owners = ownerships();
        for (us, t) in [(US_A, TENANT_A), (US_B, TENANT_B)] {
            owners.insert(sub(us), day("2026-02-01"), None, tenant(t)).unwrap();
        }
        let maps = mappings();
        let default_sheet = Dated::from_changes([(day("2026-01-01"), Some(SheetId(sheet)))]);
        let usage: Vec<UsageLine> = [US_A, US_B]
            .into_iter()
            .flat_map(|us| {
                (1..=28).map(move |d| UsageLine {
                    subscription_id: sub(us),
                    meter_id: BASE_VM_SIZE_HOURS,
                    day: NaiveDate::from_ymd_opt(2026, 2, d).unwrap(),
                    quantity: Quantity::parse("7.5").unwrap(),
                })
            })
            .collect();
        let no_pricing = HashMap::new();
        let no_meters = HashMap::new();
        let no_modes = HashMap::new();
        let input = RatingInput {
            period: feb(),
            currency: Currency::USD,
            resolver: Resolver {
                base_subscription: sub(BASE),
                ownerships: &owners,
                mappings: &maps,
            },
            sheets: &sheets,
            default_sheet: &default_sheet,
            customer_pricing: &no_pricing,
            meters: &no_meters,
            meter_billing: &no_modes,
        };
        let by_hand = rate(&input, &usage).unwrap();
        let ours = &stored.registrations[0].rating;
        assert_eq!(ours.grand_total(), by_hand.grand_total());
        // Tiers count per section of the base: each tenant's 210 hours are 100 × 0.10 +
        // 110 × 0.05 = 15.50 (not 420 hours on one ladder).
        let base = ours.account(sub(BASE)).unwrap();
        let mut sections: Vec<Decimal> = base.sections.iter().map(|s| s.total(Currency::USD).amount()).collect();
        sections.sort();
        assert_eq!(sections, vec![dec!(15.50), dec!(15.50)]);
    })
    .await;
}

#[tokio::test]
async fn a_console_unmap_mid_month_sends_the_rest_of_the_month_to_the_base_and_a_preview_changes_nothing() {
    use crate::ssr::services::mappings::customer_mapping;
    use crate::types::MappingForm;
    for_each_engine(|db| async move {
        let (state, reg, customers) = february(&db).await;
        let now = state.clock.now();
        let before = totals(&costs::period_cost(&db, Scope::Everything, feb(), now).await.unwrap());
        let unmap = MappingForm {
            registration: reg.to_string(),
            customer_subscription_id: String::new(),
            effective_on: "2026-02-20".into(),
        };
        // The confirmation step runs the change and rolls it back.
        let preview = customer_mapping(&state, &Caller::cli(), customers["a"], &unmap, false)
            .await
            .unwrap();
        assert_eq!(
            (preview.before.as_deref(), preview.after.as_deref()),
            (Some(SUB_Y), None)
        );
        assert_eq!(
            totals(&costs::period_cost(&db, Scope::Everything, feb(), now).await.unwrap()),
            before
        );
        customer_mapping(&state, &Caller::cli(), customers["a"], &unmap, true)
            .await
            .unwrap();
        // Y keeps 10–19 February (5 days at 0.50, 5 at 0.40); A's 20th–28th (9 days at
        // 0.40) join the base as a section of their own.
        let after = costs::period_cost(&db, Scope::Everything, feb(), now).await.unwrap();
        assert_eq!(
            totals(&after),
            vec![
                (SUB_Y.to_owned(), dec!(45.00), 0),
                (SUB_X.to_owned(), dec!(45.00), 1),
                (SUB_Z.to_owned(), dec!(138.60), 0),
                (BASE.to_owned(), dec!(288.00), 0),
            ]
        );
        let rated = rate_period(&db, Scope::Everything, feb(), now, Detail::Shares)
            .await
            .unwrap();
        let base = rated.registrations[0].rating.account(sub(BASE)).unwrap();
        let a_section = base
            .sections
            .iter()
            .find(|s| s.section == Section::Tenant(tenant(TENANT_A)))
            .unwrap();
        assert_eq!(a_section.total(Currency::USD).amount(), dec!(36.00));
        // Finance may look but not change.
        let finance = Caller {
            role: crate::types::Role::Finance,
            ..Caller::cli()
        };
        let err = customer_mapping(&state, &finance, customers["a"], &unmap, true)
            .await
            .unwrap_err();
        assert_eq!(err.status(), 403);
    })
    .await;
}

#[tokio::test]
async fn the_unassigned_queue_shows_what_each_adds_to_the_base_and_assigning_moves_it_to_the_customer() {
    use crate::ssr::services::user_subscriptions::{assign, list_user_subscriptions};
    use crate::ssr::Clock;
    use crate::types::{AssignForm, UserSubscriptionQuery};
    for_each_engine(|db| async move {
        let (mut state, _reg, _customers) = february(&db).await;
        // The last hour of February: the month in progress is the one with the usage.
        state.clock = Clock::fixed("2026-02-28T23:00:00Z".parse().unwrap());
        let cli = Caller::cli();
        let queue = |state: AppState| async move {
            let q = UserSubscriptionQuery {
                status: "unassigned".into(),
                ..Default::default()
            };
            list_user_subscriptions(&state, &Caller::cli(), &q).await.unwrap()
        };
        let page = queue(state.clone()).await;
        assert_eq!(page.total, 1);
        let u = page.items[0].clone();
        assert_eq!(
            (
                u.subscription_id.as_str(),
                u.owner_tenant.as_deref(),
                u.records_this_month
            ),
            (US_U, None, 28)
        );
        // 14 days at 0.50 and 14 at 0.40, 10 units a day: its section of the base.
        assert_eq!(u.base_amount_this_month, Some(dec!(126.00)));
        let all = list_user_subscriptions(&state, &cli, &UserSubscriptionQuery::default())
            .await
            .unwrap();
        assert_eq!(all.total, 4);
        let owned_by_a = all.items.iter().find(|s| s.subscription_id == US_A).unwrap();
        assert_eq!(owned_by_a.customer.as_deref(), Some("Contoso 株式会社"));
        let by_guid = list_user_subscriptions(
            &state,
            &cli,
            &UserSubscriptionQuery {
                q: US_U[..8].to_uppercase(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(by_guid.total, 1);

        // All or nothing: one unknown id and nobody is assigned.
        let changes = |db: Db| async move {
            let mut c = db.conn().await.unwrap();
            crate::ssr::db::sql!(&mut c, |e| sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM ownership_changes"
            )
            .fetch_one(e)
            .await)
            .unwrap()
        };
        let before = changes(db.clone()).await;
        let err = assign(
            &state,
            &cli,
            &AssignForm {
                cloud_tenant_id: TENANT_B.into(),
                subscriptions: vec![u.id, 999_999],
            },
        )
        .await
        .unwrap_err();
        assert_eq!(err.status(), 404);
        assert_eq!(changes(db.clone()).await, before);
        let finance = Caller {
            role: crate::types::Role::Finance,
            ..Caller::cli()
        };
        let form = AssignForm {
            cloud_tenant_id: TENANT_B.to_uppercase(),
            subscriptions: vec![u.id],
        };
        assert_eq!(assign(&state, &finance, &form).await.unwrap_err().status(), 403);

        // Assigned to Fabrikam (on Z, 10 % markup) from its first usage: the whole open
        // month moves from the base to Z.
        let done = assign(&state, &cli, &form).await.unwrap();
        assert_eq!(done[0].effective_on, day("2026-02-01"));
        let now = state.clock.now();
        assert_eq!(
            totals(&costs::period_cost(&db, Scope::Everything, feb(), now).await.unwrap()),
            vec![
                (SUB_Y.to_owned(), dec!(81.00), 0),
                (SUB_X.to_owned(), dec!(45.00), 1),
                (SUB_Z.to_owned(), dec!(277.20), 0),
                (BASE.to_owned(), dec!(126.00), 0),
            ]
        );
        assert_eq!(queue(state.clone()).await.total, 0);
    })
    .await;
}
