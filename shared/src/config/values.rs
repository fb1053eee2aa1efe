//! How each kind of setting is read: the serde `deserialize_with` functions [`Settings`]
//! names field by field, and the value types they produce.
//!
//! A value may come as TOML (a string, a number, a boolean, a list) or as an environment
//! variable (always text): every reader first takes it as [`Text`], then checks it and
//! answers with the one line a person reads, never echoing a password.
//!
//! [`Settings`]: super::Settings

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::LogFormat;
use super::mail::{ImapUrl, SmtpUrl, ca_certificates, folder};

/// A setting's value as text: a TOML string, number or boolean as written, a TOML list as
/// its items joined with commas (the way the environment variable writes it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl<'de> serde::Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("text, a number, a boolean or a list of them")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Text, E> {
                Ok(Text(v))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_char<E: de::Error>(self, v: char) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                let mut items = Vec::new();
                while let Some(Text(item)) = seq.next_element::<Text>()? {
                    items.push(item);
                }
                Ok(Text(items.join(",")))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                // A table of name = value: written as the environment writes it, name=value,...
                let mut items = Vec::new();
                while let Some((Text(k), Text(v))) = map.next_entry::<Text, Text>()? {
                    items.push(format!("{k}={v}"));
                }
                Ok(Text(items.join(",")))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

/// Reads the value as [`Text`] and hands it to `check`; a refusal is the setting's problem.
fn read<'de, D, T>(
    deserializer: D,
    check: impl FnOnce(&str) -> Result<T, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
{
    let Text(text) = serde::Deserialize::deserialize(deserializer)?;
    check(&text).map_err(de::Error::custom)
}

/// Reads an optional value: blank is "not set".
fn read_optional<'de, D, T>(
    deserializer: D,
    check: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
{
    read(deserializer, |text| {
        if text.trim().is_empty() {
            Ok(None)
        } else {
            check(text.trim()).map(Some)
        }
    })
}

/// A whole number in `range`, or `expected` as the problem.
fn number<T>(text: &str, range: std::ops::RangeInclusive<T>, expected: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd,
{
    text.trim()
        .parse::<T>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| format!("expected {expected}, got {text:?}"))
}

/// `DATABASE_URL`: a `postgres://` URL.
pub fn postgres_url<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    read(d, |value| {
        if value.starts_with("postgres://") || value.starts_with("postgresql://") {
            Ok(value.to_owned())
        } else {
            Err(format!(
                "expected a postgres:// URL, got {:?}",
                redact_url(value)
            ))
        }
    })
}

/// `AMQP_URL`: one `amqp://` URL, or several (the nodes of a cluster) separated by commas.
pub fn amqp_urls<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    read(d, |value| {
        for url in value.split(',').map(str::trim) {
            if !(url.starts_with("amqp://") || url.starts_with("amqps://")) {
                return Err(format!(
                    "expected an amqp:// URL, or several separated by commas (the nodes of a cluster), got {:?}",
                    redact_url(url)
                ));
            }
        }
        Ok(value.to_owned())
    })
}

/// The prefix of exchange and queue names: 1-100 letters, digits, `_`, `-` or `.`.
pub fn queue_prefix<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    read(d, |value| {
        let ok = !value.is_empty()
            && value.len() <= 100
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if ok {
            Ok(value.to_owned())
        } else {
            Err(format!(
                "expected 1-100 characters of letters, digits, '_', '-' or '.', got {value:?}"
            ))
        }
    })
}

/// An address to listen on, like `127.0.0.1:8080`.
pub fn listen_address<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    read(d, |value| {
        value
            .trim()
            .parse()
            .map_err(|_| format!("expected an address like 127.0.0.1:8080, got {value:?}"))
    })
}

/// The sandbox gateway's address, or `off`.
pub fn listen_address_or_off<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<SocketAddr>, D::Error> {
    read(d, |value| {
        if value.trim() == "off" {
            return Ok(None);
        }
        value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| format!("expected an address like 127.0.0.1:8090, or off; got {value:?}"))
    })
}

/// A duration ([`parse_duration`]).
pub fn duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    read(d, parse_duration)
}

/// One of the API's timeouts: 100 ms to 1 h.
pub fn api_timeout<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    read(d, |value| {
        let d = parse_duration(value)?;
        if d < Duration::from_millis(100) || d > Duration::from_secs(3600) {
            return Err(format!("expected 100ms to 1h, got {value:?}"));
        }
        Ok(d)
    })
}

/// How often the mailbox is looked at: at least a second.
pub fn mailbox_interval<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    read(d, |value| {
        let d = parse_duration(value)?;
        if d < Duration::from_secs(1) {
            return Err("expected at least 1s".to_string());
        }
        Ok(d)
    })
}

/// The retry tiers: increasing durations, like `5s,1m,10m` (or a TOML list).
pub fn increasing_durations<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    read(d, |value| {
        let delays = value
            .split(',')
            .map(|d| parse_duration(d.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        if delays.is_empty() || delays.windows(2).any(|w| w[0] >= w[1]) {
            return Err("expected increasing delays like 5s,1m,10m".to_string());
        }
        Ok(delays)
    })
}

/// `human` (or `text`) or `json`.
pub fn log_format<'de, D: Deserializer<'de>>(d: D) -> Result<LogFormat, D::Error> {
    read(d, |value| match value.trim() {
        "human" | "text" => Ok(LogFormat::Human),
        "json" => Ok(LogFormat::Json),
        _ => Err(format!("expected human or json, got {value:?}")),
    })
}

/// A yes/no switch: `1`, `true`, `yes` or `0`, `false`, `no` (blank: no).
pub fn switch<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    read(d, |value| match value.trim() {
        "1" | "true" | "yes" => Ok(true),
        "" | "0" | "false" | "no" => Ok(false),
        _ => Err(format!("expected 1 or 0, got {value:?}")),
    })
}

/// Messages one consumer holds at once: 1-65535.
pub fn prefetch<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    read(d, |v| number(v, 1..=u16::MAX, "a number 1-65535"))
}

/// Deliveries before a message is parked: 1-1000.
pub fn delivery_limit<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    read(d, |v| number(v, 1..=1000, "a number 1-1000"))
}

/// Outbox rows per relay transaction: 1-10000.
pub fn relay_batch_size<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    read(d, |v| number(v, 1..=10_000, "a number 1-10000"))
}

/// Days a document is kept after its request ended: 1-3650.
pub fn retention_days<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    read(d, |v| number(v, 1..=3650, "a number of days 1-3650"))
}

/// Automatic answers to one sender per day: 0-1000.
pub fn replies_per_day<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    read(d, |v| number(v, 0..=1000, "a number 0-1000"))
}

/// Attachments one email may carry: 1-1000.
pub fn max_attachments<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    read(d, |v| number(v, 1..=1000, "a number 1-1000"))
}

/// A path that exists and is a directory (`what` = "directory") or a file; blank: not set.
fn existing(value: &str, is: fn(&std::path::Path) -> bool, what: &str) -> Result<PathBuf, String> {
    let path = PathBuf::from(value);
    if is(&path) {
        Ok(path)
    } else {
        Err(format!("{value:?} is not a {what}"))
    }
}

/// A directory that exists.
pub fn existing_dir<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    read_optional(d, |value| {
        existing(value, std::path::Path::is_dir, "directory")
    })
}

/// A file that exists.
pub fn existing_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    read_optional(d, |value| existing(value, std::path::Path::is_file, "file"))
}

/// A path that is not blank (what it names need not exist yet); `what` says what it is for.
fn non_blank(value: &str, what: &str) -> Result<PathBuf, String> {
    if value.trim().is_empty() {
        Err(format!("expected {what}, got an empty value"))
    } else {
        Ok(PathBuf::from(value.trim()))
    }
}

/// A file path, not blank (the file need not exist yet).
pub fn path<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    read(d, |value| non_blank(value, "a path"))
}

/// A folder path, not blank.
pub fn folder_path<'de, D: Deserializer<'de>>(d: D) -> Result<PathBuf, D::Error> {
    read(d, |value| non_blank(value, "a folder path"))
}

/// The document keys, `id:base64,...` (the first is active); blank: none.
pub fn document_keys<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<crate::documents::DocumentKeys>, D::Error> {
    read_optional(d, |value| {
        crate::documents::DocumentKeys::parse(value)
            .map_err(|e| e.to_string().replace("REFUNDD_DOCUMENT_KEYS: ", ""))
    })
}

/// A file holding the document keys, read when the settings are loaded.
pub fn document_keys_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    read_optional(d, |value| Ok(PathBuf::from(value)))
}

/// An email address; blank: not set.
pub fn email_address<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    read_optional(d, |value| {
        if crate::merchants::looks_like_email(value) {
            Ok(value.to_owned())
        } else {
            Err(format!("{value:?} is not an email address"))
        }
    })
}

/// A merchant id, not blank.
pub fn merchant_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    read(d, |value| {
        if value.trim().is_empty() {
            Err("expected a merchant id".to_string())
        } else {
            Ok(Some(value.trim().to_owned()))
        }
    })
}

/// The SMTP server; blank: none (emails go to the spool folder).
pub fn smtp_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SmtpUrl>, D::Error> {
    read_optional(d, |value| {
        if !["smtp://", "smtp+starttls://", "smtps://"]
            .iter()
            .any(|scheme| value.starts_with(scheme))
        {
            return Err(format!(
                "expected an smtp://, smtp+starttls:// or smtps:// URL, got {:?}",
                redact_url(value)
            ));
        }
        SmtpUrl::parse(value).map_err(|e| e.to_string())
    })
}

/// The refunds mailbox.
pub fn imap_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<ImapUrl>, D::Error> {
    read(d, |value| ImapUrl::parse(value).map(Some))
}

/// A mailbox folder name.
pub fn mailbox_folder<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    read(d, folder)
}

/// A PEM file of CA certificates, checked to hold at least one.
pub fn ca_file<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
    read(d, |value| {
        if value.trim().is_empty() {
            return Err(
                "expected the path of a PEM file of CA certificates, got an empty value".into(),
            );
        }
        let path = PathBuf::from(value.trim());
        ca_certificates(&path)?;
        Ok(Some(path))
    })
}

/// Connections by process kind or role ([`parse_pool_sizes`]; in TOML also a table).
pub fn pool_sizes<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, u32>, D::Error> {
    read(d, parse_pool_sizes)
}

/// The trusted reverse proxies ([`TrustedProxies::parse`]; in TOML also a list).
pub fn trusted_proxies<'de, D: Deserializer<'de>>(d: D) -> Result<TrustedProxies, D::Error> {
    read(d, TrustedProxies::parse)
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
        let size = number(
            size.trim(),
            1..=1000,
            &format!("1-1000 connections for {name}"),
        )?;
        sizes.insert(name.to_owned(), size);
    }
    Ok(sizes)
}

/// A duration as humantime reads it: `250ms`, `5s`, `1m`, `10m`, `1h`, `1h 30m`; never zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("expected a duration like 250ms, 5s, 1m or 1h, got {text:?}");
    let d = humantime::parse_duration(text.trim()).map_err(|_| bad())?;
    if d.is_zero() {
        return Err(bad());
    }
    Ok(d)
}

/// Shows a duration in one unit, the largest that divides it (`90s`, `10m`, `250ms`): used
/// in queue names, so it never changes for a given duration; [`parse_duration`] reads it.
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
