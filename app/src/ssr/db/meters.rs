//! The meter catalogue.

use super::{parse_stored, sql, AsExecutor, DbResult};
use crate::billing::{Meter, MeterBilling, MeterId};
use chrono::NaiveDate;
use sqlx::FromRow;

/// A `meters` row.
#[derive(Debug, Clone, FromRow)]
pub struct MeterRow {
    /// Normalised meter ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Usage unit.
    pub unit: String,
    /// Service.
    pub service: String,
    /// Description.
    pub description: String,
    /// `billable` / `report_only` as the catalogue (or discovery) set it.
    pub default_billing: String,
    /// `billable` / `report_only` on the day asked for: the latest change in effect, else
    /// the default.
    pub billing: String,
    /// `catalogue` / `discovered`.
    pub origin: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl MeterRow {
    /// The domain meter, with its **default** billing mode (rating applies the dated
    /// changes on top, day by day).
    pub fn to_meter(&self) -> DbResult<Meter> {
        Ok(Meter {
            id: parse_stored("meter id", &self.id, MeterId::parse)?,
            name: self.name.clone(),
            unit: self.unit.clone(),
            service: self.service.clone(),
            billing: parse_billing(&self.default_billing)?,
        })
    }

    /// The billing mode on the day the row was read for.
    pub fn billing_on_day(&self) -> DbResult<MeterBilling> {
        parse_billing(&self.billing)
    }
}

fn parse_billing(raw: &str) -> DbResult<MeterBilling> {
    parse_stored("meter billing", raw, |b| {
        MeterBilling::parse(b).ok_or("unknown billing mode")
    })
}

/// Inserts or refreshes a catalogue meter. Name, unit, service and description follow
/// the catalogue; the default billing mode is only set on insert (an operator's changes
/// are dated rows of their own, see [`insert_billing_change`]).
pub async fn upsert_catalogue_meter(
    c: &mut impl AsExecutor,
    meter: &Meter,
    description: &str,
    now: i64,
) -> DbResult<()> {
    let q = "INSERT INTO meters (id, name, unit, service, description, default_billing, origin, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 'catalogue', $7) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, unit = excluded.unit, \
             service = excluded.service, description = excluded.description, origin = 'catalogue'";
    sql!(c, |e| sqlx::query(q)
        .bind(meter.id.to_string())
        .bind(&meter.name)
        .bind(&meter.unit)
        .bind(&meter.service)
        .bind(description)
        .bind(meter.billing.as_str())
        .bind(now)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Adds meters first seen in usage (unknown to the catalogue) as *discovered* billable
/// meters; existing meters are left alone. Returns how many were added.
pub async fn insert_discovered_meters(c: &mut impl AsExecutor, ids: &[MeterId], now: i64) -> DbResult<u64> {
    let mut added = 0;
    for id in ids {
        let q = "INSERT INTO meters (id, name, unit, service, description, default_billing, origin, created_at) \
                 VALUES ($1, $2, '', 'Unknown', 'First seen in usage; not in the Azure Stack usage FAQ.', \
                 'billable', 'discovered', $3) ON CONFLICT (id) DO NOTHING";
        let done = sql!(c, |e| sqlx::query(q)
            .bind(id.to_string())
            .bind(format!("Meter {}", &id.to_string()[..8]))
            .bind(now)
            .execute(e)
            .await
            .map(|r| r.rows_affected()))?;
        added += done;
    }
    Ok(added)
}

/// A recorded change of a meter's billing mode.
#[derive(Debug, Clone, FromRow)]
pub struct BillingChangeRow {
    /// Id (recording order).
    pub id: i64,
    /// Meter.
    pub meter_id: String,
    /// First day.
    pub effective_on: NaiveDate,
    /// `billable` / `report_only`.
    pub billing: String,
    /// Unix seconds.
    pub recorded_at: i64,
    /// Who.
    pub actor: String,
    /// Their email or name then.
    pub actor_label: String,
}

impl BillingChangeRow {
    /// The mode.
    pub fn mode(&self) -> DbResult<MeterBilling> {
        parse_billing(&self.billing)
    }
}

/// Records that a meter is billable or report-only from a day on.
pub async fn insert_billing_change(
    c: &mut impl AsExecutor,
    id: MeterId,
    effective_on: NaiveDate,
    billing: MeterBilling,
    actor: (&str, &str),
    now: i64,
) -> DbResult<i64> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "INSERT INTO meter_billing_changes (meter_id, effective_on, billing, recorded_at, actor, actor_label) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id"
    )
    .bind(id.to_string())
    .bind(effective_on)
    .bind(billing.as_str())
    .bind(now)
    .bind(actor.0)
    .bind(actor.1)
    .fetch_one(e)
    .await)?)
}

/// Every recorded billing change, by meter in recording order (a handful per meter at
/// most: this is what rating folds by day).
pub async fn list_billing_changes(c: &mut impl AsExecutor) -> DbResult<Vec<BillingChangeRow>> {
    Ok(sql!(c, |e| sqlx::query_as::<_, BillingChangeRow>(
        "SELECT id, meter_id, effective_on, billing, recorded_at, actor, actor_label FROM meter_billing_changes \
         ORDER BY meter_id, id"
    )
    .fetch_all(e)
    .await)?)
}

/// One meter.
pub async fn find_meter(c: &mut impl AsExecutor, id: MeterId, on: NaiveDate) -> DbResult<Option<MeterRow>> {
    let q = format!("{SELECT_ON} WHERE m.id = $2");
    Ok(sql!(c, |e| sqlx::query_as::<_, MeterRow>(&q)
        .bind(on)
        .bind(id.to_string())
        .fetch_optional(e)
        .await)?)
}

/// Meters with their billing mode on day `$1`.
const SELECT_ON: &str = "SELECT m.id, m.name, m.unit, m.service, m.description, m.default_billing, \
     COALESCE((SELECT ch.billing FROM meter_billing_changes ch WHERE ch.meter_id = m.id AND ch.effective_on <= $1 \
     ORDER BY ch.effective_on DESC, ch.id DESC LIMIT 1), m.default_billing) AS billing, m.origin, m.created_at \
     FROM meters m";

/// Every meter, by service then name, with its billing mode on a day.
pub async fn list_meters(c: &mut impl AsExecutor, on: NaiveDate) -> DbResult<Vec<MeterRow>> {
    let q = format!("{SELECT_ON} ORDER BY m.service, m.name, m.id");
    Ok(sql!(c, |e| sqlx::query_as::<_, MeterRow>(&q)
        .bind(on)
        .fetch_all(e)
        .await)?)
}

/// Usage records per meter, for the meters given (the discovered ones: a few at most).
pub async fn record_counts(
    c: &mut impl AsExecutor,
    ids: &[String],
) -> DbResult<std::collections::HashMap<String, i64>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let list: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 1)).collect();
    let q = format!(
        "SELECT meter_id, CAST(COALESCE(SUM(record_count), 0) AS BIGINT) FROM usage_daily \
         WHERE meter_id IN ({}) GROUP BY meter_id",
        list.join(", ")
    );
    let rows: Vec<(String, i64)> = sql!(c, |e| {
        let mut q = sqlx::query_as(&q);
        for id in ids {
            q = q.bind(id);
        }
        q.fetch_all(e).await
    })?;
    Ok(rows.into_iter().collect())
}

/// Whether a meter has usage over `[from, to)` (one index probe).
pub async fn has_usage_between(c: &mut impl AsExecutor, id: &str, from: NaiveDate, to: NaiveDate) -> DbResult<bool> {
    let found: Option<String> = sql!(c, |e| sqlx::query_scalar(
        "SELECT meter_id FROM usage_daily WHERE meter_id = $1 AND usage_on >= $2 AND usage_on < $3 LIMIT 1"
    )
    .bind(id)
    .bind(from)
    .bind(to)
    .fetch_optional(e)
    .await)?;
    Ok(found.is_some())
}

/// Usage records over `[from, to)` of the meters given (index ranges per meter).
pub async fn records_of_meters_between(
    c: &mut impl AsExecutor,
    ids: &[String],
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<Vec<(String, i64)>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let mut p = super::Params::new(c.engine());
        let list = p.list(chunk.len());
        let q = format!(
            "SELECT meter_id, CAST(SUM(record_count) AS BIGINT) FROM usage_daily WHERE meter_id IN ({list}) \
             AND usage_on >= {} AND usage_on < {} GROUP BY meter_id",
            p.placeholder(),
            p.placeholder()
        );
        let rows: Vec<(String, i64)> = sql!(c, |e| {
            let mut query = sqlx::query_as(&q);
            for id in chunk {
                query = query.bind(id);
            }
            query.bind(from).bind(to).fetch_all(e).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// Names a meter, with its unit and service.
pub async fn describe_meter(
    c: &mut impl AsExecutor,
    id: MeterId,
    name: &str,
    unit: &str,
    service: &str,
) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "UPDATE meters SET name = $2, unit = $3, service = $4 WHERE id = $1"
    )
    .bind(id.to_string())
    .bind(name)
    .bind(unit)
    .bind(service)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// IDs of every known meter.
pub async fn known_meter_ids(c: &mut impl AsExecutor) -> DbResult<Vec<String>> {
    Ok(sql!(c, |e| sqlx::query_scalar("SELECT id FROM meters")
        .fetch_all(e)
        .await)?)
}

/// Number of meters.
pub async fn count_meters(c: &mut impl AsExecutor) -> DbResult<i64> {
    Ok(sql!(c, |e| sqlx::query_scalar("SELECT COUNT(*) FROM meters")
        .fetch_one(e)
        .await)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::meter::VM_SIZE_HOURS;
    use crate::ssr::db::testing::for_each_engine;

    #[tokio::test]
    async fn catalogue_refresh_keeps_the_operators_dated_billing_choice() {
        for_each_engine(|db| async move {
            let mut c = db.conn().await.unwrap();
            let meter = Meter {
                id: VM_SIZE_HOURS,
                name: "VM size hours".into(),
                unit: "VM hours".into(),
                service: "Compute".into(),
                billing: MeterBilling::ReportOnly,
            };
            upsert_catalogue_meter(&mut c, &meter, "", 1).await.unwrap();
            let day = |s: &str| s.parse::<NaiveDate>().unwrap();
            insert_billing_change(
                &mut c,
                VM_SIZE_HOURS,
                day("2026-02-03"),
                MeterBilling::Billable,
                ("cli", ""),
                2,
            )
            .await
            .unwrap();
            let renamed = Meter {
                name: "VM Size Hours".into(),
                ..meter
            };
            upsert_catalogue_meter(&mut c, &renamed, "new text", 2).await.unwrap();
            let rows = list_meters(&mut c, day("2026-02-03")).await.unwrap();
            assert_eq!(rows.len(), 1);
            let stored = rows[0].to_meter().unwrap();
            assert_eq!(stored.name, "VM Size Hours");
            assert_eq!(rows[0].description, "new text");
            // The default stays the catalogue's; the change applies from its day on.
            assert_eq!(stored.billing, MeterBilling::ReportOnly);
            assert_eq!(rows[0].billing_on_day().unwrap(), MeterBilling::Billable);
            let before = list_meters(&mut c, day("2026-02-02")).await.unwrap();
            assert_eq!(before[0].billing_on_day().unwrap(), MeterBilling::ReportOnly);
            let changes = list_billing_changes(&mut c).await.unwrap();
            assert_eq!(changes.len(), 1);
            assert_eq!(changes[0].mode().unwrap(), MeterBilling::Billable);
        })
        .await;
    }

    #[tokio::test]
    async fn unknown_meters_are_added_as_discovered_once() {
        for_each_engine(|db| async move {
            let mut c = db.conn().await.unwrap();
            let id = MeterId::parse("11111111-2222-3333-4444-555555555555").unwrap();
            assert_eq!(insert_discovered_meters(&mut c, &[id], 5).await.unwrap(), 1);
            assert_eq!(insert_discovered_meters(&mut c, &[id], 6).await.unwrap(), 0);
            let rows = list_meters(&mut c, crate::billing::dated::since_always())
                .await
                .unwrap();
            assert_eq!(rows[0].origin, "discovered");
            assert_eq!(rows[0].to_meter().unwrap().billing, MeterBilling::Billable);
            assert_eq!(count_meters(&mut c).await.unwrap(), 1);
        })
        .await;
    }
}
