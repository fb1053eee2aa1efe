//! The one place a process is put together: settings → reference data (merchants, packs,
//! calendars) → database pool → broker topology → the API, the worker roles, the mailbox
//! reader. `refundd api | worker <role> | intake-email | all` each build an [`App`] and run
//! it; the tests build the same one on port 0.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use shared::broker::consumer::{self, ConsumerConfig, Handler};
use shared::broker::relay::{self, RelayConfig};
use shared::broker::{Topology, connect};
use shared::calendar::Calendars;
use shared::config::Settings;
use shared::merchants::Merchants;
use shared::messages::Stage;
use shared::notify::Mailer;
use shared::policy::PolicyPacks;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::{self, ApiContext};
use crate::intake::{self, IntakeSettings};
use crate::roles::{Role, decide, notify, payout, sla, validate, webhook};

/// Merchants, policy packs and calendars, loaded once per process and shared by every role.
#[derive(Clone)]
pub struct ReferenceData {
    pub merchants: Arc<Merchants>,
    pub packs: Arc<PolicyPacks>,
    pub calendars: Arc<Calendars>,
}

/// Merchants, policy packs and calendars: files loaded and checked at start. A bad file stops
/// the process with a message naming the file, line and field.
pub fn load_reference_data(settings: &Settings) -> anyhow::Result<ReferenceData> {
    let packs = match &settings.policy_dir {
        Some(dir) => PolicyPacks::load_dir(dir).map_err(|e| anyhow::anyhow!("policy pack {e}"))?,
        None => PolicyPacks::builtin().clone(),
    };
    let calendars = match &settings.calendar_dir {
        Some(dir) => Calendars::load_dir(dir).map_err(|e| anyhow::anyhow!("calendar {e}"))?,
        None => Calendars::builtin(),
    };
    let merchants = match &settings.merchants_file {
        Some(path) => Merchants::load(path).map_err(|e| anyhow::anyhow!("merchants file {e}"))?,
        None => Merchants::demo(),
    };
    for m in merchants.all() {
        for p in &m.policies {
            if packs.get(p).is_none() {
                anyhow::bail!(
                    "merchants file: merchant {}: policy {p:?} is not a known pack (known: {})",
                    m.id,
                    packs.ids().join(", ")
                );
            }
        }
    }
    Ok(ReferenceData {
        merchants: Arc::new(merchants),
        packs: Arc::new(packs),
        calendars: Arc::new(calendars),
    })
}

/// Where sandbox merchants without a `base_url` reach the sandbox gateway: where
/// `refundd all` serves it.
pub fn sandbox_url(settings: &Settings) -> Option<String> {
    settings
        .sandbox_gateway_listen
        .map(|a| format!("http://{a}"))
}

/// Each merchant's gateway, built from its configuration and secrets from the environment.
pub fn gateways(
    merchants: &Merchants,
    sandbox_url: Option<&str>,
) -> anyhow::Result<std::collections::HashMap<String, shared::gateway::ConfiguredGateway>> {
    let env = |name: &str| std::env::var(name).ok();
    merchants
        .all()
        .map(|m| {
            let mut config = m.gateway.clone();
            if config.kind == shared::merchants::GatewayKind::Sandbox && config.base_url.is_none() {
                config.base_url = sandbox_url.map(str::to_owned);
            }
            shared::gateway::build(&config, &env)
                .map(|g| (m.id.clone(), g))
                .map_err(|e| anyhow::anyhow!("merchant {}: gateway: {e}", m.id))
        })
        .collect()
}

/// The daily reconciliation's gateways: every merchant whose gateway can be built (one that
/// cannot is named in a warning and left out, so the sla role still runs).
fn reconcilers(settings: &Settings, reference: &ReferenceData) -> Vec<sla::Reconciler> {
    reference
        .merchants
        .all()
        .filter_map(|m| match reconciler_of(settings, reference, &m.id) {
            Ok((gateway, tz)) => Some(sla::Reconciler {
                merchant: m.id.clone(),
                gateway,
                tz,
                support_email: m.support_email.clone(),
                language: m.default_language.clone(),
            }),
            Err(e) => {
                tracing::warn!(error = %e, merchant = m.id, "no daily reconciliation for this merchant");
                None
            }
        })
        .collect()
}

/// What reconciling `merchant` needs: its gateway (secrets from the environment) and the
/// time zone its days are counted in (its first policy pack's).
pub fn reconciler_of(
    settings: &Settings,
    reference: &ReferenceData,
    merchant: &str,
) -> anyhow::Result<(shared::gateway::ConfiguredGateway, chrono_tz::Tz)> {
    let m = reference
        .merchants
        .get(merchant)
        .ok_or_else(|| anyhow::anyhow!("no merchant {merchant:?} in the merchants file"))?;
    let mut config = m.gateway.clone();
    if config.kind == shared::merchants::GatewayKind::Sandbox && config.base_url.is_none() {
        config.base_url = sandbox_url(settings);
    }
    let gateway = shared::gateway::build(&config, &|name: &str| std::env::var(name).ok())
        .map_err(|e| anyhow::anyhow!("merchant {merchant}: gateway: {e}"))?;
    let tz = m
        .policies
        .iter()
        .find_map(|p| reference.packs.get(p))
        .map(shared::policy::PolicyPack::timezone)
        .ok_or_else(|| anyhow::anyhow!("merchant {merchant} has no known policy pack"))?;
    Ok((gateway, tz))
}

async fn api_context(
    settings: &Settings,
    pool: PgPool,
    reference: &ReferenceData,
) -> anyhow::Result<ApiContext> {
    if let Some(m) = &settings.intake_merchant
        && reference.merchants.get(m).is_none()
    {
        anyhow::bail!("REFUNDD_INTAKE_MERCHANT: {m:?} is not a merchant in the merchants file");
    }
    let mut ctx = ApiContext::new(
        pool,
        settings.amqp_url.clone(),
        reference.merchants.clone(),
        reference.packs.clone(),
        reference.calendars.clone(),
        settings.service_document_keys()?,
    );
    ctx.set_intake_settings(IntakeSettings::from_settings(settings));
    ctx.topology = Topology::from_settings(settings);
    ctx.limits = api::limits::ServerLimits::from_settings(settings);
    ctx.trusted_proxies = settings.trusted_proxies.clone();
    ctx.notification_secrets =
        api::gateway_notifications::NotificationSecrets::from_env(&reference.merchants, &|name| {
            std::env::var(name).ok()
        });
    Ok(ctx)
}

/// Declares the broker topology once at start, so a misconfigured broker stops the process
/// with a clear message instead of a retry loop. A connection the broker closes meanwhile
/// (a node restarting, an operator closing connections) is not a misconfiguration: that is
/// tried again, [`SETUP_TRIES`] times in all (found by the chaos test: seed
/// 14921457500344895313, a notify process restarted while the connections were closed).
async fn declare_topology(settings: &Settings) -> anyhow::Result<Topology> {
    let topology = Topology::from_settings(settings);
    let mut backoff = shared::broker::Backoff::default();
    let mut tries = 1;
    loop {
        match declare_once(&topology, settings).await {
            Ok(()) => return Ok(topology),
            Err(e) if tries < SETUP_TRIES && connection_lost(&e) => {
                tracing::warn!(error = %format!("{e:#}"), tries, "the broker closed the setup connection; trying again");
                tokio::time::sleep(backoff.next_delay()).await;
                tries += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// How often the topology is declared before a lost connection stops the process.
const SETUP_TRIES: u32 = 5;

async fn declare_once(topology: &Topology, settings: &Settings) -> anyhow::Result<()> {
    let conn = connect(&settings.amqp_url, "refundd setup")
        .await
        .with_context(|| {
            format!(
                "cannot connect to RabbitMQ at {}",
                settings.amqp_url_redacted()
            )
        })?;
    let channel = conn
        .create_channel()
        .await
        .context("cannot open a channel to RabbitMQ")?;
    topology
        .declare(&channel)
        .await
        .context("cannot declare the RabbitMQ exchanges and queues")?;
    let _ = conn.close(200, "topology declared").await;
    Ok(())
}

/// Whether `e` is the connection going away (closed by the broker, the socket gone), not a
/// refusal: a wrong password or a queue declared differently stops the process at once.
fn connection_lost(e: &anyhow::Error) -> bool {
    use lapin::protocol::{AMQPErrorKind, AMQPHardError};
    e.chain()
        .any(|cause| match cause.downcast_ref::<lapin::Error>() {
            Some(
                lapin::Error::IOError(_)
                | lapin::Error::InvalidConnectionState(_)
                | lapin::Error::InvalidChannelState(_)
                | lapin::Error::MissingHeartbeatError,
            ) => true,
            Some(lapin::Error::ProtocolError(amqp)) => matches!(
                amqp.kind(),
                AMQPErrorKind::Hard(AMQPHardError::CONNECTIONFORCED)
            ),
            _ => false,
        })
}

fn spawn_consumer<H: Handler>(
    tracker: &TaskTracker,
    settings: &Settings,
    topology: &Topology,
    stage: Stage,
    (pool, handler): (&PgPool, H),
    shutdown: &CancellationToken,
) {
    let config = ConsumerConfig {
        amqp_url: settings.amqp_url.clone(),
        topology: topology.clone(),
        stage,
        prefetch: settings.prefetch,
        shutdown_grace: settings.shutdown_grace,
    };
    let handler = DatabaseExplained::new(pool.clone(), handler);
    tracker.spawn(consumer::run(config, Arc::new(handler), shutdown.clone()));
}

/// A role's handler whose "pool timed out" failures carry the database's own reason (say
/// "too many clients already", asked by one direct connection at most every 5 s), so the
/// retry's log line says what is wrong.
pub struct DatabaseExplained<H> {
    pool: PgPool,
    inner: H,
}

impl<H> DatabaseExplained<H> {
    pub fn new(pool: PgPool, inner: H) -> Self {
        Self { pool, inner }
    }
}

impl<H: Handler> DatabaseExplained<H> {
    async fn explain(
        &self,
        result: Result<(), consumer::HandlerError>,
    ) -> Result<(), consumer::HandlerError> {
        match result {
            Err(consumer::HandlerError::Unavailable(e))
                if e.chain().any(|c| {
                    matches!(
                        c.downcast_ref::<sqlx::Error>(),
                        Some(sqlx::Error::PoolTimedOut)
                    )
                }) =>
            {
                let reason = shared::db::explain(&self.pool, &sqlx::Error::PoolTimedOut).await;
                Err(consumer::HandlerError::Unavailable(match reason {
                    Some(reason) => e.context(format!("the database: {reason}")),
                    None => e,
                }))
            }
            other => other,
        }
    }
}

impl<H: Handler> Handler for DatabaseExplained<H> {
    async fn handle(
        &self,
        message: shared::messages::WorkMessage,
    ) -> Result<(), consumer::HandlerError> {
        self.explain(self.inner.handle(message).await).await
    }

    fn batch_size(&self) -> usize {
        self.inner.batch_size()
    }

    async fn handle_batch(
        &self,
        messages: Vec<shared::messages::WorkMessage>,
    ) -> Vec<Result<(), consumer::HandlerError>> {
        let mut explained = Vec::with_capacity(messages.len());
        for result in self.inner.handle_batch(messages).await {
            explained.push(self.explain(result).await);
        }
        explained
    }
}

fn spawn_role(
    role: Role,
    tracker: &TaskTracker,
    settings: &Settings,
    topology: &Topology,
    pool: &PgPool,
    reference: &ReferenceData,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let (packs, calendars) = (reference.packs.clone(), reference.calendars.clone());
    match role {
        Role::Relay => {
            let config = RelayConfig {
                amqp_url: settings.amqp_url.clone(),
                topology: topology.clone(),
                batch_size: settings.relay_batch_size,
                poll_interval: settings.relay_poll_interval,
                gather: settings.relay_gather,
            };
            tracker.spawn(relay::run(pool.clone(), config, shutdown.clone()));
        }
        Role::Validate => spawn_consumer(
            tracker,
            settings,
            topology,
            Stage::Validate,
            (
                pool,
                validate::Validate::new(
                    pool.clone(),
                    packs,
                    calendars,
                    settings.service_document_keys()?,
                ),
            ),
            shutdown,
        ),
        Role::Decide => spawn_consumer(
            tracker,
            settings,
            topology,
            Stage::Decide,
            (pool, decide::Decide::new(pool.clone(), packs, calendars)),
            shutdown,
        ),
        Role::Sla => {
            let monitor = sla::SlaMonitor {
                pool: pool.clone(),
                packs,
                calendars,
                interval: settings.sla_interval,
                retention_days: settings.document_retention_days,
                payout_recheck_after: settings.payout_recheck_after,
                stall_after: settings.stall_after,
                sweep_after_outage: settings
                    .retry_delays
                    .iter()
                    .max()
                    .copied()
                    .unwrap_or_default()
                    + settings.sla_interval,
                reconcile: reconcilers(settings, reference),
            };
            tracker.spawn(monitor.run(shutdown.clone()));
        }
        Role::Payout => {
            let gateways = gateways(&reference.merchants, sandbox_url(settings).as_deref())?;
            spawn_consumer(
                tracker,
                settings,
                topology,
                Stage::Payout,
                (pool, payout::Payout::new(pool.clone(), gateways)),
                shutdown,
            );
        }
        Role::Webhook => spawn_consumer(
            tracker,
            settings,
            topology,
            Stage::Webhook,
            (
                pool,
                webhook::Webhook::new(
                    pool.clone(),
                    reference.merchants.clone(),
                    Box::new(|name: &str| std::env::var(name).ok()),
                ),
            ),
            shutdown,
        ),
        Role::Notify => {
            let mailer = Mailer::new(settings.smtp_url.as_ref(), &settings.spool_dir)
                .map_err(|e| anyhow::anyhow!("setting REFUNDD_SMTP_URL: {e}"))?;
            // The mailer shows scheme, host and port, never credentials.
            tracing::info!(mailer = %mailer, "notify: where emails go");
            let notify = notify::Notify::new(
                pool.clone(),
                reference.merchants.clone(),
                mailer,
                notify::MailAddresses {
                    intake: settings.intake_address.clone(),
                    from: settings.mail_from.clone(),
                },
            )
            .retrying_after(settings.retry_delays.clone());
            // The customers' emails about moves, sent when due from their rows: as many
            // batches at once as the consumer keeps in flight, looking as often as the relay.
            notify.send_when_due(
                tracker,
                usize::from(settings.prefetch) / notify::BATCH,
                settings.relay_poll_interval,
                settings.shutdown_grace,
                shutdown,
            );
            spawn_consumer(
                tracker,
                settings,
                topology,
                Stage::Notify,
                (pool, notify),
                shutdown,
            );
        }
    }
    Ok(())
}

/// What a process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The HTTP API (`refundd api`).
    Api,
    /// One worker role (`refundd worker <role>`).
    Worker(Role),
    /// The mailbox reader (`refundd intake-email`).
    IntakeEmail,
    /// Everything in one process (`refundd all`): the single-machine default, which also
    /// creates and migrates the database and serves the sandbox gateway. The API and the
    /// mailbox reader have a pool of their own, so a backlog that keeps every worker busy
    /// never leaves a support agent or a customer's application waiting for a connection.
    All,
}

impl Mode {
    /// The API's own pool in `refundd all` (`REFUNDD_DB_POOL`'s `api`, else 8); `None` where
    /// the process has one pool.
    pub fn api_connections(self, settings: &Settings) -> Option<u32> {
        (self == Mode::All).then(|| settings.db_pool.get("api").copied().unwrap_or(8))
    }

    /// The `application_name` of `refundd all`'s API pool's connections.
    pub const ALL_API_APPLICATION_NAME: &str = "refundd all: api";

    /// The `application_name` of the process's (main) pool's connections, as
    /// `pg_stat_activity` shows them; `refundd all`'s API pool is
    /// [`Mode::ALL_API_APPLICATION_NAME`].
    pub fn application_name(self) -> String {
        match self {
            Mode::Api => "refundd api".into(),
            Mode::Worker(role) => format!("refundd worker {}", role.name()),
            Mode::IntakeEmail => "refundd intake-email".into(),
            Mode::All => "refundd all: workers".into(),
        }
    }

    /// Connections of the process's pool (in `refundd all`, the workers'): `REFUNDD_DB_POOL`'s
    /// size for the worker role, else for the process kind, else the default (api 16,
    /// worker 8, intake-email 4, all 24).
    pub fn connections(self, settings: &Settings) -> u32 {
        let (kind, default) = match self {
            Mode::Api => ("api", 16),
            Mode::Worker(_) => ("worker", 8),
            Mode::IntakeEmail => ("intake-email", 4),
            Mode::All => ("all", 24),
        };
        let role = match self {
            Mode::Worker(role) => Some(role.name()),
            _ => None,
        };
        role.and_then(|r| settings.db_pool.get(r))
            .or_else(|| settings.db_pool.get(kind))
            .copied()
            .unwrap_or(default)
    }
}

/// A process, put together and ready to run: its settings checked, reference data loaded,
/// database connected, broker topology declared and API port bound (port 0 picks one: see
/// [`App::address`]).
pub struct App {
    mode: Mode,
    settings: Settings,
    reference: ReferenceData,
    pool: PgPool,
    topology: Option<Topology>,
    listener: Option<TcpListener>,
    sandbox: Option<TcpListener>,
    ctx: Option<ApiContext>,
    imap: Option<intake::imap::ImapConfig>,
}

impl App {
    /// Builds the process `mode` describes from `settings`; a bad setting, a database that
    /// refuses us (wrong password, no such database), an unreachable broker, or a port in use
    /// stops it here with a message naming the cause. A database that is down or out of
    /// connections is waited for ([`shared::db::connect_waiting`]).
    pub async fn build(settings: Settings, mode: Mode) -> anyhow::Result<App> {
        if mode == Mode::IntakeEmail {
            mailbox(&settings)?;
        }
        if mode == Mode::All {
            shared::db::create_if_missing(&settings.database_url).await?;
        }
        let pool = shared::db::connect_waiting(
            &settings.database_url,
            mode.connections(&settings),
            &mode.application_name(),
        )
        .await?;
        let api_pool = match mode.api_connections(&settings) {
            Some(size) => {
                shared::db::connect_waiting(
                    &settings.database_url,
                    size,
                    Mode::ALL_API_APPLICATION_NAME,
                )
                .await?
            }
            None => pool.clone(),
        };
        Self::with_pools(settings, mode, pool, api_pool).await
    }

    /// [`App::build`] on a pool of the caller's (the tests keep theirs small), shared by the
    /// API and the workers.
    pub async fn with_pool(settings: Settings, mode: Mode, pool: PgPool) -> anyhow::Result<App> {
        Self::with_pools(settings, mode, pool.clone(), pool).await
    }

    /// [`App::build`] on the caller's pools: `pool` for the workers, `api_pool` for the API
    /// and the mailbox reader.
    async fn with_pools(
        settings: Settings,
        mode: Mode,
        pool: PgPool,
        api_pool: PgPool,
    ) -> anyhow::Result<App> {
        let reference = load_reference_data(&settings)?;
        if mode == Mode::All {
            shared::db::migrate(&pool).await?;
        }
        // A backend killed while a process starts makes it wait, not exit (found by the chaos
        // test: seed 7019303195105708450).
        shared::db::while_unavailable("merchant_webhooks", || {
            shared::merchants::record_webhooks(&pool, &reference.merchants)
        })
        .await
        .context(
            "writing which merchants take webhooks (merchant_webhooks); \
                 has `refundd migrate` run on this database?",
        )?;
        let topology = match mode {
            Mode::Worker(_) | Mode::All => Some(declare_topology(&settings).await?),
            Mode::Api | Mode::IntakeEmail => None,
        };
        let listener = match mode {
            Mode::Api | Mode::All => Some(
                TcpListener::bind(settings.api_bind)
                    .await
                    .with_context(|| {
                        format!("cannot listen on {} (REFUNDD_API_BIND)", settings.api_bind)
                    })?,
            ),
            _ => None,
        };
        let sandbox = match (mode, settings.sandbox_gateway_listen) {
            (Mode::All, Some(address)) => {
                Some(TcpListener::bind(address).await.with_context(|| {
                    format!(
                        "cannot listen on {address} for the sandbox gateway \
                         (REFUNDD_SANDBOX_GATEWAY=off to skip it)"
                    )
                })?)
            }
            _ => None,
        };
        let ctx = match mode {
            Mode::Api | Mode::All | Mode::IntakeEmail => {
                Some(api_context(&settings, api_pool.clone(), &reference).await?)
            }
            Mode::Worker(_) => None,
        };
        let imap = match mode {
            Mode::All => imap_config(&settings)?,
            Mode::IntakeEmail => Some(mailbox(&settings)?),
            _ => None,
        };
        if let Mode::Worker(role) = mode {
            // A worker that cannot build its parts (a gateway's secrets, the mailer) stops
            // now, not after it has taken messages.
            check_role(role, &settings, &reference)?;
        }
        Ok(App {
            mode,
            settings,
            reference,
            pool,
            topology,
            listener,
            sandbox,
            ctx,
            imap,
        })
    }

    /// The API's address, when this process serves it.
    pub fn address(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The API's context, to change before [`App::run`] (the tests' other brokers, limits).
    pub fn api_context_mut(&mut self) -> Option<&mut ApiContext> {
        self.ctx.as_mut()
    }

    /// The workers' pool (in `refundd all` built by [`App::build`], the API has its own).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs until `shutdown`, then lets every part finish its work in flight.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        let tracker = TaskTracker::new();
        if let Some(listener) = self.sandbox {
            // The demo gateway, so `refundd all` refunds something out of the box.
            if let Some(dir) = self.settings.sandbox_ledger.parent() {
                std::fs::create_dir_all(dir).ok();
            }
            let config = shared::gateway::sandbox::server::SandboxConfig {
                ledger_path: Some(self.settings.sandbox_ledger.clone()),
                faults: Default::default(),
            };
            let token = shutdown.clone();
            tracker.spawn(async move {
                if let Err(e) =
                    shared::gateway::sandbox::server::serve(listener, config, token).await
                {
                    tracing::error!(error = %e, "sandbox gateway stopped");
                }
            });
        }
        let roles: &[Role] = match self.mode {
            Mode::Worker(ref role) => std::slice::from_ref(role),
            Mode::All => &Role::ALL,
            Mode::Api | Mode::IntakeEmail => &[],
        };
        if let Some(topology) = &self.topology {
            for role in roles {
                spawn_role(
                    *role,
                    &tracker,
                    &self.settings,
                    topology,
                    &self.pool,
                    &self.reference,
                    &shutdown,
                )?;
            }
        }
        if let (Some(config), Some(ctx)) = (self.imap, &self.ctx) {
            tracker.spawn(intake::imap::run(
                ctx.intake.clone(),
                config,
                shutdown.clone(),
            ));
        }
        if let (Some(listener), Some(ctx)) = (self.listener, self.ctx) {
            let api_shutdown = shutdown.clone();
            tracker.spawn(async move {
                if let Err(e) = api::serve(listener, ctx, api_shutdown.clone()).await {
                    tracing::error!(error = %e, "API stopped");
                    api_shutdown.cancel();
                }
            });
        }
        tracker.close();
        tracker.wait().await;
        Ok(())
    }
}

/// What a worker role needs besides the pool and broker, built once to fail early.
fn check_role(role: Role, settings: &Settings, reference: &ReferenceData) -> anyhow::Result<()> {
    match role {
        Role::Payout => gateways(&reference.merchants, sandbox_url(settings).as_deref()).map(drop),
        Role::Notify => Mailer::new(settings.smtp_url.as_ref(), &settings.spool_dir)
            .map(drop)
            .map_err(|e| anyhow::anyhow!("setting REFUNDD_SMTP_URL: {e}")),
        _ => Ok(()),
    }
}

/// The mailbox `refundd intake-email` reads: it must be configured.
fn mailbox(settings: &Settings) -> anyhow::Result<intake::imap::ImapConfig> {
    imap_config(settings)?.ok_or_else(|| {
        anyhow::anyhow!(
            "REFUNDD_IMAP_URL is not set: give the refunds mailbox as \
             imaps://user:password@host/INBOX"
        )
    })
}

fn imap_config(settings: &Settings) -> anyhow::Result<Option<intake::imap::ImapConfig>> {
    let Some(url) = &settings.imap_url else {
        return Ok(None);
    };
    let config = intake::imap::ImapConfig {
        url: url.clone(),
        processed_folder: settings.imap_processed_folder.clone(),
        failed_folder: settings.imap_failed_folder.clone(),
        poll_interval: settings.imap_poll_interval,
        ca_file: settings.imap_ca_file.clone(),
    };
    if config.url.tls {
        intake::imap::tls_config(&config)?;
    }
    Ok(Some(config))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use shared::config::Settings;

    use super::Mode;

    /// Every `.rs` file under `dir` whose text names `needle`.
    fn naming(dir: &Path, needle: &str) -> Vec<String> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(naming(&path, needle));
            } else if path.extension().is_some_and(|e| e == "rs")
                && std::fs::read_to_string(&path).unwrap().contains(needle)
            {
                found.push(path.display().to_string());
            }
        }
        found
    }

    /// The API and the worker roles are put together here only: neither imports the other
    /// (both use `crate::intake` and `shared`).
    #[test]
    fn a_pool_size_is_the_roles_else_the_process_kinds_else_the_default() {
        let mut settings = Settings::default();
        assert_eq!(Mode::Api.connections(&settings), 16);
        assert_eq!(
            Mode::Worker(crate::roles::Role::Payout).connections(&settings),
            8
        );
        settings.db_pool = shared::config::parse_pool_sizes("worker=6,payout=12,all=30").unwrap();
        assert_eq!(
            Mode::Worker(crate::roles::Role::Payout).connections(&settings),
            12
        );
        assert_eq!(
            Mode::Worker(crate::roles::Role::Notify).connections(&settings),
            6
        );
        assert_eq!(Mode::All.connections(&settings), 30);
        // `refundd all`'s API has a pool of its own, `api`'s size, else 8; other kinds one.
        assert_eq!(Mode::All.api_connections(&settings), Some(8));
        assert_eq!(Mode::Api.api_connections(&settings), None);
        settings.db_pool = shared::config::parse_pool_sizes("api=5").unwrap();
        assert_eq!(Mode::All.api_connections(&settings), Some(5));
        assert_eq!(Mode::All.connections(&settings), 24);
        assert_eq!(Mode::IntakeEmail.connections(&settings), 4);
        // Every role's name is one REFUNDD_DB_POOL takes, as `refundd worker` spells it.
        for role in crate::roles::Role::ALL {
            assert!(
                shared::config::DB_POOL_NAMES.contains(&role.name()),
                "{role:?}"
            );
            use clap::ValueEnum;
            assert_eq!(role.to_possible_value().unwrap().get_name(), role.name());
        }
    }

    #[test]
    fn the_api_and_the_roles_never_import_each_other() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        assert_eq!(
            naming(&src.join("api"), "crate::roles"),
            Vec::<String>::new()
        );
        assert_eq!(
            naming(&src.join("roles"), "crate::api"),
            Vec::<String>::new()
        );
        assert_eq!(
            naming(&src.join("intake"), "crate::api"),
            Vec::<String>::new()
        );
        assert_eq!(
            naming(&src.join("intake"), "crate::roles"),
            Vec::<String>::new()
        );
    }

    /// Every `.rs` file under `dir` (recursively) with its text.
    fn sources(dir: &Path) -> Vec<(String, String)> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                found.extend(sources(&path));
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push((
                    path.display().to_string(),
                    std::fs::read_to_string(&path).unwrap(),
                ));
            }
        }
        found
    }

    /// One owner per table: only the table's module writes it (the rest of the code calls
    /// that module's functions).
    #[test]
    fn every_table_is_written_by_its_owner_only() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = sources(&root.join("workers/src"));
        files.extend(sources(&root.join("shared/src")));
        let owners = [
            ("refund_requests", "shared/src/requests.rs"),
            ("payments", "shared/src/payments.rs"),
            ("payout_attempts", "shared/src/payouts.rs"),
            ("notifications", "shared/src/notifications.rs"),
            ("inbound_emails", "shared/src/inbound_emails.rs"),
            ("sender_confirmations", "shared/src/inbound_emails.rs"),
            ("documents", "shared/src/documents.rs"),
            ("outbox", "shared/src/outbox.rs"),
            ("request_events", "shared/src/transition.rs"),
            ("processed_messages", "shared/src/transition.rs"),
            ("api_keys", "shared/src/api_keys.rs"),
            ("merchant_webhooks", "shared/src/merchants.rs"),
        ];
        for (table, owner) in owners {
            let writes = regex::Regex::new(&format!(
                r"(?i)\b(UPDATE|INSERT\s+INTO|DELETE\s+FROM)\s+{table}\b"
            ))
            .unwrap();
            let writers: Vec<&str> = files
                .iter()
                .filter(|(_, text)| writes.is_match(text))
                .map(|(path, _)| path.as_str())
                .collect();
            assert!(
                !writers.is_empty() && writers.iter().all(|w| w.ends_with(owner)),
                "{table} is written by {writers:?}; only {owner} may"
            );
        }
    }

    /// A connection the broker closes while the topology is declared is tried again; a
    /// refusal is not.
    #[test]
    fn only_a_lost_connection_is_tried_again_at_setup() {
        use lapin::protocol::{AMQPError, AMQPErrorKind, AMQPHardError, AMQPSoftError};
        let amqp = |kind| {
            anyhow::Error::new(lapin::Error::ProtocolError(AMQPError::new(
                kind,
                "x".into(),
            )))
            .context("cannot declare the RabbitMQ exchanges and queues")
        };
        assert!(super::connection_lost(&amqp(AMQPErrorKind::Hard(
            AMQPHardError::CONNECTIONFORCED
        ))));
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(super::connection_lost(
            &anyhow::Error::new(lapin::Error::IOError(std::sync::Arc::new(io)))
                .context("cannot connect")
        ));
        assert!(!super::connection_lost(&amqp(AMQPErrorKind::Soft(
            AMQPSoftError::PRECONDITIONFAILED
        ))));
        assert!(!super::connection_lost(&amqp(AMQPErrorKind::Soft(
            AMQPSoftError::ACCESSREFUSED
        ))));
        assert!(!super::connection_lost(&anyhow::anyhow!("no broker")));
    }
}
