//! Time inside the ledger is integers: microseconds since the Unix epoch (UTC)
//! for instants, days since the epoch for calendar dates. chrono appears only
//! at the edges (parsing and printing), because its serde form is a string and
//! strings cost several times more through postcard than a varint.
//!
//! Nothing here reads a clock: the sequencer passes `now` in with each command.

use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};
use serde::{de, Deserialize, Deserializer, Serialize, Serializer};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TimeError {
    #[error("{0:?} is not an RFC 3339 time with an offset, e.g. 2026-03-05T09:00:00+08:00")]
    Instant(String),
    #[error("{0:?} is not a date of the form 2026-03-05")]
    Date(String),
    #[error("time is outside the years 1970–9999")]
    OutOfRange,
}

pub const MICROS_PER_MINUTE: i64 = 60_000_000;
pub const MICROS_PER_DAY: i64 = 24 * 60 * MICROS_PER_MINUTE;
/// 9999-12-31T23:59:59Z: later instants are refused as absurd.
const MAX_MICROS: i64 = 253_402_300_799_000_000;

/// An instant, in microseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn from_micros(micros: i64) -> Result<Self, TimeError> {
        if (0..=MAX_MICROS).contains(&micros) {
            Ok(Timestamp(micros))
        } else {
            Err(TimeError::OutOfRange)
        }
    }

    pub fn parse(s: &str) -> Result<Self, TimeError> {
        let t = DateTime::parse_from_rfc3339(s).map_err(|_| TimeError::Instant(s.to_owned()))?;
        Self::from_micros(t.timestamp_micros())
    }

    pub fn from_chrono<Tz: TimeZone>(t: &DateTime<Tz>) -> Result<Self, TimeError> {
        Self::from_micros(t.timestamp_micros())
    }

    pub fn to_chrono(self) -> DateTime<Utc> {
        // from_micros bounds every Timestamp to chrono's representable range.
        DateTime::from_timestamp_micros(self.0).unwrap_or_default()
    }

    pub fn micros(self) -> i64 {
        self.0
    }

    pub fn plus_minutes(self, minutes: i64) -> Timestamp {
        Timestamp(
            self.0
                .saturating_add(minutes.saturating_mul(MICROS_PER_MINUTE)),
        )
    }

    pub fn plus_days(self, days: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(days.saturating_mul(MICROS_PER_DAY)))
    }

    /// Whole minutes from `self` to `later` (negative if `later` is earlier).
    pub fn minutes_until(self, later: Timestamp) -> i64 {
        (later.0 - self.0).div_euclid(MICROS_PER_MINUTE)
    }

    /// The calendar day this instant falls on at the ledger's UTC offset.
    pub fn local_day(self, offset: UtcOffset) -> Day {
        let local = self.0 + i64::from(offset.0) * MICROS_PER_MINUTE;
        Day(local.div_euclid(MICROS_PER_DAY) as i32)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_chrono().to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_string())
        } else {
            s.serialize_i64(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            Timestamp::parse(&s).map_err(de::Error::custom)
        } else {
            let micros = i64::deserialize(d)?;
            Timestamp::from_micros(micros).map_err(de::Error::custom)
        }
    }
}

/// The ledger's offset from UTC in minutes (+480 for China Standard Time),
/// fixed when the ledger opens, so that "a day" means the same on every replay.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UtcOffset(pub i16);

impl UtcOffset {
    pub const CHINA: UtcOffset = UtcOffset(480);

    pub fn is_valid(self) -> bool {
        (-720..=840).contains(&self.0)
    }

    pub fn to_chrono(self) -> FixedOffset {
        FixedOffset::east_opt(i32::from(self.0) * 60)
            .unwrap_or_else(|| FixedOffset::east_opt(0).expect("zero offset is valid"))
    }
}

/// A calendar date, as days since 1970-01-01.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Day(pub i32);

const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => panic!("1970-01-01 is a date"),
};

impl Day {
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Result<Day, TimeError> {
        let date = NaiveDate::from_ymd_opt(year, month, day).ok_or(TimeError::OutOfRange)?;
        Self::from_naive(date)
    }

    pub fn from_naive(date: NaiveDate) -> Result<Day, TimeError> {
        let days = (date - EPOCH).num_days();
        if !(0..=2_932_896).contains(&days) {
            return Err(TimeError::OutOfRange);
        }
        Ok(Day(days as i32))
    }

    pub fn parse(s: &str) -> Result<Day, TimeError> {
        let date =
            NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| TimeError::Date(s.to_owned()))?;
        Self::from_naive(date)
    }

    pub fn to_naive(self) -> NaiveDate {
        EPOCH + chrono::Days::new(self.0.max(0) as u64)
    }

    /// The instant this day starts at the given offset.
    pub fn start(self, offset: UtcOffset) -> Timestamp {
        Timestamp(i64::from(self.0) * MICROS_PER_DAY - i64::from(offset.0) * MICROS_PER_MINUTE)
    }
}

impl fmt::Display for Day {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_naive().format("%Y-%m-%d"))
    }
}

impl Serialize for Day {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_string())
        } else {
            s.serialize_i32(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            Day::parse(&s).map_err(de::Error::custom)
        } else {
            let days = i32::deserialize(d)?;
            if (0..=2_932_896).contains(&days) {
                Ok(Day(days))
            } else {
                Err(de::Error::custom(TimeError::OutOfRange))
            }
        }
    }
}

/// A span of time with `start < end`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Window {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Window {
    pub fn is_valid(&self) -> bool {
        self.start < self.end
    }

    pub fn minutes(&self) -> i64 {
        self.start.minutes_until(self.end)
    }

    pub fn contains(&self, t: Timestamp) -> bool {
        self.start <= t && t <= self.end
    }

    /// Minutes of `[from, to]` that fall inside this window.
    pub fn overlap_minutes(&self, from: Timestamp, to: Timestamp) -> i64 {
        let start = from.max(self.start);
        let end = to.min(self.end);
        if end <= start {
            0
        } else {
            start.minutes_until(end)
        }
    }
}

/// A range of calendar days, both ends included (campaign phases).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DayRange {
    pub first: Day,
    pub last: Day,
}

impl DayRange {
    pub fn is_valid(&self) -> bool {
        self.first <= self.last
    }

    pub fn contains(&self, day: Day) -> bool {
        self.first <= day && day <= self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_parse_with_offset_and_print_in_utc() {
        let t = Timestamp::parse("2026-03-05T09:00:00+08:00").unwrap();
        assert_eq!(t.to_string(), "2026-03-05T01:00:00+00:00");
        assert_eq!(
            t.local_day(UtcOffset::CHINA),
            Day::from_ymd(2026, 3, 5).unwrap()
        );
        assert_eq!(
            t.local_day(UtcOffset(0)),
            Day::from_ymd(2026, 3, 5).unwrap()
        );
        let late = Timestamp::parse("2026-03-05T23:30:00+08:00").unwrap();
        assert_eq!(
            late.local_day(UtcOffset(0)),
            Day::from_ymd(2026, 3, 5).unwrap()
        );
        let after_midnight_utc = Timestamp::parse("2026-03-06T07:30:00+08:00").unwrap();
        assert_eq!(
            after_midnight_utc.local_day(UtcOffset(0)),
            Day::from_ymd(2026, 3, 5).unwrap()
        );
        assert!(Timestamp::parse("2026-03-05 09:00").is_err());
        assert!(Timestamp::from_micros(-1).is_err());
    }

    #[test]
    fn day_start_is_local_midnight() {
        let day = Day::from_ymd(2026, 3, 12).unwrap();
        assert_eq!(
            day.start(UtcOffset::CHINA),
            Timestamp::parse("2026-03-12T00:00:00+08:00").unwrap()
        );
        assert_eq!(Day::parse("2026-03-12").unwrap(), day);
        assert_eq!(day.to_string(), "2026-03-12");
    }

    #[test]
    fn overlap_counts_only_inside_the_window() {
        let w = Window {
            start: Timestamp::parse("2026-03-05T09:00:00+08:00").unwrap(),
            end: Timestamp::parse("2026-03-05T11:00:00+08:00").unwrap(),
        };
        let early = Timestamp::parse("2026-03-05T08:30:00+08:00").unwrap();
        let mid = Timestamp::parse("2026-03-05T10:00:00+08:00").unwrap();
        let late = Timestamp::parse("2026-03-05T12:00:00+08:00").unwrap();
        assert_eq!(w.overlap_minutes(early, mid), 60);
        assert_eq!(w.overlap_minutes(early, late), 120);
        assert_eq!(w.overlap_minutes(late, late), 0);
    }

    #[test]
    fn binary_form_is_an_integer() {
        let t = Timestamp(1_700_000_000_000_000);
        let bytes = postcard::to_allocvec(&t).unwrap();
        assert!(bytes.len() <= 9);
        assert_eq!(postcard::from_bytes::<Timestamp>(&bytes).unwrap(), t);
    }
}
