//! The mail servers' settings as parsed values: the refunds mailbox the intake reads
//! ([`ImapUrl`], with the extra CA certificates it may trust, [`ca_certificates`]) and the
//! SMTP server customer emails go through ([`SmtpUrl`]).
//!
//! Both URLs may hold a password: neither `Debug` nor any error shows it, and a password is
//! refused over a connection without TLS unless the server is on this machine.

use std::net::IpAddr;
use std::path::Path;

use super::values::redact_url;

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
        if !tls && !is_loopback(&host) {
            return Err(format!(
                "imap:// sends the password in clear text; use imaps:// for {host} (plain IMAP is only for a server on this machine)"
            ));
        }
        let decode = |s: &str| {
            percent_decode(s).ok_or_else(|| format!("{shown:?}: the user or password is not UTF-8"))
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

/// A mailbox folder name: not blank, at most 200 characters, no control characters, quotes
/// or backslashes (they would need IMAP quoting the server may not read the same way).
pub(crate) fn folder(value: &str) -> Result<String, String> {
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

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// No encryption (`smtp://`).
    Plain,
    /// STARTTLS required (`smtp+starttls://`).
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Tls,
}

impl SmtpSecurity {
    /// The URL scheme that asks for this protection.
    pub fn scheme(self) -> &'static str {
        match self {
            SmtpSecurity::Plain => "smtp",
            SmtpSecurity::StartTls => "smtp+starttls",
            SmtpSecurity::Tls => "smtps",
        }
    }
}

/// Why an SMTP URL cannot be used. No variant holds the URL's password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpUrlError {
    /// The text does not parse as a URL.
    #[error("the SMTP URL is not a URL: {0}")]
    NotAUrl(String),
    /// The scheme is not `smtp`, `smtp+starttls` or `smtps`.
    #[error("unsupported SMTP URL scheme `{0}` (expected smtp://, smtp+starttls:// or smtps://)")]
    UnsupportedScheme(String),
    /// The URL names no host.
    #[error("the SMTP URL has no host")]
    MissingHost,
    /// A user and password over plain `smtp://` to a host that is not a loopback address.
    #[error(
        "the SMTP URL sends a user and password without encryption to `{0}`; use \
         smtp+starttls:// or smtps://, or plain smtp:// only to a loopback address"
    )]
    CredentialsInClear(String),
    /// The user or password is not valid UTF-8 after percent-decoding.
    #[error("the SMTP URL's user or password is not valid UTF-8 after percent-decoding")]
    BadCredentials,
}

/// The SMTP server customer emails go through (`REFUNDD_SMTP_URL`):
/// - `smtp://host:port`: plain SMTP, no encryption (a local relay or a mail catcher; default
///   port 25). Credentials are refused unless the host is a loopback address: a password
///   must never cross a network in clear text.
/// - `smtp+starttls://user:pass@host:587`: STARTTLS required (default port 587).
/// - `smtps://user:pass@host:465`: TLS from the first byte (default port 465).
///
/// User and password are percent-decoded; `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    /// How the connection is protected.
    pub security: SmtpSecurity,
    /// The server's host (an IPv6 address without brackets).
    pub host: String,
    /// The server's port.
    pub port: u16,
    /// The login and password, when the server wants them.
    pub credentials: Option<(String, String)>,
    /// The URL as written, kept for [`SmtpUrl::redacted`].
    text: String,
}

impl SmtpUrl {
    /// Reads a URL (see the type's documentation).
    pub fn parse(text: &str) -> Result<SmtpUrl, SmtpUrlError> {
        let text = text.trim();
        // Never echo the URL itself in an error: it may hold a password.
        let url = url::Url::parse(text).map_err(|e| SmtpUrlError::NotAUrl(e.to_string()))?;
        let (security, default_port) = match url.scheme() {
            "smtp" => (SmtpSecurity::Plain, 25),
            "smtp+starttls" => (SmtpSecurity::StartTls, 587),
            "smtps" => (SmtpSecurity::Tls, 465),
            other => return Err(SmtpUrlError::UnsupportedScheme(other.to_owned())),
        };
        let host = match url.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => return Err(SmtpUrlError::MissingHost),
        };
        if host.is_empty() {
            return Err(SmtpUrlError::MissingHost);
        }
        let credentials = if url.username().is_empty() && url.password().is_none() {
            None
        } else {
            let decode = |s: &str| percent_decode(s).ok_or(SmtpUrlError::BadCredentials);
            Some((
                decode(url.username())?,
                decode(url.password().unwrap_or_default())?,
            ))
        };
        if security == SmtpSecurity::Plain && credentials.is_some() && !is_loopback(&host) {
            return Err(SmtpUrlError::CredentialsInClear(host));
        }
        Ok(SmtpUrl {
            security,
            port: url.port().unwrap_or(default_port),
            host,
            credentials,
            text: text.to_owned(),
        })
    }

    /// The URL as written, its password replaced with `***`, for log lines.
    pub fn redacted(&self) -> String {
        redact_url(&self.text)
    }
}

impl std::fmt::Display for SmtpUrl {
    /// Where mail goes, without credentials: `smtp+starttls://smtp.example.com:587`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = self.security.scheme();
        let (host, port) = (&self.host, self.port);
        if host.contains(':') {
            write!(f, "{scheme}://[{host}]:{port}")
        } else {
            write!(f, "{scheme}://{host}:{port}")
        }
    }
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmtpUrl({self})")
    }
}

/// `%XX` escapes decoded, as URLs write reserved characters in user names and passwords.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

/// `localhost` or a loopback address: a server on this machine.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(!format!("{u:?}").contains("p@"), "the password never shows");
    }

    #[test]
    fn smtp_schemes_choose_security_and_default_ports() {
        for (text, shown) in [
            ("smtp://localhost", "smtp://localhost:25"),
            ("smtp://mailpit:1025", "smtp://mailpit:1025"),
            (
                "smtp+starttls://user:secret@smtp.example.com",
                "smtp+starttls://smtp.example.com:587",
            ),
            (
                "smtps://user:secret@smtp.example.com",
                "smtps://smtp.example.com:465",
            ),
            ("smtp://[::1]:2525", "smtp://[::1]:2525"),
        ] {
            let url = SmtpUrl::parse(text).unwrap();
            assert_eq!(url.to_string(), shown);
            assert_eq!(format!("{url:?}"), format!("SmtpUrl({shown})"));
        }
    }

    #[test]
    fn smtp_passwords_never_show_and_never_cross_a_network_in_clear() {
        let url =
            SmtpUrl::parse("smtps://refunds%40shop.example:p%40ss%2Fw0rd@smtp.example.com:465")
                .unwrap();
        assert_eq!(
            url.credentials,
            Some(("refunds@shop.example".into(), "p@ss/w0rd".into()))
        );
        let shown = format!("{url} {url:?} {}", url.redacted());
        assert!(
            !shown.contains("p%40ss") && !shown.contains("p@ss"),
            "{shown}"
        );
        let err = SmtpUrl::parse("smtp://user:hunter2@mail.example.com").unwrap_err();
        assert_eq!(
            err,
            SmtpUrlError::CredentialsInClear("mail.example.com".into())
        );
        assert!(!err.to_string().contains("hunter2"));
        let err = SmtpUrl::parse("smtp ://user:hunter2@mail").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        for loopback in [
            "smtp://user:pw@127.0.0.1:1025",
            "smtp://user:pw@localhost:1025",
            "smtp://user:pw@[::1]:1025",
        ] {
            assert!(SmtpUrl::parse(loopback).is_ok(), "{loopback}");
        }
        assert!(SmtpUrl::parse("smtp://user:pw@10.0.0.5:25").is_err());
    }

    #[test]
    fn bad_smtp_urls_are_named() {
        assert_eq!(
            SmtpUrl::parse("imap://mail.example.com").unwrap_err(),
            SmtpUrlError::UnsupportedScheme("imap".into())
        );
        assert!(matches!(
            SmtpUrl::parse("not a url").unwrap_err(),
            SmtpUrlError::NotAUrl(_)
        ));
        assert_eq!(
            SmtpUrl::parse("smtp://").unwrap_err(),
            SmtpUrlError::MissingHost
        );
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(
            percent_decode("p%40ss%2Fw0rd").as_deref(),
            Some("p@ss/w0rd")
        );
        assert_eq!(percent_decode("plain").as_deref(), Some("plain"));
        assert_eq!(percent_decode("%FF%FE"), None);
    }
}
