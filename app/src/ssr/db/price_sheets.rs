//! Price sheets, their effective-dated versions and entries.

use super::{sql, AsExecutor, DbResult, Params};
use chrono::NaiveDate;
use sqlx::FromRow;

/// A `price_sheets` row.
#[derive(Debug, Clone, FromRow)]
pub struct PriceSheetRow {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// ISO currency code.
    pub currency: String,
    /// Description.
    pub description: String,
}

/// A `price_sheet_versions` row.
#[derive(Debug, Clone, FromRow)]
pub struct VersionRow {
    /// Id.
    pub id: i64,
    /// Sheet.
    pub price_sheet_id: i64,
    /// First day in effect.
    pub effective_on: NaiveDate,
    /// First day no longer in effect.
    pub ended_on: Option<NaiveDate>,
    /// Note.
    pub note: String,
}

/// A `price_sheet_entries` row.
#[derive(Debug, Clone, FromRow)]
pub struct EntryRow {
    /// Version.
    pub version_id: i64,
    /// Meter.
    pub meter_id: String,
    /// JSON of `billing::PricingModel`.
    pub pricing: String,
    /// Billing unit label.
    pub billing_unit: String,
    /// JSON of `billing::UnitConversion`.
    pub unit_conversion: String,
}

impl EntryRow {
    /// The billing core's entry; a stored entry the core cannot read names the part (`meter`,
    /// `price`, `unit conversion`) and why.
    pub fn to_entry(&self) -> Result<crate::billing::PriceEntry, (&'static str, String)> {
        let meter = crate::billing::MeterId::parse(&self.meter_id).map_err(|x| ("meter", x.to_string()))?;
        let model = serde_json::from_str(&self.pricing).map_err(|x| ("price", x.to_string()))?;
        let conversion = serde_json::from_str(&self.unit_conversion).map_err(|x| ("unit conversion", x.to_string()))?;
        Ok(crate::billing::PriceEntry {
            meter_id: meter,
            model,
            billing_unit: self.billing_unit.clone(),
            conversion,
        })
    }
}

/// Every sheet by name.
pub async fn list_all_price_sheets(c: &mut impl AsExecutor) -> DbResult<Vec<PriceSheetRow>> {
    Ok(sql!(c, |e| sqlx::query_as::<_, PriceSheetRow>(
        "SELECT id, name, currency, description FROM price_sheets ORDER BY name, id"
    )
    .fetch_all(e)
    .await)?)
}

/// A version by id.
pub async fn find_version(c: &mut impl AsExecutor, id: i64) -> DbResult<Option<VersionRow>> {
    Ok(sql!(c, |e| sqlx::query_as::<_, VersionRow>(
        "SELECT id, price_sheet_id, effective_on, ended_on, note FROM price_sheet_versions WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(e)
    .await)?)
}

/// Every version of every sheet (few: one per price change).
pub async fn list_all_versions(c: &mut impl AsExecutor) -> DbResult<Vec<VersionRow>> {
    Ok(sql!(c, |e| sqlx::query_as::<_, VersionRow>(
        "SELECT id, price_sheet_id, effective_on, ended_on, note FROM price_sheet_versions \
         ORDER BY price_sheet_id, effective_on"
    )
    .fetch_all(e)
    .await)?)
}

/// Entries per version, for every version.
pub async fn entry_counts(c: &mut impl AsExecutor) -> DbResult<std::collections::HashMap<i64, i64>> {
    let rows: Vec<(i64, i64)> = sql!(c, |e| sqlx::query_as(
        "SELECT version_id, COUNT(*) FROM price_sheet_entries GROUP BY version_id"
    )
    .fetch_all(e)
    .await)?;
    Ok(rows.into_iter().collect())
}

/// Inserts a price sheet and returns its id.
pub async fn insert_price_sheet(
    c: &mut impl AsExecutor,
    name: &str,
    currency: &str,
    description: &str,
    now: i64,
) -> DbResult<i64> {
    Ok(sql!(c, |e| {
        sqlx::query_scalar(
            "INSERT INTO price_sheets (name, currency, description, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(name)
        .bind(currency)
        .bind(description)
        .bind(now)
        .fetch_one(e)
        .await
    })?)
}

/// The sheet with this name.
pub async fn find_price_sheet_by_name(c: &mut impl AsExecutor, name: &str) -> DbResult<Option<PriceSheetRow>> {
    Ok(sql!(c, |e| sqlx::query_as::<_, PriceSheetRow>(
        "SELECT id, name, currency, description FROM price_sheets WHERE name = $1"
    )
    .bind(name)
    .fetch_optional(e)
    .await)?)
}

/// The sheet with this id.
pub async fn find_price_sheet(c: &mut impl AsExecutor, id: i64) -> DbResult<Option<PriceSheetRow>> {
    Ok(sql!(c, |e| sqlx::query_as::<_, PriceSheetRow>(
        "SELECT id, name, currency, description FROM price_sheets WHERE id = $1"
    )
    .bind(id)
    .fetch_optional(e)
    .await)?)
}

/// Inserts a version and returns its id.
pub async fn insert_version(
    c: &mut impl AsExecutor,
    price_sheet_id: i64,
    effective_on: NaiveDate,
    ended_on: Option<NaiveDate>,
    note: &str,
    now: i64,
) -> DbResult<i64> {
    Ok(sql!(c, |e| {
        sqlx::query_scalar(
            "INSERT INTO price_sheet_versions (price_sheet_id, effective_on, ended_on, note, created_at) \
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(price_sheet_id)
        .bind(effective_on)
        .bind(ended_on)
        .bind(note)
        .bind(now)
        .fetch_one(e)
        .await
    })?)
}

/// Deletes a version and its entries (replaced by one starting the same day).
pub async fn delete_version(c: &mut impl AsExecutor, version_id: i64) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "DELETE FROM price_sheet_entries WHERE version_id = $1"
    )
    .bind(version_id)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    sql!(c, |e| sqlx::query("DELETE FROM price_sheet_versions WHERE id = $1")
        .bind(version_id)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Sets the end day of a version (when a newer version starts).
pub async fn set_version_end(c: &mut impl AsExecutor, version_id: i64, ended_on: Option<NaiveDate>) -> DbResult<()> {
    sql!(c, |e| sqlx::query(
        "UPDATE price_sheet_versions SET ended_on = $2 WHERE id = $1"
    )
    .bind(version_id)
    .bind(ended_on)
    .execute(e)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The sheets with these ids.
pub async fn list_price_sheets(c: &mut impl AsExecutor, ids: &[i64]) -> DbResult<Vec<PriceSheetRow>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let q = format!(
            "SELECT id, name, currency, description FROM price_sheets WHERE id IN ({})",
            Params::new(c.engine()).list(chunk.len())
        );
        let rows: Vec<PriceSheetRow> = sql!(c, |e| {
            let mut query = sqlx::query_as::<_, PriceSheetRow>(&q);
            for id in chunk {
                query = query.bind(*id);
            }
            query.fetch_all(e).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// Every version of the given sheets, by sheet and start day.
pub async fn list_versions_of(c: &mut impl AsExecutor, sheet_ids: &[i64]) -> DbResult<Vec<VersionRow>> {
    let mut out = Vec::new();
    for chunk in sheet_ids.chunks(500) {
        let q = format!(
            "SELECT id, price_sheet_id, effective_on, ended_on, note FROM price_sheet_versions \
             WHERE price_sheet_id IN ({}) ORDER BY price_sheet_id, effective_on",
            Params::new(c.engine()).list(chunk.len())
        );
        let rows: Vec<VersionRow> = sql!(c, |e| {
            let mut query = sqlx::query_as::<_, VersionRow>(&q);
            for id in chunk {
                query = query.bind(*id);
            }
            query.fetch_all(e).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// Every version of a sheet by start day.
pub async fn list_versions(c: &mut impl AsExecutor, price_sheet_id: i64) -> DbResult<Vec<VersionRow>> {
    Ok(sql!(c, |e| sqlx::query_as::<_, VersionRow>(
        "SELECT id, price_sheet_id, effective_on, ended_on, note FROM price_sheet_versions \
         WHERE price_sheet_id = $1 ORDER BY effective_on"
    )
    .bind(price_sheet_id)
    .fetch_all(e)
    .await)?)
}

/// Inserts or replaces the entry of a meter in a version.
pub async fn upsert_entry(
    c: &mut impl AsExecutor,
    version_id: i64,
    meter_id: &str,
    pricing_json: &str,
    billing_unit: &str,
    unit_conversion_json: &str,
) -> DbResult<()> {
    sql!(c, |e| {
        sqlx::query(
            "INSERT INTO price_sheet_entries (version_id, meter_id, pricing, billing_unit, unit_conversion) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (version_id, meter_id) DO UPDATE SET pricing = excluded.pricing, \
         billing_unit = excluded.billing_unit, unit_conversion = excluded.unit_conversion",
        )
        .bind(version_id)
        .bind(meter_id)
        .bind(pricing_json)
        .bind(billing_unit)
        .bind(unit_conversion_json)
        .execute(e)
        .await
        .map(|r| r.rows_affected())
    })?;
    Ok(())
}

/// Every entry of the given versions.
pub async fn list_entries(c: &mut impl AsExecutor, version_ids: &[i64]) -> DbResult<Vec<EntryRow>> {
    let mut out = Vec::new();
    for chunk in version_ids.chunks(500) {
        let q = format!(
            "SELECT version_id, meter_id, pricing, billing_unit, unit_conversion FROM price_sheet_entries \
             WHERE version_id IN ({}) ORDER BY version_id, meter_id",
            Params::new(c.engine()).list(chunk.len())
        );
        let rows: Vec<EntryRow> = sql!(c, |e| {
            let mut query = sqlx::query_as::<_, EntryRow>(&q);
            for id in chunk {
                query = query.bind(*id);
            }
            query.fetch_all(e).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::testing::for_each_engine;

    #[tokio::test]
    async fn versions_and_entries_round_trip() {
        for_each_engine(|db| async move {
            let day = |s: &str| s.parse::<NaiveDate>().unwrap();
            let meter = "fab6eb84-500b-4a09-a8ca-7358f8bbaea5";
            let mut tx = db.begin().await.unwrap();
            sql!(&mut tx, |e| sqlx::query(
                "INSERT INTO meters (id, name, unit, service, default_billing, origin, created_at) \
                 VALUES ($1, 'Base VM Size Hours', 'Virtual core hours', 'Compute', 'billable', 'catalogue', 0)"
            )
            .bind(meter)
            .execute(e)
            .await
            .map(|r| r.rows_affected()))
            .unwrap();
            let sheet = insert_price_sheet(&mut tx, "List prices", "USD", "", 1).await.unwrap();
            let v1 = insert_version(&mut tx, sheet, day("2026-01-01"), None, "launch", 1)
                .await
                .unwrap();
            let v2 = insert_version(&mut tx, sheet, day("2026-01-15"), None, "price change", 1)
                .await
                .unwrap();
            set_version_end(&mut tx, v1, Some(day("2026-01-15"))).await.unwrap();
            let pricing = r#"{"model":"per_unit","unit_price":"0.008"}"#;
            upsert_entry(&mut tx, v1, meter, pricing, "vCPU-hour", r#"{"factor":"1"}"#)
                .await
                .unwrap();
            upsert_entry(&mut tx, v1, meter, pricing, "vCPU hour", r#"{"factor":"1"}"#)
                .await
                .unwrap();
            tx.commit().await.unwrap();

            let mut c = db.conn().await.unwrap();
            let versions = list_versions(&mut c, sheet).await.unwrap();
            assert_eq!(versions.len(), 2);
            assert_eq!(versions[0].ended_on, Some(day("2026-01-15")));
            let entries = list_entries(&mut c, &[v1, v2]).await.unwrap();
            assert_eq!(entries.len(), 1, "the second upsert replaced the first");
            assert_eq!(entries[0].billing_unit, "vCPU hour");
            assert_eq!(
                find_price_sheet_by_name(&mut c, "List prices")
                    .await
                    .unwrap()
                    .unwrap()
                    .id,
                sheet
            );
            // Two versions of one sheet cannot start on the same day.
            let dup = insert_version(&mut c, sheet, day("2026-01-15"), None, "dup", 1)
                .await
                .unwrap_err();
            assert!(dup.is_unique_violation());
        })
        .await;
    }

    #[tokio::test]
    async fn an_entry_stored_without_a_unit_conversion_loads_as_the_identity() {
        for_each_engine(|db| async move {
            let meter = "fab6eb84-500b-4a09-a8ca-7358f8bbaea5";
            let mut tx = db.begin().await.unwrap();
            sql!(&mut tx, |e| sqlx::query(
                "INSERT INTO meters (id, name, unit, service, default_billing, origin, created_at) \
                 VALUES ($1, 'Base VM Size Hours', 'Virtual core hours', 'Compute', 'billable', 'catalogue', 0)"
            )
            .bind(meter)
            .execute(e)
            .await
            .map(|r| r.rows_affected()))
            .unwrap();
            let sheet = insert_price_sheet(&mut tx, "List", "USD", "", 1).await.unwrap();
            let v = insert_version(&mut tx, sheet, "2026-01-01".parse().unwrap(), None, "", 1)
                .await
                .unwrap();
            // A script or an older release that leaves the column to its default.
            sql!(&mut tx, |e| sqlx::query(
                "INSERT INTO price_sheet_entries (version_id, meter_id, pricing) VALUES ($1, $2, $3)"
            )
            .bind(v)
            .bind(meter)
            .bind(r#"{"model":"per_unit","unit_price":"0.008"}"#)
            .execute(e)
            .await
            .map(|r| r.rows_affected()))
            .unwrap();
            tx.commit().await.unwrap();
            let mut c = db.conn().await.unwrap();
            let entries = list_entries(&mut c, &[v]).await.unwrap();
            let conversion: crate::billing::UnitConversion = serde_json::from_str(&entries[0].unit_conversion).unwrap();
            assert_eq!(conversion, crate::billing::UnitConversion::IDENTITY);
        })
        .await;
    }
}
