//! The sandbox gateway as a real server on 127.0.0.1 port 0, driven through its adapter:
//! bookings and the ledger, idempotency (also under concurrent calls), never refunding more
//! than captured (concurrent requests), card states and forced declines, injected timeouts
//! and 500s whose truth a later status call tells, and a ledger file that survives a restart.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use shared::gateway::sandbox::server::{self, Faults, SandboxConfig};
use shared::gateway::sandbox::{CardStatus, LedgerView, RefundStatus, SandboxGateway};
use shared::gateway::{DeclineCode, Gateway, RefundOrder, RefundOutcome};
use shared::money::{Currency, Money};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const CLIENT_TIMEOUT: Duration = Duration::from_millis(400);
/// Seeding and reading the ledger are the test's own set-up, not what is tested: a loaded
/// machine must not fail them.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

struct Sandbox {
    gateway: SandboxGateway,
    setup: SandboxGateway,
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: JoinHandle<Result<(), server::ServeError>>,
}

impl Sandbox {
    async fn start(config: SandboxConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(server::serve(listener, config, shutdown.clone()));
        let gateway = SandboxGateway::at(&format!("http://{addr}"), CLIENT_TIMEOUT).unwrap();
        let setup = SandboxGateway::at(&format!("http://{addr}"), SETUP_TIMEOUT).unwrap();
        Sandbox {
            gateway,
            setup,
            addr,
            shutdown,
            task,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.task.await.unwrap().unwrap();
    }

    async fn seed(&self, txn: &str, amount: &str, currency: Currency, card: CardStatus) {
        self.setup
            .register_payment(txn, Money::parse(amount, currency).unwrap(), card)
            .await
            .unwrap();
    }

    async fn ledger(&self, txn: &str) -> LedgerView {
        self.setup.ledger(Some(txn)).await.unwrap()
    }
}

fn order<'a>(txn: &'a str, key: &'a str, amount: &str, currency: Currency) -> RefundOrder<'a> {
    RefundOrder {
        gateway_transaction_id: txn,
        amount: Money::parse(amount, currency).unwrap(),
        full: false,
        idempotency_key: key,
        payment_id: Uuid::now_v7(),
        request_id: Uuid::now_v7(),
        gateway_ref: None,
        request_key: key,
        order_number: None,
        paid_at: chrono::Utc::now(),
        attempted_at: chrono::Utc::now(),
        other_refs: &[],
    }
}

fn temp_ledger() -> PathBuf {
    std::env::temp_dir()
        .join(format!("sandbox-ledger-{}", Uuid::new_v4()))
        .join("ledger.jsonl")
}

#[tokio::test]
async fn a_refund_is_booked_in_the_ledger_and_status_reports_it() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await;
    sandbox
        .seed("tx-1", "450.00", Currency::BYN, CardStatus::Active)
        .await;
    let o = order("tx-1", "po-1", "120.50", Currency::BYN);
    let outcome = sandbox.gateway.refund(&o).await;
    let RefundOutcome::Succeeded { gateway_ref } = &outcome else {
        panic!("expected success, got {outcome:?}");
    };
    assert!(gateway_ref.starts_with("sbx_re_"));
    assert_eq!(sandbox.gateway.status(&o).await, outcome);

    let ledger = sandbox.ledger("tx-1").await;
    assert_eq!(ledger.refunds.len(), 1);
    assert_eq!(ledger.refunds[0].amount, "120.50");
    assert_eq!(ledger.refunds[0].idempotency_key, "po-1");
    assert_eq!(ledger.transactions[0].captured, "450.00");
    assert_eq!(ledger.transactions[0].refunded, "120.50");
    assert_eq!(ledger.transactions[0].remaining, "329.50");

    let never_sent = order("tx-1", "po-never", "1.00", Currency::BYN);
    assert_eq!(
        sandbox.gateway.status(&never_sent).await,
        RefundOutcome::NotFound
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn the_same_key_books_once_even_when_sent_concurrently() {
    let sandbox = Arc::new(Sandbox::start(SandboxConfig::default()).await);
    sandbox
        .seed("tx-2", "100.00", Currency::EUR, CardStatus::Active)
        .await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let sandbox = sandbox.clone();
        tasks.push(tokio::spawn(async move {
            sandbox
                .gateway
                .refund(&order("tx-2", "po-same", "40.00", Currency::EUR))
                .await
        }));
    }
    let mut outcomes = Vec::new();
    for t in tasks {
        outcomes.push(t.await.unwrap());
    }
    assert!(matches!(outcomes[0], RefundOutcome::Succeeded { .. }));
    assert!(outcomes.iter().all(|o| *o == outcomes[0]), "{outcomes:?}");
    let ledger = sandbox.ledger("tx-2").await;
    assert_eq!(ledger.refunds.len(), 1);
    assert_eq!(ledger.transactions[0].refunded, "40.00");

    // The same key for a different amount is refused, and books nothing.
    let reused = sandbox
        .gateway
        .refund(&order("tx-2", "po-same", "10.00", Currency::EUR))
        .await;
    assert_eq!(
        match &reused {
            RefundOutcome::Declined { code, .. } => Some(code.clone()),
            _ => None,
        },
        Some(DeclineCode::Other("idempotency_key_reused".into()))
    );
    assert_eq!(sandbox.ledger("tx-2").await.refunds.len(), 1);
    Arc::into_inner(sandbox).unwrap().stop().await;
}

#[tokio::test]
async fn concurrent_refunds_never_sum_above_the_captured_amount() {
    let sandbox = Arc::new(Sandbox::start(SandboxConfig::default()).await);
    sandbox
        .seed("tx-3", "100.00", Currency::KZT, CardStatus::Active)
        .await;
    let mut tasks = Vec::new();
    for i in 0..10 {
        let sandbox = sandbox.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("po-part-{i}");
            sandbox
                .gateway
                .refund(&order("tx-3", &key, "30.00", Currency::KZT))
                .await
        }));
    }
    let mut succeeded = 0;
    let mut over = 0;
    for t in tasks {
        match t.await.unwrap() {
            RefundOutcome::Succeeded { .. } => succeeded += 1,
            RefundOutcome::Declined {
                code: DeclineCode::AmountExceedsCaptured,
                ..
            } => over += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((succeeded, over), (3, 7));
    let ledger = sandbox.ledger("tx-3").await;
    assert_eq!(ledger.transactions[0].refunded, "90.00");
    assert_eq!(ledger.transactions[0].remaining, "10.00");
    assert_eq!(
        ledger
            .refunds
            .iter()
            .filter(|r| r.status == RefundStatus::Succeeded)
            .count(),
        3
    );
    Arc::into_inner(sandbox).unwrap().stop().await;
}

#[tokio::test]
async fn card_states_unknown_payments_and_forced_declines_map_to_decline_codes() {
    let sandbox = Sandbox::start(SandboxConfig::default()).await;
    sandbox
        .seed("tx-exp", "50.00", Currency::RUB, CardStatus::Expired)
        .await;
    sandbox
        .seed("tx-closed", "50.00", Currency::RUB, CardStatus::Closed)
        .await;
    let code = |o: RefundOutcome| match o {
        RefundOutcome::Declined { code, .. } => code,
        other => panic!("expected a decline, got {other:?}"),
    };
    let g = &sandbox.gateway;
    assert_eq!(
        code(
            g.refund(&order("tx-exp", "k1", "5.00", Currency::RUB))
                .await
        ),
        DeclineCode::CardExpired
    );
    assert_eq!(
        code(
            g.refund(&order("tx-closed", "k2", "5.00", Currency::RUB))
                .await
        ),
        DeclineCode::CardClosed
    );
    assert_eq!(
        code(
            g.refund(&order("tx-nobody", "k3", "5.00", Currency::RUB))
                .await
        ),
        DeclineCode::Other("unknown_transaction".into())
    );
    assert_eq!(
        code(
            g.refund(&order("tx-exp", "k4", "5.00", Currency::EUR))
                .await
        ),
        DeclineCode::Other("currency_mismatch".into())
    );
    // A decline answers the same to a status call and books no money.
    assert_eq!(
        code(
            g.status(&order("tx-exp", "k1", "5.00", Currency::RUB))
                .await
        ),
        DeclineCode::CardExpired
    );
    assert_eq!(
        sandbox.ledger("tx-exp").await.transactions[0].refunded,
        "0.00"
    );
    sandbox.stop().await;

    let forced = Sandbox::start(SandboxConfig {
        faults: Faults {
            decline: Some(DeclineCode::InsufficientFunds),
            ..Faults::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    forced
        .seed("tx-f", "50.00", Currency::RUB, CardStatus::Active)
        .await;
    assert_eq!(
        code(
            forced
                .gateway
                .refund(&order("tx-f", "k5", "5.00", Currency::RUB))
                .await
        ),
        DeclineCode::InsufficientFunds
    );
    forced.stop().await;
}

/// With every refund timing out, each outcome is Unknown; status then says exactly what the
/// ledger holds — some were booked before the hang, some never were.
#[tokio::test]
async fn injected_timeouts_are_unknown_and_status_tells_the_truth() {
    let sandbox = Sandbox::start(SandboxConfig {
        faults: Faults {
            timeout_rate: 1.0,
            hang: Duration::from_secs(5),
            seed: Some(7),
            ..Faults::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    sandbox
        .seed("tx-t", "1000.00", Currency::BYN, CardStatus::Active)
        .await;
    let keys: Vec<String> = (0..8).map(|i| format!("po-timeout-{i}")).collect();
    let mut tasks = Vec::new();
    for key in &keys {
        let gateway = sandbox.gateway.clone();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            gateway
                .refund(&order("tx-t", &key, "10.00", Currency::BYN))
                .await
        }));
    }
    for t in tasks {
        let outcome = t.await.unwrap();
        assert!(
            matches!(outcome, RefundOutcome::Unknown { .. }),
            "{outcome:?}"
        );
    }
    let ledger = sandbox.ledger("tx-t").await;
    let mut booked = 0;
    for key in &keys {
        let in_ledger = ledger.refunds.iter().any(|r| &r.idempotency_key == key);
        let status = sandbox
            .gateway
            .status(&order("tx-t", key, "10.00", Currency::BYN))
            .await;
        match status {
            RefundOutcome::Succeeded { .. } => {
                assert!(in_ledger, "{key}");
                booked += 1;
            }
            RefundOutcome::NotFound => assert!(!in_ledger, "{key}"),
            other => panic!("status of {key}: {other:?}"),
        }
    }
    assert!(
        booked > 0 && booked < keys.len(),
        "both sides of the timeout should occur: {booked} of {} booked",
        keys.len()
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn injected_500s_are_unknown_and_status_tells_the_truth() {
    let sandbox = Sandbox::start(SandboxConfig {
        faults: Faults {
            error_rate: 1.0,
            seed: Some(11),
            ..Faults::default()
        },
        ..SandboxConfig::default()
    })
    .await;
    sandbox
        .seed("tx-e", "1000.00", Currency::BYN, CardStatus::Active)
        .await;
    let mut booked = 0;
    for i in 0..10 {
        let key = format!("po-500-{i}");
        let o = order("tx-e", &key, "10.00", Currency::BYN);
        assert!(matches!(
            sandbox.gateway.refund(&o).await,
            RefundOutcome::Unknown { .. }
        ));
        match sandbox.gateway.status(&o).await {
            RefundOutcome::Succeeded { .. } => booked += 1,
            RefundOutcome::NotFound => {}
            other => panic!("{other:?}"),
        }
    }
    let ledger = sandbox.ledger("tx-e").await;
    assert_eq!(ledger.refunds.len(), booked);
    assert!(booked > 0 && booked < 10, "{booked} of 10 booked");
    sandbox.stop().await;
}

#[tokio::test]
async fn the_ledger_file_survives_a_restart() {
    let path = temp_ledger();
    let config = SandboxConfig {
        ledger_path: Some(path.clone()),
        ..SandboxConfig::default()
    };
    let first = Sandbox::start(config.clone()).await;
    first
        .seed("tx-p", "50.00", Currency::EUR, CardStatus::Active)
        .await;
    let o = order("tx-p", "po-persist", "40.00", Currency::EUR);
    let outcome = first.gateway.refund(&o).await;
    assert!(matches!(outcome, RefundOutcome::Succeeded { .. }));
    let old_addr = first.addr;
    first.stop().await;

    let second = Sandbox::start(config).await;
    assert_ne!(second.addr, old_addr);
    assert_eq!(second.gateway.status(&o).await, outcome);
    // A replay after the restart books nothing new and answers the same refund.
    assert_eq!(second.gateway.refund(&o).await, outcome);
    // What was refunded before the restart still counts against the captured amount.
    let over = second
        .gateway
        .refund(&order("tx-p", "po-after", "20.00", Currency::EUR))
        .await;
    assert!(
        matches!(
            over,
            RefundOutcome::Declined {
                code: DeclineCode::AmountExceedsCaptured,
                ..
            }
        ),
        "{over:?}"
    );
    let ledger = second.ledger("tx-p").await;
    assert_eq!(ledger.transactions[0].refunded, "40.00");
    assert_eq!(
        ledger
            .refunds
            .iter()
            .filter(|r| r.status == RefundStatus::Succeeded)
            .count(),
        1
    );
    second.stop().await;

    let lines = std::fs::read_to_string(&path).unwrap();
    assert_eq!(lines.lines().count(), 3, "{lines}");
    std::fs::remove_dir_all(path.parent().unwrap()).ok();
}

#[tokio::test]
async fn a_corrupt_ledger_file_stops_the_sandbox_naming_the_line() {
    let path = temp_ledger();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(
        &path,
        "{\"entry\":\"payment\",\"transaction_id\":\"t\",\"amount\":\"1.00\",\"currency\":\"EUR\",\"card_status\":\"active\"}\nnot json\n",
    )
    .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = server::serve(
        listener,
        SandboxConfig {
            ledger_path: Some(path.clone()),
            ..SandboxConfig::default()
        },
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("line 2"), "{message}");
    assert!(message.contains("ledger.jsonl"), "{message}");
    std::fs::remove_dir_all(path.parent().unwrap()).ok();
}

#[tokio::test]
async fn fault_rates_outside_zero_to_one_are_refused() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = server::serve(
        listener,
        SandboxConfig {
            faults: Faults {
                timeout_rate: 0.7,
                error_rate: 0.5,
                ..Faults::default()
            },
            ..SandboxConfig::default()
        },
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("more than 1"), "{err}");
}
