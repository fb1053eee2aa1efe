//! The sandbox gateway's ledger: seeded payments and every refund booked, kept in memory and
//! appended to a JSON-lines file before an answer leaves, so a restart keeps it. Owns the
//! booking rules: one booking per idempotency key, never more refunded than captured, card
//! status and forced declines.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::{
    CardStatus, LedgerView, PaymentSeed, RefundRecord, RefundRequest, RefundStatus,
    TransactionTotals,
};
use crate::gateway::DeclineCode;
use crate::money::Money;

/// One line of the ledger file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "entry", rename_all = "snake_case")]
enum Entry {
    Payment(PaymentSeed),
    Refund(RefundRecord),
}

/// Why the ledger file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// Creating, opening, reading or writing the ledger file failed.
    #[error("{path}: {reason}")]
    Io {
        /// The ledger file.
        path: PathBuf,
        /// The error, as text.
        reason: String,
    },
    /// An entry could not be read back or applied.
    #[error("{path}, line {line}: {problem}")]
    BadLine {
        /// The ledger file (empty for an in-memory ledger).
        path: PathBuf,
        /// The line number, counting from 1; 0 for an entry being recorded now.
        line: usize,
        /// What was wrong with the entry.
        problem: String,
    },
}

/// What a booking attempt did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Booking {
    /// A new record (succeeded or declined) was written.
    Booked(RefundRecord),
    /// The key was seen before with the same details: nothing new was written.
    Replayed(RefundRecord),
    /// The key was used before for a different refund.
    KeyReused(RefundRecord),
}

/// What seeding a payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seeding {
    /// The payment was new and has been recorded.
    Added,
    /// The same seed was recorded before; nothing was written.
    AlreadyKnown,
    /// The transaction id was seeded before with other details; holds the earlier seed.
    Conflicts(PaymentSeed),
}

struct Payment {
    seed: PaymentSeed,
    captured: Money,
    refunded: Money,
    refund_count: usize,
}

/// The ledger. Callers serialise access (the server holds it behind one mutex), which is
/// what makes the idempotency and captured-amount checks safe under concurrent requests.
pub struct Ledger {
    payments: BTreeMap<String, Payment>,
    refunds: HashMap<String, RefundRecord>,
    order: Vec<String>,
    file: Option<(PathBuf, File)>,
}

impl Ledger {
    /// A ledger kept in memory only.
    pub fn in_memory() -> Self {
        Self {
            payments: BTreeMap::new(),
            refunds: HashMap::new(),
            order: Vec::new(),
            file: None,
        }
    }

    /// Opens (creating if needed) the ledger file at `path` and replays it.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let io = |e: std::io::Error| LedgerError::Io {
            path: path.to_path_buf(),
            reason: e.to_string(),
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut ledger = Self::in_memory();
        if path.exists() {
            let reader = BufReader::new(File::open(path).map_err(io)?);
            for (i, line) in reader.lines().enumerate() {
                let line = line.map_err(io)?;
                if line.trim().is_empty() {
                    continue;
                }
                let bad = |problem: String| LedgerError::BadLine {
                    path: path.to_path_buf(),
                    line: i + 1,
                    problem,
                };
                let entry: Entry = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
                ledger.apply(entry).map_err(bad)?;
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        ledger.file = Some((path.to_path_buf(), file));
        Ok(ledger)
    }

    fn apply(&mut self, entry: Entry) -> Result<(), String> {
        match entry {
            Entry::Payment(seed) => {
                let captured =
                    Money::parse(&seed.amount, seed.currency).map_err(|e| e.to_string())?;
                self.payments.insert(
                    seed.transaction_id.clone(),
                    Payment {
                        captured,
                        refunded: Money::zero(seed.currency),
                        refund_count: 0,
                        seed,
                    },
                );
            }
            Entry::Refund(record) => {
                if record.status == RefundStatus::Succeeded {
                    let amount =
                        Money::parse(&record.amount, record.currency).map_err(|e| e.to_string())?;
                    let payment =
                        self.payments
                            .get_mut(&record.transaction_id)
                            .ok_or_else(|| {
                                format!("refund of unknown transaction {}", record.transaction_id)
                            })?;
                    payment.refunded = payment
                        .refunded
                        .checked_add(amount)
                        .map_err(|e| e.to_string())?;
                    payment.refund_count += 1;
                }
                self.order.push(record.idempotency_key.clone());
                self.refunds.insert(record.idempotency_key.clone(), record);
            }
        }
        Ok(())
    }

    /// Writes `entry` to the file (flushed and synced) and then applies it in memory.
    fn record(&mut self, entry: Entry) -> Result<(), LedgerError> {
        if let Some((path, file)) = &mut self.file {
            let io = |e: std::io::Error| LedgerError::Io {
                path: path.clone(),
                reason: e.to_string(),
            };
            let mut line = serde_json::to_string(&entry).map_err(|e| LedgerError::Io {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            line.push('\n');
            file.write_all(line.as_bytes()).map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        self.apply(entry).map_err(|problem| LedgerError::BadLine {
            path: self
                .file
                .as_ref()
                .map(|(p, _)| p.clone())
                .unwrap_or_default(),
            line: 0,
            problem,
        })
    }

    /// Seeds a captured payment; the same seed twice is harmless.
    pub fn seed(&mut self, seed: PaymentSeed) -> Result<Seeding, LedgerError> {
        if let Some(known) = self.payments.get(&seed.transaction_id) {
            return Ok(if known.seed == seed {
                Seeding::AlreadyKnown
            } else {
                Seeding::Conflicts(known.seed.clone())
            });
        }
        self.record(Entry::Payment(seed))?;
        Ok(Seeding::Added)
    }

    /// Books `request` (whose amount is already parsed as `amount`), declining it with
    /// `forced_decline` when set.
    pub fn book(
        &mut self,
        request: &RefundRequest,
        amount: Money,
        forced_decline: Option<&DeclineCode>,
    ) -> Result<Booking, LedgerError> {
        if let Some(existing) = self.refunds.get(&request.idempotency_key) {
            let same = existing.transaction_id == request.transaction_id
                && existing.currency == request.currency
                && Money::parse(&existing.amount, existing.currency).ok() == Some(amount);
            return Ok(if same {
                Booking::Replayed(existing.clone())
            } else {
                Booking::KeyReused(existing.clone())
            });
        }
        let decline = self.decline_reason(request, amount, forced_decline);
        let record = RefundRecord {
            refund_id: format!("sbx_re_{}", uuid::Uuid::now_v7().simple()),
            idempotency_key: request.idempotency_key.clone(),
            transaction_id: request.transaction_id.clone(),
            amount: amount.amount_text(),
            currency: amount.currency(),
            status: if decline.is_some() {
                RefundStatus::Declined
            } else {
                RefundStatus::Succeeded
            },
            booked_at: Utc::now(),
            reason: decline.as_ref().map(|(_, reason)| reason.clone()),
            decline_code: decline.map(|(code, _)| code),
        };
        self.record(Entry::Refund(record.clone()))?;
        Ok(Booking::Booked(record))
    }

    fn decline_reason(
        &self,
        request: &RefundRequest,
        amount: Money,
        forced: Option<&DeclineCode>,
    ) -> Option<(DeclineCode, String)> {
        let Some(payment) = self.payments.get(&request.transaction_id) else {
            return Some((
                DeclineCode::Other("unknown_transaction".into()),
                format!(
                    "no captured payment {} is known to the sandbox",
                    request.transaction_id
                ),
            ));
        };
        if payment.captured.currency() != amount.currency() {
            return Some((
                DeclineCode::Other("currency_mismatch".into()),
                format!(
                    "the payment was captured in {}, not {}",
                    payment.captured.currency(),
                    amount.currency()
                ),
            ));
        }
        if let Some(code) = forced {
            return Some((
                code.clone(),
                "declined by the sandbox's --decline flag".into(),
            ));
        }
        match payment.seed.card_status {
            CardStatus::Expired => {
                return Some((DeclineCode::CardExpired, "the card has expired".into()));
            }
            CardStatus::Closed => {
                return Some((DeclineCode::CardClosed, "the card account is closed".into()));
            }
            CardStatus::Active => {}
        }
        let remaining = payment
            .captured
            .checked_sub(payment.refunded)
            .unwrap_or(payment.captured);
        if amount.minor() > remaining.minor() {
            return Some((
                DeclineCode::AmountExceedsCaptured,
                format!(
                    "{} exceeds what is left to refund ({} of {} captured)",
                    amount, remaining, payment.captured
                ),
            ));
        }
        None
    }

    /// The record booked (or declined) under this idempotency key, if any.
    pub fn refund(&self, idempotency_key: &str) -> Option<&RefundRecord> {
        self.refunds.get(idempotency_key)
    }

    /// Every refund booked, in order, and totals per seeded transaction; optionally for one
    /// transaction only.
    pub fn view(&self, transaction_id: Option<&str>) -> LedgerView {
        let wanted = |id: &str| transaction_id.is_none_or(|t| t == id);
        LedgerView {
            refunds: self
                .order
                .iter()
                .filter_map(|k| self.refunds.get(k))
                .filter(|r| wanted(&r.transaction_id))
                .cloned()
                .collect(),
            transactions: self
                .payments
                .values()
                .filter(|p| wanted(&p.seed.transaction_id))
                .map(|p| TransactionTotals {
                    transaction_id: p.seed.transaction_id.clone(),
                    currency: p.captured.currency(),
                    card_status: p.seed.card_status,
                    captured: p.captured.amount_text(),
                    refunded: p.refunded.amount_text(),
                    remaining: p
                        .captured
                        .checked_sub(p.refunded)
                        .unwrap_or(p.captured)
                        .amount_text(),
                    refund_count: p.refund_count,
                })
                .collect(),
        }
    }
}
