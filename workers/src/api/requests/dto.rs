//! What the refund-request endpoints take and answer: bodies, views, pages and queries, with
//! their OpenAPI schemas and text limits.

use super::*;

/// Which payment the refund is for: its id, or the gateway and its transaction id.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentRef {
    pub id: Option<Uuid>,
    #[schema(max_length = 200)]
    pub gateway: Option<String>,
    #[schema(max_length = 200)]
    pub transaction_id: Option<String>,
}

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    #[schema(max_length = 254)]
    pub email: String,
    /// One line.
    #[schema(max_length = 200)]
    pub name: Option<String>,
}

/// A refund application.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRefundRequest {
    pub payment: PaymentRef,
    /// `withdrawal`, `not_delivered`, `force_majeure`, `erroneous_charge`,
    /// `out_of_stock_difference` or `advance_balance`.
    #[schema(value_type = ReasonName)]
    pub reason: Reason,
    /// Facts the policy may need (`progress_percent`, `access_started_at`, `reason_text`, ...);
    /// unknown names are refused. `reason_text` holds at most 4000 characters and
    /// `bank_details` 200 (line breaks allowed); other text facts one line of 200.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub facts: Facts,
    /// Where to email the customer (default: the payment's customer email).
    pub contact: Option<Contact>,
    /// `ru`, `kk`, `lv` or `en` (default: the payment's, then the merchant's).
    #[schema(value_type = Option<LanguageCode>)]
    pub language: Option<String>,
    /// When the application first reached the merchant, if before now (RFC 3339).
    pub received_at: Option<DateTime<FixedOffset>>,
}

impl TextLimits for NewRefundRequest {
    const TEXT: &'static [(&'static str, usize, TextShape)] = &[
        ("contact.email", EMAIL_MAX, TextShape::Line),
        ("facts.reason_text", REASON_TEXT_MAX, TextShape::Lines),
        ("facts.bank_details", BANK_DETAILS_MAX, TextShape::Lines),
    ];
}

impl TextLimits for Facts {
    const TEXT: &'static [(&'static str, usize, TextShape)] = &[
        ("reason_text", REASON_TEXT_MAX, TextShape::Lines),
        ("bank_details", BANK_DETAILS_MAX, TextShape::Lines),
    ];
}

/// The answer to an accepted application.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    pub id: Uuid,
    /// Always `received`: the state the application was accepted in.
    pub state: String,
    pub status_url: String,
}

#[derive(Serialize, ToSchema)]
pub struct EventView {
    pub at: DateTime<Utc>,
    pub actor: String,
    pub from: Option<String>,
    pub to: String,
    pub reason: Option<String>,
    #[schema(value_type = Object)]
    pub details: Value,
}

#[derive(Serialize, ToSchema)]
pub struct RefundRequestView {
    pub id: Uuid,
    pub merchant: Option<String>,
    pub policy: Option<String>,
    pub policy_version: Option<String>,
    pub state: String,
    pub version: i32,
    pub channel: String,
    pub reason: Option<String>,
    #[schema(value_type = Object)]
    pub facts: Value,
    pub payment_id: Option<Uuid>,
    /// The refund amount once decided, as a decimal string.
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub received_at: DateTime<Utc>,
    pub complete_at: Option<DateTime<Utc>>,
    /// The local date the money must be back by.
    pub due_on: Option<NaiveDate>,
    /// `on_track`, `at_risk`, `breached` or `paused` (waiting on the customer).
    pub sla: Option<String>,
    /// The policy decision with its clause, as the engine gave it: `clause` in English and
    /// `clause_translations` with the pack's other languages (`{"ru": "..."}`).
    #[schema(value_type = Option<Object>)]
    pub decision: Option<Value>,
    pub contact_email: Option<String>,
    pub language: Option<String>,
    pub history: Vec<EventView>,
}

#[derive(Serialize, ToSchema)]
pub struct RefundRequestSummary {
    pub id: Uuid,
    pub merchant: Option<String>,
    pub policy: Option<String>,
    pub state: String,
    pub reason: Option<String>,
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub received_at: DateTime<Utc>,
    pub due_on: Option<NaiveDate>,
    pub sla: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct RefundRequestPage {
    pub items: Vec<RefundRequestSummary>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only requests in this state.
    #[param(value_type = Option<StateName>)]
    pub state: Option<String>,
    /// Only this merchant's requests.
    pub merchant: Option<String>,
    /// Only open requests in this SLA state: `on_track`, `at_risk`, `breached` or `paused`.
    pub sla: Option<String>,
    /// `newest` (newest first) or `due_on` (earliest due date first, requests without a due
    /// date last). Default: `due_on` when `sla` is given, `newest` otherwise.
    #[param(value_type = Option<ListSort>)]
    pub sort: Option<String>,
    /// From the `next_cursor` of the previous page (with the same `sort`).
    pub cursor: Option<String>,
    /// Page size, 1-200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// The order of a list of refund requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum ListSort {
    /// Newest first.
    Newest,
    /// Earliest due date first; requests without a due date last.
    DueOn,
}

impl ListSort {
    pub(super) fn parse(text: &str) -> Option<Self> {
        match text {
            "newest" => Some(ListSort::Newest),
            "due_on" => Some(ListSort::DueOn),
            _ => None,
        }
    }
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    /// Required for a request in manual review: the amount to refund (a decimal string).
    #[schema(value_type = Option<DecimalText>)]
    pub amount: Option<String>,
    /// Why, for the history.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

impl TextLimits for ConfirmBody {
    const TEXT: &'static [(&'static str, usize, TextShape)] =
        &[("note", NOTE_MAX, TextShape::Lines)];
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Why, in words the customer will read.
    #[schema(max_length = 2000)]
    pub reason: String,
}

impl TextLimits for RejectBody {
    const TEXT: &'static [(&'static str, usize, TextShape)] =
        &[("reason", NOTE_MAX, TextShape::Lines)];
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct WithdrawBody {
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

impl TextLimits for WithdrawBody {
    const TEXT: &'static [(&'static str, usize, TextShape)] =
        &[("note", NOTE_MAX, TextShape::Lines)];
}

/// What to ask the customer for.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskBody {
    /// Fact names, document kinds or identity problem codes, as the needs-info email words
    /// them (`identity_document`, `goods_received_at`, ...); 1 to 10.
    #[schema(min_items = 1, max_items = 10)]
    pub missing: Vec<String>,
    /// Why, for the history.
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

impl TextLimits for AskBody {
    const TEXT: &'static [(&'static str, usize, TextShape)] =
        &[("note", NOTE_MAX, TextShape::Lines)];
}
