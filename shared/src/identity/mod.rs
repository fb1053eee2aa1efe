//! Identity documents: the checks an application's identity document must pass (file
//! type and limits, MRZ check digits, national numbers, expiry, birth date and name
//! consistency), each reporting named problems a person can act on. Pure functions: no
//! I/O, no clock.

pub mod check;
pub mod file;
pub mod masking;
pub mod mrz;
pub mod names;
pub mod national;
pub mod problem;
pub mod scan;
pub mod transliteration;

pub use check::{CheckReport, Country, DocumentInput, Expectation, NationalNumber, check};
pub use masking::mask_document_number;
pub use mrz::{DocumentNumber, Mrz, MrzFormat, Sex};
pub use names::{NAME_MATCH_THRESHOLD, NameMatch, match_names};
pub use problem::{Problem, ProblemCode};
