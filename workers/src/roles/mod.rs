//! Starting roles: one worker role per process (`refundd worker <role>`), the API, or all of
//! them in one process (`refundd all`). Every role stops on the shared shutdown token and
//! finishes its work in flight first.

pub mod assessment;
pub mod decide;
pub mod guess;
pub mod intake;
pub mod notify;
pub mod payout;
pub mod sla;
pub mod validate;
pub mod webhook;

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
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::api::{self, ApiContext};

/// A worker role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Check what the policy requires (facts, documents, window) and pass complete requests on.
    Validate,
    /// Apply the merchant's refund policy and record the decision.
    Decide,
    /// Refund the original card through the payment gateway, never twice.
    Payout,
    /// Email the customer about each step.
    Notify,
    /// Publish committed outbox rows to RabbitMQ.
    Relay,
    /// Watch due dates and escalate requests at risk of breaching their SLA.
    Sla,
    /// Deliver signed webhooks to merchants that configured one.
    Webhook,
}

impl Role {
    /// Every role: what `refundd all` runs in one process.
    pub const ALL: [Role; 7] = [
        Role::Relay,
        Role::Validate,
        Role::Decide,
        Role::Payout,
        Role::Notify,
        Role::Sla,
        Role::Webhook,
    ];
}

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
    ctx.intake = api::IntakeSettings::from_settings(settings);
    ctx.topology = Topology::from_settings(settings);
    ctx.limits = api::limits::ServerLimits::from_settings(settings);
    ctx.trusted_proxies = settings.trusted_proxies.clone();
    Ok(ctx)
}

async fn database(settings: &Settings, connections: u32) -> anyhow::Result<PgPool> {
    shared::db::connect(&settings.database_url, connections).await
}

/// Declares the broker topology once at start, so a misconfigured broker stops the process
/// with a clear message instead of a retry loop.
async fn declare_topology(settings: &Settings) -> anyhow::Result<Topology> {
    let topology = Topology::from_settings(settings);
    let conn = connect(&settings.amqp_url, "refundd setup")
        .await
        .with_context(|| {
            format!(
                "cannot connect to RabbitMQ at {}",
                settings.amqp_url_redacted()
            )
        })?;
    let channel = conn.create_channel().await?;
    topology
        .declare(&channel)
        .await
        .context("cannot declare the RabbitMQ exchanges and queues")?;
    let _ = conn.close(200, "topology declared").await;
    Ok(topology)
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

impl<H: Handler> Handler for DatabaseExplained<H> {
    async fn handle(
        &self,
        message: shared::messages::WorkMessage,
    ) -> Result<(), consumer::HandlerError> {
        match self.inner.handle(message).await {
            Err(consumer::HandlerError::Transient(e))
                if e.chain().any(|c| {
                    matches!(
                        c.downcast_ref::<sqlx::Error>(),
                        Some(sqlx::Error::PoolTimedOut)
                    )
                }) =>
            {
                let reason = shared::db::explain(&self.pool, &sqlx::Error::PoolTimedOut).await;
                Err(consumer::HandlerError::Transient(match reason {
                    Some(reason) => e.context(format!("the database: {reason}")),
                    None => e,
                }))
            }
            other => other,
        }
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
                validate::Validate::new(pool.clone(), packs, calendars),
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
            )
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
            let mailer = Mailer::from_url(settings.smtp_url.as_deref(), &settings.spool_dir)
                .map_err(|e| anyhow::anyhow!("setting REFUNDD_SMTP_URL: {e}"))?;
            // The mailer shows scheme, host and port, never credentials.
            tracing::info!(mailer = %mailer, "notify: where emails go");
            spawn_consumer(
                tracker,
                settings,
                topology,
                Stage::Notify,
                (
                    pool,
                    notify::Notify::new(
                        pool.clone(),
                        reference.merchants.clone(),
                        mailer,
                        notify::MailAddresses {
                            intake: settings.intake_address.clone(),
                            from: settings.mail_from.clone(),
                        },
                    ),
                ),
                shutdown,
            )
        }
    }
    Ok(())
}

pub async fn run_worker(
    role: Role,
    settings: Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let reference = load_reference_data(&settings)?;
    let pool = database(&settings, 8).await?;
    let topology = declare_topology(&settings).await?;
    let tracker = TaskTracker::new();
    spawn_role(
        role, &tracker, &settings, &topology, &pool, &reference, &shutdown,
    )?;
    tracker.close();
    tracker.wait().await;
    Ok(())
}

/// The email intake over the API's settings: the database, merchants and document keys.
pub fn intake_of(ctx: &ApiContext) -> intake::Intake {
    intake::Intake {
        pool: ctx.db.clone(),
        merchants: ctx.merchants.clone(),
        document_keys: ctx.document_keys.clone(),
        default_merchant: ctx.intake.default_merchant.clone(),
        replies_per_day: ctx.intake.replies_per_day,
        limits: ctx.intake.limits,
        packs: ctx.packs.clone(),
    }
}

fn imap_config(settings: &Settings) -> anyhow::Result<Option<intake::imap::ImapConfig>> {
    let Some(url) = &settings.imap_url else {
        return Ok(None);
    };
    let url = shared::config::ImapUrl::parse(url)
        .map_err(|e| anyhow::anyhow!("REFUNDD_IMAP_URL: {e}"))?;
    let config = intake::imap::ImapConfig {
        url,
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

/// Reads the refunds mailbox until shutdown.
pub async fn run_intake_email(
    settings: Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let config = imap_config(&settings)?.ok_or_else(|| {
        anyhow::anyhow!(
            "REFUNDD_IMAP_URL is not set: give the refunds mailbox as imaps://user:password@host/INBOX"
        )
    })?;
    let pool = database(&settings, 4).await?;
    let ctx = api_context(&settings, pool, &load_reference_data(&settings)?).await?;
    intake::imap::run(intake_of(&ctx), config, shutdown).await;
    Ok(())
}

pub async fn run_api(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let pool = database(&settings, 16).await?;
    let listener = tokio::net::TcpListener::bind(settings.api_bind)
        .await
        .with_context(|| format!("cannot listen on {} (REFUNDD_API_BIND)", settings.api_bind))?;
    let ctx = api_context(&settings, pool, &load_reference_data(&settings)?).await?;
    api::serve(listener, ctx, shutdown).await?;
    Ok(())
}

/// Every role in one process, on one pool: the single-machine default.
pub async fn run_all(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let reference = load_reference_data(&settings)?;
    shared::db::create_if_missing(&settings.database_url).await?;
    let pool = database(&settings, 24).await?;
    shared::db::migrate(&pool).await?;
    let topology = declare_topology(&settings).await?;
    let listener = tokio::net::TcpListener::bind(settings.api_bind)
        .await
        .with_context(|| format!("cannot listen on {} (REFUNDD_API_BIND)", settings.api_bind))?;
    let tracker = TaskTracker::new();
    if let Some(address) = settings.sandbox_gateway_listen {
        // The demo gateway, so `refundd all` refunds something out of the box.
        let listener = tokio::net::TcpListener::bind(address).await.with_context(|| {
            format!("cannot listen on {address} for the sandbox gateway (REFUNDD_SANDBOX_GATEWAY=off to skip it)")
        })?;
        if let Some(dir) = settings.sandbox_ledger.parent() {
            std::fs::create_dir_all(dir).ok();
        }
        let config = shared::gateway::sandbox::server::SandboxConfig {
            ledger_path: Some(settings.sandbox_ledger.clone()),
            faults: Default::default(),
        };
        let token = shutdown.clone();
        tracker.spawn(async move {
            if let Err(e) = shared::gateway::sandbox::server::serve(listener, config, token).await {
                tracing::error!(error = %e, "sandbox gateway stopped");
            }
        });
    }
    for role in Role::ALL {
        spawn_role(
            role, &tracker, &settings, &topology, &pool, &reference, &shutdown,
        )?;
    }
    let ctx = api_context(&settings, pool.clone(), &reference).await?;
    if let Some(config) = imap_config(&settings)? {
        tracker.spawn(intake::imap::run(intake_of(&ctx), config, shutdown.clone()));
    }
    let api_shutdown = shutdown.clone();
    tracker.spawn(async move {
        if let Err(e) = api::serve(listener, ctx, api_shutdown.clone()).await {
            tracing::error!(error = %e, "API stopped");
            api_shutdown.cancel();
        }
    });
    tracker.close();
    tracker.wait().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::ValueEnum;

    use super::Role;

    /// `refundd all` is the single-machine default: it must run every role there is (it once
    /// ran no notify and no webhook stage, so nobody got an email).
    #[test]
    fn all_runs_every_role() {
        let mut all: Vec<String> = Role::ALL.iter().map(|r| format!("{r:?}")).collect();
        let mut every: Vec<String> = Role::value_variants()
            .iter()
            .map(|r| format!("{r:?}"))
            .collect();
        all.sort();
        every.sort();
        assert_eq!(all, every);
    }
}
