//! The meter catalogue: synchronised from the Azure Stack usage FAQ list shipped with
//! Stackbill (`migrations/meters.csv`).

use crate::billing::meter::default_billing;
use crate::billing::{Meter, MeterId};
use crate::ssr::db::{self, Db, DbResult};

/// The catalogue as shipped.
pub const METERS_CSV: &str = include_str!("../../../../migrations/meters.csv");

/// A catalogue row with its description.
#[derive(Debug, Clone)]
pub struct CatalogueMeter {
    /// The meter.
    pub meter: Meter,
    /// Description from the FAQ.
    pub description: String,
}

/// Parses the shipped catalogue. Rows without a GUID (the FAQ's "Custom Worker Tiers",
/// whose IDs are generated per tier and discovered from usage) are skipped.
pub fn parse_catalogue(csv_text: &str) -> Result<Vec<CatalogueMeter>, String> {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let mut out = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = row.map_err(|e| format!("meters.csv row {}: {e}", i + 2))?;
        let field = |n: usize| row.get(n).unwrap_or_default().trim().to_owned();
        let Ok(id) = MeterId::parse(&field(0)) else {
            continue;
        };
        out.push(CatalogueMeter {
            meter: Meter {
                id,
                name: field(1),
                unit: field(2),
                service: field(3),
                billing: default_billing(id),
            },
            description: field(4),
        });
    }
    Ok(out)
}

/// Inserts or refreshes every catalogue meter (keeping operators' billing choices).
/// Returns the number of catalogue meters.
pub async fn sync_meter_catalogue(db: &Db, now: i64) -> DbResult<usize> {
    let catalogue = parse_catalogue(METERS_CSV).map_err(db::DbError::Corrupt)?;
    let mut tx = db.begin().await?;
    for m in &catalogue {
        db::meters::upsert_catalogue_meter(&mut tx, &m.meter, &m.description, now).await?;
    }
    tx.commit().await?;
    Ok(catalogue.len())
}

/// How many meters the catalogue holds.
pub async fn count_meters(db: &Db) -> Result<i64, crate::error::AppError> {
    Ok(crate::ssr::db::meters::count_meters(&mut db.conn().await?).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::billing::meter::{BASE_VM_SIZE_HOURS, VM_SIZE_HOURS};
    use crate::billing::MeterBilling;
    use crate::ssr::db::testing::for_each_engine;

    #[test]
    fn the_shipped_catalogue_has_every_meter_with_a_guid() {
        let catalogue = parse_catalogue(METERS_CSV).unwrap();
        assert_eq!(catalogue.len(), 84); // 85 rows, minus "Custom Worker Tiers"
        let vm = catalogue.iter().find(|m| m.meter.id == VM_SIZE_HOURS).unwrap();
        assert_eq!(vm.meter.billing, MeterBilling::ReportOnly);
        let base = catalogue.iter().find(|m| m.meter.id == BASE_VM_SIZE_HOURS).unwrap();
        assert_eq!(base.meter.unit, "Virtual core hours");
        let ip = catalogue
            .iter()
            .find(|m| m.meter.name == "Static IP Address Usage")
            .unwrap();
        assert_eq!(ip.meter.id.to_string(), "f271a8a3-88c4-4d93-956a-063e1d2fa80b");
    }

    #[tokio::test]
    async fn syncing_twice_stores_the_catalogue_once() {
        for_each_engine(|db| async move {
            assert_eq!(sync_meter_catalogue(&db, 1).await.unwrap(), 84);
            assert_eq!(sync_meter_catalogue(&db, 2).await.unwrap(), 84);
            let mut c = db.conn().await.unwrap();
            assert_eq!(db::meters::count_meters(&mut c).await.unwrap(), 84);
        })
        .await;
    }
}
