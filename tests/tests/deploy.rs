//! The docker/ files: Docker does not run on our machines, so this checks what can be checked
//! without it: the compose file parses, every service it names is defined, every refundd
//! service runs a command the binary accepts, and every worker role has a service of its own.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use serde_yaml::Value;

fn docker_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docker")
}

fn compose() -> Value {
    let text = std::fs::read_to_string(docker_dir().join("compose.yml")).unwrap();
    let mut value: Value = serde_yaml::from_str(&text).expect("compose.yml is valid YAML");
    value.apply_merge().expect("merge keys resolve");
    value
}

fn services(compose: &Value) -> &serde_yaml::Mapping {
    compose["services"].as_mapping().expect("services")
}

#[test]
fn every_service_named_in_the_compose_file_is_defined() {
    let compose = compose();
    let services = services(&compose);
    let names: BTreeSet<&str> = services.keys().filter_map(Value::as_str).collect();
    for required in [
        "postgres", "rabbitmq", "mailpit", "api", "relay", "validate", "decide", "payout",
        "notify", "sla",
    ] {
        assert!(names.contains(required), "service {required} missing");
    }
    for (name, service) in services {
        let name = name.as_str().unwrap();
        assert!(
            service.get("image").is_some() || service.get("build").is_some(),
            "{name} has neither image nor build"
        );
        if let Some(deps) = service.get("depends_on") {
            let deps: Vec<&str> = match deps {
                Value::Sequence(s) => s.iter().filter_map(Value::as_str).collect(),
                Value::Mapping(m) => m.keys().filter_map(Value::as_str).collect(),
                other => panic!("{name}: depends_on is {other:?}"),
            };
            for dep in deps {
                assert!(
                    names.contains(dep),
                    "{name} depends on undefined service {dep}"
                );
            }
        }
    }
}

#[test]
fn every_refundd_service_runs_a_command_the_binary_accepts() {
    let compose = compose();
    let bin = e2e::refundd_bin();
    let mut roles = BTreeSet::new();
    for (name, service) in services(&compose) {
        if service.get("build").is_none() {
            continue;
        }
        let command: Vec<String> = service["command"]
            .as_sequence()
            .unwrap_or_else(|| panic!("{name:?} has a command list"))
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        if command.first().map(String::as_str) == Some("worker") {
            roles.insert(command[1].clone());
        }
        let out = Command::new(&bin)
            .args(&command)
            .arg("--help")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "service {name:?}: `refundd {}` is not a valid command: {}",
            command.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        let env = service["environment"].as_mapping().expect("environment");
        assert!(
            env.contains_key("DATABASE_URL") && env.contains_key("AMQP_URL"),
            "{name:?} env"
        );
    }
    let expected: BTreeSet<String> = [
        "validate", "decide", "payout", "notify", "relay", "sla", "webhook",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(roles, expected, "one service per worker role");
}

#[test]
fn the_image_builds_offline_and_the_broker_definitions_parse() {
    let dockerfile = std::fs::read_to_string(docker_dir().join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("SQLX_OFFLINE=true"));
    assert!(dockerfile.contains("--bin refundd"));
    assert!(dockerfile.matches("FROM ").count() >= 2, "multi-stage");
    let defs: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(docker_dir().join("rabbitmq/definitions.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(defs["users"][0]["name"], "refundd");
}
