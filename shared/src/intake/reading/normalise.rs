//! Words as the reader compares them: the customer's text split into sentences, clauses and
//! tokens at Unicode word boundaries, each token reduced to a matching key and a stem per
//! language.
//!
//! The key of a token is its lower-case form with:
//! - `ё` read as `е`, and the soft and hard signs dropped (`деньги` ~ `денги`, as people
//!   type them in translit and on phones);
//! - Kazakh letters read as their Russian look-alikes (`ә→а, ғ→г, қ→к, ң→н, ө→о, ұ/ү→у,
//!   һ→х, і→и`), so Kazakh typed on a Russian keyboard matches;
//! - Latin letters decomposed (NFKD) with the combining marks dropped, so Latvian typed
//!   without diacritics matches (`saņēmu ~ sanemu`);
//! - Latin look-alike letters inside a Cyrillic word read as Cyrillic (`зaказ` with a Latin
//!   `a`);
//! - English contractions split (`didn't` → `did not`, also `didnt`), so negation is a token;
//! - in an email written in Russian with Latin letters (see [`looks_like_translit`]) every
//!   Latin token transliterated back to Cyrillic first (`poluchil` → `получил`).
//!
//! Stems: Snowball (rust-stemmers) for Russian and English; for Kazakh and Latvian the
//! suffix rules in [`kk_stem`] and [`lv_stem`].

use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

/// A language a lexicon entry is written in; it picks the stemmer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    Ru,
    Kk,
    Lv,
    En,
}

impl Lang {
    fn index(self) -> usize {
        self as usize
    }
}

/// One word of the customer's text.
#[derive(Debug, Clone)]
pub(super) struct Token {
    pub key: String,
    /// Stems by [`Lang`] index.
    pub stems: [String; 4],
    /// Byte range in the sentence text (two tokens of a split contraction share one).
    pub start: usize,
    pub end: usize,
    /// Clause number within the sentence: commas, colons, semicolons, dashes and brackets
    /// start a new clause.
    pub clause: usize,
    /// The key with Cyrillic `о` read as `а` (see [`loose`]).
    pub loose: String,
}

impl Token {
    pub fn stem(&self, lang: Lang) -> &str {
        &self.stems[lang.index()]
    }

    pub fn is_number(&self) -> bool {
        !self.key.is_empty() && self.key.bytes().all(|b| b.is_ascii_digit())
    }
}

/// One sentence of the customer's text.
#[derive(Debug, Clone)]
pub(super) struct Sentence {
    pub text: String,
    pub tokens: Vec<Token>,
    /// Ends with a question mark.
    pub asks: bool,
}

impl Sentence {
    /// The customer's words from token `a` to token `b`, as written.
    pub fn phrase(&self, a: usize, b: usize) -> String {
        let start = self.tokens[a].start;
        let end = self.tokens[b].end.max(start);
        self.text[start..end].trim().to_owned()
    }
}

static RU: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::Russian));
static EN: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// The matching key of one word (see the module comment), without transliteration.
pub(super) fn key(word: &str) -> String {
    let lower: String = word
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == '’' || c == '`' { '\'' } else { c })
        .collect();
    let cyrillic = lower.chars().any(is_cyrillic);
    let mut out = String::with_capacity(lower.len());
    for c in lower.chars() {
        match c {
            'ё' => out.push('е'),
            'ь' | 'ъ' => {}
            'ә' => out.push('а'),
            'ғ' => out.push('г'),
            'қ' => out.push('к'),
            'ң' => out.push('н'),
            'ө' => out.push('о'),
            'ұ' | 'ү' => out.push('у'),
            'һ' => out.push('х'),
            'і' => out.push('и'),
            c if cyrillic && c.is_ascii_alphabetic() => out.push(match c {
                'a' => 'а',
                'e' => 'е',
                'o' => 'о',
                'p' => 'р',
                'c' => 'с',
                'x' => 'х',
                'i' => 'и',
                'k' => 'к',
                'm' => 'м',
                't' => 'т',
                'y' => 'у',
                'h' => 'н',
                'b' => 'в',
                other => other,
            }),
            c if is_cyrillic(c) || c.is_ascii() => out.push(c),
            c => out.extend(c.nfkd().filter(|d| !is_combining(*d))),
        }
    }
    out
}

fn is_cyrillic(c: char) -> bool {
    matches!(c, '\u{0400}'..='\u{04FF}')
}

fn is_combining(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}')
}

/// A key with Cyrillic `о` read as `а`: typed as pronounced when unstressed (`пажар`,
/// `падашол`). Only long prefixes are compared this way.
pub(super) fn loose(key: &str) -> String {
    key.chars()
        .map(|c| if c == 'о' { 'а' } else { c })
        .collect()
}

/// Stems of a key in every language; Snowball stems only words of their own script.
pub(super) fn stems(key: &str) -> [String; 4] {
    let cyrillic = key.chars().any(is_cyrillic);
    let ru = if cyrillic {
        RU.stem(key).into_owned()
    } else {
        key.to_owned()
    };
    let en = if cyrillic {
        key.to_owned()
    } else {
        EN.stem(key).into_owned()
    };
    [ru, kk_stem(key), lv_stem(key), en]
}

/// Kazakh suffix rules, on a folded key: plural, possessive, case and personal endings are
/// stripped from the end (longest first, up to three times) while at least three letters
/// stay. Negation (`-ма/-ме/-ба/-бе/-па/-пе`) and tense markers are never stripped, so
/// `алмадым` (did not receive) keeps its negation and never becomes `алдым` (received).
pub(super) fn kk_stem(key: &str) -> String {
    const ENDINGS: [&str; 58] = [
        "ларыныз",
        "лериниз",
        "ымыз",
        "имиз",
        "ыныз",
        "иниз",
        "лары",
        "лери",
        "дары",
        "дери",
        "тары",
        "тери",
        "нын",
        "нин",
        "дын",
        "дин",
        "тын",
        "тин",
        "нда",
        "нде",
        "дан",
        "ден",
        "тан",
        "тен",
        "нан",
        "нен",
        "мен",
        "бен",
        "пен",
        "лар",
        "лер",
        "дар",
        "дер",
        "тар",
        "тер",
        "мыз",
        "миз",
        "ныз",
        "низ",
        "мын",
        "мин",
        "сын",
        "син",
        "сыз",
        "сиз",
        "га",
        "ге",
        "ка",
        "ке",
        "ды",
        "ди",
        "ты",
        "ти",
        "ны",
        "ни",
        "да",
        "де",
        "сы",
    ];
    strip(key, &ENDINGS, 3)
}

/// Latvian suffix rules, on a key without diacritics: one noun, adjective or verb ending is
/// stripped (longest first) while at least three letters stay: `atmaksu`, `atmaksa` and
/// `atmaksas` all become `atmaks`; `pasutijumu` becomes `pasutijum`. The negative prefix
/// `ne-` is part of the word and stays (`nesanemu` is never `sanemu`).
pub(super) fn lv_stem(key: &str) -> String {
    const ENDINGS: [&str; 24] = [
        "iem", "ies", "jam", "jat", "am", "ai", "as", "es", "is", "us", "os", "em", "ja", "ju",
        "ts", "ta", "ti", "u", "a", "e", "i", "s", "o", "t",
    ];
    strip(key, &ENDINGS, 1)
}

fn strip(key: &str, endings: &[&str], passes: usize) -> String {
    let mut word = key.to_owned();
    for _ in 0..passes {
        let Some(ending) = endings
            .iter()
            .find(|e| word.ends_with(*e) && word.chars().count() >= e.chars().count() + 3)
        else {
            break;
        };
        word.truncate(word.len() - ending.len());
    }
    word
}

/// Splits text into sentences at `.`, `!`, `?`, `…` (a `.` followed by a space and no
/// lower-case word) and at
/// blank lines; a single line break is a space (mail clients wrap lines).
pub(super) fn sentences(text: &str, translit: Translit) -> Vec<Sentence> {
    let mut out = Vec::new();
    for paragraph in text.split("\n\n") {
        let chars: Vec<(usize, char)> = paragraph.char_indices().collect();
        let mut start = 0;
        let mut i = 0;
        while i < chars.len() {
            let (at, c) = chars[i];
            let next = chars.get(i + 1).map(|(_, c)| *c);
            // A full stop after a number or a word of up to three letters, followed by a
            // lower-case word, is an ordinal or an abbreviation ("20. novembrī", "т.к. ",
            // "г. "), not the end of a sentence.
            let lower_next = || {
                let before: Vec<char> = chars[..i]
                    .iter()
                    .rev()
                    .map(|(_, c)| *c)
                    .take_while(|c| c.is_alphanumeric())
                    .collect();
                let short = before.iter().all(char::is_ascii_digit) || before.len() <= 3;
                short
                    && chars[i + 1..]
                        .iter()
                        .map(|(_, c)| *c)
                        .find(|c| !c.is_whitespace())
                        .is_some_and(char::is_lowercase)
            };
            let ends = matches!(c, '!' | '?' | '…')
                || (c == '.' && next.is_none_or(char::is_whitespace) && !lower_next());
            if ends {
                // Take the whole run of terminators ("?!", "...").
                let mut j = i;
                while chars
                    .get(j + 1)
                    .is_some_and(|(_, c)| matches!(c, '.' | '!' | '?' | '…'))
                {
                    j += 1;
                }
                let end = chars.get(j + 1).map_or(paragraph.len(), |(a, _)| *a);
                push_sentence(&mut out, &paragraph[start..end], translit);
                start = end;
                i = j + 1;
                let _ = at;
                continue;
            }
            i += 1;
        }
        push_sentence(&mut out, &paragraph[start..], translit);
    }
    out
}

fn push_sentence(out: &mut Vec<Sentence>, text: &str, translit: Translit) {
    let text = text.replace('\n', " ");
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return;
    }
    let asks = trimmed
        .trim_end_matches(['.', '!', ')', '"', '»', ' '])
        .ends_with('?');
    let tokens = tokenise(&text, translit);
    if tokens.is_empty() {
        return;
    }
    out.push(Sentence { text, tokens, asks });
}

fn tokenise(text: &str, translit: Translit) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut clause = 0;
    for (start, piece) in text.split_word_bound_indices() {
        if !piece.chars().any(char::is_alphanumeric) {
            // A hyphen between two words ("форс-мажор") is not a clause break; a dash
            // between spaces is.
            let spaced = text[..start].ends_with(char::is_whitespace)
                || text[start + piece.len()..].starts_with(char::is_whitespace);
            if piece
                .chars()
                .any(|c| matches!(c, ',' | ';' | ':' | '—' | '–' | '(' | ')' | '"' | '«' | '»'))
                || (piece == "-" && spaced)
            {
                clause += 1;
            }
            continue;
        }
        let end = start + piece.len();
        let latin = !piece.chars().any(is_cyrillic);
        let word = match translit {
            Translit::Russian if latin => to_cyrillic(piece),
            Translit::Kazakh if latin => kazakh_to_cyrillic(piece),
            _ => piece.to_owned(),
        };
        let key = key(&word);
        for part in split_contraction(&key) {
            tokens.push(Token {
                stems: stems(&part),
                loose: loose(&part),
                key: part,
                start,
                end,
                clause,
            });
        }
    }
    tokens
}

/// `didn't` → `did`, `not`; `can't` → `can`, `not`; `won't` → `will`, `not`; also typed
/// without the apostrophe.
fn split_contraction(key: &str) -> Vec<String> {
    if let Some(base) = key.strip_suffix("n't") {
        let base = match base {
            "wo" => "will",
            "ca" => "can",
            "sha" => "shall",
            other => other,
        };
        return vec![base.to_owned(), "not".to_owned()];
    }
    const BARE: [(&str, &str); 14] = [
        ("didnt", "did"),
        ("dont", "do"),
        ("doesnt", "does"),
        ("havent", "have"),
        ("hasnt", "has"),
        ("hadnt", "had"),
        ("wasnt", "was"),
        ("werent", "were"),
        ("isnt", "is"),
        ("arent", "are"),
        ("cant", "can"),
        ("couldnt", "could"),
        ("wouldnt", "would"),
        ("wont", "will"),
    ];
    if let Some((_, base)) = BARE.iter().find(|(w, _)| *w == key) {
        return vec![(*base).to_owned(), "not".to_owned()];
    }
    vec![key.to_owned()]
}

/// How Latin letters of an email are read back into Cyrillic, when they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Translit {
    None,
    /// Russian in Latin letters.
    Russian,
    /// Kazakh in Latin letters (the 2018-2021 official alphabets and phone spellings).
    Kazakh,
}

/// Which, if any, transliteration the text is written in.
pub(crate) fn translit_of(text: &str) -> Translit {
    let russian = russian_translit_hits(text);
    let kazakh = kazakh_latin_hits(text);
    if looks_like_translit(text) && russian >= kazakh {
        Translit::Russian
    } else if looks_like_kazakh_latin(text) {
        Translit::Kazakh
    } else {
        Translit::None
    }
}

fn distinct_hits(text: &str, words: &[&str]) -> usize {
    let lower = text.to_lowercase().replace('’', "'");
    let mut hits: Vec<&str> = lower
        .unicode_words()
        .filter_map(|w| words.iter().find(|t| **t == w).copied())
        .collect();
    hits.sort_unstable();
    hits.dedup();
    hits.len()
}

fn russian_translit_hits(text: &str) -> usize {
    distinct_hits(text, &TRANSLIT_WORDS)
}

fn kazakh_latin_hits(text: &str) -> usize {
    distinct_hits(text, &KAZAKH_LATIN_WORDS)
}

/// Common Latvian words typed without diacritics: Latvian with a few Russian words in Latin
/// letters ("Zdravstvujte, labdien! … spasibo") is Latvian.
const LATVIAN_PLAIN_WORDS: [&str; 16] = [
    "labdien",
    "ludzu",
    "paldies",
    "gribu",
    "vairs",
    "neko",
    "mans",
    "savu",
    "naudu",
    "atpakal",
    "rekins",
    "sveiki",
    "cienu",
    "atmaksu",
    "pasutijums",
    "pasutijumu",
];

/// Words that, written in Latin letters, only Kazakh has.
const KAZAKH_LATIN_WORDS: [&str; 44] = [
    "salemetsiz",
    "sálemetsiz",
    "salemetsız",
    "aqsha",
    "aqshany",
    "aqshamdy",
    "aksha",
    "akshany",
    "tapsyrys",
    "tapsyrysty",
    "tapsyrystan",
    "tapsyrysym",
    "kelmedi",
    "joq",
    "emes",
    "qaitaryñyz",
    "qaıtaryńyz",
    "qaitaryńyz",
    "qaitaryńyzshy",
    "rahmet",
    "raqmet",
    "tauar",
    "tauardy",
    "tartamyn",
    "tóledim",
    "toledim",
    "tólem",
    "tolem",
    "áli",
    "ótinemin",
    "salem",
    "keshe",
    "eki",
    "ret",
    "alyndy",
    "beriniz",
    "qaitaryp",
    "kaitaryp",
    "jasadym",
    "jok",
    "tenge",
    "otinemin",
    "kerek",
    "qaıtarýlaryńyzdy",
];

/// True when the Latin-letter text is Kazakh: two of [`KAZAKH_LATIN_WORDS`], or three
/// letters only the Kazakh Latin alphabets use (`ǵ ń ú ý ı á ó ğ ñ`) and none of Latvian's.
pub(crate) fn looks_like_kazakh_latin(text: &str) -> bool {
    let latin = text.chars().filter(char::is_ascii_alphabetic).count();
    let cyrillic = text.chars().filter(|c| is_cyrillic(*c)).count();
    if latin <= cyrillic {
        return false;
    }
    let lower = text.to_lowercase();
    let hits = kazakh_latin_hits(text);
    let kazakh_letters = lower.chars().filter(|c| "ǵńúýıáóğñ".contains(*c)).count();
    let latvian_letters = lower.chars().filter(|c| "āēīūčšžņļķģ".contains(*c)).count();
    let latvian_words = distinct_hits(text, &LATVIAN_PLAIN_WORDS);
    latvian_letters == 0 && hits > latvian_words && (hits >= 2 || kazakh_letters >= 3)
}

/// Kazakh in Latin letters back to Cyrillic: `sh → ш, ch → ч, zh/j → ж, q → қ, ǵ/ğ → ғ,
/// ń/ñ → ң, á/ä → ә, ó/ö → ө, ú/ü → ү, ý/u → у/ұ, ı → й, y → ы, i → і` (`й` after a
/// vowel, as phones spell it).
pub(super) fn kazakh_to_cyrillic(word: &str) -> String {
    let chars: Vec<char> = word.to_lowercase().chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let vowel = |c: Option<char>| c.is_some_and(|c| "aeiouyáóúäöüıý".contains(c));
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let prev = if i == 0 { None } else { Some(chars[i - 1]) };
        let two = match (c, next) {
            ('s', Some('h')) => Some("ш"),
            ('c', Some('h')) => Some("ч"),
            ('z', Some('h')) => Some("ж"),
            _ => None,
        };
        if let Some(cyr) = two {
            out.push_str(cyr);
            i += 2;
            continue;
        }
        let cyr = match c {
            'a' => "а",
            'á' | 'ä' => "ә",
            'b' => "б",
            'c' => "ц",
            'd' => "д",
            'e' => "е",
            'f' => "ф",
            'g' => "г",
            'ǵ' | 'ğ' => "ғ",
            'h' | 'x' => "х",
            'i' if vowel(prev) => "й",
            'i' => "і",
            'ı' => "й",
            'j' => "ж",
            'k' => "к",
            'l' => "л",
            'm' => "м",
            'n' => "н",
            'ń' | 'ñ' => "ң",
            'o' => "о",
            'ó' | 'ö' => "ө",
            'p' => "п",
            'q' => "қ",
            'r' => "р",
            's' => "с",
            't' => "т",
            'u' => "ұ",
            'ú' | 'ü' => "ү",
            'ý' | 'w' => "у",
            'v' => "в",
            'y' => "ы",
            'z' => "з",
            '\'' | '’' => "",
            other => {
                out.push(other);
                i += 1;
                continue;
            }
        };
        out.push_str(cyr);
        i += 1;
    }
    out
}

/// Words that, written in Latin letters, only Russian has.
const TRANSLIT_WORDS: [&str; 52] = [
    "zdravstvuyte",
    "zdravstvujte",
    "zdravstvuite",
    "zdrastvuyte",
    "dobryy",
    "dobriy",
    "privet",
    "hochu",
    "khochu",
    "vernut",
    "vernite",
    "vernut'",
    "dengi",
    "den'gi",
    "deneg",
    "poluchil",
    "poluchila",
    "poluchili",
    "zakaz",
    "zakaza",
    "zakazal",
    "pozhaluysta",
    "pozhalujsta",
    "pojaluysta",
    "pojaluista",
    "pozhaluista",
    "spasibo",
    "vozvrat",
    "tovar",
    "prishel",
    "prishla",
    "prishyol",
    "oplatil",
    "oplatila",
    "uzhe",
    "menya",
    "mne",
    "seychas",
    "pochemu",
    "kogda",
    "zhdu",
    "sih",
    "peredumal",
    "peredumala",
    "spisali",
    "dvazhdy",
    "otmenit",
    "kursa",
    "uvazheniem",
    "dostavili",
    "sredstva",
    "nuzhen",
];

/// True when the Latin-letter text is Russian in translit: at least two different words
/// from [`TRANSLIT_WORDS`] and more Latin letters than Cyrillic.
pub(crate) fn looks_like_translit(text: &str) -> bool {
    let latin = text.chars().filter(char::is_ascii_alphabetic).count();
    let cyrillic = text.chars().filter(|c| is_cyrillic(*c)).count();
    if latin <= cyrillic {
        return false;
    }
    let hits = russian_translit_hits(text);
    hits >= 2 && hits > distinct_hits(text, &LATVIAN_PLAIN_WORDS)
}

/// Russian in Latin letters back to Cyrillic, by the usual schemes (GOST-like, phone
/// spellings): `shch/sch → щ, zh → ж, kh → х, ch → ч, sh → ш, ts → ц, yu/iu → ю,
/// ya/ia → я, yo → ё, y → ы` (after a consonant) or `й` (after a vowel), `'` → `ь`.
pub(super) fn to_cyrillic(word: &str) -> String {
    let lower = word.to_lowercase().replace('’', "'");
    let chars: Vec<char> = lower.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    let vowel = |c: Option<char>| c.is_some_and(|c| "aeiouy".contains(c));
    while i < chars.len() {
        let rest: String = chars[i..].iter().take(4).collect();
        let prev = if i == 0 { None } else { Some(chars[i - 1]) };
        let (cyr, used) = if rest.starts_with("shch") {
            ("щ", 4)
        } else if rest.starts_with("sch") {
            ("щ", 3)
        } else if rest.starts_with("zh") {
            ("ж", 2)
        } else if rest.starts_with("kh") {
            ("х", 2)
        } else if rest.starts_with("ch") {
            ("ч", 2)
        } else if rest.starts_with("sh") {
            ("ш", 2)
        } else if rest.starts_with("ts") {
            ("ц", 2)
        } else if rest.starts_with("yu") || rest.starts_with("iu") && i > 0 {
            ("ю", 2)
        } else if rest.starts_with("ya") || rest.starts_with("ia") && i > 0 {
            ("я", 2)
        } else if rest.starts_with("yo") {
            ("ё", 2)
        } else if rest.starts_with("ye") && (i == 0 || vowel(prev)) {
            ("е", 2)
        } else if rest.starts_with("yy") || rest.starts_with("iy") && i > 0 {
            ("ый", 2)
        } else {
            let c = chars[i];
            let cyr = match c {
                'a' => "а",
                'b' => "б",
                'v' | 'w' => "в",
                'g' => "г",
                'd' => "д",
                'e' => "е",
                'z' => "з",
                'i' => "и",
                'j' => "й",
                'k' | 'q' => "к",
                'l' => "л",
                'm' => "м",
                'n' => "н",
                'o' => "о",
                'p' => "п",
                'r' => "р",
                's' => "с",
                't' => "т",
                'u' => "у",
                'f' => "ф",
                'h' => "х",
                'c' => "ц",
                'x' => "кс",
                'y' if vowel(prev) => "й",
                'y' => "ы",
                '\'' => "ь",
                _ => {
                    out.push(c);
                    i += 1;
                    continue;
                }
            };
            (cyr, 1)
        };
        out.push_str(cyr);
        i += used;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_case_yo_kazakh_and_diacritics() {
        assert_eq!(key("Пришёл"), "пришел");
        assert_eq!(key("Қайтарыңыз"), "кайтарыныз");
        assert_eq!(key("saņēmu"), key("sanemu"));
        assert_eq!(key("деньги"), "денги");
        assert_eq!(key("зaказ"), "заказ");
    }

    #[test]
    fn translit_back_to_cyrillic() {
        assert_eq!(to_cyrillic("poluchil"), "получил");
        assert_eq!(to_cyrillic("zdravstvuyte"), "здравствуйте");
        assert_eq!(to_cyrillic("hochu"), "хочу");
        assert_eq!(key(&to_cyrillic("dengi")), key("деньги"));
        assert_eq!(to_cyrillic("dobryy"), "добрый");
        assert!(looks_like_translit(
            "Zdravstvuyte, hochu vernut dengi, zakaz ne prishel"
        ));
        assert!(!looks_like_translit("Hello, I want my money back"));
        assert!(!looks_like_translit("Labdien, ne, es nesaņēmu"));
    }

    #[test]
    fn kazakh_in_latin_letters() {
        assert!(looks_like_kazakh_latin(
            "Sálemetsiz be! Tapsyrys áli qabyldanǵan joq, aqshany qaitaryńyzshy."
        ));
        assert!(!looks_like_kazakh_latin("Labdien, preci nesaņēmu."));
        assert_eq!(key(&kazakh_to_cyrillic("qaıtaryńyz")), key("қайтарыңыз"));
        assert_eq!(key(&kazakh_to_cyrillic("qaitaryñyz")), key("қайтарыңыз"));
        assert_eq!(key(&kazakh_to_cyrillic("kelmedi")), key("келмеді"));
    }

    #[test]
    fn contractions_split_into_negation() {
        let s = sentences("I didn't get it and it hasnt arrived.", Translit::None);
        let keys: Vec<&str> = s[0].tokens.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "i", "did", "not", "get", "it", "and", "it", "has", "not", "arrived"
            ]
        );
    }

    #[test]
    fn sentences_split_at_terminators_not_dates() {
        let s = sentences("Оплатил 20.11.2026. Где заказ?! Жду", Translit::None);
        assert_eq!(s.len(), 3);
        assert!(s[1].asks);
        assert!(!s[0].asks);
    }

    #[test]
    fn kazakh_and_latvian_suffixes() {
        assert_eq!(kk_stem("тапсырыстар"), "тапсырыс");
        assert_ne!(kk_stem("алмадым"), kk_stem("алдым"));
        assert_eq!(lv_stem("atmaksu"), lv_stem("atmaksa"));
        assert_eq!(lv_stem("pasutijumu"), "pasutijum");
    }
}
