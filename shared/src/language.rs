//! The languages we write to customers in: one type for the emails, the intake's guess, the
//! policy packs' clause translations, the API and the merchants file.

use crate::names::Named;
use serde::{Deserialize, Serialize};

/// The language of a customer email. Anything we do not write in falls back to English.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[derive(strum::Display, strum::IntoStaticStr, strum::VariantArray)]
#[strum(serialize_all = "lowercase")]
#[derive(sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Language {
    /// Russian (`ru`).
    Ru,
    /// Kazakh (`kk`).
    Kk,
    /// Latvian (`lv`).
    Lv,
    /// English (`en`), also the fallback for any language we do not write in.
    En,
}

impl Language {
    /// Every variant, in declaration order.
    pub const ALL: &'static [Language] = <Language as strum::VariantArray>::VARIANTS;

    /// The language for a code such as `ru`, `kk`, `lv`, `en`, also with a region or in
    /// another case (`ru-RU`, `LV`, `kk_KZ`); anything else is English, the fallback.
    pub fn from_code(code: &str) -> Language {
        let primary = code
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "ru" => Language::Ru,
            "kk" => Language::Kk,
            "lv" => Language::Lv,
            _ => Language::En,
        }
    }

    /// The language of exactly one of the four codes as stored and as the API takes them
    /// (`ru`, `kk`, `lv`, `en`, lower case); `None` for anything else.
    pub fn exact(code: &str) -> Option<Language> {
        Language::from_name(code)
    }

    /// What a bad language code is told ("expected one of ru, kk, lv, en").
    pub const EXPECTED: &'static str = "expected one of ru, kk, lv, en";

    /// The ISO 639-1 code (`ru`, `kk`, `lv`, `en`), also used as the HTML `lang`.
    pub fn code(self) -> &'static str {
        self.into()
    }
}

impl<'de> Deserialize<'de> for Language {
    /// Never fails: an unknown code is English, as [`Language::from_code`] says.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Ok(Language::from_code(&code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_codes_with_regions_and_unknown_fallback() {
        assert_eq!(Language::from_code("ru"), Language::Ru);
        assert_eq!(Language::from_code("ru-RU"), Language::Ru);
        assert_eq!(Language::from_code("KK_kz"), Language::Kk);
        assert_eq!(Language::from_code(" lv "), Language::Lv);
        assert_eq!(Language::from_code("en"), Language::En);
        assert_eq!(Language::from_code("be"), Language::En);
        assert_eq!(Language::from_code(""), Language::En);
        assert_eq!(
            serde_json::from_str::<Language>("\"de\"").unwrap(),
            Language::En
        );
        assert_eq!(serde_json::to_string(&Language::Kk).unwrap(), "\"kk\"");
    }

    #[test]
    fn exact_codes_only_as_stored() {
        for &l in Language::ALL {
            assert_eq!(Language::exact(l.code()), Some(l));
        }
        for code in ["RU", "ru-RU", " lv", "de", ""] {
            assert_eq!(Language::exact(code), None, "{code:?}");
        }
    }
}
