//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers' `#[utoipa::path]`
//! attributes and the types they take and answer. Served at `/api/openapi.json` and
//! rendered by the app's API page; `tests/api/openapi.rs` fails when a route of the router
//! is missing here.

use super::bodies::ErrorBody;
use super::{api, console, ingest, invoices, prices, usage};
use axum::response::{IntoResponse, Response};
use std::sync::OnceLock;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Stackbill API",
        version = "1",
        description = "Chargeback and billing for Azure Stack Hub: customers, tenant mappings, \
meters, price sheets, usage ingestion, rated usage and invoices.\n\n\
**Authentication**: `Authorization: Bearer <token>` with an API token created by an operator \
(the console's Users page, or `stackbill token create`); a signed-in browser session works too. \
A customer's tokens see only that customer's data: anything else answers 404.\n\n\
**Errors**: every error is `{\"error\":{\"code\",\"message\",\"field\"?}}` with a stable `code`; \
401 without valid credentials, 403 for a role that may not, 404 for what does not exist or is \
not yours, 422 for input that does not validate (with the `field` at fault), 429 with \
`Retry-After` when throttled.\n\n\
**Lists** answer `{\"value\":[…],\"nextLink\"}`: follow `nextLink` (the same request with an \
opaque `cursor`) until it is absent.\n\n\
**Values**: money and quantities are decimal strings (`\"12.34\"`, never floating point); \
instants are ISO 8601 in UTC, days `YYYY-MM-DD`, billing periods `YYYY-MM`."
    ),
    paths(
        api::me,
        api::meters,
        console::describe_meter,
        console::set_meter_billing,
        api::registrations,
        console::create_registration,
        console::registration_detail,
        console::update_registration,
        console::list_customers,
        console::create_customer,
        api::customer,
        console::update_customer,
        console::customer_detail,
        prices::set_customer_pricing,
        api::customer_cost,
        usage::customer_usage,
        usage::customer_usage_csv,
        console::list_mappings,
        console::export_mappings,
        console::import_mappings,
        console::put_mapping,
        console::delete_mapping,
        console::mapping_history,
        console::list_user_subscriptions,
        console::assign_owner,
        prices::list,
        prices::create,
        prices::detail,
        prices::make_default,
        prices::versions,
        prices::add_version,
        prices::version,
        prices::set_entry,
        invoices::run,
        invoices::list,
        invoices::zip,
        invoices::lines,
        invoices::lines_csv,
        invoices::detail,
        invoices::issue,
        invoices::void,
        console::users,
        console::create_user,
        console::user_action,
        console::tokens,
        console::create_token,
        console::revoke_token,
        console::audit,
        ingest::push_usage,
        ingest::list_quarantine,
        ingest::reprocess,
        ingest::discard,
        ingest::collector_status,
    ),
    components(schemas(UserAction)),
    modifiers(&Security, &Describe),
    security(("bearer" = []), ("session" = [])),
    tags(
        (name = "Identity", description = "Who the caller is."),
        (name = "Customers", description = "Customers, their tenants, pricing and cost."),
        (name = "Usage", description = "Rated usage by day, meter, subscription, resource group and resource."),
        (name = "Mappings", description = "Which customer subscription bills a tenant's usage, from which day."),
        (name = "User subscriptions", description = "Azure Stack user subscriptions and the customer each bills to."),
        (name = "Meters", description = "The meter catalogue and whether each meter is charged."),
        (name = "Registrations", description = "Azure Stack Hub registrations and their base subscriptions."),
        (name = "Price sheets", description = "Prices per meter, versioned by effective day."),
        (name = "Invoices", description = "Month-end runs, invoices, credit notes and their PDFs."),
        (name = "Ingestion", description = "Usage pushed from Azure Stack, the quarantine and the collector."),
        (name = "Users and tokens", description = "People who sign in and API tokens."),
        (name = "Audit", description = "Every change, who made it and when."),
    )
)]
pub struct ApiDoc;

/// The two ways to authenticate.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An API token: `Authorization: Bearer <token>`."))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                super::security::SESSION_COOKIE,
                "A signed-in browser session (writes also need a same-origin request).",
            ))),
        );
    }
}

/// Gives every response its description (OpenAPI 3.1 requires one): what the status
/// means in this API, where the handler's attribute gives none.
struct Describe;

impl Modify for Describe {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                for (status, response) in op.responses.responses.iter_mut() {
                    if let utoipa::openapi::RefOr::T(r) = response {
                        if r.description.is_empty() {
                            r.description = status_meaning(status).to_owned();
                        }
                    }
                }
            }
        }
    }
}

/// What a status means in this API.
fn status_meaning(status: &str) -> &'static str {
    match status {
        "200" => "Done.",
        "201" => "Created.",
        "400" => "The body is not the JSON this endpoint takes (the message says where).",
        "401" => "No valid token or session.",
        "403" => "The caller's role may not do this.",
        "404" => "Nothing with this id, or nothing the caller may see (the same answer either way).",
        "409" => "The change conflicts with what is stored (a duplicate, or a document already issued).",
        "413" => "The body is larger than this endpoint takes.",
        "422" => "A parameter or the body does not validate; `field` names it.",
        "503" => "Busy; `Retry-After` says when to try again.",
        _ => "See the error body.",
    }
}

/// The document as served, built once.
pub fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| ApiDoc::openapi().to_pretty_json().expect("the API document serialises"))
}

/// `GET /api/openapi.json`: public, like any published API description (it holds no data).
pub async fn serve() -> Response {
    (
        [
            (http::header::CONTENT_TYPE, "application/json"),
            (http::header::CACHE_CONTROL, "no-cache"),
        ],
        document(),
    )
        .into_response()
}

/// The errors every authenticated call may answer.
#[derive(IntoResponses)]
#[allow(dead_code)] // a description of responses, never built
pub enum Refusals {
    /// No valid token or session.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// The caller's role may not do this.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// A parameter or the body does not validate; `field` names it.
    #[response(status = 422)]
    Invalid(ErrorBody),
}

/// The errors a call that takes no input may answer.
#[derive(IntoResponses)]
#[allow(dead_code)] // a description of responses, never built
pub enum Denials {
    /// No valid token or session.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
    /// The caller's role may not do this.
    #[response(status = 403)]
    Forbidden(ErrorBody),
}

/// Paging of the counted lists.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // a description of parameters the handlers read by name
pub struct Paging {
    /// The opaque cursor from the previous page's `nextLink`.
    cursor: Option<String>,
    /// Items per page (1 to 500; default 50).
    limit: Option<i64>,
}

/// CSV instead of JSON (also with `Accept: text/csv`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct FormatParam {
    /// `csv` for CSV.
    format: Option<String>,
}

/// What `POST /api/v1/users/{id}/{action}` does.
#[derive(serde::Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
#[allow(dead_code)]
pub enum UserAction {
    /// The user may not sign in (sessions end).
    Disable,
    /// The user may sign in again.
    Enable,
    /// Every session of the user ends.
    SignOut,
    /// A new password (given, or generated and answered once).
    ResetPassword,
}
