//! The MRZ parser never panics, and whatever it accepts reads back as a real person.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::identity::mrz;

fuzz_target!(|text: &str| {
    if let Ok(parsed) = mrz::parse(text) {
        assert!(!parsed.surname.is_empty());
        assert!(!parsed.document_number.as_str().is_empty());
    }
});
