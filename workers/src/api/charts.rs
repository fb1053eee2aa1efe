//! Small inline SVG charts for the dashboard: one value per day as bars or as a line, with a
//! labelled value axis and a date every few days. Drawn here so the page needs no script and
//! no asset from anywhere.

use std::fmt::Write;

use chrono::NaiveDate;

use shared::html::escape;

const WIDTH: f64 = 900.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// One day's value; none when there is nothing to show that day.
pub struct Point {
    pub day: NaiveDate,
    pub value: Option<f64>,
    /// What a pointer over the day shows.
    pub note: String,
}

/// How a chart draws its values.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bars,
    /// Dots joined by lines; days without a value break the line.
    Line,
}

/// An `<svg>` of `points` (in order, one per day) on a value axis from 0 to `max`, labelled
/// by `label` at 0, half and `max`.
pub fn daily_chart(
    title: &str,
    points: &[Point],
    max: f64,
    label: impl Fn(f64) -> String,
    style: Style,
) -> String {
    let max = if max > 0.0 { max } else { 1.0 };
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / points.len().max(1) as f64;
    let x = |i: usize| LEFT + slot * (i as f64 + 0.5);
    let y = |v: f64| TOP + plot_h * (1.0 - (v / max).clamp(0.0, 1.0));
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
        t = escape(title)
    );
    for v in [0.0, max / 2.0, max] {
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{x2}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/><text class=\"axis\" x=\"{lx}\" y=\"{ty:.1}\" text-anchor=\"end\">{l}</text>",
            x2 = WIDTH - RIGHT,
            y = y(v),
            lx = LEFT - 6.0,
            ty = y(v) + 4.0,
            l = escape(&label(v))
        );
    }
    for (i, p) in points.iter().enumerate() {
        // A date under the first day, then every fifth.
        if i % 5 == 0 {
            let _ = write!(
                svg,
                "<text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x(i),
                HEIGHT - 8.0,
                p.day.format("%m-%d")
            );
        }
    }
    match style {
        Style::Bars => {
            for (i, p) in points.iter().enumerate() {
                let Some(v) = p.value else { continue };
                let top = y(v);
                let _ = write!(
                    svg,
                    "<rect class=\"bar\" x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\"><title>{}</title></rect>",
                    x(i) - slot * 0.35,
                    slot * 0.7,
                    (TOP + plot_h - top).max(0.0),
                    escape(&p.note)
                );
            }
        }
        Style::Line => {
            let mut run: Vec<(f64, f64)> = Vec::new();
            let mut runs = Vec::new();
            for (i, p) in points.iter().enumerate() {
                match p.value {
                    Some(v) => run.push((x(i), y(v))),
                    None => runs.push(std::mem::take(&mut run)),
                }
            }
            runs.push(run);
            for run in runs.iter().filter(|r| r.len() > 1) {
                let coords: Vec<String> =
                    run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
                let _ = write!(
                    svg,
                    "<polyline class=\"line\" points=\"{}\"/>",
                    coords.join(" ")
                );
            }
            for (i, p) in points.iter().enumerate() {
                let Some(v) = p.value else { continue };
                let _ = write!(
                    svg,
                    "<circle class=\"dot\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3.5\"><title>{}</title></circle>",
                    x(i),
                    y(v),
                    escape(&p.note)
                );
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn days(values: &[Option<f64>]) -> Vec<Point> {
        let first = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap();
        values
            .iter()
            .enumerate()
            .map(|(i, v)| Point {
                day: first + chrono::Days::new(i as u64),
                value: *v,
                note: format!("<day {i}>"),
            })
            .collect()
    }

    #[test]
    fn bars_are_drawn_only_for_days_with_a_value_and_notes_are_escaped() {
        let svg = daily_chart(
            "Received <per> day",
            &days(&[Some(2.0), None, Some(4.0)]),
            4.0,
            |v| format!("{v}"),
            Style::Bars,
        );
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("Received &lt;per&gt; day"));
        assert!(svg.contains("&lt;day 2&gt;"));
        assert!(!svg.contains("<day"));
        // The tallest bar reaches the top of the plot; the other is half its height.
        assert!(svg.contains("y=\"12.0\" width"), "{svg}");
        assert!(svg.contains("height=\"180.0\""), "{svg}");
        assert!(svg.contains("height=\"90.0\""), "{svg}");
        assert!(svg.contains(">11-01<"));
    }

    #[test]
    fn a_day_without_a_value_breaks_the_line() {
        let svg = daily_chart(
            "share",
            &days(&[Some(1.0), Some(0.5), None, Some(1.0), Some(0.0)]),
            1.0,
            |v| format!("{:.0} %", v * 100.0),
            Style::Line,
        );
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains(">100 %<") && svg.contains(">50 %<") && svg.contains(">0 %<"));
    }
}
