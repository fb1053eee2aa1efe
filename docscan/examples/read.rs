//! `cargo run -p docscan --example read -- FILE...`: prints each file's MRZ as read, with the
//! least certain cells; `DOCSCAN_DEBUG_DIR=dir` also saves the straightened page and the cut
//! MRZ as PNG there.

fn main() {
    for path in std::env::args().skip(1) {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        if let (Some(dir), Ok(picture)) = (
            std::env::var_os("DOCSCAN_DEBUG_DIR"),
            image::load_from_memory(&bytes),
        ) {
            let _ = picture
                .thumbnail(1000, 1000)
                .save(std::path::Path::new(&dir).join("input.png"));
        }
        match docscan::read_file(&bytes, &docscan::Limits::default()) {
            Err(e) => println!("{path}: {e}"),
            Ok(outcome) => match outcome.reading {
                None => println!("{path}: no MRZ found ({:.3} s)", outcome.seconds),
                Some(r) => {
                    println!(
                        "{path}: {} skew {:.1}° ({:.3} s)",
                        r.format.as_str(),
                        r.skew_degrees,
                        outcome.seconds
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
                            "  line {l} pos {i}: {:?} score {:.3} margin {:.3}",
                            c.ch as char, c.score, c.margin
                        );
                    }
                }
            },
        }
    }
}
