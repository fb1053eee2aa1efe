//! Test support for the end-to-end suite: each test gets its own Postgres database and its own
//! RabbitMQ names (or vhost), so tests run in parallel without seeing each other; and a way
//! to start the real `refundd` binary against them.

pub mod chaos;
pub mod load;
pub mod smtp_sink;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lapin::options::{ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use shared::broker::Topology;
use shared::lifecycle::RequestState;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use uuid::Uuid;

/// The server tests create their databases on (`TEST_DATABASE_URL`, default local trust auth).
pub fn admin_database_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// The broker tests use (`TEST_AMQP_URL`, default the local guest account).
pub fn amqp_base_url() -> String {
    std::env::var("TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672".into())
}

/// A database of one's own, migrated.
pub struct TestDb {
    pub pool: PgPool,
    pub url: String,
    pub name: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let name = format!("refundd_test_{}", Uuid::new_v4().simple());
        let admin = PgPoolOptions::new()
            .max_connections(1)
            .connect(&admin_database_url())
            .await
            .expect("Postgres must be running for the tests (see README: scripts/test)");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let base = admin_database_url();
        let url = format!(
            "{}/{name}",
            &base[..base.rfind('/').expect("url has a path")]
        );
        let pool = PgPoolOptions::new()
            .max_connections(20)
            .connect(&url)
            .await
            .expect("connect to test database");
        shared::db::migrate(&pool).await.expect("migrate");
        Self { pool, url, name }
    }

    /// Drops the database (best effort; a failed test leaves it for inspection).
    pub async fn drop_database(self) {
        // A connection still checked out (a test's open transaction) must not hang the test.
        let _ = tokio::time::timeout(Duration::from_secs(5), self.pool.close()).await;
        if let Ok(admin) = PgPoolOptions::new()
            .max_connections(1)
            .connect(&admin_database_url())
            .await
        {
            let _ = sqlx::query(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&admin)
            .await;
        }
    }
}

/// Exchange and queue names of one's own, on the default vhost or on a fresh vhost.
pub struct TestBroker {
    pub url: String,
    pub topology: Topology,
    pub vhost: Option<String>,
}

impl TestBroker {
    /// Own names under a fresh prefix; short retry delays so tests don't wait minutes.
    pub fn new(retry_delays: &[Duration]) -> Self {
        let prefix = format!("t{}", &Uuid::new_v4().simple().to_string()[..12]);
        Self {
            url: format!("{}/%2f", amqp_base_url()),
            topology: Topology {
                prefix,
                delivery_limit: 5,
                retry_delays: retry_delays.to_vec(),
            },
            vhost: None,
        }
    }

    /// A vhost of one's own (needs `rabbitmqctl`): lets a test close every connection of its
    /// own without disturbing other tests.
    pub fn with_vhost(retry_delays: &[Duration]) -> Self {
        let mut broker = Self::new(retry_delays);
        let vhost = broker.topology.prefix.clone();
        rabbitmqctl(&["add_vhost", &vhost]);
        rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"]);
        broker.url = format!("{}/{vhost}", amqp_base_url());
        broker.vhost = Some(vhost);
        broker
    }

    pub async fn declare(&self) {
        let conn = shared::broker::connect(&self.url, "test setup")
            .await
            .expect("RabbitMQ must be running for the tests (see README: scripts/test)");
        let ch = conn.create_channel().await.unwrap();
        self.topology.declare(&ch).await.expect("declare topology");
        conn.close(200, "done").await.ok();
    }

    /// Messages ready in a queue.
    pub async fn queue_depth(&self, queue: &str) -> u32 {
        let conn = shared::broker::connect(&self.url, "test probe")
            .await
            .unwrap();
        let ch = conn.create_channel().await.unwrap();
        let q = ch
            .queue_declare(
                queue,
                QueueDeclareOptions {
                    passive: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .expect("queue exists");
        conn.close(200, "done").await.ok();
        q.message_count()
    }

    /// Closes every connection on this test's vhost, as an operator or a network fault would.
    pub fn close_all_connections(&self) {
        let vhost = self
            .vhost
            .as_deref()
            .expect("close_all_connections needs with_vhost");
        rabbitmqctl(&[
            "close_all_connections",
            "--vhost",
            vhost,
            "test: forced close",
        ]);
    }

    /// Deletes this test's queues and exchanges (or its vhost) now; dropping does the same.
    pub async fn cleanup(self) {
        drop(self);
    }

    async fn delete_topology(url: &str, topology: &Topology) {
        if let Ok(conn) = shared::broker::connect(url, "test cleanup").await {
            if let Ok(ch) = conn.create_channel().await {
                for q in topology.queues() {
                    let _ = ch.queue_delete(&q, QueueDeleteOptions::default()).await;
                }
                for e in topology.exchanges() {
                    let _ = ch
                        .exchange_delete(&e, ExchangeDeleteOptions::default())
                        .await;
                }
            }
            conn.close(200, "done").await.ok();
        }
    }
}

/// A test's queues go when the test ends, passed or panicked: quorum queues left behind by
/// every run pile up in the broker (memory, start-up time) on a machine that runs the suite
/// all day. Runs on its own thread and runtime, since a drop cannot await.
impl Drop for TestBroker {
    fn drop(&mut self) {
        if let Some(vhost) = &self.vhost {
            // Never panic in a drop (a panicking test would abort): best effort.
            let _ = Command::new("rabbitmqctl")
                .args(["delete_vhost", vhost])
                .output();
            return;
        }
        let url = self.url.clone();
        let topology = self.topology.clone();
        let _ = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(async {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(10),
                        Self::delete_topology(&url, &topology),
                    )
                    .await;
                });
            }
        })
        .join();
    }
}

fn rabbitmqctl(args: &[&str]) {
    let out = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl runs");
    assert!(
        out.status.success(),
        "rabbitmqctl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A scan big enough to read (a PNG header of 1200×800): the document checks read its size;
/// the fields come with the upload.
pub fn scan_png() -> Vec<u8> {
    let mut data = b"\x89PNG\r\n\x1a\n".to_vec();
    data.extend(13u32.to_be_bytes());
    data.extend(b"IHDR");
    data.extend(1200u32.to_be_bytes());
    data.extend(800u32.to_be_bytes());
    data.extend([8, 2, 0, 0, 0, 0, 0, 0, 0]);
    data
}

/// The `refundd` binary built next to this test binary.
pub fn refundd_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let mut dir = exe.parent().expect("exe dir").to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join("refundd");
    assert!(
        bin.exists(),
        "{} not found: build the workspace first (cargo build)",
        bin.display()
    );
    bin
}

/// A `refundd` process pointed at this test's database and broker.
pub fn refundd(db: &TestDb, broker: &TestBroker, args: &[&str]) -> Child {
    refundd_with(db, broker, args, &[])
}

/// [`refundd`] with extra environment variables.
pub fn refundd_with(
    db: &TestDb,
    broker: &TestBroker,
    args: &[&str],
    env: &[(&str, &str)],
) -> Child {
    let delays: Vec<String> = broker
        .topology
        .retry_delays
        .iter()
        .map(|d| shared::config::format_duration(*d))
        .collect();
    Command::new(refundd_bin())
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &db.url)
        .env("AMQP_URL", &broker.url)
        .env("REFUNDD_QUEUE_PREFIX", &broker.topology.prefix)
        .env("REFUNDD_RETRY_DELAYS", delays.join(","))
        .env("REFUNDD_RELAY_POLL_INTERVAL", "100ms")
        .env("RUST_LOG", "info")
        // Tests encrypt documents with the development key.
        .env("REFUNDD_DEV_MODE", "1")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start refundd")
}

/// Sends SIGTERM (a polite stop) to a child process.
pub fn terminate(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

/// Waits for a child to exit, at most `timeout`.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// Polls `check` until it returns true or `timeout` passes; returns the last answer.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A payout worker (prefetch 8) paying each merchant of `gateways` through its gateway, until
/// `shutdown`.
pub fn payout_worker(
    broker: &TestBroker,
    pool: &PgPool,
    gateways: std::collections::HashMap<String, shared::gateway::ConfiguredGateway>,
    shutdown: &tokio_util::sync::CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(shared::broker::consumer::run(
        shared::broker::consumer::ConsumerConfig {
            amqp_url: broker.url.clone(),
            topology: broker.topology.clone(),
            stage: shared::messages::Stage::Payout,
            prefetch: 8,
            shutdown_grace: Duration::from_secs(8),
        },
        std::sync::Arc::new(workers::roles::payout::Payout::new(pool.clone(), gateways)),
        shutdown.clone(),
    ))
}

/// A payment and a refund request in `state`, inserted directly (the API comes later in the
/// pipeline tests; here only the lifecycle matters).
pub async fn insert_request(pool: &PgPool, state: RequestState) -> Uuid {
    let payment = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO payments (id, merchant, policy_id, gateway, gateway_txn_id, amount_minor, currency, paid_at)
         VALUES ($1, 'demo', 'by-online-courses', 'sandbox', $2, 45000, 'BYN', now())",
    )
    .bind(payment)
    .bind(payment.to_string())
    .execute(pool)
    .await
    .unwrap();
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO refund_requests (id, payment_id, merchant, state, channel, reason, received_at)
         VALUES ($1, $2, 'demo', $3, 'api', 'withdrawal', now())",
    )
    .bind(id)
    .bind(payment)
    .bind(state.as_str())
    .execute(pool)
    .await
    .unwrap();
    id
}

/// A key named `test-{role}` reaching every merchant, as the tests' material spans the five
/// demo merchants. A support key cannot be created so (support works for one merchant): it is
/// created for one and widened in the table, as the migration widened the keys made before
/// merchant scopes. Tests of scoping create their own keys with [`TestApp::merchant_key`].
pub async fn all_merchants_key(pool: &PgPool, role: shared::api_keys::ApiRole) -> String {
    use shared::api_keys::MerchantScope;
    let name = format!("test-{role}");
    if role.may_span_merchants() {
        return shared::api_keys::create(pool, role, &MerchantScope::AllMerchants, &name)
            .await
            .unwrap()
            .secret;
    }
    let key = shared::api_keys::create(pool, role, &MerchantScope::Merchant("demo".into()), &name)
        .await
        .unwrap();
    sqlx::query("UPDATE api_keys SET merchant = NULL, all_merchants = true WHERE id = $1")
        .bind(key.id)
        .execute(pool)
        .await
        .unwrap();
    key.secret
}

/// The API served on 127.0.0.1:0 against a database of its own, with a key per role.
pub struct TestApp {
    pub address: String,
    pub db: TestDb,
    pub keys: std::collections::HashMap<shared::api_keys::ApiRole, String>,
    pub shutdown: tokio_util::sync::CancellationToken,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// [`TestApp::spawn`] with the context changed first (another broker, queue names, ...).
    /// The API is the one `refundd api` runs, built by [`workers::app::App`] on port 0 over
    /// this test's database.
    pub async fn spawn_with(configure: impl FnOnce(&mut workers::api::ApiContext)) -> Self {
        let db = TestDb::new().await;
        let settings = shared::config::Settings {
            database_url: db.url.clone(),
            amqp_url: format!("{}/%2f", amqp_base_url()),
            api_bind: "127.0.0.1:0".parse().unwrap(),
            document_keys: Some(shared::documents::DocumentKeys::development()),
            ..Default::default()
        };
        let mut app =
            workers::app::App::with_pool(settings, workers::app::Mode::Api, db.pool.clone())
                .await
                .unwrap();
        configure(app.api_context_mut().expect("the API has a context"));
        let address = format!("http://{}", app.address().expect("the API listens"));
        let shutdown = tokio_util::sync::CancellationToken::new();
        tokio::spawn(app.run(shutdown.clone()));
        let mut keys = std::collections::HashMap::new();
        for &role in shared::api_keys::ApiRole::ALL {
            keys.insert(role, all_merchants_key(&db.pool, role).await);
        }
        Self {
            address,
            db,
            keys,
            shutdown,
        }
    }

    pub fn key(&self, role: shared::api_keys::ApiRole) -> &str {
        &self.keys[&role]
    }

    /// A new key of `role` for one merchant's data only.
    pub async fn merchant_key(&self, role: shared::api_keys::ApiRole, merchant: &str) -> String {
        let scope = shared::api_keys::MerchantScope::Merchant(merchant.to_string());
        let name = format!("{merchant}-{role}-{}", Uuid::new_v4().simple());
        shared::api_keys::create(&self.db.pool, role, &scope, &name)
            .await
            .unwrap()
            .secret
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// POSTs `body` as JSON to `path` with `key`; panics with the answer unless it succeeded,
    /// and returns its JSON.
    pub async fn post_ok(
        &self,
        path: &str,
        key: &str,
        body: serde_json::Value,
    ) -> serde_json::Value {
        let r = reqwest::Client::new()
            .post(self.url(path))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.text().await.unwrap());
        r.json().await.unwrap()
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.db.drop_database().await;
    }
}

/// The relay and the validate and decide workers (and, when asked, the notify worker)
/// running in-process against a test's database and broker: each the [`workers::app::App`]
/// `refundd worker <role>` runs, over the test's pool.
pub struct Pipeline {
    pub shutdown: tokio_util::sync::CancellationToken,
    tasks: tokio_util::task::TaskTracker,
}

/// A notify worker writing to `mailer`, with the demo merchants (for tests that hand it
/// messages themselves).
pub fn notify_worker(
    db: &TestDb,
    mailer: shared::notify::Mailer,
) -> workers::roles::notify::Notify {
    workers::roles::notify::Notify::new(
        db.pool.clone(),
        std::sync::Arc::new(shared::merchants::Merchants::demo()),
        mailer,
        workers::roles::notify::MailAddresses::default(),
    )
}

impl Pipeline {
    pub async fn start(db: &TestDb, broker: &TestBroker) -> Self {
        Self::start_inner(db, broker, None).await
    }

    /// The pipeline with the notify worker too, sending to `sink`.
    pub async fn start_with_notify(
        db: &TestDb,
        broker: &TestBroker,
        sink: &smtp_sink::SmtpSink,
    ) -> Self {
        Self::start_inner(db, broker, Some(sink.url())).await
    }

    async fn start_inner(db: &TestDb, broker: &TestBroker, smtp_url: Option<String>) -> Self {
        use workers::roles::Role;
        let settings = shared::config::Settings {
            database_url: db.url.clone(),
            amqp_url: broker.url.clone(),
            queue_prefix: broker.topology.prefix.clone(),
            delivery_limit: broker.topology.delivery_limit,
            retry_delays: broker.topology.retry_delays.clone(),
            relay_batch_size: 50,
            relay_poll_interval: Duration::from_millis(100),
            prefetch: 8,
            document_keys: Some(shared::documents::DocumentKeys::development()),
            spool_dir: "/nonexistent".into(),
            smtp_url: smtp_url
                .as_deref()
                .map(|url| shared::config::SmtpUrl::parse(url).expect("the sink's URL")),
            ..Default::default()
        };
        let shutdown = tokio_util::sync::CancellationToken::new();
        let tasks = tokio_util::task::TaskTracker::new();
        let mut roles = vec![Role::Relay, Role::Validate, Role::Decide];
        if smtp_url.is_some() {
            roles.push(Role::Notify);
        }
        for role in roles {
            let app = workers::app::App::with_pool(
                settings.clone(),
                workers::app::Mode::Worker(role),
                db.pool.clone(),
            )
            .await
            .unwrap_or_else(|e| panic!("the {role:?} worker: {e:#}"));
            tasks.spawn(app.run(shutdown.clone()));
        }
        tasks.close();
        Self { shutdown, tasks }
    }

    pub async fn stop(self) {
        self.shutdown.cancel();
        self.tasks.wait().await;
    }
}

/// Waits until request `id` is in `state`; panics with the state it is in otherwise.
pub async fn wait_for_state(pool: &PgPool, id: &str, state: &str) {
    let mut last = String::new();
    for _ in 0..150 {
        last = sqlx::query_scalar("SELECT state FROM refund_requests WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(pool)
            .await
            .unwrap();
        if last == state {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("request {id} stayed in {last}, expected {state}");
}

/// A sandbox gateway on 127.0.0.1:0 with these faults, until `shutdown`; returns its URL.
pub async fn sandbox_gateway(
    faults: shared::gateway::sandbox::server::Faults,
    shutdown: &tokio_util::sync::CancellationToken,
) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(shared::gateway::sandbox::server::serve(
        listener,
        shared::gateway::sandbox::server::SandboxConfig {
            ledger_path: None,
            faults,
        },
        shutdown.clone(),
    ));
    url
}
