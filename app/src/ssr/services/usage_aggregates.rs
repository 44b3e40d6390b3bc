//! The Azure-compatible usage endpoints: Azure Stack's tenant
//! `Microsoft.Commerce/UsageAggregates` and provider
//! `Microsoft.Commerce.Admin/subscriberUsageAggregates`, served from Stackbill's stored
//! records, so scripts and SDKs written against Azure Stack read Stackbill unchanged.
//!
//! Records are chosen by their reported time as ingestion stores it (the start of the
//! window a record was pulled from, or when a pushed record arrived; a correction moves
//! the record to its own reported time), so a record pulled from Azure Stack's window
//! 19:00–20:00 is served in that same window and a collector walking windows sees each
//! record once, and a corrected one again with its new quantity. Hourly pages are the
//! records themselves, in (reported time, id) order with a keyset
//! continuation token; Daily sums a window's records per UTC usage day, user
//! subscription, meter and instance (resource, tags, additional info) exactly.

use crate::billing::{Quantity, SubscriptionId, UsageRecord};
use crate::error::AppError;
use crate::ingest::write::usage_aggregate;
use crate::ssr::auth::Caller;
use crate::ssr::db::{self, aggregates::ReportedRecord, aggregates::Window};
use crate::ssr::state::AppState;
use crate::types::Role;
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Timelike, Utc};
use rust_decimal::Decimal;
use sha2::Digest;
use std::collections::{BTreeMap, HashMap};

/// The one API version Azure Stack's usage endpoints speak.
pub const API_VERSION: &str = "2015-06-01-preview";
/// Records per page at most, as Azure Stack.
pub const PAGE_SIZE: usize = 1000;
/// Records read at a time while summing a Daily window.
const DAILY_CHUNK: usize = 10_000;

/// An error as Azure returns it: `{"error":{"code":…,"message":…}}` with its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureError {
    /// HTTP status.
    pub status: u16,
    /// Azure's code (`NoApiVersion`, `InvalidProperty`, …).
    pub code: &'static str,
    /// Message for people.
    pub message: String,
}

impl AzureError {
    /// An error with its status.
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> AzureError {
        AzureError {
            status,
            code,
            message: message.into(),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::json!({"error": {"code": self.code, "message": self.message}}).to_string()
    }

    /// 401 without a caller, 403 with one who may not use this endpoint.
    pub fn caller(caller: &Option<Caller>) -> AzureError {
        match caller {
            None => AzureError::new(
                401,
                "AuthenticationFailed",
                "Authentication failed. Send a Stackbill API token as 'Authorization: Bearer <token>'.",
            ),
            Some(_) => AzureError::new(
                403,
                "AuthorizationFailed",
                "This token does not have authorization to perform this action.",
            ),
        }
    }

    fn property(name: &str, message: impl std::fmt::Display) -> AzureError {
        AzureError::new(
            400,
            "InvalidProperty",
            format!("The property '{name}' is invalid: {message}"),
        )
    }

    /// Not named in the message: the same answer for another customer's subscription as
    /// for one that does not exist.
    fn subscription_not_found(_guid: &str) -> AzureError {
        AzureError::new(
            404,
            "SubscriptionNotFound",
            "The subscription in the request's path could not be found.",
        )
    }
}

impl From<AppError> for AzureError {
    fn from(e: AppError) -> AzureError {
        match e.kind {
            crate::error::ErrorKind::Unavailable => AzureError::new(503, "ServiceUnavailable", e.message),
            _ => AzureError::new(500, "InternalServerError", e.message),
        }
    }
}

impl From<db::DbError> for AzureError {
    fn from(e: db::DbError) -> AzureError {
        AppError::from(e).into()
    }
}

/// Which endpoint was called, with the subscription in its path.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// `/subscriptions/{user subscription}/providers/Microsoft.Commerce/UsageAggregates`.
    Tenant(String),
    /// `/subscriptions/{provider subscription}/providers/Microsoft.Commerce.Admin/subscriberUsageAggregates`.
    Provider(String),
}

/// Daily or Hourly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    /// Records summed per UTC day.
    Daily,
    /// The records.
    Hourly,
}

/// One page: the records as JSON texts (exact quantities), and where the next starts.
#[derive(Debug, Clone)]
pub struct AggregatesPage {
    /// `UsageAggregate` objects, serialised.
    pub value: Vec<String>,
    /// The continuation token of the next page, if there is one.
    pub continuation: Option<String>,
}

/// A checked request.
#[derive(Debug, Clone)]
struct Request {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    granularity: Granularity,
    after: Option<Token>,
    subscriber: Option<String>,
}

/// Where a page continues: after a record's position (Hourly), or after a day's group
/// (Daily).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Hourly(db::aggregates::Position),
    Daily(DailyKey),
}

/// (user subscription row, usage day number, meter, resource row, instance hash).
type DailyKey = (i64, i64, String, i64, u64);

impl Token {
    fn encode(&self) -> String {
        let text = match self {
            Token::Hourly((r, i)) => format!("h1.{r}.{i}"),
            Token::Daily((s, d, m, r, h)) => format!("d1.{s}.{d}.{m}.{r}.{h}"),
        };
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
    }

    fn decode(raw: &str) -> Option<Token> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw.trim())
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let parts: Vec<&str> = text.split('.').collect();
        let int = |s: &str| s.parse::<i64>().ok();
        match parts.as_slice() {
            ["h1", r, i] => Some(Token::Hourly((int(r)?, int(i)?))),
            ["d1", s, d, m, r, h] => Some(Token::Daily((
                int(s)?,
                int(d)?,
                crate::billing::MeterId::parse(m).ok()?.to_string(),
                int(r)?,
                h.parse().ok()?,
            ))),
            _ => None,
        }
    }
}

/// A query parameter by name, any case (Azure's names are case-insensitive).
fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// An instant as Azure Stack's clients send it: `2019-12-30T00:00:00Z`,
/// `2017-08-01T00:00:00.00Z`, `2019-12-10T19:00:00.0000000+00:00`.
fn instant(name: &str, raw: Option<&str>) -> Result<DateTime<Utc>, AzureError> {
    let raw = raw
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .ok_or_else(|| AzureError::property(name, "it is required."))?;
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| raw.parse::<chrono::NaiveDateTime>().map(|t| t.and_utc()))
        .map_err(|_| {
            AzureError::property(
                name,
                format!("'{raw}' is not a date and time such as 2026-10-01T00:00:00Z."),
            )
        })
}

fn check(params: &HashMap<String, String>, endpoint: &Endpoint, now: DateTime<Utc>) -> Result<Request, AzureError> {
    match param(params, "api-version").map(str::trim) {
        None | Some("") => {
            return Err(AzureError::new(
                400,
                "NoApiVersion",
                format!("The api-version query parameter is required; this endpoint speaks {API_VERSION}."),
            ))
        }
        Some(API_VERSION) => {}
        Some(other) => {
            return Err(AzureError::new(
                400,
                "InvalidApiVersionParameter",
                format!("The api-version '{other}' is invalid. The supported version is '{API_VERSION}'."),
            ))
        }
    }
    let granularity = match param(params, "aggregationGranularity").map(|g| g.trim().to_ascii_lowercase()) {
        None => Granularity::Daily,
        Some(g) if g.is_empty() || g == "daily" => Granularity::Daily,
        Some(g) if g == "hourly" => Granularity::Hourly,
        Some(g) => {
            return Err(AzureError::new(
                400,
                "InvalidAggregationGranularity",
                format!("The aggregation granularity '{g}' is invalid; use Daily or Hourly."),
            ))
        }
    };
    let from = instant("reportedStartTime", param(params, "reportedStartTime"))?;
    let to = instant("reportedEndTime", param(params, "reportedEndTime"))?;
    for (name, t) in [("reportedStartTime", from), ("reportedEndTime", to)] {
        let on_hour = t.minute() == 0 && t.second() == 0 && t.nanosecond() == 0;
        match granularity {
            Granularity::Hourly if !on_hour => {
                return Err(AzureError::property(
                    name,
                    "hourly times must be on the hour (like 13:00:00Z).",
                ))
            }
            Granularity::Daily if !(on_hour && t.hour() == 0) => {
                return Err(AzureError::property(
                    name,
                    "daily times must be at midnight UTC (00:00:00Z).",
                ))
            }
            _ => {}
        }
    }
    if to <= from {
        return Err(AzureError::property(
            "reportedEndTime",
            "it must be after reportedStartTime.",
        ));
    }
    if to > now {
        return Err(AzureError::new(
            400,
            "RequestEndTimeIsInFuture",
            format!(
                "The reportedEndTime {} is in the future.",
                to.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        ));
    }
    if let Some(v) = param(params, "showDetails") {
        if !matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "false" | "") {
            return Err(AzureError::property("showDetails", "use true or false."));
        }
    }
    let after = match param(params, "continuationToken").map(str::trim) {
        None | Some("") => None,
        Some(raw) => {
            let token = Token::decode(raw)
                .ok_or_else(|| AzureError::property("continuationToken", "it is not a token this service gave."))?;
            let fits = matches!(
                (&token, granularity),
                (Token::Hourly(_), Granularity::Hourly) | (Token::Daily(_), Granularity::Daily)
            );
            if !fits {
                return Err(AzureError::property(
                    "continuationToken",
                    "it belongs to a request of another aggregationGranularity.",
                ));
            }
            Some(token)
        }
    };
    let subscriber = match (endpoint, param(params, "subscriberId").map(str::trim)) {
        (Endpoint::Provider(_), Some(s)) if !s.is_empty() => Some(s.to_owned()),
        _ => None,
    };
    Ok(Request {
        from,
        to,
        granularity,
        after,
        subscriber,
    })
}

/// The days a tenant owned each user subscription row: `[first, end)` spans.
type Ownership = HashMap<i64, Vec<(NaiveDate, Option<NaiveDate>)>>;

/// Whose records a request may read.
struct Scope {
    registrations: Vec<i64>,
    subscriptions: Option<Vec<i64>>,
    /// For a customer's token: the days its tenant owned each subscription row; records
    /// of other days are not its own and are left out.
    owned: Option<Ownership>,
}

impl Scope {
    fn allows(&self, r: &ReportedRecord) -> bool {
        let Some(owned) = &self.owned else {
            return true;
        };
        let day = DateTime::from_timestamp(r.usage_start_at, 0)
            .map(|t| t.date_naive())
            .unwrap_or_default();
        owned.get(&r.user_subscription_id).is_some_and(|spans| {
            spans
                .iter()
                .any(|(from, to)| *from <= day && to.is_none_or(|t| day < t))
        })
    }
}

fn canonical_guid(raw: &str) -> Option<String> {
    SubscriptionId::parse(raw.trim()).ok().map(|s| s.to_string())
}

async fn scope(state: &AppState, caller: &Caller, endpoint: &Endpoint, req: &Request) -> Result<Scope, AzureError> {
    let mut c = state.db.conn().await?;
    match endpoint {
        Endpoint::Tenant(raw) => {
            let guid = canonical_guid(raw).ok_or_else(|| AzureError::subscription_not_found(raw))?;
            let rows = db::aggregates::subscriptions_by_guid(&mut c, &guid).await?;
            let ids: Vec<i64> = rows.iter().map(|r| r.0).collect();
            let owned = match caller.role {
                Role::Operator | Role::Finance => None,
                Role::Customer => {
                    let customer = match caller.customer_id {
                        Some(id) => db::customers::find_customer(&mut c, id).await?,
                        None => None,
                    }
                    .ok_or_else(|| AzureError::caller(&Some(caller.clone())))?;
                    let mut owned: Ownership = HashMap::new();
                    for (row, from, to) in
                        db::aggregates::owner_intervals(&mut c, customer.cloud_tenant_id, &ids).await?
                    {
                        owned.entry(row).or_default().push((from, to));
                    }
                    Some(owned)
                }
                Role::Ingest => return Err(AzureError::caller(&Some(caller.clone()))),
            };
            // Another customer's subscription is as unknown as one that does not exist.
            if ids.is_empty() || owned.as_ref().is_some_and(|o| o.is_empty()) {
                return Err(AzureError::subscription_not_found(raw));
            }
            let ids: Vec<i64> = match &owned {
                Some(o) => ids.into_iter().filter(|i| o.contains_key(i)).collect(),
                None => ids,
            };
            let mut registrations: Vec<i64> = rows.iter().filter(|r| ids.contains(&r.0)).map(|r| r.1).collect();
            registrations.sort_unstable();
            registrations.dedup();
            Ok(Scope {
                registrations,
                subscriptions: Some(ids),
                owned,
            })
        }
        Endpoint::Provider(raw) => {
            if !matches!(caller.role, Role::Operator | Role::Finance) {
                return Err(AzureError::caller(&Some(caller.clone())));
            }
            let guid = canonical_guid(raw).ok_or_else(|| AzureError::subscription_not_found(raw))?;
            let registrations = db::aggregates::registrations_of_provider(&mut c, &guid).await?;
            if registrations.is_empty() {
                return Err(AzureError::subscription_not_found(raw));
            }
            let subscriptions = match &req.subscriber {
                None => None,
                Some(s) => {
                    let not_direct = || {
                        AzureError::new(
                            400,
                            "SubscriberIdIsNotDirectTenant",
                            format!(
                                "The subscriber '{s}' is not a direct tenant of the provider subscription '{raw}'."
                            ),
                        )
                    };
                    let guid = canonical_guid(s).ok_or_else(not_direct)?;
                    let ids: Vec<i64> = db::aggregates::subscriptions_by_guid(&mut c, &guid)
                        .await?
                        .into_iter()
                        .filter(|r| registrations.contains(&r.1))
                        .map(|r| r.0)
                        .collect();
                    if ids.is_empty() {
                        return Err(not_direct());
                    }
                    Some(ids)
                }
            };
            Ok(Scope {
                registrations,
                subscriptions,
                owned: None,
            })
        }
    }
}

/// One page of an endpoint's answer to a request's parameters.
pub async fn usage_aggregates(
    state: &AppState,
    caller: Option<Caller>,
    endpoint: Endpoint,
    params: &HashMap<String, String>,
) -> Result<AggregatesPage, AzureError> {
    let Some(caller) = caller else {
        return Err(AzureError::caller(&None));
    };
    if caller.role == Role::Ingest {
        return Err(AzureError::caller(&Some(caller)));
    }
    let req = check(params, &endpoint, state.clock.now())?;
    let scope = scope(state, &caller, &endpoint, &req).await?;
    let path_subscription = match &endpoint {
        Endpoint::Tenant(s) | Endpoint::Provider(s) => canonical_guid(s).unwrap_or_default(),
    };
    let window = Window {
        from_at: req.from.timestamp(),
        to_at: req.to.timestamp(),
        registrations: &scope.registrations,
        subscriptions: scope.subscriptions.as_deref(),
    };
    let mut c = state.db.conn().await?;
    match req.granularity {
        Granularity::Hourly => {
            let after = match req.after {
                Some(Token::Hourly(p)) => Some(p),
                _ => None,
            };
            // One more than a page tells whether another follows.
            let mut rows = db::aggregates::page(&mut c, &window, after, PAGE_SIZE + 1).await?;
            let more = rows.len() > PAGE_SIZE;
            rows.truncate(PAGE_SIZE);
            let continuation = more
                .then(|| rows.last().map(|r| Token::Hourly((r.reported_at, r.id))))
                .flatten();
            let value = rows
                .iter()
                .filter(|r| scope.allows(r))
                .map(|r| record_of(r, None).map(|rec| usage_aggregate(&rec, &path_subscription)))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(AggregatesPage {
                value,
                continuation: continuation.map(|t| t.encode()),
            })
        }
        Granularity::Daily => {
            let mut groups: BTreeMap<DailyKey, (Decimal, ReportedRecord)> = BTreeMap::new();
            let mut after = None;
            loop {
                let rows = db::aggregates::page(&mut c, &window, after, DAILY_CHUNK).await?;
                let done = rows.len() < DAILY_CHUNK;
                after = rows.last().map(|r| (r.reported_at, r.id));
                for r in rows.into_iter().filter(|r| scope.allows(r)) {
                    let quantity = db::parse_stored("record quantity", &r.quantity, |t| t.parse::<Decimal>())?;
                    let mut hash = sha2::Sha256::new();
                    for part in [&r.tags, &r.additional_info] {
                        hash.update(part.as_bytes());
                        hash.update([0]);
                    }
                    let digest = hash.finalize();
                    let key = (
                        r.user_subscription_id,
                        r.usage_start_at.div_euclid(86_400),
                        r.meter_id.to_ascii_lowercase(),
                        r.resource_id,
                        u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")),
                    );
                    let e = groups.entry(key).or_insert_with(|| (Decimal::ZERO, r.clone()));
                    e.0 += quantity;
                }
                if done {
                    break;
                }
            }
            let from = match &req.after {
                Some(Token::Daily(k)) => std::ops::Bound::Excluded(k.clone()),
                _ => std::ops::Bound::Unbounded,
            };
            let mut iter = groups.range((from, std::ops::Bound::Unbounded));
            let mut value = Vec::new();
            let mut last = None;
            for (key, (quantity, r)) in iter.by_ref().take(PAGE_SIZE) {
                let rec = record_of(r, Some((key.1, *quantity)))?;
                value.push(usage_aggregate(&rec, &path_subscription));
                last = Some(key.clone());
            }
            let continuation = iter.next().and(last).map(|k| Token::Daily(k).encode());
            Ok(AggregatesPage { value, continuation })
        }
    }
}

/// A stored record as a usage record; for Daily, the day's sum over the whole day.
fn record_of(r: &ReportedRecord, daily: Option<(i64, Decimal)>) -> Result<UsageRecord, AzureError> {
    let at = |secs: i64| db::from_unix(secs).map_err(AzureError::from);
    let (start, end, quantity) = match daily {
        Some((day, sum)) => (at(day * 86_400)?, at((day + 1) * 86_400)?, sum.normalize().to_string()),
        None => (at(r.usage_start_at)?, at(r.usage_end_at)?, r.quantity.clone()),
    };
    Ok(UsageRecord {
        subscription_id: db::parse_stored("record subscription", &r.subscription_guid, SubscriptionId::parse)?,
        meter_id: db::parse_stored("record meter", &r.meter_id, crate::billing::MeterId::parse)?,
        usage_start: start,
        usage_end: end,
        quantity: db::parse_stored("record quantity", &quantity, Quantity::parse)?,
        resource_uri: r.resource_uri.clone(),
        location: r.location.clone(),
        tags: r.tags.clone(),
        additional_info: r.additional_info.clone(),
        reported_at: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        for t in [
            Token::Hourly((1_765_000_000, 99_000)),
            Token::Daily((3, 20_400, "9cd92d4c-bafd-4492-b278-bedc2de8232a".into(), 77, u64::MAX)),
        ] {
            assert_eq!(Token::decode(&t.encode()), Some(t));
        }
        for raw in [
            "",
            "x",
            "aDEuMQ", // h1.1: too few parts
            "!!!",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("h1.a.b"),
        ] {
            assert_eq!(Token::decode(raw), None, "{raw}");
        }
    }

    #[test]
    fn requests_are_checked_as_azure_stack_checks_them() {
        let now: DateTime<Utc> = "2026-10-20T12:30:00Z".parse().unwrap();
        let tenant = Endpoint::Tenant("x".into());
        let code = |p: &[(&str, &str)]| check(&params(p), &tenant, now).err().map(|e| e.code);
        let ok = [
            ("api-version", API_VERSION),
            ("reportedStartTime", "2026-10-19T00:00:00Z"),
            ("reportedEndTime", "2026-10-20T00:00:00.00Z"),
        ];
        assert_eq!(code(&ok), None);
        let r = check(&params(&ok), &tenant, now).unwrap();
        assert_eq!(r.granularity, Granularity::Daily);
        assert_eq!(code(&ok[1..]), Some("NoApiVersion"));
        let with = |k: &'static str, v: &'static str| {
            let mut p: Vec<(&str, &str)> = ok.iter().copied().filter(|(x, _)| *x != k).collect();
            p.push((k, v));
            code(&p)
        };
        assert_eq!(with("api-version", "2016-01-01"), Some("InvalidApiVersionParameter"));
        assert_eq!(
            with("aggregationGranularity", "weekly"),
            Some("InvalidAggregationGranularity")
        );
        assert_eq!(with("AggregationGranularity", "HOURLY"), None);
        assert_eq!(
            with("reportedStartTime", "2026-10-19T00:30:00Z"),
            Some("InvalidProperty")
        );
        assert_eq!(
            with("reportedStartTime", "2026-10-19T05:00:00Z"),
            Some("InvalidProperty"),
            "daily: midnight"
        );
        assert_eq!(with("reportedStartTime", "yesterday"), Some("InvalidProperty"));
        assert_eq!(
            with("reportedEndTime", "2026-10-19T00:00:00Z"),
            Some("InvalidProperty"),
            "empty window"
        );
        assert_eq!(
            with("reportedEndTime", "2026-10-21T00:00:00Z"),
            Some("RequestEndTimeIsInFuture")
        );
        assert_eq!(with("showDetails", "maybe"), Some("InvalidProperty"));
        assert_eq!(with("continuationToken", "garbage"), Some("InvalidProperty"));
        let hourly_token = Token::Hourly((1, 3)).encode();
        let mut p: Vec<(&str, &str)> = ok.to_vec();
        p.push(("continuationToken", &hourly_token));
        assert_eq!(code(&p), Some("InvalidProperty"), "an hourly token on a daily request");
        // The recorded request's spelling of an instant.
        let mut p: Vec<(&str, &str)> = ok[..1].to_vec();
        p.extend([
            ("aggregationGranularity", "Hourly"),
            ("reportedStartTime", "2026-10-19T19:00:00.0000000+00:00"),
            ("reportedEndTime", "2026-10-19T20:00:00.0000000+00:00"),
        ]);
        assert_eq!(code(&p), None);
    }
}
