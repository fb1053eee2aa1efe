//! The command line itself: help for every command, and a bad setting stopping the process
//! with one line naming it and exit code 2.

use std::process::Command;

fn refundd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_refundd"));
    c.env_remove("DATABASE_URL").env_remove("AMQP_URL");
    c
}

#[test]
fn help_explains_every_command_in_one_line() {
    let out = refundd().arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for command in ["migrate", "api", "worker", "all"] {
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(command))
            .unwrap_or_else(|| panic!("{command} missing from help:\n{help}"));
        assert!(
            line.len() > command.len() + 10,
            "{command} has no explanation: {line}"
        );
    }
    let out = refundd().args(["worker", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for role in ["validate", "decide", "payout", "notify", "relay", "sla"] {
        assert!(help.contains(role), "role {role} missing:\n{help}");
    }
}

#[test]
fn a_bad_setting_stops_with_one_line_and_exit_code_2() {
    let out = refundd()
        .arg("migrate")
        .env("REFUNDD_PREFETCH", "lots")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("REFUNDD_PREFETCH"), "{stderr}");

    let out = refundd()
        .arg("api")
        .env("AMQP_URL", "http://guest:hunter2@localhost")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("AMQP_URL") && !stderr.contains("hunter2"),
        "{stderr}"
    );
}

#[test]
fn a_missing_config_file_is_named() {
    let out = refundd()
        .args(["--config", "/nonexistent/refundd.toml", "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("/nonexistent/refundd.toml"), "{stderr}");
}
