//! The set of all four national calendars a process uses: the shipped ones, or the ones in a
//! directory that operations staff edit (any file missing there falls back to the shipped one).

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use super::{CalendarError, Country, WorkingDayCalendar};

/// One calendar per country. Cheap to clone.
#[derive(Clone)]
pub struct Calendars {
    by_country: [CalendarHandle; 4],
}

#[derive(Clone)]
enum CalendarHandle {
    Builtin(&'static WorkingDayCalendar),
    Loaded(Arc<WorkingDayCalendar>),
}

impl CalendarHandle {
    fn get(&self) -> &WorkingDayCalendar {
        match self {
            CalendarHandle::Builtin(calendar) => calendar,
            CalendarHandle::Loaded(calendar) => calendar,
        }
    }
}

impl Calendars {
    /// The shipped calendars of all four countries.
    pub fn builtin() -> Calendars {
        Calendars {
            by_country: std::array::from_fn(|i| {
                CalendarHandle::Builtin(WorkingDayCalendar::builtin(Country::ALL[i]))
            }),
        }
    }

    /// Reads `by.toml`, `kz.toml`, `lv.toml` and `ru.toml` from `dir`; a missing file means
    /// the shipped calendar of that country. The directory itself must exist, so that a
    /// mistyped path is an error rather than a silent fallback.
    pub fn load_dir(dir: &Path) -> Result<Calendars, CalendarError> {
        let io_error = |source| CalendarError::Io {
            path: dir.to_path_buf(),
            source,
        };
        if !std::fs::metadata(dir).map_err(io_error)?.is_dir() {
            return Err(io_error(std::io::Error::new(
                std::io::ErrorKind::NotADirectory,
                "not a directory",
            )));
        }
        let mut handles = Vec::with_capacity(Country::ALL.len());
        for &country in Country::ALL {
            let path = dir.join(country.data_file_name());
            let handle = match std::fs::read_to_string(&path) {
                Ok(text) => {
                    let name = path.display().to_string();
                    let calendar = WorkingDayCalendar::from_toml(country, &text, &name)?;
                    CalendarHandle::Loaded(Arc::new(calendar))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    CalendarHandle::Builtin(WorkingDayCalendar::builtin(country))
                }
                Err(source) => return Err(CalendarError::Io { path, source }),
            };
            handles.push(handle);
        }
        let by_country = handles
            .try_into()
            .unwrap_or_else(|_| unreachable!("one handle per country"));
        Ok(Calendars { by_country })
    }

    /// The calendar of `country`.
    pub fn get(&self, country: Country) -> &WorkingDayCalendar {
        self.by_country[country.index()].get()
    }
}

impl fmt::Debug for Calendars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_map();
        for (country, handle) in Country::ALL.iter().zip(&self.by_country) {
            let origin = match handle {
                CalendarHandle::Builtin(_) => "built in",
                CalendarHandle::Loaded(_) => "loaded",
            };
            list.entry(
                country,
                &format_args!("{:?} {origin}", handle.get().years()),
            );
        }
        list.finish()
    }
}
