//! An open-loop load generator for the API (`scripts/loadtest` runs it): sends requests at a
//! fixed rate whatever the server's speed, and measures each latency from the moment the
//! request was due, so a slow server cannot hide its queueing (no coordinated omission).
//! Prints throughput, latency percentiles and the server's resident memory (from /proc).
//!
//! ```text
//! cargo run --release -p e2e --example loadgen -- \
//!     --base http://127.0.0.1:8080 --target apply --rate 200 --duration 60 --pid 1234
//! ```
//! `--target health` sends `GET /healthz` (the baseline: the HTTP stack alone); `--target
//! apply` registers payments first (untimed), then sends `POST /v1/refund-requests` with a
//! fresh `Idempotency-Key` each. The API key comes from `LOADGEN_API_KEY`, never argv.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use e2e::load::{letters, rss_kib};

struct Args {
    base: String,
    target: Target,
    rate: u32,
    duration: Duration,
    warmup: Duration,
    payments: usize,
    pid: Option<u32>,
    max_in_flight: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum Target {
    Health,
    Apply,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        base: "http://127.0.0.1:8080".into(),
        target: Target::Health,
        rate: 100,
        duration: Duration::from_secs(30),
        warmup: Duration::from_secs(5),
        payments: 200,
        pid: None,
        max_in_flight: 2000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--base" => args.base = value()?.trim_end_matches('/').to_string(),
            "--target" => {
                args.target = match value()?.as_str() {
                    "health" => Target::Health,
                    "apply" => Target::Apply,
                    other => bail!("--target is health or apply, not {other:?}"),
                }
            }
            "--rate" => args.rate = value()?.parse().context("--rate: requests per second")?,
            "--duration" => args.duration = Duration::from_secs(value()?.parse()?),
            "--warmup" => args.warmup = Duration::from_secs(value()?.parse()?),
            "--payments" => args.payments = value()?.parse()?,
            "--pid" => args.pid = Some(value()?.parse()?),
            "--max-in-flight" => args.max_in_flight = value()?.parse()?,
            other => bail!(
                "unknown argument {other:?}; see the comment at the top of tests/examples/loadgen.rs"
            ),
        }
    }
    if args.rate == 0 {
        bail!("--rate must be at least 1");
    }
    Ok(args)
}

fn payment_body(i: usize, run: &str) -> Value {
    json!({
        "merchant": "byskills",
        "policy": "by-online-courses",
        "gateway": "sandbox",
        "gateway_transaction_id": format!("load-{run}-{}", letters(i)),
        "amount": "450.00",
        "currency": "BYN",
        "paid_at": "2026-03-02T10:15:00+03:00",
        "card": {"brand": "visa", "last4": "4242"},
        "cardholder_name": "IVAN IVANOV",
        "customer": {"email": "ivan@example.com", "language": "ru"}
    })
}

fn application(payment_id: &str) -> Value {
    json!({
        "payment": {"id": payment_id},
        "reason": "withdrawal",
        "facts": {"access_started_at": "2026-03-02", "progress_percent": 35},
        "received_at": "2026-03-20T12:00:00+03:00"
    })
}

async fn register_payments(
    client: &reqwest::Client,
    args: &Args,
    key: &str,
) -> anyhow::Result<Vec<String>> {
    // Letters only: a long run of digits could pass for a card number and be refused.
    let run: String = uuid::Uuid::new_v4()
        .as_bytes()
        .iter()
        .map(|b| char::from(b'a' + b % 26))
        .collect();
    let mut ids = Vec::with_capacity(args.payments);
    for i in 0..args.payments {
        let r = client
            .post(format!("{}/v1/payments", args.base))
            .bearer_auth(key)
            .json(&payment_body(i, &run))
            .send()
            .await?;
        let status = r.status();
        let body: Value = r.json().await?;
        if status != 201 {
            bail!("registering a payment answered {status}: {body}");
        }
        ids.push(body["id"].as_str().context("payment id")?.to_string());
    }
    Ok(ids)
}

#[derive(Default)]
struct Outcome {
    /// Microseconds from when each request was due to when its answer was read.
    latencies_us: Vec<u64>,
    unexpected: Vec<String>,
}

struct Phase {
    sent: u64,
    ok: u64,
    failed: u64,
    skipped: u64,
    elapsed: Duration,
    latencies_us: Vec<u64>,
    unexpected: Vec<String>,
}

/// Sends requests at `rate` per second for `duration`; returns what happened.
async fn run_phase(
    client: &reqwest::Client,
    args: &Args,
    key: &Arc<str>,
    payments: &Arc<Vec<String>>,
    duration: Duration,
) -> Phase {
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let in_flight = Arc::new(AtomicU64::new(0));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let mut skipped = 0;
    let period = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    let total = (duration.as_secs_f64() * f64::from(args.rate)).round() as u64;
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let due = start + period.mul_f64(i as f64);
        tokio::time::sleep_until(due.into()).await;
        if in_flight.load(Ordering::Relaxed) >= args.max_in_flight {
            // The server is this far behind: count it, don't pile on without bound.
            skipped += 1;
            continue;
        }
        in_flight.fetch_add(1, Ordering::Relaxed);
        let request = match args.target {
            Target::Health => client.get(format!("{}/healthz", args.base)),
            Target::Apply => client
                .post(format!("{}/v1/refund-requests", args.base))
                .bearer_auth(&**key)
                .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
                .json(&application(&payments[i as usize % payments.len()])),
        };
        let expected = if args.target == Target::Health {
            200
        } else {
            202
        };
        let (outcome, in_flight, ok, failed) = (
            outcome.clone(),
            in_flight.clone(),
            ok.clone(),
            failed.clone(),
        );
        tasks.spawn(async move {
            let result = request.send().await;
            let answer = match result {
                Ok(r) => {
                    let status = r.status().as_u16();
                    match r.bytes().await {
                        Ok(_) if status == expected => Ok(()),
                        Ok(body) => Err(format!("{status}: {}", String::from_utf8_lossy(&body))),
                        Err(e) => Err(format!("reading the answer: {e}")),
                    }
                }
                Err(e) => Err(format!("sending: {e}")),
            };
            let latency = due.elapsed();
            in_flight.fetch_sub(1, Ordering::Relaxed);
            let mut outcome = outcome.lock().await;
            match answer {
                Ok(()) => {
                    ok.fetch_add(1, Ordering::Relaxed);
                    outcome.latencies_us.push(latency.as_micros() as u64);
                }
                Err(e) => {
                    failed.fetch_add(1, Ordering::Relaxed);
                    if outcome.unexpected.len() < 5 {
                        outcome.unexpected.push(e);
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let elapsed = start.elapsed();
    let outcome = std::mem::take(&mut *outcome.lock().await);
    Phase {
        sent: total - skipped,
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        skipped,
        elapsed,
        latencies_us: outcome.latencies_us,
        unexpected: outcome.unexpected,
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let key: Arc<str> = std::env::var("LOADGEN_API_KEY").unwrap_or_default().into();
    if args.target == Target::Apply && key.is_empty() {
        bail!("set LOADGEN_API_KEY to a support or supervisor key");
    }
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(30))
        .build()?;
    let payments = Arc::new(if args.target == Target::Apply {
        register_payments(&client, &args, &key).await?
    } else {
        vec![String::new()]
    });

    if !args.warmup.is_zero() {
        run_phase(&client, &args, &key, &payments, args.warmup).await;
    }
    let rss_before = args.pid.and_then(rss_kib);
    let peak = Arc::new(AtomicU64::new(rss_before.unwrap_or(0)));
    let sampler = args.pid.map(|pid| {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                if let Some(kib) = rss_kib(pid) {
                    peak.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    });
    let mut phase = run_phase(&client, &args, &key, &payments, args.duration).await;
    if let Some(s) = sampler {
        s.abort();
    }
    let rss_after = args.pid.and_then(rss_kib);

    phase.latencies_us.sort_unstable();
    let l = &phase.latencies_us;
    let name = match args.target {
        Target::Health => "GET /healthz",
        Target::Apply => "POST /v1/refund-requests",
    };
    let mib = |k: Option<u64>| k.map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0));
    println!(
        "{name}: offered {} req/s for {:.0} s; answered {} ok, {} failed, {} skipped (over {} in flight)",
        args.rate,
        args.duration.as_secs_f64(),
        phase.ok,
        phase.failed,
        phase.skipped,
        args.max_in_flight
    );
    println!(
        "RESULT target={} rate={} throughput={:.1} p50_ms={:.2} p90_ms={:.2} p99_ms={:.2} max_ms={:.2} ok={} failed={} skipped={} rss_before_mib={} rss_peak_mib={} rss_after_mib={}",
        match args.target {
            Target::Health => "health",
            Target::Apply => "apply",
        },
        args.rate,
        phase.ok as f64 / phase.elapsed.as_secs_f64(),
        percentile(l, 50.0),
        percentile(l, 90.0),
        percentile(l, 99.0),
        l.last().map_or(f64::NAN, |&m| m as f64 / 1000.0),
        phase.ok,
        phase.failed,
        phase.skipped,
        mib(rss_before),
        mib(args.pid.map(|_| peak.load(Ordering::Relaxed))),
        mib(rss_after),
    );
    for e in &phase.unexpected {
        eprintln!("unexpected answer: {e}");
    }
    if phase.sent == 0 || phase.failed > 0 {
        bail!("{} of {} requests failed", phase.failed, phase.sent);
    }
    Ok(())
}
