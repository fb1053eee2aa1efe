//! Process configuration: defaults that point at local services, an optional TOML file, and
//! environment variables (`DATABASE_URL`, `AMQP_URL`, `REFUNDD_*`) on top, in that order.
//!
//! Every setting is parsed once here; a bad one is reported as one line naming the setting
//! and the problem, so `refundd` can stop with exit code 2 before doing anything.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A setting that could not be used. `Display` is the one line a person sees.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("setting {setting}: {problem}")]
pub struct ConfigError {
    /// The environment variable, or the key and file, that holds the bad value.
    pub setting: String,
    /// What is wrong with it and what is expected (never the value of a secret).
    pub problem: String,
}

impl ConfigError {
    fn new(setting: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            problem: problem.into(),
        }
    }
}

/// How log lines are written (`REFUNDD_LOG_FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One readable line per event, for a terminal.
    Human,
    /// One JSON object per line, for a log collector.
    Json,
}

/// Everything a role needs to know about its surroundings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The Postgres URL (`DATABASE_URL`).
    pub database_url: String,
    /// The RabbitMQ URL (`AMQP_URL`); for a cluster, its nodes' URLs separated by commas.
    pub amqp_url: String,
    /// Prefix of every exchange and queue name, so several systems (or tests) share a broker.
    pub queue_prefix: String,
    /// The address the HTTP API listens on.
    pub api_bind: SocketAddr,
    /// How long a client may take to send a request's headers.
    pub api_header_timeout: Duration,
    /// How long a client may take to send a request's body, after its headers.
    pub api_body_timeout: Duration,
    /// How long one request may take from its headers to its answer.
    pub api_request_timeout: Duration,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// How many unacknowledged messages one consumer holds at once.
    pub prefetch: u16,
    /// How many times RabbitMQ delivers a message before it is parked (quorum `x-delivery-limit`).
    pub delivery_limit: u32,
    /// Delays of the retry tiers, shortest first; a transient failure waits in the next tier.
    pub retry_delays: Vec<Duration>,
    /// Outbox rows published per relay transaction.
    pub relay_batch_size: i64,
    /// How often the relay looks at the outbox when no notification woke it.
    pub relay_poll_interval: Duration,
    /// Directory of policy packs overriding the shipped ones.
    pub policy_dir: Option<PathBuf>,
    /// Directory of calendar data files overriding the shipped ones.
    pub calendar_dir: Option<PathBuf>,
    /// The merchants file (default: the five demo merchants shipped with the project).
    pub merchants_file: Option<PathBuf>,
    /// Keys documents are encrypted with (`id:base64,...`, first is active), from
    /// `REFUNDD_DOCUMENT_KEYS` or the file `REFUNDD_DOCUMENT_KEYS_FILE` names. The services
    /// refuse to start without them unless `dev_mode` (see [`Settings::service_document_keys`]).
    pub document_keys: Option<crate::documents::DocumentKeys>,
    /// `REFUNDD_DEV_MODE=1`: a development machine, where documents may be encrypted with the
    /// fixed development key. `scripts/run` and the tests set it; production never does.
    pub dev_mode: bool,
    /// Days after a request ends before its document bytes are purged.
    pub document_retention_days: u32,
    /// How often the sla role looks at every open request.
    pub sla_interval: Duration,
    /// A payout whose gateway answer is still unknown or pending, with no news for this long
    /// (after the retry tiers gave up), is asked about again by the sla role.
    pub payout_recheck_after: Duration,
    /// A request whose stage made no progress for this long (its message parked, dropped or
    /// lost) has the message queued again by the sla role; longer than the retry tiers.
    pub stall_after: Duration,
    /// How long a stopping worker waits for the messages in flight before it leaves them for
    /// redelivery (SIGTERM); under the 10 s a container runtime gives by default.
    pub shutdown_grace: Duration,
    /// Postgres connections per process, by process kind (`api`, `worker`, `intake-email`,
    /// `all`) or worker role (`payout`, ...; a role's size wins over `worker`).
    pub db_pool: BTreeMap<String, u32>,
    /// Where `refundd all` serves the built-in sandbox gateway (`off`: not at all).
    pub sandbox_gateway_listen: Option<SocketAddr>,
    /// The sandbox gateway's ledger file.
    pub sandbox_ledger: PathBuf,
    /// The SMTP server customer emails go through (`smtp://`, `smtp+starttls://`,
    /// `smtps://`); none: emails are written as `.eml` files into `spool_dir`. May hold a
    /// password: log it only through [`redact_url`].
    pub smtp_url: Option<String>,
    /// Where emails are written when no SMTP server is configured.
    pub spool_dir: PathBuf,
    /// The refunds mailbox the intake reads, used as Reply-To of every email (default: the
    /// merchant's `reply_to`).
    pub intake_address: Option<String>,
    /// The sending address of every email (default: the merchant's `reply_to`).
    pub mail_from: Option<String>,
    /// The merchant an email that names no registered payment is filed under (default: the
    /// first merchant in the merchants file).
    pub intake_merchant: Option<String>,
    /// Automatic answers to one sender per 24 hours; more emails are taken in unanswered.
    pub intake_replies_per_day: u32,
    /// Most attachments one email may carry; a message with more is refused whole.
    pub intake_max_attachments: usize,
    /// The refunds mailbox: `imaps://user:pass@host:993/INBOX`, or `imap://` on localhost.
    pub imap_url: Option<String>,
    /// Where a message goes once its transaction has committed.
    pub imap_processed_folder: String,
    /// Where a message that could not be read goes (its bytes are kept in the database too).
    pub imap_failed_folder: String,
    /// How often the mailbox is looked at when the server has no IDLE, and how long one IDLE
    /// lasts before it is renewed.
    pub imap_poll_interval: Duration,
    /// A PEM file of CA certificates trusted for the mailbox besides the public (webpki)
    /// roots: a company CA, or a test server's. Checked when the settings are loaded.
    pub imap_ca_file: Option<PathBuf>,
    /// Reverse proxies whose `X-Forwarded-For` the API believes (addresses or CIDR ranges);
    /// none: the peer's address is the client's, and the header is ignored.
    pub trusted_proxies: TrustedProxies,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "postgres://postgres@127.0.0.1:5432/refundd".into(),
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            queue_prefix: "refundd".into(),
            api_bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            api_header_timeout: Duration::from_secs(10),
            api_body_timeout: Duration::from_secs(30),
            api_request_timeout: Duration::from_secs(60),
            log_format: LogFormat::Human,
            prefetch: 16,
            delivery_limit: 5,
            retry_delays: vec![
                Duration::from_secs(5),
                Duration::from_secs(60),
                Duration::from_secs(600),
            ],
            relay_batch_size: 100,
            relay_poll_interval: Duration::from_millis(500),
            policy_dir: None,
            calendar_dir: None,
            merchants_file: None,
            document_keys: None,
            dev_mode: false,
            document_retention_days: 90,
            sla_interval: Duration::from_secs(60),
            payout_recheck_after: Duration::from_secs(30 * 60),
            stall_after: Duration::from_secs(15 * 60),
            shutdown_grace: Duration::from_secs(8),
            db_pool: BTreeMap::new(),
            sandbox_gateway_listen: Some(SocketAddr::from(([127, 0, 0, 1], 8090))),
            sandbox_ledger: PathBuf::from("var/sandbox-ledger.jsonl"),
            smtp_url: None,
            spool_dir: PathBuf::from("var/outbox-mail"),
            intake_address: None,
            mail_from: None,
            intake_merchant: None,
            intake_replies_per_day: 3,
            intake_max_attachments: 20,
            imap_url: None,
            imap_processed_folder: "Processed".into(),
            imap_failed_folder: "Failed".into(),
            imap_poll_interval: Duration::from_secs(60),
            imap_ca_file: None,
            trusted_proxies: TrustedProxies::default(),
        }
    }
}

/// The settings by their names in the TOML file; each maps to one environment variable.
const SETTINGS: &[(&str, &str)] = &[
    ("database_url", "DATABASE_URL"),
    ("amqp_url", "AMQP_URL"),
    ("queue_prefix", "REFUNDD_QUEUE_PREFIX"),
    ("api_bind", "REFUNDD_API_BIND"),
    ("api_header_timeout", "REFUNDD_API_HEADER_TIMEOUT"),
    ("api_body_timeout", "REFUNDD_API_BODY_TIMEOUT"),
    ("api_request_timeout", "REFUNDD_API_REQUEST_TIMEOUT"),
    ("log_format", "REFUNDD_LOG_FORMAT"),
    ("prefetch", "REFUNDD_PREFETCH"),
    ("delivery_limit", "REFUNDD_DELIVERY_LIMIT"),
    ("retry_delays", "REFUNDD_RETRY_DELAYS"),
    ("relay_batch_size", "REFUNDD_RELAY_BATCH_SIZE"),
    ("relay_poll_interval", "REFUNDD_RELAY_POLL_INTERVAL"),
    ("policy_dir", "REFUNDD_POLICY_DIR"),
    ("calendar_dir", "REFUNDD_CALENDAR_DIR"),
    ("merchants_file", "REFUNDD_MERCHANTS_FILE"),
    ("document_keys", "REFUNDD_DOCUMENT_KEYS"),
    ("document_keys_file", "REFUNDD_DOCUMENT_KEYS_FILE"),
    ("dev_mode", "REFUNDD_DEV_MODE"),
    ("document_retention_days", "REFUNDD_DOCUMENT_RETENTION_DAYS"),
    ("sla_interval", "REFUNDD_SLA_INTERVAL"),
    ("payout_recheck_after", "REFUNDD_PAYOUT_RECHECK_AFTER"),
    ("stall_after", "REFUNDD_STALL_AFTER"),
    ("shutdown_grace", "REFUNDD_SHUTDOWN_GRACE"),
    ("db_pool", "REFUNDD_DB_POOL"),
    ("sandbox_gateway", "REFUNDD_SANDBOX_GATEWAY"),
    ("sandbox_ledger", "REFUNDD_SANDBOX_LEDGER"),
    ("smtp_url", "REFUNDD_SMTP_URL"),
    ("spool_dir", "REFUNDD_SPOOL_DIR"),
    ("intake_address", "REFUNDD_INTAKE_ADDRESS"),
    ("mail_from", "REFUNDD_MAIL_FROM"),
    ("intake_merchant", "REFUNDD_INTAKE_MERCHANT"),
    ("intake_replies_per_day", "REFUNDD_INTAKE_REPLIES_PER_DAY"),
    ("intake_max_attachments", "REFUNDD_INTAKE_MAX_ATTACHMENTS"),
    ("imap_url", "REFUNDD_IMAP_URL"),
    ("imap_processed_folder", "REFUNDD_IMAP_PROCESSED_FOLDER"),
    ("imap_failed_folder", "REFUNDD_IMAP_FAILED_FOLDER"),
    ("imap_poll_interval", "REFUNDD_IMAP_POLL_INTERVAL"),
    ("imap_ca_file", "REFUNDD_IMAP_CA_FILE"),
    ("trusted_proxies", "REFUNDD_TRUSTED_PROXIES"),
];

impl Settings {
    /// Defaults, then the TOML file (if given), then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: BTreeMap<String, String> = std::env::vars().collect();
        Self::load_from(file, &env)
    }

    /// Like [`Settings::load`], with the environment passed in (tests use this).
    pub fn load_from(
        file: Option<&Path>,
        env: &BTreeMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut raw: BTreeMap<&'static str, (String, String)> = BTreeMap::new();
        if let Some(path) = file {
            let setting = format!("config file {}", path.display());
            let text = std::fs::read_to_string(path)
                .map_err(|e| ConfigError::new(&setting, format!("cannot be read: {e}")))?;
            let parsed: BTreeMap<String, toml::Value> = toml::from_str(&text)
                .map_err(|e| ConfigError::new(&setting, e.message().to_string()))?;
            for (key, value) in parsed {
                let Some((name, _)) = SETTINGS.iter().find(|(name, _)| *name == key) else {
                    let known: Vec<&str> = SETTINGS.iter().map(|(n, _)| *n).collect();
                    return Err(ConfigError::new(
                        format!("{key} (in {})", path.display()),
                        format!("unknown setting; known settings are {}", known.join(", ")),
                    ));
                };
                let text = match value {
                    toml::Value::String(s) => s,
                    toml::Value::Array(items) => items
                        .iter()
                        .map(|v| {
                            v.as_str()
                                .map(str::to_owned)
                                .unwrap_or_else(|| v.to_string())
                        })
                        .collect::<Vec<_>>()
                        .join(","),
                    other => other.to_string(),
                };
                raw.insert(name, (format!("{key} (in {})", path.display()), text));
            }
        }
        for (name, var) in SETTINGS {
            if let Some(value) = env.get(*var) {
                raw.insert(name, ((*var).to_string(), value.clone()));
            }
        }

        let mut s = Settings::default();
        for (name, (setting, value)) in raw {
            let bad = |problem: String| ConfigError::new(setting.clone(), problem);
            match name {
                "database_url" => {
                    if !(value.starts_with("postgres://") || value.starts_with("postgresql://")) {
                        return Err(bad(format!(
                            "expected a postgres:// URL, got {:?}",
                            redact_url(&value)
                        )));
                    }
                    s.database_url = value;
                }
                "amqp_url" => {
                    // One URL, or several (the nodes of a cluster) separated by commas.
                    for url in value.split(',').map(str::trim) {
                        if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
                            return Err(bad(format!(
                                "expected an amqp:// URL, or several separated by commas (the nodes of a cluster), got {:?}",
                                redact_url(url)
                            )));
                        }
                    }
                    s.amqp_url = value;
                }
                "queue_prefix" => {
                    let ok = !value.is_empty()
                        && value.len() <= 100
                        && value
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
                    if !ok {
                        return Err(bad(format!(
                            "expected 1-100 characters of letters, digits, '_', '-' or '.', got {value:?}"
                        )));
                    }
                    s.queue_prefix = value;
                }
                "api_bind" => {
                    s.api_bind = value.parse().map_err(|_| {
                        bad(format!(
                            "expected an address like 127.0.0.1:8080, got {value:?}"
                        ))
                    })?;
                }
                "api_header_timeout" | "api_body_timeout" | "api_request_timeout" => {
                    let d = parse_duration(&value).map_err(&bad)?;
                    if d < Duration::from_millis(100) || d > Duration::from_secs(3600) {
                        return Err(bad(format!("expected 100ms to 1h, got {value:?}")));
                    }
                    match name {
                        "api_header_timeout" => s.api_header_timeout = d,
                        "api_body_timeout" => s.api_body_timeout = d,
                        _ => s.api_request_timeout = d,
                    }
                }
                "log_format" => {
                    s.log_format = match value.as_str() {
                        "human" | "text" => LogFormat::Human,
                        "json" => LogFormat::Json,
                        _ => return Err(bad(format!("expected human or json, got {value:?}"))),
                    }
                }
                "prefetch" => {
                    s.prefetch = value
                        .parse::<u16>()
                        .ok()
                        .filter(|n| *n > 0)
                        .ok_or_else(|| bad(format!("expected a number 1-65535, got {value:?}")))?;
                }
                "delivery_limit" => {
                    s.delivery_limit = value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or_else(|| bad(format!("expected a number 1-1000, got {value:?}")))?;
                }
                "retry_delays" => {
                    let delays = value
                        .split(',')
                        .map(|d| parse_duration(d.trim()))
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(&bad)?;
                    if delays.is_empty() || delays.windows(2).any(|w| w[0] >= w[1]) {
                        return Err(bad("expected increasing delays like 5s,1m,10m".to_string()));
                    }
                    s.retry_delays = delays;
                }
                "relay_batch_size" => {
                    s.relay_batch_size = value
                        .parse::<i64>()
                        .ok()
                        .filter(|n| (1..=10_000).contains(n))
                        .ok_or_else(|| bad(format!("expected a number 1-10000, got {value:?}")))?;
                }
                "relay_poll_interval" => {
                    s.relay_poll_interval = parse_duration(&value).map_err(bad)?;
                }
                "policy_dir" => s.policy_dir = Some(existing_dir(&value).map_err(bad)?),
                "calendar_dir" => s.calendar_dir = Some(existing_dir(&value).map_err(bad)?),
                "merchants_file" => {
                    let path = PathBuf::from(&value);
                    if !path.is_file() {
                        return Err(bad(format!("{value:?} is not a file")));
                    }
                    s.merchants_file = Some(path);
                }
                "document_keys" => {
                    if s.document_keys.is_some() {
                        return Err(bad(
                            "set either the keys or a file holding them, not both".into()
                        ));
                    }
                    s.document_keys =
                        Some(crate::documents::DocumentKeys::parse(&value).map_err(|e| {
                            bad(e.to_string().replace("REFUNDD_DOCUMENT_KEYS: ", ""))
                        })?);
                }
                "document_keys_file" => {
                    if s.document_keys.is_some() {
                        return Err(bad(
                            "set either the keys or a file holding them, not both".into()
                        ));
                    }
                    let text = std::fs::read_to_string(&value)
                        .map_err(|e| bad(format!("{value:?} cannot be read: {e}")))?;
                    s.document_keys = Some(
                        crate::documents::DocumentKeys::parse(text.trim()).map_err(|e| {
                            bad(format!(
                                "{value:?}: {}",
                                e.to_string().replace("REFUNDD_DOCUMENT_KEYS: ", "")
                            ))
                        })?,
                    );
                }
                "dev_mode" => {
                    s.dev_mode = match value.trim() {
                        "1" | "true" | "yes" => true,
                        "" | "0" | "false" | "no" => false,
                        _ => return Err(bad(format!("expected 1 or 0, got {value:?}"))),
                    }
                }
                "document_retention_days" => {
                    s.document_retention_days = value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=3650).contains(n))
                        .ok_or_else(|| {
                            bad(format!("expected a number of days 1-3650, got {value:?}"))
                        })?;
                }
                "sla_interval" => s.sla_interval = parse_duration(&value).map_err(bad)?,
                "payout_recheck_after" => {
                    s.payout_recheck_after = parse_duration(&value).map_err(bad)?;
                }
                "stall_after" => s.stall_after = parse_duration(&value).map_err(bad)?,
                "shutdown_grace" => s.shutdown_grace = parse_duration(&value).map_err(bad)?,
                "db_pool" => s.db_pool = parse_pool_sizes(&value).map_err(bad)?,
                "sandbox_gateway" => {
                    s.sandbox_gateway_listen = if value == "off" {
                        None
                    } else {
                        Some(value.parse().map_err(|_| {
                            bad(format!(
                                "expected an address like 127.0.0.1:8090, or off; got {value:?}"
                            ))
                        })?)
                    }
                }
                "sandbox_ledger" => s.sandbox_ledger = PathBuf::from(value),
                "smtp_url" => {
                    let value = value.trim();
                    // The rest (host, credentials in clear) is checked when the notify role
                    // builds its mailer; neither check ever shows the URL's password.
                    let schemes = ["smtp://", "smtp+starttls://", "smtps://"];
                    if !value.is_empty() {
                        if !schemes.iter().any(|scheme| value.starts_with(scheme)) {
                            return Err(bad(format!(
                                "expected an smtp://, smtp+starttls:// or smtps:// URL, got {:?}",
                                redact_url(value)
                            )));
                        }
                        s.smtp_url = Some(value.to_string());
                    }
                }
                "spool_dir" => {
                    if value.trim().is_empty() {
                        return Err(bad("expected a folder path, got an empty value".into()));
                    }
                    s.spool_dir = PathBuf::from(value);
                }
                "intake_address" | "mail_from" => {
                    let value = value.trim().to_string();
                    if !crate::merchants::looks_like_email(&value) {
                        return Err(bad(format!("{value:?} is not an email address")));
                    }
                    if name == "intake_address" {
                        s.intake_address = Some(value);
                    } else {
                        s.mail_from = Some(value);
                    }
                }
                "intake_merchant" => {
                    if value.trim().is_empty() {
                        return Err(bad("expected a merchant id".to_string()));
                    }
                    s.intake_merchant = Some(value.trim().to_string());
                }
                "imap_url" => {
                    ImapUrl::parse(&value).map_err(bad)?;
                    s.imap_url = Some(value);
                }
                "imap_processed_folder" => s.imap_processed_folder = folder(&value).map_err(bad)?,
                "imap_failed_folder" => s.imap_failed_folder = folder(&value).map_err(bad)?,
                "imap_poll_interval" => {
                    s.imap_poll_interval = parse_duration(&value).map_err(bad)?;
                    if s.imap_poll_interval < Duration::from_secs(1) {
                        return Err(bad("expected at least 1s".to_string()));
                    }
                }
                "imap_ca_file" => {
                    if value.trim().is_empty() {
                        return Err(bad(
                            "expected the path of a PEM file of CA certificates, got an empty value"
                                .into(),
                        ));
                    }
                    let path = PathBuf::from(value.trim());
                    ca_certificates(&path).map_err(bad)?;
                    s.imap_ca_file = Some(path);
                }
                "intake_max_attachments" => {
                    s.intake_max_attachments = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or_else(|| bad(format!("expected a number 1-1000, got {value:?}")))?;
                }
                "intake_replies_per_day" => {
                    s.intake_replies_per_day = value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| *n <= 1000)
                        .ok_or_else(|| bad(format!("expected a number 0-1000, got {value:?}")))?;
                }
                "trusted_proxies" => {
                    s.trusted_proxies = TrustedProxies::parse(&value).map_err(bad)?;
                }
                _ => unreachable!("every name in SETTINGS is handled"),
            }
        }
        Ok(s)
    }

    /// The document keys a service (the API, a worker, `all`, the mailbox reader, `keys
    /// rotate`) encrypts with. Without configured keys it refuses, unless `REFUNDD_DEV_MODE=1`
    /// says this is a development machine: then the fixed development key, with a warning.
    /// A production system started without keys would store every identity document under a
    /// key anyone with the source can compute.
    pub fn service_document_keys(&self) -> Result<crate::documents::DocumentKeys, ConfigError> {
        self.require_document_keys()?;
        if let Some(keys) = &self.document_keys {
            return Ok(keys.clone());
        }
        tracing::warn!(
            "REFUNDD_DOCUMENT_KEYS is not set and REFUNDD_DEV_MODE=1: documents are encrypted with the development key; never do this in production"
        );
        Ok(crate::documents::DocumentKeys::development())
    }

    /// Fails (the line a person reads) when a service would have to start without document
    /// keys on a machine that is not a development one.
    pub fn require_document_keys(&self) -> Result<(), ConfigError> {
        if self.document_keys.is_some() || self.dev_mode {
            return Ok(());
        }
        Err(ConfigError::new(
            "REFUNDD_DOCUMENT_KEYS",
            "is not set: documents and emails would be encrypted with a key anyone can compute. \
             Make a key with `refundd keys generate` and set REFUNDD_DOCUMENT_KEYS (or \
             REFUNDD_DOCUMENT_KEYS_FILE, a file holding it); on a development machine \
             REFUNDD_DEV_MODE=1 allows the development key",
        ))
    }

    /// The database URL with its password replaced, for log lines.
    pub fn database_url_redacted(&self) -> String {
        redact_url(&self.database_url)
    }

    /// The broker URL with its password replaced, for log lines.
    pub fn amqp_url_redacted(&self) -> String {
        redact_url(&self.amqp_url)
    }

    /// The SMTP URL with its password replaced, for log lines.
    pub fn smtp_url_redacted(&self) -> Option<String> {
        self.smtp_url.as_deref().map(redact_url)
    }
}

/// The reverse proxies in front of the API (`REFUNDD_TRUSTED_PROXIES`): a comma list of IP
/// addresses and CIDR ranges. Only a peer in this list may say who the client is, with
/// `X-Forwarded-For`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    /// `10.0.0.0/8, 127.0.0.1, ::1`; blank: none.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut nets = Vec::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let net = item
                .parse::<ipnet::IpNet>()
                .or_else(|_| item.parse::<IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    format!(
                        "{item:?} is not an IP address or CIDR range (expected e.g. 10.0.0.0/8, 127.0.0.1 or ::1, separated by commas)"
                    )
                })?;
            nets.push(net.trunc());
        }
        Ok(Self(nets))
    }

    /// Whether `ip` (an IPv4-mapped IPv6 address counts as IPv4) is one of the proxies.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// No proxy is trusted: the peer's address is the client's.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The client's address: the peer's, unless the peer is a trusted proxy; then the
    /// right-most address of `X-Forwarded-For` (the values of every such header, in order)
    /// that is not a trusted proxy, since everything left of it was written by the client
    /// and may be made up. A chain of nothing but trusted proxies gives its left-most; an
    /// entry that is not an address stops the walk at the hop that wrote it.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                return client;
            };
            client = ip;
            if !self.contains(ip) {
                return ip;
            }
        }
        client
    }
}

/// An IPv4 address seen through an IPv6 socket (`::ffff:10.0.0.1`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[::1]:5678`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    hop.parse::<SocketAddr>().ok().map(|s| canonical(s.ip()))
}

fn folder(value: &str) -> Result<String, String> {
    let ok = !value.trim().is_empty()
        && value.len() <= 200
        && !value
            .chars()
            .any(|c| c.is_control() || c == '"' || c == '\\');
    if ok {
        Ok(value.trim().to_string())
    } else {
        Err(format!("{value:?} is not a mailbox folder name"))
    }
}

/// The refunds mailbox, from `REFUNDD_IMAP_URL`.
#[derive(Clone, PartialEq, Eq)]
pub struct ImapUrl {
    /// `imaps://`: TLS from the first byte.
    pub tls: bool,
    /// The server's name (checked against its certificate with TLS).
    pub host: String,
    /// The port (993 for `imaps://`, 143 for `imap://` when the URL gives none).
    pub port: u16,
    /// The mailbox login.
    pub user: String,
    /// The mailbox password (never shown: `Debug` hides it).
    pub password: String,
    /// The folder new mail arrives in (the URL's path; `INBOX` when none).
    pub folder: String,
}

impl std::fmt::Debug for ImapUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapUrl")
            .field("tls", &self.tls)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("folder", &self.folder)
            .finish_non_exhaustive()
    }
}

impl ImapUrl {
    /// `imaps://user:pass@host[:993]/Folder`, or `imap://` (no TLS) for a server on this machine.
    pub fn parse(text: &str) -> Result<ImapUrl, String> {
        let shown = redact_url(text);
        let url = url::Url::parse(text).map_err(|e| format!("{shown:?} is not a URL: {e}"))?;
        let tls = match url.scheme() {
            "imaps" => true,
            "imap" => false,
            other => return Err(format!("expected imaps:// or imap://, got {other}://")),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| format!("{shown:?} names no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let local = host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if !tls && !local {
            return Err(format!(
                "imap:// sends the password in clear text; use imaps:// for {host} (plain IMAP is only for a server on this machine)"
            ));
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(std::borrow::Cow::into_owned)
                .map_err(|_| format!("{shown:?}: the user or password is not UTF-8"))
        };
        let user = decode(url.username())?;
        let password = decode(url.password().unwrap_or(""))?;
        if user.is_empty() || password.is_empty() {
            return Err(format!("{shown:?} must carry user:password@"));
        }
        let path = decode(url.path().trim_start_matches('/'))?;
        let folder = if path.is_empty() {
            "INBOX".to_string()
        } else {
            folder(&path)?
        };
        Ok(ImapUrl {
            tls,
            port: url.port().unwrap_or(if tls { 993 } else { 143 }),
            host,
            user,
            password,
            folder,
        })
    }
}

/// The certificates of a PEM file of CA certificates (`REFUNDD_IMAP_CA_FILE`); an error (one
/// line, without the setting's name) when the file cannot be read or holds no certificate.
pub fn ca_certificates(
    path: &Path,
) -> Result<Vec<rustls_pki_types::CertificateDer<'static>>, String> {
    use rustls_pki_types::pem::PemObject;
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{shown} is not a readable PEM file: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "{shown} holds no certificate (expected PEM blocks -----BEGIN CERTIFICATE-----)"
        ));
    }
    Ok(certs)
}

fn existing_dir(value: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!("{value:?} is not a directory"))
    }
}

/// The names `REFUNDD_DB_POOL` takes: process kinds and worker roles.
pub const DB_POOL_NAMES: [&str; 11] = [
    "api",
    "worker",
    "intake-email",
    "all",
    "relay",
    "validate",
    "decide",
    "payout",
    "notify",
    "sla",
    "webhook",
];

/// `api=16,worker=8,payout=12`: connections by process kind or worker role, 1-1000 each.
pub fn parse_pool_sizes(text: &str) -> Result<BTreeMap<String, u32>, String> {
    let mut sizes = BTreeMap::new();
    for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((name, size)) = item.split_once('=') else {
            return Err(format!(
                "expected name=connections, like api=16,payout=12; got {item:?}"
            ));
        };
        let name = name.trim();
        if !DB_POOL_NAMES.contains(&name) {
            return Err(format!(
                "unknown process or role {name:?}; expected one of {}",
                DB_POOL_NAMES.join(", ")
            ));
        }
        let size = size
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| {
                format!(
                    "expected 1-1000 connections for {name}, got {:?}",
                    size.trim()
                )
            })?;
        sizes.insert(name.to_owned(), size);
    }
    Ok(sizes)
}

/// `250ms`, `5s`, `1m`, `10m`, `1h`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("expected a duration like 250ms, 5s, 1m or 1h, got {text:?}");
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().map_err(|_| bad())?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(bad()),
    };
    if d.is_zero() {
        return Err(bad());
    }
    Ok(d)
}

/// Shows a duration the way [`parse_duration`] reads it (used in queue names).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

/// Replaces the password of `scheme://user:password@host/...` with `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.find('@') else {
        return url.to_string();
    };
    let userinfo = &rest[..at];
    match userinfo.find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &userinfo[..colon],
            &rest[at..]
        ),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_point_at_local_services() {
        let s = Settings::load_from(None, &env(&[])).unwrap();
        assert!(s.database_url.contains("127.0.0.1:5432"));
        assert!(s.amqp_url.contains("127.0.0.1:5672"));
        assert_eq!(s.retry_delays.len(), 3);
    }

    #[test]
    fn environment_overrides_file() {
        let dir = std::env::temp_dir().join(format!("refundd-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("refundd.toml");
        std::fs::write(
            &file,
            "queue_prefix = \"fromfile\"\nprefetch = 3\nretry_delays = [\"1s\", \"2s\"]\n",
        )
        .unwrap();
        let s = Settings::load_from(Some(&file), &env(&[("REFUNDD_PREFETCH", "7")])).unwrap();
        assert_eq!(s.queue_prefix, "fromfile");
        assert_eq!(s.prefetch, 7);
        assert_eq!(
            s.retry_delays,
            vec![Duration::from_secs(1), Duration::from_secs(2)]
        );
    }

    #[test]
    fn bad_setting_names_the_setting_and_the_problem() {
        let err = Settings::load_from(None, &env(&[("REFUNDD_PREFETCH", "lots")])).unwrap_err();
        assert_eq!(err.setting, "REFUNDD_PREFETCH");
        assert!(err.to_string().contains("expected a number"), "{err}");

        let err = Settings::load_from(None, &env(&[("DATABASE_URL", "mysql://x:secret@h/db")]))
            .unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");

        let err =
            Settings::load_from(None, &env(&[("REFUNDD_RETRY_DELAYS", "1m,5s")])).unwrap_err();
        assert_eq!(err.setting, "REFUNDD_RETRY_DELAYS");
    }

    #[test]
    fn unknown_file_setting_is_refused() {
        let dir = std::env::temp_dir().join(format!("refundd-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("refundd.toml");
        std::fs::write(&file, "prefetchh = 3\n").unwrap();
        let err = Settings::load_from(Some(&file), &env(&[])).unwrap_err();
        assert!(err.setting.starts_with("prefetchh"), "{err}");
        assert!(err.problem.contains("unknown setting"), "{err}");
    }

    #[test]
    fn mail_settings_default_to_the_spool_and_are_checked() {
        let s = Settings::load_from(None, &env(&[])).unwrap();
        assert_eq!(s.smtp_url, None);
        assert_eq!(s.spool_dir, PathBuf::from("var/outbox-mail"));
        assert_eq!(s.intake_address, None);
        assert_eq!(s.mail_from, None);

        let s = Settings::load_from(
            None,
            &env(&[
                (
                    "REFUNDD_SMTP_URL",
                    "smtp+starttls://refunds:s3cret@smtp.example.com",
                ),
                ("REFUNDD_SPOOL_DIR", "/tmp/mail"),
                ("REFUNDD_INTAKE_ADDRESS", "refunds@shop.example"),
                ("REFUNDD_MAIL_FROM", "noreply@shop.example"),
            ]),
        )
        .unwrap();
        assert_eq!(
            s.smtp_url.as_deref(),
            Some("smtp+starttls://refunds:s3cret@smtp.example.com")
        );
        assert_eq!(
            s.smtp_url_redacted().as_deref(),
            Some("smtp+starttls://refunds:***@smtp.example.com")
        );
        assert_eq!(s.spool_dir, PathBuf::from("/tmp/mail"));
        assert_eq!(s.intake_address.as_deref(), Some("refunds@shop.example"));
        assert_eq!(s.mail_from.as_deref(), Some("noreply@shop.example"));

        let err = Settings::load_from(
            None,
            &env(&[("REFUNDD_SMTP_URL", "imap://user:s3cret@mail.example.com")]),
        )
        .unwrap_err();
        assert_eq!(err.setting, "REFUNDD_SMTP_URL");
        assert!(!err.to_string().contains("s3cret"), "{err}");
        // Blank: no server, the spool folder.
        let s = Settings::load_from(None, &env(&[("REFUNDD_SMTP_URL", " ")])).unwrap();
        assert_eq!(s.smtp_url, None);

        let err =
            Settings::load_from(None, &env(&[("REFUNDD_INTAKE_ADDRESS", "refunds")])).unwrap_err();
        assert_eq!(err.setting, "REFUNDD_INTAKE_ADDRESS");
    }

    #[test]
    fn pool_sizes_and_the_shutdown_grace_are_settings() {
        let s = Settings::load_from(None, &env(&[])).unwrap();
        assert!(s.db_pool.is_empty());
        assert_eq!(s.shutdown_grace, Duration::from_secs(8));
        let s = Settings::load_from(
            None,
            &env(&[
                ("REFUNDD_DB_POOL", "api=20, worker=6,payout=12"),
                ("REFUNDD_SHUTDOWN_GRACE", "3s"),
            ]),
        )
        .unwrap();
        assert_eq!(s.db_pool["api"], 20);
        assert_eq!(s.db_pool["payout"], 12);
        assert_eq!(s.shutdown_grace, Duration::from_secs(3));
        for (value, problem) in [
            ("api:20", "expected name=connections"),
            ("apy=20", "unknown process or role \"apy\""),
            ("payout=0", "expected 1-1000 connections for payout"),
        ] {
            let err = Settings::load_from(None, &env(&[("REFUNDD_DB_POOL", value)])).unwrap_err();
            assert_eq!(err.setting, "REFUNDD_DB_POOL");
            assert!(err.problem.contains(problem), "{value}: {err}");
        }
    }

    #[test]
    fn durations_round_trip() {
        for text in ["250ms", "5s", "1m", "10m", "1h"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn imap_urls_need_tls_away_from_this_machine() {
        let u = ImapUrl::parse("imaps://refunds%40shop.example:p%3Ass@mail.shop.example/Refunds")
            .unwrap();
        assert_eq!(
            (
                u.tls,
                u.host.as_str(),
                u.port,
                u.user.as_str(),
                u.password.as_str()
            ),
            (
                true,
                "mail.shop.example",
                993,
                "refunds@shop.example",
                "p:ss"
            )
        );
        assert_eq!(u.folder, "Refunds");
        let u = ImapUrl::parse("imap://u:p@127.0.0.1:10143").unwrap();
        assert_eq!((u.tls, u.port, u.folder.as_str()), (false, 10143, "INBOX"));
        let err = ImapUrl::parse("imap://u:secret@mail.shop.example/INBOX").unwrap_err();
        assert!(err.contains("imaps://"), "{err}");
        assert!(ImapUrl::parse("imaps://mail.shop.example/").is_err());
        let err = Settings::load_from(None, &env(&[("REFUNDD_IMAP_URL", "pop3://u:secret@h")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("REFUNDD_IMAP_URL") && !err.contains("secret"),
            "{err}"
        );
        assert!(!format!("{u:?}").contains("p@"), "the password never shows");
    }

    #[test]
    fn the_imap_ca_file_must_hold_certificates() {
        let s = Settings::load_from(None, &env(&[])).unwrap();
        assert_eq!(s.imap_ca_file, None);

        let dir = std::env::temp_dir().join(format!("refundd-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("ca.pem");
        std::fs::write(
            &good,
            "a comment\n-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let s = Settings::load_from(
            None,
            &env(&[("REFUNDD_IMAP_CA_FILE", good.to_str().unwrap())]),
        )
        .unwrap();
        assert_eq!(s.imap_ca_file.as_deref(), Some(good.as_path()));
        assert_eq!(ca_certificates(&good).unwrap().len(), 1);

        let file = dir.join("refundd.toml");
        std::fs::write(
            &file,
            format!("imap_ca_file = {:?}\n", good.to_str().unwrap()),
        )
        .unwrap();
        let s = Settings::load_from(Some(&file), &env(&[])).unwrap();
        assert_eq!(s.imap_ca_file.as_deref(), Some(good.as_path()));

        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        let key_only = dir.join("key.pem");
        std::fs::write(
            &key_only,
            "-----BEGIN PRIVATE KEY-----\nMIIBAA==\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        let missing = dir.join("missing.pem");
        for (path, problem) in [
            (&missing, "cannot read"),
            (&empty, "holds no certificate"),
            (&key_only, "holds no certificate"),
        ] {
            let err = Settings::load_from(
                None,
                &env(&[("REFUNDD_IMAP_CA_FILE", path.to_str().unwrap())]),
            )
            .unwrap_err();
            assert_eq!(err.setting, "REFUNDD_IMAP_CA_FILE");
            assert!(err.problem.contains(problem), "{err}");
            assert!(err.problem.contains(path.to_str().unwrap()), "{err}");
            assert!(!err.to_string().contains('\n'), "one line: {err}");
        }
        let err = Settings::load_from(None, &env(&[("REFUNDD_IMAP_CA_FILE", " ")])).unwrap_err();
        assert_eq!(err.setting, "REFUNDD_IMAP_CA_FILE");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn trusted_proxies_are_addresses_and_ranges() {
        let s = Settings::load_from(None, &env(&[])).unwrap();
        assert!(s.trusted_proxies.is_empty());
        let s = Settings::load_from(
            None,
            &env(&[("REFUNDD_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1,::1")]),
        )
        .unwrap();
        let ip = |t: &str| t.parse::<IpAddr>().unwrap();
        assert!(s.trusted_proxies.contains(ip("10.20.30.40")));
        assert!(s.trusted_proxies.contains(ip("127.0.0.1")));
        assert!(s.trusted_proxies.contains(ip("::ffff:127.0.0.1")));
        assert!(s.trusted_proxies.contains(ip("::1")));
        assert!(!s.trusted_proxies.contains(ip("127.0.0.2")));
        let err = Settings::load_from(
            None,
            &env(&[("REFUNDD_TRUSTED_PROXIES", "10.0.0.0/8,proxy.local")]),
        )
        .unwrap_err();
        assert_eq!(err.setting, "REFUNDD_TRUSTED_PROXIES");
        assert!(err.problem.contains("proxy.local"), "{err}");
        let dir = std::env::temp_dir().join(format!("refundd-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("refundd.toml");
        std::fs::write(&file, "trusted_proxies = [\"192.168.0.0/16\"]\n").unwrap();
        let s = Settings::load_from(Some(&file), &env(&[])).unwrap();
        assert!(s.trusted_proxies.contains(ip("192.168.1.1")));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_hop() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let ip = |t: &str| t.parse::<IpAddr>().unwrap();
        // An untrusted peer's header is the client's own word: ignored.
        assert_eq!(
            proxies.client_address(ip("203.0.113.9"), ["198.51.100.1"]),
            ip("203.0.113.9")
        );
        // Through two proxies: what the client wrote (left of its own address) is skipped.
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), ["1.1.1.1, 198.51.100.7", "10.0.0.2"]),
            ip("198.51.100.7")
        );
        assert_eq!(proxies.client_address(ip("10.0.0.1"), []), ip("10.0.0.1"));
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), ["garbage, 10.0.0.3"]),
            ip("10.0.0.3")
        );
        assert_eq!(
            proxies.client_address(ip("10.0.0.1"), ["198.51.100.7:4711"]),
            ip("198.51.100.7")
        );
        // Nothing trusted: the peer, whatever the header says.
        assert_eq!(
            TrustedProxies::default().client_address(ip("10.0.0.1"), ["198.51.100.7"]),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(
            redact_url("postgres://postgres@h/db"),
            "postgres://postgres@h/db"
        );
    }
}
