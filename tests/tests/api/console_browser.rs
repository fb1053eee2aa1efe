//! Issue #21's acceptance in a real browser: Debian's Chromium, headless, driven through
//! WebDriver (chromedriver from the `chromium-driver` package, installed by
//! `scripts/chromium`). A support agent signs in, submits an application from a payment found
//! by its transaction id, confirms a kz-saas-subscription refund from the queue; another
//! uploads an identity document for a kz-goods-store request; a supervisor switches a declined
//! payout to bank transfer; each signs out. A screenshot of every page is kept in
//! `target/console-screenshots/`.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chrono::NaiveDate;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use shared::api_keys::ApiRole;
use shared::lifecycle::RequestState;
use specimens::{Country, Document, Fonts, Kind, Person, draw};
use sqlx::PgPool;
use uuid::Uuid;

use e2e::{Pipeline, TestApp, TestBroker, eventually, wait_for_state};

const DRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// Set to `1` to skip the browser tests where Chromium cannot be installed.
const SKIP_VAR: &str = "REFUNDD_SKIP_CHROMIUM";

/// chromedriver on a port of its own, and the browser profile it uses: stopped and removed
/// when dropped (also when the test fails).
struct Driver {
    child: std::process::Child,
    url: String,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Chromium and chromedriver, installed by `scripts/chromium` when missing.
fn ensure_installed() -> Result<(), String> {
    if Path::new(DRIVER).exists() && Path::new(CHROMIUM).exists() {
        return Ok(());
    }
    let script = format!("{}/../scripts/chromium", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(&script)
        .output()
        .map_err(|e| format!("cannot run {script}: {e}"))?;
    if !out.status.success() || !Path::new(DRIVER).exists() {
        return Err(format!(
            "scripts/chromium failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(())
}

async fn start_driver() -> Option<Driver> {
    if let Err(e) = ensure_installed() {
        if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
            eprintln!("skipped: {e} ({SKIP_VAR}=1)");
            return None;
        }
        panic!("{e}; set {SKIP_VAR}=1 to skip the browser tests");
    }
    let port = free_port();
    let child = std::process::Command::new(DRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let url = format!("http://127.0.0.1:{port}");
    let up = eventually(Duration::from_secs(20), || {
        let status = format!("{url}/status");
        async move {
            reqwest::get(&status)
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await;
    assert!(up, "chromedriver did not answer on {url}");
    let profile = std::env::temp_dir().join(format!("refundd-console-{}", Uuid::new_v4()));
    Some(Driver {
        child,
        url,
        profile,
    })
}

async fn browser(driver: &Driver) -> Client {
    let profile = &driver.profile;
    let caps = json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,1800", "--lang=en-US",
                     format!("--user-data-dir={}", profile.display())]
        }
    });
    let Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session with Chromium")
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Keeps a screenshot of the page, after checking what a screen reader and a keyboard need:
/// a language, one heading to start from, and a label for every control.
async fn shot(c: &Client, name: &str) {
    let unlabelled = c
        .execute(
            "const bad = [];
             for (const e of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
               if (!e.labels || e.labels.length === 0) { bad.push(e.name || e.id || e.outerHTML); }
             }
             if (!document.documentElement.lang) { bad.push('<html> has no lang'); }
             if (document.querySelectorAll('h1').length !== 1) { bad.push('not exactly one h1'); }
             return bad;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        unlabelled,
        json!([]),
        "{name}: controls without a label, or no lang or h1"
    );
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

async fn fill(c: &Client, css: &str, text: &str) {
    let e = c
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"));
    e.clear().await.ok();
    e.send_keys(text).await.unwrap();
}

/// Whether a WebDriver error says the element went away under us: the page it was found on
/// was replaced by the next one (a form's answer, a redirect) between finding and using it.
fn went_stale(e: &fantoccini::error::CmdError) -> bool {
    let text = e.to_string();
    text.contains("stale element") || text.contains("does not belong to the document")
}

/// Clicks the element once it is there. A click on an element of a page being replaced is
/// refused by the browser (nothing was clicked), so it is found again on the new page.
async fn click(c: &Client, css: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let e = c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        match e.click().await {
            Ok(()) => return,
            Err(e) if went_stale(&e) && tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("click {css}: {e}"),
        }
    }
}

/// The element's text, waiting for it to appear (a page may still be loading).
async fn text_of(c: &Client, css: &str) -> String {
    text_when(c, css, |_| true).await
}

/// The element's text once it satisfies `wanted`, waiting up to 10 s: after a click the old
/// page's element may still be found, or go stale between finding it and reading it.
async fn text_when(c: &Client, css: &str, wanted: impl Fn(&str) -> bool) -> String {
    read_when(c, css, None, wanted).await
}

/// The element's text (`attribute` `None`) or the attribute's value, once it satisfies
/// `wanted`, waiting up to 10 s (see [`text_when`]).
async fn read_when(
    c: &Client,
    css: &str,
    attribute: Option<&str>,
    wanted: impl Fn(&str) -> bool,
) -> String {
    let what = attribute.map_or_else(|| css.to_owned(), |a| format!("{css} {a}"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let last = match c.find(Locator::Css(css)).await {
            Ok(e) => match attribute {
                None => e.text().await.map(Some),
                Some(name) => e.attr(name).await,
            },
            Err(e) => Err(e),
        };
        match last {
            Ok(Some(value)) if wanted(&value) => return value,
            _ if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(value) => panic!("{what}: not the value wanted after 10 s: {value:?}"),
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

async fn sign_in(c: &Client, app: &TestApp, key: &str, name: &str) {
    c.goto(&app.url("/console")).await.unwrap();
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/console/sign-in")
    );
    fill(c, "#key", key).await;
    shot(c, &format!("{name}-sign-in")).await;
    click(c, "#sign-in").await;
    // The click returns when the form is sent; the queue loads after the redirect.
    for _ in 0..50 {
        if c.current_url().await.unwrap().path() == "/console" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if c.current_url().await.unwrap().path() != "/console" {
        shot(c, &format!("{name}-sign-in-failed")).await;
        panic!(
            "sign-in did not reach the queue: {}",
            c.source().await.unwrap()
        );
    }
}

async fn sign_out(c: &Client, name: &str) {
    click(c, "#sign-out").await;
    assert!(
        text_of(c, "#signed-out")
            .await
            .contains("You are signed out")
    );
    shot(c, &format!("{name}-signed-out")).await;
}

/// A declined payout of `merchant`'s: payout_failed with its declined attempt.
async fn declined_payout(pool: &PgPool) -> Uuid {
    let id = e2e::insert_request(pool, RequestState::PayoutFailed).await;
    sqlx::query("UPDATE refund_requests SET amount_minor = 45000, currency = 'BYN', policy_id = 'by-online-courses' WHERE id = $1")
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO payout_attempts (id, request_id, payment_id, idempotency_key, gateway,
                                      amount_minor, currency, status, decline_reason)
         SELECT $2, r.id, r.payment_id, $3, 'sandbox', 45000, 'BYN', 'declined',
                'card closed by the issuer'
           FROM refund_requests r WHERE r.id = $1",
    )
    .bind(id)
    .bind(Uuid::now_v7())
    .bind(format!("payout-{id}"))
    .execute(pool)
    .await
    .unwrap();
    id
}

/// The payer's passport photographed, as a JPEG file.
fn passport_file() -> PathBuf {
    let fonts = Fonts::load();
    let mut rng = fastrand::Rng::with_seed(2112);
    let holder = Person {
        surname: "SEITKALI".into(),
        given_names: "AIGERIM".into(),
        sex: 'F',
        birth_date: NaiveDate::from_ymd_opt(1990, 5, 15).unwrap(),
    };
    let doc = Document::new(
        &mut rng,
        Country::Kz,
        Kind::Td3,
        holder,
        NaiveDate::from_ymd_opt(2031, 5, 14).unwrap(),
        true,
    );
    let photo = draw(&mut rng, &fonts, doc);
    let path =
        std::env::temp_dir().join(format!("refundd-console-passport-{}.jpg", Uuid::new_v4()));
    std::fs::write(&path, photo.jpeg).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn support_and_supervisors_do_their_work_in_the_browser() {
    let Some(driver) = start_driver().await else {
        return;
    };
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let sink = e2e::smtp_sink::SmtpSink::start().await;
    let pipeline = Pipeline::start_with_notify(&app.db, &broker, &sink).await;
    let intake = app.key(ApiRole::Intake).to_string();
    let saas_support = app.merchant_key(ApiRole::Support, "saas-kz").await;

    // A kz-saas-subscription refund waiting for a person's confirmation (§8.4).
    let saas = app
        .post_ok(
            "/v1/payments",
            &intake,
            json!({
                "merchant": "saas-kz", "policy": "kz-saas-subscription", "gateway": "sandbox",
                "gateway_transaction_id": "rk-console-1", "amount": "60000.00", "currency": "KZT",
                "paid_at": "2026-03-02T09:00:00+05:00",
                "customer": {"email": "client@example.kz", "language": "ru"}
            }),
        )
        .await;
    let waiting = app
        .post_ok(
            "/v1/refund-requests",
            &saas_support,
            json!({
                "payment": {"id": saas["id"]}, "reason": "withdrawal",
                "facts": {"access_started_at": "2026-03-02", "reason_text": "сервис не подошёл"},
                "received_at": "2026-03-10T12:00:00+05:00"
            }),
        )
        .await;
    let waiting = waiting["id"].as_str().unwrap().to_string();
    wait_for_state(&pool, &waiting, "awaiting_confirmation").await;
    // The payment a customer quotes by phone for a new application.
    app.post_ok(
        "/v1/payments",
        &intake,
        json!({
            "merchant": "saas-kz", "policy": "kz-saas-subscription", "gateway": "sandbox",
            "gateway_transaction_id": "rk-console-2", "amount": "24000.00", "currency": "KZT",
            "paid_at": chrono::Utc::now().to_rfc3339(),
            "customer": {"email": "second@example.kz", "language": "ru"}
        }),
    )
    .await;

    let c = browser(&driver).await;

    // 1. A support agent of saas-kz signs in and lands on the work queue.
    sign_in(&c, &app, &saas_support, "1-support").await;
    let queue = text_of(&c, "#queue").await;
    assert!(queue.contains("Awaiting confirmation"), "{queue}");
    shot(&c, "1-support-queue").await;

    // 2. A new application from the payment found by its transaction id, its decision shown
    //    before it is submitted.
    click(&c, "header nav a[href='/console/new']").await;
    fill(&c, "#q", "rk-console-2").await;
    click(&c, "#find").await;
    shot(&c, "2-new-found").await;
    click(&c, "#payments a[data-payment]").await;
    fill(&c, "#fact-reason_text", "не подошёл тариф").await;
    // Choosing the reason asks for the decision by itself (the page's small script); the
    // button does the same without the script.
    click(&c, "#reason option[value='withdrawal']").await;
    let live = text_of(&c, "#quote").await;
    assert!(live.contains("What the policy would decide now"), "{live}");
    click(&c, "#show-decision").await;
    // §8.3 counts 14 days from the access date, which nobody gave yet: the policy would ask.
    // The script may still be replacing the quote it showed for the reason alone.
    let kind = read_when(&c, "#quote-decision", Some("data-decision"), |k| {
        k == "needs_info"
    })
    .await;
    assert_eq!(kind, "needs_info");
    let asks = text_when(&c, "#quote-missing", |t| t.contains("access started at")).await;
    assert!(asks.contains("access started at"), "{asks}");
    shot(&c, "2-new-quote").await;
    click(&c, "#submit-application").await;
    let flash = text_of(&c, "#flash").await;
    assert!(flash.contains("The application is accepted"), "{flash}");
    let new_id = c
        .current_url()
        .await
        .unwrap()
        .path()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let made: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refund_requests WHERE id = $1::uuid AND merchant = 'saas-kz'",
    )
    .bind(&new_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(made, 1);
    shot(&c, "2-new-submitted").await;
    // The customer's receipt, opened as they received it.
    let sent = eventually(Duration::from_secs(30), || {
        let pool = pool.clone();
        let id = new_id.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM notifications WHERE request_id = $1::uuid AND status = 'sent'",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .is_ok_and(|n| n > 0)
        }
    })
    .await;
    assert!(sent, "no email was sent about the new application");
    c.refresh().await.unwrap();
    click(&c, "#emails a").await;
    let subject = text_of(&c, "#email-subject").await;
    let text = text_of(&c, "#email-text").await;
    // What the console shows is what the customer's mail program got.
    let got: Vec<(String, String)> = sink
        .delivered()
        .iter()
        .filter_map(|d| {
            let m = mail_parser::MessageParser::default().parse(&d.data)?;
            Some((m.subject()?.to_string(), m.body_text(0)?.to_string()))
        })
        .collect();
    assert!(
        got.iter()
            .any(|(s, t)| *s == subject && t.replace("\r\n", "\n").trim() == text.trim()),
        "shown: {subject}\n{text}\ndelivered: {got:?}"
    );
    shot(&c, "2-email-as-sent").await;

    // 3. Confirm the waiting refund from the queue; the amount comes prefilled.
    click(&c, "header nav a[href='/console']").await;
    click(&c, &format!("#queue a[href='/console/requests/{waiting}']")).await;
    let prefilled = c
        .find(Locator::Css("#confirm-amount"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(prefilled.as_deref(), Some("57391.30"));
    shot(&c, "3-confirm-request").await;
    click(&c, "#confirm").await;
    let flash = text_of(&c, "#flash").await;
    assert!(
        flash.contains("Confirmed: 57,391.30 KZT will be refunded"),
        "{flash}"
    );
    assert_eq!(text_of(&c, "#state").await, "approved");
    shot(&c, "3-confirmed").await;
    sign_out(&c, "3-support").await;

    // 4. A kz-goods-store agent uploads the customer's passport to their request.
    let goods_support = app.merchant_key(ApiRole::Support, "goods-kz").await;
    let goods = app
        .post_ok(
            "/v1/payments",
            &intake,
            json!({
                "merchant": "goods-kz", "policy": "kz-goods-store", "gateway": "sandbox",
                "gateway_transaction_id": "cp-console-1", "amount": "18990.00", "currency": "KZT",
                "paid_at": (chrono::Utc::now() - chrono::Duration::days(3)).to_rfc3339(),
                "cardholder_name": "SEITKALI AIGERIM",
                "customer": {"email": "aigerim.s@mail.kz", "language": "kk"}
            }),
        )
        .await;
    let goods_request = app
        .post_ok(
            "/v1/refund-requests",
            &goods_support,
            json!({
                "payment": {"id": goods["id"]}, "reason": "not_delivered",
                "facts": {"reason_text": "тауар жеткізілмеді"}
            }),
        )
        .await;
    let goods_request = goods_request["id"].as_str().unwrap().to_string();
    sign_in(&c, &app, &goods_support, "4-goods").await;
    c.goto(&app.url(&format!("/console/requests/{goods_request}")))
        .await
        .unwrap();
    let passport = passport_file();
    c.find(Locator::Css("#upload-file"))
        .await
        .unwrap()
        .send_keys(passport.to_str().unwrap())
        .await
        .unwrap();
    shot(&c, "4-upload-form").await;
    click(&c, "#upload").await;
    let flash = text_of(&c, "#flash").await;
    assert!(flash.contains("The document is added"), "{flash}");
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM documents WHERE request_id = $1::uuid AND kind = 'identity_document'",
    )
    .bind(&goods_request)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(stored, 1);
    // The validate stage reads it from the scan; the page then shows what was read.
    let read = eventually(Duration::from_secs(30), || {
        let pool = pool.clone();
        let id = goods_request.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT validation->>'scan' FROM documents WHERE request_id = $1::uuid",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .ok()
            .flatten()
            .is_some_and(|s| s != "pending")
        }
    })
    .await;
    assert!(read, "the passport was not read");
    c.refresh().await.unwrap();
    let documents = text_of(&c, "#documents").await;
    assert!(documents.contains("SEITKALI"), "{documents}");
    shot(&c, "4-document-read").await;
    sign_out(&c, "4-goods").await;
    std::fs::remove_file(passport).ok();

    // 5. A supervisor switches a declined payout to bank transfer, from the queue.
    let declined = declined_payout(&pool).await;
    let supervisor = app.merchant_key(ApiRole::Supervisor, "demo").await;
    sign_in(&c, &app, &supervisor, "5-supervisor").await;
    let queue = text_of(&c, "#queue").await;
    assert!(queue.contains("card closed by the issuer"), "{queue}");
    assert!(
        !queue.contains("saas-kz") && !queue.contains("goods-kz"),
        "another merchant's row: {queue}"
    );
    click(
        &c,
        &format!("#queue a[href='/console/requests/{declined}']"),
    )
    .await;
    fill(&c, "#bt-reason", "the card is closed").await;
    fill(&c, "#bt-details", "LV80BANK0000435195001 Swedbank").await;
    fill(&c, "#bt-holder", "IVAN IVANOV").await;
    shot(&c, "5-bank-transfer-form").await;
    click(&c, "#bank-transfer").await;
    let flash = text_of(&c, "#flash").await;
    assert!(flash.contains("Switched to bank transfer"), "{flash}");
    assert_eq!(text_of(&c, "#state").await, "manual payout");
    shot(&c, "5-bank-transfer-done").await;

    // 6. In Russian, dates and amounts as Russian writes them.
    c.find(Locator::Css("#language option[value='ru']"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.find(Locator::Css(".who form[action='/console/language'] button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    // The queue's page is reloaded in Russian; until then the English one is still there.
    text_when(&c, "h1", |h| h.contains("Очередь работы")).await;
    shot(&c, "6-queue-ru").await;
    click(&c, "#sign-out").await;
    shot(&c, "6-signed-out-ru").await;
    c.goto(&app.url("/console")).await.unwrap();
    assert!(
        c.current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/console/sign-in")
    );

    c.close().await.unwrap();
    pipeline.stop().await;
    broker.cleanup().await;
    app.stop().await;
}
