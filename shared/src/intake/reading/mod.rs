//! Reading a customer's email like a person: which refund reason their own words support,
//! how sure that reading is, the facts they state, and the phrase behind each.
//!
//! The steps, each in its own module:
//! 1. `own_text`: only the customer's words (quoted replies, forwarded messages, signatures
//!    and footers left out; a reply's subject is ours);
//! 2. `normalise`: sentences, clauses and tokens at Unicode word boundaries; keys folded for
//!    case, `ё`, Kazakh and Latvian letters and dropped diacritics; Russian in Latin letters
//!    transliterated back; Snowball stems (Russian, English) and suffix rules (Kazakh,
//!    Latvian);
//! 3. `lexicon`: phrases per reason and language, matched on tokens;
//! 4. `scope`: whether each phrase is negated, asked about or said under a condition;
//! 5. `stated`: progress, dates, received or not, order accepted or not.
//!
//! # The certainty rule
//!
//! A reading is **certain** if and only if all of these hold:
//! 1. exactly one reason has support: a phrase of that reason in the customer's own words
//!    that is not negated, not in a question and not in a condition. Weak phrases (asking to
//!    cancel, "no longer needed", "the difference") support their reason only when no
//!    reason has a phrase of its own; a plain request for money back ("refund me",
//!    "верните деньги", "atmaksājiet", "қайтарыңыз") with no reason at all is read as
//!    withdrawal but is never certain (the customer did not say why);
//! 2. no other reason has such support (no competing reason);
//! 3. no phrase of that reason is negated, asked about or said under a condition anywhere in
//!    the customer's words;
//! 4. the email is not a question overall: it has no hedge ("not asking yet", "просто
//!    интересуюсь", "tikai jautāju", "жай сұрап тұрмын", "I am not asking for a refund",
//!    "I don't know whether…"), and its request for money back, if any, is not only in
//!    questions or conditions.
//!
//! Strong praise anywhere in the customer's words next to a reason ("great job, it never
//! opened once") is a doubt too: it may be sarcasm. When the reason rests on weak phrases
//! alone, a negated phrase of another reason ("I
//! can't say I never received it, but please cancel") is a doubt too. Each failed condition is
//! one [`Doubt`]; `certain` is exactly "a reason and no doubts". The facts in
//! [`StatedFacts`] do not change certainty: the decide stage says which facts it needs.

mod answers;
mod lexicon;
mod normalise;
mod own_text;
mod scope;
mod stated;

pub use answers::{Answer, read_answers};
pub(crate) use normalise::{Translit, translit_of};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::policy::Reason;
use lexicon::{Found, Meaning};
use scope::Mood;

/// What the customer's own words say, with the evidence for each reading.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Reading {
    /// The reason, when exactly one reason has support in the customer's own words.
    pub reason: Option<Reason>,
    /// True only when the reading is certain by the rule in the module documentation.
    pub certain: bool,
    /// Why it is not certain (empty when certain).
    pub doubts: Vec<Doubt>,
    /// Every phrase that counted, in order: what it supports and the words themselves.
    pub evidence: Vec<Evidence>,
    /// Facts the customer states, each with its evidence.
    pub facts: StatedFacts,
    /// The email is Russian or Kazakh written in Latin letters (read after transliterating
    /// back).
    pub translit: bool,
}

/// One reason the reading is not certain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Doubt {
    /// No reason has support in the customer's own words.
    NoReason,
    /// More than one reason has support.
    CompetingReasons {
        /// The reasons that each have support.
        reasons: Vec<Reason>,
    },
    /// A phrase of this reason is negated ("I can't say I never received it").
    Negated {
        /// The reason the negated phrase belongs to.
        reason: Reason,
        /// The customer's words.
        phrase: String,
    },
    /// The reason or the request is only asked about ("could I get my money back?").
    Question {
        /// The customer's words that ask.
        phrase: String,
    },
    /// The reason or the request is said under a condition ("if it doesn't come by
    /// Friday").
    Conditional {
        /// The customer's words that set the condition.
        phrase: String,
    },
    /// The customer says they are not applying yet ("not asking yet", "просто
    /// интересуюсь"), or that they are not asking for a refund.
    Hedged {
        /// The customer's words that hedge.
        phrase: String,
    },
    /// Praise next to the complaint ("great job, it never opened once"): the words may mean
    /// the opposite.
    Sarcasm {
        /// The words of praise.
        phrase: String,
    },
    /// The customer asks for their money back and gives no reason: read as a withdrawal,
    /// which the customer should confirm.
    OnlyARequest,
    /// Reason words appear only in quoted or forwarded text, not in the customer's own.
    OnlyInQuotedText {
        /// The reasons the quoted or forwarded text supports.
        reasons: Vec<Reason>,
    },
}

/// One phrase that counted: what it supports (`reason:not_delivered`, `request`, `hedge`,
/// `fact:progress_percent`, `negated:reason:not_delivered`, `question:request`, …) and the
/// customer's words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// What the phrase supports, e.g. `reason:not_delivered` or `question:request`.
    pub supports: String,
    /// The customer's words.
    pub phrase: String,
}

/// Facts the customer states in plain sentences. See `stated` for the rules (a progress
/// range is read as its higher end, which is the smaller refund).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct StatedFacts {
    /// How far through the course the customer says they are, in percent. A range reads as its
    /// higher end (the smaller refund); "not started" is 0.
    pub progress_percent: Option<u8>,
    /// Whether the customer says the goods came (`Some(false)`: they say they did not).
    pub goods_received: Option<bool>,
    /// Whether the customer says the order was accepted (`Some(false)`: that it was not).
    pub order_accepted: Option<bool>,
    /// The day the customer says their access started.
    pub access_started_at: Option<NaiveDate>,
    /// The day the customer says the goods came.
    pub goods_received_at: Option<NaiveDate>,
    /// The card paid with was lost, blocked, reissued or replaced (the money cannot go back
    /// to it as it was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_changed: Option<bool>,
    /// The purchase was paid on credit or in instalments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_by_credit: Option<bool>,
}

impl StatedFacts {
    /// Whether the customer said in so many words that `fact` does not apply yet: "I have not
    /// received the goods" states that there is no receipt date.
    pub fn states_absence_of(&self, fact: crate::policy::FactName) -> bool {
        match fact {
            crate::policy::FactName::GoodsReceivedAt => self.goods_received == Some(false),
            _ => false,
        }
    }
}

/// Reads `subject` and `body` (the text as [`super::parse`] gives it: forwarded messages
/// and quotes included; this function leaves them out). Dates without a year stay unread.
pub fn read(subject: &str, body: &str) -> Reading {
    read_on(subject, body, None)
}

/// As [`read`], for an email written on `written_on`, which gives dates without a year
/// ("с 20 ноября") their year.
pub fn read_on(subject: &str, body: &str, written_on: Option<NaiveDate>) -> Reading {
    let own_text::Parts {
        own,
        forwarded,
        rest,
    } = own_text::split(subject, body);
    let translit = translit_of(&own);
    let sentences = normalise::sentences(&own, translit);
    let found = lexicon::find(&sentences);
    let moods: Vec<(Mood, String)> = sentences.iter().map(scope::mood).collect();

    let mut evidence = Vec::new();
    let mut scoped: Vec<(Found, Scope, String)> = Vec::new();
    for f in &found {
        let sentence = &sentences[f.sentence];
        let (scope, phrase) = match scope::negation(sentence, f, &found) {
            Some(phrase) => (Scope::Negated, phrase),
            None => {
                let phrase = sentence.phrase(f.first, f.last);
                match moods[f.sentence].0 {
                    Mood::Plain => (Scope::Plain, phrase),
                    Mood::Question => (Scope::Question, moods[f.sentence].1.clone()),
                    Mood::Conditional => (Scope::Conditional, moods[f.sentence].1.clone()),
                }
            }
        };
        let label = label(f.meaning);
        let supports = match scope {
            Scope::Plain => label,
            Scope::Negated => format!("negated:{label}"),
            Scope::Question => format!("question:{label}"),
            Scope::Conditional => format!("conditional:{label}"),
        };
        evidence.push(Evidence {
            supports,
            phrase: phrase.clone(),
        });
        scoped.push((*f, scope, phrase));
    }

    let plain = |m: Meaning| {
        scoped
            .iter()
            .any(|(f, s, _)| f.meaning == m && *s == Scope::Plain)
    };
    let plain_reasons = |weak: bool| {
        let mut out: Vec<Reason> = Vec::new();
        for (f, s, _) in &scoped {
            let ((Meaning::Reason(r), false) | (Meaning::Weak(r), true)) = (f.meaning, weak) else {
                continue;
            };
            if *s == Scope::Plain && !out.contains(&r) {
                out.push(r);
            }
        }
        out
    };
    let strong = plain_reasons(false);
    // Weak phrases count only when no reason has a strong one.
    let weakly = strong.is_empty();
    let supported = if weakly { plain_reasons(true) } else { strong };
    let mut doubts = Vec::new();
    let generic = supported.is_empty() && plain(Meaning::Request);
    if generic {
        doubts.push(Doubt::OnlyARequest);
    }
    let reason = match supported.as_slice() {
        [one] => Some(*one),
        [] if generic => Some(Reason::Withdrawal),
        [] => forwarded_reason(&forwarded),
        many => {
            doubts.push(Doubt::CompetingReasons {
                reasons: many.to_vec(),
            });
            None
        }
    };
    if supported.is_empty() && !generic {
        let mut quoted: Vec<Reason> = Vec::new();
        if !rest.trim().is_empty() {
            for f in lexicon::find(&normalise::sentences(&rest, Translit::None)) {
                if let Meaning::Reason(r) | Meaning::Weak(r) = f.meaning
                    && !quoted.contains(&r)
                {
                    quoted.push(r);
                }
            }
        }
        if reason.is_none() {
            doubts.push(Doubt::NoReason);
        }
        if let Some(r) = reason
            && !quoted.contains(&r)
        {
            quoted.push(r);
        }
        if !quoted.is_empty() {
            doubts.push(Doubt::OnlyInQuotedText { reasons: quoted });
        }
    }
    let concerns = |m: Meaning| match m {
        Meaning::Reason(r) | Meaning::Weak(r) => reason.is_none() || Some(r) == reason || weakly,
        Meaning::Request => !plain(Meaning::Request),
        _ => false,
    };
    for (f, scope, phrase) in &scoped {
        let phrase = phrase.clone();
        match (f.meaning, scope) {
            (Meaning::Hedge, Scope::Plain | Scope::Question | Scope::Conditional) => {
                doubts.push(Doubt::Hedged { phrase });
            }
            (Meaning::Praise, Scope::Plain) if reason.is_some() => {
                doubts.push(Doubt::Sarcasm { phrase });
            }
            (Meaning::Reason(r) | Meaning::Weak(r), Scope::Negated) if concerns(f.meaning) => {
                doubts.push(Doubt::Negated { reason: r, phrase });
            }
            (m, Scope::Question) if concerns(m) => doubts.push(Doubt::Question { phrase }),
            (m, Scope::Conditional) if concerns(m) => doubts.push(Doubt::Conditional { phrase }),
            _ => {}
        }
    }
    doubts.dedup();

    let facts = facts(&sentences, &moods, &scoped, written_on, &mut evidence);
    Reading {
        reason,
        certain: reason.is_some() && doubts.is_empty(),
        doubts,
        evidence,
        facts,
        translit: translit != Translit::None,
    }
}

/// The reason a forwarded message's own words support, read by the same rules, when the
/// forwarder's words have none: a support agent forwarding a customer's application. Never
/// certain (the doubt `OnlyInQuotedText` says why): a forwarded shop receipt is not the
/// customer's words.
fn forwarded_reason(forwarded: &str) -> Option<Reason> {
    if forwarded.trim().is_empty() {
        return None;
    }
    let inner = read_on("", forwarded, None);
    inner.reason.filter(|_| {
        !inner
            .doubts
            .iter()
            .any(|d| matches!(d, Doubt::CompetingReasons { .. } | Doubt::NoReason))
    })
}

/// Where a found phrase stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Plain,
    Negated,
    Question,
    Conditional,
}

fn label(m: Meaning) -> String {
    match m {
        Meaning::Reason(r) => format!("reason:{}", r.name()),
        Meaning::Weak(r) => format!("weak:reason:{}", r.name()),
        Meaning::Request => "request".into(),
        Meaning::Hedge => "hedge".into(),
        Meaning::Received => "fact:goods_received".into(),
        Meaning::OrderAccepted | Meaning::OrderNotAccepted => "fact:order_accepted".into(),
        Meaning::NotStarted => "fact:progress_percent".into(),
        Meaning::Praise => "praise".into(),
    }
}

fn facts(
    sentences: &[normalise::Sentence],
    moods: &[(Mood, String)],
    found: &[(Found, Scope, String)],
    written_on: Option<NaiveDate>,
    evidence: &mut Vec<Evidence>,
) -> StatedFacts {
    let mut facts = StatedFacts::default();
    let plain = |m: Meaning| {
        found
            .iter()
            .filter(|(f, s, _)| *s == Scope::Plain && f.meaning == m)
            .map(|(_, _, phrase)| phrase.clone())
            .next()
    };
    let not_received = plain(Meaning::Reason(Reason::NotDelivered))
        .or_else(|| plain(Meaning::Weak(Reason::NotDelivered)));
    // "I can't say I never received it": a negated not-delivered phrase says it came.
    let received = plain(Meaning::Received).or_else(|| {
        found
            .iter()
            .find(|(f, s, _)| {
                *s == Scope::Negated
                    && matches!(
                        f.meaning,
                        Meaning::Reason(Reason::NotDelivered) | Meaning::Weak(Reason::NotDelivered)
                    )
            })
            .map(|(_, _, phrase)| phrase.clone())
    });
    facts.goods_received = match (&received, &not_received) {
        (Some(_), None) => Some(true),
        (None, Some(_)) => Some(false),
        _ => None,
    };
    if facts.goods_received.is_some() {
        let phrase = received.or(not_received).unwrap_or_default();
        evidence.push(Evidence {
            supports: "fact:goods_received".into(),
            phrase,
        });
    }
    let accepted = plain(Meaning::OrderAccepted);
    let not_accepted = plain(Meaning::OrderNotAccepted);
    facts.order_accepted = match (&accepted, &not_accepted) {
        (Some(_), None) => Some(true),
        (None, Some(_)) => Some(false),
        _ => None,
    };
    if facts.order_accepted.is_some() {
        evidence.push(Evidence {
            supports: "fact:order_accepted".into(),
            phrase: accepted.or(not_accepted).unwrap_or_default(),
        });
    }
    let plain_sentences: Vec<&normalise::Sentence> = sentences
        .iter()
        .zip(moods)
        .filter(|(_, (m, _))| *m == Mood::Plain)
        .map(|(s, _)| s)
        .collect();
    let stated = stated::read(&plain_sentences, written_on);
    if let Some((value, phrase)) = stated.progress {
        facts.progress_percent = Some(value);
        evidence.push(Evidence {
            supports: "fact:progress_percent".into(),
            phrase,
        });
    } else if let Some(phrase) = plain(Meaning::NotStarted) {
        facts.progress_percent = Some(0);
        evidence.push(Evidence {
            supports: "fact:progress_percent".into(),
            phrase,
        });
    }
    if let Some(phrase) = stated.card_changed {
        facts.card_changed = Some(true);
        evidence.push(Evidence {
            supports: "fact:card_changed".into(),
            phrase,
        });
    }
    if let Some(phrase) = stated.paid_by_credit {
        facts.paid_by_credit = Some(true);
        evidence.push(Evidence {
            supports: "fact:paid_by_credit".into(),
            phrase,
        });
    }
    if let Some((date, phrase)) = stated.access_started_at {
        facts.access_started_at = date;
        evidence.push(Evidence {
            supports: "fact:access_started_at".into(),
            phrase,
        });
    }
    if facts.goods_received != Some(false)
        && let Some((date, phrase)) = stated.goods_received_at
    {
        facts.goods_received_at = date;
        evidence.push(Evidence {
            supports: "fact:goods_received_at".into(),
            phrase,
        });
    }
    facts
}

#[cfg(test)]
mod tests;
