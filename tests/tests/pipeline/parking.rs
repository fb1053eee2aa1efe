//! The parking queue for operators: a message RabbitMQ dropped at a stage queue's delivery
//! limit is recognised (it carries only `x-death`), listing changes nothing, and a replay puts
//! live requests' messages back to work and drops those whose request has finished.

use lapin::BasicProperties;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
};
use lapin::types::{AMQPValue, FieldTable, LongString};
use shared::broker::parking::{self, Filter};
use shared::broker::{HEADER_ATTEMPT, HEADER_REASON, HEADER_STAGE, header_int};
use shared::lifecycle::RequestState;
use shared::messages::{Stage, WorkMessage};

use crate::support::publish;
use e2e::{TestBroker, TestDb, insert_request};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parked_messages_are_listed_with_their_reason_and_replayed_or_dropped() {
    let db = TestDb::new().await;
    let broker = TestBroker::new(&[std::time::Duration::from_millis(200)]);
    broker.declare().await;
    let live = insert_request(&db.pool, RequestState::Received).await;
    let done = insert_request(&db.pool, RequestState::Refunded).await;

    // A validate message whose consumer keeps giving it back: RabbitMQ drops it at the
    // delivery limit, into parking, with `x-death` and no reason of ours.
    let dropped = WorkMessage::new(Stage::Validate, live);
    publish(&broker, &dropped).await;
    let conn = shared::broker::connect(&broker.url, "test").await.unwrap();
    let ch = conn.create_channel().await.unwrap();
    let queue = broker.topology.stage_queue(Stage::Validate);
    for _ in 0..20 {
        let Some(m) = ch
            .basic_get(&queue, BasicGetOptions::default())
            .await
            .unwrap()
        else {
            break;
        };
        m.delivery
            .acker
            .nack(BasicNackOptions {
                requeue: true,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    // A payout message the consumer parked, for a request that has since been refunded.
    let parked = WorkMessage::new(Stage::Payout, done);
    let mut headers = FieldTable::default();
    headers.insert(
        HEADER_REASON.into(),
        AMQPValue::LongString(LongString::from(
            "gave up after 4 attempts; last error: gateway timed out",
        )),
    );
    headers.insert(
        HEADER_STAGE.into(),
        AMQPValue::LongString(LongString::from("payout")),
    );
    headers.insert(HEADER_ATTEMPT.into(), AMQPValue::LongLongInt(3));
    ch.confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    ch.basic_publish(
        &broker.topology.parking(),
        "request.payout",
        BasicPublishOptions::default(),
        &serde_json::to_vec(&parked).unwrap(),
        BasicProperties::default()
            .with_headers(headers)
            .with_message_id(parked.message_id.to_string().into()),
    )
    .await
    .unwrap()
    .await
    .unwrap();

    let all = Filter::default();
    let listed = parking::list(&broker.url, &broker.topology, &all)
        .await
        .unwrap();
    assert_eq!(listed.len(), 2, "{listed:?}");
    let by_limit = listed.iter().find(|p| p.request_id == Some(live)).unwrap();
    assert_eq!(by_limit.stage, Some(Stage::Validate));
    assert!(
        by_limit.reason.contains("delivery limit"),
        "{}",
        by_limit.reason
    );
    let given_up = listed.iter().find(|p| p.request_id == Some(done)).unwrap();
    assert_eq!((given_up.stage, given_up.attempt), (Some(Stage::Payout), 3));
    assert!(given_up.reason.contains("gateway timed out"));
    // Looking changes nothing, however often (no delivery counted).
    for _ in 0..3 {
        assert_eq!(
            parking::list(&broker.url, &broker.topology, &all)
                .await
                .unwrap()
                .len(),
            2
        );
    }
    let only_payout = Filter {
        stage: Some(Stage::Payout),
        reason: None,
    };
    assert_eq!(
        parking::list(&broker.url, &broker.topology, &only_payout)
            .await
            .unwrap()
            .len(),
        1
    );
    let by_reason = Filter {
        stage: None,
        reason: Some("DELIVERY LIMIT".into()),
    };
    assert_eq!(
        parking::list(&broker.url, &broker.topology, &by_reason)
            .await
            .unwrap()[0]
            .request_id,
        Some(live)
    );

    // Replay: the live request's message goes back to work, the finished one's is dropped.
    let pool = &db.pool;
    let finished =
        |ids: Vec<uuid::Uuid>| async move { shared::requests::over_among(pool, &ids).await };
    let result = parking::replay(&broker.url, &broker.topology, &all, finished)
        .await
        .unwrap();
    assert_eq!(
        result
            .replayed
            .iter()
            .map(|p| p.request_id)
            .collect::<Vec<_>>(),
        [Some(live)]
    );
    assert_eq!(
        result
            .dropped
            .iter()
            .map(|p| p.request_id)
            .collect::<Vec<_>>(),
        [Some(done)]
    );
    assert_eq!(result.kept, 0);
    assert!(
        parking::list(&broker.url, &broker.topology, &all)
            .await
            .unwrap()
            .is_empty()
    );
    let back = ch
        .basic_get(&queue, BasicGetOptions::default())
        .await
        .unwrap()
        .expect("the replayed message is on the validate queue");
    let body: WorkMessage = serde_json::from_slice(&back.delivery.data).unwrap();
    assert_eq!(body.message_id, dropped.message_id);
    assert_eq!(
        header_int(back.delivery.properties.headers().as_ref(), HEADER_ATTEMPT),
        Some(0)
    );
    back.delivery
        .acker
        .ack(BasicAckOptions::default())
        .await
        .unwrap();
    conn.close(200, "done").await.ok();
    broker.cleanup().await;
    db.drop_database().await;
}
