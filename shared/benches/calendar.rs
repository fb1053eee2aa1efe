//! Benchmark of "add working days" and "count working days" on the shipped BY calendar: the
//! cached calendar (`bdays::HolidayCalendarCache`) next to a naive day-by-day loop over the
//! uncached table (a map lookup per day), the baseline the cache is meant to beat.
//!
//! Run: `cargo bench -p shared --bench calendar`.

use std::hint::black_box;

use bdays::HolidayCalendar;
use chrono::{Days, NaiveDate};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use shared::calendar::{Country, DayTable, WorkingDayCalendar};

/// The baseline: step one day at a time, asking the uncached table about each.
fn naive_add_working_days(table: &DayTable, from: NaiveDate, n: u32) -> NaiveDate {
    let mut date = from;
    let mut left = n;
    while left > 0 {
        date = date.succ_opt().expect("inside the calendar");
        if table.is_bday(date) {
            left -= 1;
        }
    }
    date
}

fn naive_count(table: &DayTable, from: NaiveDate, to: NaiveDate) -> i64 {
    from.iter_days()
        .skip(1)
        .take_while(|d| *d <= to)
        .filter(|d| table.is_bday(*d))
        .map(|_| 1)
        .sum()
}

/// Start dates: every 5th day of 2024-2026.
fn start_dates() -> Vec<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap();
    (0..1096 / 5).map(|i| first + Days::new(i * 5)).collect()
}

fn add_working_days(c: &mut Criterion) {
    let calendar = WorkingDayCalendar::builtin(Country::BY);
    let table = calendar.uncached();
    let starts = start_dates();
    let mut group = c.benchmark_group("add_working_days");
    for n in [10u32, 30, 250] {
        // Both ways must agree before their speed is compared.
        for &from in &starts {
            assert_eq!(
                calendar.add_working_days(from, n).unwrap(),
                naive_add_working_days(table, from, n)
            );
        }
        group.bench_with_input(BenchmarkId::new("cached", n), &n, |b, &n| {
            b.iter(|| {
                for &from in &starts {
                    black_box(calendar.add_working_days(black_box(from), n).unwrap());
                }
            });
        });
        group.bench_with_input(BenchmarkId::new("naive_uncached", n), &n, |b, &n| {
            b.iter(|| {
                for &from in &starts {
                    black_box(naive_add_working_days(table, black_box(from), n));
                }
            });
        });
    }
    group.finish();
}

fn working_days_between(c: &mut Criterion) {
    let calendar = WorkingDayCalendar::builtin(Country::BY);
    let table = calendar.uncached();
    let starts = start_dates();
    let to = NaiveDate::from_ymd_opt(2027, 6, 30).unwrap();
    for &from in &starts {
        assert_eq!(
            calendar.working_days_between(from, to).unwrap(),
            naive_count(table, from, to)
        );
    }
    let mut group = c.benchmark_group("working_days_between");
    group.bench_function("cached", |b| {
        b.iter(|| {
            for &from in &starts {
                black_box(calendar.working_days_between(black_box(from), to).unwrap());
            }
        });
    });
    group.bench_function("naive_uncached", |b| {
        b.iter(|| {
            for &from in &starts {
                black_box(naive_count(table, black_box(from), to));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, add_working_days, working_days_between);
criterion_main!(benches);
