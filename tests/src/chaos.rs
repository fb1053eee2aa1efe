//! The chaos suite: the whole system as operations would run it (every role its own `refundd`
//! process, the sandbox gateway its own process, a real SMTP server of ours, Postgres and
//! RabbitMQ), loaded with applications across the five demo packs while faults are injected
//! at random: roles SIGKILLed and restarted, broker connections closed, Postgres backends
//! terminated, the gateway paused (SIGSTOP), the SMTP server stopped and started, a database
//! outage longer than the retry tiers, and (with a cluster) a broker node stopped and started.
//! Then it waits until nothing moves and checks what must hold:
//!
//! - every request is finished, or waits on a person or the customer with a reason;
//! - the gateway's ledger holds exactly one booked refund per refunded request and none for
//!   any other, never more than was captured;
//! - every email went exactly once (one delivery per Message-ID, every row `sent`);
//! - nothing is left in the outbox, unpublished or open;
//! - the parking queue is empty or each message in it is explained (its request is finished
//!   or waits on a person);
//! - every history is a legal path through the lifecycle;
//! - a dump of the database holds no full card number and no full personal number.
//!
//! Seeded: the applications, the faults and the gateway's dice follow from the seed, printed
//! first, so a failing run can be replayed (timings still differ from run to run).
//! `scripts/chaos` runs the long version (`chaos` binary); `tests/tests/chaos.rs` a short one.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use shared::api_keys::ApiRole;
use shared::broker::Topology;
use shared::gateway::SandboxGateway;
use shared::gateway::sandbox::{CardStatus, RefundStatus};
use shared::lifecycle::{RequestState, check_transition};
use shared::money::{Currency, Money};
use sqlx::PgPool;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use uuid::Uuid;

use crate::smtp_sink::SmtpSink;
use crate::{TestDb, admin_database_url, all_merchants_key, amqp_base_url, refundd_bin};

/// How a chaos run goes.
#[derive(Clone, Debug)]
pub struct ChaosConfig {
    /// Everything random follows from it.
    pub seed: u64,
    /// Applications submitted through the API.
    pub applications: usize,
    /// Applications submitted per second (open loop).
    pub rate: f64,
    /// A fault every so often: a random time between these two.
    pub fault_every: (Duration, Duration),
    /// How long the database is unreachable, once, about a third into the load.
    pub db_outage: Duration,
    /// The workers' retry tiers (`REFUNDD_RETRY_DELAYS`).
    pub retry_delays: Vec<Duration>,
    /// `REFUNDD_STALL_AFTER` of the sla role's sweeper.
    pub stall_after: Duration,
    /// The gateway's share of refunds that hang past the client's timeout.
    pub timeout_rate: f64,
    /// The gateway's share of refunds answered 500.
    pub error_rate: f64,
    /// How long to wait, after the load and the faults, for everything to settle.
    pub settle_timeout: Duration,
    /// A clustered broker to run against, with a node stopped and started mid-run.
    pub cluster: Option<Cluster>,
    /// Where the processes' logs go.
    pub log_dir: PathBuf,
}

/// A RabbitMQ cluster started by `scripts/rabbitmq-cluster`.
#[derive(Clone, Debug)]
pub struct Cluster {
    /// The script (`up`, `stop-node N`, `start-node N`).
    pub script: PathBuf,
    /// The nodes' AMQP URLs (`scheme://user:pass@host:port`, no vhost).
    pub urls: Vec<String>,
    /// The node `rabbitmqctl -n` manages the cluster through.
    pub node: String,
    /// How long the stopped node stays down.
    pub node_down: Duration,
}

impl ChaosConfig {
    /// The short run of the test command: a couple of hundred applications in ~15 s, a
    /// database outage several times longer than the (shortened) tiers.
    pub fn short(seed: u64) -> Self {
        Self {
            seed,
            applications: 160,
            rate: 12.0,
            fault_every: (Duration::from_millis(400), Duration::from_millis(1500)),
            db_outage: Duration::from_secs(6),
            retry_delays: vec![
                Duration::from_millis(200),
                Duration::from_millis(500),
                Duration::from_secs(1),
            ],
            stall_after: Duration::from_secs(4),
            timeout_rate: 0.1,
            error_rate: 0.05,
            settle_timeout: Duration::from_secs(150),
            cluster: None,
            log_dir: std::env::temp_dir().join(format!("refundd-chaos-{seed}")),
        }
    }

    /// The long run of `scripts/chaos`: thousands of applications, a 2-minute outage with
    /// the default tiers shortened by configuration only (1s, 5s, 30s).
    pub fn long(seed: u64) -> Self {
        Self {
            seed,
            applications: 2000,
            rate: 25.0,
            fault_every: (Duration::from_millis(500), Duration::from_secs(3)),
            db_outage: Duration::from_secs(120),
            retry_delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(5),
                Duration::from_secs(30),
            ],
            stall_after: Duration::from_secs(60),
            timeout_rate: 0.15,
            error_rate: 0.08,
            settle_timeout: Duration::from_secs(900),
            cluster: None,
            log_dir: std::env::temp_dir().join(format!("refundd-chaos-{seed}")),
        }
    }
}

/// What a run found: the figures, and every broken guarantee.
#[derive(Debug, Default)]
pub struct Report {
    /// One line per figure, in order.
    pub lines: Vec<String>,
    /// Broken guarantees, each with its evidence; empty when the run passed.
    pub failures: Vec<String>,
}

impl Report {
    fn line(&mut self, text: impl Into<String>) {
        let text = text.into();
        println!("[chaos] {text}");
        self.lines.push(text);
    }

    fn fail(&mut self, text: impl Into<String>) {
        let text = text.into();
        println!("[chaos] FAILED: {text}");
        self.failures.push(text);
    }

    /// Whether every guarantee held.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

/// States a request may end a run in: finished, or waiting on a person or the customer.
fn at_rest(state: RequestState) -> bool {
    use RequestState::*;
    state.is_final()
        || matches!(
            state,
            NeedsInfo | ManualReview | AwaitingConfirmation | NeedsBankDetails | ManualPayout
        )
}

/// A small seeded generator (SplitMix64): the same seed, the same applications and faults.
#[derive(Clone, Debug)]
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn between(&mut self, (lo, hi): (Duration, Duration)) -> Duration {
        lo + (hi.saturating_sub(lo)).mul_f64(self.unit())
    }
}

// ---------------------------------------------------------------------------------------------
// The database link: a TCP proxy in front of Postgres that can go down like the server would.

struct DbLink {
    addr: SocketAddr,
    down: Arc<AtomicBool>,
    cut: tokio::sync::watch::Sender<u64>,
}

impl DbLink {
    async fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let down = Arc::new(AtomicBool::new(false));
        let (cut, _) = tokio::sync::watch::channel(0u64);
        let (down2, cut2) = (down.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if down2.load(Ordering::SeqCst) {
                    // Down: the connection is dropped at once, as a dead server's would be.
                    drop(client);
                    continue;
                }
                let mut cut = cut2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Ok(Self { addr, down, cut })
    }

    /// Every connection dropped, new ones refused, until [`DbLink::up`].
    fn go_down(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    fn up(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------------------------
// Processes.

struct Proc {
    name: String,
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    child: Option<Child>,
}

impl Proc {
    fn start(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .with_context(|| format!("log file {}", self.log.display()))?;
        let child = Command::new(refundd_bin())
            .args(&self.args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("start {}", self.name))?;
        self.child = Some(child);
        Ok(())
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether it exited by itself (a crash), with its status.
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    fn stop(&mut self) {
        if let Some(pid) = self.pid() {
            signal("-TERM", pid);
        }
        if let Some(mut child) = self.child.take() {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) {
                if child.try_wait().ok().flatten().is_some() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn signal(sig: &str, pid: u32) {
    let _ = Command::new("kill")
        .args([sig, &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

fn rabbitmqctl(node: Option<&str>, args: &[&str]) -> anyhow::Result<String> {
    let mut cmd = Command::new("rabbitmqctl");
    if let Some(node) = node {
        cmd.args(["-n", node]);
    }
    let out = cmd
        .args(args)
        .stdin(Stdio::null())
        .output()
        .context("rabbitmqctl runs")?;
    if !out.status.success() {
        bail!(
            "rabbitmqctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

// ---------------------------------------------------------------------------------------------
// Applications.

/// One application the load submits, and what the test knows about it.
struct Application {
    n: usize,
    payment: Value,
    request: Value,
    /// Carries a card number: the API must refuse it (422) and store nothing of it.
    card_number: Option<String>,
    /// A personal number written in free text: stored masked, never in full.
    personal_number: Option<String>,
    /// The passport uploaded with it (its MRZ), whose number is stored only encrypted.
    passport: Option<Passport>,
}

/// A Kazakh passport for the goods store's identity check.
struct Passport {
    number: String,
    mrz: String,
}

fn check_char(s: &str) -> char {
    char::from(b'0' + shared::identity::mrz::check_digit(s).expect("MRZ characters"))
}

impl Passport {
    /// A valid TD3 passport of SEITKALI AIGERIM, number `N` + 8 digits, expiring 2034.
    fn new(n: usize) -> Self {
        let number = format!("N{:08}", 10_000_000 + n);
        let line1 = format!("{:<<44}", "P<KAZSEITKALI<<AIGERIM");
        let (birth, expiry, optional) = ("900515", "340101", "<<<<<<<<<<<<<<");
        let part1 = format!("{number}{}", check_char(&number));
        let part2 = format!("{birth}{}", check_char(birth));
        let part3 = format!("{expiry}{}", check_char(expiry));
        let part4 = format!("{optional}{}", check_char(optional));
        let composite = check_char(&format!("{part1}{part2}{part3}{part4}"));
        let line2 = format!("{part1}KAZ{part2}F{part3}{part4}{composite}");
        Self {
            number,
            mrz: format!("{line1}\n{line2}"),
        }
    }
}

/// Test card numbers (Luhn-valid, from the card schemes' published test ranges).
const CARD_NUMBERS: [&str; 3] = ["4111111111111111", "5555555555554444", "4000056655665556"];
/// Personal numbers with valid check digits: KZ IIN, LV personas kods.
const PERSONAL_NUMBERS: [&str; 2] = ["900101300126", "010190-12349"];

fn application(run: &str, n: usize, dice: &mut Dice) -> Application {
    let now = chrono::Utc::now();
    let days_ago = |d: i64| (now - chrono::Duration::days(d)).to_rfc3339();
    let date_days_ago = |d: i64| (now - chrono::Duration::days(d)).date_naive().to_string();
    let txn = format!("chaos-{run}-{n}");
    let language = ["ru", "en", "kk", "lv"][n % 4];
    let payment = |merchant: &str, policy: &str, amount: String, currency: &str, paid: String| {
        json!({
            "merchant": merchant, "policy": policy, "gateway": "sandbox",
            "gateway_transaction_id": txn, "amount": amount, "currency": currency,
            "paid_at": paid, "card": {"brand": "visa", "last4": "1111"},
            "cardholder_name": "CHAOS TESTER",
            "customer": {"email": format!("c{n}-{run}@example.com"), "language": language}
        })
    };
    let minor = 1_000 + dice.below(49_000);
    let amount = format!("{}.{:02}", minor / 100, minor % 100);
    let roll = dice.below(100);
    match roll {
        // App Studio, not accepted yet: a full refund to the card.
        0..=29 => Application {
            n,
            payment: payment("app-studio", "by-app-studio", amount, "BYN", days_ago(1)),
            request: json!({"reason": "withdrawal", "facts": {"order_accepted": false}}),
            card_number: None,
            personal_number: None,
            passport: None,
        },
        // App Studio, accepted: refused, with the clause.
        30..=39 => Application {
            n,
            payment: payment("app-studio", "by-app-studio", amount, "BYN", days_ago(2)),
            request: json!({"reason": "withdrawal", "facts": {"order_accepted": true}}),
            card_number: None,
            personal_number: None,
            passport: None,
        },
        // Byskills: part of the course back, by progress.
        40..=69 => {
            let progress = dice.below(60);
            Application {
                n,
                payment: payment("byskills", "by-online-courses", amount, "BYN", days_ago(20)),
                request: json!({"reason": "withdrawal", "facts": {"access_started_at": date_days_ago(20), "progress_percent": progress}}),
                card_number: None,
                personal_number: None,
                passport: None,
            }
        }
        // SaaS KZ: pro rata, waits for a person to confirm.
        70..=77 => Application {
            n,
            payment: payment(
                "saas-kz",
                "kz-saas-subscription",
                format!("{}.00", 10_000 + dice.below(90_000)),
                "KZT",
                days_ago(8),
            ),
            request: json!({"reason": "withdrawal", "facts": {"access_started_at": date_days_ago(8), "reason_text": "Сервис не подошёл"}}),
            card_number: None,
            personal_number: None,
            passport: None,
        },
        // Goods KZ: needs the customer's passport; the customer wrote their IIN. Half of them
        // send it (and the application form) at once and go on to a refund; the others wait.
        78..=85 => {
            let mut payment = payment(
                "goods-kz",
                "kz-goods-store",
                format!("{}.00", 5_000 + dice.below(50_000)),
                "KZT",
                days_ago(6),
            );
            payment["cardholder_name"] = json!("SEITKALI AIGERIM");
            Application {
                n,
                payment,
                request: json!({"reason": "withdrawal", "facts": {"goods_received_at": date_days_ago(3), "goods_intact": true, "proof_of_purchase": true, "reason_text": format!("Мой ИИН {}, верните деньги", PERSONAL_NUMBERS[0])}}),
                card_number: None,
                personal_number: Some(PERSONAL_NUMBERS[0].to_owned()),
                passport: (dice.below(2) == 0).then(|| Passport::new(n)),
            }
        }
        // Webshop LV: an advance balance back by bank transfer, a person pays it.
        86..=93 => Application {
            n,
            payment: payment("webshop-lv", "lv-webshop", amount, "EUR", days_ago(30)),
            request: json!({"reason": "advance_balance", "facts": {"balance": "1.00", "bank_details": "LV80BANK0000435195001", "reason_text": format!("personas kods {}", PERSONAL_NUMBERS[1])}}),
            card_number: None,
            personal_number: Some(PERSONAL_NUMBERS[1].to_owned()),
            passport: None,
        },
        // Someone types the card number into the bank details: refused at the door.
        _ => {
            let card = CARD_NUMBERS[dice.below(3) as usize].to_owned();
            Application {
                n,
                payment: payment("app-studio", "by-app-studio", amount, "BYN", days_ago(1)),
                request: json!({"reason": "withdrawal", "facts": {"order_accepted": false, "bank_details": format!("card {card}")}}),
                card_number: Some(card),
                personal_number: None,
                passport: None,
            }
        }
    }
}

/// Each application's number and what submitting it came to.
type Outcomes = Vec<(usize, anyhow::Result<Submitted>)>;

/// What submitting one application came to.
enum Submitted {
    Request(Uuid),
    Refused422,
}

/// Posts until the API answers with something other than a failure of its own (a killed API,
/// a database outage): the same Idempotency-Key each time, so a lost answer opens nothing twice.
async fn post_until_answered(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    idempotency_key: Option<&str>,
    body: &Value,
    deadline: Instant,
) -> anyhow::Result<(u16, Value)> {
    let mut delay = Duration::from_millis(100);
    loop {
        let mut request = client.post(url).bearer_auth(key).json(body);
        if let Some(k) = idempotency_key {
            request = request.header("Idempotency-Key", k);
        }
        let last = match request.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let body: Value = response.json().await.unwrap_or(Value::Null);
                if status < 500 && status != 429 {
                    return Ok((status, body));
                }
                format!("{status} {body}")
            }
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            bail!("POST {url}: no answer before the deadline; last: {last}");
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

/// Uploads a document to request `id` until the API answers (as [`post_until_answered`]);
/// anything but 201 is an error.
async fn upload(
    client: &reqwest::Client,
    api: &str,
    key: &str,
    id: Uuid,
    kind: &str,
    fields: Value,
    deadline: Instant,
) -> anyhow::Result<Value> {
    let mut delay = Duration::from_millis(100);
    loop {
        let form = reqwest::multipart::Form::new()
            .text("kind", kind.to_owned())
            .text("fields", fields.to_string())
            .part(
                "file",
                reqwest::multipart::Part::bytes(crate::scan_png())
                    .file_name("scan.png")
                    .mime_str("image/png")?,
            );
        let last = match client
            .post(format!("{api}/v1/refund-requests/{id}/documents"))
            .bearer_auth(key)
            .multipart(form)
            .send()
            .await
        {
            Ok(r) if r.status().as_u16() == 201 => {
                return Ok(r.json().await.unwrap_or(Value::Null));
            }
            Ok(r) if r.status().is_server_error() || r.status().as_u16() == 429 => {
                format!("{}", r.status())
            }
            Ok(r) => {
                let status = r.status();
                bail!(
                    "uploading {kind} to {id}: {status} {}",
                    r.text().await.unwrap_or_default()
                )
            }
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            bail!("uploading {kind} to {id}: no answer before the deadline; last: {last}");
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(2));
    }
}

async fn submit(
    client: &reqwest::Client,
    api: &str,
    keys: &(String, String),
    gateway: &SandboxGateway,
    app: &Application,
    run: &str,
    deadline: Instant,
) -> anyhow::Result<Submitted> {
    let txn = app.payment["gateway_transaction_id"]
        .as_str()
        .unwrap_or_default();
    let currency: Currency = app.payment["currency"]
        .as_str()
        .unwrap_or_default()
        .parse()?;
    let amount = Money::parse(app.payment["amount"].as_str().unwrap_or_default(), currency)?;
    // The gateway knows its payments (it may be paused: try again).
    loop {
        match gateway
            .register_payment(txn, amount, CardStatus::Active)
            .await
        {
            Ok(()) => break,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => bail!("the sandbox gateway never took payment {txn}: {e}"),
        }
    }
    let (status, payment) = post_until_answered(
        client,
        &format!("{api}/v1/payments"),
        &keys.0,
        None,
        &app.payment,
        deadline,
    )
    .await?;
    if !(200..300).contains(&status) {
        bail!("payment {txn}: {status} {payment}");
    }
    let mut request = app.request.clone();
    request["payment"] = json!({"id": payment["id"]});
    let (status, answer) = post_until_answered(
        client,
        &format!("{api}/v1/refund-requests"),
        &keys.1,
        Some(&format!("chaos-{run}-{}", app.n)),
        &request,
        deadline,
    )
    .await?;
    match (status, &app.card_number) {
        (422, Some(_)) => Ok(Submitted::Refused422),
        (s, None) if (200..300).contains(&s) => {
            let id: Uuid = answer["id"]
                .as_str()
                .unwrap_or_default()
                .parse()
                .with_context(|| format!("application {}: no request id in {answer}", app.n))?;
            if let Some(passport) = &app.passport {
                upload(
                    client,
                    api,
                    &keys.1,
                    id,
                    "refund_application",
                    json!({}),
                    deadline,
                )
                .await?;
                let fields = json!({"mrz": passport.mrz, "country": "KZ", "holder_name": "Сейткали Айгерим"});
                let accepted = upload(
                    client,
                    api,
                    &keys.1,
                    id,
                    "identity_document",
                    fields,
                    deadline,
                )
                .await?;
                if accepted["valid"] != json!(true) {
                    bail!(
                        "application {}: the passport was not taken as valid: {accepted}",
                        app.n
                    );
                }
            }
            Ok(Submitted::Request(id))
        }
        (s, card) => bail!(
            "application {} ({}): answered {s} {answer}",
            app.n,
            if card.is_some() {
                "with a card number, expected 422"
            } else {
                "expected 201"
            }
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// The run.

/// Counts of the faults injected.
#[derive(Debug, Default)]
struct Faults {
    kills: BTreeMap<String, usize>,
    /// When the notify process was SIGKILLed (the one moment an email can go twice).
    notify_killed_at: Vec<Instant>,
    /// When the database link was cut and restored.
    outages: Vec<(Instant, Instant)>,
    /// When the database's backends were terminated.
    backends_killed_at: Vec<Instant>,
    /// When the SMTP server was stopped (every connection dropped).
    smtp_stopped_at: Vec<Instant>,
    connection_closes: usize,
    backend_kills: usize,
    gateway_pauses: usize,
    smtp_outages: usize,
    db_outages: usize,
    node_restarts: usize,
}

impl Faults {
    fn total(&self) -> usize {
        self.kills.values().sum::<usize>()
            + self.connection_closes
            + self.backend_kills
            + self.gateway_pauses
            + self.smtp_outages
            + self.db_outages
            + self.node_restarts
    }
}

const ROLES: [&str; 7] = [
    "relay", "validate", "decide", "payout", "notify", "webhook", "sla",
];

/// Runs the chaos suite once and reports what held.
pub async fn run(config: ChaosConfig) -> anyhow::Result<Report> {
    let mut report = Report::default();
    let started = Instant::now();
    report.line(format!(
        "seed {} (replay with CHAOS_SEED={} or scripts/chaos --seed {}); {} applications at {}/s; database outage {:?}; tiers {:?}",
        config.seed,
        config.seed,
        config.seed,
        config.applications,
        config.rate,
        config.db_outage,
        config.retry_delays
    ));
    // Each run's logs on their own: a replayed seed starts them afresh.
    let _ = std::fs::remove_dir_all(&config.log_dir);
    std::fs::create_dir_all(&config.log_dir)?;
    let mut dice = Dice(config.seed);
    let run_label = format!("{:x}", config.seed & 0xffff_ffff);

    // Services of our own: a database, a vhost, the SMTP server, the gateway.
    let db = TestDb::new().await;
    let upstream: SocketAddr = "127.0.0.1:5432".parse()?;
    let link = DbLink::start(upstream).await?;
    let linked_url = db
        .url
        .replace("127.0.0.1:5432", &link.addr.to_string())
        .replace("localhost:5432", &link.addr.to_string());
    let vhost = format!("chaos_{}", Uuid::new_v4().simple());
    let node = config.cluster.as_ref().map(|c| c.node.clone());
    rabbitmqctl(node.as_deref(), &["add_vhost", &vhost])?;
    rabbitmqctl(
        node.as_deref(),
        &["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"],
    )?;
    let amqp_url = match &config.cluster {
        Some(c) => c
            .urls
            .iter()
            .map(|u| format!("{}/{vhost}", u.trim_end_matches('/')))
            .collect::<Vec<_>>()
            .join(","),
        None => format!("{}/{vhost}", amqp_base_url()),
    };
    let topology = Topology {
        prefix: "chaos".into(),
        delivery_limit: 5,
        retry_delays: config.retry_delays.clone(),
    };
    let sink = Arc::new(Mutex::new(SmtpSink::start().await));
    let smtp_url = sink.lock().await.url();
    let gateway_port = free_port();
    let gateway_url = format!("http://127.0.0.1:{gateway_port}");
    let api_port = free_port();
    let api = format!("http://127.0.0.1:{api_port}");

    let delays: Vec<String> = config
        .retry_delays
        .iter()
        .map(|d| shared::config::format_duration(*d))
        .collect();
    let env: Vec<(String, String)> = [
        ("DATABASE_URL", linked_url.as_str()),
        ("AMQP_URL", amqp_url.as_str()),
        ("REFUNDD_QUEUE_PREFIX", "chaos"),
        ("REFUNDD_RETRY_DELAYS", &delays.join(",")),
        ("REFUNDD_RELAY_POLL_INTERVAL", "200ms"),
        ("REFUNDD_DEV_MODE", "1"),
        ("REFUNDD_SMTP_URL", smtp_url.as_str()),
        ("REFUNDD_SPOOL_DIR", "/nonexistent"),
        (
            "REFUNDD_SANDBOX_GATEWAY",
            &format!("127.0.0.1:{gateway_port}"),
        ),
        ("REFUNDD_API_BIND", &format!("127.0.0.1:{api_port}")),
        ("REFUNDD_SLA_INTERVAL", "1s"),
        (
            "REFUNDD_STALL_AFTER",
            &shared::config::format_duration(config.stall_after),
        ),
        (
            "REFUNDD_PAYOUT_RECHECK_AFTER",
            &shared::config::format_duration(config.stall_after * 2),
        ),
        ("REFUNDD_SHUTDOWN_GRACE", "2s"),
        ("REFUNDD_DB_POOL", "api=4,worker=2"),
        ("REFUNDD_PREFETCH", "8"),
        ("RUST_LOG", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();

    let mut gateway_proc = Proc {
        name: "sandbox-gateway".into(),
        args: vec![
            "sandbox-gateway".into(),
            "--listen".into(),
            format!("127.0.0.1:{gateway_port}"),
            "--ledger".into(),
            config
                .log_dir
                .join(format!("ledger-{}.jsonl", config.seed))
                .display()
                .to_string(),
            "--timeout-rate".into(),
            config.timeout_rate.to_string(),
            "--error-rate".into(),
            config.error_rate.to_string(),
            "--hang-ms".into(),
            "12000".into(),
            "--seed".into(),
            config.seed.to_string(),
        ],
        env: vec![("RUST_LOG".into(), "warn".into())],
        log: config.log_dir.join("sandbox-gateway.log"),
        child: None,
    };
    let _ = std::fs::remove_file(config.log_dir.join(format!("ledger-{}.jsonl", config.seed)));
    gateway_proc.start()?;
    let mut procs: Vec<Proc> = std::iter::once(("api".to_owned(), vec!["api".to_owned()]))
        .chain(
            ROLES
                .iter()
                .map(|r| ((*r).to_owned(), vec!["worker".to_owned(), (*r).to_owned()])),
        )
        .map(|(name, args)| Proc {
            log: config.log_dir.join(format!("{name}.log")),
            name,
            args,
            env: env.clone(),
            child: None,
        })
        .collect();
    for p in &mut procs {
        p.start()?;
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let gateway = SandboxGateway::at(&gateway_url, Duration::from_secs(5))?;
    // Ready: the API answers and the gateway too.
    let ready = crate::eventually(Duration::from_secs(60), || async {
        client
            .get(format!("{api}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
            && gateway.ledger(Some("none")).await.is_ok()
    })
    .await;
    if !ready {
        bail!(
            "the API or the sandbox gateway did not start; see the logs in {}",
            config.log_dir.display()
        );
    }
    let keys = (
        all_merchants_key(&db.pool, ApiRole::Intake).await,
        all_merchants_key(&db.pool, ApiRole::Support).await,
    );

    // The load: open loop, each application due at start + n / rate.
    let applications: Vec<Application> = (0..config.applications)
        .map(|n| application(&run_label, n, &mut dice))
        .collect();
    let applications = Arc::new(applications);
    let load_for = Duration::from_secs_f64(config.applications as f64 / config.rate);
    let load_started = Instant::now();
    let deadline = load_started + load_for + config.db_outage + Duration::from_secs(300);
    let next = Arc::new(AtomicUsize::new(0));
    let results: Arc<Mutex<Outcomes>> = Arc::default();
    let mut submitters = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (client, api, keys, gateway, apps, next, results, run_label) = (
            client.clone(),
            api.clone(),
            keys.clone(),
            gateway.clone(),
            applications.clone(),
            next.clone(),
            results.clone(),
            run_label.clone(),
        );
        let rate = config.rate;
        submitters.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                let Some(app) = apps.get(n) else { break };
                let due = load_started + Duration::from_secs_f64(n as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                let outcome =
                    submit(&client, &api, &keys, &gateway, app, &run_label, deadline).await;
                results.lock().await.push((n, outcome));
            }
        });
    }

    // The faults, while the load runs (and a little after).
    let mut faults = Faults::default();
    let outage_at = load_started + load_for.mul_f64(0.35);
    let node_at = load_started + load_for.mul_f64(0.2);
    let faults_until = load_started + load_for + Duration::from_secs(3);
    let mut outage_done = config.db_outage.is_zero();
    let mut node_done = config.cluster.is_none();
    let admin = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(&admin_database_url())
        .await?;
    while Instant::now() < faults_until || !submitters.is_empty() {
        // Crashed by itself? That is a finding, and it is started again.
        for p in &mut procs {
            if let Some(status) = p.exited() {
                report.fail(format!(
                    "{} exited by itself ({status}) mid-run; see {}",
                    p.name,
                    p.log.display()
                ));
                p.child = None;
                p.start()?;
            }
        }
        if Instant::now() >= faults_until {
            // Only the stragglers of the load are left: no more faults.
            if submitters.try_join_next().is_none() {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            continue;
        }
        while submitters.try_join_next().is_some() {}
        if !node_done && Instant::now() >= node_at {
            node_done = true;
            let cluster = config.cluster.as_ref().expect("cluster");
            let n = 2 + dice.below(2); // never the node rabbitmqctl talks through
            report.line(format!(
                "stopping broker node {n} for {:?}",
                cluster.node_down
            ));
            cluster_node(&cluster.script, "stop-node", n)?;
            let script = cluster.script.clone();
            let down = cluster.node_down;
            tokio::spawn(async move {
                tokio::time::sleep(down).await;
                if let Err(e) =
                    tokio::task::spawn_blocking(move || cluster_node(&script, "start-node", n))
                        .await
                {
                    println!("[chaos] starting node {n} again failed: {e}");
                }
            });
            faults.node_restarts += 1;
            continue;
        }
        if !outage_done && Instant::now() >= outage_at {
            outage_done = true;
            report.line(format!(
                "database outage for {:?} at {:.1}s",
                config.db_outage,
                started.elapsed().as_secs_f64()
            ));
            link.go_down();
            let cut_at = Instant::now();
            faults.db_outages += 1;
            // Other faults go on during the outage.
            let end = Instant::now() + config.db_outage;
            while Instant::now() < end {
                inject(
                    &mut dice,
                    &mut procs,
                    &mut gateway_proc,
                    &sink,
                    &vhost,
                    node.as_deref(),
                    &admin,
                    &db.name,
                    &mut faults,
                    true,
                )
                .await?;
                tokio::time::sleep(dice.between(config.fault_every)).await;
            }
            link.up();
            faults.outages.push((cut_at, Instant::now()));
            report.line(format!(
                "database back at {:.1}s",
                started.elapsed().as_secs_f64()
            ));
            continue;
        }
        inject(
            &mut dice,
            &mut procs,
            &mut gateway_proc,
            &sink,
            &vhost,
            node.as_deref(),
            &admin,
            &db.name,
            &mut faults,
            false,
        )
        .await?;
        tokio::time::sleep(dice.between(config.fault_every)).await;
    }
    link.up();
    let submitted_at = started.elapsed();

    // Everything the load got.
    let results = std::mem::take(&mut *results.lock().await);
    let mut requests: HashMap<Uuid, usize> = HashMap::new();
    let mut refused = 0;
    for (n, outcome) in results {
        match outcome {
            Ok(Submitted::Request(id)) => {
                requests.insert(id, n);
            }
            Ok(Submitted::Refused422) => refused += 1,
            Err(e) => report.fail(format!("submitting application {n}: {e:#}")),
        }
    }
    report.line(format!(
        "submitted {} requests and {refused} card-number applications refused (422) in {:.1}s",
        requests.len(),
        submitted_at.as_secs_f64()
    ));
    report.line(format!(
        "faults: {} in all: kills {:?}, broker connection closes {}, backend kills {}, gateway pauses {}, SMTP outages {}, database outages {}, broker node restarts {}",
        faults.total(),
        faults.kills,
        faults.connection_closes,
        faults.backend_kills,
        faults.gateway_pauses,
        faults.smtp_outages,
        faults.db_outages,
        faults.node_restarts
    ));

    // Until nothing moves.
    let settle_started = Instant::now();
    let mut quiet_polls = 0;
    let mut last = String::new();
    while settle_started.elapsed() < config.settle_timeout {
        for p in &mut procs {
            if let Some(status) = p.exited() {
                report.fail(format!(
                    "{} exited by itself ({status}) while settling",
                    p.name
                ));
                p.child = None;
                p.start()?;
            }
        }
        let moving = moving(&db.pool).await?;
        if moving.is_empty() {
            quiet_polls += 1;
            if quiet_polls >= 3 {
                break;
            }
        } else {
            quiet_polls = 0;
            last = moving;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    if quiet_polls < 3 {
        report.fail(format!(
            "still moving after {:?}: {last}",
            config.settle_timeout
        ));
    }
    report.line(format!(
        "settled {:.1}s after the load ({:.1}s in all)",
        settle_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    ));

    check(
        &mut report,
        &db,
        &gateway,
        &sink,
        &requests,
        &amqp_url,
        &topology,
        &applications,
        &faults,
    )
    .await?;

    for p in &mut procs {
        p.stop();
    }
    gateway_proc.stop();
    admin.close().await;
    let _ = rabbitmqctl(node.as_deref(), &["delete_vhost", &vhost]);
    if report.passed() {
        db.drop_database().await;
    } else {
        report.line(format!(
            "kept for a look: database {}, logs in {}",
            db.name,
            config.log_dir.display()
        ));
    }
    Ok(report)
}

fn cluster_node(script: &Path, cmd: &str, n: u64) -> anyhow::Result<()> {
    let status = Command::new(script)
        .args([cmd, &n.to_string()])
        .stdin(Stdio::null())
        .status()
        .with_context(|| format!("{} {cmd} {n}", script.display()))?;
    if !status.success() {
        bail!("{} {cmd} {n} failed ({status})", script.display());
    }
    Ok(())
}

/// One random fault (no database-wide one during an outage: it is down already).
#[allow(clippy::too_many_arguments)]
async fn inject(
    dice: &mut Dice,
    procs: &mut [Proc],
    gateway: &mut Proc,
    sink: &Arc<Mutex<SmtpSink>>,
    vhost: &str,
    node: Option<&str>,
    admin: &PgPool,
    db_name: &str,
    faults: &mut Faults,
    in_outage: bool,
) -> anyhow::Result<()> {
    match dice.below(100) {
        // SIGKILL a role (the API included), started again a moment later.
        0..=39 => {
            let i = dice.below(procs.len() as u64) as usize;
            let p = &mut procs[i];
            p.kill();
            *faults.kills.entry(p.name.clone()).or_default() += 1;
            if p.name == "notify" {
                faults.notify_killed_at.push(Instant::now());
            }
            tokio::time::sleep(Duration::from_millis(100 + dice.below(1500))).await;
            p.start()?;
        }
        40..=54 => {
            // Best effort: with nothing connected at that instant there is nothing to close.
            let _ = rabbitmqctl(
                node,
                &[
                    "close_all_connections",
                    "--vhost",
                    vhost,
                    "chaos: connection closed",
                ],
            );
            faults.connection_closes += 1;
        }
        55..=69 if !in_outage => {
            sqlx::query(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                  WHERE datname = $1 AND pid <> pg_backend_pid()",
            )
            .bind(db_name)
            .execute(admin)
            .await?;
            faults.backend_kills += 1;
            faults.backends_killed_at.push(Instant::now());
        }
        70..=84 => {
            if let Some(pid) = gateway.pid() {
                signal("-STOP", pid);
                tokio::time::sleep(Duration::from_millis(500 + dice.below(4000))).await;
                signal("-CONT", pid);
                faults.gateway_pauses += 1;
            }
        }
        85..=99 => {
            let down = Duration::from_millis(1000 + dice.below(6000));
            let sink = sink.clone();
            sink.lock().await.stop().await;
            faults.smtp_stopped_at.push(Instant::now());
            tokio::spawn(async move {
                tokio::time::sleep(down).await;
                sink.lock().await.restart().await;
            });
            faults.smtp_outages += 1;
        }
        _ => {}
    }
    Ok(())
}

/// What still moves: requests not at rest, outbox rows unpublished or open, emails pending.
/// Empty when nothing does.
async fn moving(pool: &PgPool) -> anyhow::Result<String> {
    let at_rest: Vec<&str> = RequestState::ALL
        .iter()
        .copied()
        .filter(|&s| at_rest(s))
        .map(RequestState::as_str)
        .collect();
    let (requests, unpublished, open, pending): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM refund_requests WHERE NOT state = ANY($1)),
                (SELECT count(*) FROM outbox WHERE published_at IS NULL),
                (SELECT count(*) FROM outbox WHERE published_at IS NOT NULL
                    AND routing_key IN ('request.notify', 'request.payout')),
                (SELECT count(*) FROM notifications WHERE status = 'pending')",
    )
    .bind(&at_rest)
    .fetch_one(pool)
    .await?;
    if requests + unpublished + open + pending == 0 {
        return Ok(String::new());
    }
    let states: Vec<(String, i64)> = sqlx::query_as(
        "SELECT state, count(*) FROM refund_requests WHERE NOT state = ANY($1) GROUP BY state",
    )
    .bind(&at_rest)
    .fetch_all(pool)
    .await?;
    Ok(format!(
        "{requests} requests on the move {states:?}, {unpublished} outbox rows unpublished, {open} notify/payout messages open, {pending} emails pending"
    ))
}

fn message_id_of(data: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(data);
    text.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("message-id").then(|| {
            value
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_owned()
        })
    })
}

/// Whether `digits` passes the Luhn check.
fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.chars().rev().enumerate() {
        let Some(mut d) = c.to_digit(10) else {
            return false;
        };
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// Every guarantee, checked against the database, the gateway, the SMTP server and the
/// broker.
#[allow(clippy::too_many_arguments)]
async fn check(
    report: &mut Report,
    db: &TestDb,
    gateway: &SandboxGateway,
    sink: &Arc<Mutex<SmtpSink>>,
    requests: &HashMap<Uuid, usize>,
    amqp_url: &str,
    topology: &Topology,
    applications: &[Application],
    faults: &Faults,
) -> anyhow::Result<()> {
    let pool = &db.pool;
    // 1. Every request at rest, and a waiting one says why.
    let rows: Vec<(Uuid, String, String, Option<String>)> = sqlx::query_as(
        "SELECT r.id, r.state, p.gateway_txn_id,
                (SELECT e.reason FROM request_events e WHERE e.request_id = r.id
                  ORDER BY e.id DESC LIMIT 1)
           FROM refund_requests r JOIN payments p ON p.id = r.payment_id",
    )
    .fetch_all(pool)
    .await?;
    let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
    let mut state_of: HashMap<Uuid, RequestState> = HashMap::new();
    let mut txn_of: HashMap<Uuid, String> = HashMap::new();
    for (id, state, txn, reason) in &rows {
        *by_state.entry(state.clone()).or_default() += 1;
        let state: RequestState = state.parse()?;
        state_of.insert(*id, state);
        txn_of.insert(*id, txn.clone());
        if !at_rest(state) {
            report.fail(format!("request {id} ended the run in {state}"));
        } else if !state.is_final() && reason.as_deref().is_none_or(str::is_empty) {
            report.fail(format!(
                "request {id} waits in {state} with no reason given"
            ));
        }
    }
    for id in requests.keys() {
        if !state_of.contains_key(id) {
            report.fail(format!(
                "request {id} was accepted by the API and is not in the database"
            ));
        }
    }
    report.line(format!("requests by state: {by_state:?}"));

    // 2. The money: one booked refund per refunded request, none otherwise, never over.
    let ledger = gateway.ledger(None).await?;
    let mut booked: HashMap<&str, usize> = HashMap::new();
    for r in &ledger.refunds {
        if r.status == RefundStatus::Succeeded {
            *booked.entry(r.transaction_id.as_str()).or_default() += 1;
        }
    }
    let mut refunded = 0;
    for (id, state) in &state_of {
        let txn = txn_of[id].as_str();
        let n = booked.get(txn).copied().unwrap_or(0);
        let paid_by_hand: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM request_events WHERE request_id = $1 AND to_state = 'manual_payout')",
        )
        .bind(id)
        .fetch_one(pool)
        .await?;
        match (state, paid_by_hand) {
            (RequestState::Refunded, false) => {
                refunded += 1;
                if n != 1 {
                    report.fail(format!(
                        "request {id} is refunded and the gateway booked {n} refunds for {txn}"
                    ));
                }
            }
            _ if n != 0 => report.fail(format!(
                "request {id} is {state} and the gateway booked {n} refunds for {txn}"
            )),
            _ => {}
        }
    }
    for t in &ledger.transactions {
        if t.remaining.starts_with('-') {
            report.fail(format!(
                "{} refunded {} of {} captured",
                t.transaction_id, t.refunded, t.captured
            ));
        }
    }
    report.line(format!(
        "ledger: {refunded} refunded requests, {} booked refunds in all, {} declined",
        booked.values().sum::<usize>(),
        ledger
            .refunds
            .iter()
            .filter(|r| r.status != RefundStatus::Succeeded)
            .count()
    ));

    // 3. Every email exactly once.
    let delivered = sink.lock().await.delivered();
    let mut per_message: HashMap<String, Vec<Instant>> = HashMap::new();
    for d in &delivered {
        match message_id_of(&d.data) {
            Some(id) => per_message.entry(id).or_default().push(d.at),
            None => report.fail("an email without a Message-ID reached the SMTP server"),
        }
    }
    // The one way an email goes twice (docs/RELIABILITY.md): the SMTP server accepted it, its
    // `sent` mark did not reach the database (cut off, or our process killed in that instant),
    // and the notify process was killed before the mark was made; then the same Message-ID
    // goes again. Any other second delivery is a broken guarantee.
    let near = |a: Instant, b: Instant| a.max(b).duration_since(a.min(b)) < Duration::from_secs(3);
    let database_trouble_at = |t: Instant| {
        faults
            .outages
            .iter()
            .any(|&(cut, back)| t + Duration::from_secs(3) >= cut && t <= back)
            || faults.backends_killed_at.iter().any(|&b| near(b, t))
    };
    let mut resent_after_kill = 0;
    for (id, times) in &per_message {
        for pair in times.windows(2) {
            // The server notes a delivery once it has read the whole message, which the
            // kernel hands it even when our process was killed the moment it had written the
            // last line: a kill up to half a second before the first delivery counts.
            let after_kill = faults.notify_killed_at.iter().any(|&k| {
                k + Duration::from_millis(500) >= pair[0]
                    && k <= pair[1]
                    && (near(k, pair[0]) || database_trouble_at(pair[0]))
            });
            // Or the server's "250" lost: it took the message and went down before its answer
            // reached us (RFC 1047's duplicate).
            let reply_lost = faults
                .smtp_stopped_at
                .iter()
                .any(|&stop| stop >= pair[0] && stop <= pair[1] && near(stop, pair[0]));
            let explained = after_kill || reply_lost;
            if explained {
                resent_after_kill += 1;
            } else {
                // What happened around it, in seconds from the first delivery, for whoever
                // looks into it: the faults of each kind within half a minute.
                let around = |times: &mut dyn Iterator<Item = Instant>| -> String {
                    let offsets: Vec<String> = times
                        .filter_map(|t| {
                            let s = if t >= pair[0] {
                                t.duration_since(pair[0]).as_secs_f64()
                            } else {
                                -pair[0].duration_since(t).as_secs_f64()
                            };
                            (s.abs() <= 30.0).then(|| format!("{s:+.1}"))
                        })
                        .collect();
                    if offsets.is_empty() {
                        "none".into()
                    } else {
                        offsets.join(" ")
                    }
                };
                report.fail(format!(
                    "email {id} delivered twice with no notify crash after an unrecorded send and no SMTP outage as it was accepted; second delivery {:+.1}s, notify kills {}, SMTP stops {}, backend kills {}, outages {}",
                    pair[1].duration_since(pair[0]).as_secs_f64(),
                    around(&mut faults.notify_killed_at.iter().copied()),
                    around(&mut faults.smtp_stopped_at.iter().copied()),
                    around(&mut faults.backends_killed_at.iter().copied()),
                    around(&mut faults.outages.iter().flat_map(|&(cut, back)| [cut, back])),
                ));
            }
        }
    }
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT status, coalesce(email_message_id, ''), error FROM notifications")
            .fetch_all(pool)
            .await?;
    let mut emails: BTreeMap<String, usize> = BTreeMap::new();
    for (status, message_id, error) in &rows {
        *emails.entry(status.clone()).or_default() += 1;
        match status.as_str() {
            "sent"
                if !per_message
                    .contains_key(message_id.trim_start_matches('<').trim_end_matches('>')) =>
            {
                report.fail(format!(
                    "email {message_id} is marked sent and never reached the server"
                ));
            }
            "pending" => report.fail(format!("email {message_id} still pending ({error:?})")),
            "failed" => report.fail(format!("email {message_id} failed: {error:?}")),
            _ => {}
        }
    }
    let sent_ids: std::collections::HashSet<String> = rows
        .iter()
        .filter(|(s, _, _)| s == "sent")
        .map(|(_, m, _)| m.trim_start_matches('<').trim_end_matches('>').to_owned())
        .collect();
    for id in per_message.keys() {
        if !sent_ids.contains(id) {
            report.fail(format!("email {id} reached the server with no sent row"));
        }
    }
    let received: i64 = sqlx::query_scalar(
        "SELECT count(DISTINCT request_id) FROM notifications WHERE event = 'received' AND status = 'sent'",
    )
    .fetch_one(pool)
    .await?;
    if received as usize != state_of.len() {
        report.fail(format!(
            "{} of {} customers were told their request arrived",
            received,
            state_of.len()
        ));
    }
    report.line(format!(
        "emails: {} delivered, {} distinct, {resent_after_kill} resent with the same Message-ID (after a notify kill or a lost SMTP reply), rows {emails:?}",
        delivered.len(),
        per_message.len()
    ));

    // 4. The outbox is empty: nothing waits, nothing is open, and nothing finished is kept
    //    (a row goes when its message is done, whatever was killed or dropped on the way).
    let (unpublished, open, kept): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE published_at IS NULL),
                count(*) FILTER (WHERE published_at IS NOT NULL AND tracked),
                count(*) FILTER (WHERE published_at IS NOT NULL AND NOT tracked)
           FROM (SELECT published_at, routing_key IN ('request.notify', 'request.payout') AS tracked
                   FROM outbox) o",
    )
    .fetch_one(pool)
    .await?;
    if unpublished + open + kept > 0 {
        report.fail(format!(
            "outbox: {unpublished} rows unpublished, {open} messages open, {kept} published rows kept"
        ));
    }

    // 5. Parking: empty or explained.
    let parked = shared::broker::parking::list(amqp_url, topology, &Default::default()).await?;
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for p in &parked {
        let short: String = p.reason.chars().take(80).collect();
        *reasons
            .entry(format!("{:?}: {short}", p.stage))
            .or_default() += 1;
        let explained = p
            .request_id
            .and_then(|id| state_of.get(&id))
            .is_some_and(|s| at_rest(*s));
        if !explained {
            report.fail(format!("parked and unexplained: {p:?}"));
        }
    }
    report.line(format!("parking: {} messages {reasons:?}", parked.len()));

    // 6. Every history a legal path.
    let events: Vec<(Uuid, Option<String>, String)> = sqlx::query_as(
        "SELECT request_id, from_state, to_state FROM request_events ORDER BY request_id, id",
    )
    .fetch_all(pool)
    .await?;
    // Annotations (from = to: an email sent, an SLA change) record the state their writer
    // read, and may be numbered after a move they did not see; the moves themselves are
    // serialized by the request's row lock, so they must chain.
    let mut previous: Option<(Uuid, String)> = None;
    let mut illegal = 0;
    for (id, from, to) in &events {
        if from.as_ref() == Some(to) {
            continue;
        }
        if let Some(from) = from {
            if let Some((prev_id, prev_to)) = &previous
                && prev_id == id
                && from != prev_to
            {
                illegal += 1;
                report.fail(format!(
                    "request {id}: history jumps from {prev_to} to a move from {from}"
                ));
            }
            let (f, t): (RequestState, RequestState) = (from.parse()?, to.parse()?);
            if check_transition(f, t).is_err() {
                illegal += 1;
                report.fail(format!("request {id}: illegal move {f} → {t}"));
            }
        }
        previous = Some((*id, to.clone()));
    }
    report.line(format!(
        "histories: {} events, {illegal} illegal",
        events.len()
    ));

    // 7. Nothing in clear: a dump of the database. Without sqlx's own table of migrations,
    // whose versions are 14-digit dates (20261205000700 passes the Luhn check) and hold
    // nothing of a customer's.
    let dump = Command::new("pg_dump")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "--data-only",
            "--exclude-table-data=_sqlx_migrations",
            &db.name,
        ])
        .output()
        .context("pg_dump runs")?;
    if !dump.status.success() {
        bail!("pg_dump: {}", String::from_utf8_lossy(&dump.stderr));
    }
    let dump = String::from_utf8_lossy(&dump.stdout);
    let mut in_clear = Vec::new();
    let passports: Vec<&str> = applications
        .iter()
        .filter_map(|a| a.passport.as_ref().map(|p| p.number.as_str()))
        .collect();
    for secret in CARD_NUMBERS
        .iter()
        .chain(PERSONAL_NUMBERS.iter())
        .chain(passports.iter())
    {
        let plain = secret.replace('-', "");
        if dump.contains(secret) || dump.contains(&plain) {
            in_clear.push((*secret).to_owned());
        }
    }
    // Any Luhn-valid number of 13-19 digits standing on its own (not a stretch of a hash or
    // a hex id, which are letters and digits).
    for token in dump.split(|c: char| !c.is_ascii_alphanumeric()) {
        if (13..=19).contains(&token.len())
            && token.chars().all(|c| c.is_ascii_digit())
            && luhn(token)
        {
            in_clear.push(format!(
                "a Luhn-valid number ending {}",
                &token[token.len() - 4..]
            ));
        }
    }
    let planted = applications
        .iter()
        .filter(|a| a.card_number.is_some() || a.personal_number.is_some())
        .count();
    let passports = passports.len();
    if in_clear.is_empty() {
        report.line(format!(
            "pg_dump: {} bytes, no card number, personal number or passport number in clear ({planted} applications carried a card or personal number, {passports} a passport)",
            dump.len()
        ));
    } else {
        report.fail(format!("pg_dump holds in clear: {in_clear:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_applications() {
        let a: Vec<String> = (0..50)
            .map(|n| application("x", n, &mut Dice(7)).request.to_string())
            .collect();
        let b: Vec<String> = (0..50)
            .map(|n| application("x", n, &mut Dice(7)).request.to_string())
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn the_planted_secrets_are_what_the_guards_must_catch() {
        for card in CARD_NUMBERS {
            assert!(luhn(card), "{card}");
        }
        assert!(!luhn("4111111111111112"));
        for number in PERSONAL_NUMBERS {
            assert_eq!(
                shared::identity::masking::find_personal_numbers(number).len(),
                1,
                "{number} must be a valid personal number, or the masking is not tested"
            );
        }
    }
}
