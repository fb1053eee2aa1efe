//! Process configuration: [`Settings`], a serde struct loaded with figment from defaults that
//! point at local services, an optional TOML file, and environment variables (`DATABASE_URL`,
//! `AMQP_URL`, `REFUNDD_*`) on top, in that order.
//!
//! Every setting is parsed once, into the type the code uses (durations, addresses, the mail
//! servers' URLs, proxy ranges): [`values`] reads each kind, [`mail`] holds the mail servers'
//! URLs and the IMAP CA file. A bad setting is reported as one line naming the setting (the
//! environment variable, or the key and file) and the problem, so `refundd` can stop with exit
//! code 2 before doing anything; no line ever shows a password.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider, Source};

pub mod mail;
pub mod values;

pub use mail::{ImapUrl, SmtpSecurity, SmtpUrl, SmtpUrlError, ca_certificates};
pub use values::{
    DB_POOL_NAMES, TrustedProxies, format_duration, parse_duration, parse_pool_sizes, redact_url,
};

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
#[derive(Clone, Debug, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The Postgres URL (`DATABASE_URL`).
    #[serde(deserialize_with = "values::postgres_url")]
    pub database_url: String,
    /// The RabbitMQ URL (`AMQP_URL`); for a cluster, its nodes' URLs separated by commas.
    #[serde(deserialize_with = "values::amqp_urls")]
    pub amqp_url: String,
    /// Prefix of every exchange and queue name, so several systems (or tests) share a broker.
    #[serde(deserialize_with = "values::queue_prefix")]
    pub queue_prefix: String,
    /// The address the HTTP API listens on.
    #[serde(deserialize_with = "values::listen_address")]
    pub api_bind: SocketAddr,
    /// How long a client may take to send a request's headers.
    #[serde(deserialize_with = "values::api_timeout")]
    pub api_header_timeout: Duration,
    /// How long a client may take to send a request's body, after its headers.
    #[serde(deserialize_with = "values::api_timeout")]
    pub api_body_timeout: Duration,
    /// How long one request may take from its headers to its answer.
    #[serde(deserialize_with = "values::api_timeout")]
    pub api_request_timeout: Duration,
    /// How log lines are written.
    #[serde(deserialize_with = "values::log_format")]
    pub log_format: LogFormat,
    /// How many unacknowledged messages one consumer holds at once. 32 unless set: a
    /// consumer taking batches (validate and notify take 8) keeps four in flight; at 16 the
    /// notify stage fell behind at 200 refunds a second (docs/PERFORMANCE.md, 19).
    #[serde(deserialize_with = "values::prefetch")]
    pub prefetch: u16,
    /// How many times RabbitMQ delivers a message before it is parked (quorum `x-delivery-limit`).
    #[serde(deserialize_with = "values::delivery_limit")]
    pub delivery_limit: u32,
    /// Delays of the retry tiers, shortest first; a transient failure waits in the next tier.
    #[serde(deserialize_with = "values::increasing_durations")]
    pub retry_delays: Vec<Duration>,
    /// Outbox rows published per relay transaction.
    #[serde(deserialize_with = "values::relay_batch_size")]
    pub relay_batch_size: i64,
    /// How often the relay looks at the outbox when nothing in its own process woke it.
    #[serde(deserialize_with = "values::duration")]
    pub relay_poll_interval: Duration,
    /// After a batch that was not full, how long the relay lets rows gather before the next.
    #[serde(deserialize_with = "values::duration")]
    pub relay_gather: Duration,
    /// Directory of policy packs overriding the shipped ones.
    #[serde(deserialize_with = "values::existing_dir")]
    pub policy_dir: Option<PathBuf>,
    /// Directory of calendar data files overriding the shipped ones.
    #[serde(deserialize_with = "values::existing_dir")]
    pub calendar_dir: Option<PathBuf>,
    /// The merchants file (default: the five demo merchants shipped with the project).
    #[serde(deserialize_with = "values::existing_file")]
    pub merchants_file: Option<PathBuf>,
    /// Keys documents are encrypted with (`id:base64,...`, first is active), from
    /// `REFUNDD_DOCUMENT_KEYS` or the file `REFUNDD_DOCUMENT_KEYS_FILE` names. The services
    /// refuse to start without them unless `dev_mode` (see [`Settings::service_document_keys`]).
    #[serde(deserialize_with = "values::document_keys")]
    pub document_keys: Option<crate::documents::DocumentKeys>,
    /// The file the document keys were read from (`REFUNDD_DOCUMENT_KEYS_FILE`), if they
    /// were; set either this or the keys themselves.
    #[serde(deserialize_with = "values::document_keys_file")]
    pub document_keys_file: Option<PathBuf>,
    /// `REFUNDD_DEV_MODE=1`: a development machine, where documents may be encrypted with the
    /// fixed development key. `scripts/run` and the tests set it; production never does.
    #[serde(deserialize_with = "values::switch")]
    pub dev_mode: bool,
    /// Days after a request ends before its document bytes are purged.
    #[serde(deserialize_with = "values::retention_days")]
    pub document_retention_days: u32,
    /// How often the sla role looks at every open request.
    #[serde(deserialize_with = "values::duration")]
    pub sla_interval: Duration,
    /// A payout whose gateway answer is still unknown or pending, with no news for this long
    /// (after the retry tiers gave up), is asked about again by the sla role.
    #[serde(deserialize_with = "values::duration")]
    pub payout_recheck_after: Duration,
    /// A request whose stage made no progress for this long (its message parked, dropped or
    /// lost) has the message queued again by the sla role; longer than the retry tiers.
    #[serde(deserialize_with = "values::duration")]
    pub stall_after: Duration,
    /// How long a stopping worker waits for the messages in flight before it leaves them for
    /// redelivery (SIGTERM); under the 10 s a container runtime gives by default.
    #[serde(deserialize_with = "values::duration")]
    pub shutdown_grace: Duration,
    /// Postgres connections per process, by process kind (`api`, `worker`, `intake-email`,
    /// `all`) or worker role (`payout`, ...; a role's size wins over `worker`).
    #[serde(deserialize_with = "values::pool_sizes")]
    pub db_pool: BTreeMap<String, u32>,
    /// Where `refundd all` serves the built-in sandbox gateway (`off`: not at all).
    #[serde(
        rename = "sandbox_gateway",
        deserialize_with = "values::listen_address_or_off"
    )]
    pub sandbox_gateway_listen: Option<SocketAddr>,
    /// The sandbox gateway's ledger file.
    #[serde(deserialize_with = "values::path")]
    pub sandbox_ledger: PathBuf,
    /// The SMTP server customer emails go through (`smtp://`, `smtp+starttls://`,
    /// `smtps://`); none: emails are written as `.eml` files into `spool_dir`. Its password
    /// never shows (log [`SmtpUrl::redacted`] or its `Display`).
    #[serde(deserialize_with = "values::smtp_url")]
    pub smtp_url: Option<SmtpUrl>,
    /// Where emails are written when no SMTP server is configured.
    #[serde(deserialize_with = "values::folder_path")]
    pub spool_dir: PathBuf,
    /// The refunds mailbox the intake reads, used as Reply-To of every email (default: the
    /// merchant's `reply_to`).
    #[serde(deserialize_with = "values::email_address")]
    pub intake_address: Option<String>,
    /// The sending address of every email (default: the merchant's `reply_to`).
    #[serde(deserialize_with = "values::email_address")]
    pub mail_from: Option<String>,
    /// The merchant an email that names no registered payment is filed under (default: the
    /// first merchant in the merchants file).
    #[serde(deserialize_with = "values::merchant_id")]
    pub intake_merchant: Option<String>,
    /// Automatic answers to one sender per 24 hours; more emails are taken in unanswered.
    #[serde(deserialize_with = "values::replies_per_day")]
    pub intake_replies_per_day: u32,
    /// Most attachments one email may carry; a message with more is refused whole.
    #[serde(deserialize_with = "values::max_attachments")]
    pub intake_max_attachments: usize,
    /// The refunds mailbox: `imaps://user:pass@host:993/INBOX`, or `imap://` on localhost.
    #[serde(deserialize_with = "values::imap_url")]
    pub imap_url: Option<ImapUrl>,
    /// Where a message goes once its transaction has committed.
    #[serde(deserialize_with = "values::mailbox_folder")]
    pub imap_processed_folder: String,
    /// Where a message that could not be read goes (its bytes are kept in the database too).
    #[serde(deserialize_with = "values::mailbox_folder")]
    pub imap_failed_folder: String,
    /// How often the mailbox is looked at when the server has no IDLE, and how long one IDLE
    /// lasts before it is renewed.
    #[serde(deserialize_with = "values::mailbox_interval")]
    pub imap_poll_interval: Duration,
    /// A PEM file of CA certificates trusted for the mailbox besides the public (webpki)
    /// roots: a company CA, or a test server's. Checked when the settings are loaded.
    #[serde(deserialize_with = "values::ca_file")]
    pub imap_ca_file: Option<PathBuf>,
    /// Reverse proxies whose `X-Forwarded-For` the API believes (addresses or CIDR ranges);
    /// none: the peer's address is the client's, and the header is ignored.
    #[serde(deserialize_with = "values::trusted_proxies")]
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
            prefetch: 32,
            delivery_limit: 5,
            retry_delays: vec![
                Duration::from_secs(5),
                Duration::from_secs(60),
                Duration::from_secs(600),
            ],
            relay_batch_size: 100,
            relay_poll_interval: Duration::from_millis(100),
            relay_gather: Duration::from_millis(10),
            policy_dir: None,
            calendar_dir: None,
            merchants_file: None,
            document_keys: None,
            document_keys_file: None,
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

/// Every setting by its name in the TOML file; its environment variable is `REFUNDD_` and
/// the name in capitals, except [`ENVIRONMENT_AS_IS`]. A unit test checks the list against
/// [`Settings`]' fields.
pub const SETTING_NAMES: &[&str] = &[
    "database_url",
    "amqp_url",
    "queue_prefix",
    "api_bind",
    "api_header_timeout",
    "api_body_timeout",
    "api_request_timeout",
    "log_format",
    "prefetch",
    "delivery_limit",
    "retry_delays",
    "relay_batch_size",
    "relay_poll_interval",
    "relay_gather",
    "policy_dir",
    "calendar_dir",
    "merchants_file",
    "document_keys",
    "document_keys_file",
    "dev_mode",
    "document_retention_days",
    "sla_interval",
    "payout_recheck_after",
    "stall_after",
    "shutdown_grace",
    "db_pool",
    "sandbox_gateway",
    "sandbox_ledger",
    "smtp_url",
    "spool_dir",
    "intake_address",
    "mail_from",
    "intake_merchant",
    "intake_replies_per_day",
    "intake_max_attachments",
    "imap_url",
    "imap_processed_folder",
    "imap_failed_folder",
    "imap_poll_interval",
    "imap_ca_file",
    "trusted_proxies",
];

/// The settings whose environment variable is their name in capitals, without `REFUNDD_`:
/// the names every Postgres and RabbitMQ tool knows.
pub const ENVIRONMENT_AS_IS: &[&str] = &["database_url", "amqp_url"];

/// The environment variable that sets a setting.
pub fn environment_variable(setting: &str) -> String {
    if ENVIRONMENT_AS_IS.contains(&setting) {
        setting.to_ascii_uppercase()
    } else {
        format!("REFUNDD_{}", setting.to_ascii_uppercase())
    }
}

/// The TOML file, as a figment provider: its table, and the file's path for error lines.
struct TomlFile {
    path: PathBuf,
    table: toml::Table,
}

impl TomlFile {
    /// Reads and parses the file; a syntax error names the line, never the line's text (it
    /// may hold a password).
    fn read(path: &Path) -> Result<Self, ConfigError> {
        let setting = format!("config file {}", path.display());
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(&setting, format!("cannot be read: {e}")))?;
        let table: toml::Table = toml::from_str(&text).map_err(|e| {
            let line = e
                .span()
                .map(|span| text[..span.start].lines().count().max(1));
            let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
            ConfigError::new(&setting, format!("{}{at}", e.message()))
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            table,
        })
    }
}

impl Provider for TomlFile {
    fn metadata(&self) -> Metadata {
        Metadata::from("TOML file", Source::File(self.path.clone()))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        figment::providers::Serialized::defaults(&self.table).data()
    }
}

/// The environment variables that set a setting, as a figment provider. Values stay text
/// (figment's own `Env` would read `007` as the number 7); each setting's reader parses it.
struct Environment(Dict);

impl Environment {
    fn new(env: &BTreeMap<String, String>) -> Self {
        let dict = SETTING_NAMES
            .iter()
            .filter_map(|name| {
                let value = env.get(&environment_variable(name))?;
                Some(((*name).to_owned(), Value::from(value.clone())))
            })
            .collect();
        Self(dict)
    }
}

impl Provider for Environment {
    fn metadata(&self) -> Metadata {
        Metadata::named("environment variable")
            .interpolater(|_: &Profile, keys: &[&str]| environment_variable(&keys.join("_")))
    }

    fn data(&self) -> Result<Map<Profile, Dict>, figment::Error> {
        Ok(Map::from([(Profile::Default, self.0.clone())]))
    }
}

/// The one line a person reads for figment's error: the setting as they wrote it (the
/// environment variable, or the key and file) and the problem.
fn config_error(figment: &Figment, error: figment::Error) -> ConfigError {
    use figment::error::Kind;
    let key = match &error.kind {
        Kind::UnknownField(field, _) => field.clone(),
        _ => error.path.join("."),
    };
    let setting = setting_name(
        error
            .metadata
            .as_ref()
            .or_else(|| figment.find_metadata(&key)),
        &key,
    );
    let problem = match &error.kind {
        Kind::Message(message) => message.clone(),
        Kind::UnknownField(..) => format!(
            "unknown setting; known settings are {}",
            SETTING_NAMES.join(", ")
        ),
        // A value of the wrong shape (a table where text belongs): figment names the shape,
        // never the value.
        other => other.to_string(),
    };
    ConfigError::new(setting, problem)
}

/// `REFUNDD_PREFETCH`, or `prefetch (in /etc/refundd.toml)`, or the bare key.
fn setting_name(metadata: Option<&Metadata>, key: &str) -> String {
    match metadata {
        Some(m) if matches!(m.source, Some(Source::File(_))) => {
            let Some(Source::File(path)) = &m.source else {
                unreachable!()
            };
            format!("{key} (in {})", path.display())
        }
        Some(m) if m.name == "environment variable" => environment_variable(key),
        _ => key.to_owned(),
    }
}

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
        let mut figment = Figment::new();
        if let Some(path) = file {
            figment = figment.merge(TomlFile::read(path)?);
        }
        let figment = figment.merge(Environment::new(env));
        let mut settings: Settings = figment.extract().map_err(|e| config_error(&figment, e))?;
        if let Some(path) = &settings.document_keys_file {
            let bad = |problem: String| {
                ConfigError::new(
                    setting_name(
                        figment.find_metadata("document_keys_file"),
                        "document_keys_file",
                    ),
                    problem,
                )
            };
            if settings.document_keys.is_some() {
                return Err(bad(
                    "set either the keys or a file holding them, not both".into()
                ));
            }
            let shown = path.display();
            let text = std::fs::read_to_string(path)
                .map_err(|e| bad(format!("{shown:?} cannot be read: {e}")))?;
            let keys = crate::documents::DocumentKeys::parse(text.trim()).map_err(|e| {
                bad(format!(
                    "{shown:?}: {}",
                    e.to_string().replace("REFUNDD_DOCUMENT_KEYS: ", "")
                ))
            })?;
            settings.document_keys = Some(keys);
        }
        Ok(settings)
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
        self.smtp_url.as_ref().map(SmtpUrl::redacted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

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
        let smtp = s.smtp_url.as_ref().unwrap();
        assert_eq!(smtp.to_string(), "smtp+starttls://smtp.example.com:587");
        assert_eq!(
            smtp.credentials,
            Some(("refunds".to_string(), "s3cret".to_string()))
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
        // A password in clear text across a network is refused when the settings load.
        let err = Settings::load_from(
            None,
            &env(&[("REFUNDD_SMTP_URL", "smtp://user:s3cret@mail.example.com")]),
        )
        .unwrap_err();
        assert_eq!(err.setting, "REFUNDD_SMTP_URL");
        assert!(err.problem.contains("without encryption"), "{err}");
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
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(format_duration(Duration::from_secs(5400)), "90m");
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn the_imap_url_is_parsed_when_the_settings_load() {
        let s = Settings::load_from(
            None,
            &env(&[("REFUNDD_IMAP_URL", "imaps://u:p@mail.shop.example/Refunds")]),
        )
        .unwrap();
        let url = s.imap_url.unwrap();
        assert_eq!(
            (url.host.as_str(), url.port, url.folder.as_str()),
            ("mail.shop.example", 993, "Refunds")
        );
        let err = Settings::load_from(None, &env(&[("REFUNDD_IMAP_URL", "pop3://u:secret@h")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("REFUNDD_IMAP_URL") && !err.contains("secret"),
            "{err}"
        );
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

    #[test]
    fn every_setting_name_is_a_field_and_every_field_a_setting() {
        // A value for each name that its reader accepts: deny_unknown_fields refuses a name
        // that is no field, and each field's reader is exercised from the environment.
        let dir = std::env::temp_dir().join(format!("refundd-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let merchants = dir.join("merchants.toml");
        std::fs::write(&merchants, "").unwrap();
        let ca = dir.join("ca.pem");
        std::fs::write(
            &ca,
            "-----BEGIN CERTIFICATE-----\nMIIBAA==\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let keys = dir.join("keys");
        std::fs::write(
            &keys,
            crate::documents::DocumentKeys::generate("k1").unwrap(),
        )
        .unwrap();
        let dir_text = dir.to_str().unwrap().to_owned();
        let value = |name: &str| -> String {
            match name {
                "database_url" => "postgres://u@h/db".into(),
                "amqp_url" => "amqp://h".into(),
                "queue_prefix" | "intake_merchant" => "x".into(),
                "api_bind" | "sandbox_gateway" => "127.0.0.1:1".into(),
                "log_format" => "json".into(),
                "retry_delays" => "1s,2s".into(),
                "policy_dir" | "calendar_dir" | "spool_dir" | "sandbox_ledger" => dir_text.clone(),
                "merchants_file" => merchants.to_str().unwrap().into(),
                "document_keys" => String::new(),
                "document_keys_file" => keys.to_str().unwrap().into(),
                "dev_mode" => "1".into(),
                "db_pool" => "api=2".into(),
                "smtp_url" => "smtp://localhost".into(),
                "intake_address" | "mail_from" => "a@b.example".into(),
                "imap_url" => "imap://u:p@127.0.0.1".into(),
                "imap_processed_folder" | "imap_failed_folder" => "F".into(),
                "imap_ca_file" => ca.to_str().unwrap().into(),
                "trusted_proxies" => "127.0.0.1".into(),
                n if n.ends_with("_timeout")
                    || n.ends_with("_interval")
                    || n.ends_with("_after")
                    || n == "shutdown_grace"
                    || n == "relay_gather" =>
                {
                    "2s".into()
                }
                _ => "7".into(),
            }
        };
        let all: BTreeMap<String, String> = SETTING_NAMES
            .iter()
            .map(|n| (environment_variable(n), value(n)))
            .collect();
        let s = Settings::load_from(None, &all).unwrap();
        assert_eq!(s.prefetch, 7);
        assert_eq!(s.log_format, LogFormat::Json);
        assert!(s.document_keys.is_some(), "read from the keys file");
        assert_eq!(
            s.sandbox_gateway_listen,
            Some("127.0.0.1:1".parse().unwrap())
        );
        // The same from a TOML file, every name a key of it.
        let file = dir.join("refundd.toml");
        let text: String = SETTING_NAMES
            .iter()
            .map(|n| format!("{n} = {:?}\n", value(n)))
            .collect();
        std::fs::write(&file, text).unwrap();
        Settings::load_from(Some(&file), &env(&[])).unwrap();
        // Both the keys and their file: refused, named by the file's setting.
        let err = Settings::load_from(
            None,
            &env(&[
                (
                    "REFUNDD_DOCUMENT_KEYS",
                    &crate::documents::DocumentKeys::generate("k2").unwrap(),
                ),
                ("REFUNDD_DOCUMENT_KEYS_FILE", keys.to_str().unwrap()),
            ]),
        )
        .unwrap_err();
        assert_eq!(err.setting, "REFUNDD_DOCUMENT_KEYS_FILE");
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn toml_values_may_be_numbers_lists_and_tables_and_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("refundd-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("refundd.toml");
        std::fs::write(
            &file,
            "dev_mode = true\nprefetch = 9\ndb_pool = { api = 3, payout = 5 }\n",
        )
        .unwrap();
        let s = Settings::load_from(Some(&file), &env(&[])).unwrap();
        assert!(s.dev_mode);
        assert_eq!(s.prefetch, 9);
        assert_eq!((s.db_pool["api"], s.db_pool["payout"]), (3, 5));

        std::fs::write(&file, "prefetch = 0\n").unwrap();
        let err = Settings::load_from(Some(&file), &env(&[])).unwrap_err();
        assert_eq!(err.setting, format!("prefetch (in {})", file.display()));
        assert!(err.problem.contains("expected a number 1-65535"), "{err}");

        // A syntax error names the line, never its text (it may hold a password).
        std::fs::write(
            &file,
            "prefetch = 3\ndatabase_url = \"postgres://u:hunter2@h/db\n",
        )
        .unwrap();
        let err = Settings::load_from(Some(&file), &env(&[])).unwrap_err();
        assert!(err.setting.starts_with("config file"), "{err}");
        assert!(err.problem.contains("line 2"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");

        // The environment's text is never read as a number first: 007 is a queue prefix.
        let s = Settings::load_from(None, &env(&[("REFUNDD_QUEUE_PREFIX", "007")])).unwrap();
        assert_eq!(s.queue_prefix, "007");
        // An unknown REFUNDD_ variable is not a setting, and not an error (scripts set some).
        Settings::load_from(None, &env(&[("REFUNDD_SKIP_DOVECOT", "1")])).unwrap();
        std::fs::remove_dir_all(&dir).ok();
    }
}
