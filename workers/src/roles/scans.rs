//! Reading identity documents from their pictures, for the validate stage: documents that
//! arrived without fields (an upload with only the file; email attachments that may be
//! identity documents) carry `validation.scan = "pending"` until read here.
//!
//! Each picture is decrypted and read by [`docscan`] on the blocking pool (at most one per
//! core at once, so a slow scan never holds an async thread) and judged by
//! [`shared::identity::scan`]. A valid reading fills the document's fields and runs the usual
//! checks against the request (expiry on the received date, birth date against the national
//! number, holder against the payer): an email attachment becomes an identity document. A
//! reading that is not valid changes nothing the policy counts; it is kept on the document
//! as a suggestion for a person, with why it was not taken. Either way the request's history
//! gets a "read from the scan" event with the masked number. No database connection is held
//! while a picture is read.

use std::sync::Arc;

use serde_json::{Value, json};
use shared::documents::{self, DocumentKeys, SCAN_READ};
use shared::identity::scan::{ScanReport, assess};
use shared::identity::{self, DocumentInput, mask_document_number};
use shared::policy::PolicyPacks;
use shared::{payments, requests, transition};
use sqlx::PgPool;
use tokio::sync::Semaphore;
use uuid::Uuid;

/// Who the history names for a reading.
const ACTOR: &str = "worker:validate";

/// Reads pending pictures; shared by the validate handlers of one process.
pub struct Scans {
    keys: DocumentKeys,
    permits: Arc<Semaphore>,
}

/// What reading one document came to: the kind, fields and verdict to record.
struct Read {
    kind: String,
    fields: Value,
    validation: Value,
    note: Value,
}

impl Scans {
    /// Reads with the process's document keys, at most one picture per core at once.
    pub fn new(keys: DocumentKeys) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Self {
            keys,
            permits: Arc::new(Semaphore::new(cores)),
        }
    }

    /// Reads every pending picture of request `id` and records what came of each.
    pub async fn read_pending(
        &self,
        pool: &PgPool,
        packs: &PolicyPacks,
        id: Uuid,
    ) -> anyhow::Result<()> {
        let mut conn = pool.acquire().await?;
        let pending = documents::pending_scans(&mut conn, id).await?;
        if pending.is_empty() {
            return Ok(());
        }
        let record = requests::find(&mut conn, id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("request {id} does not exist"))?;
        let payment = match record.payment_id {
            Some(p) => payments::find(&mut conn, p).await?,
            None => None,
        };
        let expect = requests::identity_expectation(&record, payment.as_ref(), packs);
        // No connection while the pictures are read.
        drop(conn);

        let mut results = Vec::with_capacity(pending.len());
        for doc in pending {
            let read = match doc.sealed {
                Err(why) => unreadable(&doc.kind, &why.to_string()),
                Ok(sealed) => {
                    let _permit = self.permits.acquire().await?;
                    let expect = expect.clone();
                    let kind = doc.kind.clone();
                    let keys = self.keys.clone();
                    // Decrypting (up to 10 MiB) and reading, both on the blocking pool.
                    let work = move || match sealed.open(&keys) {
                        Ok(bytes) => judge(&kind, bytes, &expect),
                        Err(e) => unreadable(&kind, &e.to_string()),
                    };
                    match tokio::task::spawn_blocking(work).await {
                        Ok(read) => read,
                        // A picture that makes the reader panic is recorded as unreadable,
                        // never retried for ever.
                        Err(e) if e.is_panic() => {
                            tracing::error!(request_id = %id, document_id = %doc.id, "the document reader panicked on this picture");
                            unreadable(&doc.kind, "the picture could not be read")
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
            };
            results.push((doc.id, read));
        }

        let mut tx = pool.begin().await?;
        for (doc, read) in &results {
            if documents::record_scan(&mut tx, *doc, &read.kind, &read.fields, &read.validation)
                .await?
            {
                transition::record_note(&mut tx, id, ACTOR, "read from the scan", &read.note)
                    .await?;
                tracing::info!(
                    request_id = %id,
                    document_id = %doc,
                    kind = read.kind,
                    valid = read.validation["valid"].as_bool().unwrap_or(false),
                    format = read.note["format"].as_str().unwrap_or(""),
                    seconds = read.note["seconds"].as_f64().unwrap_or(0.0),
                    "identity document read from the scan"
                );
            }
        }
        tx.commit().await?;
        Ok(())
    }
}

/// A document whose bytes are gone (purged) cannot be read.
fn unreadable(kind: &str, why: &str) -> Read {
    Read {
        kind: kind.to_owned(),
        fields: json!({}),
        validation: json!({
            "valid": false,
            "scan": SCAN_READ,
            "problems": [{"code": "file_damaged", "field": "file", "message": why}],
        }),
        note: json!({"found": false, "valid": false, "problems": ["file_damaged"]}),
    }
}

/// Reads one picture and judges it (on a blocking thread).
fn judge(kind: &str, bytes: Vec<u8>, expect: &identity::Expectation) -> Read {
    let today = expect.on.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let report = match docscan::read_file(&bytes, &docscan::Limits::default()) {
        Ok(outcome) => match &outcome.reading {
            Some(reading) => assess(reading, outcome.seconds, today),
            None => ScanReport::not_found(outcome.seconds),
        },
        Err(e) => {
            let mut report = ScanReport::not_found(0.0);
            report.problems = vec![identity::Problem::new(
                identity::ProblemCode::FileDamaged,
                "file",
                e.to_string(),
            )];
            report
        }
    };
    let masked = report
        .fields
        .document_number
        .as_deref()
        .map(mask_document_number);
    let codes: Vec<&str> = report.problems.iter().map(|p| p.code.as_str()).collect();
    let note = json!({
        "found": report.found,
        "format": report.format,
        "valid": report.valid,
        "document_number": masked,
        "problems": codes,
        "seconds": report.seconds,
    });
    // What was read, numbers masked: kept on the document for the person who checks it.
    let suggestion = json!({
        "format": report.format,
        "document_type": report.fields.document_type,
        "issuing_country": report.fields.issuing_country,
        "document_number": masked,
        "surname": report.fields.surname,
        "given_names": report.fields.given_names,
        "birth_date": report.fields.birth_date,
        "sex": report.fields.sex,
        "expiry_date": report.fields.expiry_date,
        "personal_number": report.fields.personal_number.as_deref().map(mask_document_number),
    });
    if !report.valid {
        // Nothing the policy counts changes: an upload stays an identity document without
        // a valid verdict; an email attachment keeps its file verdict.
        let validation = if kind == "identity_document" {
            json!({
                "valid": false,
                "scan": SCAN_READ,
                "problems": report.problems,
                "suggestion": suggestion,
            })
        } else {
            json!({
                "valid": true,
                "problems": [],
                "scan": SCAN_READ,
                "scan_problems": report.problems,
                "suggestion": report.found.then_some(&suggestion),
            })
        };
        return Read {
            kind: kind.to_owned(),
            fields: json!({}),
            validation,
            note,
        };
    }
    // A valid reading: the document's own checks passed; now the request's.
    let check = identity::check(
        &DocumentInput {
            mrz: report.mrz_text(),
            ..DocumentInput::default()
        },
        expect,
    );
    let fields = json!({
        "country": report.fields.issuing_country,
        "document_number": masked,
        "personal_number": report.fields.personal_number.as_deref().map(mask_document_number),
        "birth_date": report.fields.birth_date,
        "expires_on": report.fields.expiry_date,
        "holder_name": format!(
            "{} {}",
            report.fields.given_names.as_deref().unwrap_or(""),
            report.fields.surname.as_deref().unwrap_or("")
        )
        .trim(),
        "mrz_present": true,
        "read_from_scan": true,
        "format": report.format,
    });
    Read {
        kind: "identity_document".to_owned(),
        fields,
        validation: json!({
            "valid": check.valid,
            "problems": check.problems,
            "name_match": check.name_match,
            "scan": SCAN_READ,
        }),
        note,
    }
}
