//! The identity-document reader's benchmark (issue #20; run by `scripts/bench-read`, release
//! build): the generated set of made-up passports and ID cards (`specimens`), read by
//! refundd's reader and judged (`docscan` + `shared::identity::scan`), next to a baseline
//! measured in the same run: Tesseract 5 alone (Debian's `tesseract-ocr`, English model) on
//! the pre-cropped MRZ band of each picture, once plain and once limited to the MRZ alphabet.
//!
//! Prints: reads per second on one and on all cores, latency percentiles, CPU seconds per
//! read, peak RSS; accuracy (valid documents read exactly in every field, invalid ones
//! accepted, pictures where nothing was found); the same accuracy and time for Tesseract.
//!
//!   bench_read [COUNT] [SEED]        (defaults 240 and 20261204: the acceptance test's set)

use std::io::Cursor;
use std::process::Command;
use std::time::Instant;

use chrono::NaiveDate;

use shared::identity::scan::{ScanReport, assess};
use specimens::{Fonts, Kind, Specimen, specimen};

/// What a reader made of one picture.
struct Outcome {
    exact: bool,
    accepted: bool,
    found: bool,
    seconds: f64,
}

fn ours(s: &Specimen, today: NaiveDate) -> Outcome {
    let started = Instant::now();
    let outcome = docscan::read_file(&s.jpeg, &docscan::Limits::default()).expect("our JPEG");
    let report = match &outcome.reading {
        Some(r) => assess(r, outcome.seconds, today),
        None => ScanReport::not_found(outcome.seconds),
    };
    let seconds = started.elapsed().as_secs_f64();
    let fields = serde_json::to_value(&report.fields).expect("fields serialise");
    Outcome {
        exact: report.mrz == s.document.lines && fields == s.document.expected_fields(),
        accepted: report.valid,
        found: report.found,
        seconds,
    }
}

/// Tesseract on the MRZ band cut from the picture (as the generator knows where it is).
fn tesseract(s: &Specimen, dir: &std::path::Path, whitelist: bool) -> Outcome {
    let picture = image::load_from_memory(&s.jpeg)
        .expect("our JPEG")
        .to_luma8();
    let (x0, y0, x1, y1) = s.band;
    let band = image::imageops::crop_imm(&picture, x0, y0, x1 - x0, y1 - y0).to_image();
    let path = dir.join("band.png");
    let mut png = Vec::new();
    band.write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .expect("PNG");
    std::fs::write(&path, png).expect("write band");
    let started = Instant::now();
    let mut cmd = Command::new("tesseract");
    cmd.arg(&path)
        .arg("stdout")
        .args(["--psm", "6", "-l", "eng"]);
    if whitelist {
        cmd.args([
            "-c",
            "tessedit_char_whitelist=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<",
        ]);
    }
    let output = cmd
        .output()
        .expect("tesseract runs (scripts/ocr installs it)");
    let seconds = started.elapsed().as_secs_f64();
    let lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| l.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .filter(|l| l.len() >= 20)
        .collect();
    let found = lines.len() >= s.document.lines.len();
    let exact = found && lines[lines.len() - s.document.lines.len()..] == s.document.lines[..];
    Outcome {
        exact,
        // Tesseract has no notion of a valid document: an exact read counts as accepted.
        accepted: exact && s.document.valid,
        found,
        seconds,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn cpu_seconds() -> f64 {
    // utime and stime, fields 14 and 15 of /proc/self/stat, in clock ticks (100 per second).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn summary(name: &str, set: &[Specimen], outcomes: &[Outcome]) {
    let valid: Vec<usize> = (0..set.len()).filter(|&i| set[i].document.valid).collect();
    let exact = valid
        .iter()
        .filter(|&&i| outcomes[i].exact && outcomes[i].accepted)
        .count();
    let invalid = set.len() - valid.len();
    let accepted_invalid = (0..set.len())
        .filter(|&i| !set[i].document.valid && outcomes[i].accepted)
        .count();
    let not_found = outcomes.iter().filter(|o| !o.found).count();
    let mut seconds: Vec<f64> = outcomes.iter().map(|o| o.seconds).collect();
    seconds.sort_by(f64::total_cmp);
    println!(
        "| {name} | {exact}/{} ({:.1} %) | {accepted_invalid}/{invalid} | {not_found} | {:.3} | {:.3} | {:.3} |",
        valid.len(),
        100.0 * exact as f64 / valid.len().max(1) as f64,
        percentile(&seconds, 0.5),
        percentile(&seconds, 0.9),
        percentile(&seconds, 0.99),
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(240);
    let seed: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_261_204);
    let today = NaiveDate::from_ymd_opt(2026, 12, 4).expect("a date");
    let fonts = Fonts::load();
    let started = Instant::now();
    let set: Vec<Specimen> = (0..count).map(|i| specimen(&fonts, seed, i)).collect();
    eprintln!(
        "[bench-read] generated {count} pictures (seed {seed}) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let td1 = set.iter().filter(|s| s.document.kind == Kind::Td1).count();
    let photos = set.iter().filter(|s| s.photo).count();
    let valid = set.iter().filter(|s| s.document.valid).count();

    // Ours, one thread: latency; CPU per read.
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let one: Vec<Outcome> = set.iter().map(|s| ours(s, today)).collect();
    let one_wall = t0.elapsed().as_secs_f64();
    let cpu_per_read = (cpu_seconds() - cpu0) / count as f64;
    // Ours, every core: throughput.
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let t1 = Instant::now();
    std::thread::scope(|scope| {
        for k in 0..cores {
            let set = &set;
            scope.spawn(move || {
                for s in set.iter().skip(k).step_by(cores) {
                    ours(s, today);
                }
            });
        }
    });
    let all_wall = t1.elapsed().as_secs_f64();
    let rss = peak_rss_mib();

    // The baseline, same pictures, same run.
    let dir = std::env::temp_dir().join(format!("bench-read-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let plain: Vec<Outcome> = set.iter().map(|s| tesseract(s, &dir, false)).collect();
    let limited: Vec<Outcome> = set.iter().map(|s| tesseract(s, &dir, true)).collect();
    std::fs::remove_dir_all(&dir).ok();

    println!(
        "Generated set: {count} pictures (seed {seed}): {} passports (TD3), {td1} ID cards (TD1); {photos} photos, {} scans; {valid} valid, {} with a wrong check digit. {cores} cores.",
        count - td1,
        count - photos,
        count - valid
    );
    println!();
    println!(
        "| reader | valid read exactly (every field) | invalid accepted | nothing found | median s | p90 s | p99 s |"
    );
    println!("|---|---|---|---|---|---|---|");
    summary("refundd (docscan + checks), whole picture", &set, &one);
    summary("Tesseract 5 `eng`, pre-cropped MRZ band", &set, &plain);
    summary(
        "Tesseract 5 `eng` + MRZ whitelist, pre-cropped band",
        &set,
        &limited,
    );
    println!();
    println!(
        "refundd: {:.1} reads/s on 1 thread, {:.1} reads/s on {cores} threads; {:.3} CPU s per read; peak RSS {rss:.0} MiB.",
        count as f64 / one_wall,
        count as f64 / all_wall,
        cpu_per_read
    );
    let tess: f64 = plain.iter().map(|o| o.seconds).sum::<f64>() / count as f64;
    println!(
        "Tesseract alone: {:.1} reads/s on 1 process ({tess:.3} s per band).",
        1.0 / tess
    );
}
