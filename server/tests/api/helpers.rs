//! The test application and its client.

use app::i18n::Locale;
use app::ssr::auth::Caller;
use app::ssr::db::testing::TestDb;
use app::ssr::db::{self, customers::NewCustomer};
use app::ssr::services::accounts::{self, TokenInput, UserInput};
use app::ssr::AppState;
use app::types::Role;
use reqwest::cookie::CookieStore;
use reqwest::header::HeaderValue;
use server::config::Config;
use std::future::Future;
use std::sync::Arc;

/// A password every test user gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// A running application with a client that keeps cookies.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The application state (same database as the server).
    pub state: AppState,
    /// A client with its own cookie jar and no automatic redirects.
    pub client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
    test_db: Option<TestDb>,
}

/// Starts the real application on a fresh database of each configured engine and runs
/// the test body against it.
pub async fn for_each_app<F, Fut>(body: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = TestApp>,
{
    for test_db in TestDb::all().await {
        eprintln!("-- engine: {}", test_db.db.engine().name());
        let app = spawn_app_on(test_db).await;
        let app = body(app).await;
        app.dispose().await;
    }
}

/// [`for_each_app`] with a configuration change.
pub async fn for_each_app_with<F, Fut>(tweak: impl Fn(&mut Config), body: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = TestApp>,
{
    for test_db in TestDb::all().await {
        eprintln!("-- engine: {}", test_db.db.engine().name());
        let app = spawn_app_configured(test_db, &tweak).await;
        let app = body(app).await;
        app.dispose().await;
    }
}

/// Starts the real application on a fresh SQLite database.
pub async fn spawn_app() -> TestApp {
    spawn_app_on(TestDb::sqlite().await).await
}

/// Starts the real application on a fresh SQLite database with a configuration change.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_configured(TestDb::sqlite().await, tweak).await
}

async fn spawn_app_on(test_db: TestDb) -> TestApp {
    spawn_app_configured(test_db, |_| {}).await
}

async fn spawn_app_configured(test_db: TestDb, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = Config::for_database(&test_db.url);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.site_root = std::env::temp_dir().join("stackbill-tests-site").display().to_string();
    tweak(&mut config);
    app::ssr::services::catalogue::sync_meter_catalogue(&test_db.db, 0)
        .await
        .unwrap();
    // The settings the real server derives from its configuration (trusted proxy, public URL).
    let state = AppState::new(test_db.db.clone(), server::settings(&config));
    let running = server::spawn(&config, state.clone()).await.expect("server starts");
    let base = format!("http://{}", running.addr);
    let (client, jar) = new_client(&base);
    TestApp {
        base,
        state,
        client,
        jar,
        test_db: Some(test_db),
    }
}

/// A client acting like a browser on Stackbill's own pages: it keeps cookies and sends
/// the app's `Origin`, as browsers do on every form post and fetch.
fn new_client(base: &str) -> (reqwest::Client, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .default_headers(own_origin(base))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    (client, jar)
}

/// `Origin: <base>`.
pub fn own_origin(base: &str) -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ORIGIN, HeaderValue::from_str(base).unwrap());
    headers
}

impl TestApp {
    /// A full URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The session cookie the client holds, if any.
    pub fn session_cookie(&self) -> Option<String> {
        let url = self.base.parse().unwrap();
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .ok()?
            .split("; ")
            .find_map(|c| c.strip_prefix("stackbill_session=").map(str::to_owned))
    }

    /// A second client that sends the given session cookie (a stolen or old cookie).
    pub fn client_with_cookie(&self, session: &str) -> reqwest::Client {
        let jar = reqwest::cookie::Jar::default();
        let url = self.base.parse().unwrap();
        jar.set_cookies(
            &mut [HeaderValue::from_str(&format!("stackbill_session={session}")).unwrap()].iter(),
            &url,
        );
        reqwest::Client::builder()
            .cookie_provider(Arc::new(jar))
            .default_headers(own_origin(&self.base))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Posts the sign-in form as a script would.
    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/fn/sign_in"))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    /// Signs out.
    pub async fn sign_out(&self) -> reqwest::Response {
        self.client.post(self.url("/api/fn/sign_out")).send().await.unwrap()
    }

    /// Calls a server function without arguments.
    pub async fn call(&self, name: &str) -> reqwest::Response {
        self.client
            .post(self.url(&format!("/api/fn/{name}")))
            .send()
            .await
            .unwrap()
    }

    /// GETs a page as a browser would (Accept: text/html).
    pub async fn page(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("accept", "text/html")
            .send()
            .await
            .unwrap()
    }

    /// GETs with a bearer token (and no cookies).
    pub async fn get_with_token(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = reqwest::Client::new().get(self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.unwrap()
    }

    /// A customer with its cloud tenant; returns the customer id.
    pub async fn add_customer(&self, name: &str, tenant: &str) -> i64 {
        let mut c = self.state.db.conn().await.unwrap();
        let t = db::customers::upsert_cloud_tenant(&mut c, tenant, "", 0).await.unwrap();
        let new = NewCustomer {
            name,
            cloud_tenant_id: t,
            billing_email: "",
            billing_address: "",
            locale: "en",
            tax_id: "",
            payment_terms_days: None,
        };
        db::customers::insert_customer(&mut c, &new, 0).await.unwrap()
    }

    /// A user with [`PASSWORD`].
    pub async fn add_user(&self, email: &str, role: Role, customer_id: Option<i64>) -> i64 {
        let input = UserInput {
            email: email.into(),
            display_name: None,
            role,
            customer_id,
            password: PASSWORD.into(),
            locale: Locale::En,
        };
        accounts::create_user(&self.state, &Caller::cli(), input).await.unwrap()
    }

    /// An API token (an ingest token is scoped to the first registration).
    pub async fn add_token(&self, role: Role, customer_id: Option<i64>) -> String {
        let registration_id = if role == Role::Ingest {
            let mut c = self.state.db.conn().await.unwrap();
            let regs = db::registrations::list_registrations(&mut c).await.unwrap();
            Some(regs.first().expect("add a registration before an ingest token").id)
        } else {
            None
        };
        let input = TokenInput {
            name: format!("{role} script"),
            role,
            customer_id,
            registration_id,
            expires_in: None,
        };
        accounts::create_token(&self.state, &Caller::cli(), input)
            .await
            .unwrap()
            .1
    }

    /// A registration; returns its id.
    pub async fn add_registration(&self, name: &str) -> i64 {
        let mut c = self.state.db.conn().await.unwrap();
        db::registrations::insert_registration(
            &mut c,
            &db::registrations::NewRegistration {
                name,
                base_subscription_id: "dd8597b4-8739-4467-8b10-f8679f62bfbf",
                resource_group: "azurestack",
                currency: "USD",
                active_from: app::billing::dated::since_always(),
            },
            0,
        )
        .await
        .unwrap()
    }

    /// A row count.
    pub async fn count(&self, table: &str) -> i64 {
        let mut c = self.state.db.conn().await.unwrap();
        let q = format!("SELECT COUNT(*) FROM {table}");
        db::sql!(&mut c, |e| sqlx::query_scalar(&q).fetch_one(e).await).unwrap()
    }

    /// Shuts the database down and removes it.
    pub async fn dispose(mut self) {
        if let Some(db) = self.test_db.take() {
            db.dispose().await;
        }
    }
}

/// A usage record in the provider API's shape.
pub fn usage_json(sub: &str, meter: &str, start: &str, quantity: &str, resource: &str) -> String {
    let start_t: chrono::DateTime<chrono::Utc> = start.parse().unwrap();
    let end = (start_t + chrono::Duration::hours(1)).to_rfc3339();
    let instance = serde_json::json!({"Microsoft.Resources": {"resourceUri": resource, "location": "northwest", "tags": "null", "additionalInfo": ""}}).to_string();
    format!(
        r#"{{"id":"/subscriptions/x/providers/Microsoft.Commerce/UsageAggregate/{sub}-{meter}","name":"{sub}-{meter}","type":"Microsoft.Commerce/UsageAggregate","properties":{{"subscriptionId":"{sub}","usageStartTime":"{start}","usageEndTime":"{end}","instanceData":{},"quantity":{quantity},"meterId":"{meter}"}}}}"#,
        serde_json::to_string(&instance).unwrap()
    )
}

/// The JSON error body of a failed server function or API call.
pub async fn error_code(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.unwrap();
    body.get("error").unwrap_or(&body)["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A second browser: its own cookie jar, the app's `Origin`.
pub fn spawn_client(app: &TestApp) -> reqwest::Client {
    new_client(&app.base).0
}

/// Every `.route("path", …)` call in a router's source: the path, and the HTTP methods the
/// call registers (`get(…)`, `.post(…)`, `axum::routing::put(…)`, …). The route tables of
/// the isolation test and the OpenAPI test are read from the sources with this, so a route
/// added to the router is in both.
pub fn routes_in(src: &str) -> Vec<(String, Vec<&'static str>)> {
    const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(i) = rest.find(".route(") {
        rest = &rest[i + ".route(".len()..];
        // The call's arguments: up to the parenthesis that closes `.route(`.
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(j, _)| j)
            .expect("a closed .route( call");
        let args = &rest[..end];
        let start = args.find('"').unwrap() + 1;
        let path = args[start..start + args[start..].find('"').unwrap()].to_owned();
        let methods = METHODS
            .into_iter()
            .filter(|m| {
                args.match_indices(&format!("{m}("))
                    .any(|(k, _)| k == 0 || !args[..k].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
            })
            .collect();
        out.push((path, methods));
    }
    out
}
