//! The audit trail cannot be rewritten, and a writer holding an old version cannot overwrite.

use serde_json::json;
use shared::lifecycle::RequestState;
use shared::transition::{self, Transition, TransitionError};

use e2e::{TestDb, insert_request};

fn transition(
    request_id: uuid::Uuid,
    version: i32,
    from: RequestState,
    to: RequestState,
) -> Transition<'static> {
    Transition {
        request_id,
        expected_version: version,
        from,
        to,
        actor: "test",
        reason: Some("test"),
        details: json!({}),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_version_write_fails_and_leaves_the_row_unchanged() {
    let db = TestDb::new().await;
    let id = insert_request(&db.pool, RequestState::Received).await;

    // Two writers read version 1; the first wins.
    let mut tx = db.pool.begin().await.unwrap();
    let v = transition::apply(
        &mut tx,
        &transition(id, 1, RequestState::Received, RequestState::Validating),
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(v, 2);

    let mut tx = db.pool.begin().await.unwrap();
    let err = transition::apply(
        &mut tx,
        &transition(id, 1, RequestState::Received, RequestState::Withdrawn),
        &[],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            TransitionError::Stale {
                expected_version: 1,
                ..
            }
        ),
        "{err}"
    );
    tx.rollback().await.unwrap();

    let (state, version): (String, i32) =
        sqlx::query_as("SELECT state, version FROM refund_requests WHERE id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), version), ("validating", 2));
    let events: i64 =
        sqlx::query_scalar("SELECT count(*) FROM request_events WHERE request_id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(events, 1, "only the winning transition is in the history");
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_illegal_transition_is_refused_before_touching_the_row() {
    let db = TestDb::new().await;
    let id = insert_request(&db.pool, RequestState::Received).await;
    let mut tx = db.pool.begin().await.unwrap();
    let err = transition::apply(
        &mut tx,
        &transition(id, 1, RequestState::Received, RequestState::PayoutPending),
        &[],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, TransitionError::Illegal(_)));
    assert_eq!(
        err.to_string(),
        "a request cannot go from received to payout_pending"
    );
    tx.rollback().await.unwrap();
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_events_cannot_be_updated_or_deleted() {
    let db = TestDb::new().await;
    let id = insert_request(&db.pool, RequestState::Received).await;
    let mut tx = db.pool.begin().await.unwrap();
    transition::apply(
        &mut tx,
        &transition(id, 1, RequestState::Received, RequestState::Validating),
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let update =
        sqlx::query("UPDATE request_events SET actor = 'someone else' WHERE request_id = $1")
            .bind(id)
            .execute(&db.pool)
            .await
            .unwrap_err();
    assert!(update.to_string().contains("append-only"), "{update}");
    let delete = sqlx::query("DELETE FROM request_events WHERE request_id = $1")
        .bind(id)
        .execute(&db.pool)
        .await
        .unwrap_err();
    assert!(delete.to_string().contains("append-only"), "{delete}");
    let truncate = sqlx::query("TRUNCATE request_events CASCADE")
        .execute(&db.pool)
        .await
        .unwrap_err();
    assert!(truncate.to_string().contains("append-only"), "{truncate}");

    let actor: String =
        sqlx::query_scalar("SELECT actor FROM request_events WHERE request_id = $1")
            .bind(id)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(actor, "test");
    db.drop_database().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transition_and_its_outbox_rows_commit_or_roll_back_together() {
    let db = TestDb::new().await;
    let id = insert_request(&db.pool, RequestState::Received).await;
    let msg = shared::messages::WorkMessage::new(shared::messages::Stage::Decide, id);
    let mut tx = db.pool.begin().await.unwrap();
    transition::apply(
        &mut tx,
        &transition(id, 1, RequestState::Received, RequestState::Validating),
        &[(&msg).into()],
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(outbox, 0, "a rolled-back change publishes nothing");
    let state: String = sqlx::query_scalar("SELECT state FROM refund_requests WHERE id = $1")
        .bind(id)
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(state, "received");
    db.drop_database().await;
}

/// The side effects follow from the state entered: a move into a state the customer hears
/// of writes that email's row, due (no message: `email`), one the merchant hears of queues the
/// webhook when the merchant takes webhooks (and nothing for the merchant otherwise),
/// whoever applies it; `apply_without_email` leaves the email out and nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_queues_the_email_and_webhook_its_state_calls_for() {
    let db = TestDb::new().await;
    let queued = |id: uuid::Uuid| {
        let pool = db.pool.clone();
        async move {
            let mut rows: Vec<(String, Option<String>)> = sqlx::query_as(
                "SELECT payload->>'stage', payload->>'event' FROM outbox
                  WHERE payload->>'request_id' = $1::text
                 UNION ALL
                 SELECT 'email', event FROM notifications
                  WHERE request_id = $1 AND status = 'pending' AND due_at IS NOT NULL",
            )
            .bind(id)
            .fetch_all(&pool)
            .await
            .unwrap();
            rows.sort();
            rows
        }
    };
    let pair = |stage: &str, event: &str| (stage.to_owned(), Some(event.to_owned()));
    // A request in `from` moved to `to`: what the move queued.
    let moved = |from: RequestState, to: RequestState| {
        let pool = db.pool.clone();
        let queued = &queued;
        async move {
            let id = insert_request(&pool, from).await;
            let mut tx = pool.begin().await.unwrap();
            transition::apply(&mut tx, &transition(id, 1, from, to), &[])
                .await
                .unwrap();
            tx.commit().await.unwrap();
            queued(id).await
        }
    };

    // The merchant ("demo") takes no webhook yet: only the customer's emails.
    for (from, to, expected) in [
        (
            RequestState::Validating,
            RequestState::Rejected,
            vec![pair("email", "rejected")],
        ),
        (RequestState::Validating, RequestState::ManualReview, vec![]),
    ] {
        assert_eq!(moved(from, to).await, expected, "no webhook: {from} → {to}");
    }
    let with_webhook = shared::merchants::Merchants::from_toml(
        r#"[[merchants]]
id = "demo"
name = "Demo"
policies = ["by-online-courses"]
gateway = { kind = "sandbox" }
support_email = "support@demo.example"
reply_to = "refunds@demo.example"
signature = "Demo"
default_language = "ru"
webhook_url = "https://demo.example/hooks"
webhook_secret_env = "DEMO_WEBHOOK_SECRET"
"#,
        "test",
    )
    .unwrap();
    shared::merchants::record_webhooks(&db.pool, &with_webhook)
        .await
        .unwrap();
    for (from, to, expected) in [
        (
            RequestState::Validating,
            RequestState::NeedsInfo,
            vec![pair("email", "needs_info")],
        ),
        (
            RequestState::Validating,
            RequestState::Rejected,
            vec![pair("email", "rejected"), pair("webhook", "rejected")],
        ),
        (
            RequestState::Validating,
            RequestState::ManualReview,
            vec![pair("webhook", "manual_review")],
        ),
        (RequestState::Received, RequestState::Validating, vec![]),
    ] {
        assert_eq!(moved(from, to).await, expected, "{from} → {to}");
    }

    let id = insert_request(&db.pool, RequestState::PayoutSent).await;
    let mut tx = db.pool.begin().await.unwrap();
    transition::apply_without_email(
        &mut tx,
        &transition(id, 1, RequestState::PayoutSent, RequestState::PayoutFailed),
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(queued(id).await, vec![pair("webhook", "payout_failed")]);
    db.drop_database().await;
}

/// Moves made one after the other in one transaction are written with one UPDATE of the row
/// (the version counts each move) and an audit event, email and webhook each, as one by one;
/// a chain with a gap or an illegal move, or from a stale version, writes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_moves_is_one_update_with_every_event() {
    let db = TestDb::new().await;
    let id = insert_request(&db.pool, RequestState::Received).await;
    let state = |pool: sqlx::PgPool| async move {
        sqlx::query_as::<_, (String, i32)>(
            "SELECT state, version FROM refund_requests WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let events = |pool: sqlx::PgPool| async move {
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM request_events WHERE request_id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let before = events(db.pool.clone()).await;

    // A gap (received → approved is not a move) and a stale version write nothing.
    for steps in [
        vec![(
            transition(id, 1, RequestState::Received, RequestState::Approved),
            true,
        )],
        vec![
            (
                transition(id, 1, RequestState::Received, RequestState::Validating),
                true,
            ),
            (
                transition(id, 2, RequestState::NeedsInfo, RequestState::Validating),
                true,
            ),
        ],
        vec![
            (
                transition(id, 7, RequestState::Received, RequestState::Validating),
                true,
            ),
            (
                transition(id, 8, RequestState::Validating, RequestState::Approved),
                true,
            ),
        ],
    ] {
        let mut tx = db.pool.begin().await.unwrap();
        let refused = transition::apply_steps(&mut tx, &steps, &[]).await;
        assert!(
            matches!(
                refused,
                Err(TransitionError::Illegal(_) | TransitionError::Stale { .. })
            ),
            "{refused:?}"
        );
    }
    assert_eq!(state(db.pool.clone()).await, ("received".to_owned(), 1));
    assert_eq!(events(db.pool.clone()).await, before);

    let mut tx = db.pool.begin().await.unwrap();
    let version = transition::apply_steps(
        &mut tx,
        &[
            (
                transition(id, 1, RequestState::Received, RequestState::Validating),
                true,
            ),
            (
                transition(id, 2, RequestState::Validating, RequestState::Approved),
                true,
            ),
        ],
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(version, 3);
    assert_eq!(state(db.pool.clone()).await, ("approved".to_owned(), 3));
    let moves: Vec<(String, String)> = sqlx::query_as(
        "SELECT from_state, to_state FROM request_events
          WHERE request_id = $1 AND from_state IS NOT NULL ORDER BY id",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        moves,
        [
            ("received".to_owned(), "validating".to_owned()),
            ("validating".to_owned(), "approved".to_owned())
        ]
    );
    let emails: Vec<String> = sqlx::query_scalar(
        "SELECT event FROM notifications WHERE request_id = $1 ORDER BY created_at",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        emails,
        ["approved"],
        "validating tells nobody; approved tells the customer"
    );
    db.drop_database().await;
}

/// The engine's decision is stored by the UPDATE of the move it causes: a stale move stores
/// none of it; the move that is written stores all of it (decision, policy, amount, due date,
/// complete date) with the state, in one UPDATE of the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_decision_is_stored_by_its_moves_update_and_never_by_a_stale_one() {
    let db = TestDb::new().await;
    let id = insert_request(&db.pool, RequestState::Validating).await;
    let mut stored = shared::policy::StoredDecision::waiting(
        shared::policy::DecisionKind::Approve,
        Vec::new(),
        Vec::new(),
        None,
        None,
    );
    stored.policy = Some("by-app-studio".into());
    stored.policy_version = Some("2026-11".into());
    let due = chrono::NaiveDate::from_ymd_opt(2026, 12, 18).unwrap();
    let decided = shared::requests::Decided {
        decision: &stored,
        amount_minor: Some(48_514),
        due_on: Some(due),
        complete_at: None,
    };
    let row = |pool: sqlx::PgPool| async move {
        sqlx::query_as::<
            _,
            (
                String,
                i32,
                Option<serde_json::Value>,
                Option<String>,
                Option<i64>,
                Option<chrono::NaiveDate>,
                bool,
            ),
        >(
            "SELECT state, version, decision, policy_version, amount_minor, due_on,
                    complete_at IS NOT DISTINCT FROM received_at
               FROM refund_requests WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let before = row(db.pool.clone()).await;

    let mut tx = db.pool.begin().await.unwrap();
    let stale = transition::apply_steps_deciding(
        &mut tx,
        &[(
            transition(id, 9, RequestState::Validating, RequestState::Approved),
            true,
        )],
        &[],
        Some(&decided),
    )
    .await;
    assert!(
        matches!(stale, Err(TransitionError::Stale { .. })),
        "{stale:?}"
    );
    tx.commit().await.unwrap();
    assert_eq!(
        row(db.pool.clone()).await,
        before,
        "a stale move stores no decision"
    );

    let mut tx = db.pool.begin().await.unwrap();
    transition::apply_steps_deciding(
        &mut tx,
        &[(
            transition(id, 1, RequestState::Validating, RequestState::Approved),
            true,
        )],
        &[],
        Some(&decided),
    )
    .await
    .unwrap();
    // The transaction's own count of row updates of the table: the decision and the state
    // were one UPDATE of one row (a second UPDATE of the decision would make it 2).
    let (_, updates) = this_transaction(&mut tx, "refund_requests").await;
    assert_eq!(updates, 1, "one row version for the decision and the move");
    tx.commit().await.unwrap();
    let (state, version, decision, policy_version, amount, due_on, complete_is_received) =
        row(db.pool.clone()).await;
    assert_eq!((state.as_str(), version), ("approved", 2));
    assert_eq!(decision.unwrap()["decision"], "approve");
    assert_eq!(policy_version.as_deref(), Some("2026-11"));
    assert_eq!((amount, due_on), (Some(48_514), Some(due)));
    assert!(
        complete_is_received,
        "no complete date given: the received date"
    );
    db.drop_database().await;
}

/// The move that causes a customer's email writes its `notifications` row in the same
/// transaction, due at once and with no notify message, numbered among the emails of its
/// event, with the Message-ID the notify stage forms: notify then only claims, sends and
/// marks it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_writes_its_emails_row_due_at_once_and_queues_no_message() {
    let db = TestDb::new().await;
    let id = insert_request(&db.pool, RequestState::Validating).await;
    // validating → needs_info → validating → needs_info: the second question is email 2.
    let mut version = 1;
    for (from, to) in [
        (RequestState::Validating, RequestState::NeedsInfo),
        (RequestState::NeedsInfo, RequestState::Validating),
        (RequestState::Validating, RequestState::NeedsInfo),
    ] {
        let mut tx = db.pool.begin().await.unwrap();
        version = transition::apply(&mut tx, &transition(id, version, from, to), &[])
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let rows: Vec<(String, i32, String, String, bool)> = sqlx::query_as(
        "SELECT n.event, n.seq, n.status, n.email_message_id,
                n.due_at <= now() AND n.due_at > now() - interval '1 minute'
           FROM notifications n
          WHERE n.request_id = $1 ORDER BY n.seq",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let messages: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(messages, 0, "no notify message");
    for (n, (event, seq, status, message_id, due)) in rows.iter().enumerate() {
        assert_eq!(
            (event.as_str(), *seq, status.as_str()),
            ("needs_info", n as i32 + 1, "pending")
        );
        assert!(due, "due at once");
        assert_eq!(
            message_id,
            &shared::notify::named_message_id(id, "needs_info", *seq as u32),
            "the statement forms the Message-ID as the notify stage does"
        );
    }
    // A move whose email another one says better claims nothing.
    let before: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let mut tx = db.pool.begin().await.unwrap();
    transition::apply_without_email(
        &mut tx,
        &transition(
            id,
            version,
            RequestState::NeedsInfo,
            RequestState::Validating,
        ),
        &[],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(before, after);
    // The question the intake's answer already asked (no email), then one with an email: that
    // email is the third about `needs_info`, although the request entered it four times. Its
    // number comes from the emails of its event (the unique index), not from reading the
    // request's history: the move's transaction fetches no audit event (#19).
    let mut version = version + 1;
    for (from, to, email) in [
        (RequestState::Validating, RequestState::NeedsInfo, false),
        (RequestState::NeedsInfo, RequestState::Validating, true),
        (RequestState::Validating, RequestState::NeedsInfo, true),
    ] {
        let mut tx = db.pool.begin().await.unwrap();
        let t = transition(id, version, from, to);
        version = if email {
            transition::apply(&mut tx, &t, &[]).await.unwrap()
        } else {
            transition::apply_without_email(&mut tx, &t, &[])
                .await
                .unwrap()
        };
        let (history_read, _) = this_transaction(&mut tx, "request_events").await;
        assert_eq!(
            history_read, 0,
            "the move {from:?} → {to:?} read the history"
        );
        tx.commit().await.unwrap();
    }
    let seqs: Vec<(i32, String)> = sqlx::query_as(
        "SELECT seq, email_message_id FROM notifications
          WHERE request_id = $1 AND event = 'needs_info' ORDER BY seq",
    )
    .bind(id)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        seqs,
        (1..=3)
            .map(|n| (
                n,
                shared::notify::named_message_id(id, "needs_info", n as u32)
            ))
            .collect::<Vec<_>>()
    );
    db.drop_database().await;
}

/// What the caller's transaction has done to `table` so far, by Postgres' own count
/// (`pg_stat_xact_user_tables`): rows read (by index or by scan), rows updated.
async fn this_transaction(conn: &mut sqlx::PgConnection, table: &str) -> (i64, i64) {
    sqlx::query_as(
        "SELECT coalesce(idx_tup_fetch, 0) + seq_tup_read, n_tup_upd
           FROM pg_stat_xact_user_tables WHERE relname = $1",
    )
    .bind(table)
    .fetch_one(conn)
    .await
    .unwrap()
}

/// The database refused a value by a CHECK (a table's or a domain's: the same error class).
fn refused_by_a_check(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(|e| e.kind() == sqlx::error::ErrorKind::CheckViolation)
}

/// The database knows the same names as the code: every state, language and reason the code
/// has can be stored, and a name it does not know is refused by the database itself, as are a
/// negative amount and a version of 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_refuses_names_the_code_does_not_know() {
    let db = TestDb::new().await;
    let id = insert_request(&db.pool, RequestState::Received).await;
    let set = |column: &'static str, value: String| {
        let pool = db.pool.clone();
        async move {
            sqlx::query(&format!(
                "UPDATE refund_requests SET {column} = $2 WHERE id = $1"
            ))
            .bind(id)
            .bind(value)
            .execute(&pool)
            .await
        }
    };
    for &state in RequestState::ALL {
        set("state", state.as_str().to_owned()).await.unwrap();
    }
    for language in shared::language::Language::ALL {
        set("language", language.code().to_owned()).await.unwrap();
    }
    for reason in shared::policy::Reason::ALL {
        set("reason", reason.name().to_owned()).await.unwrap();
    }
    for (column, bogus) in [
        ("state", "approved_maybe"),
        ("language", "de"),
        ("reason", "whim"),
    ] {
        let err = set(column, bogus.to_owned()).await.unwrap_err();
        assert!(refused_by_a_check(&err), "{column} = {bogus}: {err}");
    }
    // Amounts and versions too: a negative amount and a version of 0 are refused.
    for (column, bogus) in [("amount_minor", -1_i64), ("version", 0)] {
        let err = sqlx::query(&format!(
            "UPDATE refund_requests SET {column} = $2 WHERE id = $1"
        ))
        .bind(id)
        .bind(bogus)
        .execute(&db.pool)
        .await
        .unwrap_err();
        assert!(refused_by_a_check(&err), "{column} = {bogus}: {err}");
    }
    db.drop_database().await;
}

/// Each list of names the database allows is a domain with exactly the code's names, and each
/// column that holds such a name is of its domain (migrations
/// `20261205000600_name_lists_as_domains.sql` and `20261205000800_columns_of_their_domains.sql`:
/// a domain's check is read once per connection, a table's CHECK constraints on every INSERT
/// and UPDATE statement). The tables a refund writes have no CHECK constraint left but the one
/// that names several columns. The test above shows a refused name is refused; this one shows
/// nothing is missing and nothing is extra, in every list and every column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_of_names_is_the_codes_and_every_column_is_checked_against_it() {
    use shared::language::Language;
    use shared::payouts::AttemptStatus;
    use shared::policy::Reason;
    use shared::requests::Channel;
    use shared::sla::SlaState;

    let db = TestDb::new().await;
    fn names<'a>(all: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let mut all: Vec<String> = all.into_iter().map(str::to_owned).collect();
        all.sort();
        all
    }
    let channels = [Channel::Api, Channel::Email].map(|c| {
        // A new channel fails to compile here until it is added to the list above.
        match c {
            Channel::Api | Channel::Email => c.as_str(),
        }
    });
    let domains = [
        (
            "request_state",
            names(RequestState::ALL.iter().map(|s| s.as_str())),
        ),
        (
            "language_code",
            names(Language::ALL.iter().map(|l| l.code())),
        ),
        ("refund_reason", names(Reason::ALL.iter().map(|r| r.name()))),
        ("request_channel", names(channels)),
        (
            "sla_standing",
            names(SlaState::ALL.iter().map(|s| s.as_str())),
        ),
        (
            "payout_status",
            names(AttemptStatus::ALL.iter().map(|s| s.as_str())),
        ),
        // Written by `shared::notifications` as literals: queued, sent, given up.
        ("notification_status", names(["pending", "sent", "failed"])),
    ];
    for (domain, code) in &domains {
        let def: String = sqlx::query_scalar(
            "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
               JOIN pg_type t ON t.oid = c.contypid WHERE t.typname = $1",
        )
        .bind(domain)
        .fetch_one(&db.pool)
        .await
        .unwrap_or_else(|e| panic!("domain {domain}: {e}"));
        // CHECK ((VALUE = ANY (ARRAY['a'::text, 'b'::text]))): the quoted parts are the names.
        let stored = names(def.split('\'').skip(1).step_by(2));
        assert_eq!(&stored, code, "domain {domain}: {def}");
    }

    let columns = [
        ("refund_requests", "state", "request_state"),
        ("refund_requests", "language", "language_code"),
        ("refund_requests", "reason", "refund_reason"),
        ("refund_requests", "channel", "request_channel"),
        ("refund_requests", "sla_state", "sla_standing"),
        ("refund_requests", "version", "row_version"),
        ("refund_requests", "amount_minor", "minor_units"),
        ("request_events", "from_state", "request_state"),
        ("request_events", "to_state", "request_state"),
        ("notifications", "language", "language_code"),
        ("notifications", "status", "notification_status"),
        ("payout_attempts", "status", "payout_status"),
        ("payout_attempts", "amount_minor", "positive_minor_units"),
        ("payments", "customer_language", "language_code"),
        ("payments", "amount_minor", "positive_minor_units"),
        ("inbound_emails", "language", "language_code"),
        ("sender_confirmations", "language", "language_code"),
    ];
    let checks_of = |table: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint
                  WHERE conrelid = $1::regclass AND contype = 'c'",
            )
            .bind(table)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    for (table, column, domain) in columns {
        let of_type: String = sqlx::query_scalar(
            "SELECT format_type(atttypid, NULL) FROM pg_attribute
              WHERE attrelid = $1::regclass AND attname = $2",
        )
        .bind(table)
        .bind(column)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert_eq!(of_type, domain, "{table}.{column}");
        // And no table check of its own is left behind.
        let checks = checks_of(table).await;
        assert!(
            !checks.iter().any(|c| c.contains(&format!("({column}"))),
            "{table}.{column} still has a check of its own: {checks:?}"
        );
    }
    // What each of a refund's INSERTs and UPDATEs would read, plan and compile again.
    for table in ["refund_requests", "request_events", "payout_attempts"] {
        assert_eq!(checks_of(table).await, Vec::<String>::new(), "{table}");
    }
    assert_eq!(
        checks_of("notifications").await.len(),
        1,
        "notifications: only what an email is about (three columns)"
    );

    // The check is the domain's: a name it does not know is a check violation on any table.
    let id = insert_request(&db.pool, RequestState::Received).await;
    let err = sqlx::query(
        "INSERT INTO request_events (request_id, actor, from_state, to_state)
         VALUES ($1, 'test', 'received', 'approved_maybe')",
    )
    .bind(id)
    .execute(&db.pool)
    .await
    .unwrap_err();
    assert!(
        refused_by_a_check(&err),
        "request_events.to_state = approved_maybe: {err}"
    );
    db.drop_database().await;
}

/// A request's moves rewrite its row in place (Postgres' HOT update: no index entry written)
/// until the move that ends it (migration `20261205000700_request_moves_in_place.sql`). No
/// index names a column a move changes before the end (`state`, `due_on`, the decision, the
/// SLA standing), and the pages keep room for the row's next versions. Each move in its own
/// transaction, as the stages write them: decided (received → validating → approved, with
/// the decision), booked (→ payout_pending), watched (the SLA role's standing), refunded
/// (→ payout_sent → refunded, which sets `ended_at` and is indexed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requests_moves_rewrite_its_row_in_place_until_it_ends() {
    use shared::policy::{DecisionKind, StoredDecision};
    use shared::requests::Decided;

    let db = TestDb::new().await;
    let mut ids = Vec::new();
    for _ in 0..6 {
        ids.push(insert_request(&db.pool, RequestState::Received).await);
    }
    let decision = StoredDecision::waiting(
        DecisionKind::Approve,
        Vec::new(),
        Vec::new(),
        None,
        chrono::NaiveDate::from_ymd_opt(2026, 12, 18),
    );
    let decided = Decided {
        decision: &decision,
        amount_minor: Some(45000),
        due_on: chrono::NaiveDate::from_ymd_opt(2026, 12, 18),
        complete_at: Some(chrono::Utc::now()),
    };
    // One connection, so its statistics are the ones read at the end.
    let mut conn = db.pool.acquire().await.unwrap();
    let moves: [&[(RequestState, RequestState)]; 3] = [
        &[
            (RequestState::Received, RequestState::Validating),
            (RequestState::Validating, RequestState::Approved),
        ],
        &[(RequestState::Approved, RequestState::PayoutPending)],
        &[
            (RequestState::PayoutPending, RequestState::PayoutSent),
            (RequestState::PayoutSent, RequestState::Refunded),
        ],
    ];
    let mut versions = vec![1; ids.len()];
    for (step, chain) in moves.iter().enumerate() {
        for (id, version) in ids.iter().zip(versions.iter_mut()) {
            let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
            let steps: Vec<(Transition<'_>, bool)> = chain
                .iter()
                .map(|&(from, to)| (transition(*id, *version, from, to), false))
                .collect();
            *version = transition::apply_steps_deciding(
                &mut tx,
                &steps,
                &[],
                (step == 0).then_some(&decided),
            )
            .await
            .unwrap();
            if step == 1 {
                // The SLA role's standing, written while the refund is on its way.
                let written = shared::requests::set_sla_state(
                    &mut tx,
                    *id,
                    RequestState::PayoutPending,
                    None,
                    "at_risk",
                )
                .await
                .unwrap();
                assert!(written);
            }
            tx.commit().await.unwrap();
        }
    }
    // This backend's counters, published now instead of within the next second or so.
    sqlx::query("SELECT pg_stat_force_next_flush()")
        .execute(&mut *conn)
        .await
        .unwrap();
    let (updated, in_place): (i64, i64) = sqlx::query_as(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'refund_requests'",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let n = ids.len() as i64;
    // Four UPDATEs a request: decided, booked, watched, refunded.
    assert_eq!(updated, 4 * n, "UPDATEs of refund_requests");
    assert_eq!(
        in_place,
        3 * n,
        "every UPDATE but the refund's (which sets ended_at) is in place; {in_place} of {updated} were"
    );
}
