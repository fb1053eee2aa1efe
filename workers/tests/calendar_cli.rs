//! `refundd calendar ...` as a user (and the acceptance checks) run it: the real binary, its
//! stdout, stderr and exit code.

use std::process::{Command, Output};

fn refundd(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_refundd"))
        .args(args)
        .output()
        .expect("run refundd")
}

fn stdout_lines(output: &Output) -> Vec<String> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Asserts exit code 2, nothing on stdout and exactly one line on stderr; returns that line.
fn bad_input(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    let stderr = String::from_utf8(output.stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr:?}");
    stderr.trim_end().to_owned()
}

#[test]
fn add_working_days_prints_the_by_anchor() {
    let out = refundd(&[
        "calendar",
        "add",
        "--country",
        "BY",
        "--date",
        "2026-03-20",
        "--working-days",
        "30",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout_lines(&out), ["2026-05-05"]);
}

#[test]
fn add_calendar_days_extends_only_with_the_flag() {
    let plain = refundd(&[
        "calendar",
        "add",
        "--country",
        "BY",
        "--date",
        "2026-04-06",
        "--calendar-days",
        "14",
    ]);
    assert_eq!(stdout_lines(&plain), ["2026-04-20"]);
    let extended = refundd(&[
        "calendar",
        "add",
        "--country",
        "BY",
        "--date",
        "2026-04-06",
        "--calendar-days",
        "14",
        "--extend",
    ]);
    assert_eq!(stdout_lines(&extended), ["2026-04-22"]);
}

#[test]
fn working_days_lists_kz_2026() {
    let out = refundd(&[
        "calendar",
        "working-days",
        "--country",
        "KZ",
        "--from",
        "2026-01-01",
        "--to",
        "2026-12-31",
    ]);
    assert!(out.status.success(), "{out:?}");
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 247);
    assert_eq!(lines.first().map(String::as_str), Some("2026-01-05"));
    assert_eq!(lines.last().map(String::as_str), Some("2026-12-31"));
    for off in [
        "2026-03-23",
        "2026-03-24",
        "2026-03-25",
        "2026-05-27",
        "2026-12-16",
    ] {
        assert!(!lines.iter().any(|l| l == off), "{off} listed as working");
    }
    assert!(lines.iter().any(|l| l == "2026-08-31"));
}

#[test]
fn working_days_include_working_saturdays() {
    let out = refundd(&[
        "calendar",
        "working-days",
        "--country",
        "lv",
        "--from",
        "2026-06-20",
        "--to",
        "2026-06-28",
    ]);
    assert_eq!(
        stdout_lines(&out),
        ["2026-06-25", "2026-06-26", "2026-06-27"]
    );
}

#[test]
fn unknown_country_is_one_line_and_exit_2() {
    let line = bad_input(&refundd(&[
        "calendar",
        "add",
        "--country",
        "EE",
        "--date",
        "2026-03-20",
        "--working-days",
        "3",
    ]));
    assert!(line.contains("EE"), "{line}");
}

#[test]
fn bad_date_is_one_line_and_exit_2() {
    let line = bad_input(&refundd(&[
        "calendar",
        "add",
        "--country",
        "BY",
        "--date",
        "2026-02-30",
        "--working-days",
        "3",
    ]));
    assert!(line.contains("--date"), "{line}");
    let line = bad_input(&refundd(&[
        "calendar",
        "working-days",
        "--country",
        "BY",
        "--from",
        "yesterday",
        "--to",
        "2026-12-31",
    ]));
    assert!(line.contains("--from"), "{line}");
}

#[test]
fn dates_outside_the_data_are_one_line_and_exit_2() {
    let line = bad_input(&refundd(&[
        "calendar",
        "add",
        "--country",
        "RU",
        "--date",
        "2023-12-29",
        "--working-days",
        "3",
    ]));
    assert!(line.contains("2024-2027"), "{line}");
    let line = bad_input(&refundd(&[
        "calendar",
        "working-days",
        "--country",
        "RU",
        "--from",
        "2027-12-01",
        "--to",
        "2028-01-31",
    ]));
    assert!(line.contains("2028-01-31"), "{line}");
    let line = bad_input(&refundd(&[
        "calendar",
        "add",
        "--country",
        "RU",
        "--date",
        "2027-12-20",
        "--working-days",
        "30",
    ]));
    assert!(line.contains("30 working days"), "{line}");
}

#[test]
fn usage_errors_are_one_line_and_exit_2() {
    bad_input(&refundd(&[
        "calendar",
        "add",
        "--country",
        "BY",
        "--date",
        "2026-03-20",
    ]));
    bad_input(&refundd(&["calendar", "working-days", "--country", "BY"]));
    bad_input(&refundd(&[
        "calendar",
        "add",
        "--country",
        "BY",
        "--date",
        "2026-03-20",
        "--working-days",
        "3",
        "--calendar-days",
        "3",
    ]));
}

#[test]
fn an_invalid_data_dir_file_is_reported_with_its_path_and_line() {
    let dir = std::env::temp_dir().join(format!("refundd-cli-calendar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("by.toml"),
        "country = \"BY\"\nweekend_rule = \"stay\"\n[years.2026]\nsource = \"x\"\n\
         working_saturdays = [ { date = 2026-04-27, compensates = 2026-04-20 } ]\n",
    )
    .unwrap();
    let out = refundd(&[
        "calendar",
        "add",
        "--country",
        "BY",
        "--date",
        "2026-03-20",
        "--working-days",
        "1",
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    let line = bad_input(&out);
    assert!(line.contains("by.toml, line 5"), "{line}");
    let out = refundd(&[
        "calendar",
        "add",
        "--country",
        "KZ",
        "--date",
        "2026-03-20",
        "--working-days",
        "1",
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    // Every file in the directory is read and checked, as at process start: a bad BY file
    // stops a KZ computation too.
    bad_input(&out);
    std::fs::remove_dir_all(&dir).unwrap();
}
