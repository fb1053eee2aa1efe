//! `chaos`: the chaos suite's long run (see `e2e::chaos`); `scripts/chaos` builds and runs it.
//!
//! ```text
//! chaos [--seed N] [--applications N] [--rate R] [--db-outage SECS] [--tiers 1s,5s,30s]
//!       [--stall-after SECS] [--cluster SCRIPT] [--short]
//! ```
//! Exits 0 when every guarantee held, 1 when one broke (each printed with its evidence), 2 on
//! bad arguments or when the run itself could not be set up.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use e2e::chaos::{ChaosConfig, Cluster, run};

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "chaos: {problem}\nusage: chaos [--seed N] [--applications N] [--rate R] [--db-outage SECS] \
         [--tiers 1s,5s,30s] [--stall-after SECS] [--cluster SCRIPT] [--short]"
    );
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut seed: Option<u64> = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok());
    let mut short = false;
    let mut overrides: Vec<(String, String)> = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--short" => short = true,
            "--seed" | "--applications" | "--rate" | "--db-outage" | "--tiers"
            | "--stall-after" | "--cluster" => {
                let Some(value) = args.next() else {
                    return usage(&format!("{arg} needs a value"));
                };
                if arg == "--seed" {
                    match value.parse() {
                        Ok(s) => seed = Some(s),
                        Err(_) => return usage(&format!("--seed takes a number, not {value:?}")),
                    }
                } else {
                    overrides.push((arg, value));
                }
            }
            "-h" | "--help" => return usage("the chaos suite's long run"),
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    let seed = seed.unwrap_or_else(fastrand_seed);
    let mut config = if short {
        ChaosConfig::short(seed)
    } else {
        ChaosConfig::long(seed)
    };
    for (name, value) in overrides {
        let bad = |what: &str| usage(&format!("{name} takes {what}, not {value:?}"));
        match name.as_str() {
            "--applications" => match value.parse() {
                Ok(n) => config.applications = n,
                Err(_) => return bad("a number"),
            },
            "--rate" => match value.parse() {
                Ok(r) if r > 0.0 => config.rate = r,
                _ => return bad("a positive number"),
            },
            "--db-outage" => match value.parse() {
                Ok(s) => config.db_outage = Duration::from_secs(s),
                Err(_) => return bad("seconds"),
            },
            "--stall-after" => match value.parse() {
                Ok(s) => config.stall_after = Duration::from_secs(s),
                Err(_) => return bad("seconds"),
            },
            "--tiers" => {
                let tiers: Result<Vec<Duration>, _> = value
                    .split(',')
                    .map(|t| shared::config::parse_duration(t.trim()))
                    .collect();
                match tiers {
                    Ok(t) if !t.is_empty() => config.retry_delays = t,
                    _ => return bad("delays like 1s,5s,30s"),
                }
            }
            "--cluster" => {
                let script = PathBuf::from(&value);
                let urls = match std::process::Command::new(&script).arg("urls").output() {
                    Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
                        .trim()
                        .split(',')
                        // The suite adds its own vhost.
                        .map(|u| u.trim().trim_end_matches("/%2f").to_owned())
                        .collect(),
                    _ => return usage(&format!("{value} urls did not answer: is the cluster up?")),
                };
                config.cluster = Some(Cluster {
                    script,
                    urls,
                    node: "rc1@localhost".into(),
                    node_down: Duration::from_secs(20),
                });
            }
            _ => unreachable!(),
        }
    }
    match run(config).await {
        Ok(report) if report.passed() => {
            println!("[chaos] PASSED (seed {seed})");
            ExitCode::SUCCESS
        }
        Ok(report) => {
            println!(
                "[chaos] FAILED (seed {seed}): {} guarantees broken",
                report.failures.len()
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("[chaos] the run could not be carried out (seed {seed}): {e:#}");
            ExitCode::from(2)
        }
    }
}

fn fastrand_seed() -> u64 {
    use std::time::{SystemTime, UNIX_EPOCH};
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1);
    nanos ^ u64::from(std::process::id()).rotate_left(32)
}
