//! Customers and their cloud tenants.

use super::{sql, AsExecutor, DbResult};
use chrono::NaiveDate;
use sqlx::FromRow;

/// A `customers` row joined with its cloud tenant's GUID.
#[derive(Debug, Clone, FromRow)]
pub struct CustomerRow {
    /// Id.
    pub id: i64,
    /// Name (any script).
    pub name: String,
    /// Internal id of the cloud tenant.
    pub cloud_tenant_id: i64,
    /// The tenant's directory GUID.
    pub tenant_guid: String,
    /// Billing email.
    pub billing_email: String,
    /// Billing address (multi-line).
    pub billing_address: String,
    /// Locale tag.
    pub locale: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Tax id (VAT number), printed on invoices.
    pub tax_id: String,
    /// Days from issue to due; `None`: the installation's default.
    pub payment_terms_days: Option<i64>,
}

const COLUMNS: &str = "c.id, c.name, c.cloud_tenant_id, t.tenant_id AS tenant_guid, c.billing_email, \
                       c.billing_address, c.locale, c.created_at, c.tax_id, c.payment_terms_days";

/// A customer to create or update.
#[derive(Debug, Clone)]
pub struct NewCustomer<'a> {
    /// Name.
    pub name: &'a str,
    /// Internal id of the cloud tenant.
    pub cloud_tenant_id: i64,
    /// Billing email.
    pub billing_email: &'a str,
    /// Billing address.
    pub billing_address: &'a str,
    /// Locale tag.
    pub locale: &'a str,
    /// Tax id.
    pub tax_id: &'a str,
    /// Payment terms in days (`None`: the default).
    pub payment_terms_days: Option<i64>,
}

/// Inserts a cloud tenant, or returns the existing one with this GUID (updating an
/// empty display name).
pub async fn upsert_cloud_tenant(
    c: &mut impl AsExecutor,
    tenant_guid: &str,
    display_name: &str,
    now: i64,
) -> DbResult<i64> {
    let q = "INSERT INTO cloud_tenants (tenant_id, display_name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id) DO UPDATE SET display_name = CASE WHEN excluded.display_name = '' \
             THEN cloud_tenants.display_name ELSE excluded.display_name END RETURNING id";
    Ok(sql!(c, |e| sqlx::query_scalar(q)
        .bind(tenant_guid)
        .bind(display_name)
        .bind(now)
        .fetch_one(e)
        .await)?)
}

/// The internal id of a cloud tenant by GUID.
pub async fn find_cloud_tenant(c: &mut impl AsExecutor, tenant_guid: &str) -> DbResult<Option<i64>> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT id FROM cloud_tenants WHERE tenant_id = $1"
    )
    .bind(tenant_guid)
    .fetch_optional(e)
    .await)?)
}

/// The directory GUID of a cloud tenant row.
pub async fn tenant_guid(c: &mut impl AsExecutor, cloud_tenant_id: i64) -> DbResult<Option<String>> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT tenant_id FROM cloud_tenants WHERE id = $1"
    )
    .bind(cloud_tenant_id)
    .fetch_optional(e)
    .await)?)
}

/// Inserts a customer and returns its id.
pub async fn insert_customer(c: &mut impl AsExecutor, n: &NewCustomer<'_>, now: i64) -> DbResult<i64> {
    let q = "INSERT INTO customers (name, cloud_tenant_id, billing_email, billing_address, locale, created_at, \
             tax_id, payment_terms_days) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id";
    Ok(sql!(c, |e| sqlx::query_scalar(q)
        .bind(n.name)
        .bind(n.cloud_tenant_id)
        .bind(n.billing_email)
        .bind(n.billing_address)
        .bind(n.locale)
        .bind(now)
        .bind(n.tax_id)
        .bind(n.payment_terms_days)
        .fetch_one(e)
        .await)?)
}

/// Updates a customer.
pub async fn update_customer(c: &mut impl AsExecutor, id: i64, n: &NewCustomer<'_>) -> DbResult<()> {
    let q = "UPDATE customers SET name = $2, cloud_tenant_id = $3, billing_email = $4, billing_address = $5, \
             locale = $6, tax_id = $7, payment_terms_days = $8 WHERE id = $1";
    sql!(c, |e| sqlx::query(q)
        .bind(id)
        .bind(n.name)
        .bind(n.cloud_tenant_id)
        .bind(n.billing_email)
        .bind(n.billing_address)
        .bind(n.locale)
        .bind(n.tax_id)
        .bind(n.payment_terms_days)
        .execute(e)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The customer with this id.
pub async fn find_customer(c: &mut impl AsExecutor, id: i64) -> DbResult<Option<CustomerRow>> {
    let q =
        format!("SELECT {COLUMNS} FROM customers c JOIN cloud_tenants t ON t.id = c.cloud_tenant_id WHERE c.id = $1");
    Ok(sql!(c, |e| sqlx::query_as::<_, CustomerRow>(&q)
        .bind(id)
        .fetch_optional(e)
        .await)?)
}

/// The customer owning a cloud tenant.
pub async fn find_customer_by_tenant(c: &mut impl AsExecutor, cloud_tenant_id: i64) -> DbResult<Option<CustomerRow>> {
    let q = format!(
        "SELECT {COLUMNS} FROM customers c JOIN cloud_tenants t ON t.id = c.cloud_tenant_id WHERE c.cloud_tenant_id = $1"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, CustomerRow>(&q)
        .bind(cloud_tenant_id)
        .fetch_optional(e)
        .await)?)
}

/// Customers whose name is exactly `name` (names are not unique).
pub async fn find_customers_by_name(c: &mut impl AsExecutor, name: &str) -> DbResult<Vec<CustomerRow>> {
    let q = format!(
        "SELECT {COLUMNS} FROM customers c JOIN cloud_tenants t ON t.id = c.cloud_tenant_id WHERE c.name = $1 ORDER BY c.id"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, CustomerRow>(&q)
        .bind(name)
        .fetch_all(e)
        .await)?)
}

/// Every customer by name.
pub async fn list_customers(c: &mut impl AsExecutor) -> DbResult<Vec<CustomerRow>> {
    let q = format!(
        "SELECT {COLUMNS} FROM customers c JOIN cloud_tenants t ON t.id = c.cloud_tenant_id ORDER BY c.name, c.id"
    );
    Ok(sql!(c, |e| sqlx::query_as::<_, CustomerRow>(&q).fetch_all(e).await)?)
}

/// Number of customers.
pub async fn count_customers(c: &mut impl AsExecutor) -> DbResult<i64> {
    Ok(sql!(c, |e| sqlx::query_scalar("SELECT COUNT(*) FROM customers")
        .fetch_one(e)
        .await)?)
}

/// Cloud tenants with and without a customer subscription in effect on `today` on any
/// registration: `(mapped, unmapped)`. A mapping that starts later does not count yet.
/// Tenants that only own user subscriptions count too: their usage is what falls back to
/// the base subscription.
pub async fn count_tenants_by_mapping(c: &mut impl AsExecutor, today: NaiveDate) -> DbResult<(i64, i64)> {
    let q = format!(
        "SELECT COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM customer_subscriptions cs \
         WHERE cs.cloud_tenant_id = t.id AND {}) THEN 1 ELSE 0 END), 0), COUNT(*) FROM cloud_tenants t",
        super::mappings::IN_EFFECT_ON_1
    );
    let (mapped, all): (i64, i64) = sql!(c, |e| sqlx::query_as(&q).bind(today).fetch_one(e).await)?;
    let unmapped = all - mapped;
    Ok((mapped, unmapped))
}

/// The customer list's filter and order, as SQL needs them.
#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    /// Lower-case words that must all occur in the name (ASCII case-insensitive).
    pub name_words: Vec<String>,
    /// The beginning of a cloud tenant GUID (lower case), or a whole one.
    pub tenant_prefix: Option<String>,
    /// `Some(true)`: mapped somewhere on `today`; `Some(false)`: mapped nowhere.
    pub mapped: Option<bool>,
    /// `name`, `tenant` or `created`.
    pub sort: &'static str,
    /// Descending.
    pub desc: bool,
}

/// A customer in the console's list.
#[derive(Debug, Clone, FromRow)]
pub struct CustomerListRow {
    /// Id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Internal id of its cloud tenant.
    pub cloud_tenant_id: i64,
    /// The tenant's GUID.
    pub tenant_guid: String,
    /// Locale tag.
    pub locale: String,
    /// Registrations on which the tenant is mapped on the day asked for.
    pub mapped_registrations: i64,
}

/// One page of customers matching a filter, and how many match in all. Filtering, order
/// and paging happen in the database (indexes on name and tenant), so a page costs the
/// same with ten customers or ten thousand.
pub async fn search_customers(
    c: &mut impl AsExecutor,
    f: &CustomerFilter,
    today: NaiveDate,
    offset: i64,
    limit: i64,
) -> DbResult<(Vec<CustomerListRow>, i64)> {
    // $1 is the day; the filter's values follow in order.
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<String> = Vec::new();
    for w in &f.name_words {
        values.push(format!("%{}%", escape_like(w)));
        conditions.push(format!("LOWER(c.name) LIKE ${} ESCAPE '\\'", values.len() + 1));
    }
    if let Some(prefix) = &f.tenant_prefix {
        values.push(format!("{}%", escape_like(prefix)));
        let n = values.len() + 1;
        if f.name_words.is_empty() {
            conditions.push(format!("t.tenant_id LIKE ${n} ESCAPE '\\'"));
        } else {
            // Words that look like the start of a GUID may still be a name ("abc").
            let names = conditions.join(" AND ");
            conditions = vec![format!("(({names}) OR t.tenant_id LIKE ${n} ESCAPE '\\')")];
        }
    }
    let mapped = format!(
        "(SELECT COUNT(*) FROM customer_subscriptions cs WHERE cs.cloud_tenant_id = c.cloud_tenant_id AND {})",
        super::mappings::IN_EFFECT_ON_1
    );
    // (NOT) EXISTS rather than the count: the engines turn it into a (anti-)join.
    let any_mapping = format!(
        "EXISTS (SELECT 1 FROM customer_subscriptions cs WHERE cs.cloud_tenant_id = c.cloud_tenant_id AND {})",
        super::mappings::IN_EFFECT_ON_1
    );
    match f.mapped {
        Some(true) => conditions.push(any_mapping),
        Some(false) => conditions.push(format!("NOT {any_mapping}")),
        None => {}
    }
    // $1 (the day) is referenced in every statement, used by the filter or not, so that
    // both engines accept the same bindings.
    conditions.insert(0, "$1 IS NOT NULL".to_owned());
    let filter = format!("WHERE {}", conditions.join(" AND "));
    let dir = if f.desc { "DESC" } else { "ASC" };
    let order = match f.sort {
        "tenant" => format!("t.tenant_id {dir}"),
        "created" => format!("c.created_at {dir}, c.id {dir}"),
        _ => format!("c.name {dir}, c.id {dir}"),
    };
    let from = "FROM customers c JOIN cloud_tenants t ON t.id = c.cloud_tenant_id";
    // The tenant join only when the filter reads the tenant; the mapped count only for the
    // page's rows (computed in the outer query, after LIMIT).
    let count_from = if f.tenant_prefix.is_some() {
        from
    } else {
        "FROM customers c"
    };
    let count_q = format!("SELECT COUNT(*) {count_from} {filter}");
    let n = values.len();
    let page_q = format!(
        "SELECT p.id, p.name, p.cloud_tenant_id, p.tenant_guid, p.locale, CAST({} AS BIGINT) AS mapped_registrations \
         FROM (SELECT c.id, c.name, c.cloud_tenant_id, t.tenant_id AS tenant_guid, c.locale, c.created_at {from} {filter} \
         ORDER BY {order} LIMIT ${} OFFSET ${}) p ORDER BY {}",
        mapped.replace("c.cloud_tenant_id", "p.cloud_tenant_id"),
        n + 2,
        n + 3,
        order.replace("c.", "p.").replace("t.tenant_id", "p.tenant_guid")
    );
    let total: i64 = sql!(c, |e| {
        let mut q = sqlx::query_scalar(&count_q).bind(today);
        for v in &values {
            q = q.bind(v);
        }
        q.fetch_one(e).await
    })?;
    let rows = sql!(c, |e| {
        let mut q = sqlx::query_as::<_, CustomerListRow>(&page_q).bind(today);
        for v in &values {
            q = q.bind(v);
        }
        q.bind(limit).bind(offset).fetch_all(e).await
    })?;
    Ok((rows, total))
}

/// `%`, `_` and the escape character itself, escaped for `LIKE … ESCAPE '\'`.
fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

/// Usage records since a day of the user subscriptions each tenant owns today, for the
/// tenants given (one page of a list): `tenant row → records`.
pub async fn records_since_by_tenant(
    c: &mut impl AsExecutor,
    tenants: &[i64],
    since: NaiveDate,
) -> DbResult<std::collections::HashMap<i64, i64>> {
    if tenants.is_empty() {
        return Ok(Default::default());
    }
    let list: Vec<String> = (0..tenants.len()).map(|i| format!("${}", i + 2)).collect();
    let q = format!(
        "SELECT o.cloud_tenant_id, CAST(COALESCE(SUM(d.record_count), 0) AS BIGINT) \
         FROM user_subscription_owners o JOIN usage_daily d ON d.user_subscription_id = o.user_subscription_id \
         WHERE o.ended_on IS NULL AND d.usage_on >= $1 AND o.cloud_tenant_id IN ({}) GROUP BY o.cloud_tenant_id",
        list.join(", ")
    );
    let rows: Vec<(i64, i64)> = sql!(c, |e| {
        let mut q = sqlx::query_as(&q).bind(since);
        for t in tenants {
            q = q.bind(*t);
        }
        q.fetch_all(e).await
    })?;
    Ok(rows.into_iter().collect())
}

/// Another customer than `except` with this name, compared without case (ASCII) and
/// surrounding space: names must tell customers apart on invoices and in lists.
pub async fn find_other_customer_named(
    c: &mut impl AsExecutor,
    name: &str,
    except: Option<i64>,
) -> DbResult<Option<i64>> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT id FROM customers WHERE LOWER(TRIM(name)) = LOWER($1) AND id <> $2 ORDER BY id LIMIT 1"
    )
    .bind(name.trim())
    .bind(except.unwrap_or(-1))
    .fetch_optional(e)
    .await)?)
}

/// The names of the customers with these ids.
pub async fn names_of(c: &mut impl AsExecutor, ids: &[i64]) -> DbResult<std::collections::HashMap<i64, String>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let list: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
    let q = format!("SELECT id, name FROM customers WHERE id IN ({})", list.join(", "));
    let rows: Vec<(i64, String)> = sql!(c, |e| {
        let mut q = sqlx::query_as(&q);
        for id in ids {
            q = q.bind(*id);
        }
        q.fetch_all(e).await
    })?;
    Ok(rows.into_iter().collect())
}

/// The customers with these ids (500 a statement).
pub async fn list_by_ids(c: &mut impl AsExecutor, ids: &[i64]) -> DbResult<Vec<CustomerRow>> {
    let q = format!(
        "SELECT {COLUMNS} FROM customers c JOIN cloud_tenants t ON t.id = c.cloud_tenant_id WHERE c.id IN {}",
        super::json_ids(c.engine())
    );
    let ids = super::json_id_list(ids);
    Ok(sql!(c, |e| sqlx::query_as::<_, CustomerRow>(&q)
        .bind(&ids)
        .fetch_all(e)
        .await)?)
}

/// The display name of a cloud tenant row.
pub async fn tenant_display_name(c: &mut impl AsExecutor, cloud_tenant_id: i64) -> DbResult<String> {
    Ok(sql!(c, |e| sqlx::query_scalar(
        "SELECT display_name FROM cloud_tenants WHERE id = $1"
    )
    .bind(cloud_tenant_id)
    .fetch_optional(e)
    .await)?
    .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssr::db::testing::for_each_engine;

    fn new_customer(name: &str, tenant: i64) -> NewCustomer<'_> {
        NewCustomer {
            name,
            cloud_tenant_id: tenant,
            billing_email: "billing@example.test",
            billing_address: "1 Main St",
            locale: "zh-TW",
            tax_id: "",
            payment_terms_days: None,
        }
    }

    #[tokio::test]
    async fn customers_keep_non_latin_names_and_own_one_tenant() {
        for_each_engine(|db| async move {
            let mut c = db.conn().await.unwrap();
            let t1 = upsert_cloud_tenant(&mut c, "dbab3982-796f-4d03-9908-044c08aef8a2", "", 1)
                .await
                .unwrap();
            let again = upsert_cloud_tenant(&mut c, "dbab3982-796f-4d03-9908-044c08aef8a2", "contoso", 2)
                .await
                .unwrap();
            assert_eq!(t1, again);
            let id = insert_customer(&mut c, &new_customer("台灣雲端股份有限公司", t1), 3)
                .await
                .unwrap();
            let found = find_customer(&mut c, id).await.unwrap().unwrap();
            assert_eq!(found.name, "台灣雲端股份有限公司");
            assert_eq!(found.tenant_guid, "dbab3982-796f-4d03-9908-044c08aef8a2");
            assert_eq!(
                find_customers_by_name(&mut c, "台灣雲端股份有限公司")
                    .await
                    .unwrap()
                    .len(),
                1
            );
            assert_eq!(find_customer_by_tenant(&mut c, t1).await.unwrap().unwrap().id, id);
            // A second customer cannot own the same tenant.
            assert!(insert_customer(&mut c, &new_customer("Other", t1), 4)
                .await
                .unwrap_err()
                .is_unique_violation());
            let today = "2026-01-01".parse().unwrap();
            assert_eq!(count_tenants_by_mapping(&mut c, today).await.unwrap(), (0, 1));
        })
        .await;
    }
}
