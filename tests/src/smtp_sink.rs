//! `SmtpSink`: a tiny SMTP server on 127.0.0.1 that tests start themselves. It speaks just
//! enough of RFC 5321 for lettre (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), records
//! every message it accepts, can be told to answer RCPT or DATA with a transient (4xx) or
//! permanent (5xx) refusal, and can be stopped (every connection dropped, nothing listening)
//! and started again on the same port, as a real server going down for a while.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// How the sink answers a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Accept,
    /// 4xx: try again later.
    Transient,
    /// 5xx: never.
    Permanent,
}

#[derive(Debug, Clone)]
struct Behaviour {
    rcpt: Answer,
    data: Answer,
    /// Sessions numbered below this answer their next command with 421 and close, as a
    /// server closing idle connections does (RFC 5321 3.8).
    close_sessions_below: usize,
}

/// One message the sink accepted: the envelope and the raw DATA.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub helo: String,
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    pub data: Vec<u8>,
    /// When the sink accepted it.
    pub at: std::time::Instant,
}

pub struct SmtpSink {
    addr: SocketAddr,
    /// Keep each message ([`SmtpSink::delivered`]), or only count them
    /// ([`SmtpSink::start_counting`]).
    keep: bool,
    delivered: Arc<Mutex<Vec<Delivered>>>,
    /// Messages accepted, kept or not.
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    /// Connections accepted.
    connections: Arc<std::sync::atomic::AtomicUsize>,
    behaviour: Arc<Mutex<Behaviour>>,
    /// RCPT commands seen, accepted or not (how often a client tried).
    attempts: Arc<Mutex<usize>>,
    server: Option<JoinHandle<()>>,
}

impl SmtpSink {
    /// Listens on a free port of 127.0.0.1.
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        SmtpSink::serving(listener, true)
    }

    /// Listens on `addr` and keeps no message, only their number
    /// ([`SmtpSink::accepted`]): the mail server of `scripts/bench-e2e`, which sends
    /// hundreds of thousands.
    pub async fn start_counting(addr: SocketAddr) -> std::io::Result<SmtpSink> {
        let listener = TcpListener::bind(addr).await?;
        Ok(SmtpSink::serving(listener, false))
    }

    fn serving(listener: TcpListener, keep: bool) -> SmtpSink {
        let mut sink = SmtpSink {
            addr: listener.local_addr().unwrap(),
            keep,
            delivered: Arc::new(Mutex::new(Vec::new())),
            accepted: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            connections: Arc::new(std::sync::atomic::AtomicUsize::new(0)),
            behaviour: Arc::new(Mutex::new(Behaviour {
                rcpt: Answer::Accept,
                data: Answer::Accept,
                close_sessions_below: 0,
            })),
            attempts: Arc::new(Mutex::new(0)),
            server: None,
        };
        sink.serve(listener);
        sink
    }

    fn serve(&mut self, listener: TcpListener) {
        let delivered = self.keep.then(|| self.delivered.clone());
        let counted = self.accepted.clone();
        let connections = self.connections.clone();
        let behaviour = self.behaviour.clone();
        let attempts = self.attempts.clone();
        self.server = Some(tokio::spawn(async move {
            // Sessions live in this set: aborting the server drops every connection.
            let mut sessions = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { return };
                        let number =
                            connections.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        sessions.spawn(session(
                            stream,
                            number,
                            delivered.clone(),
                            counted.clone(),
                            behaviour.clone(),
                            attempts.clone(),
                        ));
                    }
                    Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
                }
            }
        }));
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://{}", self.addr)
    }

    /// A mailer that sends to this sink (and never spools: the spool folder does not exist).
    pub fn mailer(&self) -> shared::notify::Mailer {
        shared::notify::Mailer::from_url(Some(&self.url()), std::path::Path::new("/nonexistent"))
            .expect("the sink's URL is a valid SMTP URL")
    }

    /// Stops listening and drops every open connection: the server is down.
    pub async fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.abort();
            let _ = server.await;
        }
    }

    /// Listens again on the same port (after [`SmtpSink::stop`]).
    pub async fn restart(&mut self) {
        self.stop().await;
        let listener = TcpListener::bind(self.addr)
            .await
            .expect("the sink's port is free again");
        self.serve(listener);
    }

    pub fn answer_rcpt(&self, answer: Answer) {
        self.behaviour.lock().unwrap().rcpt = answer;
    }

    pub fn answer_data(&self, answer: Answer) {
        self.behaviour.lock().unwrap().data = answer;
    }

    /// Every session open now answers its next command with `421` and closes (a server
    /// timing out idle connections); sessions opened later are served as usual.
    pub fn close_open_sessions_with_421(&self) {
        self.behaviour.lock().unwrap().close_sessions_below = self.connections();
    }

    /// Every message accepted so far, in order.
    pub fn delivered(&self) -> Vec<Delivered> {
        self.delivered.lock().unwrap().clone()
    }

    /// How many messages the sink has accepted (kept or only counted).
    pub fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many connections the sink has accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many RCPT commands the sink has seen, accepted or refused.
    pub fn rcpt_attempts(&self) -> usize {
        *self.attempts.lock().unwrap()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        if let Some(server) = &self.server {
            server.abort();
        }
    }
}

/// One SMTP session. Lines end in CRLF; the DATA block ends with a lone `.` and has its
/// leading dots unstuffed (RFC 5321 §4.5.2).
async fn session(
    stream: TcpStream,
    number: usize,
    delivered: Option<Arc<Mutex<Vec<Delivered>>>>,
    accepted: Arc<std::sync::atomic::AtomicUsize>,
    behaviour: Arc<Mutex<Behaviour>>,
    attempts: Arc<Mutex<usize>>,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink.test ESMTP ready\r\n").await?;
    let mut helo = String::new();
    let mut mail_from: Option<String> = None;
    let mut rcpt_to: Vec<String> = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let command = line.trim_end_matches(['\r', '\n']);
        let verb = command
            .split([' ', ':'])
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        let current = behaviour.lock().unwrap().clone();
        if number < current.close_sessions_below {
            write
                .write_all(b"421 4.4.2 sink.test idle too long, closing\r\n")
                .await?;
            return Ok(());
        }
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => {
                helo = command[4..].trim().to_owned();
                b"250-sink.test greets you\r\n250 8BITMIME\r\n"
            }
            "HELO" => {
                helo = command[4..].trim().to_owned();
                b"250 sink.test\r\n"
            }
            "MAIL" => {
                mail_from = Some(angle_address(command));
                rcpt_to.clear();
                b"250 2.1.0 OK\r\n"
            }
            "RCPT" => {
                *attempts.lock().unwrap() += 1;
                match current.rcpt {
                    Answer::Accept => {
                        rcpt_to.push(angle_address(command));
                        b"250 2.1.5 OK\r\n"
                    }
                    Answer::Transient => b"451 4.3.0 mailbox busy, try again later\r\n",
                    Answer::Permanent => b"550 5.1.1 no such user here\r\n",
                }
            }
            "DATA" => {
                if mail_from.is_none() || rcpt_to.is_empty() {
                    b"503 5.5.1 need MAIL and RCPT first\r\n"
                } else {
                    write
                        .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    let data = read_data(&mut lines).await?;
                    match current.data {
                        Answer::Accept => {
                            accepted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            let message = Delivered {
                                helo: helo.clone(),
                                mail_from: mail_from.take().unwrap_or_default(),
                                rcpt_to: std::mem::take(&mut rcpt_to),
                                data,
                                at: std::time::Instant::now(),
                            };
                            if let Some(delivered) = &delivered {
                                delivered.lock().unwrap().push(message);
                            }
                            b"250 2.0.0 queued\r\n"
                        }
                        Answer::Transient => b"452 4.3.1 insufficient system storage\r\n",
                        Answer::Permanent => b"554 5.6.0 message content rejected\r\n",
                    }
                }
            }
            "RSET" => {
                mail_from = None;
                rcpt_to.clear();
                b"250 2.0.0 OK\r\n"
            }
            "NOOP" => b"250 2.0.0 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 5.5.2 command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

async fn read_data(
    lines: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<Vec<u8>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" {
            return Ok(data);
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(unstuffed);
    }
}

/// `MAIL FROM:<a@b> BODY=8BITMIME` → `a@b`.
fn angle_address(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command[start..]
        .find('>')
        .map_or(command.len(), |i| start + i);
    command[start..end].to_owned()
}
