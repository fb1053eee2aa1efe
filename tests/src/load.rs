//! Pieces the load tools share (`tests/examples/loadgen.rs`, `tests/examples/bench_e2e.rs`).

/// Resident memory of a process in KiB, from /proc.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `i` in base 26 letters: a long run of digits in a transaction id could pass for a card
/// number and be refused.
pub fn letters(mut i: usize) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (i % 26) as u8);
        i /= 26;
        if i == 0 {
            break;
        }
    }
    String::from_utf8(out).expect("ascii")
}

#[cfg(test)]
mod tests {
    #[test]
    fn letters_count_in_base_26() {
        assert_eq!(super::letters(0), "a");
        assert_eq!(super::letters(25), "z");
        assert_eq!(super::letters(26), "ab");
    }
}
