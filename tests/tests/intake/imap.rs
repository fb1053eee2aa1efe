//! `refundd intake-email` against a real Dovecot (`scripts/dovecot`): messages in the folder
//! are taken in once and moved to Processed or Failed after their commit; a message already
//! taken in (a crash before the move) is moved without doubling anything. Over `imaps://` the
//! server's certificate must chain to the webpki roots or to `REFUNDD_IMAP_CA_FILE`.

use std::sync::Arc;
use std::time::Duration;

use async_imap::Session;
use futures_util::TryStreamExt;
use shared::config::ImapUrl;
use sqlx::PgPool;
use tokio::net::TcpStream;
use uuid::Uuid;

use e2e::TestApp;
use workers::intake::imap::{self, ImapConfig};
use workers::intake::{Intake, Source};

const PORT: u16 = 10143;
/// Dovecot's implicit-TLS port; its certificate (localhost, 127.0.0.1) is signed by [`CA`].
const TLS_PORT: u16 = 10993;
const CA: &str = "/tmp/refundd-dovecot/ca.pem";
const USER: &str = "refunds";
const PASSWORD: &str = "refunds-test";

fn corpus(file: &str) -> Vec<u8> {
    let path = format!(
        "{}/../shared/tests/corpus/emails/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Set to `1` to skip the IMAP tests where Dovecot cannot be installed.
const SKIP_VAR: &str = "REFUNDD_SKIP_DOVECOT";

/// Whether the test can go on: Dovecot is up (started when needed). Without it the test
/// fails, naming why, unless `REFUNDD_SKIP_DOVECOT=1` says to skip.
async fn dovecot_or_skip() -> bool {
    match dovecot().await {
        Ok(()) => true,
        Err(reason) if std::env::var(SKIP_VAR).as_deref() == Ok("1") => {
            println!("SKIPPED ({SKIP_VAR}=1): Dovecot is not available ({reason})");
            false
        }
        Err(reason) => panic!(
            "Dovecot is not available ({reason}); run scripts/dovecot as root, or set \
             {SKIP_VAR}=1 to skip the IMAP tests"
        ),
    }
}

/// Dovecot on 127.0.0.1:10143 (plain) and :10993 (TLS), started by `scripts/dovecot` when it
/// is not running with both (the script restarts an older one without TLS, one caller at a
/// time); the reason when it cannot be.
async fn dovecot() -> Result<(), String> {
    async fn both_open() -> bool {
        TcpStream::connect(("127.0.0.1", PORT)).await.is_ok()
            && TcpStream::connect(("127.0.0.1", TLS_PORT)).await.is_ok()
            && std::path::Path::new(CA).is_file()
    }
    if both_open().await {
        return Ok(());
    }
    let script = format!("{}/../scripts/dovecot", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(&script)
        .output()
        .map_err(|e| format!("cannot run {script}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "scripts/dovecot failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    if both_open().await {
        Ok(())
    } else {
        Err(format!(
            "Dovecot started but 127.0.0.1:{PORT} or :{TLS_PORT} refuses, or {CA} is missing"
        ))
    }
}

async fn session() -> Session<TcpStream> {
    let tcp = TcpStream::connect(("127.0.0.1", PORT)).await.unwrap();
    let mut client = async_imap::Client::new(tcp);
    client.read_response().await.unwrap().unwrap();
    client
        .login(USER, PASSWORD)
        .await
        .map_err(|(e, _)| e)
        .unwrap()
}

async fn uids(s: &mut Session<TcpStream>, folder: &str) -> usize {
    s.select(folder).await.unwrap();
    s.uid_search("ALL").await.unwrap().len()
}

async fn subjects(s: &mut Session<TcpStream>, folder: &str) -> Vec<String> {
    s.select(folder).await.unwrap();
    let fetches: Vec<_> = s
        .fetch("1:*", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]")
        .await
        .unwrap()
        .try_collect()
        .await
        .unwrap();
    let mut ids: Vec<String> = fetches
        .iter()
        .filter_map(|f| {
            f.header()
                .map(|h| String::from_utf8_lossy(h).trim().to_string())
        })
        .collect();
    ids.sort();
    ids
}

/// The intake as the API builds it, over the demo merchants and the shipped packs.
fn intake_over(pool: &PgPool) -> Intake {
    Intake::new(
        pool.clone(),
        Arc::new(shared::merchants::Merchants::demo()),
        Arc::new(shared::policy::PolicyPacks::builtin().clone()),
        shared::documents::DocumentKeys::development(),
        workers::intake::IntakeSettings::default(),
    )
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mailbox_is_read_once_and_every_message_is_filed() {
    if !dovecot_or_skip().await {
        return;
    }
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    sqlx::query(
        "INSERT INTO payments (id, merchant, policy_id, gateway, gateway_txn_id, amount_minor,
                               currency, paid_at, customer_email)
         VALUES ($1, 'goods-kz', 'kz-goods-store', 'sandbox', '2904418001', 2450000, 'KZT',
                 now() - interval '3 days', 'yelena.kim@mail.kz')",
    )
    .bind(Uuid::now_v7())
    .execute(&pool)
    .await
    .unwrap();
    // Folders of this test's own, so runs never see each other's mail.
    let run = format!("t{}", &Uuid::new_v4().simple().to_string()[..10]);
    let (inbox, processed, failed) = (
        format!("{run}-in"),
        format!("{run}-Processed"),
        format!("{run}-Failed"),
    );
    let intake = intake_over(&pool);

    let mut s = session().await;
    s.create(&inbox).await.unwrap();
    let application = corpus("15_ru_attachment_jpeg.eml");
    // Taken in before (through the webhook, or by a reader that crashed before moving it).
    let earlier = corpus("11_en_sender_amount.eml");
    let first = intake.take(&earlier, Source::Api).await.unwrap();
    assert_eq!(first.outcome, "created");
    for raw in [
        &application[..],
        &corpus("24_autoreply_auto_submitted.eml")[..],
        b"Subject: nobody sent this\r\nMessage-ID: <orphan@x>\r\n\r\nno sender at all\r\n",
        &earlier[..],
        &application[..],
    ] {
        s.append(&inbox, None, None, raw).await.unwrap();
    }
    assert_eq!(uids(&mut s, &inbox).await, 5);

    let url = ImapUrl::parse(&format!(
        "imap://{USER}:{PASSWORD}@127.0.0.1:{PORT}/{inbox}"
    ))
    .unwrap();
    let config = ImapConfig {
        url,
        processed_folder: processed.clone(),
        failed_folder: failed.clone(),
        poll_interval: Duration::from_secs(1),
        ca_file: None,
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let reader = tokio::spawn(imap::run(intake.clone(), config, shutdown.clone()));

    let mut done = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if uids(&mut s, &inbox).await == 0
            && s.select(&processed).await.is_ok()
            && uids(&mut s, &processed).await == 4
        {
            done = true;
            break;
        }
    }
    assert!(done, "the reader did not file the five messages");
    assert_eq!(uids(&mut s, &failed).await, 1);
    assert_eq!(subjects(&mut s, &failed).await, ["Message-ID: <orphan@x>"]);

    // Two requests: the application (once, though it came twice) and the earlier one.
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        2
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM inbound_emails WHERE message_id = 'ru15.yk@mail.kz'
                AND source = 'imap' AND outcome = 'created'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM inbound_emails WHERE outcome = 'ignored' AND kind = 'auto_reply'"
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM inbound_emails WHERE outcome = 'failed' AND sealed_raw IS NOT NULL"
        )
        .await,
        1
    );

    // New mail while the reader waits (IDLE) is taken in too.
    let later = corpus("16_kk_attachments_png_pdf.eml");
    s.append(&inbox, None, None, &later).await.unwrap();
    let mut seen = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if count(&pool, "SELECT count(*) FROM inbound_emails").await == 5 {
            seen = true;
            break;
        }
    }
    assert!(seen, "the message appended later was not taken in");

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("the reader stops on shutdown")
        .unwrap();
    s.logout().await.ok();
    app.stop().await;
}

/// An application from customer `i`: a new sender, an order number nobody registered.
fn application(run: &str, i: usize) -> Vec<u8> {
    format!(
        "From: Customer {i} <customer{i}.{run}@example.com>\r\n\
         To: refunds@shop.example\r\n\
         Subject: Refund for order {i}\r\n\
         Message-ID: <app-{i}.{run}@example.com>\r\n\
         Date: Fri, 20 Nov 2026 10:00:00 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Hello, I want to return my purchase and get a refund for order ORD-{i}.\r\n\
         Customer {i}\r\n"
    )
    .into_bytes()
}

/// A reply to the request tagged `tag`, with one small PNG scan attached.
fn reply_with_scan(run: &str, i: usize, tag: &str, sender: &str) -> Vec<u8> {
    // A 1x1 PNG.
    const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
    format!(
        "From: {sender}\r\n\
         To: refunds@shop.example\r\n\
         Subject: Re: [{tag}] Refund\r\n\
         Message-ID: <reply-{i}.{run}@example.com>\r\n\
         Date: Fri, 20 Nov 2026 11:00:00 +0000\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b{i}\"\r\n\
         \r\n\
         --b{i}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\
         \r\n\
         Here is scan number {i}.\r\n\
         --b{i}\r\n\
         Content-Type: image/png\r\n\
         Content-Disposition: attachment; filename=\"scan-{i}.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\
         \r\n\
         {PNG}\r\n\
         --b{i}--\r\n"
    )
    .into_bytes()
}

/// `refundd intake-email` is SIGKILLed twice in the middle of a batch and started again: every
/// message ends up as exactly one application or one attachment, and in exactly one folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_reader_mid_batch_loses_and_doubles_nothing() {
    if !dovecot_or_skip().await {
        return;
    }
    const APPLICATIONS: usize = 120;
    const REPLIES: usize = 40;
    const TOTAL: usize = APPLICATIONS + REPLIES;
    let db = e2e::TestDb::new().await;
    // The reader needs no broker; its settings still name one.
    let broker = e2e::TestBroker::new(&[Duration::from_secs(1)]);
    let pool = db.pool.clone();
    let run = format!("k{}", &Uuid::new_v4().simple().to_string()[..10]);
    let (inbox, processed, failed) = (
        format!("{run}-in"),
        format!("{run}-Processed"),
        format!("{run}-Failed"),
    );

    // The request the replies continue, opened earlier by email.
    let intake = intake_over(&pool);
    let first = intake
        .take(&application(&run, 0), Source::Api)
        .await
        .unwrap();
    assert_eq!(first.outcome, "created");
    let existing = first.request_id.unwrap();
    let tag = shared::intake::RequestTag::for_request(existing).to_string();
    let sender = format!("customer0.{run}@example.com");

    // Applications and replies interleaved, as a busy mailbox has them.
    let mut s = session().await;
    s.create(&inbox).await.unwrap();
    let mut replies = 0;
    for i in 1..=APPLICATIONS {
        s.append(&inbox, None, None, &application(&run, i))
            .await
            .unwrap();
        if i % 3 == 0 && replies < REPLIES {
            replies += 1;
            s.append(
                &inbox,
                None,
                None,
                &reply_with_scan(&run, replies, &tag, &sender),
            )
            .await
            .unwrap();
        }
    }
    while replies < REPLIES {
        replies += 1;
        s.append(
            &inbox,
            None,
            None,
            &reply_with_scan(&run, replies, &tag, &sender),
        )
        .await
        .unwrap();
    }
    assert_eq!(uids(&mut s, &inbox).await, TOTAL);

    let url = format!("imap://{USER}:{PASSWORD}@127.0.0.1:{PORT}/{inbox}");
    let env = [
        ("REFUNDD_IMAP_URL", url.as_str()),
        ("REFUNDD_IMAP_PROCESSED_FOLDER", processed.as_str()),
        ("REFUNDD_IMAP_FAILED_FOLDER", failed.as_str()),
        ("REFUNDD_IMAP_POLL_INTERVAL", "1s"),
    ];
    let taken = || async {
        // The row the earlier application wrote is not part of the batch.
        count(
            &pool,
            "SELECT count(*) FROM inbound_emails WHERE source = 'imap'",
        )
        .await as usize
    };
    // Two kills, each once the reader is well into the batch and before it is through.
    let mut kills = Vec::new();
    for at in [TOTAL / 4, TOTAL / 2] {
        let mut reader = e2e::refundd_with(&db, &broker, &["intake-email"], &env);
        let reached =
            e2e::eventually(Duration::from_secs(60), || async { taken().await >= at }).await;
        if let Some(status) = reader.try_wait().unwrap() {
            panic!("refundd intake-email exited by itself ({status}); see its log above");
        }
        reader.kill().expect("SIGKILL the reader");
        reader.wait().unwrap();
        assert!(reached, "the reader did not take {at} messages in a minute");
        let when = taken().await;
        assert!(
            when < TOTAL,
            "the reader was through the batch before the kill ({when} of {TOTAL}): nothing tested"
        );
        kills.push(when);
    }
    let mut reader = e2e::refundd_with(&db, &broker, &["intake-email"], &env);
    let mut done = false;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if uids(&mut s, &inbox).await == 0 {
            done = true;
            break;
        }
    }
    e2e::terminate(&reader);
    e2e::wait_exit(&mut reader, Duration::from_secs(10));
    let _ = reader.kill();
    assert!(
        done,
        "the inbox was not emptied after the restarts (kills at {kills:?})"
    );

    // Every message filed once; nothing failed.
    assert_eq!(uids(&mut s, &processed).await, TOTAL);
    assert!(s.select(&failed).await.is_err() || uids(&mut s, &failed).await == 0);
    // One inbound row per message.
    assert_eq!(taken().await, TOTAL);
    assert_eq!(
        count(
            &pool,
            "SELECT count(DISTINCT message_id) FROM inbound_emails WHERE source = 'imap'"
        )
        .await as usize,
        TOTAL
    );
    // Each application is exactly one request; each reply exactly one document on the
    // request it continues, and no request of its own.
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await as usize,
        APPLICATIONS + 1
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(*) FROM inbound_emails
              WHERE source = 'imap' AND outcome = 'created' AND request_id IS NOT NULL"
        )
        .await as usize,
        APPLICATIONS
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(DISTINCT request_id) FROM inbound_emails
              WHERE source = 'imap' AND outcome = 'created'"
        )
        .await as usize,
        APPLICATIONS
    );
    let attached: Vec<Uuid> = sqlx::query_scalar(
        "SELECT request_id FROM inbound_emails WHERE source = 'imap' AND outcome = 'attached'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(attached.len(), REPLIES);
    assert!(attached.iter().all(|id| *id == existing));
    assert_eq!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM documents WHERE request_id = $1")
            .bind(existing)
            .fetch_one(&pool)
            .await
            .unwrap() as usize,
        REPLIES
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM documents").await as usize,
        REPLIES
    );
    println!("killed at {kills:?} of {TOTAL} messages; all {TOTAL} taken in exactly once");
    s.logout().await.ok();
    db.drop_database().await;
}

/// The reader's settings for `folder` over TLS at `host`.
fn tls_config(host: &str, folder: &str, ca_file: Option<&str>) -> ImapConfig {
    ImapConfig {
        url: ImapUrl::parse(&format!(
            "imaps://{USER}:{PASSWORD}@{host}:{TLS_PORT}/{folder}"
        ))
        .unwrap(),
        processed_folder: format!("{folder}-Processed"),
        failed_folder: format!("{folder}-Failed"),
        poll_interval: Duration::from_secs(1),
        ca_file: ca_file.map(Into::into),
    }
}

/// Whether, within 10 s, `inbox` is empty and `processed` holds `n` messages.
async fn filed(s: &mut Session<TcpStream>, inbox: &str, processed: &str, n: usize) -> bool {
    for _ in 0..100 {
        if uids(s, inbox).await == 0
            && s.select(processed).await.is_ok()
            && uids(s, processed).await == n
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// `refundd intake-email` over `imaps://` with `REFUNDD_IMAP_CA_FILE` naming the test server's
/// CA: it logs in, takes in what is in the folder and files it, and what arrives while it
/// waits (IDLE over TLS) too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_with_the_ca_file_the_mailbox_is_read() {
    if !dovecot_or_skip().await {
        return;
    }
    let run = format!("s{}", &Uuid::new_v4().simple().to_string()[..10]);
    let inbox = format!("{run}-in");
    // The certificate names localhost and 127.0.0.1: both are accepted with the CA.
    for host in ["localhost", "127.0.0.1"] {
        imap::check_connection(&tls_config(host, &inbox, Some(CA)))
            .await
            .unwrap_or_else(|e| panic!("imaps to {host} with the CA file: {e:#}"));
    }

    let db = e2e::TestDb::new().await;
    // The reader needs no broker; its settings still name one.
    let broker = e2e::TestBroker::new(&[Duration::from_secs(1)]);
    let pool = db.pool.clone();
    let mut s = session().await;
    s.create(&inbox).await.unwrap();
    s.append(&inbox, None, None, &application(&run, 1))
        .await
        .unwrap();

    let config = tls_config("localhost", &inbox, Some(CA));
    let url = format!("imaps://{USER}:{PASSWORD}@localhost:{TLS_PORT}/{inbox}");
    let env = [
        ("REFUNDD_IMAP_URL", url.as_str()),
        ("REFUNDD_IMAP_CA_FILE", CA),
        (
            "REFUNDD_IMAP_PROCESSED_FOLDER",
            config.processed_folder.as_str(),
        ),
        ("REFUNDD_IMAP_FAILED_FOLDER", config.failed_folder.as_str()),
        ("REFUNDD_IMAP_POLL_INTERVAL", "1s"),
    ];
    let mut reader = e2e::refundd_with(&db, &broker, &["intake-email"], &env);
    let taken = |n: i64| {
        let pool = pool.clone();
        async move {
            count(
                &pool,
                "SELECT count(*) FROM inbound_emails WHERE source = 'imap' AND outcome = 'created'",
            )
            .await
                == n
        }
    };
    let first = e2e::eventually(Duration::from_secs(30), || taken(1)).await;
    if let Some(status) = reader.try_wait().unwrap() {
        panic!("refundd intake-email exited by itself ({status}); see its log above");
    }
    assert!(first, "the message in the folder was not taken in over TLS");
    assert!(
        filed(&mut s, &inbox, &config.processed_folder, 1).await,
        "the message was not moved to the processed folder"
    );
    assert_eq!(
        subjects(&mut s, &config.processed_folder).await,
        [format!("Message-ID: <app-1.{run}@example.com>")]
    );

    // Mail arriving while the reader waits on the TLS connection.
    s.append(&inbox, None, None, &application(&run, 2))
        .await
        .unwrap();
    assert!(
        e2e::eventually(Duration::from_secs(30), || taken(2)).await,
        "the message appended later was not taken in over TLS"
    );
    assert!(
        filed(&mut s, &inbox, &config.processed_folder, 2).await,
        "the later message was not moved to the processed folder"
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM refund_requests").await,
        2
    );

    e2e::terminate(&reader);
    let status = e2e::wait_exit(&mut reader, Duration::from_secs(10));
    let _ = reader.kill();
    assert!(
        status.is_some_and(|s| s.success()),
        "refundd intake-email did not stop cleanly on SIGTERM: {status:?}"
    );
    s.logout().await.ok();
    db.drop_database().await;
}

/// Without the CA file the test server's certificate chains to nothing the reader trusts: the
/// connection is refused for the certificate, and the reader takes nothing in (it retries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_without_the_ca_file_the_certificate_is_refused() {
    if !dovecot_or_skip().await {
        return;
    }
    let run = format!("u{}", &Uuid::new_v4().simple().to_string()[..10]);
    let inbox = format!("{run}-in");
    let config = tls_config("localhost", &inbox, None);
    let err = imap::check_connection(&config)
        .await
        .expect_err("a certificate of an unknown CA is accepted");
    let text = format!("{err:#}");
    assert!(
        text.contains("TLS handshake with localhost failed")
            && text.contains("invalid peer certificate")
            && text.contains("UnknownIssuer"),
        "{text}"
    );

    // The reader keeps retrying and takes nothing in.
    let db = e2e::TestDb::new().await;
    let mut s = session().await;
    s.create(&inbox).await.unwrap();
    s.append(&inbox, None, None, &application(&run, 1))
        .await
        .unwrap();
    let intake = Intake {
        pool: db.pool.clone(),
        merchants: Arc::new(shared::merchants::Merchants::demo()),
        document_keys: shared::documents::DocumentKeys::development(),
        default_merchant: None,
        replies_per_day: 3,
        limits: Default::default(),
        packs: Arc::new(shared::policy::PolicyPacks::builtin().clone()),
    };
    let shutdown = tokio_util::sync::CancellationToken::new();
    let reader = tokio::spawn(imap::run(intake, config, shutdown.clone()));
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !reader.is_finished(),
        "the reader gave up instead of retrying"
    );
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM inbound_emails").await,
        0
    );
    assert_eq!(uids(&mut s, &inbox).await, 1);
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("the reader stops on shutdown")
        .unwrap();
    s.logout().await.ok();
    db.drop_database().await;
}

/// A CA file that is not there stops `refundd intake-email` before it does anything: one line
/// naming the setting, exit code 2.
#[test]
fn a_missing_ca_file_is_a_bad_setting() {
    let missing = format!("/tmp/refundd-no-such-ca-{}.pem", Uuid::new_v4());
    let out = std::process::Command::new(e2e::refundd_bin())
        .arg("intake-email")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "REFUNDD_IMAP_URL",
            format!("imaps://{USER}:{PASSWORD}@localhost:{TLS_PORT}/INBOX"),
        )
        .env("REFUNDD_IMAP_CA_FILE", &missing)
        .output()
        .expect("run refundd");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("REFUNDD_IMAP_CA_FILE")
            && stderr.contains("cannot read")
            && stderr.contains(&missing),
        "{stderr}"
    );
}
