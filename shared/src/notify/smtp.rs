//! The connections to the SMTP server (`Mailer::Smtp`): at most [`POOL_MAX`] at once, kept
//! open between emails, each email one SMTP transaction on one of them.
//!
//! Built on lettre's connection (`AsyncSmtpConnection`: the greeting, EHLO, STARTTLS or
//! implicit TLS, AUTH, each command and its answer) rather than lettre's pooled transport,
//! for two things its transport does on every email (found by `scripts/bench-e2e`, which sends
//! to an SMTP server since 2026-12-05, docs/PERFORMANCE.md 27):
//! - it wrote the message and the `<CRLF>.<CRLF>` that ends it in two writes on a socket with
//!   Nagle's algorithm on, so the end waited for the server's acknowledgement of the message,
//!   which the server's kernel delays (up to 40 ms) while it waits for the rest: about one
//!   delayed ACK an email (`nstat` TcpExtDelayedACKs: 3,600 for 3,000 emails). Here the
//!   message and its end are one write ([`data_block`]).
//! - it sent a `NOOP` before each email to check a pooled connection (one more round trip).
//!   Here a connection is used as it is; if it turns out closed before anything of the email
//!   was handed over (the server dropped an idle connection, or answers 421 as it closes it),
//!   the email goes once more on a new connection. Once the message itself was written, a
//!   failure is not tried again here: the server may have taken it, and the notify stage
//!   decides (a retry tier, the same Message-ID).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Tls};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};

use super::mailer::SendError;

/// How long connecting, or one email's whole transaction, may take before it counts as a
/// transient failure.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections open to the server at once (and emails in flight to it).
const POOL_MAX: usize = 4;
/// A connection idle longer than this is closed rather than used (servers drop idle ones).
const POOL_IDLE: Duration = Duration::from_secs(60);

/// The connections to one SMTP server (see the module note).
pub struct SmtpPool {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    hello: ClientId,
    /// Open connections not in use, the most recently used last.
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
    /// One permit an email in flight: at most [`POOL_MAX`] connections.
    slots: tokio::sync::Semaphore,
}

/// Why a transaction failed, and whether the email may go again on a new connection.
struct Failed {
    error: SendError,
    /// The connection was gone (closed, reset, 421) before anything of the message was
    /// written: the server has nothing of this email.
    gone_before_message: bool,
}

impl SmtpPool {
    pub(crate) fn new(
        host: String,
        port: u16,
        tls: Tls,
        credentials: Option<Credentials>,
    ) -> SmtpPool {
        SmtpPool {
            host,
            port,
            tls,
            credentials,
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
            slots: tokio::sync::Semaphore::new(POOL_MAX),
        }
    }

    /// Sends one email (`message`: the whole RFC 5322 text) to the envelope's recipients.
    pub(crate) async fn send(&self, envelope: &Envelope, message: &[u8]) -> Result<(), SendError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("the semaphore is never closed");
        let mut pooled = self.take_idle();
        loop {
            let reused = pooled.is_some();
            let mut conn = match pooled.take() {
                Some(conn) => conn,
                None => self.connect().await?,
            };
            let outcome =
                tokio::time::timeout(SMTP_TIMEOUT, transaction(&mut conn, envelope, message))
                    .await
                    .unwrap_or_else(|_| {
                        Err(Failed {
                            error: SendError::Transient(format!(
                                "the SMTP server did not answer within {} s",
                                SMTP_TIMEOUT.as_secs()
                            )),
                            gone_before_message: false,
                        })
                    });
            match outcome {
                Ok(()) => {
                    self.idle
                        .lock()
                        .expect("not poisoned")
                        .push((conn, Instant::now()));
                    return Ok(());
                }
                // A kept connection the server had closed meanwhile: nothing of this email
                // reached it, so it goes once more on a new connection.
                Err(f) if reused && f.gone_before_message => {
                    tracing::debug!(error = %f.error, "a kept SMTP connection was closed; sending on a new one");
                }
                // The connection is dropped (closed without QUIT: a server that stopped
                // answering would hold a QUIT too).
                Err(f) => return Err(f.error),
            }
        }
    }

    /// The most recently used idle connection, closing the ones idle too long.
    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        let mut idle = self.idle.lock().expect("not poisoned");
        idle.retain(|(_, since)| since.elapsed() < POOL_IDLE);
        idle.pop().map(|(conn, _)| conn)
    }

    /// A new connection: greeting, EHLO, TLS as the URL says, AUTH when it names a login.
    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let opened = tokio::time::timeout(SMTP_TIMEOUT, async {
            let implicit = match &self.tls {
                Tls::Wrapper(parameters) => Some(parameters.clone()),
                _ => None,
            };
            let mut conn = AsyncSmtpConnection::connect_tokio1(
                (self.host.as_str(), self.port),
                Some(SMTP_TIMEOUT),
                &self.hello,
                implicit,
                None,
            )
            .await?;
            if let Tls::Required(parameters) = &self.tls {
                conn.starttls(parameters.clone(), &self.hello).await?;
            }
            if let Some(credentials) = &self.credentials {
                conn.auth(DEFAULT_MECHANISMS, credentials).await?;
            }
            Ok::<_, lettre::transport::smtp::Error>(conn)
        })
        .await;
        match opened {
            Ok(Ok(conn)) => Ok(conn),
            Ok(Err(e)) => Err(classify(&e)),
            Err(_) => Err(SendError::Transient(format!(
                "no connection to the SMTP server within {} s",
                SMTP_TIMEOUT.as_secs()
            ))),
        }
    }
}

/// MAIL, RCPT for each recipient, DATA, then the message and its end in one write.
async fn transaction(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    message: &[u8],
) -> Result<(), Failed> {
    let before = |e: lettre::transport::smtp::Error| Failed {
        gone_before_message: connection_gone(&e),
        error: classify(&e),
    };
    let mut parameters = Vec::new();
    let mut addresses = envelope.from().into_iter().chain(envelope.to());
    if addresses.any(|a| !AsRef::<str>::as_ref(a).is_ascii()) {
        if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            return Err(refused(
                "an address is not ASCII and the server does not take SMTPUTF8",
            ));
        }
        parameters.push(MailParameter::SmtpUtfEight);
    }
    if !message.is_ascii() {
        if !conn.server_info().supports_feature(Extension::EightBitMime) {
            return Err(refused(
                "the email is not ASCII and the server does not take 8BITMIME",
            ));
        }
        parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    conn.command(Mail::new(envelope.from().cloned(), parameters))
        .await
        .map_err(before)?;
    for to in envelope.to() {
        conn.command(Rcpt::new(to.clone(), vec![]))
            .await
            .map_err(before)?;
    }
    conn.command(Data).await.map_err(before)?;
    let after = |e: lettre::transport::smtp::Error| Failed {
        gone_before_message: false,
        error: classify(&e),
    };
    match String::from_utf8(data_block(message)) {
        // `command` writes its text in one write and reads the answer.
        Ok(block) => conn.command(block).await.map_err(after)?,
        // Not UTF-8 (never for the emails this service builds): lettre's own two writes.
        Err(_) => conn.message(message).await.map_err(after)?,
    };
    Ok(())
}

/// The connection is gone rather than the command refused: no answer with a code (closed,
/// "incomplete response", reset), or 421, which a server sends as it closes the connection
/// (RFC 5321 3.8: shutting down, or an idle connection timed out).
fn connection_gone(error: &lettre::transport::smtp::Error) -> bool {
    error.status().is_none_or(|code| code.to_string() == "421")
}

fn refused(why: &str) -> Failed {
    Failed {
        error: SendError::Permanent(why.to_owned()),
        gone_before_message: false,
    }
}

/// The DATA block (RFC 5321 4.1.1.4, 4.5.2): the message with a `.` added before every line
/// that starts with one, then `<CRLF>.<CRLF>`, which ends it.
fn data_block(message: &[u8]) -> Vec<u8> {
    let mut block = Vec::with_capacity(message.len() + 64);
    let mut line_start = true;
    for &b in message {
        if line_start && b == b'.' {
            block.push(b'.');
        }
        block.push(b);
        line_start = b == b'\n';
    }
    block.extend_from_slice(b"\r\n.\r\n");
    block
}

/// A 5xx answer is permanent; anything else (4xx, a network or TLS failure) transient.
fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    let text = error.to_string();
    if error.is_permanent() {
        SendError::Permanent(text)
    } else {
        SendError::Transient(text)
    }
}

#[cfg(test)]
mod tests {
    use super::data_block;

    #[test]
    fn a_line_starting_with_a_dot_gets_one_more_and_the_block_ends_with_a_lone_dot() {
        assert_eq!(data_block(b"Hello\r\n"), b"Hello\r\n\r\n.\r\n".to_vec());
        assert_eq!(
            data_block(b".starts\r\nmid.dle\r\n..two\r\n.\r\nend"),
            b"..starts\r\nmid.dle\r\n...two\r\n..\r\nend\r\n.\r\n".to_vec()
        );
        // A dot after a bare CR is mid-line; after a bare LF it is stuffed too, so a server
        // that ends lines at LF alone never reads an end of data inside the message.
        assert_eq!(data_block(b"a\r.b\n.c"), b"a\r.b\n..c\r\n.\r\n".to_vec());
    }
}
