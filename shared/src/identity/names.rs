//! Whether the name on a document belongs to the payer (cardholder) or customer, across
//! scripts and spelling systems: both names are transliterated as ICAO 9303 does, then
//! compared word by word in any order, extra words (middle names, patronymics) ignored.

use serde::Serialize;

use super::transliteration::to_icao_latin;

/// The score at or above which two names are taken to be the same person.
///
/// Calibrated so that the same name in another script or national spelling (Russian vs
/// Belarusian passport spelling scores 0.95) and an initial for a given name (0.95) match,
/// while one differing word out of two (at most 0.5) does not.
pub const NAME_MATCH_THRESHOLD: f64 = 0.85;

/// Below this, two words are different names (`MARIA`/`MARINA` 0.83, `DIANA`/`DINA`
/// 0.8) and the pair counts 0, so a matching surname cannot carry a different given name.
const WORD_MATCH_FLOOR: f64 = 0.85;

/// Only this many words of each name take part (bounds the word-pairing search).
const MAX_WORDS: usize = 6;

/// How well two names agree: `score` in 0..=1 and the yes/no verdict at
/// [`NAME_MATCH_THRESHOLD`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct NameMatch {
    /// Similarity from 0 (nothing in common) to 1 (the same name).
    pub score: f64,
    /// True when `score` is at least `NAME_MATCH_THRESHOLD`.
    pub matched: bool,
}

/// Compares two names in any script and word order.
///
/// Each word of the shorter name is paired with a distinct word of the longer one so that
/// the total similarity is highest; the score is that total divided by the number of words
/// in the shorter name, but by at least 2 when the longer name has two words or more, so
/// that a surname alone never confirms a full name. Word similarity is 1 for the same
/// transliteration, 0.95 for the same name in another national spelling (`SIARHEI` for
/// `SERGEI`, `IVANOU` for `IVANOV`, `YULIYA` for `IULIIA`), 0.95 for an initial that fits,
/// otherwise the share of letters that need no edit, counted as 0 below 0.85.
pub fn match_names(a: &str, b: &str) -> NameMatch {
    let words_a = words(a);
    let words_b = words(b);
    let (short, long) = if words_a.len() <= words_b.len() {
        (words_a, words_b)
    } else {
        (words_b, words_a)
    };
    if short.is_empty() {
        return NameMatch {
            score: 0.0,
            matched: false,
        };
    }
    let similarity: Vec<Vec<f64>> = short
        .iter()
        .map(|s| {
            long.iter()
                .map(|l| word_similarity(s, l))
                .map(|sim| if sim < WORD_MATCH_FLOOR { 0.0 } else { sim })
                .collect()
        })
        .collect();
    let mut used = vec![false; long.len()];
    let best = best_pairing(&similarity, 0, &mut used);
    let divisor = short.len().max(long.len().min(2)) as f64;
    let score = (best / divisor * 1000.0).round() / 1000.0;
    NameMatch {
        score,
        matched: score >= NAME_MATCH_THRESHOLD,
    }
}

fn words(name: &str) -> Vec<String> {
    to_icao_latin(name)
        .split(' ')
        .filter(|w| !w.is_empty())
        .take(MAX_WORDS)
        .map(str::to_owned)
        .collect()
}

/// The highest total similarity pairing rows (from `row` on) with unused columns.
fn best_pairing(similarity: &[Vec<f64>], row: usize, used: &mut [bool]) -> f64 {
    let Some(scores) = similarity.get(row) else {
        return 0.0;
    };
    let mut best = 0.0_f64;
    for column in 0..scores.len() {
        if used[column] {
            continue;
        }
        used[column] = true;
        let total = scores[column] + best_pairing(similarity, row + 1, used);
        used[column] = false;
        best = best.max(total);
    }
    best
}

fn word_similarity(a: &str, b: &str) -> f64 {
    if a.len() == 1 || b.len() == 1 {
        let fits = loose_key(a).chars().next() == loose_key(b).chars().next();
        return if fits { 0.95 } else { 0.0 };
    }
    let strict = edit_similarity(&collapse_doubles(a), &collapse_doubles(b));
    let loose = edit_similarity(&loose_key(a), &loose_key(b));
    strict.max(0.95 * loose)
}

/// `1 - edits / length of the longer`, on ASCII keys.
fn edit_similarity(a: &str, b: &str) -> f64 {
    let longer = a.len().max(b.len());
    if longer == 0 {
        return 1.0;
    }
    1.0 - levenshtein(a.as_bytes(), b.as_bytes()) as f64 / longer as f64
}

fn levenshtein(a: &[u8], b: &[u8]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, &ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

fn collapse_doubles(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

/// A spelling-neutral key for one word (already ICAO Latin capitals). It folds the
/// differences between transliteration systems and between Russian and Belarusian
/// spellings of the same name: Y/I, Belarusian H for G, final Ў (`-OU`) for В (`-OV`),
/// akanne (unstressed О written А, Е written Я), дзеканне and цеканне (ДЗ, Ц for Д, Т),
/// the Belarusian prothetic В and У (`VOLHA` for `OLGA`, `ULADZIMIR` for `VLADIMIR`),
/// German umlauts written with or without E, Latin X for KS, Kazakh Latin Q and J.
fn loose_key(word: &str) -> String {
    let mut key = word
        .replace('X', "KS")
        .replace("KH", "x")
        .replace('H', "G")
        .replace('x', "KH")
        .replace("ZH", "J")
        .replace('Y', "I")
        .replace('W', "V")
        .replace('Q', "K");
    for (from, to) in [("OU", "OV"), ("EU", "EV"), ("AU", "AV")] {
        if key.ends_with(from) {
            key.truncate(key.len() - from.len());
            key.push_str(to);
        }
    }
    if key.starts_with("VO") {
        key.remove(0);
    } else if key.starts_with("UL") {
        key.replace_range(0..1, "V");
    }
    let key = collapse_doubles(&key);
    let key = key
        .replace("AE", "A")
        .replace("OE", "O")
        .replace("UE", "U")
        .replace("IA", "E")
        .replace("IO", "E")
        .replace("IE", "E")
        .replace('O', "A")
        .replace("DZ", "D")
        .replace("TS", "T");
    collapse_doubles(&key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fold_national_spellings() {
        assert_eq!(loose_key("SIARHEI"), loose_key("SERGEI"));
        assert_eq!(loose_key("IVANOU"), loose_key("IVANOV"));
        assert_eq!(loose_key("YULIYA"), loose_key("IULIIA"));
        assert_eq!(loose_key("ALIAKSANDR"), loose_key("ALEKSANDR"));
        assert_eq!(loose_key("DZMITRY"), loose_key("DMITRII"));
        assert_eq!(loose_key("VOLHA"), loose_key("OLGA"));
        assert_eq!(loose_key("ULADZIMIR"), loose_key("VLADIMIR"));
    }

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein(b"KITTEN", b"SITTING"), 3);
        assert_eq!(levenshtein(b"", b"ABC"), 3);
        assert_eq!(levenshtein(b"ABC", b"ABC"), 0);
    }
}
