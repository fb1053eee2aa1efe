//! Clauses: the policy text a rule applies, in English and in the languages the merchant's own
//! terms were written in, and which of them a customer reads.
//!
//! In a pack a clause is a string (English only) or a table with `en` and any of `ru`, `kk`,
//! `lv`: `clause = { en = "...", ru = "..." }`. Decisions carry the English text as `clause`
//! and the others as `clause_translations`.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, Visitor};

use crate::notify::Language;

/// A policy text in English and, optionally, other languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    en: String,
    /// Never holds English.
    translations: BTreeMap<Language, String>,
}

impl Clause {
    /// A clause written in English only.
    pub fn english(text: impl Into<String>) -> Self {
        Clause {
            en: text.into(),
            translations: BTreeMap::new(),
        }
    }

    /// A clause from its English text and its other languages (an `en` entry among them is
    /// ignored: `en` is the English).
    pub fn new(en: impl Into<String>, mut translations: BTreeMap<Language, String>) -> Self {
        translations.remove(&Language::En);
        Clause {
            en: en.into(),
            translations,
        }
    }

    /// The clause as a decision stored it: `clause` (English) and `clause_translations`
    /// (decisions made before clauses had translations have none). None without `clause`.
    pub fn from_decision(decision: &serde_json::Value) -> Option<Self> {
        let en = decision["clause"].as_str()?;
        let translations = decision["clause_translations"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(code, text)| Some((language_of_code(code)?, text.as_str()?.to_owned())))
            .collect();
        Some(Clause::new(en, translations))
    }

    /// The English text.
    pub fn en(&self) -> &str {
        &self.en
    }

    /// The texts in languages other than English.
    pub fn translations(&self) -> &BTreeMap<Language, String> {
        &self.translations
    }

    /// The text in `language`, if the clause is written in it.
    pub fn get(&self, language: Language) -> Option<&str> {
        match language {
            Language::En => Some(&self.en),
            other => self.translations.get(&other).map(String::as_str),
        }
    }

    /// The text for a reader of `language`: in that language when the clause has it, else in
    /// `merchant_language` (the language the merchant's terms are written in, which a
    /// customer of that merchant more likely reads than English: a Kazakh reader of a
    /// Russian-only Belarusian pack gets the Russian), else in English.
    pub fn for_reader(&self, language: Language, merchant_language: Option<Language>) -> &str {
        self.get(language)
            .or_else(|| merchant_language.and_then(|m| self.get(m)))
            .unwrap_or(&self.en)
    }

    /// Blank texts are refused when a table is read; a string may still be blank.
    pub(crate) fn is_blank(&self) -> bool {
        self.en.trim().is_empty()
    }
}

/// The language of an exact code a pack may use (`en`, `ru`, `kk`, `lv`).
fn language_of_code(code: &str) -> Option<Language> {
    Language::exact(code)
}

/// A key of a clause table; unknown codes are refused here, so that the error points at the
/// key.
struct LanguageKey(Language);

impl<'de> Deserialize<'de> for LanguageKey {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        language_of_code(&code).map(LanguageKey).ok_or_else(|| {
            de::Error::custom(format!(
                "unknown language `{code}` in a clause: write the clause's texts under \
                 en (required), ru, kk or lv"
            ))
        })
    }
}

impl<'de> Deserialize<'de> for Clause {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ClauseVisitor)
    }
}

struct ClauseVisitor;

impl<'de> Visitor<'de> for ClauseVisitor {
    type Value = Clause;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a clause: a string (English) or a table of texts by language, \
             `{ en = \"...\", ru = \"...\" }`",
        )
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Clause, E> {
        Ok(Clause::english(text))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Clause, E> {
        Ok(Clause::english(text))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Clause, A::Error> {
        let mut en = None;
        let mut translations = BTreeMap::new();
        while let Some(LanguageKey(language)) = map.next_key()? {
            let text: String = map.next_value()?;
            if text.trim().is_empty() {
                return Err(de::Error::custom(format!(
                    "the clause's `{language}` text is empty: write it, or leave `{language}` out"
                )));
            }
            match language {
                Language::En => en = Some(text),
                other => {
                    translations.insert(other, text);
                }
            }
        }
        let en = en.ok_or_else(|| {
            de::Error::custom(
                "a clause table needs `en`, the English text (other languages are optional)",
            )
        })?;
        Ok(Clause { en, translations })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_stored_decision_gives_back_its_clause() {
        let clause = Clause::from_decision(&json!({
            "clause": "Item 4: not refundable.",
            "clause_translations": {"ru": "Пункт 4: возврату не подлежат.", "de": "ignored"},
        }))
        .unwrap();
        assert_eq!(clause.en(), "Item 4: not refundable.");
        assert_eq!(
            clause.translations(),
            &BTreeMap::from([(Language::Ru, "Пункт 4: возврату не подлежат.".to_owned())])
        );
        // Decided before clauses had translations: English only.
        let old = Clause::from_decision(&json!({"clause": "§8.5"})).unwrap();
        assert_eq!(old, Clause::english("§8.5"));
        // A summary without a clause (the payment is unknown) has none.
        assert_eq!(Clause::from_decision(&json!({"clause": null})), None);
    }

    #[test]
    fn a_reader_gets_their_language_then_the_merchants_then_english() {
        let clause = Clause::new(
            "Item 1.",
            BTreeMap::from([
                (Language::Kk, "1-тармақ.".to_owned()),
                (Language::En, "dropped: `en` is the English".to_owned()),
            ]),
        );
        assert_eq!(clause.get(Language::En), Some("Item 1."));
        assert_eq!(
            clause.for_reader(Language::Kk, Some(Language::Ru)),
            "1-тармақ."
        );
        assert_eq!(
            clause.for_reader(Language::Ru, Some(Language::Kk)),
            "1-тармақ."
        );
        assert_eq!(
            clause.for_reader(Language::Ru, Some(Language::Lv)),
            "Item 1."
        );
        assert_eq!(clause.for_reader(Language::Lv, None), "Item 1.");
        assert_eq!(
            clause.for_reader(Language::En, Some(Language::Kk)),
            "Item 1."
        );
    }
}
