//! Reads the machine-readable zone (MRZ) of a passport or ID card from a photo or scan.
//!
//! How, in order (each step in its own module):
//! 1. [`decode`]: the file's bytes become grey pictures (JPEG, PNG with EXIF orientation; the
//!    scanned images of a PDF's first pages), every size bounded first.
//! 2. `locate`: on a picture shrunk to about 1,000 pixels, the skew is measured (projection
//!    profiles), the page straightened, and its text lines found from blobs of ink (local
//!    Sauvola threshold, so uneven light does not matter); the MRZ is 2 or 3 aligned lines of
//!    30, 36 or 44 characters at one even pitch, the lowest such group on the page.
//! 3. `locate` again: the MRZ is cut out of the full-resolution picture, straightened and scaled to
//!    a fixed pitch; each line's own slope and pitch are fitted to its characters (which
//!    also undoes mild perspective), so every character sits in a known cell.
//! 4. [`glyphs`]: each cell is compared with templates rendered from the OCR-B font, among
//!    only the characters the ICAO layout allows at that position ([`layout`]).
//!
//! What it gives is what it saw: the lines as read, with each cell's score. Check digits
//! are the caller's to verify; this crate never changes a reading to make them agree.

pub mod decode;
pub mod glyphs;
pub mod layout;
mod locate;
mod raster;

use std::time::Instant;

pub use decode::Limits;
pub use glyphs::CellRead;
pub use layout::{Format, name_structure_is_exact};

/// Why a file could not be read at all (as opposed to read with no MRZ found).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Not a JPEG, PNG or PDF, or a PDF without a scanned picture, or encrypted.
    #[error("unsupported file: {0}")]
    Unsupported(String),
    /// The file claims a type but its contents are broken.
    #[error("the file could not be decoded ({0}): send the original photo or scan again")]
    Unreadable(String),
    /// Over the byte or pixel limit.
    #[error(
        "the file is too large ({bytes} over the limit of {max}): send a smaller photo or scan"
    )]
    TooLarge {
        /// The size found (bytes, or pixels for a picture).
        bytes: usize,
        /// The limit.
        max: usize,
    },
}

/// An MRZ as read from a picture.
#[derive(Debug, Clone)]
pub struct Reading {
    /// Its size.
    pub format: Format,
    /// Its lines, as read (only MRZ characters, each of its format's length).
    pub lines: Vec<String>,
    /// Each character's read, line by line.
    pub cells: Vec<Vec<CellRead>>,
    /// The picture's skew that was corrected, in degrees.
    pub skew_degrees: f32,
}

impl Reading {
    /// The mean of the cells' scores.
    pub fn mean_score(&self) -> f32 {
        let all: Vec<f32> = self.cells.iter().flatten().map(|c| c.score).collect();
        if all.is_empty() {
            0.0
        } else {
            all.iter().sum::<f32>() / all.len() as f32
        }
    }

    /// The cells that matched their character's templates less than `min_score`, as
    /// (line, position).
    pub fn doubtful(&self, min_score: f32) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        for (l, line) in self.cells.iter().enumerate() {
            for (i, c) in line.iter().enumerate() {
                if c.score < min_score {
                    out.push((l, i));
                }
            }
        }
        out
    }
}

/// The outcome of reading a file: whether an MRZ was found, and how long it took.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The MRZ, when one was found.
    pub reading: Option<Reading>,
    /// Seconds spent, decoding included.
    pub seconds: f64,
}

/// Reads a file's MRZ. `Ok` with no reading when the file is a picture without a findable
/// MRZ; `Err` when the file itself cannot be used.
pub fn read_file(bytes: &[u8], limits: &Limits) -> Result<Outcome, ReadError> {
    let started = Instant::now();
    let pictures = decode::pictures(bytes, limits)?;
    Ok(Outcome {
        reading: pictures.iter().find_map(read),
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Reads the MRZ of one grey picture, if it has one. Pictures taken sideways or upside down
/// are tried in all four orientations.
///
/// Text upside down has the same lines as text upright, so an orientation is taken when its
/// characters match the font well (mean score at least [`CONVINCING`]); otherwise the best
/// matching orientation wins.
pub fn read(picture: &image::GrayImage) -> Option<Reading> {
    read_observed(picture, &mut |_, _| {})
}

/// [`read`], showing `observe` each straightened working picture (`"flat"`) and cut-out MRZ
/// (`"crop"`) on the way: for looking into a picture that is misread.
pub fn read_observed(
    picture: &image::GrayImage,
    observe: &mut dyn FnMut(&str, &image::GrayImage),
) -> Option<Reading> {
    let mut best: Option<Reading> = None;
    for turn in 0..4 {
        let turned;
        let candidate = match turn {
            0 => picture,
            1 => {
                turned = image::imageops::rotate180(picture);
                &turned
            }
            2 => {
                turned = image::imageops::rotate90(picture);
                &turned
            }
            _ => {
                turned = image::imageops::rotate270(picture);
                &turned
            }
        };
        if let Some(r) = locate::read_upright(candidate, observe) {
            if r.mean_score() >= CONVINCING {
                return Some(r);
            }
            if best
                .as_ref()
                .is_none_or(|b| r.mean_score() > b.mean_score())
            {
                best = Some(r);
            }
        }
    }
    best
}

/// A reading whose cells match the font this well on average is taken without trying the
/// picture's other orientations.
pub const CONVINCING: f32 = 0.8;
