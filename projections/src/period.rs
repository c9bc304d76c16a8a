//! The periods rankings are kept for: all time, calendar years, quarters
//! and months (in the ledger's own UTC offset, by the day the service was
//! given), and the phases of declared campaigns. Any other date range is
//! computed on request from the day index.

use std::fmt;
use std::str::FromStr;

use chrono::Datelike;
use ledger_core::time::{Day, DayRange};
use ledger_core::values::CampaignId;
use serde::{Deserialize, Serialize};
use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Period {
    All,
    Year(i32),
    /// Quarter 1 to 4.
    Quarter(i32, u8),
    /// Month 1 to 12.
    Month(i32, u8),
    /// A campaign's phase, by its place in the campaign's list.
    Campaign(CampaignId, u16),
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("period {0:?} is none of: all, 2026, 2026-Q2, 2026-03, campaign:<id>:<phase>")]
pub struct PeriodError(pub String);

impl Period {
    /// The calendar periods a day falls in, widest first.
    pub fn of_day(day: Day) -> [Period; 4] {
        let date = day.to_naive();
        let (year, month) = (date.year(), date.month() as u8);
        [
            Period::All,
            Period::Year(year),
            Period::Quarter(year, (month - 1) / 3 + 1),
            Period::Month(year, month),
        ]
    }

    /// The days the period spans, `None` for all time. Campaign phases
    /// need the campaign; they answer `None` here.
    pub fn days(&self) -> Option<DayRange> {
        let span = |y: i32, first_month: u32, months: u32| {
            let first = Day::from_ymd(y, first_month, 1).ok()?;
            let (ny, nm) = if first_month + months > 12 {
                (y + 1, first_month + months - 12)
            } else {
                (y, first_month + months)
            };
            let next = Day::from_ymd(ny, nm, 1).ok()?;
            Some(DayRange {
                first,
                last: Day(next.0 - 1),
            })
        };
        match self {
            Period::All | Period::Campaign(..) => None,
            Period::Year(y) => span(*y, 1, 12),
            Period::Quarter(y, q) => span(*y, u32::from(*q - 1) * 3 + 1, 3),
            Period::Month(y, m) => span(*y, u32::from(*m), 1),
        }
    }

    /// The year a period lies in, for the yearly requirements (two featured
    /// activities a year).
    pub fn year(&self) -> Option<i32> {
        match self {
            Period::Year(y) | Period::Quarter(y, _) | Period::Month(y, _) => Some(*y),
            Period::All | Period::Campaign(..) => None,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Period::All => f.write_str("all"),
            Period::Year(y) => write!(f, "{y}"),
            Period::Quarter(y, q) => write!(f, "{y}-Q{q}"),
            Period::Month(y, m) => write!(f, "{y}-{m:02}"),
            Period::Campaign(c, p) => write!(f, "campaign:{c}:{p}"),
        }
    }
}

impl FromStr for Period {
    type Err = PeriodError;

    fn from_str(s: &str) -> Result<Period, PeriodError> {
        let bad = || PeriodError(s.to_owned());
        if s == "all" {
            return Ok(Period::All);
        }
        if let Some(rest) = s.strip_prefix("campaign:") {
            let (id, phase) = rest.rsplit_once(':').ok_or_else(bad)?;
            let id = CampaignId::new(id).map_err(|_| bad())?;
            return Ok(Period::Campaign(id, phase.parse().map_err(|_| bad())?));
        }
        let year = |y: &str| {
            y.parse::<i32>()
                .ok()
                .filter(|y| (1900..=9999).contains(y))
                .ok_or_else(bad)
        };
        match s.split_once('-') {
            None => Ok(Period::Year(year(s)?)),
            Some((y, q)) if q.starts_with('Q') => {
                let q: u8 = q[1..].parse().map_err(|_| bad())?;
                if !(1..=4).contains(&q) {
                    return Err(bad());
                }
                Ok(Period::Quarter(year(y)?, q))
            }
            Some((y, m)) => {
                let m: u8 = m.parse().map_err(|_| bad())?;
                if !(1..=12).contains(&m) || m.to_string().len() > 2 {
                    return Err(bad());
                }
                Ok(Period::Month(year(y)?, m))
            }
        }
    }
}

impl Serialize for PeriodName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

/// A period written as its name in JSON ("2026-Q2").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeriodName(pub Period);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_of_a_day_and_their_names() {
        let day = Day::from_ymd(2026, 5, 31).unwrap();
        assert_eq!(
            Period::of_day(day),
            [
                Period::All,
                Period::Year(2026),
                Period::Quarter(2026, 2),
                Period::Month(2026, 5)
            ]
        );
        for p in Period::of_day(day) {
            assert_eq!(p.to_string().parse::<Period>().unwrap(), p);
            if let Some(days) = p.days() {
                assert!(days.contains(day));
            }
        }
        let q4 = Period::Quarter(2026, 4).days().unwrap();
        assert_eq!(q4.first, Day::from_ymd(2026, 10, 1).unwrap());
        assert_eq!(q4.last, Day::from_ymd(2026, 12, 31).unwrap());
        let c: Period = "campaign:lei-feng-2026:1".parse().unwrap();
        assert_eq!(c.to_string(), "campaign:lei-feng-2026:1");
        for bad in ["2026-13", "2026-Q5", "26", "campaign:x", "spring"] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }
}
