//! What a phrase is said under: a negation ("I can't say I never received it"), a question
//! ("could I get my money back?") or a condition ("if it doesn't come by Friday").
//!
//! - Negation: a negating word (`не`, `нет`, `нельзя`, `not`, `never`, `ne`, `nav`,
//!   `nevaru` …), not part of another phrase, up to six tokens before the phrase, in its clause or across one comma when
//!   the phrase's clause opens with "that" (`что`, `будто`, `that`, `ka`); a conjunction
//!   ("and", "but", `и`, `но`, `un`, `bet`, `және`, `бірақ` …) ends the search. Kazakh
//!   negates after the verb: `жоқ` right after the phrase, `емес`, `демеймін`, `айта
//!   алмаймын` up to four tokens after it, in its clause.
//! - Question: the sentence asks whether something is possible — it has `ли`, a Kazakh
//!   question particle (`ма/ме/ба/бе/па/пе`), opens with Latvian `vai` or an English
//!   auxiliary (`can I`, `could I`, `is it possible`), or ends with `?` — and is not a
//!   request put as a question ("Can you refund me, please?", "Верните, пожалуйста?",
//!   "…қайтарып бере аласыз ба?", "Vai jūs varat…?"); "why/where/when" questions are
//!   complaints, not questions about a refund.
//! - Condition: the sentence has `если`, `в случае`, `егер`, `ja`, `if`, `unless`, `in case`,
//!   except the polite "if possible"/"если можно"/"ja iespējams"/"егер мүмкін болса".

use super::lexicon::{Found, is_negator};
use super::normalise::Sentence;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mood {
    Plain,
    Question,
    Conditional,
}

fn is_conjunction(key: &str) -> bool {
    matches!(
        key,
        "и" | "а"
            | "но"
            | "однако"
            | "поэтому"
            | "потому"
            | "and"
            | "but"
            | "or"
            | "so"
            | "because"
            | "un"
            | "bet"
            | "jo"
            | "tapec"
            | "жане"
            | "бирак"
            | "себеби"
            | "сондыктан"
    )
}

fn is_complementiser(key: &str) -> bool {
    matches!(key, "что" | "чтобы" | "будто" | "that" | "ka" | "деп")
}

/// The words from the negation to the end of the phrase, when the phrase is negated.
pub(super) fn negation(sentence: &Sentence, f: &Found, all: &[Found]) -> Option<String> {
    // A negation inside another phrase is that phrase's ("never delivered - refund").
    let in_other = |i: usize| {
        all.iter()
            .any(|g| g != f && g.sentence == f.sentence && g.first <= i && i <= g.last)
    };
    let tokens = &sentence.tokens;
    let mut clause = tokens[f.first].clause;
    let mut crossed = false;
    let mut i = f.first;
    let mut steps = 0;
    while i > 0 && steps < 6 {
        let prev = i - 1;
        if tokens[prev].clause != clause {
            if crossed || !is_complementiser(&tokens[i].key) {
                break;
            }
            crossed = true;
            clause = tokens[prev].clause;
        }
        let key = tokens[prev].key.as_str();
        if is_conjunction(key) {
            break;
        }
        if is_negator(key) && !in_other(prev) {
            return Some(sentence.phrase(prev, f.last));
        }
        i = prev;
        steps += 1;
    }
    // Kazakh: negation after the verb.
    let clause = tokens[f.last].clause;
    for (j, t) in tokens.iter().enumerate().skip(f.last + 1).take(4) {
        if t.clause != clause || is_conjunction(&t.key) {
            break;
        }
        let k = t.key.as_str();
        if k == "емес"
            || (k.starts_with("жок") && j == f.last + 1)
            || k.starts_with("демеи")
            || k.starts_with("демей")
            || k.starts_with("ойламаим")
            || k.starts_with("ойламайм")
            || k.starts_with("айтпаим")
            || k.starts_with("айтпайм")
            || (k.starts_with("алмай") && j > 0 && tokens[j - 1].key.starts_with("айт"))
        {
            return Some(sentence.phrase(f.first, j));
        }
    }
    None
}

/// The mood of a sentence, with the words that show it.
pub(super) fn mood(sentence: &Sentence) -> (Mood, String) {
    let keys: Vec<&str> = sentence.tokens.iter().map(|t| t.key.as_str()).collect();
    let first = keys.first().copied().unwrap_or("");
    let second = keys.get(1).copied().unwrap_or("");
    let text = sentence.text.trim().to_owned();

    let request = keys.iter().enumerate().any(|(i, k)| {
        matches!(
            *k,
            "пожалуиста"
                | "пожалуйста"
                | "прошу"
                | "можете"
                | "сможете"
                | "могли"
                | "верните"
                | "вернете"
                | "please"
                | "kindly"
                | "ludzu"
                | "отинемин"
                | "отиниш"
        ) || (matches!(*k, "ма" | "ме" | "ба" | "бе" | "па" | "пе")
            && i > 0
            && ["сыз", "сиз", "сыздар", "сиздер"]
                .iter()
                .any(|e| keys[i - 1].ends_with(e)))
            || (i == 1 && *k == "you" && is_en_auxiliary(first))
            || (i == 1 && *k == "jus" && first == "vai")
    });
    // Questions about when, where or why are complaints or ask how the refund goes, not
    // whether one is possible.
    let complaint = keys.iter().any(|k| {
        matches!(
            *k,
            "почему"
                | "куда"
                | "зачем"
                | "где"
                | "когда"
                | "сколько"
                | "неге"
                | "неликтен"
                | "кайда"
                | "кашан"
                | "kapec"
                | "kur"
                | "kad"
                | "why"
                | "where"
                | "when"
        )
    }) || (first == "how" && !matches!(second, "can" | "could" | "do" | "may"));
    let possibility = keys.contains(&"ли")
        || (keys
            .windows(2)
            .any(|w| matches!(w, ["можно" | "возможно", _]) && sentence.asks && !request))
        || (first == "how" && matches!(second, "can" | "could" | "do" | "may"))
        || keys.windows(3).any(|w| {
            matches!(
                w,
                ["is", "it", "possible"] | ["would", "it", "be"] | ["ir", "iespejams", _]
            )
        })
        || keys
            .windows(2)
            .any(|w| matches!(w, ["мумкин", "бе"] | ["бола", "ма" | "ма?"] | ["vai", "es"]))
        || (is_en_auxiliary(first) && matches!(second, "i" | "we"));
    let particle = keys
        .iter()
        .enumerate()
        .any(|(i, k)| i > 0 && matches!(*k, "ма" | "ме" | "ба" | "бе" | "па" | "пе"))
        || first == "vai"
        || (is_en_auxiliary(first) && second != "not");
    if possibility || ((sentence.asks || particle) && !request && !complaint) {
        return (Mood::Question, text);
    }
    let conditional = keys.iter().enumerate().any(|(i, k)| {
        let next = keys.get(i + 1).copied().unwrap_or("");
        let raw_is_ja = || {
            let t = &sentence.tokens[i];
            sentence.text[t.start..t.end].to_lowercase() == "ja"
        };
        match *k {
            "если" | "ежели" => {
                !matches!(next, "можно" | "возможно" | "не" | "что" | "есть")
            }
            "случае" => i > 0 && keys[i - 1] == "в",
            "егер" => next != "мумкин",
            "if" => !matches!(next, "possible" | "you" | "needed" | "necessary" | "so"),
            "unless" => true,
            "case" => i > 0 && keys[i - 1] == "in",
            "ja" => {
                raw_is_ja()
                    && sentence
                        .tokens
                        .get(i + 1)
                        .is_some_and(|n| n.clause == sentence.tokens[i].clause)
                    && !matches!(next, "iespejams" | "var" | "nepieciesams" | "vajag")
            }
            _ => false,
        }
    });
    if conditional {
        return (Mood::Conditional, text);
    }
    (Mood::Plain, text)
}

fn is_en_auxiliary(key: &str) -> bool {
    matches!(
        key,
        "can"
            | "could"
            | "may"
            | "is"
            | "are"
            | "am"
            | "do"
            | "does"
            | "did"
            | "will"
            | "would"
            | "should"
            | "shall"
    )
}
