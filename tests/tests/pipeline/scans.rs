//! Reading a picture never holds up other requests: the validate stage reads on the blocking
//! pool, outside any transaction, so with a single async thread (the worst case) the
//! requests that arrive while a slow scan is being read are validated before it finishes.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use shared::documents::{self, DocumentKeys, NewDocument};
use shared::lifecycle::RequestState;
use shared::messages::{Stage, WorkMessage};
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::support::publish;
use e2e::{TestBroker, TestDb, eventually, insert_request};

/// A large photo of nothing (12 megapixels of noise): no MRZ, and every orientation is tried.
fn slow_picture() -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(5);
    let picture = image::RgbImage::from_fn(4000, 3000, |_, _| {
        image::Rgb([rng.u8(..), rng.u8(..), rng.u8(..)])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&picture)
        .unwrap();
    jpeg
}

async fn scan_state(pool: &PgPool, request: Uuid) -> String {
    sqlx::query_scalar("SELECT validation->>'scan' FROM documents WHERE request_id = $1")
        .bind(request)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn state(pool: &PgPool, request: Uuid) -> String {
    sqlx::query_scalar("SELECT state FROM refund_requests WHERE id = $1")
        .bind(request)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[tokio::test(flavor = "current_thread")]
async fn requests_arriving_while_a_slow_scan_is_read_are_validated_before_it_ends() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let keys = DocumentKeys::development();

    let slow = insert_request(&db.pool, RequestState::Received).await;
    let bytes = slow_picture();
    let mut conn = db.pool.acquire().await.unwrap();
    documents::store(
        &mut conn,
        &keys,
        &NewDocument {
            request_id: slow,
            kind: "identity_document",
            content_type: Some("image/jpeg"),
            bytes: &bytes,
            fields: json!({"source": "upload"}),
            validation: json!({"valid": false, "problems": [], "scan": documents::SCAN_PENDING}),
        },
    )
    .await
    .unwrap();
    drop(conn);
    let quick: Vec<Uuid> = {
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(insert_request(&db.pool, RequestState::Received).await);
        }
        ids
    };

    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(shared::broker::consumer::run(
        shared::broker::consumer::ConsumerConfig {
            amqp_url: broker.url.clone(),
            topology: broker.topology.clone(),
            stage: Stage::Validate,
            prefetch: 8,
            shutdown_grace: Duration::from_secs(8),
        },
        Arc::new(workers::roles::validate::Validate::new(
            db.pool.clone(),
            Arc::new(shared::policy::PolicyPacks::builtin().clone()),
            Arc::new(shared::calendar::Calendars::builtin()),
            keys,
        )),
        shutdown.clone(),
    ));
    let started = std::time::Instant::now();
    publish(&broker, &WorkMessage::new(Stage::Validate, slow)).await;
    // The slow request's batch starts and its picture is being read...
    let pool = db.pool.clone();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(scan_state(&db.pool, slow).await, "pending");
    // ...when three more arrive: they are validated while it is still being read.
    for id in &quick {
        publish(&broker, &WorkMessage::new(Stage::Validate, *id)).await;
    }
    let all_quick_done = eventually(Duration::from_secs(20), || {
        let pool = pool.clone();
        let quick = quick.clone();
        async move {
            for id in quick {
                if state(&pool, id).await == "received" {
                    return false;
                }
            }
            true
        }
    })
    .await;
    assert!(all_quick_done, "the quick requests were not validated");
    eprintln!("quick done after {:?}", started.elapsed());
    let after_quick = scan_state(&db.pool, slow).await;
    // And the slow one is read in the end: nothing found, recorded, the request validated.
    assert!(
        eventually(Duration::from_secs(60), || {
            let pool = pool.clone();
            async move { scan_state(&pool, slow).await == "read" }
        })
        .await
    );
    eprintln!("slow read after {:?}", started.elapsed());
    assert_eq!(
        after_quick, "pending",
        "the slow scan finished first: the quick requests waited for it"
    );
    assert!(
        eventually(Duration::from_secs(10), || {
            let pool = pool.clone();
            async move { state(&pool, slow).await != "received" }
        })
        .await
    );
    shutdown.cancel();
    worker.await.unwrap();
    broker.cleanup().await;
}
