//! A customer's reply to our question (a `needs_info` email), read against the question: a
//! bare "Нет." means nothing on its own, but it answers "was your order accepted? (answer
//! yes or no)". Only the facts we asked for are read, only from the customer's own words
//! (quotes of our email, signatures and forwards left out, see `own_text`), and only when the
//! reading is unambiguous; anything else is left for a person.
//!
//! What is read, in Russian, Kazakh, Latvian and English:
//! - **yes/no** for the questions our emails ask to answer "yes" or "no" (`order_accepted`,
//!   `terms_violated`, `goods_intact`, `personalized`, `paid_by_credit`): a yes or no word
//!   standing alone in its clause at the start or end of a line ("Нет, заказ не принят.",
//!   "2) жоқ", "Товар целый — да"). A line naming one asked fact by its words answers that
//!   fact; lines naming none answer the remaining questions in the order we asked them, and
//!   only when there are exactly as many such lines as questions. The reader's own reading of
//!   the facts (`order_accepted` from "заказ не принят") counts too; a contradiction leaves the
//!   fact unanswered;
//! - **dates** (`access_started_at`, `goods_received_at`): the reader's dated phrases, or the
//!   only date in the reply when one date was asked;
//! - **percent** (`progress_percent`): the reader's progress, a "35 %" or a line that is only a
//!   number from 0 to 100;
//! - **amounts** (`invoiced_amount`, `balance`): the only amount in the reply (dates left out)
//!   when one amount was asked;
//! - **free text** (`reason_text`): the customer's own words left once the answers above are
//!   taken out, when they hold at least three words.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::NaiveDate;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::normalise::{self, Sentence};
use super::{own_text, read_on, stated, translit_of};
use crate::money::DecimalAmount;
use crate::policy::FactName;

/// One asked fact the reply answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The asked fact the reply answers.
    pub fact: FactName,
    /// The fact's value as the request's facts hold it (a bool, a date, a number, a text).
    pub value: Value,
    /// The customer's words it was read from.
    pub phrase: String,
}

/// The yes/no questions our emails ask to answer with "yes" or "no", with the words (keys'
/// prefixes) a line answering one of them by name may use.
const YES_NO_QUESTIONS: [(FactName, &[&str]); 5] = [
    (
        FactName::OrderAccepted,
        &[
            "заказ",
            "принят",
            "order",
            "accept",
            "pasutij",
            "pienem",
            "тапсырыс",
            "кабылд",
        ],
    ),
    (
        FactName::TermsViolated,
        &[
            "наруш",
            "услов",
            "правил",
            "violat",
            "terms",
            "rules",
            "parkap",
            "noteikum",
            "буз",
            "ереже",
            "шарт",
        ],
    ),
    (
        FactName::GoodsIntact,
        &[
            "товарн",
            "вид",
            "упаков",
            "ярлык",
            "свойств",
            "целы",
            "intact",
            "packag",
            "label",
            "unused",
            "iepakoj",
            "etiket",
            "nelietot",
            "veselu",
            "орам",
            "тауар",
            "буз",
        ],
    ),
    (
        FactName::Personalized,
        &[
            "изготов",
            "специальн",
            "мерк",
            "индивидуал",
            "personal",
            "custom",
            "made",
            "individual",
            "izgatav",
            "pec pasut",
            "жеке",
            "арнайы",
        ],
    ),
    (
        FactName::PaidByCredit,
        &[
            "кредит",
            "рассроч",
            "credit",
            "instal",
            "kredit",
            "nomaks",
            "несие",
            "болип",
        ],
    ),
];

const YES: [&str; 11] = [
    "да",
    "ага",
    "конечно",
    "иа",
    "ия",
    "арине",
    "ja",
    "yes",
    "yep",
    "yeah",
    "sure",
];
const NO: [&str; 6] = ["нет", "неа", "жок", "ne", "no", "nope"];

static NUMBERED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:\d{1,2}\s*[.)]|[-•*–—])\s*").expect("numbering pattern"));
static PERCENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\d.,])(\d{1,3})\s*(?:%|процент|percent|procent|пайыз)")
        .expect("percent pattern")
});
static ONLY_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(\d{1,3})\s*[.!]?\s*$").expect("number pattern"));
static AMOUNT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:^|[^\d.,])(\d{1,3}(?:[ \u{a0}]\d{3})+|\d+)(?:[.,](\d{1,2}))?(?:[^\d.,]|[.,]\D|[.,]?$)",
    )
    .expect("amount pattern")
});
static ANY_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[./]\d{1,2}(?:[./]\d{2,4})?)\b").expect("date")
});

/// The answers in a reply (`subject`, `body` as parsed) to the facts in `asked`, written on
/// `written_on` (which gives dates without a year their year).
pub fn read_answers(
    subject: &str,
    body: &str,
    asked: &[FactName],
    written_on: Option<NaiveDate>,
) -> Vec<Answer> {
    let own = own_text::split(subject, body).own;
    let translit = translit_of(&own);
    let lines: Vec<Line> = own
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|text| Line::new(text, translit))
        .collect();
    let reading = read_on(subject, body, written_on);
    let mut answers: BTreeMap<FactName, Answer> = BTreeMap::new();
    let mut used_lines = vec![false; lines.len()];

    // The reader's own reading of the facts it knows.
    let stated = &reading.facts;
    let evidence = |fact: FactName| {
        reading
            .evidence
            .iter()
            .find(|e| e.supports == format!("fact:{}", fact.name()))
            .map(|e| e.phrase.clone())
            .unwrap_or_default()
    };
    for fact in asked {
        let value = match fact {
            FactName::OrderAccepted => stated.order_accepted.map(Value::Bool),
            FactName::PaidByCredit => stated.paid_by_credit.map(Value::Bool),
            FactName::ProgressPercent => stated.progress_percent.map(|p| json!(p)),
            FactName::AccessStartedAt => stated.access_started_at.map(|d| json!(d)),
            FactName::GoodsReceivedAt => stated.goods_received_at.map(|d| json!(d)),
            _ => None,
        };
        if let Some(value) = value {
            answers.insert(
                *fact,
                Answer {
                    fact: *fact,
                    value,
                    phrase: evidence(*fact),
                },
            );
        }
    }

    yes_no(asked, &lines, &mut answers, &mut used_lines);
    dates(asked, &lines, written_on, &mut answers, &mut used_lines);
    percent(asked, &lines, &mut answers, &mut used_lines);
    amount(asked, &own, &mut answers);

    if asked.contains(&FactName::ReasonText) && !answers.contains_key(&FactName::ReasonText) {
        let rest: Vec<&str> = lines
            .iter()
            .zip(&used_lines)
            .filter(|(_, used)| !**used)
            .map(|(l, _)| l.text.as_str())
            .collect();
        let text: String = rest.join("\n").chars().take(2000).collect();
        let words = text
            .split_whitespace()
            .filter(|w| w.chars().any(char::is_alphabetic))
            .count();
        if words >= 3 {
            answers.insert(
                FactName::ReasonText,
                Answer {
                    fact: FactName::ReasonText,
                    value: json!(text.trim()),
                    phrase: text.trim().to_owned(),
                },
            );
        }
    }
    asked
        .iter()
        .filter_map(|f| answers.remove(f))
        .filter(|a| !a.value.is_null())
        .collect()
}

/// One line of the customer's own words.
struct Line {
    /// As written.
    text: String,
    /// Its sentences, numbering taken off.
    sentences: Vec<Sentence>,
}

impl Line {
    fn new(text: &str, translit: normalise::Translit) -> Line {
        let bare = NUMBERED.replace(text, "");
        Line {
            text: text.to_owned(),
            sentences: normalise::sentences(&bare, translit),
        }
    }

    fn keys(&self) -> impl Iterator<Item = &str> {
        self.sentences
            .iter()
            .flat_map(|s| s.tokens.iter().map(|t| t.key.as_str()))
    }

    /// A yes or no word standing alone in its clause at the start or end of the line.
    fn yes_no(&self) -> Option<bool> {
        // (sentence, clause, key) of every word.
        let words: Vec<(usize, usize, &str)> = self
            .sentences
            .iter()
            .enumerate()
            .flat_map(|(n, s)| s.tokens.iter().map(move |t| (n, t.clause, t.key.as_str())))
            .collect();
        let alone = |i: usize| {
            let (sentence, clause, _) = words[i];
            let shares = |j: Option<usize>| {
                j.and_then(|j| words.get(j))
                    .is_some_and(|(s, c, _)| *s == sentence && *c == clause)
            };
            !shares(i.checked_sub(1)) && !shares(Some(i + 1))
        };
        let mut found = None;
        for i in [0, words.len().saturating_sub(1)] {
            if i >= words.len() || !alone(i) {
                continue;
            }
            let key = words[i].2;
            let value = if YES.contains(&key) {
                true
            } else if NO.contains(&key) {
                false
            } else {
                continue;
            };
            if found.is_some_and(|f| f != value) {
                return None;
            }
            found = Some(value);
        }
        found
    }

    /// The asked yes/no facts this line names by their words.
    fn names(&self, facts: &[FactName]) -> Vec<FactName> {
        let keys: Vec<&str> = self.keys().collect();
        facts
            .iter()
            .copied()
            .filter(|fact| {
                YES_NO_QUESTIONS
                    .iter()
                    .find(|(f, _)| f == fact)
                    .is_some_and(|(_, words)| {
                        keys.iter().any(|k| words.iter().any(|w| k.starts_with(w)))
                    })
            })
            .collect()
    }
}

fn put(answers: &mut BTreeMap<FactName, Answer>, fact: FactName, value: Value, phrase: &str) {
    match answers.get(&fact) {
        // Two readings that disagree: neither stands; a person reads it.
        Some(existing) if existing.value != value => {
            answers.insert(
                fact,
                Answer {
                    fact,
                    value: Value::Null,
                    phrase: String::new(),
                },
            );
        }
        Some(_) => {}
        None => {
            answers.insert(
                fact,
                Answer {
                    fact,
                    value,
                    phrase: phrase.to_owned(),
                },
            );
        }
    }
}

fn yes_no(
    asked: &[FactName],
    lines: &[Line],
    answers: &mut BTreeMap<FactName, Answer>,
    used: &mut [bool],
) {
    let questions: Vec<FactName> = asked
        .iter()
        .copied()
        .filter(|f| YES_NO_QUESTIONS.iter().any(|(q, _)| q == f))
        .collect();
    if questions.is_empty() {
        return;
    }
    let mut unnamed: Vec<(usize, bool)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(value) = line.yes_no() else {
            continue;
        };
        // A line naming a question we did not ask is about something else.
        let every: Vec<FactName> = YES_NO_QUESTIONS.iter().map(|(f, _)| *f).collect();
        let named = line.names(&every);
        match line.names(&questions).as_slice() {
            [fact] => {
                put(answers, *fact, Value::Bool(value), &line.text);
                used[i] = true;
            }
            [] if named.is_empty() => unnamed.push((i, value)),
            _ => {}
        }
    }
    let open: Vec<FactName> = questions
        .iter()
        .copied()
        .filter(|f| !answers.contains_key(f))
        .collect();
    if !open.is_empty() && unnamed.len() == open.len() {
        for (fact, (i, value)) in open.iter().zip(&unnamed) {
            put(answers, *fact, Value::Bool(*value), &lines[*i].text);
            used[*i] = true;
        }
    }
    answers.retain(|_, a| !a.value.is_null());
}

fn dates(
    asked: &[FactName],
    lines: &[Line],
    written_on: Option<NaiveDate>,
    answers: &mut BTreeMap<FactName, Answer>,
    used: &mut [bool],
) {
    let open: Vec<FactName> = asked
        .iter()
        .copied()
        .filter(|f| matches!(f, FactName::AccessStartedAt | FactName::GoodsReceivedAt))
        .filter(|f| !answers.contains_key(f))
        .collect();
    let [fact] = open.as_slice() else {
        return;
    };
    let mut found: Vec<(NaiveDate, usize, String)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        for sentence in &line.sentences {
            let keys: Vec<&str> = sentence.tokens.iter().map(|t| t.key.as_str()).collect();
            for (date, _, phrase) in stated::dates_in(sentence, &keys, written_on) {
                if let Some(date) = date {
                    found.push((date, i, phrase));
                }
            }
        }
    }
    let first = found.first().map(|(d, _, _)| *d);
    if let Some(date) = first
        && found.iter().all(|(d, _, _)| *d == date)
    {
        let (_, i, phrase) = &found[0];
        put(answers, *fact, json!(date), phrase);
        used[*i] = true;
    }
}

fn percent(
    asked: &[FactName],
    lines: &[Line],
    answers: &mut BTreeMap<FactName, Answer>,
    used: &mut [bool],
) {
    if !asked.contains(&FactName::ProgressPercent)
        || answers.contains_key(&FactName::ProgressPercent)
    {
        return;
    }
    let mut found: Vec<(u8, usize)> = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let bare = NUMBERED.replace(&line.text, "");
        let lower = bare.to_lowercase();
        for c in PERCENT.captures_iter(&lower) {
            if let Ok(v) = c[1].parse::<u8>() {
                found.push((v, i));
            }
        }
        if let Some(c) = ONLY_NUMBER.captures(&bare)
            && let Ok(v) = c[1].parse::<u8>()
        {
            found.push((v, i));
        }
    }
    if let Some((value, i)) = found.first().copied()
        && value <= 100
        && found.iter().all(|(v, _)| *v == value)
    {
        put(
            answers,
            FactName::ProgressPercent,
            json!(value),
            &lines[i].text,
        );
        used[i] = true;
    }
}

fn amount(asked: &[FactName], own: &str, answers: &mut BTreeMap<FactName, Answer>) {
    let open: Vec<FactName> = asked
        .iter()
        .copied()
        .filter(|f| matches!(f, FactName::InvoicedAmount | FactName::Balance))
        .filter(|f| !answers.contains_key(f))
        .collect();
    let [fact] = open.as_slice() else {
        return;
    };
    let without_dates = ANY_DATE.replace_all(own, " ");
    let mut found: Vec<(String, String)> = Vec::new();
    for c in AMOUNT.captures_iter(&without_dates) {
        let whole: String = c[1].chars().filter(char::is_ascii_digit).collect();
        let text = match c.get(2) {
            Some(cents) => format!("{whole}.{}", cents.as_str()),
            None => whole,
        };
        found.push((text, c[0].trim().to_owned()));
    }
    let parsed: Vec<(DecimalAmount, String)> = found
        .into_iter()
        .filter_map(|(t, phrase)| DecimalAmount::parse(&t).ok().map(|d| (d, phrase)))
        .collect();
    if let Some((first, phrase)) = parsed.first()
        && parsed.iter().all(|(d, _)| d == first)
    {
        put(answers, *fact, json!(first.to_string()), phrase);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(body: &str, asked: &[FactName]) -> Vec<(FactName, Value)> {
        read_answers(
            "Re: Ваше заявление",
            body,
            asked,
            NaiveDate::from_ymd_opt(2026, 4, 20),
        )
        .into_iter()
        .map(|a| (a.fact, a.value))
        .collect()
    }

    const QUOTE: &str = "\n\nOn Mon, 20 Apr 2026 at 10:00, refundd <refunds@shop.example> wrote:\n\
                         > был ли ваш заказ уже принят в работу (ответьте «да» или «нет»)\n";

    #[test]
    fn a_bare_no_answers_the_one_yes_no_question() {
        let asked = [FactName::OrderAccepted];
        for body in [
            "Нет, заказ не принят.",
            "нет",
            "Нет.",
            "Жоқ, тапсырыс қабылданбады.",
            "Nē.",
            "No, it was not accepted.",
        ] {
            assert_eq!(
                answers(&format!("{body}{QUOTE}"), &asked),
                vec![(FactName::OrderAccepted, json!(false))],
                "{body}"
            );
        }
        for body in ["Да", "Иә.", "Jā, pieņemts", "Yes"] {
            assert_eq!(
                answers(body, &asked),
                vec![(FactName::OrderAccepted, json!(true))],
                "{body}"
            );
        }
    }

    #[test]
    fn unclear_replies_answer_nothing() {
        let asked = [FactName::OrderAccepted];
        for body in [
            "Не знаю, уточню у мужа.",
            "No 2. marta gaidu atbildi",
            "Да нет, наверное",
            "Почему вы спрашиваете?",
            "",
        ] {
            assert_eq!(answers(body, &asked), vec![], "{body}");
        }
        // Only our quoted question holds a yes/no word: nothing the customer said.
        assert_eq!(answers(QUOTE, &asked), vec![]);
    }

    #[test]
    fn several_questions_by_name_or_in_order() {
        let asked = [FactName::GoodsIntact, FactName::Personalized];
        assert_eq!(
            answers("1) да\n2) нет", &asked),
            vec![
                (FactName::GoodsIntact, json!(true)),
                (FactName::Personalized, json!(false))
            ]
        );
        assert_eq!(
            answers("Сделан по моим меркам — нет.\nУпаковка целая: да", &asked),
            vec![
                (FactName::GoodsIntact, json!(true)),
                (FactName::Personalized, json!(false))
            ]
        );
        // One bare answer for two questions: which one is not known.
        assert_eq!(answers("да", &asked), vec![]);
    }

    #[test]
    fn dates_percent_amounts_and_free_text() {
        assert_eq!(
            answers("Получил 15.04.2026", &[FactName::GoodsReceivedAt]),
            vec![(FactName::GoodsReceivedAt, json!("2026-04-15"))]
        );
        assert_eq!(
            answers("Прошёл примерно 35 %", &[FactName::ProgressPercent]),
            vec![(FactName::ProgressPercent, json!(35))]
        );
        assert_eq!(
            answers("I got it on April 15, 2026.", &[FactName::GoodsReceivedAt]),
            vec![(FactName::GoodsReceivedAt, json!("2026-04-15"))]
        );
        assert_eq!(
            answers("Saņēmu 15. aprīlī", &[FactName::GoodsReceivedAt]),
            vec![(FactName::GoodsReceivedAt, json!("2026-04-15"))]
        );
        assert_eq!(
            answers("About 35% done", &[FactName::ProgressPercent]),
            vec![(FactName::ProgressPercent, json!(35))]
        );
        assert_eq!(
            answers("Курстың 20 пайызын өттім", &[FactName::ProgressPercent]),
            vec![(FactName::ProgressPercent, json!(20))]
        );
        assert_eq!(
            answers("Atlikums ir 45,90 EUR", &[FactName::Balance]),
            vec![(FactName::Balance, json!("45.90"))]
        );
        assert_eq!(
            answers("40", &[FactName::ProgressPercent]),
            vec![(FactName::ProgressPercent, json!(40))]
        );
        assert_eq!(
            answers("Остаток 1 250,50 EUR", &[FactName::Balance]),
            vec![(FactName::Balance, json!("1250.50"))]
        );
        assert_eq!(
            answers(
                "Счёт от 12.04.2026 на 300 и ещё 200",
                &[FactName::InvoicedAmount]
            ),
            vec![],
            "two amounts: which one is not known"
        );
        assert_eq!(
            answers(
                "Нет\nКурс оказался не тем, что обещали в описании.",
                &[FactName::OrderAccepted, FactName::ReasonText]
            ),
            vec![
                (FactName::OrderAccepted, json!(false)),
                (
                    FactName::ReasonText,
                    json!("Курс оказался не тем, что обещали в описании.")
                )
            ]
        );
        assert_eq!(answers("ок", &[FactName::ReasonText]), vec![]);
    }

    #[test]
    fn facts_not_asked_are_not_read() {
        assert_eq!(
            answers("Нет, заказ не принят.", &[FactName::GoodsIntact]),
            vec![]
        );
    }
}
