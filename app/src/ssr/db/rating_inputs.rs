//! The queries that load a billing period's inputs for rating: mappings, owners and daily
//! usage of a registration (a fixed number of statements, however many accounts) or of one
//! cloud tenant (index ranges over that tenant's rows only).

use super::fixed::ExactSum;
use super::{sql, AsExecutor, DbResult, Params};
use chrono::NaiveDate;
use sqlx::FromRow;

/// A mapping interval with its tenant's directory GUID.
#[derive(Debug, Clone, FromRow)]
pub struct MappingInterval {
    /// Registration.
    pub registration_id: i64,
    /// Tenant GUID.
    pub tenant_guid: String,
    /// Customer subscription GUID.
    pub subscription_id: String,
    /// First day.
    pub effective_on: NaiveDate,
    /// First day after.
    pub ended_on: Option<NaiveDate>,
}

/// An ownership interval with the subscription's and the owner's GUIDs.
#[derive(Debug, Clone, FromRow)]
pub struct OwnerInterval {
    /// Registration.
    pub registration_id: i64,
    /// User subscription row.
    pub user_subscription_id: i64,
    /// User subscription GUID.
    pub subscription_guid: String,
    /// Owner's tenant GUID.
    pub tenant_guid: String,
    /// First day.
    pub effective_on: NaiveDate,
    /// First day after.
    pub ended_on: Option<NaiveDate>,
}

/// Whose mappings or owners to read.
#[derive(Debug, Clone, Copy)]
pub enum Of {
    /// Every tenant's on one registration.
    Registration(i64),
    /// One cloud tenant's (its row id), on every registration: an index range on its rows.
    Tenant(i64),
}

/// Mapping intervals overlapping `[from, to)`.
pub async fn mappings(
    c: &mut impl AsExecutor,
    of: Of,
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<Vec<MappingInterval>> {
    let (column, id) = match of {
        Of::Registration(id) => ("cs.registration_id", id),
        Of::Tenant(id) => ("cs.cloud_tenant_id", id),
    };
    let q = format!(
        "SELECT cs.registration_id, t.tenant_id AS tenant_guid, cs.subscription_id, cs.effective_on, cs.ended_on \
         FROM customer_subscriptions cs JOIN cloud_tenants t ON t.id = cs.cloud_tenant_id \
         WHERE {column} = $1 AND cs.effective_on < $3 AND (cs.ended_on IS NULL OR cs.ended_on > $2) \
         ORDER BY cs.registration_id, t.tenant_id, cs.effective_on"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, MappingInterval>(&q)
        .bind(id)
        .bind(from)
        .bind(to)
        .fetch_all(e)
        .await)?)
}

/// Ownership intervals overlapping `[from, to)`: of a registration's user subscriptions, or
/// of the ones a tenant owned at some point.
pub async fn owners(c: &mut impl AsExecutor, of: Of, from: NaiveDate, to: NaiveDate) -> DbResult<Vec<OwnerInterval>> {
    let (column, id) = match of {
        Of::Registration(id) => ("us.registration_id", id),
        Of::Tenant(id) => ("o.cloud_tenant_id", id),
    };
    let q = format!(
        "SELECT us.registration_id, o.user_subscription_id, us.subscription_id AS subscription_guid, \
         t.tenant_id AS tenant_guid, o.effective_on, o.ended_on FROM user_subscription_owners o \
         JOIN user_subscriptions us ON us.id = o.user_subscription_id \
         JOIN cloud_tenants t ON t.id = o.cloud_tenant_id \
         WHERE {column} = $1 AND o.effective_on < $3 AND (o.ended_on IS NULL OR o.ended_on > $2) \
         ORDER BY o.user_subscription_id, o.effective_on"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, OwnerInterval>(&q)
        .bind(id)
        .bind(from)
        .bind(to)
        .fetch_all(e)
        .await)?)
}

/// A registration's user subscriptions: `(row id, GUID)`.
pub async fn registration_subscriptions(c: &mut impl AsExecutor, registration_id: i64) -> DbResult<Vec<(i64, String)>> {
    Ok(sql!(c, |e| sqlx::query_as(
        "SELECT id, subscription_id FROM user_subscriptions WHERE registration_id = $1"
    )
    .bind(registration_id)
    .fetch_all(e)
    .await)?)
}

/// One daily rollup, without strings: the meter is an index into [`RegistrationUsage::meters`].
#[derive(Debug, Clone, Copy)]
pub struct Rollup {
    /// User subscription row.
    pub user_subscription_id: i64,
    /// Index of the meter in `meters`.
    pub meter: u32,
    /// Day.
    pub usage_on: NaiveDate,
    /// The exact quantity.
    pub quantity: ExactSum,
}

/// A registration's rollups over a range of days.
#[derive(Debug, Clone, Default)]
pub struct RegistrationUsage {
    /// The meters that occur (stored meter ids).
    pub meters: Vec<String>,
    /// The rollups.
    pub rollups: Vec<Rollup>,
}

impl RegistrationUsage {
    /// Adds another range's rollups (meters renumbered into this one's list).
    pub fn append(&mut self, other: RegistrationUsage) {
        let mut index: std::collections::HashMap<String, u32> = self
            .meters
            .iter()
            .enumerate()
            .map(|(i, m)| (m.clone(), i as u32))
            .collect();
        let renumber: Vec<u32> = other.meters.iter().map(|m| self.meter_index(&mut index, m)).collect();
        self.rollups.extend(other.rollups.into_iter().map(|r| Rollup {
            meter: renumber[r.meter as usize],
            ..r
        }));
    }

    fn meter_index(&mut self, index: &mut std::collections::HashMap<String, u32>, meter: &str) -> u32 {
        if let Some(i) = index.get(meter) {
            return *i;
        }
        let i = self.meters.len() as u32;
        self.meters.push(meter.to_owned());
        index.insert(meter.to_owned(), i);
        i
    }
}

/// The daily usage of a registration in `[from, to)`, read in a few dozen rows rather than
/// one per rollup: sqlx hands rows over one at a time (from SQLite's worker thread, or
/// decoded one by one from PostgreSQL), which for a month of 10^6 rollups costs seconds,
/// far more than the reading itself.
///
/// - SQLite: one row per day, the day's rollups packed into text. `CROSS JOIN` keeps the
///   rollups' primary-key order (day first), so grouping by day needs no sort.
/// - PostgreSQL: one row per day and meter, with the subscriptions and quantities as
///   `bigint[]` (binary arrays, no text).
pub async fn registration_usage(
    c: &mut impl AsExecutor,
    registration_id: i64,
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<RegistrationUsage> {
    usage_of(c, Whose::Registration(registration_id), from, to).await
}

/// The daily usage of the given user subscriptions in `[from, to)`, read as
/// [`registration_usage`] reads a registration's (an index range per subscription).
pub async fn subscriptions_usage(
    c: &mut impl AsExecutor,
    user_subscription_ids: &[i64],
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<RegistrationUsage> {
    let mut out = RegistrationUsage::default();
    for chunk in user_subscription_ids.chunks(500) {
        out.append(usage_of(c, Whose::Subscriptions(chunk), from, to).await?);
    }
    Ok(out)
}

/// Whose rollups to read.
#[derive(Clone, Copy)]
enum Whose<'a> {
    Registration(i64),
    Subscriptions(&'a [i64]),
}

async fn usage_of(
    c: &mut impl AsExecutor,
    whose: Whose<'_>,
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<RegistrationUsage> {
    let mut out = RegistrationUsage::default();
    let mut index = std::collections::HashMap::new();
    let corrupt = || super::DbError::Corrupt("a packed usage row cannot be read".into());
    let engine = c.engine();
    let mut p = Params::new(engine);
    let (from_p, to_p) = (p.placeholder(), p.placeholder());
    let (join, filter) = match whose {
        // CROSS JOIN keeps SQLite's loop on the rollups' day-first primary key.
        Whose::Registration(_) => (
            "CROSS JOIN user_subscriptions us",
            format!(
                "us.id = d.user_subscription_id AND us.registration_id = {}",
                p.placeholder()
            ),
        ),
        Whose::Subscriptions(ids) => ("", format!("d.user_subscription_id IN ({})", p.list(ids.len()))),
    };
    match c.executor() {
        super::Executor::Sqlite(e) => {
            let q = format!(
                "SELECT d.usage_on, group_concat(CAST(d.user_subscription_id AS TEXT) || ' ' || d.meter_id || ' ' || \
                 CAST(d.quantity_whole AS TEXT) || ' ' || CAST(d.quantity_atto AS TEXT) || ' ' || \
                 CAST(d.quantity_frac AS TEXT), ';') \
                 FROM usage_daily d {join} WHERE d.usage_on >= {from_p} AND d.usage_on < {to_p} AND {filter} \
                 GROUP BY d.usage_on ORDER BY d.usage_on"
            );
            let mut query = sqlx::query_as::<_, (NaiveDate, String)>(&q).bind(from).bind(to);
            match whose {
                Whose::Registration(id) => query = query.bind(id),
                Whose::Subscriptions(ids) => {
                    for id in ids {
                        query = query.bind(*id);
                    }
                }
            }
            for (day, entries) in query.fetch_all(e).await? {
                for entry in entries.split(';').filter(|x| !x.is_empty()) {
                    let mut f = entry.split(' ');
                    let (Some(sub), Some(meter), Some(whole), Some(atto), Some(frac)) =
                        (f.next(), f.next(), f.next(), f.next(), f.next())
                    else {
                        return Err(corrupt());
                    };
                    let int = |v: &str| v.parse::<i64>().map_err(|_| corrupt());
                    let (sub, whole, atto, frac) = (int(sub)?, int(whole)?, int(atto)?, int(frac)?);
                    let meter = out.meter_index(&mut index, meter);
                    out.rollups.push(Rollup {
                        user_subscription_id: sub,
                        meter,
                        usage_on: day,
                        quantity: ExactSum::from_parts(whole, atto, frac),
                    });
                }
            }
        }
        super::Executor::Postgres(e) => {
            type Row = (NaiveDate, String, Vec<i64>, Vec<i64>, Vec<i64>, Vec<i64>);
            let join = if join.is_empty() {
                ""
            } else {
                "JOIN user_subscriptions us ON true"
            };
            let q = format!(
                "SELECT d.usage_on, d.meter_id, array_agg(d.user_subscription_id), array_agg(d.quantity_whole), \
                 array_agg(d.quantity_atto), array_agg(d.quantity_frac) \
                 FROM usage_daily d {join} WHERE d.usage_on >= {from_p} AND d.usage_on < {to_p} AND {filter} \
                 GROUP BY d.usage_on, d.meter_id"
            );
            let build = || {
                let mut query = sqlx::query_as::<_, Row>(&q).bind(from).bind(to);
                match whose {
                    Whose::Registration(id) => query = query.bind(id),
                    Whose::Subscriptions(ids) => {
                        for id in ids {
                            query = query.bind(*id);
                        }
                    }
                }
                query
            };
            let groups = match whose {
                // A month of a registration's quantities is grouped in memory (~30 MB for
                // a million rollups); with the default 4 MB of work memory PostgreSQL
                // spills it to disk, which costs more than the whole read. Raised for this
                // statement only. A few customers' rows need no such thing.
                Whose::Registration(_) => {
                    use sqlx::Connection;
                    let mut tx = e.begin().await?;
                    sqlx::query("SET LOCAL work_mem = '64MB'").execute(&mut *tx).await?;
                    let groups = build().fetch_all(&mut *tx).await?;
                    tx.commit().await?;
                    groups
                }
                Whose::Subscriptions(_) => build().fetch_all(e).await?,
            };
            for (day, meter, subs, whole, atto, frac) in groups {
                if subs.len() != whole.len() || subs.len() != atto.len() || subs.len() != frac.len() {
                    return Err(corrupt());
                }
                let meter = out.meter_index(&mut index, &meter);
                for k in 0..subs.len() {
                    out.rollups.push(Rollup {
                        user_subscription_id: subs[k],
                        meter,
                        usage_on: day,
                        quantity: ExactSum::from_parts(whole[k], atto[k], frac[k]),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The customers owning the given tenant GUIDs: `(tenant GUID, customer id, name)` —
/// or, with `None`, every customer.
pub async fn customers_by_tenant(
    c: &mut impl AsExecutor,
    tenant_guids: Option<&[String]>,
) -> DbResult<Vec<(String, i64, String)>> {
    let Some(guids) = tenant_guids else {
        return Ok(sql!(c, |e| sqlx::query_as(
            "SELECT t.tenant_id, c.id, c.name FROM customers c JOIN cloud_tenants t ON t.id = c.cloud_tenant_id"
        )
        .fetch_all(e)
        .await)?);
    };
    let mut out = Vec::new();
    for chunk in guids.chunks(500) {
        let q = format!(
            "SELECT t.tenant_id, c.id, c.name FROM customers c JOIN cloud_tenants t ON t.id = c.cloud_tenant_id \
             WHERE t.tenant_id IN ({})",
            Params::new(c.engine()).list(chunk.len())
        );
        let rows: Vec<(String, i64, String)> = sql!(c, |e| {
            let mut query = sqlx::query_as(&q);
            for g in chunk {
                query = query.bind(g);
            }
            query.fetch_all(e).await
        })?;
        out.extend(rows);
    }
    Ok(out)
}

/// A day of one resource's usage of a meter.
#[derive(Debug, Clone, FromRow)]
pub struct ResourceDay {
    /// The day.
    pub usage_on: NaiveDate,
    /// The user subscription's GUID.
    pub subscription_guid: String,
    /// The resource's URI as first received.
    pub resource_uri: String,
    /// The meter.
    pub meter_id: String,
    /// Whole units.
    pub quantity_whole: i64,
    /// Atto-units.
    pub quantity_atto: i64,
}

/// The per-resource daily rollups of some user subscriptions (by GUID) of a registration in
/// `[from, to)`: one statement, index ranges on each subscription's resources.
pub async fn resource_days(
    c: &mut impl AsExecutor,
    registration_id: i64,
    subscription_guids: &[String],
    from: NaiveDate,
    to: NaiveDate,
) -> DbResult<Vec<ResourceDay>> {
    let q = format!(
        "SELECT d.usage_on, s.subscription_id AS subscription_guid, r.resource_uri, d.meter_id, d.quantity_whole, \
         d.quantity_atto FROM user_subscriptions s \
         JOIN usage_resources r ON r.user_subscription_id = s.id \
         JOIN usage_daily_by_resource d ON d.resource_id = r.id \
         WHERE s.subscription_id IN {} AND s.registration_id = $2 AND d.usage_on >= $3 AND d.usage_on < $4",
        super::json_texts_short(c.engine())
    );
    let guids = serde_json::Value::from(subscription_guids.to_vec()).to_string();
    Ok(sql!(c, |e| sqlx::query_as::<_, ResourceDay>(&q)
        .bind(&guids)
        .bind(registration_id)
        .bind(from)
        .bind(to)
        .fetch_all(e)
        .await)?)
}
