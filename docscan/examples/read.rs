//! `cargo run -p docscan --example read -- FILE...`: prints each file's MRZ as read, with the
//! least certain cells; `DOCSCAN_DEBUG_DIR=dir` also saves the input and, for each
//! orientation tried, the straightened page and the cut-out MRZ as PNG there.

use std::path::PathBuf;

fn main() {
    let debug_dir = std::env::var_os("DOCSCAN_DEBUG_DIR").map(PathBuf::from);
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let pictures = match docscan::decode::pictures(&bytes, &docscan::Limits::default()) {
            Ok(pictures) => pictures,
            Err(e) => {
                println!("{path}: {e}");
                continue;
            }
        };
        let started = std::time::Instant::now();
        let mut saved = 0;
        let mut save = |name: &str, picture: &image::GrayImage| {
            if let Some(dir) = &debug_dir {
                saved += 1;
                let _ = picture.save(dir.join(format!("{saved:02}-{name}.png")));
            }
        };
        if let Some(first) = pictures.first() {
            save("input", first);
        }
        let reading = pictures
            .iter()
            .find_map(|p| docscan::read_observed(p, &mut save));
        let seconds = started.elapsed().as_secs_f64();
        let Some(r) = reading else {
            println!("{path}: no MRZ found ({seconds:.3} s)");
            continue;
        };
        println!(
            "{path}: {} skew {:.1}° ({seconds:.3} s)",
            r.format.as_str(),
            r.skew_degrees
        );
        for line in &r.lines {
            println!("  {line}");
        }
        let mut cells: Vec<_> = r
            .cells
            .iter()
            .enumerate()
            .flat_map(|(l, line)| line.iter().enumerate().map(move |(i, c)| (l, i, *c)))
            .collect();
        cells.sort_by(|a, b| a.2.margin.total_cmp(&b.2.margin));
        for (l, i, c) in cells.iter().take(5) {
            println!(
                "  line {} position {}: {:?} score {:.3} margin {:.3}",
                l + 1,
                i + 1,
                c.ch as char,
                c.score,
                c.margin
            );
        }
    }
}
