//! What the intake refuses and what it keeps: an email over the limits is refused whole
//! (nothing half-stored), personal numbers are masked in what is stored, and the texts of
//! emails are purged on the documents' retention schedule.

use base64::Engine;
use serde_json::Value;

use e2e::TestApp;

use crate::api::take;

/// A multipart email with `files` attachments of `size` bytes each.
fn email_with(files: usize, size: usize, id: &str) -> Vec<u8> {
    let mut raw = format!(
        "From: Ivan <ivan@example.com>\r\nTo: refunds@byskills.by\r\nSubject: Возврат\r\n\
         Message-ID: <{id}@example.com>\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
         --b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nПрошу вернуть деньги.\r\n"
    );
    let body = base64::engine::general_purpose::STANDARD.encode(vec![b'%'; size]);
    for i in 0..files {
        raw.push_str(&format!(
            "--b\r\nContent-Type: application/pdf\r\n\
             Content-Disposition: attachment; filename=\"scan{i}.pdf\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n"
        ));
        for line in body.as_bytes().chunks(76) {
            raw.push_str(std::str::from_utf8(line).unwrap());
            raw.push_str("\r\n");
        }
    }
    raw.push_str("--b--\r\n");
    raw.into_bytes()
}

async fn counts(app: &TestApp) -> (i64, i64) {
    let requests: i64 = sqlx::query_scalar("SELECT count(*) FROM refund_requests")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let documents: i64 = sqlx::query_scalar("SELECT count(*) FROM documents")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    (requests, documents)
}

/// 2,000 attachments, or one of 20 MiB: refused whole with the reason kept, no request, no
/// document, no text of the message stored; 20 small ones are taken in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_email_over_the_limits_is_refused_whole() {
    let app = TestApp::spawn().await;
    for (raw, reason) in [
        (email_with(2000, 10, "many"), "2000 attachments; at most 20"),
        (
            email_with(1, 20 * 1024 * 1024, "big"),
            "over the 10485760-byte limit for one file",
        ),
    ] {
        let (status, outcome) = take(&app, &raw).await;
        assert_eq!(status, 422, "{outcome}");
        assert_eq!(outcome["outcome"], "refused", "{outcome}");
        assert!(
            outcome["error"].as_str().unwrap().contains(reason),
            "{outcome}"
        );
        let (outcome_stored, error, nothing_else): (String, String, bool) = sqlx::query_as(
            "SELECT outcome, error,
                    body_text IS NULL AND raw IS NULL AND sealed_raw IS NULL AND subject IS NULL AND request_id IS NULL
               FROM inbound_emails WHERE id = $1::uuid",
        )
        .bind(outcome["inbound_id"].as_str().unwrap())
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        assert_eq!(outcome_stored, "refused");
        assert!(error.contains(reason));
        assert!(nothing_else, "nothing half-stored");
        assert_eq!(counts(&app).await, (0, 0), "no request, no document");
    }
    let (status, outcome) = take(&app, &email_with(20, 10, "twenty")).await;
    assert_eq!(status, 201, "{outcome}");
    assert_eq!(counts(&app).await.1, 20);
    app.stop().await;
}

/// A personal number written in an email is masked in everything stored: the body kept with
/// the inbound row and the request's `reason_text`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_numbers_in_an_email_are_masked_before_storage() {
    let app = TestApp::spawn().await;
    let raw = "From: Aigerim <aigerim@example.kz>\r\nTo: refunds@kazgoods.kz\r\n\
               Subject: Возврат\r\nMessage-ID: <iin-1@example.kz>\r\n\
               Content-Type: text/plain; charset=utf-8\r\n\r\n\
               Прошу вернуть деньги, товар не доставлен. Мой ИИН 900512400127, \
               личный номер 3310589A012PB2.\r\n";
    let (status, outcome) = take(&app, raw.as_bytes()).await;
    assert!(status == 201 || status == 200, "{outcome}");
    let body: String =
        sqlx::query_scalar("SELECT body_text FROM inbound_emails WHERE id = $1::uuid")
            .bind(outcome["inbound_id"].as_str().unwrap())
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
    let facts: Vec<Value> = sqlx::query_scalar("SELECT facts FROM refund_requests")
        .fetch_all(&app.db.pool)
        .await
        .unwrap();
    let stored = format!("{body}\n{facts:?}");
    for number in ["900512400127", "3310589A012PB2"] {
        assert!(!stored.contains(number), "{number} in {stored}");
    }
    assert!(body.contains("90***27"), "{body}");
    app.stop().await;
}

/// The texts of emails are purged with their request's documents, and those of no request
/// that long after they arrived; what the audit needs stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_texts_are_purged_on_the_retention_schedule() {
    let app = TestApp::spawn().await;
    let pool = &app.db.pool;
    let junk = b"\x00\x01 not an email \xff";
    let (_, failed) = take(&app, junk).await;
    assert_eq!(failed["outcome"], "failed");
    let (_, recent) = take(&app, &email_with(1, 10, "recent")).await;
    // The failed one arrived 100 days ago; the other is recent.
    sqlx::query(
        "UPDATE inbound_emails SET received_at = now() - interval '100 days' WHERE id = $1::uuid",
    )
    .bind(failed["inbound_id"].as_str().unwrap())
    .execute(pool)
    .await
    .unwrap();
    let purged = shared::inbound_emails::purge(pool, 90).await.unwrap();
    assert_eq!(purged, 1);
    let (texts_gone, message_id, purged_at_set): (bool, String, bool) = sqlx::query_as(
        "SELECT raw IS NULL AND sealed_raw IS NULL AND sealed_key_id IS NULL AND body_text IS NULL, message_id,
                purged_at IS NOT NULL
           FROM inbound_emails WHERE id = $1::uuid",
    )
    .bind(failed["inbound_id"].as_str().unwrap())
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(texts_gone && purged_at_set);
    assert!(
        message_id.starts_with("sha256:"),
        "the audit keeps the message id"
    );
    let body: Option<String> =
        sqlx::query_scalar("SELECT body_text FROM inbound_emails WHERE id = $1::uuid")
            .bind(recent["inbound_id"].as_str().unwrap())
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(body.is_some(), "a recent email of an open request is kept");
    // The copy of an email sent to the customer about it (kept for the console).
    sqlx::query(
        "INSERT INTO notifications (id, request_id, event, recipient, status, subject, body_text, body_html)
         SELECT gen_random_uuid(), id, 'received', 'payer@example.com', 'sent', 's', 't', '<p>t</p>'
           FROM refund_requests",
    )
    .execute(pool)
    .await
    .unwrap();
    assert_eq!(shared::inbound_emails::purge(pool, 90).await.unwrap(), 0);
    let kept: i64 =
        sqlx::query_scalar("SELECT count(*) FROM notifications WHERE body_text IS NOT NULL")
            .fetch_one(pool)
            .await
            .unwrap();
    assert!(kept > 0, "the copies of an open request's emails are kept");
    // Its request ends and 100 days pass: its email's texts go too.
    sqlx::query(
        "UPDATE refund_requests SET state = 'rejected', ended_at = now() - interval '100 days'",
    )
    .execute(pool)
    .await
    .unwrap();
    assert_eq!(shared::inbound_emails::purge(pool, 90).await.unwrap(), 1);
    let body: Option<String> =
        sqlx::query_scalar("SELECT body_text FROM inbound_emails WHERE id = $1::uuid")
            .bind(recent["inbound_id"].as_str().unwrap())
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(body, None);
    let kept: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM notifications
          WHERE subject IS NOT NULL OR body_text IS NOT NULL OR body_html IS NOT NULL",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(kept, 0, "the copies of the emails sent about it go with it");
    app.stop().await;
}
