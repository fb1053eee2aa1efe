//! The docker/ files: Docker does not run on our machines, so this checks what can be checked
//! without it: the compose file parses, every service it names is defined, every refundd
//! service runs a command the binary accepts, and every worker role has a service of its own;
//! Prometheus scrapes the API with the key the compose file makes, and its alerts and the
//! Grafana dashboard name only metrics the API serves.

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
        // A shell script (entrypoint `/bin/sh -c`): each `refundd ...` line of it.
        let commands: Vec<Vec<String>> = if service.get("entrypoint").is_some() {
            let script = command.join("\n");
            let found: Vec<Vec<String>> = script
                .lines()
                .filter_map(|l| l.trim().strip_prefix("refundd "))
                .map(|l| {
                    l.split_whitespace()
                        .take_while(|w| !w.starts_with(['>', '|', '&']) && !w.starts_with("2>"))
                        .map(String::from)
                        .collect()
                })
                .collect();
            assert!(
                !found.is_empty(),
                "{name:?}: a script that never runs refundd"
            );
            found
        } else {
            vec![command]
        };
        for command in commands {
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
        }
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

/// Every `refundd_...` metric name in `text`, without histogram suffixes.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(at) = rest.find("refundd_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        let name = ["_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(&name)
            .to_string();
        names.insert(name);
    }
    names
}

#[test]
fn prometheus_scrapes_the_api_and_alerts_and_dashboard_name_served_metrics() {
    let compose = compose();
    let services = services(&compose);
    let read = |path: &str| std::fs::read_to_string(docker_dir().join(path)).unwrap();
    let prometheus: Value = serde_yaml::from_str(&read("prometheus/prometheus.yml")).unwrap();
    let job = &prometheus["scrape_configs"][0];
    assert_eq!(job["metrics_path"], "/metrics");
    assert_eq!(job["static_configs"][0]["targets"][0], "api:8080");
    assert_eq!(
        services["api"]["environment"]["REFUNDD_API_BIND"],
        "0.0.0.0:8080"
    );
    // The key file Prometheus reads is the one the metrics-key service writes.
    let key_file = job["authorization"]["credentials_file"].as_str().unwrap();
    assert_eq!(
        key_file, "/etc/prometheus/secrets/refundd-api-key",
        "{key_file}"
    );
    let mounts = |service: &str| -> Vec<String> {
        services[service]["volumes"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect()
    };
    assert!(mounts("prometheus").contains(&"prometheus-secrets:/etc/prometheus/secrets:ro".into()));
    assert!(mounts("metrics-key").contains(&"prometheus-secrets:/secrets".into()));
    let script = services["metrics-key"]["command"][0].as_str().unwrap();
    assert!(script.contains("--role viewer"), "{script}");
    // Prometheus scrapes every merchant's figures: the key says so explicitly.
    assert!(script.contains("--merchant all-merchants"), "{script}");
    assert!(script.contains("/secrets/refundd-api-key"), "{script}");

    let served: BTreeSet<String> = workers::api::metrics::NAMES
        .iter()
        .map(ToString::to_string)
        .collect();
    let alerts = read("prometheus/alerts.yml");
    let _: Value = serde_yaml::from_str(&alerts).expect("alerts.yml is valid YAML");
    let dashboard = read("grafana/dashboards/refundd.json");
    let _: serde_json::Value = serde_json::from_str(&dashboard).expect("dashboard is JSON");
    for (file, text) in [("alerts.yml", &alerts), ("refundd.json", &dashboard)] {
        let named = metric_names(text);
        assert!(!named.is_empty(), "{file} names no metric");
        let unknown: Vec<&String> = named.difference(&served).collect();
        assert!(
            unknown.is_empty(),
            "{file} names metrics the API does not serve: {unknown:?}"
        );
    }
    for provisioning in [
        "grafana/provisioning/datasources/prometheus.yml",
        "grafana/provisioning/dashboards/refundd.yml",
    ] {
        let _: Value = serde_yaml::from_str(&read(provisioning)).expect(provisioning);
    }
}
