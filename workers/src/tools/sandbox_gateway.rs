//! `refundd sandbox-gateway`: our own payment gateway for demos and end-to-end tests, a real
//! HTTP server with a persisted ledger and fault injection (see
//! `shared::gateway::sandbox`):
//!
//! ```text
//! refundd sandbox-gateway --listen 127.0.0.1:8090 --ledger var/sandbox-ledger.jsonl \
//!     [--latency-ms 200] [--timeout-rate 0.2] [--error-rate 0.1] [--hang-ms 30000] \
//!     [--decline card_expired] [--seed 42]
//! ```
//!
//! It needs no database or broker, so it reads no settings file. Bad flags or an unusable
//! ledger file print one line on stderr and exit 2; it stops cleanly on SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use shared::config::LogFormat;
use shared::gateway::DeclineCode;
use shared::gateway::sandbox::server::{self, Faults, SandboxConfig, ServeError};

/// Flags of `refundd sandbox-gateway`.
#[derive(Debug, Args)]
pub struct SandboxGatewayArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: SocketAddr,
    /// JSON-lines ledger file, reloaded at start; the ledger is kept in memory without it.
    #[arg(long, value_name = "FILE")]
    ledger: Option<PathBuf>,
    /// Delay added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Share of refunds (0 to 1) that hang past the client's timeout, half after booking.
    #[arg(long, default_value_t = 0.0)]
    timeout_rate: f64,
    /// Share of refunds (0 to 1) answered HTTP 500, half after booking.
    #[arg(long, default_value_t = 0.0)]
    error_rate: f64,
    /// How long a hanging refund waits before its 504, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    hang_ms: u64,
    /// Decline every refund with this code (card_expired, card_closed, insufficient_funds,
    /// amount_exceeds_captured, duplicate_refund, or any other word).
    #[arg(long, value_name = "CODE")]
    decline: Option<String>,
    /// Seed for the fault dice, to repeat a run exactly.
    #[arg(long)]
    seed: Option<u64>,
    /// Log as JSON lines instead of human-readable text.
    #[arg(long)]
    json_logs: bool,
}

pub fn run(args: SandboxGatewayArgs) -> ExitCode {
    shared::telemetry::init(if args.json_logs {
        LogFormat::Json
    } else {
        LogFormat::Human
    });
    if let Some(code) = args.decline.as_deref()
        && (code.is_empty() || code.contains(char::is_whitespace))
    {
        eprintln!("refundd sandbox-gateway: --decline takes one code word, not {code:?}");
        return ExitCode::from(2);
    }
    let config = SandboxConfig {
        ledger_path: args.ledger,
        faults: Faults {
            latency: Duration::from_millis(args.latency_ms),
            timeout_rate: args.timeout_rate,
            error_rate: args.error_rate,
            hang: Duration::from_millis(args.hang_ms),
            decline: args.decline.as_deref().map(DeclineCode::parse),
            seed: args.seed,
        },
    };
    if let Err(e) = config.faults.check() {
        eprintln!("refundd sandbox-gateway: {e}");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("refundd sandbox-gateway: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
        let shutdown = workers::signals::shutdown_on_signal();
        server::serve(listener, config, shutdown)
            .await
            .map_err(|e| match e {
                ServeError::Ledger(e) => format!("ledger {e}"),
                other => other.to_string(),
            })
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("refundd sandbox-gateway: {message}");
            ExitCode::from(2)
        }
    }
}
