//! National-number parsers never panic, and never echo a full number in their messages.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::identity::national::{ByPersonalNumber, Iin, LvPersonalCode, RuPassport};

fuzz_target!(|text: &str| {
    let digits = text.trim();
    let is_number = digits.len() >= 8 && digits.bytes().all(|b| b.is_ascii_digit());
    if let Err(error) = Iin::parse(text) {
        assert!(!is_number || !error.problem().message.contains(digits));
    }
    if let Err(error) = LvPersonalCode::parse(text) {
        assert!(!is_number || !error.problem().message.contains(digits));
    }
    let _ = ByPersonalNumber::parse(text);
    let _ = RuPassport::parse(text);
    let _ = shared::identity::mask_document_number(text);
});
