//! Process configuration: defaults that point at local services, an optional TOML file, and
//! environment variables (`DATABASE_URL`, `AMQP_URL`, `REFUNDD_*`) on top, in that order.
//!
//! Every setting is parsed once here; a bad one is reported as one line naming the setting
//! and the problem, so `refundd` can stop with exit code 2 before doing anything.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A setting that could not be used. `Display` is the one line a person sees.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("setting {setting}: {problem}")]
pub struct ConfigError {
    pub setting: String,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

/// Everything a role needs to know about its surroundings.
#[derive(Clone, Debug)]
pub struct Settings {
    pub database_url: String,
    pub amqp_url: String,
    /// Prefix of every exchange and queue name, so several systems (or tests) share a broker.
    pub queue_prefix: String,
    pub api_bind: SocketAddr,
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
    /// Keys documents are encrypted with (`id:base64,...`, first is active); none: the
    /// development key.
    pub document_keys: Option<crate::documents::DocumentKeys>,
    /// Days after a request ends before its document bytes are purged.
    pub document_retention_days: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            database_url: "postgres://postgres@127.0.0.1:5432/refundd".into(),
            amqp_url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            queue_prefix: "refundd".into(),
            api_bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
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
            document_retention_days: 90,
        }
    }
}

/// The settings by their names in the TOML file; each maps to one environment variable.
const SETTINGS: &[(&str, &str)] = &[
    ("database_url", "DATABASE_URL"),
    ("amqp_url", "AMQP_URL"),
    ("queue_prefix", "REFUNDD_QUEUE_PREFIX"),
    ("api_bind", "REFUNDD_API_BIND"),
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
    ("document_retention_days", "REFUNDD_DOCUMENT_RETENTION_DAYS"),
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
                    if !(value.starts_with("amqp://") || value.starts_with("amqps://")) {
                        return Err(bad(format!(
                            "expected an amqp:// URL, got {:?}",
                            redact_url(&value)
                        )));
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
                    s.document_keys =
                        Some(crate::documents::DocumentKeys::parse(&value).map_err(|e| {
                            bad(e.to_string().replace("REFUNDD_DOCUMENT_KEYS: ", ""))
                        })?);
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
                _ => unreachable!("every name in SETTINGS is handled"),
            }
        }
        Ok(s)
    }

    /// The document keys, or the development key (with a warning in the log).
    pub fn document_keys_or_development(&self) -> crate::documents::DocumentKeys {
        self.document_keys.clone().unwrap_or_else(|| {
            tracing::warn!(
                "REFUNDD_DOCUMENT_KEYS is not set: documents are encrypted with the development key; set it in production"
            );
            crate::documents::DocumentKeys::development()
        })
    }

    /// The database URL with its password replaced, for log lines.
    pub fn database_url_redacted(&self) -> String {
        redact_url(&self.database_url)
    }

    /// The broker URL with its password replaced, for log lines.
    pub fn amqp_url_redacted(&self) -> String {
        redact_url(&self.amqp_url)
    }
}

fn existing_dir(value: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    if path.is_dir() {
        Ok(path)
    } else {
        Err(format!("{value:?} is not a directory"))
    }
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
    fn durations_round_trip() {
        for text in ["250ms", "5s", "1m", "10m", "1h"] {
            assert_eq!(format_duration(parse_duration(text).unwrap()), text);
        }
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("s").is_err());
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
