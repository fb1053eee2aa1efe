//! Small conventions a person running `refundd` notices (issue 16): logs written to a file or
//! a pipe carry no terminal colour codes.

use std::process::{Command, Stdio};

use e2e::{TestDb, refundd_bin};

#[tokio::test]
async fn logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let db = TestDb::new().await;
    let url = db.url.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(refundd_bin())
            .arg("migrate")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", url)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .output()
            .expect("run refundd migrate")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("schema is up to date"), "{stderr}");
    assert!(!stderr.contains('\u{1b}'), "colour codes in {stderr:?}");
    db.drop_database().await;
}

/// `refundd` reports the database's own refusal ("too many connections"), not only that its
/// pool timed out.
#[tokio::test]
async fn the_databases_own_error_is_reported_not_only_a_pool_timeout() {
    let db = TestDb::new().await;
    let role = format!("limited_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE ROLE {role} LOGIN CONNECTION LIMIT 0"))
        .execute(&db.pool)
        .await
        .unwrap();
    let base = e2e::admin_database_url();
    let url = base.replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    assert_ne!(
        url, base,
        "the test needs TEST_DATABASE_URL as postgres://postgres@host/..."
    );
    let out = tokio::task::spawn_blocking(move || {
        Command::new(refundd_bin())
            .args(["payouts", "export", "--format", "csv"])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", url)
            .env("REFUNDD_DEV_MODE", "1")
            .stdin(Stdio::null())
            .output()
            .expect("run refundd")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("too many connections for role \"{role}\"")),
        "{stderr}"
    );
    sqlx::query(&format!("DROP ROLE {role}"))
        .execute(&db.pool)
        .await
        .unwrap();
    db.drop_database().await;
}
