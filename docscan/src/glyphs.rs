//! Recognising one MRZ character cell: templates rendered from the OCR-B font (embedded, public
//! domain) and compared by normalised cross-correlation, allowing `SHIFT` samples of
//! misplacement.
//!
//! A cell is the character's pitch wide and `BAND` cap heights tall, centred on the middle of
//! the capitals; scans and templates are both sampled to `PW x PH` in that frame, so a `<` is
//! small and low in its cell just as printed. Each character has templates in three stroke
//! weights and three blurs, for thin laser print, heavy inkjet and out-of-focus photos.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};

/// The characters an MRZ may hold.
pub const ALPHABET: &[u8; 37] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ<";

/// Patch width and height, in samples.
pub(crate) const PW: usize = 20;
pub(crate) const PH: usize = 28;
/// The cell's height in cap heights.
pub(crate) const BAND: f32 = 1.4;
/// How far (in samples) a cell may be off its place and still be matched.
pub(crate) const SHIFT: usize = 2;
/// A patch as sampled for matching: `SHIFT` samples of margin on every side.
pub(crate) const SW: usize = PW + 2 * SHIFT;
pub(crate) const SH: usize = PH + 2 * SHIFT;

static FONT: &[u8] = include_bytes!("../assets/OCRB.otf");

/// Every character's templates: zero-mean, unit-length ink values (`PW x PH`), the first
/// of each being the middle weight and blur, used to find where the cell sits.
struct Templates {
    by_class: Vec<Vec<Vec<f32>>>,
}

fn templates() -> &'static Templates {
    static T: OnceLock<Templates> = OnceLock::new();
    T.get_or_init(render_templates)
}

/// Ink coverage (0 paper .. 1 ink) of one character's cell at a high resolution.
struct Canvas {
    w: usize,
    h: usize,
    ink: Vec<f32>,
}

const RENDER_PX: f32 = 200.0;

fn render_cell(font: &FontRef<'_>, ch: char) -> Canvas {
    let scale = PxScale::from(RENDER_PX);
    let scaled = font.as_scaled(scale);
    let cap = cap_height(font, scale);
    let advance = scaled.h_advance(font.glyph_id('H'));
    let w = advance.round() as usize;
    let h = (cap * BAND).round() as usize;
    // Baseline so that the capitals' middle is the cell's middle.
    let baseline = h as f32 / 2.0 + cap / 2.0;
    let mut ink = vec![0f32; w * h];
    let glyph = font
        .glyph_id(ch)
        .with_scale_and_position(scale, point(0.0, baseline));
    if let Some(outlined) = font.outline_glyph(glyph) {
        let bounds = outlined.px_bounds();
        outlined.draw(|x, y, c| {
            let gx = bounds.min.x as i64 + i64::from(x);
            let gy = bounds.min.y as i64 + i64::from(y);
            if gx >= 0 && gy >= 0 && (gx as usize) < w && (gy as usize) < h {
                ink[gy as usize * w + gx as usize] = c.min(1.0);
            }
        });
    }
    Canvas { w, h, ink }
}

fn cap_height(font: &FontRef<'_>, scale: PxScale) -> f32 {
    let glyph = font
        .glyph_id('H')
        .with_scale_and_position(scale, point(0.0, 0.0));
    font.outline_glyph(glyph)
        .map(|o| o.px_bounds().height())
        .unwrap_or(scale.y * 0.7)
}

/// Thickens (`radius > 0`) or thins (`radius < 0`) strokes: max or min over a square.
fn morph(c: &Canvas, radius: i32) -> Canvas {
    if radius == 0 {
        return Canvas {
            w: c.w,
            h: c.h,
            ink: c.ink.clone(),
        };
    }
    let r = radius.unsigned_abs() as usize;
    let grow = radius > 0;
    let pick = |a: f32, b: f32| if grow { a.max(b) } else { a.min(b) };
    // Separable: rows, then columns.
    let mut rows = vec![0f32; c.w * c.h];
    for y in 0..c.h {
        for x in 0..c.w {
            let mut v = c.ink[y * c.w + x];
            for xx in x.saturating_sub(r)..(x + r + 1).min(c.w) {
                v = pick(v, c.ink[y * c.w + xx]);
            }
            rows[y * c.w + x] = v;
        }
    }
    let mut out = vec![0f32; c.w * c.h];
    for y in 0..c.h {
        for x in 0..c.w {
            let mut v = rows[y * c.w + x];
            for yy in y.saturating_sub(r)..(y + r + 1).min(c.h) {
                v = pick(v, rows[yy * c.w + x]);
            }
            out[y * c.w + x] = v;
        }
    }
    Canvas {
        w: c.w,
        h: c.h,
        ink: out,
    }
}

/// Area-averages the canvas down to `PW x PH`.
fn shrink(c: &Canvas) -> Vec<f32> {
    let mut out = vec![0f32; PW * PH];
    let sx = c.w as f32 / PW as f32;
    let sy = c.h as f32 / PH as f32;
    for v in 0..PH {
        for u in 0..PW {
            let (x0, x1) = ((u as f32 * sx) as usize, (((u + 1) as f32) * sx) as usize);
            let (y0, y1) = ((v as f32 * sy) as usize, (((v + 1) as f32) * sy) as usize);
            let mut acc = 0.0;
            let mut n = 0usize;
            for y in y0..y1.min(c.h) {
                for x in x0..x1.min(c.w) {
                    acc += c.ink[y * c.w + x];
                    n += 1;
                }
            }
            out[v * PW + u] = if n == 0 { 0.0 } else { acc / n as f32 };
        }
    }
    out
}

/// Gaussian blur of a `PW x PH` patch (sigma in samples), edges clamped.
fn blur(p: &[f32], sigma: f32) -> Vec<f32> {
    if sigma <= 0.0 {
        return p.to_vec();
    }
    let r = (sigma * 3.0).ceil() as i64;
    let kernel: Vec<f32> = (-r..=r)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let norm: f32 = kernel.iter().sum();
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        let mut out = vec![0f32; PW * PH];
        for y in 0..PH as i64 {
            for x in 0..PW as i64 {
                let mut acc = 0.0;
                for (k, weight) in kernel.iter().enumerate() {
                    let d = k as i64 - r;
                    let (xx, yy) = if horizontal {
                        ((x + d).clamp(0, PW as i64 - 1), y)
                    } else {
                        (x, (y + d).clamp(0, PH as i64 - 1))
                    };
                    acc += weight * src[(yy * PW as i64 + xx) as usize];
                }
                out[(y * PW as i64 + x) as usize] = acc / norm;
            }
        }
        out
    };
    pass(&pass(p, true), false)
}

/// Zero mean, unit length; `None` for a flat patch.
pub(crate) fn normalise(values: &mut [f32]) -> Option<()> {
    let mean = values.iter().sum::<f32>() / values.len() as f32;
    let mut norm = 0.0;
    for v in values.iter_mut() {
        *v -= mean;
        norm += *v * *v;
    }
    let norm = norm.sqrt();
    if norm < 1e-3 {
        return None;
    }
    for v in values.iter_mut() {
        *v /= norm;
    }
    Some(())
}

fn render_templates() -> Templates {
    let font = FontRef::try_from_slice(FONT).expect("the embedded OCR-B font parses");
    let mut by_class = Vec::new();
    for &ch in ALPHABET {
        let canvas = render_cell(&font, char::from(ch));
        let mut variants = Vec::new();
        for (radius, sigma) in [
            (0, 0.9),
            (0, 0.0),
            (0, 1.6),
            (-3, 0.0),
            (-3, 0.9),
            (-3, 1.6),
            (4, 0.0),
            (4, 0.9),
            (4, 1.6),
        ] {
            let mut values = blur(&shrink(&morph(&canvas, radius)), sigma);
            if normalise(&mut values).is_some() {
                variants.push(values);
            }
        }
        by_class.push(variants);
    }
    Templates { by_class }
}

/// What one cell was read as, among the characters its position allows.
#[derive(Debug, Clone, Copy)]
pub struct CellRead {
    /// The character read.
    pub ch: u8,
    /// Its correlation with the best template (1 is a perfect match).
    pub score: f32,
    /// How far ahead of the best other allowed character it is.
    pub margin: f32,
}

/// Matches an `SW x SH` sample (ink values, any scale: it is normalised per offset) against
/// the templates of the allowed characters, at every offset within `SHIFT`.
pub(crate) fn classify(sample: &[f32], allowed: &[u8]) -> CellRead {
    debug_assert_eq!(sample.len(), SW * SH);
    let t = templates();
    let dot = |a: &[f32], b: &[f32]| -> f32 { a.iter().zip(b).map(|(x, y)| x * y).sum() };
    // The sample's window at every offset, normalised.
    let mut windows: Vec<Option<Vec<f32>>> = Vec::with_capacity((2 * SHIFT + 1).pow(2));
    for dy in 0..=2 * SHIFT {
        for dx in 0..=2 * SHIFT {
            let mut window = vec![0f32; PW * PH];
            for y in 0..PH {
                let row = (y + dy) * SW + dx;
                window[y * PW..(y + 1) * PW].copy_from_slice(&sample[row..row + PW]);
            }
            windows.push(normalise(&mut window).map(|()| window));
        }
    }
    // Per character: the offset where its middle template fits best, then every variant
    // of it there.
    let mut best_per_class = [f32::MIN; ALPHABET.len()];
    for (class, variants) in t.by_class.iter().enumerate() {
        if !allowed.contains(&ALPHABET[class]) || variants.is_empty() {
            continue;
        }
        let Some((window, first)) = windows
            .iter()
            .flatten()
            .map(|w| (w, dot(&variants[0], w)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
        else {
            continue;
        };
        best_per_class[class] = variants[1..]
            .iter()
            .map(|v| dot(v, window))
            .fold(first, f32::max);
    }
    // Only allowed characters were scored.
    let mut ranked: Vec<(usize, f32)> = best_per_class
        .iter()
        .copied()
        .enumerate()
        .filter(|&(_, s)| s > f32::MIN)
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    match ranked.as_slice() {
        [] => CellRead {
            ch: b'<',
            score: 0.0,
            margin: 0.0,
        },
        [(c, s)] => CellRead {
            ch: ALPHABET[*c],
            score: *s,
            margin: *s,
        },
        [(c, s), (_, s2), ..] => CellRead {
            ch: ALPHABET[*c],
            score: *s,
            margin: s - s2,
        },
    }
}

/// The templates' geometry, for code that samples scans into the same frame: the pitch
/// (advance) of the font over its cap height.
pub(crate) fn pitch_over_cap() -> f32 {
    static R: OnceLock<f32> = OnceLock::new();
    *R.get_or_init(|| {
        let font = FontRef::try_from_slice(FONT).expect("the embedded OCR-B font parses");
        let scale = PxScale::from(RENDER_PX);
        font.as_scaled(scale).h_advance(font.glyph_id('H')) / cap_height(&font, scale)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Places a template-frame patch in the middle of a sample with white margins.
    fn sample_from(patch: &[f32], dx: usize, dy: usize) -> Vec<f32> {
        let mut s = vec![0f32; SW * SH];
        for y in 0..PH {
            for x in 0..PW {
                s[(y + dy) * SW + x + dx] = patch[y * PW + x];
            }
        }
        s
    }

    #[test]
    fn every_character_renders_and_is_read_back_from_its_own_rendering() {
        let font = FontRef::try_from_slice(FONT).unwrap();
        for &ch in ALPHABET {
            let canvas = render_cell(&font, char::from(ch));
            let patch = blur(&shrink(&morph(&canvas, 1)), 0.5);
            assert!(patch.iter().any(|&v| v > 0.5), "{} drew no ink", ch as char);
            for (dx, dy) in [(SHIFT, SHIFT), (SHIFT - 1, SHIFT + 1), (SHIFT + 2, SHIFT)] {
                let read = classify(&sample_from(&patch, dx, dy), ALPHABET);
                assert_eq!(read.ch as char, ch as char, "shifted by {dx},{dy}");
                assert!(read.score > 0.9 && read.margin > 0.02, "{read:?}");
            }
        }
    }

    #[test]
    fn a_position_that_allows_only_digits_never_answers_a_letter() {
        let font = FontRef::try_from_slice(FONT).unwrap();
        let o = shrink(&render_cell(&font, 'O'));
        let read = classify(&sample_from(&o, SHIFT, SHIFT), b"0123456789");
        assert_eq!(read.ch, b'0');
        let read = classify(&sample_from(&o, SHIFT, SHIFT), ALPHABET);
        assert_eq!(read.ch, b'O');
    }

    #[test]
    fn ocr_b_is_monospaced_at_about_one_pitch_per_cap_height() {
        let r = pitch_over_cap();
        assert!((0.8..1.3).contains(&r), "pitch/cap = {r}");
    }
}
