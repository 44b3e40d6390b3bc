//! The meter catalogue.

use super::{parse_stored, sql, AsExecutor, DbResult};
use crate::billing::{Meter, MeterBilling, MeterId};
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
    /// `billable` / `report_only`.
    pub billing: String,
    /// `catalogue` / `discovered`.
    pub origin: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl MeterRow {
    /// The domain meter.
    pub fn to_meter(&self) -> DbResult<Meter> {
        Ok(Meter {
            id: parse_stored("meter id", &self.id, MeterId::parse)?,
            name: self.name.clone(),
            unit: self.unit.clone(),
            service: self.service.clone(),
            billing: parse_stored("meter billing", &self.billing, |b| {
                MeterBilling::parse(b).ok_or("unknown billing mode")
            })?,
        })
    }
}

/// Inserts or refreshes a catalogue meter. Name, unit, service and description follow
/// the catalogue; the billing mode is only set on insert, so an operator's choice stays.
pub async fn upsert_catalogue_meter(
    c: &mut impl AsExecutor,
    meter: &Meter,
    description: &str,
    now: i64,
) -> DbResult<()> {
    let q = "INSERT INTO meters (id, name, unit, service, description, billing, origin, created_at) \
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
        let q = "INSERT INTO meters (id, name, unit, service, description, billing, origin, created_at) \
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

/// Changes a meter's billing mode; `false` if there is no such meter.
pub async fn set_meter_billing(c: &mut impl AsExecutor, id: MeterId, billing: MeterBilling) -> DbResult<bool> {
    let done = sql!(c, |e| sqlx::query("UPDATE meters SET billing = $2 WHERE id = $1")
        .bind(id.to_string())
        .bind(billing.as_str())
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Every meter, by service then name.
pub async fn list_meters(c: &mut impl AsExecutor) -> DbResult<Vec<MeterRow>> {
    let q = "SELECT id, name, unit, service, description, billing, origin, created_at FROM meters \
             ORDER BY service, name, id";
    Ok(sql!(c, |e| sqlx::query_as::<_, MeterRow>(q).fetch_all(e).await)?)
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
    async fn catalogue_refresh_keeps_the_operators_billing_choice() {
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
            assert!(set_meter_billing(&mut c, VM_SIZE_HOURS, MeterBilling::Billable)
                .await
                .unwrap());
            let renamed = Meter {
                name: "VM Size Hours".into(),
                ..meter
            };
            upsert_catalogue_meter(&mut c, &renamed, "new text", 2).await.unwrap();
            let rows = list_meters(&mut c).await.unwrap();
            assert_eq!(rows.len(), 1);
            let stored = rows[0].to_meter().unwrap();
            assert_eq!(stored.name, "VM Size Hours");
            assert_eq!(stored.billing, MeterBilling::Billable);
            assert_eq!(rows[0].description, "new text");
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
            let rows = list_meters(&mut c).await.unwrap();
            assert_eq!(rows[0].origin, "discovered");
            assert_eq!(rows[0].to_meter().unwrap().billing, MeterBilling::Billable);
            assert_eq!(count_meters(&mut c).await.unwrap(), 1);
        })
        .await;
    }
}
