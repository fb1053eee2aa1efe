//! Documents customers send (identity documents, application forms, receipts): the bytes are
//! encrypted at rest with AES-256-GCM under a key id kept on each row, so keys can be rotated;
//! only the extracted fields (document numbers masked), a SHA-256 and the validation verdict
//! are stored in clear. Bytes are purged a configurable number of days after the request ends.

use std::collections::BTreeMap;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

/// Key id of the development key used when no key is configured.
pub const DEVELOPMENT_KEY_ID: &str = "dev";

/// The encryption keys: the first one encrypts, every one can decrypt.
#[derive(Clone)]
pub struct DocumentKeys {
    active: String,
    keys: BTreeMap<String, [u8; 32]>,
}

impl std::fmt::Debug for DocumentKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key material.
        f.debug_struct("DocumentKeys")
            .field("active", &self.active)
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why storing, reading or rotating an encrypted document failed.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// `REFUNDD_DOCUMENT_KEYS` could not be parsed; the text says what is wrong.
    #[error("REFUNDD_DOCUMENT_KEYS: {0}")]
    BadKeys(String),
    /// The document's row names a key id that is not configured.
    #[error("document {id} is encrypted with key {key_id:?}, which is not configured")]
    UnknownKey {
        /// The document's id.
        id: Uuid,
        /// The key id stored on the document's row.
        key_id: String,
    },
    /// Decryption failed: the key is wrong or the ciphertext is damaged or belongs to another row.
    #[error("document {0} could not be decrypted (wrong key or damaged)")]
    Decrypt(Uuid),
    /// The document's bytes were deleted after retention; its fields, hash and verdict remain.
    #[error("document {0} has been purged")]
    Purged(Uuid),
    /// No document has this id.
    #[error("document {0} does not exist")]
    NotFound(Uuid),
    /// A database error.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl DocumentKeys {
    /// Parses `id:base64key,id2:base64key` (32-byte keys); the first is the active one.
    pub fn parse(text: &str) -> Result<Self, DocumentError> {
        let mut keys = BTreeMap::new();
        let mut active = None;
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (id, key) = item.split_once(':').ok_or_else(|| {
                DocumentError::BadKeys("expected id:base64key, got an item without ':'".to_string())
            })?;
            let bytes = BASE64
                .decode(key.trim())
                .map_err(|_| DocumentError::BadKeys(format!("key {id:?} is not valid base64")))?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| {
                DocumentError::BadKeys(format!("key {id:?} must be 32 bytes (256 bits)"))
            })?;
            if keys.insert(id.to_string(), key).is_some() {
                return Err(DocumentError::BadKeys(format!("key id {id:?} given twice")));
            }
            active.get_or_insert_with(|| id.to_string());
        }
        let active = active.ok_or_else(|| DocumentError::BadKeys("no key given".into()))?;
        Ok(Self { active, keys })
    }

    /// A fixed key for demos and tests. Production sets `REFUNDD_DOCUMENT_KEYS`.
    pub fn development() -> Self {
        let key: [u8; 32] = Sha256::digest(b"refundd development document key").into();
        Self {
            active: DEVELOPMENT_KEY_ID.into(),
            keys: BTreeMap::from([(DEVELOPMENT_KEY_ID.to_string(), key)]),
        }
    }

    /// A new key as one `id:base64key` item of `REFUNDD_DOCUMENT_KEYS`: 32 bytes from the
    /// operating system's random source.
    pub fn generate(id: &str) -> Result<String, DocumentError> {
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(DocumentError::BadKeys(format!(
                "key id {id:?}: use letters, digits, '-', '_' or '.'"
            )));
        }
        let key = Aes256Gcm::generate_key(&mut OsRng);
        Ok(format!("{id}:{}", BASE64.encode(key)))
    }

    /// The id of the key new documents are encrypted with.
    pub fn active_id(&self) -> &str {
        &self.active
    }

    fn cipher(&self, id: &str) -> Option<Aes256Gcm> {
        self.keys
            .get(id)
            .map(|k| Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(k)))
    }

    /// Encrypts with the active key; the document id is bound in as associated data, so a
    /// ciphertext cannot be moved to another row.
    pub fn encrypt(&self, document_id: Uuid, plain: &[u8]) -> (String, Vec<u8>, Vec<u8>) {
        let cipher = self.cipher(&self.active).expect("the active key exists");
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: document_id.as_bytes(),
                },
            )
            .expect("AES-GCM encryption does not fail for in-memory data");
        (self.active.clone(), nonce.to_vec(), sealed)
    }

    /// Decrypts a stored document with the key its row names. Fails when that key is not
    /// configured, or when the ciphertext was not sealed for this document id.
    pub fn decrypt(
        &self,
        document_id: Uuid,
        key_id: &str,
        nonce: &[u8],
        sealed: &[u8],
    ) -> Result<Vec<u8>, DocumentError> {
        let cipher = self
            .cipher(key_id)
            .ok_or_else(|| DocumentError::UnknownKey {
                id: document_id,
                key_id: key_id.to_string(),
            })?;
        if nonce.len() != 12 {
            return Err(DocumentError::Decrypt(document_id));
        }
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: sealed,
                    aad: document_id.as_bytes(),
                },
            )
            .map_err(|_| DocumentError::Decrypt(document_id))
    }
}

/// A document to store.
pub struct NewDocument<'a> {
    /// The refund request the document belongs to.
    pub request_id: Uuid,
    /// `identity_document`, `refund_application` or `payment_receipt`.
    pub kind: &'a str,
    /// The MIME type as uploaded or as the email part declared it, if known.
    pub content_type: Option<&'a str>,
    /// The plain bytes; [`store`] encrypts them before they reach the database.
    pub bytes: &'a [u8],
    /// Extracted fields, document numbers already masked.
    pub fields: Value,
    /// The validation verdict (`valid`, `problems`).
    pub validation: Value,
}

/// Stores a document encrypted; returns its id.
pub async fn store(
    conn: &mut PgConnection,
    keys: &DocumentKeys,
    doc: &NewDocument<'_>,
) -> Result<Uuid, DocumentError> {
    let id = Uuid::now_v7();
    let (key_id, nonce, sealed) = keys.encrypt(id, doc.bytes);
    sqlx::query!(
        r#"INSERT INTO documents (id, request_id, kind, content_type, size_bytes, sha256, fields,
                                  ciphertext, nonce, key_id, validation)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#,
        id,
        doc.request_id,
        doc.kind,
        doc.content_type,
        doc.bytes.len() as i32,
        hex::encode(Sha256::digest(doc.bytes)),
        doc.fields,
        sealed,
        nonce,
        key_id,
        doc.validation
    )
    .execute(conn)
    .await?;
    Ok(id)
}

/// A stored document's bytes as kept: encrypted, with what opens them.
pub struct Sealed {
    id: Uuid,
    key_id: String,
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl Sealed {
    /// The plain bytes. CPU work proportional to the size (up to the upload limit): callers on
    /// an async thread with large files may move it to the blocking pool.
    pub fn open(&self, keys: &DocumentKeys) -> Result<Vec<u8>, DocumentError> {
        keys.decrypt(self.id, &self.key_id, &self.nonce, &self.ciphertext)
    }
}

/// A stored document's encrypted bytes ([`Sealed::open`] gives the plain ones).
pub async fn read_sealed(conn: &mut PgConnection, id: Uuid) -> Result<Sealed, DocumentError> {
    let row = sqlx::query!(
        "SELECT ciphertext, nonce, key_id, purged_at FROM documents WHERE id = $1",
        id
    )
    .fetch_optional(conn)
    .await?
    .ok_or(DocumentError::NotFound(id))?;
    Sealed::from_row(id, row.ciphertext, row.nonce, row.key_id, row.purged_at)
}

impl Sealed {
    /// The sealed bytes of a row, or `Purged` when retention deleted them.
    fn from_row(
        id: Uuid,
        ciphertext: Option<Vec<u8>>,
        nonce: Option<Vec<u8>>,
        key_id: Option<String>,
        purged_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Result<Self, DocumentError> {
        match (ciphertext, nonce, key_id) {
            (Some(ciphertext), Some(nonce), Some(key_id)) if purged_at.is_none() => Ok(Self {
                id,
                key_id,
                nonce,
                ciphertext,
            }),
            _ => Err(DocumentError::Purged(id)),
        }
    }
}

/// The plain bytes of a stored document.
pub async fn read(
    conn: &mut PgConnection,
    keys: &DocumentKeys,
    id: Uuid,
) -> Result<Vec<u8>, DocumentError> {
    read_sealed(conn, id).await?.open(keys)
}

/// The value of `validation.scan` on a document whose picture the validate stage has still to
/// read (an identity document that arrived without fields).
pub const SCAN_PENDING: &str = "pending";

/// The value of `validation.scan` once the picture was read (whatever came of it).
pub const SCAN_READ: &str = "read";

/// A document whose picture is still to be read: its id, kind and sealed bytes.
pub struct PendingScan {
    /// The document's id.
    pub id: Uuid,
    /// Its kind (`identity_document` or `email_attachment`).
    pub kind: String,
    /// Its bytes, still encrypted (`Purged` when retention deleted them).
    pub sealed: Result<Sealed, DocumentError>,
}

/// The documents of a request whose pictures are still to be read, with their bytes: one
/// query for all of them.
pub async fn pending_scans(
    conn: &mut PgConnection,
    request_id: Uuid,
) -> sqlx::Result<Vec<PendingScan>> {
    let rows = sqlx::query!(
        "SELECT id, kind, ciphertext, nonce, key_id, purged_at FROM documents
          WHERE request_id = $1 AND validation->>'scan' = 'pending'
          ORDER BY id",
        request_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| PendingScan {
            id: r.id,
            kind: r.kind,
            sealed: Sealed::from_row(r.id, r.ciphertext, r.nonce, r.key_id, r.purged_at),
        })
        .collect())
}

/// Records what was read from a document's picture: its kind (an email attachment found to
/// be an identity document becomes one), fields added to those it has, and the new verdict.
/// Only a document still pending changes; `false` when another reader was first.
pub async fn record_scan(
    conn: &mut PgConnection,
    id: Uuid,
    kind: &str,
    fields: &Value,
    validation: &Value,
) -> sqlx::Result<bool> {
    let updated = sqlx::query!(
        "UPDATE documents SET kind = $2, fields = fields || $3, validation = $4
          WHERE id = $1 AND validation->>'scan' = 'pending'",
        id,
        kind,
        fields,
        validation
    )
    .execute(conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// A document's kind and validation verdict, as the validate worker reads them.
#[derive(Debug, Clone)]
pub struct DocumentSummary {
    /// The document's id.
    pub id: Uuid,
    /// The document's kind, e.g. `identity_document` or `email_attachment`.
    pub kind: String,
    /// The validation verdict (`valid`, `problems`), if one was recorded.
    pub validation: Option<Value>,
}

impl DocumentSummary {
    /// Whether its picture is still to be read ([`SCAN_PENDING`]).
    pub fn scan_pending(&self) -> bool {
        self.validation
            .as_ref()
            .is_some_and(|v| v["scan"] == SCAN_PENDING)
    }

    /// Whether the verdict says `valid: true`; no verdict counts as not valid.
    pub fn is_valid(&self) -> bool {
        self.validation
            .as_ref()
            .and_then(|v| v["valid"].as_bool())
            .unwrap_or(false)
    }
}

/// The documents of a request with their kinds and verdicts, in the order they were stored.
pub async fn for_request(
    conn: &mut PgConnection,
    request_id: Uuid,
) -> sqlx::Result<Vec<DocumentSummary>> {
    sqlx::query_as!(
        DocumentSummary,
        "SELECT id, kind, validation FROM documents WHERE request_id = $1 ORDER BY id",
        request_id
    )
    .fetch_all(conn)
    .await
}

/// Re-encrypts every document not under the active key. Returns how many were rotated.
pub async fn rotate(pool: &sqlx::PgPool, keys: &DocumentKeys) -> Result<u64, DocumentError> {
    let mut rotated = 0;
    loop {
        let mut tx = pool.begin().await?;
        let rows = sqlx::query!(
            r#"SELECT id, ciphertext AS "ciphertext!", nonce AS "nonce!", key_id AS "key_id!"
                 FROM documents
                WHERE purged_at IS NULL AND ciphertext IS NOT NULL AND key_id <> $1
                LIMIT 100 FOR UPDATE SKIP LOCKED"#,
            keys.active_id()
        )
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            tx.commit().await?;
            return Ok(rotated);
        }
        for row in rows {
            let plain = keys.decrypt(row.id, &row.key_id, &row.nonce, &row.ciphertext)?;
            let (key_id, nonce, sealed) = keys.encrypt(row.id, &plain);
            sqlx::query!(
                "UPDATE documents SET ciphertext = $2, nonce = $3, key_id = $4 WHERE id = $1",
                row.id,
                sealed,
                nonce,
                key_id
            )
            .execute(&mut *tx)
            .await?;
            rotated += 1;
        }
        tx.commit().await?;
    }
}

/// Deletes the bytes of documents whose request ended more than `days` days ago; the
/// fields, hash and verdict stay. Returns how many were purged. The texts of emails go on the
/// same schedule (`inbound_emails::purge`).
pub async fn purge(pool: &sqlx::PgPool, days: u32) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        r#"UPDATE documents d
              SET ciphertext = NULL, nonce = NULL, purged_at = now()
             FROM refund_requests r
            WHERE d.request_id = r.id
              AND d.purged_at IS NULL
              AND r.ended_at IS NOT NULL
              AND r.ended_at < now() - make_interval(days => $1)"#,
        days as i32
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypts_and_decrypts_with_the_row_bound_in() {
        let keys = DocumentKeys::development();
        let id = Uuid::now_v7();
        let (key_id, nonce, sealed) = keys.encrypt(id, b"passport scan");
        assert_ne!(sealed, b"passport scan");
        assert_eq!(
            keys.decrypt(id, &key_id, &nonce, &sealed).unwrap(),
            b"passport scan"
        );
        assert!(matches!(
            keys.decrypt(Uuid::now_v7(), &key_id, &nonce, &sealed),
            Err(DocumentError::Decrypt(_))
        ));
    }

    #[test]
    fn keys_parse_and_the_first_is_active() {
        let k1 = BASE64.encode([1u8; 32]);
        let k2 = BASE64.encode([2u8; 32]);
        let keys = DocumentKeys::parse(&format!("2026b:{k2}, 2026a:{k1}")).unwrap();
        assert_eq!(keys.active_id(), "2026b");
        assert!(!format!("{keys:?}").contains(&k1));
        assert!(DocumentKeys::parse("a:short").is_err());
        assert!(DocumentKeys::parse("").is_err());
        let id = Uuid::now_v7();
        let old = DocumentKeys::parse(&format!("2026a:{k1}")).unwrap();
        let (kid, nonce, sealed) = old.encrypt(id, b"x");
        assert_eq!(keys.decrypt(id, &kid, &nonce, &sealed).unwrap(), b"x");
    }
}
