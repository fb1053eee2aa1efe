//! `refundd sandbox-gateway` as a process: it serves the sandbox API, its ledger file
//! survives the process being killed, and bad flags stop it with one line and exit code 2.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use shared::gateway::sandbox::{CardStatus, SandboxGateway};
use shared::gateway::{Gateway, RefundOrder, RefundOutcome};
use shared::money::{Currency, Money};
use uuid::Uuid;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(port: u16, ledger: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_refundd"))
        .args(["sandbox-gateway", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--ledger")
        .arg(ledger)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits until the sandbox answers, then seeds `txn` (idempotent, so safe to repeat).
async fn seed_when_up(gateway: &SandboxGateway, txn: &str, amount: Money) {
    for _ in 0..100 {
        if gateway
            .register_payment(txn, amount, CardStatus::Active)
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the sandbox gateway did not come up");
}

#[tokio::test]
async fn serves_refunds_and_keeps_its_ledger_across_a_kill() {
    let dir = std::env::temp_dir().join(format!("sandbox-cli-{}", Uuid::new_v4()));
    let ledger = dir.join("var").join("sandbox-ledger.jsonl");
    let captured = Money::parse("60000.00", Currency::KZT).unwrap();
    let order = RefundOrder {
        gateway_transaction_id: "cp-455",
        amount: Money::parse("45000.00", Currency::KZT).unwrap(),
        full: false,
        idempotency_key: "po-cli-1",
        payment_id: Uuid::now_v7(),
        request_id: Uuid::now_v7(),
        gateway_ref: None,
        request_key: "po-cli-1",
        order_number: None,
        paid_at: chrono::Utc::now(),
        attempted_at: chrono::Utc::now(),
        other_refs: &[],
    };

    let port = free_port();
    let mut child = start(port, &ledger);
    let gateway =
        SandboxGateway::at(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2)).unwrap();
    seed_when_up(&gateway, "cp-455", captured).await;
    let outcome = gateway.refund(&order).await;
    assert!(
        matches!(outcome, RefundOutcome::Succeeded { .. }),
        "{outcome:?}"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    let port = free_port();
    let mut child = start(port, &ledger);
    let gateway =
        SandboxGateway::at(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2)).unwrap();
    seed_when_up(&gateway, "cp-455", captured).await;
    assert_eq!(gateway.status(&order).await, outcome);
    let view = gateway.ledger(Some("cp-455")).await.unwrap();
    assert_eq!(view.refunds.len(), 1);
    assert_eq!(view.transactions[0].refunded, "45000.00");
    assert_eq!(view.transactions[0].remaining, "15000.00");
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn bad_fault_flags_stop_with_one_line_and_exit_code_2() {
    for args in [
        vec!["--timeout-rate", "1.5"],
        vec!["--timeout-rate", "0.6", "--error-rate", "0.6"],
        vec!["--decline", "card expired"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_refundd"))
            .arg("sandbox-gateway")
            .args(["--listen", "127.0.0.1:0"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let last = stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with("refundd sandbox-gateway: "), "{stderr}");
    }
}
