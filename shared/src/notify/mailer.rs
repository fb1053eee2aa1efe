//! Where emails go ([`Mailer`]): an SMTP server through a few connections kept open
//! (`notify::smtp`), or, when no server is configured, `.eml` files in a spool folder that a
//! person can open.
//!
//! The SMTP server is a [`SmtpUrl`](crate::config::SmtpUrl), read and checked with the
//! settings (a password never crosses a network in clear text, and never shows).
//!
//! Failures are split the way a retry policy needs them: an SMTP 5xx answer or an email that
//! cannot be built is [`SendError::Permanent`]; a 4xx answer, a refused or dropped
//! connection, a timeout, a TLS failure or a full disk is [`SendError::Transient`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};

use super::outgoing::OutgoingEmail;
use super::smtp::SmtpPool;
pub use crate::config::{SmtpSecurity, SmtpUrl, SmtpUrlError};

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

/// Why the mailer cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailerConfigError {
    /// The SMTP URL is not one the mailer can use.
    #[error(transparent)]
    Url(#[from] SmtpUrlError),
    /// The TLS parameters for the host could not be built.
    #[error("TLS setup for `{host}` failed: {reason}")]
    Tls {
        /// The SMTP server's host.
        host: String,
        /// Why the TLS setup failed.
        reason: String,
    },
}

/// Sends customer emails.
#[derive(Clone)]
pub enum Mailer {
    /// An SMTP server, through a connection pool.
    Smtp {
        /// The server's connections, shared by every clone of the mailer.
        pool: Arc<SmtpPool>,
        /// The server (its password stays out of `Display` and `Debug`).
        server: SmtpUrl,
    },
    /// No server: each email becomes `<dir>/<message id>.eml`.
    Spool {
        /// The spool folder; created on first send.
        dir: PathBuf,
    },
}

impl Mailer {
    /// The mailer for an SMTP URL written as text (see [`SmtpUrl`]), or the spool folder
    /// when there is none or it is blank.
    pub fn from_url(url: Option<&str>, spool_dir: &Path) -> Result<Mailer, MailerConfigError> {
        let server = url
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(SmtpUrl::parse)
            .transpose()?;
        Mailer::new(server.as_ref(), spool_dir)
    }

    /// The mailer for the configured SMTP server, or the spool folder when there is none. The
    /// folder is created on first send.
    pub fn new(server: Option<&SmtpUrl>, spool_dir: &Path) -> Result<Mailer, MailerConfigError> {
        let Some(server) = server else {
            return Ok(Mailer::Spool {
                dir: spool_dir.to_path_buf(),
            });
        };
        let host = &server.host;
        let tls_parameters = || {
            TlsParameters::new(host.clone()).map_err(|e| MailerConfigError::Tls {
                host: host.clone(),
                reason: e.to_string(),
            })
        };
        let tls = match server.security {
            SmtpSecurity::Plain => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(tls_parameters()?),
            SmtpSecurity::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let credentials = server
            .credentials
            .as_ref()
            .map(|(user, password)| Credentials::new(user.clone(), password.clone()));
        Ok(Mailer::Smtp {
            pool: Arc::new(SmtpPool::new(host.clone(), server.port, tls, credentials)),
            server: server.clone(),
        })
    }

    /// Sends one email. Sending the same email again is harmless for the spool (same file)
    /// and, for SMTP, gives the customer's mail client the same Message-ID to deduplicate.
    pub async fn send(&self, email: &OutgoingEmail) -> Result<(), SendError> {
        let message = email
            .to_message()
            .map_err(|e| SendError::Permanent(e.to_string()))?;
        match self {
            Mailer::Smtp { pool, .. } => {
                pool.send(message.envelope(), &message.formatted()).await?;
                tracing::info!(message_id = %email.message_id, mailer = %self, "email sent");
                Ok(())
            }
            Mailer::Spool { dir } => {
                let path = dir.join(email.spool_file_name());
                let (folder, file, bytes) = (dir.clone(), path.clone(), message.formatted());
                // One trip to the blocking pool for the folder, the write and the rename
                // (tokio::fs would make three).
                tokio::task::spawn_blocking(move || write_spool_file(&folder, &file, &bytes))
                    .await
                    .map_err(std::io::Error::other)
                    .and_then(|written| written)
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
fn write_spool_file(dir: &Path, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    std::fs::write(&partial, bytes)?;
    std::fs::rename(&partial, path)
}

impl fmt::Display for Mailer {
    /// Where mail goes, without credentials: `smtp+starttls://smtp.example.com:587`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mailer::Smtp { server, .. } => write!(f, "{server}"),
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
            MailerConfigError::Url(SmtpUrlError::CredentialsInClear("mail.example.com".into()))
        );
        assert!(!err.to_string().contains("hunter2"));
        let err = smtp("smtp ://user:hunter2@mail").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
}
