//! Reading the audit log: filtered by entity, actor, action and time, newest first, in
//! keyset pages (an entry's id), so the ten-thousandth page costs what the first does.
//!
//! The log is append-only: entries are written by `accounts::audit` inside the
//! transaction of the change they record, and no code path updates or deletes one (a test
//! reads the sources to keep it so).

use crate::error::AppError;
use crate::ssr::auth::{Access, Caller};
use crate::ssr::db::{self, audit::AuditFilter, from_unix};
use crate::ssr::state::AppState;
use crate::types::{AuditEntryView, AuditPage, AuditQuery, MAX_PAGE_SIZE};
use chrono::{DateTime, NaiveDate, Utc};

/// Entries per page when none is asked for.
pub const DEFAULT_AUDIT_PAGE: i64 = 100;

/// Reads a `since`/`until` bound: a UTC day or an RFC 3339 instant. A day as `until`
/// includes the whole day.
fn bound(raw: &str, field: &str, end_of_day: bool) -> Result<Option<i64>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if let Ok(day) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        let day = if end_of_day { day.succ_opt().unwrap_or(day) } else { day };
        return Ok(Some(day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp()));
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| Some(t.with_timezone(&Utc).timestamp()))
        .map_err(|_| {
            AppError::invalid(
                field,
                format!("`{raw}` is not a day (YYYY-MM-DD) or a time (2026-10-01T12:00:00Z)."),
            )
        })
}

/// The filter a query asks for, checked.
pub fn filter_of(q: &AuditQuery) -> Result<AuditFilter, AppError> {
    let entity = q.entity.trim();
    let action = q.action.trim();
    let before_id = match q.cursor.trim() {
        "" => None,
        c => Some(
            c.strip_prefix('a')
                .and_then(|n| n.parse::<i64>().ok())
                .ok_or_else(|| AppError::invalid("cursor", "This cursor was not issued by the audit log."))?,
        ),
    };
    let since = bound(&q.since, "since", false)?;
    let until = bound(&q.until, "until", true)?;
    if let (Some(s), Some(u)) = (since, until) {
        if u <= s {
            return Err(AppError::invalid("until", "`until` is before `since`."));
        }
    }
    Ok(AuditFilter {
        // `customer:12` is one thing; `customer` every customer.
        subject_exact: entity.contains(':').then(|| entity.to_owned()),
        subject_prefix: (!entity.is_empty() && !entity.contains(':')).then(|| format!("{entity}:")),
        actor: (!q.actor.trim().is_empty()).then(|| q.actor.trim().to_owned()),
        action_exact: action.contains('.').then(|| action.to_owned()),
        action_prefix: (!action.is_empty() && !action.contains('.')).then(|| format!("{action}.")),
        since,
        until,
        before_id,
    })
}

/// One page of the audit log. Staff only: it names people and what they changed.
pub async fn list_audit(state: &AppState, by: &Caller, q: &AuditQuery) -> Result<AuditPage, AppError> {
    by.require(Access::Staff)?;
    let filter = filter_of(q)?;
    let limit = if q.limit <= 0 {
        DEFAULT_AUDIT_PAGE
    } else {
        q.limit.min(MAX_PAGE_SIZE)
    };
    let mut c = state.db.conn().await?;
    // One more than asked: whether an older page exists, without counting them all.
    let mut rows = db::audit::search(&mut c, &filter, limit + 1).await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|r| format!("a{}", r.id))
    } else {
        None
    };
    let items = rows.into_iter().map(view).collect::<Result<Vec<_>, _>>()?;
    Ok(AuditPage { items, next_cursor })
}

fn view(r: db::audit::AuditRow) -> Result<AuditEntryView, AppError> {
    let details: serde_json::Value = serde_json::from_str(&r.details).unwrap_or(serde_json::Value::String(r.details));
    let pick = |k: &str| details.get(k).filter(|v| !v.is_null()).cloned();
    Ok(AuditEntryView {
        id: r.id,
        occurred_at: from_unix(r.occurred_at)?,
        before: pick("before"),
        after: pick("after"),
        actor: r.actor,
        actor_label: r.actor_label,
        action: r.action,
        subject: r.subject,
        details,
        client_addr: r.client_addr,
    })
}

/// The CSV header of an audit export (stable; documented in the README).
pub const CSV_HEADER: &str = "id,occurred_at,actor,actor_label,action,subject,before,after,details,client_addr\n";

/// One entry as a CSV line: UTF-8, ISO times, JSON in quoted cells.
pub fn csv_line(e: &AuditEntryView) -> String {
    fn cell(s: &str) -> String {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    }
    let json = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
    format!(
        "{},{},{},{},{},{},{},{},{},{}\n",
        e.id,
        e.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        cell(&e.actor),
        cell(&e.actor_label),
        cell(&e.action),
        cell(&e.subject),
        cell(&json(&e.before)),
        cell(&json(&e.after)),
        cell(&e.details.to_string()),
        cell(&e.client_addr),
    )
}
