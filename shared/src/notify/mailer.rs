//! Where emails go ([`Mailer`]): an SMTP server through lettre's pooled async transport, or,
//! when no server is configured, `.eml` files in a spool folder that a person can open.
//!
//! The SMTP server is given as a URL:
//! - `smtp://host:port` — plain SMTP, no encryption (a local relay or a mail catcher; default
//!   port 25). Credentials are refused here unless the host is a loopback address: a password
//!   must never cross a network in clear text.
//! - `smtp+starttls://user:pass@host:587` — STARTTLS required (default port 587).
//! - `smtps://user:pass@host:465` — TLS from the first byte (default port 465).
//!
//! User and password are percent-decoded. Neither the password nor the user ever appears in
//! logs or in `Display`/`Debug` output.
//!
//! Failures are split the way a retry policy needs them: an SMTP 5xx answer or an email that
//! cannot be built is [`SendError::Permanent`]; a 4xx answer, a refused or dropped
//! connection, a timeout, a TLS failure or a full disk is [`SendError::Transient`].

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use url::Url;

use super::outgoing::OutgoingEmail;

/// Why an email was not sent, and whether trying again later can help.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Try again later: the server answered 4xx, or could not be reached, or the spool
    /// folder could not be written.
    #[error("temporary failure sending email: {0}")]
    Transient(String),
    /// Do not retry: the server refused the email (5xx) or the email itself is invalid.
    #[error("permanent failure sending email: {0}")]
    Permanent(String),
}

/// Why an SMTP URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailerConfigError {
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
    /// The TLS parameters for the host could not be built.
    #[error("TLS setup for `{host}` failed: {reason}")]
    Tls {
        /// The SMTP server's host.
        host: String,
        /// Why the TLS setup failed.
        reason: String,
    },
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

/// Sends customer emails.
#[derive(Clone)]
pub enum Mailer {
    /// An SMTP server, through a connection pool.
    Smtp {
        /// lettre's pooled async SMTP transport.
        transport: AsyncSmtpTransport<Tokio1Executor>,
        /// The server's host.
        host: String,
        /// The server's port.
        port: u16,
        /// How the connection is protected.
        security: SmtpSecurity,
    },
    /// No server: each email becomes `<dir>/<message id>.eml`.
    Spool {
        /// The spool folder; created on first send.
        dir: PathBuf,
    },
}

/// How long one SMTP command may take before the attempt counts as a transient failure.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections kept open to the server; notify jobs are small and few at a time.
const POOL_MAX: u32 = 4;
const POOL_IDLE: Duration = Duration::from_secs(60);

impl Mailer {
    /// The mailer for an SMTP URL (see the module documentation), or the spool folder when
    /// there is none. The folder is created on first send.
    pub fn from_url(url: Option<&str>, spool_dir: &Path) -> Result<Mailer, MailerConfigError> {
        let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(Mailer::Spool {
                dir: spool_dir.to_path_buf(),
            });
        };
        // Never echo the URL itself in an error: it may hold a password.
        let parsed = Url::parse(url).map_err(|e| MailerConfigError::NotAUrl(e.to_string()))?;
        let (security, default_port) = match parsed.scheme() {
            "smtp" => (SmtpSecurity::Plain, 25),
            "smtp+starttls" => (SmtpSecurity::StartTls, 587),
            "smtps" => (SmtpSecurity::Tls, 465),
            other => return Err(MailerConfigError::UnsupportedScheme(other.to_owned())),
        };
        let host = match parsed.host() {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(host) => host.to_string(),
            None => return Err(MailerConfigError::MissingHost),
        };
        if host.is_empty() {
            return Err(MailerConfigError::MissingHost);
        }
        let port = parsed.port().unwrap_or(default_port);
        let credentials = credentials(&parsed)?;
        if security == SmtpSecurity::Plain && credentials.is_some() && !is_loopback(&host) {
            return Err(MailerConfigError::CredentialsInClear(host));
        }
        let tls_parameters = || {
            TlsParameters::new(host.clone()).map_err(|e| MailerConfigError::Tls {
                host: host.clone(),
                reason: e.to_string(),
            })
        };
        let tls = match security {
            SmtpSecurity::Plain => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls_parameters()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT))
            .pool_config(PoolConfig::new().max_size(POOL_MAX).idle_timeout(POOL_IDLE));
        if let Some(credentials) = credentials {
            builder = builder.credentials(credentials);
        }
        Ok(Mailer::Smtp {
            transport: builder.build(),
            host,
            port,
            security,
        })
    }

    /// Sends one email. Sending the same email again is harmless for the spool (same file)
    /// and, for SMTP, gives the customer's mail client the same Message-ID to deduplicate.
    pub async fn send(&self, email: &OutgoingEmail) -> Result<(), SendError> {
        let message = email
            .to_message()
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        match self {
            Mailer::Smtp { transport, .. } => {
                transport.send(message).await.map_err(classify)?;
                tracing::info!(message_id = %email.message_id, mailer = %self, "email sent");
                Ok(())
            }
            Mailer::Spool { dir } => {
                let path = dir.join(email.spool_file_name());
                write_spool_file(dir, &path, &message.formatted())
                    .await
                    .map_err(|e| {
                        SendError::Transient(format!("cannot write {}: {e}", path.display()))
                    })?;
                tracing::info!(message_id = %email.message_id, path = %path.display(), "email spooled");
                Ok(())
            }
        }
    }
}

/// Writes the file next to its final name, then renames it: a reader never sees half an email.
async fn write_spool_file(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    tokio::fs::create_dir_all(dir).await?;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    tokio::fs::write(&partial, bytes).await?;
    tokio::fs::rename(&partial, path).await
}

fn credentials(url: &Url) -> Result<Option<Credentials>, MailerConfigError> {
    if url.username().is_empty() && url.password().is_none() {
        return Ok(None);
    }
    let decode = |s: &str| percent_decode(s).ok_or(MailerConfigError::BadCredentials);
    let user = decode(url.username())?;
    let password = decode(url.password().unwrap_or_default())?;
    Ok(Some(Credentials::new(user, password)))
}

/// `%XX` escapes decoded, as URLs write reserved characters in user names and passwords.
fn percent_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(std::borrow::Cow::into_owned)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

fn classify(error: lettre::transport::smtp::Error) -> SendError {
    let text = error.to_string();
    if error.is_permanent() {
        SendError::Permanent(text)
    } else {
        SendError::Transient(text)
    }
}

impl fmt::Display for Mailer {
    /// Where mail goes, without credentials: `smtp+starttls://smtp.example.com:587`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mailer::Smtp {
                host,
                port,
                security,
                ..
            } => {
                let scheme = match security {
                    SmtpSecurity::Plain => "smtp",
                    SmtpSecurity::StartTls => "smtp+starttls",
                    SmtpSecurity::Tls => "smtps",
                };
                if host.contains(':') {
                    write!(f, "{scheme}://[{host}]:{port}")
                } else {
                    write!(f, "{scheme}://{host}:{port}")
                }
            }
            Mailer::Spool { dir } => write!(f, "spool folder {}", dir.display()),
        }
    }
}

impl fmt::Debug for Mailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mailer({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn smtp(url: &str) -> Result<Mailer, MailerConfigError> {
        Mailer::from_url(Some(url), Path::new("/tmp/unused"))
    }

    #[test]
    fn no_url_means_the_spool_folder() {
        let mailer = Mailer::from_url(None, Path::new("/var/spool/refundd")).unwrap();
        assert_eq!(mailer.to_string(), "spool folder /var/spool/refundd");
        let blank = Mailer::from_url(Some("  "), Path::new("/var/spool/refundd")).unwrap();
        assert!(matches!(blank, Mailer::Spool { .. }));
    }

    #[tokio::test]
    async fn schemes_choose_security_and_default_ports() {
        assert_eq!(
            smtp("smtp://localhost").unwrap().to_string(),
            "smtp://localhost:25"
        );
        assert_eq!(
            smtp("smtp://mailpit:1025").unwrap().to_string(),
            "smtp://mailpit:1025"
        );
        assert_eq!(
            smtp("smtp+starttls://user:secret@smtp.example.com")
                .unwrap()
                .to_string(),
            "smtp+starttls://smtp.example.com:587"
        );
        assert_eq!(
            smtp("smtps://user:secret@smtp.example.com")
                .unwrap()
                .to_string(),
            "smtps://smtp.example.com:465"
        );
        assert_eq!(
            smtp("smtp://[::1]:2525").unwrap().to_string(),
            "smtp://[::1]:2525"
        );
    }

    #[tokio::test]
    async fn passwords_never_show() {
        let mailer =
            smtp("smtps://refunds%40shop.example:p%40ss%2Fw0rd@smtp.example.com:465").unwrap();
        let shown = format!("{mailer} {mailer:?}");
        assert!(
            !shown.contains("p%40ss") && !shown.contains("p@ss"),
            "{shown}"
        );
        assert!(!shown.contains("refunds"), "{shown}");
        let err = smtp("smtp://user:hunter2@mail.example.com").unwrap_err();
        assert_eq!(
            err,
            MailerConfigError::CredentialsInClear("mail.example.com".into())
        );
        assert!(!err.to_string().contains("hunter2"));
        let err = smtp("smtp ://user:hunter2@mail").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn plain_credentials_are_allowed_to_loopback_only() {
        assert!(smtp("smtp://user:pw@127.0.0.1:1025").is_ok());
        assert!(smtp("smtp://user:pw@localhost:1025").is_ok());
        assert!(smtp("smtp://user:pw@[::1]:1025").is_ok());
        assert!(smtp("smtp://user:pw@10.0.0.5:25").is_err());
    }

    #[test]
    fn bad_urls_are_named() {
        assert_eq!(
            smtp("imap://mail.example.com").unwrap_err(),
            MailerConfigError::UnsupportedScheme("imap".into())
        );
        assert!(matches!(
            smtp("not a url").unwrap_err(),
            MailerConfigError::NotAUrl(_)
        ));
        assert_eq!(smtp("smtp://").unwrap_err(), MailerConfigError::MissingHost);
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
