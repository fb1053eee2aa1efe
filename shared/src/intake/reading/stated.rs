//! Facts the customer states in plain sentences (not in questions or conditions): progress
//! through a course, dates, whether the goods came, whether the order was accepted.
//!
//! - Progress: a percentage (`80%`, `80 процентов`, `80 пайыз`, `80 procenti`, `80 percent`)
//!   or a word (half `половину/жартысын/pusi/half` = 50, a third = 34, a quarter = 25) in a
//!   sentence about the course (course, lesson, module, watched, completed, passed …). A
//!   range (`80-90%`) is read as its higher end: more progress is the smaller refund, so a
//!   range never makes us pay more than the customer says is left; the whole range is kept
//!   in the evidence. Several figures: the highest, for the same reason.
//! - Dates: `20.11.2026`, `20/11/2026`, `2026-11-20`, `20 ноября [2026]`, `20 қараша`,
//!   `20. novembrī`, `20 November`, `November 20, 2026`. A date belongs to the access start
//!   when its sentence speaks of access or starting, to the receipt of goods when it speaks
//!   of receiving; otherwise it is not a fact we use. A date without a year takes the year
//!   that puts it on or before the day the email was written, when that day is known.

use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use regex::Regex;

use super::normalise::Sentence;

pub(super) struct Stated {
    pub progress: Option<(u8, String)>,
    /// The card paid with is no more (lost, blocked, reissued, replaced, expired).
    pub card_changed: Option<String>,
    /// The purchase was paid on credit or in instalments (not with a credit card).
    pub paid_by_credit: Option<String>,
    pub access_started_at: Option<(Option<NaiveDate>, String)>,
    pub goods_received_at: Option<(Option<NaiveDate>, String)>,
}

const PROGRESS_CONTEXT: [&str; 40] = [
    "курс",
    "урок",
    "модул",
    "прош",
    "пройд",
    "просмотр",
    "посмотр",
    "изуч",
    "выполн",
    "прогресс",
    "материал",
    "course",
    "lesson",
    "modul",
    "progress",
    "complet",
    "watch",
    "done",
    "finish",
    "through",
    "kurs",
    "nodarb",
    "izgaj",
    "pabeidz",
    "noskatij",
    "apgu",
    "progres",
    "сабак",
    "оттим",
    "аякта",
    "карадым",
    "окыдым",
    "видео",
    "video",
    "lekcij",
    "лекци",
    "start",
    "начал",
    "sak",
    "бастад",
];

static PERCENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(\d{1,3})(?:\s*%)?(?:\s*(?:-|–|—|до|to|līdz|or|или|немесе)\s*(\d{1,3}))?\s*(?:%|процент|проц\b|percent|per cent|pct|пайыз|procent)",
    )
    .expect("percent pattern")
});

/// "процентов 40", "percent: 40".
static PERCENT_FIRST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:процент\w*|пайыз\w*|procent\w*|percent)\s*:?\s*(\d{1,3})\b")
        .expect("percent pattern")
});

static NUMERIC_DATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:(\d{4})-(\d{1,2})-(\d{1,2})|(\d{1,2})[./](\d{1,2})[./](\d{4}|\d{2})\b|(\d{1,2})\.(\d{1,2})\b)")
        .expect("date pattern")
});

const ACCESS_CONTEXT: [&str; 16] = [
    "доступ",
    "начал",
    "начала",
    "старт",
    "access",
    "start",
    "began",
    "begun",
    "piekluv",
    "saku",
    "uzsaku",
    "sak",
    "кирдим",
    "бастад",
    "кол жеткиз",
    "ашылд",
];
const RECEIVED_CONTEXT: [&str; 14] = [
    "получил",
    "доставил",
    "доставлен",
    "пришел",
    "пришла",
    "забрал",
    "receiv",
    "deliver",
    "arriv",
    "sanem",
    "piegad",
    "atnac",
    "алдым",
    "келди",
];

pub(super) fn read(sentences: &[&Sentence], today: Option<NaiveDate>) -> Stated {
    let mut stated = Stated {
        progress: None,
        card_changed: None,
        paid_by_credit: None,
        access_started_at: None,
        goods_received_at: None,
    };
    for sentence in sentences {
        let keys: Vec<&str> = sentence.tokens.iter().map(|t| t.key.as_str()).collect();
        if stated.card_changed.is_none() && card_changed(&keys) {
            stated.card_changed = Some(sentence.text.clone());
        }
        if stated.paid_by_credit.is_none() && paid_by_credit(&keys) {
            stated.paid_by_credit = Some(sentence.text.clone());
        }
        let about_course = keys
            .iter()
            .any(|k| PROGRESS_CONTEXT.iter().any(|c| k.starts_with(c)));
        if about_course {
            for (value, phrase) in progress_in(sentence, &keys) {
                if stated.progress.as_ref().is_none_or(|(v, _)| value > *v) {
                    stated.progress = Some((value, phrase));
                }
            }
        }
        for (date, at, phrase) in dates_in(sentence, &keys, today) {
            let near = |context: &[&str]| -> Option<usize> {
                sentence
                    .tokens
                    .iter()
                    .filter(|t| context.iter().any(|c| t.key.starts_with(c)))
                    .map(|t| t.start.abs_diff(at))
                    .min()
            };
            let slot = match (near(&ACCESS_CONTEXT), near(&RECEIVED_CONTEXT)) {
                (Some(a), Some(r)) if a <= r => &mut stated.access_started_at,
                (Some(_), None) => &mut stated.access_started_at,
                (_, Some(_)) => &mut stated.goods_received_at,
                (None, None) => continue,
            };
            if slot.is_none() {
                *slot = Some((date, phrase));
            }
        }
    }
    stated
}

/// A card word and a word saying it is gone or new, in one sentence: "карту потерял и
/// заблокировал, перевыпущенная карта", "жаңа карта", "jauna karte", "my card was replaced".
fn card_changed(keys: &[&str]) -> bool {
    const CARD: [&str; 3] = ["карт", "card", "kart"];
    const GONE: [&str; 22] = [
        "перевыпу",
        "заблокир",
        "потерял",
        "потеряла",
        "утерян",
        "замен",
        "смени",
        "сменил",
        "нов",
        "жана",
        "ауыстыр",
        "жогалт",
        "бугатта",
        "jaun",
        "nomain",
        "bloke",
        "pazaud",
        "reissu",
        "replac",
        "new",
        "lost",
        "expired",
    ];
    keys.iter().any(|k| CARD.iter().any(|c| k.starts_with(c)))
        && keys.iter().any(|k| GONE.iter().any(|g| k.starts_with(g)))
}

/// A loan or instalments, not a credit card: "в кредит", "банк несиесімен", "бөліп төлеу",
/// "uz nomaksu", "on credit", "in instalments".
fn paid_by_credit(keys: &[&str]) -> bool {
    const CARD: [&str; 3] = ["карт", "card", "kart"];
    keys.iter().enumerate().any(|(i, k)| {
        let next_is_card = keys
            .get(i + 1)
            .is_some_and(|n| CARD.iter().any(|c| n.starts_with(c)));
        let credit =
            (k.starts_with("кредит") || k.starts_with("credit") || k.starts_with("kredit"))
                && !next_is_card;
        let loan = ["несие", "рассрочк", "nomaks", "instal", "loan", "займ"]
            .iter()
            .any(|w| k.starts_with(w));
        let parts =
            k.starts_with("болип") && keys.get(i + 1).is_some_and(|n| n.starts_with("толе"));
        credit || loan || parts
    })
}

fn progress_in(sentence: &Sentence, keys: &[&str]) -> Vec<(u8, String)> {
    let mut out = Vec::new();
    for c in PERCENT.captures_iter(&sentence.text) {
        let low: u32 = c[1].parse().unwrap_or(0);
        let high: u32 = c
            .get(2)
            .and_then(|m| m.as_str().parse().ok())
            .unwrap_or(low);
        let value = low.max(high);
        if value <= 100 {
            out.push((value as u8, c[0].trim().to_owned()));
        }
    }
    for c in PERCENT_FIRST.captures_iter(&sentence.text) {
        if let Ok(value) = c[1].parse::<u8>()
            && value <= 100
        {
            out.push((value, c[0].trim().to_owned()));
        }
    }
    const TIME: [&str; 12] = [
        "недел",
        "месяц",
        "дн",
        "час",
        "week",
        "month",
        "day",
        "ned",
        "menes",
        "апта",
        "ай",
        "кун",
    ];
    for (i, k) in keys.iter().enumerate() {
        // "третью неделю", "the third week": an ordinal of time, not a fraction.
        if keys
            .get(i + 1)
            .is_some_and(|n| TIME.iter().any(|t| n.starts_with(t)))
        {
            continue;
        }
        let value = if matches!(
            *k,
            "половину" | "половина" | "половины" | "half" | "pusi" | "puse" | "pusei"
        ) || k.starts_with("жарты")
        {
            50
        } else if matches!(*k, "треть" | "трети" | "third") || k.starts_with("tresdal") {
            34
        } else if matches!(*k, "четверть" | "четверти" | "quarter") || k.starts_with("ceturtdal")
        {
            25
        } else {
            continue;
        };
        out.push((value, sentence.phrase(i, i)));
    }
    out
}

const MONTHS: [(&[&str], u32); 12] = [
    (&["январ", "кантар", "janvar", "january", "jan"], 1),
    (&["феврал", "акпан", "februar", "february", "feb"], 2),
    (&["март", "наурыз", "mart", "march", "mar"], 3),
    (&["апрел", "сауир", "april", "apr"], 4),
    (&["мая", "май", "мамыр", "maij", "may"], 5),
    (&["июн", "маусым", "jun", "june"], 6),
    (&["июл", "шилде", "jul", "july"], 7),
    (&["август", "тамыз", "august", "aug"], 8),
    (
        &[
            "сентябр",
            "кыркуиек",
            "кыркүйек",
            "кыркуйек",
            "septembr",
            "september",
            "sep",
        ],
        9,
    ),
    (&["октябр", "казан", "oktobr", "october", "oct"], 10),
    (&["ноябр", "караша", "novembr", "november", "nov"], 11),
    (&["декабр", "желтоксан", "decembr", "december", "dec"], 12),
];

fn month(key: &str) -> Option<u32> {
    MONTHS
        .iter()
        .find(|(names, _)| {
            names.iter().any(|n| {
                if n.chars().count() <= 3 {
                    key == *n
                } else {
                    key.starts_with(n)
                }
            })
        })
        .map(|(_, m)| *m)
}

pub(super) fn dates_in(
    sentence: &Sentence,
    keys: &[&str],
    today: Option<NaiveDate>,
) -> Vec<(Option<NaiveDate>, usize, String)> {
    let mut out = Vec::new();
    for c in NUMERIC_DATE.captures_iter(&sentence.text) {
        let at = c.get(0).map_or(0, |m| m.start());
        let phrase = c[0].to_owned();
        let n = |i: usize| c.get(i).and_then(|m| m.as_str().parse::<i32>().ok());
        let date = if let (Some(y), Some(m), Some(d)) = (n(1), n(2), n(3)) {
            NaiveDate::from_ymd_opt(y, m as u32, d as u32)
        } else if let (Some(d), Some(m), Some(y)) = (n(4), n(5), n(6)) {
            let y = if y < 100 { 2000 + y } else { y };
            NaiveDate::from_ymd_opt(y, m as u32, d as u32)
        } else if let (Some(d), Some(m)) = (n(7), n(8)) {
            if !(1..=12).contains(&m) {
                continue;
            }
            with_year(d as u32, m as u32, None, today)
        } else {
            None
        };
        out.push((date, at, phrase));
    }
    let tokens = &sentence.tokens;
    for i in 0..keys.len() {
        let day = |k: &str| k.parse::<u32>().ok().filter(|d| (1..=31).contains(d));
        let year = |k: Option<&&str>| {
            k.and_then(|k| k.parse::<i32>().ok())
                .filter(|y| (2000..=2100).contains(y))
        };
        // "20 ноября 2026", "20. novembrī", "20 қараша".
        if let (Some(d), Some(m)) = (day(keys[i]), keys.get(i + 1).and_then(|k| month(k))) {
            let y = year(keys.get(i + 2));
            let last = if y.is_some() { i + 2 } else { i + 1 };
            out.push((
                with_year(d, m, y, today),
                tokens[i].start,
                sentence.phrase(i, last),
            ));
        }
        // "November 20, 2026".
        if let (Some(m), Some(d)) = (month(keys[i]), keys.get(i + 1).and_then(|k| day(k)))
            && keys[i].chars().all(|c| c.is_ascii_alphabetic())
        {
            let y = year(keys.get(i + 2));
            let last = if y.is_some() { i + 2 } else { i + 1 };
            out.push((
                with_year(d, m, y, today),
                tokens[i].start,
                sentence.phrase(i, last),
            ));
        }
    }
    out
}

fn with_year(
    day: u32,
    month: u32,
    year: Option<i32>,
    today: Option<NaiveDate>,
) -> Option<NaiveDate> {
    match year {
        Some(y) => NaiveDate::from_ymd_opt(y, month, day),
        None => {
            let today = today?;
            let this = NaiveDate::from_ymd_opt(today.year(), month, day)?;
            if this <= today {
                Some(this)
            } else {
                NaiveDate::from_ymd_opt(today.year() - 1, month, day)
            }
        }
    }
}
