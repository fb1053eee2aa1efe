//! Finding the MRZ on an upright picture and reading it cell by cell (steps 2 and 3 of the
//! crate's description).

use image::GrayImage;
use image::imageops::FilterType;

use crate::glyphs::{self, BAND, PH, PW, SH, SW};
use crate::layout::Format;
use crate::raster::{Affine, Blob, blobs, sauvola, skew_degrees, warp};
use crate::{CellRead, Reading};

/// The longer side of the picture the MRZ is searched in, in pixels.
const WORK_SIDE: f32 = 1000.0;
/// The largest skew looked for, in degrees.
const MAX_SKEW: f32 = 10.0;
/// Sauvola's sensitivity.
const SAUVOLA_K: f64 = 0.2;

/// A line of text on the straightened working picture: its blobs left to right.
#[derive(Debug, Clone)]
struct TextLine {
    blobs: Vec<Blob>,
    /// Middle of its capitals (y), and their height.
    cy: f32,
    cap: f32,
}

impl TextLine {
    fn x0(&self) -> f32 {
        self.blobs.first().map_or(0.0, |b| b.x0 as f32)
    }
    fn x1(&self) -> f32 {
        self.blobs.last().map_or(0.0, |b| b.x1 as f32)
    }
}

/// What makes a text line an MRZ line: characters at one even pitch, and how many.
#[derive(Debug, Clone)]
struct MrzLine {
    line: TextLine,
    pitch: f32,
    chars: usize,
    /// The middle of its capitals as `y = middle + slope * x` (perspective leaves each line
    /// its own slope after the page is straightened).
    slope: f32,
    middle: f32,
}

/// The rotation that straightens a picture, as a mapping from straightened coordinates
/// (scaled by `f`, offset by `origin`) back to the picture: straightened point
/// `(origin.0 + u / f, origin.1 + v / f)` about `centre`.
fn straighten(centre: (f32, f32), skew: f32, f: f32, origin: (f32, f32)) -> Affine {
    let (sin, cos) = skew.to_radians().sin_cos();
    let (dx, dy) = (origin.0 - centre.0, origin.1 - centre.1);
    Affine {
        origin: (
            centre.0 + dx * cos - dy * sin,
            centre.1 + dx * sin + dy * cos,
        ),
        du: (cos / f, sin / f),
        dv: (-sin / f, cos / f),
    }
}

/// A blob no wider than one character (not two touching, not a run of fillers).
fn single(b: &Blob) -> bool {
    b.width() <= b.height() * 1.3 + 1.0
}

fn median(values: &mut [f32]) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f32::total_cmp);
    Some(values[values.len() / 2])
}

/// Groups blobs into text lines: each blob joins the line whose middle it shares and whose
/// last blob ends near where it starts.
fn text_lines(mut found: Vec<Blob>, max_height: f32) -> Vec<TextLine> {
    found.retain(|b| {
        b.height() >= 4.0
            && b.height() <= max_height
            && b.width() <= b.height() * 40.0
            && b.pixels >= 6
    });
    found.sort_by_key(|b| b.x0);
    let mut lines: Vec<TextLine> = Vec::new();
    for b in found {
        let glyph_like = b.width() <= b.height() * 1.6;
        let mut best: Option<(usize, f32)> = None;
        for (i, l) in lines.iter().enumerate() {
            let last = l.blobs.last().expect("lines are never empty");
            let dy = (b.cy() - l.cy).abs();
            let gap = b.x0 as f32 - last.x1 as f32;
            if dy < 0.45 * l.cap.max(b.height())
                && gap < 1.2 * l.cap
                && gap > -0.5 * l.cap
                && best.is_none_or(|(_, d)| dy < d)
            {
                best = Some((i, dy));
            }
        }
        match best {
            Some((i, _)) => {
                let l = &mut lines[i];
                l.blobs.push(b);
                if glyph_like && b.height() > l.cap * 0.7 {
                    let n = l.blobs.len() as f32;
                    l.cy += (b.cy() - l.cy) / n.min(8.0);
                    if b.height() > l.cap {
                        l.cap = l.cap * 0.7 + b.height() * 0.3;
                    }
                }
            }
            None => lines.push(TextLine {
                blobs: vec![b],
                cy: b.cy(),
                cap: b.height(),
            }),
        }
    }
    lines
}

/// Is this a line of evenly pitched characters, and how many cells does it span?
fn as_mrz_line(line: &TextLine) -> Option<MrzLine> {
    if line.blobs.len() < 12 {
        return None;
    }
    let singles: Vec<&Blob> = line.blobs.iter().filter(|b| single(b)).collect();
    let mut diffs: Vec<f32> = line
        .blobs
        .windows(2)
        .filter(|w| w.iter().all(single))
        .map(|w| w[1].cx() - w[0].cx())
        .collect();
    let pitch = median(&mut diffs)?;
    if pitch <= 2.0 {
        return None;
    }
    let regular = diffs
        .iter()
        .filter(|d| (0.8 * pitch..=1.2 * pitch).contains(*d))
        .count();
    if (regular as f32) < 0.6 * diffs.len() as f32 {
        return None;
    }
    // OCR-B's pitch over its cap height, give or take blur and the font's print size.
    let ratio = pitch / line.cap / glyphs::pitch_over_cap();
    if !(0.65..=1.6).contains(&ratio) {
        return None;
    }
    let mut widths: Vec<f32> = singles
        .iter()
        .filter(|b| b.height() >= 0.7 * line.cap)
        .map(|b| b.width())
        .collect();
    let glyph = median(&mut widths)?.min(pitch);
    let chars = ((line.x1() - line.x0() - glyph) / pitch + 1.0).round() as usize;
    if (singles.len() as f32) < 0.5 * chars as f32 {
        return None;
    }
    let (slope, middle) = fit(line
        .blobs
        .iter()
        .filter(|b| b.height() >= 0.7 * line.cap && single(b))
        .map(|b| (b.cx(), b.cy())));
    Some(MrzLine {
        line: line.clone(),
        pitch,
        chars,
        slope,
        middle,
    })
}

fn format_of(chars: usize) -> Option<Format> {
    match chars {
        28..=32 => Some(Format::Td1),
        34..=38 => Some(Format::Td2),
        42..=46 => Some(Format::Td3),
        _ => None,
    }
}

/// The lowest group of 3 (TD1) or 2 (TD2, TD3) aligned MRZ lines.
fn mrz_group(candidates: &[MrzLine]) -> Option<(Format, Vec<MrzLine>)> {
    let mut sorted: Vec<&MrzLine> = candidates
        .iter()
        .filter(|c| format_of(c.chars).is_some())
        .collect();
    sorted.sort_by(|a, b| a.line.cy.total_cmp(&b.line.cy));
    let fits = |a: &MrzLine, b: &MrzLine| {
        let gap = b.line.cy - a.line.cy;
        format_of(a.chars) == format_of(b.chars)
            && (a.pitch / b.pitch - 1.0).abs() < 0.12
            && (a.line.x0() - b.line.x0()).abs() < 2.0 * a.pitch
            && (1.1 * a.line.cap..=3.2 * a.line.cap).contains(&gap)
    };
    let mut best: Option<(Format, Vec<MrzLine>)> = None;
    for i in 0..sorted.len() {
        let format = format_of(sorted[i].chars)?;
        let (count, _) = format.shape();
        if i + count > sorted.len() {
            continue;
        }
        let group = &sorted[i..i + count];
        if group.windows(2).all(|w| fits(w[0], w[1])) {
            best = Some((format, group.iter().map(|&l| l.clone()).collect()));
        }
    }
    best
}

/// Finds and reads the MRZ of a picture that is the right way up (±10°). `observe` is shown
/// the straightened working picture (`flat`) and the cut-out MRZ (`crop`).
pub(crate) fn read_upright(
    picture: &GrayImage,
    observe: &mut dyn FnMut(&str, &GrayImage),
) -> Option<Reading> {
    let (w, h) = picture.dimensions();
    if w < 60 || h < 30 {
        return None;
    }
    // 1. The working picture and its skew.
    let s = (WORK_SIDE / w.max(h) as f32).min(1.0);
    let work = if s < 1.0 {
        image::imageops::resize(
            picture,
            ((w as f32 * s).round() as u32).max(1),
            ((h as f32 * s).round() as u32).max(1),
            FilterType::Triangle,
        )
    } else {
        picture.clone()
    };
    let (ww, wh) = work.dimensions();
    let radius = (ww.max(wh) as usize / 60).max(8);
    let skew = skew_degrees(&sauvola(&work, radius, SAUVOLA_K), MAX_SKEW);

    // 2. Straightened, on a canvas with room for the corners.
    let margin = ((skew.to_radians().sin().abs() * ww.max(wh) as f32) / 2.0).ceil() + 2.0;
    let centre_work = (ww as f32 / 2.0, wh as f32 / 2.0);
    let flat = warp(
        &work,
        &straighten(centre_work, skew, 1.0, (-margin, -margin)),
        ww + 2 * margin as u32,
        wh + 2 * margin as u32,
    );
    let lines = text_lines(blobs(&sauvola(&flat, radius, SAUVOLA_K)), wh as f32 / 8.0);
    let candidates: Vec<MrzLine> = lines.iter().filter_map(as_mrz_line).collect();
    let (format, group) = mrz_group(&candidates)?;
    let (_, length) = format.shape();

    // 3. The MRZ cut from the full picture, straightened, at `PW` pixels per character.
    // Straightened working coordinates are straightened full coordinates times `s`.
    let to_full = |v: f32| (v - margin) / s;
    let pitch_full = group.iter().map(|l| l.pitch).sum::<f32>() / group.len() as f32 / s;
    let cap_full = group.iter().map(|l| l.line.cap).sum::<f32>() / group.len() as f32 / s;
    let x0 = group
        .iter()
        .map(|l| to_full(l.line.x0()))
        .fold(f32::MAX, f32::min)
        - 1.5 * pitch_full;
    let x1 = group
        .iter()
        .map(|l| to_full(l.line.x1()))
        .fold(f32::MIN, f32::max)
        + 1.5 * pitch_full;
    let y0 = to_full(group[0].line.cy) - 1.8 * cap_full;
    let y1 = to_full(group[group.len() - 1].line.cy) + 1.8 * cap_full;
    let f = PW as f32 / pitch_full;
    let centre_full = (w as f32 / 2.0, h as f32 / 2.0);
    let crop = warp(
        picture,
        &straighten(centre_full, skew, f, (x0, y0)),
        ((x1 - x0) * f).ceil() as u32,
        ((y1 - y0) * f).ceil() as u32,
    );
    observe("flat", &flat);
    observe("crop", &crop);
    let crop_blobs = blobs(&sauvola(&crop, 2 * PW, SAUVOLA_K));
    let mut lines_read = Vec::with_capacity(group.len());
    let mut cells = Vec::with_capacity(group.len());
    for (index, line) in group.iter().enumerate() {
        let cap = cap_full * f;
        // The line's middle at its two ends, in the crop.
        let crop_at = |x: f32| {
            let y = line.middle + line.slope * x;
            ((to_full(x) - x0) * f, (to_full(y) - y0) * f)
        };
        let (a, b) = (crop_at(line.line.x0()), crop_at(line.line.x1()));
        let slope = if b.0 > a.0 {
            (b.1 - a.1) / (b.0 - a.0)
        } else {
            0.0
        };
        let hint = LineHint {
            middle: a.1 - slope * a.0,
            slope,
            cap,
            x0: a.0,
            x1: b.0,
        };
        let read = read_line(&crop, &crop_blobs, format, index, length, &hint)?;
        lines_read.push(read.iter().map(|c| char::from(c.ch)).collect());
        cells.push(read);
    }
    Some(Reading {
        format,
        lines: lines_read,
        cells,
        skew_degrees: skew,
    })
}

/// Where the search found a line, in the crop's pixels: its middle (`middle + slope * x`),
/// cap height and ends.
struct LineHint {
    middle: f32,
    slope: f32,
    cap: f32,
    x0: f32,
    x1: f32,
}

/// Fits one line's cells (start, pitch, bend, slope) to its blobs in the crop and reads each.
fn read_line(
    crop: &GrayImage,
    all: &[Blob],
    format: Format,
    index: usize,
    length: usize,
    hint: &LineHint,
) -> Option<Vec<CellRead>> {
    let (cap, margin) = (hint.cap, 0.7 * PW as f32);
    // The line's blobs: on its middle, of a character's height, within its ends (the edge of
    // the page or a desk beside it is not part of it).
    let near: Vec<&Blob> = all
        .iter()
        .filter(|b| {
            (b.cy() - (hint.middle + hint.slope * b.cx())).abs() < 0.6 * cap
                && b.height() >= 0.25 * cap
                && b.height() <= 1.7 * cap
                && b.x0 as f32 >= hint.x0 - margin
                && b.x1 as f32 <= hint.x1 + margin
        })
        .collect();
    // Capitals and digits: the line's middle and slope.
    let caps: Vec<&&Blob> = near
        .iter()
        .filter(|b| (0.7 * cap..=1.35 * cap).contains(&b.height()) && b.width() <= 1.3 * PW as f32)
        .collect();
    if caps.len() < length / 4 {
        return None;
    }
    let (slope, middle) = fit(caps.iter().map(|b| (b.cx(), b.cy())));

    // Pitch and start: single characters' centres lie on `start + i * pitch`. A first
    // guess from the line's extent (its length is known), then the pitch whose grid the
    // centres agree with best (their phase is most concentrated), then least squares.
    let singles: Vec<f32> = near
        .iter()
        .filter(|b| b.width() <= 1.2 * PW as f32)
        .map(|b| b.cx())
        .collect();
    let first = near.iter().min_by_key(|b| b.x0)?;
    let last = near.iter().max_by_key(|b| b.x1)?;
    let glyph = median(&mut caps.iter().map(|b| b.width()).collect::<Vec<_>>())?;
    let guess = (last.x1 as f32 - first.x0 as f32 - glyph) / (length - 1) as f32;
    if singles.len() < length / 4 || !(0.7 * PW as f32..=1.4 * PW as f32).contains(&guess) {
        return None;
    }
    let mut best = (guess, 0.0f32, 0.0f32);
    for step in -40..=40 {
        let p = guess * (1.0 + step as f32 * 0.001);
        let (mut sin, mut cos) = (0.0f32, 0.0f32);
        for &x in &singles {
            let (s, c) = (std::f32::consts::TAU * x / p).sin_cos();
            sin += s;
            cos += c;
        }
        let strength = sin.hypot(cos);
        if strength > best.1 {
            best = (p, strength, sin.atan2(cos));
        }
    }
    let (mut pitch, _, phase) = best;
    // The grid point nearest the first character's middle is cell 0.
    let first_middle = first.x0 as f32 + glyph.min(first.width()) / 2.0;
    let on_grid = phase / std::f32::consts::TAU * pitch;
    let mut start = on_grid + ((first_middle - on_grid) / pitch).round() * pitch;
    // Then least squares: three rounds of a straight grid, and (perspective: a photo taken at
    // an angle prints one end of a line a little wider than the other) two with a bend,
    // `start + pitch * i + curve * i²`, when enough characters were placed and one end is at
    // most a fifth wider than the other.
    let mut curve = 0.0f32;
    for round in 0..5 {
        let assigned = on_grid_cells(&singles, (start, pitch, curve), length);
        if round < 3 {
            if assigned.len() < length / 4 {
                return None;
            }
            (pitch, start) = fit(assigned.into_iter());
            continue;
        }
        if assigned.len() < length / 2 {
            break;
        }
        match fit_quadratic(&assigned) {
            Some((a, b, c)) if (2.0 * c * length as f32).abs() < 0.2 * b => {
                (start, pitch, curve) = (a, b, c);
            }
            _ => break,
        }
    }

    let slots = format.slots(index);
    let mut sample = vec![0f32; SW * SH];
    let mut out = Vec::with_capacity(length);
    for (i, slot) in slots.iter().enumerate() {
        let i = i as f32;
        let cx = start + pitch * i + curve * i * i;
        let cy = middle + slope * cx;
        // The cell's size from the local pitch and OCR-B's proportions: measured heights of
        // blurred characters run a pixel or two tall, which squashes 0 towards O.
        let local = pitch + 2.0 * curve * i;
        let sx = local / PW as f32;
        let sy = BAND * (local / glyphs::pitch_over_cap()) / PH as f32;
        for k in 0..SH {
            for j in 0..SW {
                let x = cx + (j as f32 + 0.5 - SW as f32 / 2.0) * sx;
                let y = cy + (k as f32 + 0.5 - SH as f32 / 2.0) * sy;
                sample[k * SW + j] = 255.0 - crate::raster::bilinear(crop, x, y);
            }
        }
        out.push(glyphs::classify(&sample, slot.allowed()));
    }
    Some(out)
}

/// The characters' centres `xs` that sit on the grid `(start, pitch, curve)` (within 0.3 of
/// the local pitch), as (cell index, centre).
fn on_grid_cells(
    xs: &[f32],
    (start, pitch, curve): (f32, f32, f32),
    length: usize,
) -> Vec<(f32, f32)> {
    xs.iter()
        .filter_map(|&x| {
            let along = (x - start) / pitch;
            let i = ((x - start - curve * along * along) / pitch).round();
            let local = pitch + 2.0 * curve * along;
            let off = x - (start + pitch * i + curve * i * i);
            ((0.0..length as f32).contains(&i) && off.abs() < 0.3 * local).then_some((i, x))
        })
        .collect()
}

/// Least squares `y = a + b x + c x²` over points; `None` when they do not determine it.
fn fit_quadratic(points: &[(f32, f32)]) -> Option<(f32, f32, f32)> {
    // Normal equations: sums of x^0..x^4 and of y x^0..x^2.
    let mut sx = [0f64; 5];
    let mut sy = [0f64; 3];
    for &(x, y) in points {
        let (x, y) = (f64::from(x), f64::from(y));
        let mut p = 1.0;
        for (k, slot) in sx.iter_mut().enumerate() {
            *slot += p;
            if k < 3 {
                sy[k] += p * y;
            }
            p *= x;
        }
    }
    let m = [
        [sx[0], sx[1], sx[2]],
        [sx[1], sx[2], sx[3]],
        [sx[2], sx[3], sx[4]],
    ];
    let det = |m: &[[f64; 3]; 3]| {
        m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
            - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
            + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
    };
    let d = det(&m);
    if d.abs() < 1e-9 * sx[4].max(1.0) {
        return None;
    }
    // Cramer's rule.
    let solve = |col: usize| {
        let mut mm = m;
        for (row, value) in mm.iter_mut().zip(sy) {
            row[col] = value;
        }
        det(&mm) / d
    };
    Some((solve(0) as f32, solve(1) as f32, solve(2) as f32))
}

/// Least squares `y = a + b x` over points; returns `(b, a)`.
fn fit(points: impl Iterator<Item = (f32, f32)>) -> (f32, f32) {
    let (mut n, mut sx, mut sy, mut sxx, mut sxy) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
    for (x, y) in points {
        let (x, y) = (f64::from(x), f64::from(y));
        n += 1.0;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    let det = n * sxx - sx * sx;
    if n == 0.0 {
        return (0.0, 0.0);
    }
    if det.abs() < 1e-9 {
        return (0.0, (sy / n) as f32);
    }
    let b = (n * sxy - sx * sy) / det;
    let a = (sy - b * sx) / n;
    (b as f32, a as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn straightening_maps_a_skewed_line_onto_a_row() {
        // A line falling 3° to the right through the centre of a 400x300 picture.
        let map = straighten((200.0, 150.0), 3.0, 1.0, (0.0, 0.0));
        let (x, y) = map.at(300.0, 150.0);
        let expect_y = 150.0 + 100.0 * 3f32.to_radians().tan();
        assert!((y - expect_y).abs() < 0.5, "{x},{y} vs {expect_y}");
    }

    #[test]
    fn least_squares_recovers_a_parabola() {
        let points: Vec<(f32, f32)> = (0..44)
            .map(|i| (i as f32, 5.0 + 20.0 * i as f32 + 0.05 * (i * i) as f32))
            .collect();
        let (a, b, c) = fit_quadratic(&points).unwrap();
        assert!((a - 5.0).abs() < 1e-2 && (b - 20.0).abs() < 1e-3 && (c - 0.05).abs() < 1e-4);
        assert!(fit_quadratic(&[(1.0, 1.0), (1.0, 2.0)]).is_none());
    }

    #[test]
    fn least_squares_recovers_a_line() {
        let (b, a) = fit((0..10).map(|i| (i as f32, 3.0 + 2.0 * i as f32)));
        assert!((b - 2.0).abs() < 1e-4 && (a - 3.0).abs() < 1e-4);
    }
}
