//! Maintenance of stored usage: the rollups' integrity check and their exact rebuild.
//!
//! Rollups are updated with every batch, in the same transaction as the records, so they
//! always equal the exact sum of their records. This is how that is verified (`stackbill
//! rollups check`) and how rollups written by an older version are recomputed
//! (`stackbill rollups rebuild`, run automatically once after the migration that made
//! rollups exact).

use crate::ssr::db::{self, usage::RollupMismatch, Db, DbResult};
use chrono::{Duration, NaiveDate};

/// Runs the tasks migrations requested (once; each task is removed when done).
pub async fn run_pending(db: &Db) -> DbResult<Vec<String>> {
    let mut c = db.conn().await?;
    let tasks = db::usage::list_maintenance_tasks(&mut c).await?;
    drop(c);
    let mut done = Vec::new();
    for task in tasks {
        match task.as_str() {
            "rebuild_rollups" => {
                let days = rebuild_rollups(db, None).await?;
                tracing::info!(days, "rollups rebuilt exactly from the stored records");
            }
            other => tracing::warn!(task = other, "unknown maintenance task; left pending"),
        }
        let mut c = db.conn().await?;
        db::usage::finish_maintenance_task(&mut c, &task).await?;
        done.push(task);
    }
    Ok(done)
}

async fn days(db: &Db, range: Option<(NaiveDate, NaiveDate)>) -> DbResult<Vec<NaiveDate>> {
    let range = match range {
        Some(r) => Some(r),
        None => {
            let mut c = db.conn().await?;
            db::usage::record_day_range(&mut c).await?
        }
    };
    let Some((first, last)) = range else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let mut d = first;
    while d <= last {
        out.push(d);
        d += Duration::days(1);
    }
    Ok(out)
}

/// Rebuilds the rollups of every day in `range` (inclusive; `None`: every day with
/// records), one transaction per day so memory stays bounded by a day's records.
/// Returns the number of days rebuilt.
pub async fn rebuild_rollups(db: &Db, range: Option<(NaiveDate, NaiveDate)>) -> DbResult<usize> {
    let days = days(db, range).await?;
    for day in &days {
        let mut tx = db.begin().await?;
        db::usage::rebuild_day_rollups(&mut tx, *day).await?;
        tx.commit().await?;
    }
    Ok(days.len())
}

/// Compares the rollups of every day in `range` with their records; returns the
/// differences (none on a healthy database).
pub async fn check_rollups(db: &Db, range: Option<(NaiveDate, NaiveDate)>) -> DbResult<Vec<RollupMismatch>> {
    let mut out = Vec::new();
    for day in days(db, range).await? {
        let mut c = db.conn().await?;
        out.extend(db::usage::check_day_rollups(&mut c, day).await?);
    }
    Ok(out)
}
