//! Small inline SVG charts for the dashboard: one value per day as bars or as a line, with a
//! labelled value axis and a date every few days. Drawn here so the page needs no script and
//! no asset from anywhere.

use chrono::NaiveDate;
use maud::{Markup, html};

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
/// by `label` at 0, half and `max`. Every text in it is escaped by the template.
pub fn daily_chart(
    title: &str,
    points: &[Point],
    max: f64,
    label: impl Fn(f64) -> String,
    style: Style,
) -> Markup {
    let max = if max > 0.0 { max } else { 1.0 };
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / points.len().max(1) as f64;
    let x = |i: usize| LEFT + slot * (i as f64 + 0.5);
    let y = |v: f64| TOP + plot_h * (1.0 - (v / max).clamp(0.0, 1.0));
    let one = |v: f64| format!("{v:.1}");
    // Runs of consecutive days with a value: a day without one breaks the line.
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (i, p) in points.iter().enumerate() {
        match p.value {
            Some(v) => runs.last_mut().expect("never empty").push((x(i), y(v))),
            None => runs.push(Vec::new()),
        }
    }
    html! {
        svg class="chart" xmlns="http://www.w3.org/2000/svg"
            viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img" aria-label=(title) {
            title { (title) }
            @for v in [0.0, max / 2.0, max] {
                line class="grid" x1=(LEFT) x2=(WIDTH - RIGHT) y1=(one(y(v))) y2=(one(y(v))) {}
                text class="axis" x=(LEFT - 6.0) y=(one(y(v) + 4.0)) text-anchor="end" { (label(v)) }
            }
            // A date under the first day, then every fifth.
            @for (i, p) in points.iter().enumerate().step_by(5) {
                text class="axis" x=(one(x(i))) y=(one(HEIGHT - 8.0)) text-anchor="middle" {
                    (p.day.format("%m-%d"))
                }
            }
            @match style {
                Style::Bars => {
                    @for (i, p) in points.iter().enumerate() {
                        @if let Some(v) = p.value {
                            rect class="bar" x=(one(x(i) - slot * 0.35)) y=(one(y(v)))
                                width=(one(slot * 0.7)) height=(one((TOP + plot_h - y(v)).max(0.0))) {
                                title { (p.note) }
                            }
                        }
                    }
                }
                Style::Line => {
                    @for run in runs.iter().filter(|r| r.len() > 1) {
                        polyline class="line"
                            points=(run.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect::<Vec<_>>().join(" ")) {}
                    }
                    @for (i, p) in points.iter().enumerate() {
                        @if let Some(v) = p.value {
                            circle class="dot" cx=(one(x(i))) cy=(one(y(v))) r="3.5" { title { (p.note) } }
                        }
                    }
                }
            }
        }
    }
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
        )
        .into_string();
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
        )
        .into_string();
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains(">100 %<") && svg.contains(">50 %<") && svg.contains(">0 %<"));
    }
}
