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
