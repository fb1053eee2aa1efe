//! The reader corpus through the whole pipeline: every labelled customer email
//! (`shared/tests/corpus/reader/{ru,kk,lv,en}.toml`, written to be hard on purpose) is sent
//! to the intake of a real system (Postgres, RabbitMQ, the validate, decide and payout
//! workers, the sandbox gateway) with its payment registered, and what happened is compared
//! with the label. An automatic payout the label says is not acceptable fails the test; the
//! rest is measured and printed (reason accuracy per language and per reason, emails handled
//! right) and kept in `target/test-artifacts/intake-corpus.md` for docs/INTAKE.md.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use chrono::Utc;
use serde::Deserialize;
use shared::gateway::ConfiguredGateway;
use shared::gateway::sandbox::server::Faults;
use shared::gateway::sandbox::{CardStatus, SandboxGateway};
use shared::money::{Currency, Money};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use e2e::{Pipeline, TestApp, TestBroker, eventually};

use super::api::take;

#[derive(Deserialize)]
struct Labels {
    email: Vec<Label>,
}

#[derive(Deserialize, Clone)]
struct Label {
    file: String,
    language: String,
    merchant: String,
    policy: String,
    txn: String,
    amount: String,
    currency: String,
    paid_days_ago: i64,
    customer_email: String,
    reason: String,
    auto_payout_ok: bool,
    #[serde(default)]
    progress_percent: Option<u8>,
    #[serde(default)]
    tags: Vec<String>,
}

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tests/corpus/reader")
}

fn labels() -> Vec<Label> {
    let mut all = Vec::new();
    for language in ["ru", "kk", "lv", "en"] {
        let path = corpus_dir().join(format!("{language}.toml"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let labels: Labels =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        all.extend(labels.email);
    }
    all
}

/// What became of one email.
struct Seen {
    state: Option<String>,
    reason: Option<String>,
    certain: bool,
    paid: bool,
    progress: Option<i64>,
    /// The progress the decision was made on.
    decided_progress: Option<i64>,
}

#[derive(Default)]
struct Tally {
    total: usize,
    right: usize,
}

impl Tally {
    fn add(&mut self, right: bool) {
        self.total += 1;
        self.right += usize::from(right);
    }
    fn percent(&self) -> String {
        if self.total == 0 {
            "-".into()
        } else {
            format!(
                "{:.1} % ({}/{})",
                100.0 * self.right as f64 / self.total as f64,
                self.right,
                self.total
            )
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_corpus_email_through_the_pipeline_pays_only_what_the_label_allows() {
    let labels = labels();
    assert!(
        labels.len() >= 40,
        "the reader corpus is missing ({} labelled emails in {})",
        labels.len(),
        corpus_dir().display()
    );
    let app = TestApp::spawn().await;
    let pool = app.db.pool.clone();
    let broker = TestBroker::new(&[Duration::from_millis(200)]);
    broker.declare().await;
    let shutdown = CancellationToken::new();
    let gateway_url = e2e::sandbox_gateway(Faults::default(), &shutdown).await;
    let ledger = SandboxGateway::at(&gateway_url, Duration::from_secs(10)).unwrap();
    let pipeline = Pipeline::start(&app.db, &broker).await;
    let gateways: HashMap<String, ConfiguredGateway> = shared::merchants::Merchants::demo()
        .all()
        .map(|m| {
            (
                m.id.clone(),
                ConfiguredGateway::Sandbox(
                    SandboxGateway::at(&gateway_url, Duration::from_secs(10)).unwrap(),
                ),
            )
        })
        .collect();
    e2e::payout_worker(&broker, &pool, gateways, &shutdown);

    let mut inbound: Vec<(Label, Option<Uuid>)> = Vec::new();
    for label in &labels {
        let currency: Currency = label.currency.parse().unwrap();
        let amount = Money::parse(&label.amount, currency).unwrap();
        sqlx::query(
            "INSERT INTO payments (id, merchant, policy_id, gateway, gateway_txn_id, amount_minor,
                                   currency, paid_at, customer_email, customer_language)
             VALUES ($1, $2, $3, 'sandbox', $4, $5, $6, $7, $8, $9)",
        )
        .bind(Uuid::now_v7())
        .bind(&label.merchant)
        .bind(&label.policy)
        .bind(&label.txn)
        .bind(amount.minor())
        .bind(currency.code())
        .bind(Utc::now() - chrono::Duration::days(label.paid_days_ago))
        .bind(&label.customer_email)
        .bind(&label.language)
        .execute(&pool)
        .await
        .unwrap();
        ledger
            .register_payment(&label.txn, amount, CardStatus::Active)
            .await
            .unwrap();
        let raw = std::fs::read(corpus_dir().join(&label.file))
            .unwrap_or_else(|e| panic!("{}: {e}", label.file));
        let (status, outcome) = take(&app, &raw).await;
        assert!(status < 300, "{}: {status} {outcome}", label.file);
        let request = outcome["request_id"].as_str().map(|r| r.parse().unwrap());
        inbound.push((label.clone(), request));
    }

    // Every request settles: decided, waiting on the customer or a person, or paid.
    let settled = eventually(Duration::from_secs(120), || async {
        let busy: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM refund_requests
              WHERE state IN ('received', 'validating', 'approved', 'payout_pending')",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        busy == 0
    })
    .await;
    assert!(settled, "requests still moving after 120 s");

    let refunds = ledger.ledger(None).await.unwrap().refunds;
    let mut seen: Vec<(Label, Seen)> = Vec::new();
    for (label, request) in inbound {
        type Row = (
            String,
            Option<String>,
            Option<serde_json::Value>,
            serde_json::Value,
            Option<serde_json::Value>,
        );
        let row: Option<Row> = match request {
            Some(id) => sqlx::query_as(
                "SELECT state, reason, email_reading, facts, decision
                   FROM refund_requests WHERE id = $1",
            )
            .bind(id)
            .fetch_optional(&pool)
            .await
            .unwrap(),
            None => None,
        };
        let paid = refunds.iter().any(|r| r.transaction_id == label.txn);
        let s = match row {
            Some((state, reason, reading, facts, decision)) => Seen {
                state: Some(state),
                reason,
                certain: reading
                    .as_ref()
                    .and_then(|r| r["certain"].as_bool())
                    .unwrap_or(false),
                paid,
                progress: facts["progress_percent"].as_i64(),
                decided_progress: decision
                    .as_ref()
                    .and_then(|d| d["facts_used"]["progress_percent"].as_i64()),
            },
            None => Seen {
                state: None,
                reason: None,
                certain: false,
                paid,
                progress: None,
                decided_progress: None,
            },
        };
        seen.push((label, s));
    }

    // The figures.
    let mut by_language: BTreeMap<String, (Tally, Tally)> = BTreeMap::new();
    let mut by_reason: BTreeMap<String, Tally> = BTreeMap::new();
    let mut handled = Tally::default();
    let mut wrong_payouts = Vec::new();
    let mut missed = Vec::new();
    for (label, s) in &seen {
        // The reason read is right when it is the label's (certain or not: an uncertain
        // reading of the right reason is restated to the customer and decided by a person);
        // an email labelled unclear must not be read with certainty.
        let read = s.reason.clone().unwrap_or_else(|| "unclear".into());
        let reason_right = if label.reason == "unclear" {
            !s.certain
        } else {
            read == label.reason
        };
        // A stated range ("80-90 %") is labelled with its lower end and read as its higher
        // end (the smaller refund): both are right. A progress named in a question ("what if
        // I cancel at 60 %?", labelled unclear) is no fact the customer states.
        let hypothetical = label.reason == "unclear";
        let progress_right = hypothetical
            || label.progress_percent.is_none_or(|p| {
                s.progress
                    .is_some_and(|read| (i64::from(p)..=i64::from(p) + 10).contains(&read))
            });
        let right = reason_right && s.paid == label.auto_payout_ok && progress_right;
        let entry = by_language.entry(label.language.clone()).or_default();
        entry.0.add(reason_right);
        entry.1.add(right);
        by_reason
            .entry(label.reason.clone())
            .or_default()
            .add(reason_right);
        handled.add(right);
        if s.paid && !label.auto_payout_ok {
            wrong_payouts.push(format!(
                "{} ({} {}, read {read}, state {:?})",
                label.file, label.amount, label.currency, s.state
            ));
        }
        if !right {
            missed.push(format!(
                "{}: label {} / auto {}{}, read {read} (certain {}) / paid {} / state {:?}{} [{}]",
                label.file,
                label.reason,
                label.auto_payout_ok,
                label
                    .progress_percent
                    .map(|p| format!(" / progress {p}"))
                    .unwrap_or_default(),
                s.certain,
                s.paid,
                s.state,
                s.progress
                    .map(|p| format!(" / progress read {p}"))
                    .unwrap_or_default(),
                label.tags.join(",")
            ));
        }
    }
    let mut report = String::new();
    writeln!(
        report,
        "{} emails; handled right: {}; automatic payouts the label forbids: {}\n",
        seen.len(),
        handled.percent(),
        wrong_payouts.len()
    )
    .unwrap();
    writeln!(
        report,
        "| language | reason read right | handled right |\n| --- | --- | --- |"
    )
    .unwrap();
    for (language, (reason, right)) in &by_language {
        writeln!(
            report,
            "| {language} | {} | {} |",
            reason.percent(),
            right.percent()
        )
        .unwrap();
    }
    writeln!(report, "\n| reason (label) | read right |\n| --- | --- |").unwrap();
    for (reason, tally) in &by_reason {
        writeln!(report, "| {reason} | {} |", tally.percent()).unwrap();
    }
    if !missed.is_empty() {
        writeln!(report, "\nNot handled right:").unwrap();
        for m in &missed {
            writeln!(report, "- {m}").unwrap();
        }
    }
    println!("{report}");
    let artifacts = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("../test-artifacts");
    let _ = std::fs::create_dir_all(&artifacts);
    let _ = std::fs::write(artifacts.join("intake-corpus.md"), &report);

    // What a person decides is due all the same (issue 16): the SLA watches it.
    let undated: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM refund_requests WHERE state = 'manual_review' AND due_on IS NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(undated, 0, "requests in manual review without a due date");

    // The three cases by name.
    let find = |file: &str| {
        &seen
            .iter()
            .find(|(l, _)| l.file == file)
            .unwrap_or_else(|| panic!("{file} is in the corpus"))
            .1
    };
    // "маған сәйкес келмеді" (did not suit me) under by-app-studio is not a non-delivery.
    let did_not_suit = find("kk/002_app_did_not_suit_me.eml");
    assert!(!did_not_suit.paid && did_not_suit.reason.as_deref() != Some("not_delivered"));
    // A question is never an application: nothing is paid or approved on one.
    for (label, s) in seen
        .iter()
        .filter(|(l, _)| l.tags.iter().any(|t| t == "question"))
    {
        assert!(
            !s.paid && s.state.as_deref() != Some("approved"),
            "{}: a question was treated as an application ({:?})",
            label.file,
            s.state
        );
    }
    // A course email stating 80 % (80-90 %) progress is decided on that progress.
    for file in [
        "kk/003_progress_80_percent_after_3_weeks.eml",
        "ru/002_withdrawal_progress_80_90_after_3_weeks.eml",
    ] {
        let s = find(file);
        assert!(
            s.decided_progress.is_some_and(|p| (80..=90).contains(&p)),
            "{file}: decided on progress {:?} (state {:?})",
            s.decided_progress,
            s.state
        );
    }

    shutdown.cancel();
    pipeline.stop().await;
    app.stop().await;
    assert!(
        wrong_payouts.is_empty(),
        "automatic payouts the labels forbid:\n{}",
        wrong_payouts.join("\n")
    );
}
