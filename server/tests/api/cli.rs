//! The `stackbill` binary's handling of bad input.

use app::ssr::db::testing::TestDb;
use std::process::{Command, Output, Stdio};

pub fn stackbill(database_url: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stackbill"));
    cmd.args(args)
        .env("DATABASE_URL", database_url)
        .env("STACKBILL_LOG", "error")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("run stackbill");
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn temp_sqlite(name: &str) -> String {
    let dir = std::env::temp_dir().join("stackbill-cli-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    format!("sqlite:{}", path.display())
}

#[test]
fn a_malformed_database_url_is_one_line_naming_the_problem() {
    let out = stackbill("mysql://root:hunter2@db/x", &["migrate"], None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("DATABASE_URL"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[test]
fn an_unreachable_database_is_one_line_and_a_non_zero_exit() {
    let out = stackbill("postgres://stackbill:pw@127.0.0.1:1/stackbill", &["migrate"], None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("cannot open the database"), "{err}");
    assert!(!err.contains(":pw@"), "{err}");
}

#[tokio::test]
async fn a_failed_migration_refuses_to_start() {
    let url = temp_sqlite("failed-migration");
    // A database whose `meters` table is not ours: the first migration cannot apply.
    let options: sqlx::sqlite::SqliteConnectOptions = url
        .parse::<sqlx::sqlite::SqliteConnectOptions>()
        .unwrap()
        .create_if_missing(true);
    let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::query("CREATE TABLE meters (x INTEGER)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    for args in [&["migrate"][..], &["serve"][..]] {
        let out = stackbill(&url, args, None);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("migration failed"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

#[tokio::test]
async fn user_add_refuses_bad_input_and_writes_nothing() {
    let t = TestDb::sqlite().await;
    let url = t.url.clone();
    let cases: [(&[&str], &str); 5] = [
        (
            &["user", "add", "--email", "not-an-email", "--role", "operator"],
            "--email",
        ),
        (
            &["user", "add", "--email", "a@example.test", "--role", "admin"],
            "invalid value 'admin'",
        ),
        (
            &["user", "add", "--email", "a@example.test", "--role", "customer"],
            "--customer",
        ),
        (
            &[
                "user",
                "add",
                "--email",
                "a@example.test",
                "--role",
                "finance",
                "--customer",
                "1",
            ],
            "--customer",
        ),
        (
            &[
                "user",
                "add",
                "--email",
                "a@example.test",
                "--role",
                "customer",
                "--customer",
                "Nobody Inc",
            ],
            "no customer named",
        ),
    ];
    for (args, expected) in cases {
        let out = stackbill(&url, args, None);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    let out = stackbill(
        &url,
        &[
            "user",
            "add",
            "--email",
            "b@example.test",
            "--role",
            "operator",
            "--password-stdin",
        ],
        Some("short\n"),
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--password"), "{}", stderr(&out));

    let mut c = t.db.conn().await.unwrap();
    assert_eq!(
        app::ssr::db::users::count_users(&mut c).await.unwrap(),
        0,
        "nothing was written"
    );
    drop(c);

    // And the happy paths: a generated password is printed once; stdin is honoured.
    let out = stackbill(
        &url,
        &["user", "add", "--email", "Ops@Example.test", "--role", "operator"],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Created operator user ops@example.test"), "{stdout}");
    assert!(stdout.contains("Password: "), "{stdout}");
    let out = stackbill(
        &url,
        &[
            "user",
            "add",
            "--email",
            "f@example.test",
            "--role",
            "finance",
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Password:"));
    let mut c = t.db.conn().await.unwrap();
    assert_eq!(app::ssr::db::users::count_users(&mut c).await.unwrap(), 2);
    drop(c);
    t.dispose().await;
}

#[tokio::test]
async fn token_create_prints_the_token_once_and_stores_only_its_hash() {
    let t = TestDb::sqlite().await;
    let added = stackbill(
        &t.url,
        &[
            "registration",
            "add",
            "--name",
            "azs-1",
            "--subscription",
            "dd8597b4-8739-4467-8b10-f8679f62bfbf",
        ],
        None,
    );
    assert!(added.status.success(), "{}", stderr(&added));
    // Without its registration an ingest token is refused; bad lifetimes too.
    for (args, expected) in [
        (
            vec!["token", "create", "--role", "ingest", "--name", "c"],
            "--registration",
        ),
        (
            vec![
                "token",
                "create",
                "--role",
                "ingest",
                "--name",
                "c",
                "--registration",
                "nope",
            ],
            "no registration named `nope`",
        ),
        (
            vec![
                "token",
                "create",
                "--role",
                "finance",
                "--name",
                "c",
                "--expires-in",
                "-5d",
            ],
            "--expires-in",
        ),
    ] {
        let out = stackbill(&t.url, &args, None);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
    let out = stackbill(
        &t.url,
        &[
            "token",
            "create",
            "--role",
            "ingest",
            "--name",
            "collector",
            "--registration",
            "azs-1",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("never expires"), "{stdout}");
    let listed = stackbill(&t.url, &["token", "list"], None);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("collector") && listed.contains("for registration azs-1"),
        "{listed}"
    );
    let token = stdout
        .lines()
        .find(|l| l.starts_with("sbk_"))
        .expect("the token is printed")
        .to_owned();
    let mut c = t.db.conn().await.unwrap();
    let stored: Vec<(String, Vec<u8>)> = app::ssr::db::sql!(&mut c, |e| sqlx::query_as(
        "SELECT token_prefix, token_hash FROM api_tokens"
    )
    .fetch_all(e)
    .await)
    .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].1, app::ssr::auth::hash_token(&token));
    assert!(token.starts_with(&stored[0].0));
    drop(c);
    let out = stackbill(&t.url, &["token", "create", "--role", "customer", "--name", "x"], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--customer"));
    t.dispose().await;
}

#[tokio::test]
async fn mappings_are_set_replaced_the_same_day_and_listed_with_their_history() {
    let t = TestDb::sqlite().await;
    let url = t.url.clone();
    let run = |args: &[&str]| stackbill(&url, args, None);
    let out = run(&[
        "registration",
        "add",
        "--name",
        "azs-1",
        "--subscription",
        "dd8597b4-8739-4467-8b10-f8679f62bfbf",
        "--active-from",
        "2026-01-01",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let tenant = "DBAB3982796F4D039908044C08AEF8A2";
    let set = |sub: &str| {
        run(&[
            "mapping",
            "set",
            "--tenant",
            tenant,
            "--subscription",
            sub,
            "--effective-on",
            "2026-02-01",
        ])
    };
    let out = set("e09a4e93-29a7-4eba-a6d4-76202383f07f");
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("from 2026-02-01 00:00 UTC (was the base subscription)"),
        "{stdout}"
    );
    let out = set("5144634d-7e4d-443b-a304-d27e44220fc6");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("replaces the earlier change for that day"));
    let out = run(&["mapping", "history", "--tenant", tenant]);
    let history = String::from_utf8_lossy(&out.stdout);
    assert_eq!(history.lines().count(), 2, "{history}");
    assert!(
        history
            .lines()
            .nth(1)
            .unwrap()
            .contains("replaced by a later change the same day"),
        "{history}"
    );
    // Bad input: a day before the registration, a malformed day, a bad GUID.
    for (args, expected) in [
        (
            vec!["mapping", "remove", "--tenant", tenant, "--effective-on", "2025-12-01"],
            "before registration `azs-1` starts",
        ),
        (
            vec!["mapping", "remove", "--tenant", tenant, "--effective-on", "1 Feb"],
            "--effective-on: `1 Feb` is not a date",
        ),
        (
            vec![
                "mapping",
                "set",
                "--tenant",
                "nope",
                "--subscription",
                "5144634d-7e4d-443b-a304-d27e44220fc6",
            ],
            "--tenant: `nope` is not a valid cloud tenant ID",
        ),
    ] {
        let out = run(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
    // Pull options out of range are refused before anything runs.
    for (args, expected) in [
        (vec!["pull", "--settle-minutes", "-5"], "0 to 1440 minutes"),
        (vec!["pull", "--settle-minutes", "1500"], "0 to 1440 minutes"),
        (
            vec!["pull", "--from", "2999-01-01T00:00:00Z", "--to", "2999-01-02T00:00:00Z"],
            "reaches into the future",
        ),
    ] {
        let out = run(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr(&out).contains(expected), "{args:?}: {}", stderr(&out));
    }
    let out = run(&["rollups", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    t.dispose().await;
}
