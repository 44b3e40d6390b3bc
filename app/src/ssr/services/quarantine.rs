//! Working the quarantine: reprocessing a record (as it is, after a parser fix, or with
//! an operator's corrected text) or discarding it. Both are recorded in the audit log.

use crate::error::AppError;
use crate::ingest::csv_format::read_csv;
use crate::ingest::record::parse_json_record;
use crate::ingest::{Format, Item, ReadError};
use crate::ssr::auth::Caller;
use crate::ssr::db;
use crate::ssr::services::accounts::audit;
use crate::ssr::services::ingest::{ingest_batch_in, prepare, Batch, BatchReport, IngestCache, Source};
use crate::ssr::state::AppState;

/// Open quarantined records (oldest first), of one registration or all, at most `limit`;
/// with the count of every open record.
pub async fn list_open(
    db: &crate::ssr::db::Db,
    registration_id: Option<i64>,
    limit: i64,
) -> Result<(i64, Vec<crate::types::QuarantinedRecord>), AppError> {
    let mut c = db.conn().await?;
    let rows = db::quarantine::list_open(&mut c, registration_id, limit).await?;
    let open = db::quarantine::count_open(&mut c).await?;
    Ok((
        open,
        rows.into_iter()
            .map(|r| crate::types::QuarantinedRecord {
                id: r.id,
                batch_id: r.batch_id,
                registration_id: r.registration_id,
                index: r.record_index,
                format: r.format,
                raw: r.raw,
                reason: r.reason,
                received_at: r.received_at,
            })
            .collect(),
    ))
}

/// Parses a quarantined record's raw text again.
pub fn reparse(format: &str, raw: &str) -> Result<crate::billing::UsageRecord, String> {
    match format {
        "json" => parse_json_record(raw),
        "csv" => {
            let mut first: Option<Item> = None;
            let result = read_csv(raw.as_bytes(), |i| {
                if first.is_none() {
                    first = Some(i);
                }
                Ok::<(), std::convert::Infallible>(())
            });
            match (result, first) {
                (Ok(_), Some(Item::Record { record, .. })) => Ok(record),
                (Ok(_), Some(Item::Rejected(r))) => Err(r.reason),
                (Ok(_), None) => Err("the CSV has no row".into()),
                (Err(ReadError::Document(d)), _) => Err(d.to_string()),
                (Err(ReadError::Sink(never)), _) => match never {},
            }
        }
        other => Err(format!("unknown format `{other}`")),
    }
}

/// The outcome of reprocessing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reprocessed {
    /// Stored (or found already stored): the record left the quarantine.
    Accepted(BatchReport),
    /// Still not valid: the record stays, with the new reason.
    StillRejected(String),
}

/// Reprocesses one open quarantined record, optionally with corrected raw text.
pub async fn reprocess(
    state: &AppState,
    by: &Caller,
    id: i64,
    corrected: Option<String>,
) -> Result<Reprocessed, AppError> {
    by.require(crate::ssr::auth::Access::Operator)?;
    let now = state.now_secs();
    let mut tx = state.db.begin().await?;
    let row = db::quarantine::find_quarantined(&mut tx, id)
        .await?
        .ok_or_else(|| AppError::not_found("quarantine_not_found", format!("There is no quarantined record {id}.")))?;
    if row.resolved_at.is_some() {
        return Err(AppError::conflict(
            "already_resolved",
            format!("Quarantined record {id} is already resolved."),
        ));
    }
    let raw = corrected.unwrap_or(row.raw.clone());
    match reparse(&row.format, &raw) {
        Ok(mut record) => {
            // A pulled record keeps the reported window it arrived in.
            if record.reported_at.is_none() {
                record.reported_at = row.reported_at.and_then(|t| chrono::DateTime::from_timestamp(t, 0));
            }
            let label = format!("reprocess of quarantined record {id}");
            let actor = by.actor_code();
            let format = if row.format == "csv" { Format::Csv } else { Format::Json };
            let records = [prepare(row.registration_id, row.record_index as u64, record)];
            let batch = Batch {
                records: &records,
                rejected: &[],
                format,
                source: Source::Reprocess,
                actor: &actor,
                label: &label,
                reported_at: None,
            };
            let (report, _) =
                ingest_batch_in(&mut tx, row.registration_id, &batch, &IngestCache::default(), now).await?;
            if let Some((_, reason)) = report.refused.first() {
                // Refused at storage (it overlaps other usage or collides with a stored
                // record): nothing of this attempt is kept; the record stays quarantined
                // with the new reason.
                let reason = reason.clone();
                tx.rollback().await?;
                let mut tx = state.db.begin().await?;
                db::quarantine::update_open(&mut tx, id, &raw, &reason).await?;
                tx.commit().await?;
                return Ok(Reprocessed::StillRejected(reason));
            }
            // Resolving is the guard against a concurrent reprocess of the same record:
            // only one transaction resolves it; the other rolls back what it stored.
            if !db::quarantine::resolve(&mut tx, id, "reprocessed", &actor, now).await? {
                return Err(AppError::conflict(
                    "already_resolved",
                    format!("Quarantined record {id} is already resolved."),
                ));
            }
            if raw != row.raw {
                db::quarantine::set_accepted_raw(&mut tx, id, &raw).await?;
            }
            audit(
                &mut tx,
                by,
                "quarantine.reprocessed",
                &format!("quarantine:{id}"),
                serde_json::json!({ "corrected": raw != row.raw }),
                "",
                now,
            )
            .await?;
            tx.commit().await?;
            Ok(Reprocessed::Accepted(report))
        }
        Err(reason) => {
            if let Err(e) = db::quarantine::update_open(&mut tx, id, &raw, &reason).await {
                if e.is_unique_violation() {
                    return Err(AppError::conflict(
                        "duplicate_quarantined",
                        "Another quarantined record already has exactly this text.",
                    ));
                }
                return Err(e.into());
            }
            tx.commit().await?;
            Ok(Reprocessed::StillRejected(reason))
        }
    }
}

/// Discards an open quarantined record (it stays in the table, resolved as discarded).
pub async fn discard(state: &AppState, by: &Caller, id: i64) -> Result<(), AppError> {
    by.require(crate::ssr::auth::Access::Operator)?;
    let now = state.now_secs();
    let mut tx = state.db.begin().await?;
    if !db::quarantine::resolve(&mut tx, id, "discarded", &by.actor_code(), now).await? {
        return Err(AppError::not_found(
            "quarantine_not_found",
            format!("There is no open quarantined record {id}."),
        ));
    }
    audit(
        &mut tx,
        by,
        "quarantine.discarded",
        &format!("quarantine:{id}"),
        serde_json::json!({}),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The ingestion screen: the newest batches, every collector, the open quarantine (oldest
/// first). Staff only.
pub async fn overview(state: &AppState, by: &Caller) -> Result<crate::types::IngestionOverview, AppError> {
    by.require(crate::ssr::auth::Access::Staff)?;
    let collectors = crate::ssr::services::collector::status(&state.db, None).await?;
    let (quarantine_open, quarantine) = list_open(&state.db, None, 50).await?;
    let mut c = state.db.conn().await?;
    let batches = db::usage::list_recent_batches(&mut c, 50)
        .await?
        .into_iter()
        .map(|b| crate::types::BatchView {
            id: b.id,
            source: b.source,
            registration: b.registration_name,
            actor: b.actor,
            label: b.label,
            accepted: b.accepted,
            duplicates: b.duplicates,
            corrected: b.corrected,
            quarantined: b.quarantined,
            stale: b.stale,
            committed_at: b.committed_at,
        })
        .collect();
    Ok(crate::types::IngestionOverview {
        batches,
        collectors,
        quarantine_open,
        quarantine,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Rejected;
    use crate::ssr::db::registrations::NewRegistration;
    use crate::ssr::db::testing::for_each_engine;
    use crate::ssr::db::Db;
    use crate::ssr::services::ingest::{ingest_batch, Batch};
    use crate::ssr::state::Settings;

    const GOOD: &str = r#"{"subscriptionId":"1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4","meterId":"9cd92d4c-bafd-4492-b278-bedc2de8232a","usageStartTime":"2019-12-10T18:00:00Z","usageEndTime":"2019-12-10T19:00:00Z","quantity":2,"resourceUri":"/x/vm"}"#;

    async fn setup(db: &Db) -> (AppState, Vec<i64>) {
        crate::ssr::services::catalogue::sync_meter_catalogue(db, 0)
            .await
            .unwrap();
        let mut c = db.conn().await.unwrap();
        let reg = db::registrations::insert_registration(
            &mut c,
            &NewRegistration {
                name: "r",
                base_subscription_id: "dd8597b4-8739-4467-8b10-f8679f62bfbf",
                resource_group: "azurestack",
                currency: "USD",
                active_from: crate::billing::dated::since_always(),
            },
            0,
        )
        .await
        .unwrap();
        drop(c);
        let rejected = [
            Rejected { index: 0, raw: GOOD.replace("1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4", "sub1.1"), reason: "bad subscription".into() },
            Rejected { index: 1, raw: GOOD.replace("\"quantity\":2", "\"quantity\":-2"), reason: "negative".into() },
            Rejected { index: 2, raw: "subscription_id,meter_id,usage_start,usage_end,quantity,resource_uri\n1d6c4363-3a9b-4cb6-8e6c-fc2e9ec74ca4,9cd92d4c-bafd-4492-b278-bedc2de8232a,2019-12-10T18:00:00Z,2019-12-10T19:00:00Z,3,/x/vm2\n".into(), reason: "was bad before a fix".into() },
        ];
        let batch = Batch {
            records: &[],
            rejected: &rejected[..2],
            format: Format::Json,
            source: Source::Push,
            actor: "t",
            label: "t",
            reported_at: None,
        };
        ingest_batch(db, reg, &batch, &mut IngestCache::default(), 1)
            .await
            .unwrap();
        let batch = Batch {
            records: &[],
            rejected: &rejected[2..],
            format: Format::Csv,
            source: Source::Import,
            actor: "t",
            label: "t",
            reported_at: None,
        };
        ingest_batch(db, reg, &batch, &mut IngestCache::default(), 1)
            .await
            .unwrap();
        let mut c = db.conn().await.unwrap();
        let ids = db::quarantine::list_open(&mut c, None, 10)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        (AppState::new(db.clone(), Settings::default()), ids)
    }

    #[tokio::test]
    async fn a_corrected_record_is_stored_and_leaves_the_quarantine() {
        for_each_engine(|db| async move {
            let (state, ids) = setup(&db).await;
            // As it is, still invalid: stays, with the reason refreshed.
            match reprocess(&state, &Caller::cli(), ids[0], None).await.unwrap() {
                Reprocessed::StillRejected(reason) => assert!(reason.contains("subscriptionId"), "{reason}"),
                other => panic!("{other:?}"),
            }
            // With the operator's fix: accepted and resolved.
            match reprocess(&state, &Caller::cli(), ids[0], Some(GOOD.to_owned()))
                .await
                .unwrap()
            {
                Reprocessed::Accepted(r) => assert_eq!(r.accepted, 1),
                other => panic!("{other:?}"),
            }
            let again = reprocess(&state, &Caller::cli(), ids[0], None).await.unwrap_err();
            assert_eq!(again.code, "already_resolved");
            // A CSV record that parses now (e.g. after a parser fix) is accepted as it is.
            assert!(matches!(
                reprocess(&state, &Caller::cli(), ids[2], None).await.unwrap(),
                Reprocessed::Accepted(_)
            ));
            discard(&state, &Caller::cli(), ids[1]).await.unwrap();
            assert_eq!(discard(&state, &Caller::cli(), ids[1]).await.unwrap_err().status(), 404);
            let mut c = db.conn().await.unwrap();
            assert_eq!(db::quarantine::count_open(&mut c).await.unwrap(), 0);
            assert_eq!(db::usage::count_records(&mut c).await.unwrap(), 2);
            let audit = db::audit::list_recent(&mut c, None, 10).await.unwrap();
            assert!(audit.iter().any(|a| a.action == "quarantine.discarded"));
        })
        .await;
    }
}
