//! `refundd intake-email`: reads the refunds mailbox over IMAP. Every message in the folder is
//! taken in through [`Intake::take`] and, once that transaction has committed, moved to the
//! processed folder (or the failed folder when it could not be read). A crash between the
//! commit and the move leaves the message in the folder; the next pass takes it in again,
//! finds its inbound row (`duplicate`) and moves it: nothing is doubled, nothing is lost.
//!
//! New mail is waited for with IDLE, renewed every poll interval; a server without IDLE is
//! polled. A lost connection is retried with backoff until shutdown.
//!
//! `imaps://` trusts the public (webpki) roots and, when `REFUNDD_IMAP_CA_FILE` names one, the
//! CA certificates of that PEM file (a company CA, a test server's).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use async_imap::extensions::idle::IdleResponse;
use async_imap::{Client, Session};
use futures_util::TryStreamExt;
use shared::config::ImapUrl;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tokio_util::sync::CancellationToken;

use super::{Intake, Source};

/// How the reader is set up.
#[derive(Clone, Debug)]
pub struct ImapConfig {
    pub url: ImapUrl,
    pub processed_folder: String,
    pub failed_folder: String,
    pub poll_interval: Duration,
    /// A PEM file of CA certificates trusted besides the webpki roots (`REFUNDD_IMAP_CA_FILE`).
    pub ca_file: Option<PathBuf>,
}

/// Longest wait between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Reads the mailbox until `shutdown`.
pub async fn run(intake: Intake, config: ImapConfig, shutdown: CancellationToken) {
    let mut backoff = Duration::from_secs(1);
    while !shutdown.is_cancelled() {
        let result = tokio::select! {
            r = connect_and_read(&intake, &config, &shutdown) => r,
            _ = shutdown.cancelled() => Ok(()),
        };
        match result {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!(
                    host = config.url.host,
                    folder = config.url.folder,
                    error = format!("{e:#}"),
                    retry_in_s = backoff.as_secs(),
                    "mailbox connection lost; retrying"
                );
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.cancelled() => break,
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    tracing::info!("mailbox reader stopped");
}

/// The TLS client setup of `config`: the webpki roots and the certificates of its CA file.
/// Built when the reader starts too, so a CA file rustls cannot use stops it at once.
pub fn tls_config(config: &ImapConfig) -> anyhow::Result<ClientConfig> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = &config.ca_file {
        let certs = shared::config::ca_certificates(path)
            .map_err(|e| anyhow::anyhow!("REFUNDD_IMAP_CA_FILE: {e}"))?;
        for (i, cert) in certs.into_iter().enumerate() {
            roots.add(cert).with_context(|| {
                format!(
                    "REFUNDD_IMAP_CA_FILE: certificate {} of {} cannot be trusted",
                    i + 1,
                    path.display()
                )
            })?;
        }
    }
    Ok(ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS setup")?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

async fn tls(
    config: &ImapConfig,
    tcp: TcpStream,
) -> anyhow::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let url = &config.url;
    let name = ServerName::try_from(url.host.clone())
        .with_context(|| format!("{} is not a host name for TLS", url.host))?;
    TlsConnector::from(Arc::new(tls_config(config)?))
        .connect(name, tcp)
        .await
        .with_context(|| format!("TLS handshake with {} failed", url.host))
}

/// Connects and logs in as the reader does, then logs out: the mailbox can be read with
/// `config` (server reachable, certificate trusted, credentials right).
pub async fn check_connection(config: &ImapConfig) -> anyhow::Result<()> {
    let url = &config.url;
    let tcp = connect(url).await?;
    if url.tls {
        let mut session = login(tls(config, tcp).await?, url).await?;
        session.logout().await.context("logging out")
    } else {
        let mut session = login(tcp, url).await?;
        session.logout().await.context("logging out")
    }
}

async fn connect(url: &ImapUrl) -> anyhow::Result<TcpStream> {
    TcpStream::connect((url.host.as_str(), url.port))
        .await
        .with_context(|| format!("cannot connect to {}:{}", url.host, url.port))
}

async fn connect_and_read(
    intake: &Intake,
    config: &ImapConfig,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let url = &config.url;
    let tcp = connect(url).await?;
    if url.tls {
        let stream = tls(config, tcp).await?;
        read_forever(login(stream, url).await?, intake, config, shutdown).await
    } else {
        read_forever(login(tcp, url).await?, intake, config, shutdown).await
    }
}

async fn login<T>(stream: T, url: &ImapUrl) -> anyhow::Result<Session<T>>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut client = Client::new(stream);
    client
        .read_response()
        .await
        .context("reading the server greeting")?
        .ok_or_else(|| anyhow::anyhow!("the server closed the connection before greeting"))?;
    client
        .login(&url.user, &url.password)
        .await
        .map_err(|(e, _)| anyhow::anyhow!("login as {} failed: {e}", url.user))
}

/// Creates the processed and failed folders when missing and selects the mail folder.
async fn prepare<T>(session: &mut Session<T>, config: &ImapConfig) -> anyhow::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    for folder in [&config.processed_folder, &config.failed_folder] {
        let exists = {
            let names: Vec<_> = session
                .list(None, Some(folder))
                .await?
                .try_collect()
                .await?;
            names.iter().any(|n| n.name() == folder.as_str())
        };
        if !exists {
            session
                .create(folder)
                .await
                .with_context(|| format!("cannot create the folder {folder:?}"))?;
            tracing::info!(folder, "mailbox folder created");
        }
    }
    session
        .select(&config.url.folder)
        .await
        .with_context(|| format!("cannot open the folder {:?}", config.url.folder))?;
    Ok(())
}

async fn read_forever<T>(
    mut session: Session<T>,
    intake: &Intake,
    config: &ImapConfig,
    shutdown: &CancellationToken,
) -> anyhow::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    prepare(&mut session, config).await?;
    let idle = session.capabilities().await?.has_str("IDLE");
    tracing::info!(
        host = config.url.host,
        folder = config.url.folder,
        idle,
        "reading the refunds mailbox"
    );
    loop {
        drain(&mut session, intake, config).await?;
        if shutdown.is_cancelled() {
            session.logout().await.ok();
            return Ok(());
        }
        if idle {
            let mut handle = session.idle();
            handle.init().await?;
            let (wait, _stop) = handle.wait_with_timeout(config.poll_interval);
            let woke = tokio::select! {
                r = wait => Some(r?),
                _ = shutdown.cancelled() => None,
            };
            if let Some(IdleResponse::NewData(_)) = woke {
                tracing::debug!("new mail announced");
            }
            session = handle.done().await?;
        } else {
            tokio::select! {
                _ = tokio::time::sleep(config.poll_interval) => {}
                _ = shutdown.cancelled() => {}
            }
            session.noop().await?;
        }
    }
}

/// Takes in every message in the selected folder, moving each after its commit.
async fn drain<T>(
    session: &mut Session<T>,
    intake: &Intake,
    config: &ImapConfig,
) -> anyhow::Result<usize>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let mut uids: Vec<u32> = session.uid_search("UNDELETED").await?.into_iter().collect();
    uids.sort_unstable();
    let move_supported = session.capabilities().await?.has_str("MOVE");
    let mut taken = 0;
    for uid in uids {
        let raw = {
            let fetches: Vec<_> = session
                .uid_fetch(uid.to_string(), "BODY.PEEK[]")
                .await?
                .try_collect()
                .await?;
            fetches
                .iter()
                .find(|f| f.uid == Some(uid))
                .and_then(|f| f.body().map(<[u8]>::to_vec))
        };
        let Some(raw) = raw else {
            // Expunged by someone else meanwhile.
            continue;
        };
        // A database error leaves the message where it is: it is read again next pass.
        let outcome = intake.take(&raw, Source::Imap).await?;
        // A copy of a message that could not be read (`duplicate` with its error) goes where
        // the first copy went.
        let target = if outcome.outcome == "failed" || outcome.error.is_some() {
            &config.failed_folder
        } else {
            &config.processed_folder
        };
        move_message(session, uid, target, move_supported).await?;
        tracing::info!(
            uid,
            message_id = outcome.message_id,
            outcome = outcome.outcome,
            folder = target,
            "mailbox message taken in"
        );
        taken += 1;
    }
    Ok(taken)
}

async fn move_message<T>(
    session: &mut Session<T>,
    uid: u32,
    folder: &str,
    move_supported: bool,
) -> anyhow::Result<()>
where
    T: AsyncRead + AsyncWrite + Unpin + std::fmt::Debug + Send,
{
    let set = uid.to_string();
    if move_supported {
        session
            .uid_mv(&set, folder)
            .await
            .with_context(|| format!("cannot move message {uid} to {folder:?}"))?;
    } else {
        session.uid_copy(&set, folder).await?;
        let _: Vec<_> = session
            .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
            .await?
            .try_collect()
            .await?;
        let _: Vec<_> = session.expunge().await?.try_collect().await?;
    }
    Ok(())
}
