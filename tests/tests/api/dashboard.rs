//! `GET /dashboard`: how a browser signs in (HTTP Basic with the key as the password, reads
//! only), and the page as headless Chromium renders it: the at-risk table lists exactly the
//! requests at risk or breached, text is escaped, and a screenshot is kept as a test artifact.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chrono::Utc;
use shared::api_keys::ApiRole;
use uuid::Uuid;

use crate::helpers::{Seed, client, payment_body, problem, seed};
use e2e::TestApp;

const CHROMIUM: &str = "/usr/bin/chromium";
/// Set to `1` to skip the browser test where Chromium cannot be installed.
const SKIP_VAR: &str = "REFUNDD_SKIP_CHROMIUM";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_is_asked_for_the_key_and_may_only_read_with_it() {
    let app = TestApp::spawn().await;
    let r = client().get(app.url("/dashboard")).send().await.unwrap();
    let challenges: Vec<String> = r
        .headers()
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    assert!(
        challenges.iter().any(|c| c.starts_with("Basic realm=")),
        "{challenges:?}"
    );
    let p = problem(r, 401).await;
    assert!(p["detail"].as_str().unwrap().contains("password"), "{p}");

    let r = client()
        .get(app.url("/dashboard"))
        .basic_auth("anyone", Some(app.key(ApiRole::Viewer)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    let html = r.text().await.unwrap();
    assert!(html.contains(r#"<meta http-equiv="refresh" content="60">"#));
    assert!(!html.contains("<script"));

    // The same Basic credentials read other endpoints too, so the page's links work ...
    let r = client()
        .get(app.url("/v1/refund-requests"))
        .basic_auth("anyone", Some(app.key(ApiRole::Supervisor)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // ... but never write: a browser's remembered key cannot be used from another site.
    let r = client()
        .post(app.url("/v1/payments"))
        .basic_auth("anyone", Some(app.key(ApiRole::Supervisor)))
        .json(&payment_body("tx-basic"))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
    let r = client()
        .get(app.url("/dashboard"))
        .basic_auth("anyone", Some("rfd_wrong"))
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
    app.stop().await;
}

/// Chromium is there, installed by `scripts/chromium` when missing; `Err` when it cannot be.
fn ensure_chromium() -> Result<(), String> {
    if Path::new(CHROMIUM).exists() {
        return Ok(());
    }
    let script = format!("{}/../scripts/chromium", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(&script)
        .output()
        .map_err(|e| format!("cannot run {script}: {e}"))?;
    if !out.status.success() || !Path::new(CHROMIUM).exists() {
        return Err(format!(
            "scripts/chromium failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

/// Runs headless Chromium with `args` in a profile directory of its own; kills it (and its
/// helper processes) after 60 s. Returns what it printed.
async fn chromium(args: &[String]) -> String {
    let profile = std::env::temp_dir().join(format!("refundd-chromium-{}", Uuid::new_v4()));
    std::fs::create_dir_all(&profile).unwrap();
    let child = tokio::process::Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .expect("chromium starts");
    let group = child.id().expect("chromium has a pid");
    let outcome = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output()).await;
    let _ = std::fs::remove_dir_all(&profile);
    match outcome {
        Ok(out) => {
            let out = out.expect("chromium runs");
            assert!(
                out.status.success(),
                "chromium {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).expect("the DOM is UTF-8")
        }
        Err(_) => {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", &format!("-{group}")])
                .status();
            panic!("chromium {args:?} did not finish within 60 s; killed");
        }
    }
}

/// Where test artifacts go: `test-artifacts/` in the target directory.
fn artifacts_dir() -> PathBuf {
    let target = match std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from) {
        Some(dir) if dir.is_absolute() => dir,
        Some(dir) => Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(dir),
        // The test binary lives in <target>/<profile>/deps.
        None => std::env::current_exe()
            .unwrap()
            .ancestors()
            .nth(3)
            .expect("test binary inside a target directory")
            .to_path_buf(),
    };
    target.join("test-artifacts")
}

/// The `data-request-id`s of the rows of the table with `id="at-risk"`.
fn at_risk_rows(dom: &str) -> Vec<String> {
    let start = dom
        .find(r#"<table id="at-risk""#)
        .unwrap_or_else(|| panic!("no at-risk table in {dom}"));
    let table = &dom[start..start + dom[start..].find("</table>").unwrap()];
    table
        .split(r#"data-request-id=""#)
        .skip(1)
        .map(|rest| rest[..rest.find('"').unwrap()].to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_shows_the_requests_at_risk_and_keeps_a_screenshot() {
    if let Err(reason) = ensure_chromium() {
        if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
            println!("SKIPPED: Chromium is not available ({reason}); {SKIP_VAR}=1");
            return;
        }
        panic!(
            "Chromium is not available ({reason}); run scripts/chromium as root, or set {SKIP_VAR}=1 to skip this test"
        );
    }
    let app = TestApp::spawn().await;
    let today = Utc::now().date_naive();
    let day = |n: i64| Some(today + chrono::Duration::days(n));
    let due_tomorrow = seed(&app, Seed::open("at_risk", day(1))).await;
    let late = seed(&app, Seed::open("breached", day(-2))).await;
    let due_today = seed(
        &app,
        Seed {
            merchant: "goods-kz",
            policy: "kz-goods-store",
            ..Seed::open("at_risk", day(0))
        },
    )
    .await;
    // A merchant id that is markup: it must show as text.
    let markup = seed(
        &app,
        Seed {
            merchant: "<i>x</i>&co",
            ..Seed::open("breached", day(-1))
        },
    )
    .await;
    // Most urgent first: by due date.
    let expected: Vec<String> = [late, markup, due_today, due_tomorrow]
        .iter()
        .map(Uuid::to_string)
        .collect();
    let on_track = [
        seed(&app, Seed::open("on_track", day(6))).await,
        seed(&app, Seed::open("paused", day(2))).await,
        // Breached when it ended: no longer anyone's worry.
        seed(
            &app,
            Seed {
                state: "refunded",
                ended_at: Some(Utc::now()),
                ..Seed::open("breached", day(-4))
            },
        )
        .await,
    ];
    let url = app.url("/dashboard").replacen(
        "http://",
        &format!("http://viewer:{}@", app.key(ApiRole::Viewer)),
        1,
    );

    let dom = chromium(&["--dump-dom".into(), url.clone()]).await;
    let listed = at_risk_rows(&dom);
    assert_eq!(listed, expected, "the at-risk table");
    for id in on_track {
        assert!(!dom.contains(&id.to_string()), "{id} is not at risk");
    }
    assert!(
        dom.contains("&lt;i&gt;x&lt;/i&gt;&amp;co"),
        "escaped merchant"
    );
    assert!(
        !dom.contains("<i>x</i>"),
        "markup from data must not render"
    );
    // Tiles: byskills has one at risk and one breached (the ended one no longer counts).
    let tile = |merchant: &str| {
        let start = dom
            .find(&format!(r#"data-merchant="{merchant}""#))
            .unwrap_or_else(|| panic!("no tile for {merchant}"));
        dom[start..start + dom[start..].find("</div>").unwrap()].to_string()
    };
    let byskills = tile("byskills");
    assert!(byskills.contains(r#"class="open">4<"#), "{byskills}");
    assert!(
        byskills.contains(r#"class="at-risk some">1<"#),
        "{byskills}"
    );
    assert!(
        byskills.contains(r#"class="breached some">1<"#),
        "{byskills}"
    );
    assert!(byskills.contains("0 % (0 of 1)"), "{byskills}");
    assert!(tile("goods-kz").contains(r#"class="breached">0<"#));
    assert!(dom.contains("ООО «Байскилз»"));
    assert!(dom.contains(&format!(r#"href="/v1/refund-requests/{}""#, expected[0])));
    assert_eq!(dom.matches("<svg").count(), 2, "two charts");

    let dir = artifacts_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let png = dir.join("dashboard.png");
    let _ = std::fs::remove_file(&png);
    chromium(&[
        format!("--screenshot={}", png.display()),
        "--window-size=1280,1600".into(),
        url,
    ])
    .await;
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert!(bytes.len() > 1000, "{} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    println!("screenshot: {}", png.display());
    app.stop().await;
}
