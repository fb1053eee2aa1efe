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

/// Without document keys the services do not start (they would encrypt identity documents
/// under the development key, which anyone with the source can compute), unless
/// `REFUNDD_DEV_MODE=1` says this is a development machine.
#[test]
fn the_services_refuse_to_start_without_document_keys() {
    for args in [
        &["api"][..],
        &["all"],
        &["worker", "validate"],
        &["intake-email"],
        &["keys", "rotate"],
    ] {
        let out = refundd()
            .args(args)
            .env_remove("REFUNDD_DOCUMENT_KEYS")
            .env_remove("REFUNDD_DOCUMENT_KEYS_FILE")
            .env_remove("REFUNDD_DEV_MODE")
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("REFUNDD_DOCUMENT_KEYS")
                && stderr.contains("refundd keys generate")
                && stderr.contains("REFUNDD_DEV_MODE=1"),
            "{args:?}: {stderr}"
        );
    }
    // A typo in the switch is a bad setting, not a silent production start.
    let out = refundd()
        .arg("api")
        .env_remove("REFUNDD_DOCUMENT_KEYS")
        .env("REFUNDD_DEV_MODE", "sure")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("REFUNDD_DEV_MODE")
    );
}

/// `keys generate` prints a key the services accept, from a file too.
#[test]
fn a_generated_key_is_accepted_from_the_environment_and_from_a_file() {
    let out = refundd()
        .args(["keys", "generate", "--id", "k1"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(line.starts_with("k1:"), "{line}");
    let again = refundd()
        .args(["keys", "generate", "--id", "k1"])
        .output()
        .unwrap();
    assert_ne!(
        String::from_utf8(again.stdout).unwrap().trim(),
        line,
        "each key is new"
    );
    let keys = shared::documents::DocumentKeys::parse(&line).expect("a valid key");
    assert_eq!(keys.active_id(), "k1");

    let file = std::env::temp_dir().join(format!("refundd-keys-{}", std::process::id()));
    std::fs::write(&file, format!("{line}\n")).unwrap();
    let mut env = std::collections::BTreeMap::new();
    env.insert(
        "REFUNDD_DOCUMENT_KEYS_FILE".to_string(),
        file.display().to_string(),
    );
    let settings = shared::config::Settings::load_from(None, &env).unwrap();
    assert_eq!(settings.service_document_keys().unwrap().active_id(), "k1");
    // Both ways at once is ambiguous.
    env.insert("REFUNDD_DOCUMENT_KEYS".to_string(), line.clone());
    let e = shared::config::Settings::load_from(None, &env).unwrap_err();
    assert!(e.to_string().contains("not both"), "{e}");
    std::fs::remove_file(&file).unwrap();

    let bad = refundd()
        .args(["keys", "generate", "--id", "no spaces"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
}
