//! `refundd`: one binary, every role. A thin entry point: parse the command line, load the
//! settings (a bad one stops the process with exit code 2), start logging, run the command.

mod tools;

/// mimalloc instead of glibc's malloc: malloc and free were 4.4 % of the whole machine's CPU
/// samples in the benchmark's closed loop, all of it refundd's (docs/PERFORMANCE.md, 30).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, error::ErrorKind};
use shared::api_keys::{ApiRole, MerchantScope};
use shared::config::Settings;
use workers::app::{App, Mode};
use workers::{roles, signals};

#[derive(Parser)]
#[command(
    name = "refundd",
    version,
    about = "Refund processing for card payments: HTTP API, email intake and pipeline workers",
    propagate_version = true
)]
struct Cli {
    /// Optional TOML settings file; environment variables override it.
    #[arg(long, global = true, env = "REFUNDD_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Bring the database schema up to date and exit.
    Migrate,
    /// Serve the HTTP API (health checks at /healthz and /readyz).
    Api,
    /// Run one worker role; run more copies (on more machines) to scale it.
    Worker {
        #[arg(value_enum)]
        role: roles::Role,
    },
    /// Read the refunds mailbox (REFUNDD_IMAP_URL) with IMAP IDLE and take every message in.
    IntakeEmail,
    /// Run every role in one process: the single-machine default.
    All,
    /// Document encryption keys: `keys rotate` re-encrypts every document under the active key.
    Keys {
        #[command(subcommand)]
        cmd: KeysCmd,
    },
    /// Delete the bytes of documents, and the texts of emails, past retention (N days).
    PurgeDocuments {
        /// Days after the end of a request (default: REFUNDD_DOCUMENT_RETENTION_DAYS, 90).
        #[arg(long)]
        days: Option<u32>,
    },
    /// Register demo payments for the five packs and submit sample applications through the API.
    Demo {
        /// Where the API listens.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        api_url: String,
    },
    /// The parking queue: `parking list` shows what is there and why, `parking replay` puts
    /// messages back to work (those whose request has finished are dropped).
    Parking {
        #[command(subcommand)]
        cmd: ParkingCmd,
    },
    /// Payouts a person finishes: `payouts export --format csv` (bank transfers for the
    /// finance team), `payouts needs-person`, and `payouts retry|record-external|bank-transfer`.
    Payouts {
        #[command(subcommand)]
        cmd: PayoutsCmd,
    },
    /// Create or revoke API keys (the key is printed once, only its hash is stored).
    ApiKey {
        #[command(subcommand)]
        cmd: ApiKeyCmd,
    },
    /// Decide a refund request (JSON from FILE or stdin) and print the decision as JSON.
    Quote {
        /// The request; read from stdin when absent or `-`.
        file: Option<PathBuf>,
    },
    /// List the shipped policy packs or check a merchant's pack file.
    Policies {
        #[command(subcommand)]
        cmd: tools::policies::PoliciesCmd,
    },
    /// Working-day calendars: list working days, compute the end of a term.
    Calendar {
        #[command(subcommand)]
        cmd: tools::calendar::CalendarCmd,
    },
    /// Check an identity document described as JSON (FILE or stdin) and print the verdict.
    CheckDocument {
        /// JSON file to read; standard input when absent or `-`.
        file: Option<PathBuf>,
    },
    /// Read the machine-readable zone of a passport or ID card from a photo or scan (JPEG,
    /// PNG, PDF) and print what was read as JSON: found, format, mrz, fields, valid,
    /// problems, seconds. Exit 2 for a file that cannot be read.
    ReadDocument {
        /// The photo or scan.
        file: PathBuf,
    },
    /// Compare a merchant's refunds of a day at its gateway with ours; prints each difference
    /// and exits 1 when there is any.
    Reconcile {
        /// The merchant (an id from the merchants file).
        #[arg(long)]
        merchant: String,
        /// The day (YYYY-MM-DD) in the merchant's time zone; default: yesterday.
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
    },
    /// Serve the sandbox payment gateway (ledger, fault injection) for demos and tests.
    SandboxGateway(tools::sandbox_gateway::SandboxGatewayArgs),
}

/// A person's payout action from the command line, audited as `cli:<name>`.
async fn payout_action(
    settings: &Settings,
    action: PayoutAction,
    what: shared::payout_person::Action,
) -> anyhow::Result<()> {
    let by = action.by.trim();
    if by.is_empty() {
        anyhow::bail!("--by: give your name, for the request's history");
    }
    let pool = shared::db::connect(&settings.database_url, 2).await?;
    let mut tx = pool.begin().await?;
    let (_, version) = shared::transition::lock_state(&mut tx, action.request)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let record = shared::requests::find(&mut tx, action.request)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no refund request {}", action.request))?;
    let done = shared::payout_person::apply(
        &mut tx,
        &record,
        version,
        &format!("cli:{by}"),
        &action.reason,
        &what,
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    tx.commit().await?;
    println!("{}: {}", done.state, done.message);
    Ok(())
}

#[derive(Subcommand)]
enum ParkingCmd {
    /// Print each parked message: id, stage, request, attempts and why it was parked.
    List(ParkingFilter),
    /// Put parked messages back on their stage queue.
    Replay(ParkingFilter),
}

#[derive(clap::Args)]
struct ParkingFilter {
    /// Only messages for this stage (validate, decide, payout, notify, webhook).
    #[arg(long, value_parser = parse_stage)]
    stage: Option<shared::messages::Stage>,
    /// Only messages whose reason contains this text (any case), e.g. `delivery limit`.
    #[arg(long)]
    reason: Option<String>,
}

fn parse_stage(text: &str) -> Result<shared::messages::Stage, String> {
    text.parse()
}

impl ParkingFilter {
    fn filter(self) -> shared::broker::parking::Filter {
        shared::broker::parking::Filter {
            stage: self.stage,
            reason: self.reason,
        }
    }
}

fn parked_line(p: &shared::broker::parking::Parked) -> String {
    let text = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    format!(
        "{}\t{}\t{}\tattempt {}\t{}",
        text(p.message_id.map(|id| id.to_string())),
        text(p.stage.map(|s| s.to_string())),
        text(p.request_id.map(|id| id.to_string())),
        p.attempt,
        p.reason
    )
}

#[derive(Subcommand)]
enum PayoutsCmd {
    /// Print every refund waiting for a manual bank transfer.
    Export {
        /// Output format.
        #[arg(long, value_parser = ["csv"], default_value = "csv")]
        format: String,
        /// Only this merchant's payouts (a merchant id from the merchants file); default: every
        /// merchant's.
        #[arg(long)]
        merchant: Option<String>,
    },
    /// List the payouts waiting on a person (declined, unknown for long, to pay by bank
    /// transfer), oldest first, as tab-separated lines.
    NeedsPerson {
        /// Only this merchant's payouts.
        #[arg(long)]
        merchant: Option<String>,
    },
    /// Ask the gateway again about a declined or unknown payout; a new refund is sent only
    /// if the gateway holds none.
    Retry(PayoutAction),
    /// Record a refund made outside the system (the gateway's cabinet) under its reference.
    RecordExternal {
        #[command(flatten)]
        action: PayoutAction,
        /// The gateway's reference of the refund.
        #[arg(long)]
        reference: String,
    },
    /// Pay a declined refund by bank transfer (asks the customer for bank details unless
    /// given).
    BankTransfer {
        #[command(flatten)]
        action: PayoutAction,
        /// The customer's IBAN (and bank), when known.
        #[arg(long)]
        bank_details: Option<String>,
        /// The account holder, with the bank details.
        #[arg(long)]
        account_holder: Option<String>,
    },
}

#[derive(clap::Args)]
struct PayoutAction {
    /// The refund request's id.
    request: uuid::Uuid,
    /// Who acts (the person's name, kept in the history as `cli:<name>`).
    #[arg(long)]
    by: String,
    /// Why, kept in the history.
    #[arg(long)]
    reason: String,
}

#[derive(Subcommand)]
enum KeysCmd {
    /// Re-encrypt every stored document under the active key (the first of REFUNDD_DOCUMENT_KEYS).
    Rotate,
    /// Print a new key as `id:base64key`: put it first in REFUNDD_DOCUMENT_KEYS (keep the old
    /// ones after it), then run `keys rotate`.
    Generate {
        /// The key's id (default: `k` and today's date).
        #[arg(long)]
        id: Option<String>,
    },
}

#[derive(Subcommand)]
enum ApiKeyCmd {
    /// Create a key and print it once.
    Create {
        /// support, supervisor, intake or viewer.
        #[arg(long)]
        role: ApiRole,
        /// The merchant (an id from the merchants file) whose data the key reaches, or
        /// all-merchants (supervisor, viewer and intake keys only).
        #[arg(long)]
        merchant: Option<MerchantScope>,
        /// Who or what holds the key (shown in the audit history).
        #[arg(long)]
        name: String,
    },
    /// Revoke the active key with this name (or id).
    Revoke {
        /// The key's name or id.
        name: String,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    // Tools work on their input alone: no settings, no services.
    let command = match cli.command {
        Command::CheckDocument { file } => return tools::check_document::run(stdin_if_dash(file)),
        Command::ReadDocument { file } => return tools::read_document::run(&file),
        Command::Quote { file } => return tools::quote::run(stdin_if_dash(file)),
        Command::Calendar { cmd } => return tools::calendar::run(cmd),
        Command::Policies { cmd } => return tools::policies::run(cmd),
        Command::SandboxGateway(args) => return tools::sandbox_gateway::run(args),
        other => other,
    };
    if let Command::Keys {
        cmd: KeysCmd::Generate { id },
    } = &command
    {
        let id = id
            .clone()
            .unwrap_or_else(|| format!("k{}", chrono::Utc::now().format("%Y%m%d")));
        return match shared::documents::DocumentKeys::generate(&id) {
            Ok(line) => {
                println!("{line}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("refundd: {e}");
                ExitCode::from(2)
            }
        };
    }
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("refundd: {e}");
            return ExitCode::from(2);
        }
    };
    // The services and `keys rotate` need real document keys (or a development machine).
    let handles_documents = matches!(
        command,
        Command::Api
            | Command::Worker { .. }
            | Command::All
            | Command::IntakeEmail
            | Command::Keys {
                cmd: KeysCmd::Rotate
            }
    );
    if handles_documents && let Err(e) = settings.require_document_keys() {
        eprintln!("refundd: {e}");
        return ExitCode::from(2);
    }
    shared::telemetry::init(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("refundd: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let outcome = run(command, settings).await;
        // Let the broker connections' I/O threads see their close before the runtime goes.
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        outcome
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<BadInput>().is_some() => {
            eprintln!("refundd: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "refundd stopped on an error");
            eprintln!("refundd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command, settings: Settings) -> anyhow::Result<()> {
    let shutdown = signals::shutdown_on_signal();
    match command {
        Command::Migrate => {
            shared::db::create_if_missing(&settings.database_url).await?;
            let pool = shared::db::connect(&settings.database_url, 2).await?;
            shared::db::migrate(&pool).await?;
            tracing::info!(
                database = settings.database_url_redacted(),
                "schema is up to date"
            );
            Ok(())
        }
        Command::Api => serve(settings, Mode::Api, shutdown).await,
        Command::Worker { role } => serve(settings, Mode::Worker(role), shutdown).await,
        Command::IntakeEmail => serve(settings, Mode::IntakeEmail, shutdown).await,
        Command::All => serve(settings, Mode::All, shutdown).await,
        Command::ApiKey { cmd } => api_key(cmd, &settings).await,
        Command::Keys {
            cmd: KeysCmd::Rotate,
        } => {
            let pool = shared::db::connect(&settings.database_url, 2).await?;
            let keys = settings.service_document_keys()?;
            let n = shared::documents::rotate(&pool, &keys).await?;
            let emails = shared::inbound_emails::rotate(&pool, &keys).await?;
            eprintln!(
                "{n} document(s) and {emails} kept email(s) re-encrypted under key {:?}",
                keys.active_id()
            );
            Ok(())
        }
        Command::PurgeDocuments { days } => {
            let pool = shared::db::connect(&settings.database_url, 2).await?;
            let days = days.unwrap_or(settings.document_retention_days);
            let n = shared::documents::purge(&pool, days).await?;
            let emails = shared::inbound_emails::purge(&pool, days).await?;
            eprintln!(
                "{n} document(s) and the texts of {emails} email(s) purged (requests ended, or \
                 emails of no request received, more than {days} days ago)"
            );
            Ok(())
        }
        Command::Payouts {
            cmd: PayoutsCmd::Export { merchant, .. },
        } => {
            if let Some(m) = &merchant {
                let merchants = workers::app::load_reference_data(&settings)?.merchants;
                known_merchant(&merchants, m, "")?;
            }
            let pool = shared::db::connect(&settings.database_url, 2).await?;
            let mut conn = pool.acquire().await?;
            let rows =
                workers::api::payouts::manual_payouts(&mut conn, merchant.as_deref()).await?;
            print!("{}", workers::api::payouts::to_csv(&rows));
            eprintln!("{} manual payout(s)", rows.len());
            Ok(())
        }
        Command::Payouts {
            cmd: PayoutsCmd::NeedsPerson { merchant },
        } => {
            let pool = shared::db::connect(&settings.database_url, 2).await?;
            let mut conn = pool.acquire().await?;
            let rows =
                shared::payout_person::needing_person(&mut conn, merchant.as_deref(), None).await?;
            for w in &rows {
                let text = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                println!(
                    "{}\t{}\t{}\t{} {}\t{}\t{} {}\tsince {}\t{}\t[{}]",
                    w.request_id,
                    text(&w.merchant),
                    w.state,
                    text(&w.amount),
                    text(&w.currency),
                    text(&w.gateway),
                    text(&w.attempt),
                    text(&w.attempt_status),
                    w.since.to_rfc3339(),
                    w.why,
                    w.actions.join(", ")
                );
            }
            eprintln!("{} payout(s) waiting on a person", rows.len());
            Ok(())
        }
        Command::Payouts {
            cmd: PayoutsCmd::Retry(action),
        } => payout_action(&settings, action, shared::payout_person::Action::Retry).await,
        Command::Payouts {
            cmd: PayoutsCmd::RecordExternal { action, reference },
        } => {
            payout_action(
                &settings,
                action,
                shared::payout_person::Action::RecordExternal { reference },
            )
            .await
        }
        Command::Payouts {
            cmd:
                PayoutsCmd::BankTransfer {
                    action,
                    bank_details,
                    account_holder,
                },
        } => {
            payout_action(
                &settings,
                action,
                shared::payout_person::Action::BankTransfer {
                    bank_details,
                    account_holder,
                },
            )
            .await
        }
        Command::Reconcile { merchant, date } => {
            let reference = workers::app::load_reference_data(&settings)?;
            known_merchant(&reference.merchants, &merchant, "")?;
            let (gateway, tz) = workers::app::reconciler_of(&settings, &reference, &merchant)?;
            let day = date.unwrap_or_else(|| {
                (chrono::Utc::now().with_timezone(&tz).date_naive())
                    .pred_opt()
                    .expect("a day before today")
            });
            let pool = shared::db::connect(&settings.database_url, 2).await?;
            let mut conn = pool.acquire().await?;
            let report = shared::reconcile::run(&mut conn, &gateway, &merchant, day, tz)
                .await
                .map_err(|e| anyhow::anyhow!("cannot reconcile {merchant} {day}: {e}"))?;
            if let Some(why) = &report.unsupported {
                println!("{merchant} {day}: not reconciled: {why}");
                return Ok(());
            }
            println!(
                "{merchant} {day} ({tz}): {} refund(s) at the gateway, {} of ours, {} difference(s)",
                report.at_gateway,
                report.ours,
                report.differences.len()
            );
            for d in &report.differences {
                println!("{d}");
            }
            if !report.differences.is_empty() {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Demo { api_url } => workers::demo::run(&settings, &api_url).await,
        Command::Parking {
            cmd: ParkingCmd::List(filter),
        } => {
            let topology = shared::broker::Topology::from_settings(&settings);
            let parked =
                shared::broker::parking::list(&settings.amqp_url, &topology, &filter.filter())
                    .await?;
            for p in &parked {
                println!("{}", parked_line(p));
            }
            eprintln!("{} parked message(s)", parked.len());
            Ok(())
        }
        Command::Parking {
            cmd: ParkingCmd::Replay(filter),
        } => {
            let topology = shared::broker::Topology::from_settings(&settings);
            let pool = shared::db::connect(&settings.database_url, 2).await?;
            let finished = |ids: Vec<uuid::Uuid>| async move {
                shared::requests::over_among(&pool, &ids).await
            };
            let done = shared::broker::parking::replay(
                &settings.amqp_url,
                &topology,
                &filter.filter(),
                finished,
            )
            .await?;
            for p in &done.replayed {
                println!("replayed\t{}", parked_line(p));
            }
            for p in &done.dropped {
                println!("dropped (request finished)\t{}", parked_line(p));
            }
            eprintln!(
                "{} replayed, {} dropped (their request has finished), {} left in parking",
                done.replayed.len(),
                done.dropped.len(),
                done.kept
            );
            Ok(())
        }
        Command::CheckDocument { .. }
        | Command::ReadDocument { .. }
        | Command::Quote { .. }
        | Command::Policies { .. }
        | Command::Calendar { .. }
        | Command::SandboxGateway(_)
        | Command::Keys {
            cmd: KeysCmd::Generate { .. },
        } => {
            unreachable!("tools return before the runtime starts")
        }
    }
}

/// A FILE argument of `-` means standard input, as in other Unix tools.
/// Builds the process `mode` describes and runs it until `shutdown`.
async fn serve(
    settings: Settings,
    mode: Mode,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    // A service started while the database is down (a restart during an outage) waits for
    // it, saying why, instead of exiting; a stop signal ends the wait.
    let app = tokio::select! {
        app = App::build(settings, mode) => app?,
        () = shutdown.cancelled() => return Ok(()),
    };
    app.run(shutdown).await
}

fn stdin_if_dash(file: Option<PathBuf>) -> Option<PathBuf> {
    file.filter(|path| path.as_os_str() != "-")
}

/// Help and version print as clap prints them; any other usage error is one line on stderr
/// (the lines of clap's message before its usage section, joined) and exit code 2.
fn usage_error(e: clap::Error) -> ExitCode {
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        e.exit();
    }
    let rendered = e.render().to_string();
    let message: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with("Usage:"))
        .filter(|line| !line.is_empty())
        .collect();
    eprintln!(
        "refundd: {}",
        message.join(" ").trim_start_matches("error: ")
    );
    ExitCode::from(2)
}

/// A command line that names something wrong (an unknown merchant, ...): exit code 2, as for
/// any other usage error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadInput(String);

async fn api_key(cmd: ApiKeyCmd, settings: &Settings) -> anyhow::Result<()> {
    match cmd {
        ApiKeyCmd::Create {
            role,
            merchant,
            name,
        } => {
            let scope = key_scope(role, merchant, settings)?;
            let pool = shared::db::connect(&settings.database_url, 2).await?;
            let key = match shared::api_keys::create(&pool, role, &scope, &name).await {
                Err(e @ shared::api_keys::ApiKeyError::BadName) => {
                    return Err(BadInput(e.to_string()).into());
                }
                other => other?,
            };
            eprintln!(
                "API key {name:?} ({role}, merchant {scope}) created; it is shown only this once:"
            );
            println!("{}", key.secret);
        }
        ApiKeyCmd::Revoke { name } => {
            let pool = shared::db::connect(&settings.database_url, 2).await?;
            if shared::api_keys::revoke(&pool, &name).await? {
                eprintln!("API key {name:?} revoked");
            } else {
                anyhow::bail!("no active API key named {name:?}");
            }
        }
    }
    Ok(())
}

/// The merchants file's ids, for messages.
fn merchant_ids(merchants: &shared::merchants::Merchants) -> String {
    merchants
        .all()
        .map(|m| m.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Refuses (exit code 2) a `--merchant` the merchants file does not know, naming the ones it
/// does (and `also`, other accepted values).
fn known_merchant(
    merchants: &shared::merchants::Merchants,
    id: &str,
    also: &str,
) -> Result<(), BadInput> {
    if merchants.get(id).is_some() {
        return Ok(());
    }
    Err(BadInput(format!(
        "--merchant {id}: no such merchant in the merchants file; merchants are {}{also}",
        merchant_ids(merchants)
    )))
}

/// The merchant a new key reaches: one from the merchants file, or all of them for a role
/// that may span merchants. Checked before anything is written.
fn key_scope(
    role: ApiRole,
    merchant: Option<MerchantScope>,
    settings: &Settings,
) -> anyhow::Result<MerchantScope> {
    let merchants = workers::app::load_reference_data(settings)?.merchants;
    let all = MerchantScope::ALL_MERCHANTS;
    let scope = merchant.ok_or_else(|| {
        BadInput(format!(
            "--merchant is required: the id of the merchant whose data the key reaches ({}), or {all} (supervisor, viewer and intake keys only)",
            merchant_ids(&merchants)
        ))
    })?;
    match &scope {
        MerchantScope::Merchant(id) => {
            known_merchant(&merchants, id, &format!(", or {all}"))?;
            Ok(scope)
        }
        MerchantScope::AllMerchants if !role.may_span_merchants() => {
            Err(BadInput(shared::api_keys::ApiKeyError::MustNameMerchant(role).to_string()).into())
        }
        _ => Ok(scope),
    }
}
