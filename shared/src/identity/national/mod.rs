//! National personal and document numbers: Kazakhstan IIN, Belarus personal
//! identification number, Latvian personas kods, Russian internal passport series and
//! number. Each is a type that can only be built valid.

mod by;
mod iin;
mod lv;
mod ru;

pub use by::{ByPersonalNumber, ByPersonalNumberError};
pub use iin::{Iin, IinError};
pub use lv::{LvPersonalCode, LvPersonalCodeError};
pub use ru::{RuPassport, RuPassportError};

use chrono::NaiveDate;

use super::mrz::Sex;

/// Century and sex from the digit both the IIN and the Belarus number use:
/// 1/2 = 1800s, 3/4 = 1900s, 5/6 = 2000s; odd = male, even = female.
fn century_and_sex(digit: u8) -> Option<(i32, Sex)> {
    let century = match digit {
        1 | 2 => 1800,
        3 | 4 => 1900,
        5 | 6 => 2000,
        _ => return None,
    };
    let sex = if digit % 2 == 1 {
        Sex::Male
    } else {
        Sex::Female
    };
    Some((century, sex))
}

/// The date from two-digit year, month and day strings plus a century.
fn date(century: i32, yy: &str, mm: &str, dd: &str) -> Option<NaiveDate> {
    let yy: i32 = yy.parse().ok()?;
    NaiveDate::from_ymd_opt(century + yy, mm.parse().ok()?, dd.parse().ok()?)
}

/// Maps Cyrillic letters that look like Latin ones (typed on a Russian keyboard) to Latin.
fn latin_lookalike(c: char) -> char {
    match c {
        'А' | 'а' => 'A',
        'В' | 'в' => 'B',
        'С' | 'с' => 'C',
        'Е' | 'е' => 'E',
        'Н' | 'н' => 'H',
        'К' | 'к' => 'K',
        'М' | 'м' => 'M',
        'О' | 'о' => 'O',
        'Р' | 'р' => 'P',
        'Т' | 'т' => 'T',
        'Х' | 'х' => 'X',
        other => other.to_ascii_uppercase(),
    }
}
