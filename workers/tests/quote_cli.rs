//! `refundd quote` and `refundd policies` as support staff and acceptance checks run them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn refundd(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_refundd"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("refundd starts");
    let mut input = child.stdin.take().expect("stdin is piped");
    if let Some(text) = stdin {
        input
            .write_all(text.as_bytes())
            .expect("stdin accepts the request");
    }
    drop(input);
    child.wait_with_output().expect("refundd finishes")
}

fn quote(request: &Value) -> (Option<i32>, Value, String) {
    let output = refundd(&["quote"], Some(&request.to_string()));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let decision = if stdout.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&stdout).expect("stdout is one JSON object")
    };
    (
        output.status.code(),
        decision,
        String::from_utf8(output.stderr).unwrap(),
    )
}

fn courses_example() -> Value {
    json!({
        "policy": "by-online-courses",
        "payment": {"amount": "450.00", "currency": "BYN", "paid_at": "2026-03-02T10:15:00+03:00"},
        "received_at": "2026-03-20T12:00:00+03:00",
        "reason": "withdrawal",
        "facts": {"access_started_at": "2026-03-02", "progress_percent": 35}
    })
}

/// A file under the system temp dir, unique to this test process and name.
fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("refundd-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

fn shipped_pack(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/data/policies")
        .join(file)
}

#[test]
fn quote_prints_the_worked_example_decision() {
    let (code, decision, stderr) = quote(&courses_example());
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(decision["decision"], "approve");
    assert_eq!(decision["amount"], "90.00");
    assert_eq!(decision["currency"], "BYN");
    assert_eq!(decision["refund_due_by"], "2026-05-05");
    assert_eq!(decision["payout_method"], "original_card");
    assert_eq!(decision["requires_confirmation"], false);
    assert_eq!(decision["missing"], json!([]));
    assert_eq!(decision["policy"], "by-online-courses");
    assert_eq!(decision["policy_version"].as_str().unwrap().len(), 16);
    assert!(decision["clause"].as_str().unwrap().contains("20 %"));
    // The pack's Russian, next to the English.
    assert!(
        decision["clause_translations"]["ru"]
            .as_str()
            .unwrap()
            .starts_with("Пункт 11 б)")
    );
    assert!(
        decision["effects"][0]["clause_translations"]["ru"]
            .as_str()
            .unwrap()
            .starts_with("Пункт 15")
    );
    assert_eq!(decision["effects"][0]["kind"], "access_revocation");
    assert_eq!(decision["effects"][0]["due_by"], "2026-03-23");
    assert_eq!(decision["facts_used"]["progress_percent"], 35);
}

#[test]
fn quote_reads_a_file_argument() {
    let path = temp_file(
        "saas.json",
        &json!({
            "policy": "kz-saas-subscription",
            "payment": {"amount": "60000.00", "currency": "KZT", "paid_at": "2026-03-02T09:00:00+05:00"},
            "received_at": "2026-03-10T12:00:00+05:00",
            "reason": "withdrawal",
            "facts": {"access_started_at": "2026-03-02", "reason_text": "not what we need",
                      "approved_at": "2026-04-01"}
        })
        .to_string(),
    );
    let output = refundd(&["quote", path.to_str().unwrap()], None);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(output.status.code(), Some(0));
    let decision: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(decision["decision"], "approve");
    assert_eq!(decision["amount"], "57391.30");
    assert_eq!(decision["currency"], "KZT");
    assert_eq!(decision["requires_confirmation"], true);
    assert_eq!(decision["refund_due_by"], "2026-04-15");
    assert_eq!(decision["calculation"]["term_days"], 184);
    assert_eq!(decision["calculation"]["used_days"], 8);
    assert_eq!(decision["calculation"]["rendered"], "2608.70");
}

#[test]
fn every_decision_exits_zero() {
    let mut needs_info = courses_example();
    needs_info["facts"] = json!({"access_started_at": "2026-03-02"});
    let mut reject = courses_example();
    reject["facts"]["progress_percent"] = json!(71);
    let manual = json!({
        "policy": "lv-webshop",
        "payment": {"amount": "84.90", "currency": "EUR", "paid_at": "2026-03-30"},
        "received_at": "2026-04-02",
        "reason": "withdrawal"
    });
    let (code, decision, _) = quote(&needs_info);
    assert_eq!(code, Some(0));
    assert_eq!(decision["decision"], "needs_info");
    assert_eq!(decision["missing"], json!(["progress_percent"]));
    assert_eq!(decision["amount"], Value::Null);

    let (code, decision, _) = quote(&reject);
    assert_eq!(code, Some(0));
    assert_eq!(decision["decision"], "reject");
    assert_eq!(decision["amount"], "0.00");

    let (code, decision, _) = quote(&manual);
    assert_eq!(code, Some(0));
    assert_eq!(decision["decision"], "manual_review");
}

#[test]
fn quote_accepts_refunded_complete_at_and_documents() {
    let request = json!({
        "policy": "kz-goods-store",
        "payment": {"amount": "25990.00", "currency": "KZT", "paid_at": "2026-04-01",
                    "refunded": "5990.00"},
        "received_at": "2026-04-11T10:00:00+05:00",
        "complete_at": "2026-04-14T16:00:00+05:00",
        "reason": "withdrawal",
        "facts": {"identity_document_verified": true},
        "documents": ["refund_application", "identity_document"]
    });
    let (code, decision, stderr) = quote(&request);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(decision["decision"], "approve");
    assert_eq!(decision["amount"], "20000.00");
    assert_eq!(decision["capped"], true);
    // 3 KZ working days from Tuesday 14 April: 15, 16, 17.
    assert_eq!(decision["refund_due_by"], "2026-04-17");
}

#[test]
fn malformed_requests_exit_2_with_one_line() {
    let change = |edit: &dyn Fn(&mut Value)| {
        let mut request = courses_example();
        edit(&mut request);
        request
    };
    let cases: Vec<(Value, &str)> = vec![
        (
            change(&|r| r["policy"] = json!("no-such-pack")),
            "unknown policy `no-such-pack`",
        ),
        (
            change(&|r| r["reason"] = json!("refund")),
            "unknown variant `refund`",
        ),
        (
            change(&|r| r["payment"]["amount"] = json!("45O.00")),
            "payment.amount",
        ),
        (
            change(&|r| r["payment"]["amount"] = json!("450.001")),
            "more than 2 decimal places",
        ),
        (
            change(&|r| r["payment"]["amount"] = json!(450)),
            "decimal string",
        ),
        (
            change(&|r| r["payment"]["currency"] = json!("EUR")),
            "not the currency of policy",
        ),
        (
            change(&|r| r["received_at"] = json!("2026-02-30")),
            "received_at",
        ),
        (
            change(&|r| r["facts"]["access_started_at"] = json!("March 2")),
            "facts.access_started_at",
        ),
        (
            change(&|r| r["facts"]["progres_percent"] = json!(3)),
            "unknown field `progres_percent`",
        ),
        (
            change(&|r| r["facts"]["progress_percent"] = json!(35.5)),
            "facts.progress_percent",
        ),
        (
            change(&|r| r["facts"]["progress_percent"] = json!(101)),
            "whole percentage 0-100",
        ),
        (
            change(&|r| r["facts"]["progress_percent"] = json!(-1)),
            "whole percentage 0-100",
        ),
    ];
    for (request, expected) in cases {
        let (code, stdout, stderr) = quote(&request);
        assert_eq!(code, Some(2), "{request}");
        assert_eq!(stdout, Value::Null, "nothing on stdout for {request}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{expected:?} not in {stderr}");
    }
    let (code, _, stderr) = {
        let output = refundd(&["quote"], Some("{not json"));
        (
            output.status.code(),
            (),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with("refundd quote: invalid request"),
        "{stderr}"
    );
}

#[test]
fn policies_list_shows_the_five_packs() {
    let output = refundd(&["policies", "list"], None);
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let rows: Vec<Vec<&str>> = stdout.lines().map(|l| l.split('\t').collect()).collect();
    let ids: Vec<&str> = rows.iter().map(|r| r[0]).collect();
    assert_eq!(
        ids,
        [
            "by-app-studio",
            "by-online-courses",
            "kz-goods-store",
            "kz-saas-subscription",
            "lv-webshop"
        ]
    );
    let webshop = &rows[4];
    assert_eq!(webshop[1].len(), 16);
    assert_eq!((webshop[2], webshop[3]), ("LV", "EUR"));

    let output = refundd(&["policies", "list", "--json"], None);
    let first: Value = serde_json::from_str(
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(first["id"], "by-app-studio");
    assert_eq!(first["timezone"], "Europe/Minsk");
    assert_eq!(first["version"], rows[0][1]);
}

#[test]
fn policies_check_accepts_a_good_pack_with_its_version() {
    let list = String::from_utf8(refundd(&["policies", "list"], None).stdout).unwrap();
    let version = list
        .lines()
        .find(|l| l.starts_with("by-online-courses\t"))
        .and_then(|l| l.split('\t').nth(1))
        .unwrap()
        .to_owned();
    let path = shipped_pack("by-online-courses.toml");
    let output = refundd(&["policies", "check", path.to_str().unwrap()], None);
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        format!("OK by-online-courses {version}")
    );
}

#[test]
fn policies_check_names_file_line_field_and_problem() {
    let text = std::fs::read_to_string(shipped_pack("by-app-studio.toml"))
        .unwrap()
        .replace(
            r#"reason = ["not_delivered", "force_majeure"]"#,
            r#"reason = ["not_delivred"]"#,
        );
    let path = temp_file("bad-pack.toml", &text);
    let output = refundd(&["policies", "check", path.to_str().unwrap()], None);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let line = text
        .lines()
        .position(|l| l.contains("not_delivred"))
        .unwrap()
        + 1;
    let expected = format!("{}:{line}: rules[1].when.reason[1]: ", path.display());
    assert!(
        stderr.starts_with(&expected),
        "{expected} not at the start of {stderr}"
    );
    assert!(stderr.contains("not_delivred"), "{stderr}");
}

#[test]
fn a_dash_reads_the_request_from_stdin_as_unix_tools_do() {
    let request = courses_example().to_string();
    let plain = refundd(&["quote"], Some(&request));
    let dash = refundd(&["quote", "-"], Some(&request));
    assert_eq!(
        dash.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&dash.stderr)
    );
    assert_eq!(dash.stdout, plain.stdout);
    let decision: Value = serde_json::from_slice(&dash.stdout).unwrap();
    assert_eq!(decision["amount"], "90.00");
}
