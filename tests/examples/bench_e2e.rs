//! The end-to-end benchmark (`scripts/bench-e2e` runs it): applications through the API,
//! followed until refunded and until every customer email is sent, with what each refund cost
//! the machine.
//!
//! ```text
//! cargo run --release -p e2e --example bench_e2e -- --base http://127.0.0.1:8080 \
//!     --mode closed --count 5000 --concurrency 64 --pid 1234
//! cargo run --release -p e2e --example bench_e2e -- --base http://127.0.0.1:8080 \
//!     --mode open --rate 200 --duration 60 --pid 1234
//! cargo run --release -p e2e --example bench_e2e -- --base http://127.0.0.1:8080 \
//!     --mode capture --count 20 --concurrency 1
//! cargo run --release -p e2e --example bench_e2e -- --mode broker --count 20000
//! cargo run --release -p e2e --example bench_e2e -- --mode broker --count 10000 \
//!     --publish-batch 3 --ack-every 4 --message-rate 1000
//! cargo run --release -p e2e --example bench_e2e -- --mode cpu
//! cargo run --release -p e2e --example bench_e2e -- --mode smtp-sink --listen 127.0.0.1:2525
//! ```
//! - `closed`: `--count` applications, `--concurrency` in flight at once (the most the system
//!   takes); `open`: `--rate` a second for `--duration` seconds whatever the system does, each
//!   request's latency counted from when it was due (no coordinated omission);
//!   `capture`: `--concurrency` at a time, each group followed until done before the next,
//!   printing `WINDOW <ids> <from> <to>` lines for `scripts/bench-replay` (the replay bound);
//!   `broker`: RabbitMQ alone (the broker's bound): `--count` work messages through a quorum
//!   queue of their own as refundd moves them (persistent, published in batches of 100 with
//!   publisher confirms as the relay does, consumed with a prefetch of 32 and acked one by
//!   one), and what that cost `beam.smp` a message; no API key, database or refundd needed.
//!   `--publish-batch` (100), `--ack-every` (1: each on its own; n: `multiple` on every n-th)
//!   and `--message-rate` (0: as fast as confirms come) change how they are grouped in time;
//!   `cpu`: the clock ticks Postgres and RabbitMQ have spent so far (`postgres=N rabbitmq=N`),
//!   counted as the loops count them, for a measurement the script takes around the replay;
//!   `smtp-sink`: the customers' mail server for refundd (`REFUNDD_SMTP_URL`), accepting and
//!   counting every message until SIGTERM; `--sink-pid` in the loops shows its CPU beside
//!   the generator's (neither is in the total: both stand for the outside world).
//! - Every application is App Studio's "not accepted yet" withdrawal, which the policy refunds
//!   in full to the card through the sandbox gateway with no person involved: received,
//!   validated, approved, sent to the gateway, refunded, with the customer's emails.
//! - Followed in the database (`DATABASE_URL`) and the broker (`AMQP_URL`, the queues of
//!   `REFUNDD_QUEUE_PREFIX`) until nothing moves; then each request's times are read once.
//! - Cost per refund: commits and rows from `pg_stat_database` (the benchmark's own polling
//!   reads are counted and subtracted), CPU from `/proc` for refundd (`--pid`), every Postgres
//!   process and RabbitMQ (`beam.smp`), refundd's peak resident memory; the commands written
//!   to the quorum queues' Raft logs (`rabbitmqctl eval`, where it can be run).
//!
//! Prints a readable report and one `RESULT key=value ...` line for the script. The API key
//! comes from `LOADGEN_API_KEY`, never argv.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Row};

use e2e::load::{letters, rss_kib};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Closed,
    Open,
    Capture,
}

/// A measurement on its own, instead of a load.
#[derive(Clone, Copy, PartialEq)]
enum Tool {
    /// RabbitMQ alone moving work messages ([`broker_bound`]).
    Broker,
    /// The CPU clock ticks Postgres and RabbitMQ have spent so far, as [`Cpu::read`] counts
    /// them (`scripts/bench-e2e` takes two readings around the replay).
    Cpu,
    /// The mail server refundd sends the customers' emails to: an SMTP sink on `--listen`
    /// that accepts and counts every message until it is stopped (`e2e::smtp_sink`).
    SmtpSink,
}

struct Args {
    base: String,
    mode: Mode,
    tool: Option<Tool>,
    count: usize,
    concurrency: usize,
    rate: u32,
    duration: Duration,
    pid: Option<u32>,
    /// The SMTP sink's process, whose CPU is shown beside the generator's.
    sink_pid: Option<u32>,
    /// Where the SMTP sink listens.
    listen: std::net::SocketAddr,
    clock_ticks: f64,
    sandbox: String,
    /// The broker's bound: messages published per confirmed batch.
    publish_batch: usize,
    /// The broker's bound: deliveries acked together (`multiple=true` on every n-th).
    ack_every: usize,
    /// The broker's bound: messages published a second (0: as fast as confirms allow).
    message_rate: u32,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        base: "http://127.0.0.1:8080".into(),
        mode: Mode::Closed,
        tool: None,
        count: 5000,
        concurrency: 64,
        rate: 200,
        duration: Duration::from_secs(60),
        pid: None,
        sink_pid: None,
        listen: ([127, 0, 0, 1], 2525).into(),
        clock_ticks: 100.0,
        sandbox: shared::gateway::sandbox::DEFAULT_URL.into(),
        publish_batch: 100,
        ack_every: 1,
        message_rate: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--base" => args.base = value()?.trim_end_matches('/').to_string(),
            "--mode" => match value()?.as_str() {
                "closed" => args.mode = Mode::Closed,
                "open" => args.mode = Mode::Open,
                "capture" => args.mode = Mode::Capture,
                "broker" => args.tool = Some(Tool::Broker),
                "cpu" => args.tool = Some(Tool::Cpu),
                "smtp-sink" => args.tool = Some(Tool::SmtpSink),
                other => bail!(
                    "--mode is closed, open, capture, broker, cpu or smtp-sink, not {other:?}"
                ),
            },
            "--count" => args.count = value()?.parse().context("--count")?,
            "--concurrency" => args.concurrency = value()?.parse().context("--concurrency")?,
            "--rate" => args.rate = value()?.parse().context("--rate")?,
            "--duration" => args.duration = Duration::from_secs(value()?.parse()?),
            "--pid" => args.pid = Some(value()?.parse()?),
            "--sink-pid" => args.sink_pid = Some(value()?.parse()?),
            "--listen" => args.listen = value()?.parse().context("--listen")?,
            "--clock-ticks" => args.clock_ticks = value()?.parse()?,
            "--sandbox" => args.sandbox = value()?.trim_end_matches('/').to_string(),
            "--publish-batch" => {
                args.publish_batch = value()?.parse().context("--publish-batch")?;
            }
            "--ack-every" => args.ack_every = value()?.parse().context("--ack-every")?,
            "--message-rate" => args.message_rate = value()?.parse().context("--message-rate")?,
            other => bail!(
                "unknown argument {other:?}; see the comment at the top of tests/examples/bench_e2e.rs"
            ),
        }
    }
    if args.count == 0
        || args.concurrency == 0
        || args.rate == 0
        || args.publish_batch == 0
        || args.ack_every == 0
    {
        bail!("--count, --concurrency, --rate, --publish-batch and --ack-every must be at least 1");
    }
    if args.ack_every > usize::from(BOUND_PREFETCH) {
        bail!(
            "--ack-every is at most {BOUND_PREFETCH}, the bound's prefetch: more would never be delivered"
        );
    }
    Ok(args)
}

// ---------------------------------------------------------------------------------------------
// What the machine spent: Postgres' counters and the processes' CPU.

#[derive(Clone, Copy, Default, Debug)]
struct DbCounters {
    commits: i64,
    rollbacks: i64,
    returned: i64,
    fetched: i64,
    inserted: i64,
    updated: i64,
    deleted: i64,
    /// Bytes of write-ahead log the cluster wrote (every database: nothing else runs).
    wal_bytes: i64,
}

impl DbCounters {
    async fn read(pool: &PgPool) -> anyhow::Result<Self> {
        let row = sqlx::query(
            "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, \
             tup_updated, tup_deleted, \
             pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::int8 \
             FROM pg_stat_database WHERE datname = current_database()",
        )
        .fetch_one(pool)
        .await?;
        Ok(Self {
            commits: row.get(0),
            rollbacks: row.get(1),
            returned: row.get(2),
            fetched: row.get(3),
            inserted: row.get(4),
            updated: row.get(5),
            deleted: row.get(6),
            wal_bytes: row.get(7),
        })
    }

    fn minus(self, o: Self) -> Self {
        Self {
            commits: self.commits - o.commits,
            rollbacks: self.rollbacks - o.rollbacks,
            returned: self.returned - o.returned,
            fetched: self.fetched - o.fetched,
            inserted: self.inserted - o.inserted,
            updated: self.updated - o.updated,
            deleted: self.deleted - o.deleted,
            wal_bytes: self.wal_bytes - o.wal_bytes,
        }
    }
}

/// CPU time in clock ticks: (user + system) of live processes, and what reaped children
/// left in their parent (`cutime + cstime`: Postgres backends that ended).
#[derive(Clone, Copy, Default, Debug)]
struct Cpu {
    refundd: u64,
    postgres: u64,
    rabbitmq: u64,
    generator: u64,
    /// The SMTP sink (the customers' mail server), when there is one.
    sink: u64,
}

/// `(comm, ppid, utime + stime, cutime + cstime)` of one process.
fn stat(pid: &str) -> Option<(String, u32, u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_string();
    let rest: Vec<&str> = text[close + 2..].split(' ').collect();
    // Fields after the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14).
    let n = |i: usize| rest.get(i).and_then(|v| v.parse::<u64>().ok());
    Some((
        comm,
        u32::try_from(n(1)?).ok()?,
        n(11)? + n(12)?,
        n(13)? + n(14)?,
    ))
}

impl Cpu {
    fn read(refundd: Option<u32>, sink: Option<u32>) -> Self {
        let mut cpu = Cpu::default();
        let mut postgres: HashMap<u32, (u32, u64, u64)> = HashMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let name = entry.file_name();
                let Some(pid) = name
                    .to_str()
                    .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
                else {
                    continue;
                };
                let Some((comm, ppid, own, _children)) = stat(pid) else {
                    continue;
                };
                let pid_n: u32 = pid.parse().unwrap_or(0);
                match comm.as_str() {
                    "postgres" => {
                        postgres.insert(pid_n, (ppid, own, _children));
                    }
                    "beam.smp" => cpu.rabbitmq += own,
                    _ => {}
                }
                if Some(pid_n) == refundd {
                    cpu.refundd = own;
                }
            }
        }
        for (ppid, own, children) in postgres.values() {
            cpu.postgres += own;
            // The postmaster (its parent is not a Postgres process) holds its ended backends.
            if !postgres.contains_key(ppid) {
                cpu.postgres += children;
            }
        }
        cpu.generator = stat("self").map_or(0, |s| s.2);
        cpu.sink = sink
            .and_then(|pid| stat(&pid.to_string()))
            .map_or(0, |s| s.2);
        cpu
    }

    fn minus(self, o: Self) -> Self {
        Self {
            refundd: self.refundd.saturating_sub(o.refundd),
            postgres: self.postgres.saturating_sub(o.postgres),
            rabbitmq: self.rabbitmq.saturating_sub(o.rabbitmq),
            generator: self.generator.saturating_sub(o.generator),
            sink: self.sink.saturating_sub(o.sink),
        }
    }
}

/// The commands written so far to the Raft logs of the quorum queues whose names start with
/// `prefix` (each queue's last log index, summed), read from RabbitMQ by `rabbitmqctl eval`:
/// every publish, every `basic.ack` and every consumer's attach is a command, so this counts
/// how many of them a refund costs the broker, whatever the machine's speed. `None` when
/// `rabbitmqctl` cannot be run (RabbitMQ elsewhere, or not root).
fn raft_commands(prefix: &str) -> Option<u64> {
    let expr = format!(
        "P = <<\"{prefix}\">>, lists:sum([case amqqueue:get_type(Q) of \
         rabbit_quorum_queue -> {{resource, V, queue, N}} = amqqueue:get_name(Q), \
         [S | _] = rabbit_quorum_queue:status(V, N), \
         proplists:get_value(<<\"Log Index\">>, S); _ -> 0 end \
         || Q <- rabbit_amqqueue:list(), \
         binary:longest_common_prefix([element(4, amqqueue:get_name(Q)), P]) =:= byte_size(P)])."
    );
    let out = std::process::Command::new("rabbitmqctl")
        .args(["-q", "eval", &expr])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Postgres publishes a backend's counters up to a second after its transaction, and an idle
/// backend's only after ten: a snapshot waits for the system to be quiet that long.
const STATS_SETTLE: Duration = Duration::from_secs(11);

// ---------------------------------------------------------------------------------------------
// The applications.

fn payment_body(run: &str, i: usize) -> Value {
    let minor = 1_000 + (i * 7_919) % 49_000;
    json!({
        "merchant": "app-studio",
        "policy": "by-app-studio",
        "gateway": "sandbox",
        "gateway_transaction_id": format!("bench-{run}-{}", letters(i)),
        "amount": format!("{}.{:02}", minor / 100, minor % 100),
        "currency": "BYN",
        "paid_at": (Utc::now() - chrono::Duration::days(1)).to_rfc3339(),
        "card": {"brand": "visa", "last4": "4242"},
        "cardholder_name": "IVAN IVANOV",
        "customer": {"email": format!("bench-{}@example.com", letters(i)), "language": "ru"}
    })
}

/// Registers each payment with refundd and seeds it, captured, at the sandbox gateway (which
/// declines refunds of payments it never captured).
async fn register_payments(
    client: &reqwest::Client,
    base: &str,
    sandbox: &str,
    key: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    let run: String = uuid::Uuid::new_v4().as_bytes()[..8]
        .iter()
        .map(|b| char::from(b'a' + b % 26))
        .collect();
    let mut ids = vec![String::new(); count];
    let mut tasks = tokio::task::JoinSet::new();
    let mut next = 0;
    while next < count || !tasks.is_empty() {
        while next < count && tasks.len() < 16 {
            let body = payment_body(&run, next);
            let seed = client.post(format!("{sandbox}/payments")).json(&json!({
                "transaction_id": body["gateway_transaction_id"],
                "amount": body["amount"],
                "currency": body["currency"],
                "card_status": "active",
            }));
            let request = client
                .post(format!("{base}/v1/payments"))
                .bearer_auth(key)
                .json(&body);
            let i = next;
            tasks.spawn(async move {
                let seeded = seed.send().await?;
                if !seeded.status().is_success() {
                    bail!(
                        "seeding a payment at the sandbox answered {}: {}",
                        seeded.status(),
                        seeded.text().await.unwrap_or_default()
                    );
                }
                let r = request.send().await?;
                let status = r.status();
                let body: Value = r.json().await?;
                if status != 201 {
                    bail!("registering a payment answered {status}: {body}");
                }
                anyhow::Ok((i, body["id"].as_str().context("payment id")?.to_string()))
            });
            next += 1;
        }
        if let Some(done) = tasks.join_next().await {
            let (i, id) = done??;
            ids[i] = id;
        }
    }
    Ok(ids)
}

/// One application: when it was due (open loop) or sent (closed), its answer, its id.
struct Submitted {
    due: DateTime<Utc>,
    answered_after: Duration,
    id: Option<String>,
    error: Option<String>,
}

async fn submit(
    client: &reqwest::Client,
    base: &str,
    key: &str,
    payment: &str,
) -> (Option<String>, Option<String>) {
    let result = client
        .post(format!("{base}/v1/refund-requests"))
        .bearer_auth(key)
        .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
        .json(&json!({
            "payment": {"id": payment},
            "reason": "withdrawal",
            "facts": {"order_accepted": false},
        }))
        .send()
        .await;
    match result {
        Ok(r) => {
            let status = r.status().as_u16();
            match r.json::<Value>().await {
                Ok(body) if status == 202 => (body["id"].as_str().map(str::to_owned), None),
                Ok(body) => (None, Some(format!("{status}: {body}"))),
                Err(e) => (None, Some(format!("{status}: reading the answer: {e}"))),
            }
        }
        Err(e) => (None, Some(format!("sending: {e}"))),
    }
}

async fn run_load(
    client: &reqwest::Client,
    args: &Args,
    key: &Arc<str>,
    payments: Vec<String>,
) -> Vec<Submitted> {
    let payments = Arc::new(payments);
    let total = payments.len();
    let start = Instant::now();
    let start_wall = Utc::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut out = Vec::with_capacity(total);
    let period = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    for i in 0..total {
        let due_at = match args.mode {
            Mode::Open => {
                let due = start + period.mul_f64(i as f64);
                tokio::time::sleep_until(due.into()).await;
                due
            }
            Mode::Closed | Mode::Capture => {
                while tasks.len() >= args.concurrency {
                    if let Some(Ok(s)) = tasks.join_next().await {
                        out.push(s);
                    }
                }
                Instant::now()
            }
        };
        let due = start_wall + chrono::Duration::from_std(due_at - start).unwrap_or_default();
        let (client, base, key, payments) = (
            client.clone(),
            args.base.clone(),
            key.clone(),
            payments.clone(),
        );
        tasks.spawn(async move {
            let (id, error) = submit(&client, &base, &key, &payments[i]).await;
            Submitted {
                due,
                answered_after: due_at.elapsed(),
                id,
                error,
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(s) = done {
            out.push(s);
        }
    }
    out
}

/// The replay's capture: `--concurrency` applications at once (1: one at a time), followed
/// until each is refunded, every email of it is sent and every outbox message of it is
/// settled, then the next ones; prints `WINDOW <request ids, comma-separated> <submitted at>
/// <done at>` (UTC, RFC 3339) for each group, so that the statements refundd ran for those
/// refunds alone can be cut out of Postgres' log.
async fn capture(
    client: &reqwest::Client,
    args: &Args,
    key: &str,
    pool: &PgPool,
    payments: Vec<String>,
) -> anyhow::Result<()> {
    eprintln!(
        "[bench] capture: {} applications, {} at a time",
        payments.len(),
        args.concurrency
    );
    // Nothing else moves: the payments' registration is over.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for group in payments.chunks(args.concurrency) {
        let from = Utc::now();
        let answers = futures_util::future::join_all(
            group.iter().map(|p| submit(client, &args.base, key, p)),
        )
        .await;
        let mut ids = Vec::with_capacity(group.len());
        for (id, error) in answers {
            match id {
                Some(id) => ids.push(id.parse::<uuid::Uuid>()?),
                None => bail!("an application was refused: {}", error.unwrap_or_default()),
            }
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let done: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM refund_requests r WHERE r.id = ANY($1) \
                    AND r.state = 'refunded' \
                    AND (SELECT count(*) FROM notifications n WHERE n.request_id = r.id AND n.status = 'sent') >= 3 \
                    AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.request_id = r.id AND n.status <> 'sent') \
                    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.payload->>'request_id' = r.id::text)",
            )
            .bind(&ids)
            .fetch_one(pool)
            .await?;
            if done == ids.len() as i64 {
                break;
            }
            if Instant::now() > deadline {
                bail!(
                    "{} of {} requests were not done within 60 s",
                    ids.len() as i64 - done,
                    ids.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let to = Utc::now();
        let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
        println!(
            "WINDOW {} {} {}",
            ids.join(","),
            from.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            to.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        );
        // A gap between windows: whatever runs late is in none.
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Following the system until nothing moves.

#[derive(Default)]
struct Backlog {
    queue_peak: BTreeMap<String, u32>,
    outbox_peak: i64,
    open_peak: i64,
    /// Rows the polling itself read, subtracted from the per-refund figures.
    rows_read: i64,
    polls: i64,
}

async fn queue_depths(channel: &lapin::Channel, queues: &[String]) -> BTreeMap<String, u32> {
    let mut depths = BTreeMap::new();
    for q in queues {
        let options = lapin::options::QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        if let Ok(queue) = channel
            .queue_declare(q, options, lapin::types::FieldTable::default())
            .await
        {
            depths.insert(q.clone(), queue.message_count());
        }
    }
    depths
}

/// Samples the backlog every half second until `stop`.
async fn poll_during_load(
    pool: PgPool,
    channel: lapin::Channel,
    queues: Vec<String>,
    stop: tokio_util::sync::CancellationToken,
) -> anyhow::Result<Backlog> {
    let mut backlog = Backlog::default();
    while !stop.is_cancelled() {
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        sample(&pool, &channel, &queues, &mut backlog).await?;
    }
    Ok(backlog)
}

/// One look at the backlog: open requests, unpublished outbox rows, ready messages per
/// queue. Returns whether a message is still waiting (in the outbox or a queue).
async fn sample(
    pool: &PgPool,
    channel: &lapin::Channel,
    queues: &[String],
    backlog: &mut Backlog,
) -> anyhow::Result<bool> {
    let (open, unpublished): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM refund_requests WHERE ended_at IS NULL), \
         (SELECT count(*) FROM outbox WHERE published_at IS NULL)",
    )
    .fetch_one(pool)
    .await?;
    backlog.polls += 1;
    backlog.rows_read += open + unpublished;
    backlog.open_peak = backlog.open_peak.max(open);
    backlog.outbox_peak = backlog.outbox_peak.max(unpublished);
    let depths = queue_depths(channel, queues).await;
    let queued: u32 = depths.values().sum();
    for (q, d) in depths {
        let peak = backlog.queue_peak.entry(q).or_default();
        *peak = (*peak).max(d);
    }
    Ok(unpublished > 0 || queued > 0)
}

/// Polls until the outbox and every queue are empty, every email is sent, and neither the
/// open requests nor the emails changed for 2 s (a request a person must finish stays open).
async fn follow(
    pool: &PgPool,
    channel: &lapin::Channel,
    queues: &[String],
    backlog: &mut Backlog,
    rss_peak: &AtomicU64,
    pid: Option<u32>,
) -> anyhow::Result<()> {
    let mut quiet_since: Option<(Instant, (i64, i64, i64))> = None;
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if let Some(kib) = pid.and_then(rss_kib) {
            rss_peak.fetch_max(kib, Ordering::Relaxed);
        }
        if sample(pool, channel, queues, backlog).await? {
            quiet_since = None;
            continue;
        }
        let (open,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM refund_requests WHERE ended_at IS NULL")
                .fetch_one(pool)
                .await?;
        let (sent, total): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'sent'), count(*) FROM notifications",
        )
        .fetch_one(pool)
        .await?;
        backlog.polls += 1;
        backlog.rows_read += total;
        backlog.polls += 1;
        backlog.rows_read += open;
        let now = (open, sent, total);
        match quiet_since {
            Some((since, before)) if before == now && sent == total => {
                if since.elapsed() >= Duration::from_secs(2) {
                    return Ok(());
                }
            }
            _ => quiet_since = Some((Instant::now(), now)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The report.

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50/p90/p99/max of seconds, sorted here.
fn spread(mut values: Vec<f64>) -> [f64; 4] {
    values.sort_by(f64::total_cmp);
    [
        percentile(&values, 50.0),
        percentile(&values, 90.0),
        percentile(&values, 99.0),
        values.last().copied().unwrap_or(f64::NAN),
    ]
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(0) as f64 / 1e6
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    match args.tool {
        Some(Tool::Broker) => return broker_bound(&args).await,
        Some(Tool::SmtpSink) => {
            let sink = e2e::smtp_sink::SmtpSink::start_counting(args.listen)
                .await
                .with_context(|| format!("listening on {}", args.listen))?;
            eprintln!("[bench] SMTP sink on {}", sink.url());
            let mut stop =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = stop.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            eprintln!("[bench] SMTP sink: {} messages accepted", sink.accepted());
            return Ok(());
        }
        Some(Tool::Cpu) => {
            let cpu = Cpu::read(None, None);
            println!("postgres={} rabbitmq={}", cpu.postgres, cpu.rabbitmq);
            return Ok(());
        }
        None => {}
    }
    let key: Arc<str> = std::env::var("LOADGEN_API_KEY").unwrap_or_default().into();
    if key.is_empty() {
        bail!("set LOADGEN_API_KEY to a support or supervisor key");
    }
    let database_url = std::env::var("DATABASE_URL").context("DATABASE_URL")?;
    let amqp_url = std::env::var("AMQP_URL").context("AMQP_URL")?;
    let prefix = std::env::var("REFUNDD_QUEUE_PREFIX").context("REFUNDD_QUEUE_PREFIX")?;
    let settings = shared::config::Settings {
        queue_prefix: prefix,
        ..Default::default()
    };
    let queues = shared::broker::Topology::from_settings(&settings).queues();
    // Named, so that the replay's capture (scripts/bench-e2e) tells these reads from refundd's.
    let options: sqlx::postgres::PgConnectOptions = database_url.parse()?;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options.application_name("bench_e2e"))
        .await?;
    let broker =
        lapin::Connection::connect(&amqp_url, lapin::ConnectionProperties::default()).await?;
    let channel = broker.create_channel().await?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(usize::MAX)
        .timeout(Duration::from_secs(60))
        .build()?;

    let count = match args.mode {
        Mode::Closed | Mode::Capture => args.count,
        Mode::Open => (args.duration.as_secs_f64() * f64::from(args.rate)).round() as usize,
    };
    eprintln!("[bench] registering {count} payments (not timed)");
    let payments = register_payments(&client, &args.base, &args.sandbox, &key, count).await?;
    if args.mode == Mode::Capture {
        return capture(&client, &args, &key, &pool, payments).await;
    }
    // Nothing moves before the load: the counters Postgres publishes late are in.
    tokio::time::sleep(STATS_SETTLE).await;
    let db_before = DbCounters::read(&pool).await?;
    let prefix = std::env::var("REFUNDD_QUEUE_PREFIX").unwrap_or_default();
    let raft_before = raft_commands(&prefix);
    let cpu_before = Cpu::read(args.pid, args.sink_pid);
    let rss_before = args.pid.and_then(rss_kib).unwrap_or(0);
    let rss_peak = Arc::new(AtomicU64::new(rss_before));

    let started = Instant::now();
    let started_wall = Utc::now();
    match args.mode {
        Mode::Closed | Mode::Capture => eprintln!(
            "[bench] closed loop: {count} applications, {} in flight",
            args.concurrency
        ),
        Mode::Open => eprintln!(
            "[bench] open loop: {} a second for {} s",
            args.rate,
            args.duration.as_secs()
        ),
    }
    let sampler = {
        let rss_peak = rss_peak.clone();
        let pid = args.pid;
        tokio::spawn(async move {
            loop {
                if let Some(kib) = pid.and_then(rss_kib) {
                    rss_peak.fetch_max(kib, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    };
    // A poller runs beside the load, for the backlog's peaks.
    let stop = tokio_util::sync::CancellationToken::new();
    let poller = tokio::spawn(poll_during_load(
        pool.clone(),
        channel.clone(),
        queues.clone(),
        stop.clone(),
    ));
    let submitted = run_load(&client, &args, &key, payments).await;
    stop.cancel();
    let mut backlog = poller.await??;
    let load_secs = started.elapsed().as_secs_f64();
    let load_end_wall = Utc::now();
    follow(&pool, &channel, &queues, &mut backlog, &rss_peak, args.pid).await?;
    let settled_secs = started.elapsed().as_secs_f64();
    let cpu_after = Cpu::read(args.pid, args.sink_pid);
    let raft = raft_before
        .zip(raft_commands(&prefix))
        .map(|(b, a)| a.saturating_sub(b));
    sampler.abort();
    tokio::time::sleep(STATS_SETTLE).await;
    let db = DbCounters::read(&pool).await?.minus(db_before);
    let cpu = cpu_after.minus(cpu_before);

    // Each request's times, read once now that nothing moves.
    let ids: Vec<uuid::Uuid> = submitted
        .iter()
        .filter_map(|s| s.id.as_deref()?.parse().ok())
        .collect();
    let events = sqlx::query(
        // The moves only (an email sent or an SLA check is an event without one), in the order
        // of their transactions' start, which is what `at` records.
        "SELECT request_id, to_state, at FROM request_events \
         WHERE request_id = ANY($1) AND from_state IS DISTINCT FROM to_state ORDER BY at, id",
    )
    .bind(&ids)
    .fetch_all(&pool)
    .await?;
    let mut timeline: HashMap<uuid::Uuid, Vec<(String, DateTime<Utc>)>> = HashMap::new();
    for row in &events {
        timeline
            .entry(row.get(0))
            .or_default()
            .push((row.get(1), row.get(2)));
    }
    let emails = sqlx::query(
        "SELECT request_id, event, sent_at FROM notifications WHERE request_id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&pool)
    .await?;
    let mut last_email: HashMap<uuid::Uuid, DateTime<Utc>> = HashMap::new();
    let mut unsent = 0;
    let mut emails_by_event: BTreeMap<String, usize> = BTreeMap::new();
    for row in &emails {
        let id: uuid::Uuid = row.get(0);
        *emails_by_event.entry(row.get(1)).or_default() += 1;
        match row.get::<Option<DateTime<Utc>>, _>(2) {
            Some(at) => {
                let last = last_email.entry(id).or_insert(at);
                *last = (*last).max(at);
            }
            None => unsent += 1,
        }
    }

    let failed: Vec<&Submitted> = submitted.iter().filter(|s| s.error.is_some()).collect();
    let mut final_states: BTreeMap<String, usize> = BTreeMap::new();
    let mut e2e = Vec::new();
    let mut done = Vec::new();
    let mut email_after_refund = Vec::new();
    let mut hops: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut refunded_last = started_wall;
    let mut done_last = started_wall;
    let mut left_after_5s = 0;
    let five_after = load_end_wall + chrono::Duration::seconds(5);
    let answer = spread(
        submitted
            .iter()
            .filter(|s| s.error.is_none())
            .map(|s| s.answered_after.as_secs_f64())
            .collect(),
    );
    for s in &submitted {
        let Some(id) = s.id.as_deref().and_then(|i| i.parse::<uuid::Uuid>().ok()) else {
            continue;
        };
        let Some(steps) = timeline.get(&id) else {
            continue;
        };
        let last = steps.last().map(|(s, _)| s.clone()).unwrap_or_default();
        *final_states.entry(last.clone()).or_default() += 1;
        let mut previous: Option<&(String, DateTime<Utc>)> = None;
        for step in steps {
            if let Some(p) = previous {
                hops.entry(format!("{} → {}", p.0, step.0))
                    .or_default()
                    .push(seconds(p.1, step.1));
            }
            previous = Some(step);
        }
        if let Some((_, at)) = steps.first() {
            hops.entry("due → stored".into())
                .or_default()
                .push(seconds(s.due, *at));
        }
        let Some((_, refunded_at)) = steps.iter().find(|(state, _)| state == "refunded") else {
            continue;
        };
        e2e.push(seconds(s.due, *refunded_at));
        refunded_last = refunded_last.max(*refunded_at);
        let finished = last_email
            .get(&id)
            .map_or(*refunded_at, |e| (*e).max(*refunded_at));
        done.push(seconds(s.due, finished));
        email_after_refund.push(seconds(*refunded_at, finished));
        done_last = done_last.max(finished);
        if finished > five_after {
            left_after_5s += 1;
        }
    }
    let refunded = e2e.len();
    let e2e = spread(e2e);
    let done_spread = spread(done);
    let email_lag = spread(email_after_refund);
    let refunded_per_s = refunded as f64 / seconds(started_wall, refunded_last).max(1e-9);
    let done_per_s = refunded as f64 / seconds(started_wall, done_last).max(1e-9);
    let submitted_ok = submitted.len() - failed.len();
    let submitted_per_s = submitted_ok as f64 / load_secs;

    let per = |x: i64| x as f64 / refunded.max(1) as f64;
    let tick_ms = 1000.0 / args.clock_ticks;
    let cpu_ms = |ticks: u64| ticks as f64 * tick_ms / refunded.max(1) as f64;
    let fetched_own = (db.fetched - backlog.rows_read).max(0);
    let rss_peak_mib = rss_peak.load(Ordering::Relaxed) as f64 / 1024.0;
    // The system's own polling (the relay's idle poll, the sla role) is in these figures
    // too: they are what a refund costs as the system runs, not a lower bound.
    println!(
        "== refundd end to end ({})",
        match args.mode {
            Mode::Closed | Mode::Capture => format!(
                "closed loop, {count} applications, {} in flight",
                args.concurrency
            ),
            Mode::Open => format!(
                "open loop, {} a second for {} s",
                args.rate,
                args.duration.as_secs()
            ),
        }
    );
    println!(
        "submitted {submitted_ok} ({} failed) in {load_secs:.1} s: {submitted_per_s:.1}/s; answer p50 {:.1} ms, p99 {:.1} ms",
        failed.len(),
        answer[0] * 1e3,
        answer[2] * 1e3
    );
    println!(
        "refunded {refunded}: {refunded_per_s:.1}/s (first submission to last refund); e2e p50 {:.2} s, p90 {:.2} s, p99 {:.2} s, max {:.2} s",
        e2e[0], e2e[1], e2e[2], e2e[3]
    );
    println!(
        "done (refunded and every email sent): {done_per_s:.1}/s; p50 {:.2} s, p99 {:.2} s; last email after the refund p50 {:.2} s, p99 {:.2} s; {unsent} emails unsent",
        done_spread[0], done_spread[2], email_lag[0], email_lag[2]
    );
    println!("final states: {final_states:?}; emails: {emails_by_event:?}");
    println!(
        "left 5 s after the load stopped: {left_after_5s}; all settled {settled_secs:.1} s after the start"
    );
    println!("hops (p50 / p99 s):");
    for (hop, values) in hops {
        let n = values.len();
        let s = spread(values);
        println!("  {hop:<40} {:>8.3} {:>8.3}  ({n})", s[0], s[2]);
    }
    println!(
        "backlog peaks: open requests {}, outbox {}, queues {:?}",
        backlog.open_peak, backlog.outbox_peak, backlog.queue_peak
    );
    println!(
        "per refund: {:.1} commits ({:.1} rollbacks), {:.1} rows inserted, {:.1} updated, {:.1} deleted, {:.1} KiB of WAL, {:.1} fetched by index, {:.1} returned (the benchmark's {} polls read {} rows, subtracted from fetched)",
        per(db.commits - backlog.polls),
        per(db.rollbacks),
        per(db.inserted),
        per(db.updated),
        per(db.deleted),
        per(db.wal_bytes) / 1024.0,
        per(fetched_own),
        per(db.returned - backlog.rows_read),
        backlog.polls,
        backlog.rows_read
    );
    println!(
        "CPU per refund: refundd {:.2} ms, Postgres {:.2} ms, RabbitMQ {:.2} ms, total {:.2} ms (the generator {:.2} ms, the SMTP sink {:.2} ms); refundd RSS {:.1} MiB before, peak {rss_peak_mib:.1} MiB",
        cpu_ms(cpu.refundd),
        cpu_ms(cpu.postgres),
        cpu_ms(cpu.rabbitmq),
        cpu_ms(cpu.refundd + cpu.postgres + cpu.rabbitmq),
        cpu_ms(cpu.generator),
        cpu_ms(cpu.sink),
        rss_before as f64 / 1024.0
    );
    let raft_per_refund = raft.map_or(-1.0, |n| per(n as i64));
    if raft.is_some() {
        println!(
            "RabbitMQ: {raft_per_refund:.1} commands a refund in its quorum queues' logs (publishes, acks)"
        );
    }
    for s in failed.iter().take(5) {
        eprintln!("[bench] failed: {}", s.error.as_deref().unwrap_or(""));
    }
    println!(
        "RESULT mode={} count={count} rate={} concurrency={} submitted_per_s={submitted_per_s:.1} refunded={refunded} refunded_per_s={refunded_per_s:.1} done_per_s={done_per_s:.1} e2e_p50_s={:.2} e2e_p90_s={:.2} e2e_p99_s={:.2} done_p99_s={:.2} email_lag_p99_s={:.2} left_after_5s={left_after_5s} commits={:.1} inserted={:.1} updated={:.1} deleted={:.1} wal_kib={:.1} fetched={:.1} returned={:.1} cpu_refundd_ms={:.2} cpu_postgres_ms={:.2} cpu_rabbitmq_ms={:.2} cpu_total_ms={:.2} rss_peak_mib={rss_peak_mib:.1} raft_commands={raft_per_refund:.1} failed={}",
        match args.mode {
            Mode::Closed | Mode::Capture => "closed",
            Mode::Open => "open",
        },
        args.rate,
        args.concurrency,
        e2e[0],
        e2e[1],
        e2e[2],
        done_spread[2],
        email_lag[2],
        per(db.commits - backlog.polls),
        per(db.inserted),
        per(db.updated),
        per(db.deleted),
        per(db.wal_bytes) / 1024.0,
        per(fetched_own),
        per(db.returned - backlog.rows_read),
        cpu_ms(cpu.refundd),
        cpu_ms(cpu.postgres),
        cpu_ms(cpu.rabbitmq),
        cpu_ms(cpu.refundd + cpu.postgres + cpu.rabbitmq),
        failed.len(),
    );
    if refunded == 0 {
        bail!("no application was refunded: see the final states above");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The broker's bound: RabbitMQ alone, moving work messages as refundd does.

/// The work messages a refund moves through RabbitMQ: validate and payout. Its customer's
/// emails are sent from their rows, with no message (docs/PERFORMANCE.md, 35).
const MESSAGES_PER_REFUND: f64 = 2.0;

/// The broker bound's consumer prefetch, as refundd's (`prefetch`, 32 unless set).
const BOUND_PREFETCH: u16 = 32;

/// `--count` work messages through a quorum queue of their own (`<prefix>_bound`, deleted
/// after): published persistent in batches of 100, each batch's publisher confirms awaited
/// (as the relay publishes), while a consumer with a prefetch of 32 acks each delivery on its
/// own (as refundd's runtime acks each message after its result). Prints messages a second and
/// `beam.smp`'s CPU a message, and a refund's ([`MESSAGES_PER_REFUND`]).
async fn broker_bound(args: &Args) -> anyhow::Result<()> {
    use futures_util::StreamExt;
    use lapin::options::{
        BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
        ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
    };
    use lapin::types::{AMQPValue, FieldTable};

    let amqp_url = std::env::var("AMQP_URL").context("AMQP_URL")?;
    let prefix = std::env::var("REFUNDD_QUEUE_PREFIX").context("REFUNDD_QUEUE_PREFIX")?;
    let queue = format!("{prefix}_bound");
    let count = args.count;
    let conn =
        lapin::Connection::connect(&amqp_url, lapin::ConnectionProperties::default()).await?;
    let publisher = conn.create_channel().await?;
    publisher
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let mut queue_args = FieldTable::default();
    queue_args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    publisher
        .queue_declare(
            &queue,
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            queue_args,
        )
        .await?;
    let consumer_channel = conn.create_channel().await?;
    consumer_channel
        .basic_qos(BOUND_PREFETCH, BasicQosOptions::default())
        .await?;
    let mut deliveries = consumer_channel
        .basic_consume(
            &queue,
            "bench-bound",
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let body = serde_json::to_vec(&shared::messages::WorkMessage::new(
        shared::messages::Stage::Notify,
        uuid::Uuid::now_v7(),
    ))?;
    eprintln!(
        "[bench] broker: {count} messages of {} bytes through {queue}",
        body.len()
    );
    let raft_before = raft_commands(&queue);
    let cpu_before = Cpu::read(None, None);
    let started = Instant::now();
    let ack_every = args.ack_every;
    let consume = tokio::spawn(async move {
        let mut taken = 0usize;
        while taken < count {
            let Some(delivery) = deliveries.next().await else {
                bail!("the consumer stopped after {taken} messages");
            };
            taken += 1;
            if taken.is_multiple_of(ack_every) || taken == count {
                let multiple = ack_every > 1;
                delivery?.ack(BasicAckOptions { multiple }).await?;
            }
        }
        anyhow::Ok(())
    });
    let mut sent = 0usize;
    let mut pace = (args.message_rate > 0).then(|| {
        let batches_a_second = f64::from(args.message_rate) / args.publish_batch as f64;
        tokio::time::interval(Duration::from_secs_f64(1.0 / batches_a_second))
    });
    while sent < count {
        if let Some(pace) = pace.as_mut() {
            pace.tick().await;
        }
        let batch = (count - sent).min(args.publish_batch);
        let mut confirms = Vec::with_capacity(batch);
        for _ in 0..batch {
            confirms.push(
                publisher
                    .basic_publish(
                        "",
                        &queue,
                        BasicPublishOptions::default(),
                        &body,
                        lapin::BasicProperties::default().with_delivery_mode(2),
                    )
                    .await?,
            );
        }
        for confirm in confirms {
            confirm.await?;
        }
        sent += batch;
    }
    consume.await??;
    let secs = started.elapsed().as_secs_f64();
    let cpu_after = Cpu::read(None, None);
    let raft = raft_before
        .zip(raft_commands(&queue))
        .map_or(-1.0, |(b, a)| a.saturating_sub(b) as f64 / count as f64);
    let beam_ms = (cpu_after.rabbitmq - cpu_before.rabbitmq) as f64 * 1000.0
        / args.clock_ticks
        / count as f64;
    publisher
        .queue_delete(&queue, QueueDeleteOptions::default())
        .await?;
    println!(
        "broker alone: {count} messages in {secs:.1} s: {:.0}/s; RabbitMQ CPU {beam_ms:.3} ms a message, {:.2} ms a refund's {MESSAGES_PER_REFUND}; {raft:.2} log commands a message",
        count as f64 / secs,
        beam_ms * MESSAGES_PER_REFUND
    );
    println!(
        "RESULT mode=broker messages={count} per_s={:.0} cpu_rabbitmq_ms_per_message={beam_ms:.3} cpu_rabbitmq_ms_per_refund={:.2} raft_commands_per_message={raft:.2}",
        count as f64 / secs,
        beam_ms * MESSAGES_PER_REFUND
    );
    Ok(())
}
