//! Open hours: when a queue takes customers' joins, as a weekly schedule in venue-local time.
//!
//! A slot opens on a weekday at a time and closes later that day or, when the closing time is
//! not after the opening time, the next morning ("Fri 20:00–03:00" is one night out). An empty
//! schedule means "whenever the queue is open". Staff walk-ins ignore hours.

use super::values::{MS_PER_DAY, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

pub const MINUTES_PER_DAY: u32 = 24 * 60;
pub const MINUTES_PER_WEEK: u32 = 7 * MINUTES_PER_DAY;
/// More slots than anyone needs (four a day), few enough to check on every join.
pub const MAX_SLOTS: usize = 28;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Weekday {
    pub const ALL: [Weekday; 7] = [
        Self::Mon,
        Self::Tue,
        Self::Wed,
        Self::Thu,
        Self::Fri,
        Self::Sat,
        Self::Sun,
    ];

    pub fn index(self) -> u32 {
        self as u32
    }

    pub fn as_str(self) -> &'static str {
        ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][self as usize]
    }

    pub fn long_name(self) -> &'static str {
        [
            "Monday",
            "Tuesday",
            "Wednesday",
            "Thursday",
            "Friday",
            "Saturday",
            "Sunday",
        ][self as usize]
    }

    /// "mon".."sun", or the English day name in any case.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|d| s == d.as_str() || s == d.long_name().to_ascii_lowercase())
    }
}

/// A time of day in minutes since midnight; `24:00` (1440) is allowed as a closing time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClockTime(u16);

impl ClockTime {
    pub fn minutes(self) -> u32 {
        self.0 as u32
    }

    /// `HH:MM`, 00:00 to 24:00.
    pub fn parse(s: &str) -> Option<Self> {
        let (h, m) = s.trim().split_once(':')?;
        if h.is_empty() || h.len() > 2 || m.len() != 2 {
            return None;
        }
        let h: u16 = h.parse().ok()?;
        let m: u16 = m.parse().ok()?;
        (h < 24 && m < 60 || h == 24 && m == 0).then_some(Self(h * 60 + m))
    }
}

impl fmt::Display for ClockTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl Serialize for ClockTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom("expected a time as HH:MM"))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoursSlot {
    pub day: Weekday,
    pub open: ClockTime,
    pub close: ClockTime,
}

impl HoursSlot {
    /// Minute of the week it opens (Monday 00:00 is 0) and how long it lasts.
    fn span(self) -> (u32, u32) {
        let start = self.day.index() * MINUTES_PER_DAY + self.open.minutes();
        let close = self.close.minutes();
        let len = if close > self.open.minutes() {
            close - self.open.minutes()
        } else {
            close + MINUTES_PER_DAY - self.open.minutes()
        };
        (start, len)
    }
}

impl fmt::Display for HoursSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = self.day.as_str();
        let mut cap = day.chars();
        let first = cap.next().unwrap_or_default().to_ascii_uppercase();
        write!(f, "{first}{} {}–{}", cap.as_str(), self.open, self.close)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HoursError {
    #[error("unknown day {0:?}: use mon, tue, wed, thu, fri, sat or sun")]
    Day(String),
    #[error("{0:?} is not a time: use HH:MM between 00:00 and 24:00")]
    Time(String),
    #[error("a slot must open and close at different times (use 00:00–24:00 for all day)")]
    Empty,
    #[error("at most {MAX_SLOTS} slots a week")]
    TooMany,
}

/// A queue's weekly schedule. Empty: no restriction by time.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OpenHours(Vec<HoursSlot>);

impl OpenHours {
    /// Check and order slots (by day, then opening time). Overlapping slots are allowed and
    /// simply mean "open" for their union.
    pub fn new(mut slots: Vec<HoursSlot>) -> Result<Self, HoursError> {
        if slots.len() > MAX_SLOTS {
            return Err(HoursError::TooMany);
        }
        if slots.iter().any(|s| s.open == s.close) {
            return Err(HoursError::Empty);
        }
        slots.sort_by_key(|s| (s.day, s.open, s.close));
        slots.dedup();
        Ok(Self(slots))
    }

    /// From text as the API and the settings form send it.
    pub fn parse<'a>(
        slots: impl IntoIterator<Item = (&'a str, &'a str, &'a str)>,
    ) -> Result<Self, HoursError> {
        let slots = slots
            .into_iter()
            .map(|(day, open, close)| {
                Ok(HoursSlot {
                    day: Weekday::parse(day).ok_or_else(|| HoursError::Day(day.to_owned()))?,
                    open: ClockTime::parse(open)
                        .ok_or_else(|| HoursError::Time(open.to_owned()))?,
                    close: ClockTime::parse(close)
                        .ok_or_else(|| HoursError::Time(close.to_owned()))?,
                })
            })
            .collect::<Result<Vec<_>, HoursError>>()?;
        Self::new(slots)
    }

    pub fn slots(&self) -> &[HoursSlot] {
        &self.0
    }

    /// No schedule: the queue takes joins whenever its status is open.
    pub fn is_unrestricted(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_open_at(&self, minute_of_week: u32) -> bool {
        self.is_unrestricted()
            || self.0.iter().any(|s| {
                let (start, len) = s.span();
                (minute_of_week + MINUTES_PER_WEEK - start) % MINUTES_PER_WEEK < len
            })
    }

    /// When the queue next opens after `minute_of_week`: minutes from now, and the slot.
    pub fn next_opening(&self, minute_of_week: u32) -> Option<(u32, HoursSlot)> {
        self.0
            .iter()
            .map(|s| {
                let (start, _) = s.span();
                (
                    (start + MINUTES_PER_WEEK - minute_of_week) % MINUTES_PER_WEEK,
                    *s,
                )
            })
            .min_by_key(|(wait, _)| *wait)
    }

    /// "opens today at 18:00", "opens tomorrow at 09:00", "opens Friday at 20:00".
    pub fn describe_next_opening(&self, minute_of_week: u32) -> Option<String> {
        let (wait, slot) = self.next_opening(minute_of_week)?;
        let today = minute_of_week / MINUTES_PER_DAY;
        let into_day = minute_of_week % MINUTES_PER_DAY;
        let days_ahead = (into_day + wait) / MINUTES_PER_DAY;
        let when = match days_ahead {
            0 => "today".to_owned(),
            1 => "tomorrow".to_owned(),
            _ => Weekday::ALL[((today + days_ahead) % 7) as usize]
                .long_name()
                .to_owned(),
        };
        Some(format!("opens {when} at {}", slot.open))
    }
}

impl fmt::Display for OpenHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("any time");
        }
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

/// Venue-local minute of the week (Monday 00:00 is 0). 1970-01-01 was a Thursday.
pub fn minute_of_week(now: Timestamp, utc_offset_minutes: i32) -> u32 {
    let local_min = (now + utc_offset_minutes as i64 * 60_000).div_euclid(60_000);
    let from_monday = local_min + 3 * (MS_PER_DAY / 60_000);
    from_monday.rem_euclid(MINUTES_PER_WEEK as i64) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hours(slots: &[(&str, &str, &str)]) -> OpenHours {
        OpenHours::parse(slots.iter().copied()).unwrap()
    }

    fn at(day: Weekday, hh_mm: &str) -> u32 {
        day.index() * MINUTES_PER_DAY + ClockTime::parse(hh_mm).unwrap().minutes()
    }

    #[test]
    fn times_parse_strictly() {
        assert_eq!(ClockTime::parse("18:30").unwrap().minutes(), 1110);
        assert_eq!(ClockTime::parse("9:05").unwrap().to_string(), "09:05");
        assert_eq!(ClockTime::parse("24:00").unwrap().minutes(), 1440);
        for bad in [
            "24:01", "12:60", "1230", "12:3", "-1:00", "", "ab:cd", "123:00",
        ] {
            assert_eq!(ClockTime::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_epoch_was_a_thursday() {
        assert_eq!(minute_of_week(0, 0), at(Weekday::Thu, "00:00"));
        // 1970-01-05 was a Monday; an hour west of UTC it is still Sunday 23:00 there.
        let monday = 4 * MS_PER_DAY;
        assert_eq!(minute_of_week(monday, 0), 0);
        assert_eq!(minute_of_week(monday, -60), at(Weekday::Sun, "23:00"));
        assert_eq!(minute_of_week(-1, 0), at(Weekday::Wed, "23:59"));
    }

    #[test]
    fn a_night_slot_runs_past_midnight() {
        let h = hours(&[("fri", "20:00", "03:00")]);
        assert!(!h.is_open_at(at(Weekday::Fri, "19:59")));
        assert!(h.is_open_at(at(Weekday::Fri, "20:00")));
        assert!(h.is_open_at(at(Weekday::Sat, "02:59")));
        assert!(!h.is_open_at(at(Weekday::Sat, "03:00")));
        // Sunday night into Monday wraps around the week.
        let h = hours(&[("sun", "22:00", "02:00")]);
        assert!(h.is_open_at(at(Weekday::Mon, "01:00")));
        assert!(!h.is_open_at(at(Weekday::Mon, "02:00")));
    }

    #[test]
    fn all_day_and_no_schedule() {
        let h = hours(&[("tue", "00:00", "24:00")]);
        assert!(h.is_open_at(at(Weekday::Tue, "00:00")));
        assert!(h.is_open_at(at(Weekday::Tue, "23:59")));
        assert!(!h.is_open_at(at(Weekday::Wed, "00:00")));
        assert!(OpenHours::default().is_open_at(12345));
    }

    #[test]
    fn bad_schedules_are_refused_with_a_reason() {
        assert_eq!(
            OpenHours::parse([("fri", "18:00", "18:00")]),
            Err(HoursError::Empty)
        );
        assert!(matches!(
            OpenHours::parse([("friday-ish", "18:00", "19:00")]),
            Err(HoursError::Day(_))
        ));
        assert!(matches!(
            OpenHours::parse([("fri", "18:00", "25:00")]),
            Err(HoursError::Time(_))
        ));
        let many = vec![("mon", "01:00", "02:00"); MAX_SLOTS + 1];
        assert_eq!(OpenHours::parse(many), Err(HoursError::TooMany));
    }

    #[test]
    fn the_next_opening_is_said_plainly() {
        let h = hours(&[("fri", "20:00", "03:00"), ("mon", "09:00", "17:00")]);
        assert_eq!(
            h.describe_next_opening(at(Weekday::Fri, "10:00")).unwrap(),
            "opens today at 20:00"
        );
        assert_eq!(
            h.describe_next_opening(at(Weekday::Thu, "21:00")).unwrap(),
            "opens tomorrow at 20:00"
        );
        assert_eq!(
            h.describe_next_opening(at(Weekday::Sat, "04:00")).unwrap(),
            "opens Monday at 09:00"
        );
        assert_eq!(OpenHours::default().describe_next_opening(0), None);
        assert_eq!(h.to_string(), "Mon 09:00–17:00, Fri 20:00–03:00");
    }

    #[test]
    fn hours_round_trip_as_json() {
        let h = hours(&[("sat", "12:00", "24:00")]);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(json, r#"[{"day":"sat","open":"12:00","close":"24:00"}]"#);
        assert_eq!(serde_json::from_str::<OpenHours>(&json).unwrap(), h);
    }
}
