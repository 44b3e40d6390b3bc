//! The OpenAPI document at `/api/openapi.json`: it is OpenAPI 3.1, it holds together
//! (every reference resolves, every path parameter is declared, operation ids are unique),
//! it lists exactly the routes the router registers under `/api/v1` with their methods,
//! and what the API really answers conforms to the schemas it documents.

use crate::helpers::{for_each_app_with, routes_in, spawn_app};
use crate::invoices::{call, invoices, issue_draft, run_month, setup};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// `(METHOD, path)` of every route the router's sources register under `/api/v1`.
fn registered_api_routes() -> BTreeSet<(String, String)> {
    let sources = [
        include_str!("../../src/routes/api.rs"),
        include_str!("../../src/routes/ingest.rs"),
    ];
    let mut out = BTreeSet::new();
    for (path, methods) in sources.into_iter().flat_map(routes_in) {
        for m in methods {
            out.insert((m.to_uppercase(), format!("/api/v1{path}")));
        }
    }
    out
}

fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for m in METHODS {
            if item.get(m).is_some() {
                out.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

/// Every `$ref` under `v`.
fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                match (k.as_str(), x) {
                    ("$ref", Value::String(r)) => out.push(r),
                    _ => refs(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

fn resolve<'a>(doc: &'a Value, r: &str) -> Option<&'a Value> {
    let name = r.strip_prefix("#/components/schemas/")?;
    doc["components"]["schemas"].get(name)
}

/// What is wrong with the document as a description of an API (empty: nothing).
fn problems(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if doc["openapi"] != "3.1.0" {
        out.push(format!("openapi is {}", doc["openapi"]));
    }
    if !doc["info"]["title"].is_string() || !doc["info"]["version"].is_string() {
        out.push("info needs a title and a version".into());
    }
    let mut all = Vec::new();
    refs(doc, &mut all);
    for r in all {
        if resolve(doc, r).is_none() {
            out.push(format!("unresolved reference {r}"));
        }
    }
    let tags: HashSet<&str> = doc["tags"]
        .as_array()
        .map(|t| t.iter().filter_map(|t| t["name"].as_str()).collect())
        .unwrap_or_default();
    let schemes = doc["components"]["securitySchemes"].as_object();
    for s in doc["security"].as_array().into_iter().flatten() {
        for name in s.as_object().unwrap().keys() {
            if !schemes.is_some_and(|x| x.contains_key(name)) {
                out.push(format!("security scheme {name} is not declared"));
            }
        }
    }
    let mut ids = HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let in_path: BTreeSet<&str> = path.split('{').skip(1).map(|s| &s[..s.find('}').unwrap()]).collect();
        for m in METHODS {
            let Some(op) = item.get(m) else { continue };
            let at = format!("{} {path}", m.to_uppercase());
            match op["operationId"].as_str() {
                Some(id) if ids.insert(id.to_owned()) => {}
                other => out.push(format!("{at}: operationId {other:?} missing or repeated")),
            }
            if op["summary"].as_str().is_none_or(str::is_empty) {
                out.push(format!("{at}: no summary"));
            }
            for t in op["tags"].as_array().into_iter().flatten() {
                if !tags.contains(t.as_str().unwrap_or("")) {
                    out.push(format!("{at}: tag {t} is not declared"));
                }
            }
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let declared: BTreeSet<&str> = params
                .iter()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            if declared != in_path {
                out.push(format!("{at}: path parameters {declared:?}, path has {in_path:?}"));
            }
            let mut seen = HashSet::new();
            for p in &params {
                if !seen.insert((p["in"].to_string(), p["name"].to_string())) {
                    out.push(format!("{at}: parameter {} twice", p["name"]));
                }
                if p["in"] == "path" && p["required"] != true {
                    out.push(format!("{at}: path parameter {} not required", p["name"]));
                }
                if !p["schema"].is_object() || !p["description"].is_string() {
                    out.push(format!(
                        "{at}: parameter {} needs a schema and a description",
                        p["name"]
                    ));
                }
            }
            let responses = op["responses"].as_object().cloned().unwrap_or_default();
            if !responses.keys().any(|k| k.starts_with('2')) {
                out.push(format!("{at}: no success response"));
            }
            if !responses.contains_key("401") {
                out.push(format!("{at}: no 401"));
            }
            for (status, r) in &responses {
                if !r["description"].is_string() {
                    out.push(format!("{at}: response {status} has no description"));
                }
            }
        }
    }
    out
}

/// Whether `v` conforms to `schema` (the JSON Schema subset the document uses: types,
/// required properties, items, enums, references and the combinators).
fn conforms(doc: &Value, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
    if let Some(r) = schema["$ref"].as_str() {
        return conforms(doc, resolve(doc, r).ok_or(format!("{at}: {r}"))?, v, at);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(alts) = schema[key].as_array() {
            let errors: Vec<String> = alts.iter().filter_map(|s| conforms(doc, s, v, at).err()).collect();
            if errors.len() == alts.len() {
                return Err(format!("{at}: no alternative of {key} fits: {errors:?}"));
            }
        }
    }
    for s in schema["allOf"].as_array().into_iter().flatten() {
        conforms(doc, s, v, at)?;
    }
    if let Some(t) = schema.get("type") {
        let types: Vec<&str> = match t {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let fits = types.iter().any(|t| match *t {
            "null" => v.is_null(),
            "object" => v.is_object(),
            "array" => v.is_array(),
            "string" => v.is_string(),
            "integer" => v.is_i64() || v.is_u64(),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            _ => true,
        });
        if !fits {
            return Err(format!("{at}: {v} is not {t}"));
        }
    }
    if let Some(e) = schema["enum"].as_array() {
        if !e.contains(v) {
            return Err(format!("{at}: {v} is not one of {e:?}"));
        }
    }
    if let Value::Object(o) = v {
        for r in schema["required"].as_array().into_iter().flatten() {
            let r = r.as_str().unwrap();
            if !o.contains_key(r) {
                return Err(format!("{at}: required property {r} is missing"));
            }
        }
        if let Some(props) = schema["properties"].as_object() {
            for (k, x) in o {
                if let Some(s) = props.get(k) {
                    conforms(doc, s, x, &format!("{at}.{k}"))?;
                }
            }
        }
    }
    if let (Value::Array(a), Some(items)) = (v, schema.get("items")) {
        for (i, x) in a.iter().enumerate() {
            conforms(doc, items, x, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// The documented JSON schema of `method template`'s answer with `status`.
fn response_schema<'a>(doc: &'a Value, method: &str, template: &str, status: u16) -> &'a Value {
    let op = &doc["paths"][template][method.to_lowercase()];
    let r = &op["responses"][status.to_string()];
    let r = match r["$ref"].as_str() {
        Some(name) => &doc["components"]["responses"][name.rsplit('/').next().unwrap()],
        None => r,
    };
    let s = &r["content"]["application/json"]["schema"];
    assert!(
        s.is_object(),
        "{method} {template} documents no JSON answer for {status}"
    );
    s
}

#[tokio::test]
async fn the_document_is_openapi_3_1_holds_together_and_lists_every_api_route() {
    // The document is the same whatever the engine.
    let app = spawn_app().await;
    {
        // Public: it describes the API and holds no data.
        let r = app.get_with_token("/api/openapi.json", None).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"));
        let doc: Value = r.json().await.unwrap();
        let found = problems(&doc);
        assert!(found.is_empty(), "{found:#?}");
        let registered = registered_api_routes();
        assert!(registered.len() >= 50, "the route parser found only {registered:?}");
        let documented = documented_routes(&doc);
        let missing: Vec<_> = registered.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&registered).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "routes not in the document: {missing:?}; documented but not routed: {extra:?}"
        );
        app.dispose().await;
    }
}

#[tokio::test]
async fn what_the_api_answers_conforms_to_the_document() {
    for_each_app_with(
        |c| c.invoice_grace_days = 0,
        |app| async move {
            let doc: Value = app
                .get_with_token("/api/openapi.json", None)
                .await
                .json()
                .await
                .unwrap();
            let (period, ids) = setup(&app, 2).await;
            assert_eq!(run_month(&app, period).await.0, 201);
            let drafts = invoices(&app, period).await;
            let (s, issued) = issue_draft(&app, &drafts[0]["id"], Some(json!({"waive_unpriced": true}))).await;
            assert_eq!(s, 200, "{issued}");
            let number = issued["number"].as_str().unwrap().to_owned();
            let (_, regs) = call(&app, Method::GET, "/api/v1/registrations", None).await;
            let reg = regs["value"][0]["id"].as_i64().unwrap();
            let (_, customers) = call(&app, Method::GET, "/api/v1/customers", None).await;
            let tenant = customers["value"][0]["cloud_tenant_id"].as_str().unwrap().to_owned();
            let (_, sheets) = call(&app, Method::GET, "/api/v1/price-sheets", None).await;
            let sheet = sheets["value"][0]["id"].as_i64().unwrap();
            let c = ids[0];
            let cases: Vec<(Method, &str, String, Option<Value>, u16)> = vec![
                (Method::GET, "/api/v1/me", "/api/v1/me".into(), None, 200),
                (Method::GET, "/api/v1/meters", "/api/v1/meters".into(), None, 200),
                (Method::GET, "/api/v1/registrations", "/api/v1/registrations".into(), None, 200),
                (Method::GET, "/api/v1/registrations/{id}", format!("/api/v1/registrations/{reg}"), None, 200),
                (Method::GET, "/api/v1/customers", "/api/v1/customers?limit=1".into(), None, 200),
                (Method::GET, "/api/v1/customers/{id}", format!("/api/v1/customers/{c}"), None, 200),
                (Method::GET, "/api/v1/customers/{id}/details", format!("/api/v1/customers/{c}/details"), None, 200),
                (Method::GET, "/api/v1/customers/{id}/cost", format!("/api/v1/customers/{c}/cost?period={period}"), None, 200),
                (
                    Method::GET,
                    "/api/v1/customers/{id}/usage",
                    format!("/api/v1/customers/{c}/usage?period={period}&group_by=day,meter&page_size=1"),
                    None,
                    200,
                ),
                (Method::GET, "/api/v1/mappings", "/api/v1/mappings".into(), None, 200),
                (
                    Method::GET,
                    "/api/v1/mappings/{cloud_tenant_id}/history",
                    format!("/api/v1/mappings/{tenant}/history"),
                    None,
                    200,
                ),
                (Method::GET, "/api/v1/user-subscriptions", "/api/v1/user-subscriptions".into(), None, 200),
                (Method::GET, "/api/v1/audit", "/api/v1/audit?limit=5".into(), None, 200),
                (Method::GET, "/api/v1/invoices", format!("/api/v1/invoices?period={period}"), None, 200),
                (Method::GET, "/api/v1/invoices/{key}", format!("/api/v1/invoices/{number}"), None, 200),
                (Method::GET, "/api/v1/invoice-lines", format!("/api/v1/invoice-lines?period={period}"), None, 200),
                (Method::GET, "/api/v1/price-sheets", "/api/v1/price-sheets".into(), None, 200),
                (Method::GET, "/api/v1/price-sheets/{id}", format!("/api/v1/price-sheets/{sheet}"), None, 200),
                (
                    Method::GET,
                    "/api/v1/price-sheets/{id}/versions",
                    format!("/api/v1/price-sheets/{sheet}/versions"),
                    None,
                    200,
                ),
                (Method::GET, "/api/v1/users", "/api/v1/users".into(), None, 200),
                (Method::GET, "/api/v1/tokens", "/api/v1/tokens".into(), None, 200),
                (Method::GET, "/api/v1/quarantine", "/api/v1/quarantine".into(), None, 200),
                (Method::GET, "/api/v1/collector", "/api/v1/collector".into(), None, 200),
                (
                    Method::POST,
                    "/api/v1/tokens",
                    "/api/v1/tokens".into(),
                    Some(json!({"name": "BI 報表", "role": "finance"})),
                    201,
                ),
                (
                    Method::POST,
                    "/api/v1/customers",
                    "/api/v1/customers".into(),
                    Some(json!({"name": "Société Générale 东方", "cloud_tenant_id": "0c9fd2a6-3a8e-4c2e-9f51-6d7a2b1c0e99"})),
                    201,
                ),
                // Errors answer the one documented error body.
                (Method::GET, "/api/v1/customers/{id}", "/api/v1/customers/999999".into(), None, 404),
                (Method::GET, "/api/v1/customers", "/api/v1/customers?limit=0".into(), None, 422),
            ];
            for (method, template, path, body, status) in cases {
                let (s, answer) = call(&app, method.clone(), &path, body).await;
                assert_eq!(s, status, "{method} {path}: {answer}");
                let schema = response_schema(&doc, method.as_str(), template, status);
                if let Err(e) = conforms(&doc, schema, &answer, "$") {
                    panic!("{method} {path} does not answer what the document says: {e}\n{answer:#}");
                }
            }
            // And the validator is not blind: a body missing a required property fails.
            let schema = response_schema(&doc, "GET", "/api/v1/me", 200);
            assert!(conforms(&doc, schema, &json!({"role": "operator"}), "$").is_err());
            app
        },
    )
    .await;
}
