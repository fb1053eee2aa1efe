//! `refundd check-document` as a support agent runs it: JSON in (FILE or stdin), a JSON
//! verdict out with exit 0, or exit 2 and one line on stderr for malformed input.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

const SPECIMEN_MRZ: &str =
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10";
const KZ_PASSPORT: &str =
    "P<KAZSEITKALI<<AIGERIM<<<<<<<<<<<<<<<<<<<<<<\nN123456785KAZ9005123F3001019900512400127<<14";
const BY_PASSPORT: &str =
    "PPBLRIVANOU<<SIARHEI<<<<<<<<<<<<<<<<<<<<<<<<\nMP12345677BLR8905318M31022043310589A012PB284";

fn run_stdin(input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_refundd"))
        .arg("check-document")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("refundd starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Runs with JSON on stdin and returns the parsed verdict, asserting exit 0.
fn verdict(input: Value) -> Value {
    let output = run_stdin(&input.to_string());
    assert_eq!(
        output.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

fn codes(verdict: &Value) -> Vec<(String, String)> {
    verdict["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["code"].as_str().unwrap().to_owned(),
                p["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn scratch_file(name: &str, content: &[u8]) -> PathBuf {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn an_expired_specimen_passport_is_invalid_with_a_plain_message() {
    let verdict = verdict(json!({
        "mrz": SPECIMEN_MRZ,
        "expect": {"name": "Anna Eriksson", "on": "2026-11-21"}
    }));
    assert_eq!(verdict["valid"], json!(false));
    assert_eq!(
        codes(&verdict),
        [("document_expired".to_owned(), "expiry_date".to_owned())]
    );
    assert_eq!(
        verdict["problems"][0]["message"],
        json!("The passport expired on 2012-04-15, before the application date 2026-11-21.")
    );
    assert_eq!(verdict["mrz"]["surname"], json!("ERIKSSON"));
    assert_eq!(verdict["mrz"]["birth_date"], json!("1974-08-12"));
    assert_eq!(verdict["name_match"]["matched"], json!(true));
}

#[test]
fn a_consistent_kazakh_passport_is_valid_and_numbers_stay_masked() {
    let output = run_stdin(
        &json!({
            "mrz": KZ_PASSPORT,
            "country": "KZ",
            "personal_number": "900512400127",
            "document_number": "N12345678",
            "birth_date": "1990-05-12",
            "expires_on": "2030-01-01",
            "holder_name": "Сейткали Айгерим",
            "expect": {"name": "SEITKALI AIGERIM", "on": "2026-11-21"}
        })
        .to_string(),
    );
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let verdict: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(verdict["valid"], json!(true), "{stdout}");
    assert_eq!(verdict["problems"], json!([]));
    assert_eq!(verdict["masked_number"], json!("N1***78"));
    assert_eq!(verdict["personal_number"]["kind"], json!("iin"));
    assert_eq!(verdict["name_match"]["score"], json!(1.0));
    assert!(!stdout.contains("N12345678"), "{stdout}");
    assert!(!stdout.contains("900512400127"), "{stdout}");
}

#[test]
fn a_broken_check_digit_names_the_field() {
    let broken = SPECIMEN_MRZ.replace("7408122F", "7408123F");
    let verdict = verdict(json!({ "mrz": broken }));
    assert_eq!(
        codes(&verdict),
        [
            ("mrz_check_digit".to_owned(), "birth_date".to_owned()),
            ("mrz_check_digit".to_owned(), "composite".to_owned()),
        ]
    );
    assert!(verdict.get("mrz").is_none());
}

#[test]
fn national_number_problems_are_reported() {
    let verdict = verdict(json!({"country": "KZ", "personal_number": "900512400128"}));
    assert_eq!(
        codes(&verdict),
        [("iin_control_digit".to_owned(), "personal_number".to_owned())]
    );
    let message = verdict["problems"][0]["message"].as_str().unwrap();
    assert!(message.contains("90***28"), "{message}");

    let verdict = self::verdict(json!({"country": "LV", "personal_number": "121282-11211"}));
    assert_eq!(codes(&verdict)[0].0, "personal_number_check");
    let verdict = self::verdict(json!({"country": "BY", "personal_number": "3310589A012P"}));
    assert_eq!(codes(&verdict)[0].0, "personal_number_format");
}

#[test]
fn a_russian_spelling_matches_a_belarusian_passport_and_a_stranger_does_not() {
    let same = verdict(json!({"mrz": BY_PASSPORT, "expect": {"name": "Сергей Иванов"}}));
    assert_eq!(same["valid"], json!(true), "{same}");
    assert_eq!(same["name_match"]["matched"], json!(true));

    let stranger = verdict(json!({"mrz": BY_PASSPORT, "expect": {"name": "Пётр Сидоров"}}));
    assert_eq!(
        codes(&stranger),
        [("name_mismatch".to_owned(), "holder_name".to_owned())]
    );
}

#[test]
fn birth_dates_must_agree() {
    let verdict = verdict(json!({"mrz": KZ_PASSPORT, "birth_date": "1990-05-21"}));
    assert!(
        codes(&verdict)
            .iter()
            .any(|(code, _)| code == "birth_date_mismatch"),
        "{verdict}"
    );
}

#[test]
fn the_json_can_come_from_a_file_and_name_a_scan() {
    let mut heic = vec![0, 0, 0, 24];
    heic.extend(b"ftypheic\0\0\0\0mif1heic");
    let scan = scratch_file("photo.heic", &heic);
    let request = scratch_file("request.json", json!({"scan": scan}).to_string().as_bytes());
    let output = Command::new(env!("CARGO_BIN_EXE_refundd"))
        .arg("check-document")
        .arg(&request)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let verdict: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        codes(&verdict),
        [("file_heic".to_owned(), "file".to_owned())]
    );
}

#[test]
fn an_empty_request_is_valid() {
    let verdict = verdict(json!({}));
    assert_eq!(verdict["valid"], json!(true));
    assert_eq!(verdict["problems"], json!([]));
}

#[test]
fn malformed_input_exits_2_with_one_line_on_stderr() {
    for (input, expected) in [
        ("not json", "not valid JSON"),
        (
            r#"{"mrz": "x", "passport": "y"}"#,
            "unknown field `passport`",
        ),
        (r#"{"expect": {"on": "21.11.2026"}}"#, "expect.on"),
        (
            r#"{"expect": {"name": "A", "when": "2026-11-21"}}"#,
            "unknown field `when`",
        ),
        (r#"{"birth_date": "1990-02-30"}"#, "birth_date"),
        (r#"{"expires_on": 20301231}"#, "not valid JSON"),
        (r#"{"country": "Kazakhstan"}"#, "country"),
    ] {
        let output = run_stdin(input);
        assert_eq!(output.status.code(), Some(2), "{input}");
        assert!(output.stdout.is_empty(), "{input}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert_eq!(stderr.trim_end().lines().count(), 1, "{input}: {stderr}");
        assert!(stderr.contains(expected), "{input}: {stderr}");
    }
}

#[test]
fn a_missing_file_exits_2() {
    let output = Command::new(env!("CARGO_BIN_EXE_refundd"))
        .args(["check-document", "/definitely/not/here.json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not/here.json"));
}

#[test]
fn a_dash_reads_the_document_from_stdin_as_unix_tools_do() {
    let input = json!({
        "mrz": KZ_PASSPORT,
        "country": "KZ",
        "personal_number": "900512400127",
        "expect": {"name": "SEITKALI AIGERIM", "on": "2026-11-21"}
    })
    .to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_refundd"))
        .args(["check-document", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("refundd starts");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let dash = child.wait_with_output().unwrap();
    assert_eq!(
        dash.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&dash.stderr)
    );
    assert_eq!(dash.stdout, run_stdin(&input).stdout);
    let verdict: Value = serde_json::from_slice(&dash.stdout).unwrap();
    assert!(verdict.is_object(), "{verdict}");
}
