//! Small domain values that validate on construction, so an invalid one cannot exist.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Milliseconds since the Unix epoch, UTC. Passed into the engine; never read from a clock here.
pub type Timestamp = i64;

pub const MS_PER_DAY: i64 = 86_400_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QueueId(pub i64);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CounterId(pub i64);

/// A ticket's id, unique within its venue (tickets are always addressed through their venue).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketId(pub u64);

impl fmt::Display for TicketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Longest name a customer may give, in characters. Long enough for "Table for the Fernandes
/// family birthday", short enough to fit on a staff screen row.
pub const MAX_NAME_CHARS: usize = 80;
/// Longest note (allergies, "we have a stroller"), in characters.
pub const MAX_NOTES_CHARS: usize = 280;
/// Largest party a queue accepts; bigger groups call the venue.
pub const MAX_PARTY_SIZE: u32 = 20;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("name must not be empty")]
    EmptyName,
    #[error("name must be at most {MAX_NAME_CHARS} characters")]
    NameTooLong,
    #[error("name must not contain control characters")]
    NameControlChars,
    #[error("party size must be between 1 and {MAX_PARTY_SIZE}")]
    PartySize,
    #[error("notes must be at most {MAX_NOTES_CHARS} characters")]
    NotesTooLong,
}

/// A customer's display name: trimmed, 1..=80 characters, no control characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustomerName(String);

impl CustomerName {
    pub fn parse(raw: &str) -> Result<Self, ValueError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(ValueError::EmptyName);
        }
        if name.chars().count() > MAX_NAME_CHARS {
            return Err(ValueError::NameTooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(ValueError::NameControlChars);
        }
        Ok(Self(name.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How many people a ticket stands for: 1..=20.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PartySize(u8);

impl PartySize {
    pub fn parse(raw: i64) -> Result<Self, ValueError> {
        if (1..=MAX_PARTY_SIZE as i64).contains(&raw) {
            Ok(Self(raw as u8))
        } else {
            Err(ValueError::PartySize)
        }
    }
    pub fn get(self) -> u8 {
        self.0
    }
}

/// Optional free-text notes; blank notes become `None`.
pub fn parse_notes(raw: Option<&str>) -> Result<Option<String>, ValueError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(n) if n.chars().count() > MAX_NOTES_CHARS => Err(ValueError::NotesTooLong),
        Some(n) => Ok(Some(n.to_owned())),
    }
}

/// A ticket number as people read it: queue prefix plus a per-queue-per-day sequence, `A001`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TicketNumber(pub String);

impl TicketNumber {
    pub fn new(prefix: &str, n: u32) -> Self {
        Self(format!("{prefix}{n:03}"))
    }
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    Waiting,
    Called,
    Serving,
    Served,
    NoShow,
    Cancelled,
}

impl TicketStatus {
    /// Statuses a ticket normally leaves only by staff bringing it back (no-show) or never.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Served | Self::NoShow | Self::Cancelled)
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "waiting",
            Self::Called => "called",
            Self::Serving => "serving",
            Self::Served => "served",
            Self::NoShow => "no_show",
            Self::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "waiting" => Self::Waiting,
            "called" => Self::Called,
            "serving" => Self::Serving,
            "served" => Self::Served,
            "no_show" => Self::NoShow,
            "cancelled" => Self::Cancelled,
            _ => return None,
        })
    }
}

impl fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueStatus {
    Open,
    /// Temporarily not taking joins ("back in 10 minutes"); waiting tickets stay.
    Paused,
    /// Closed for the day: no joins until staff open it again; waiting tickets can still be called.
    Closed,
}

impl QueueStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Paused => "paused",
            Self::Closed => "closed",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Self::Open,
            "paused" => Self::Paused,
            "closed" => Self::Closed,
            _ => return None,
        })
    }
}

/// The venue-local day a timestamp falls on, as days since the epoch.
pub fn local_day(now: Timestamp, utc_offset_minutes: i32) -> i64 {
    (now + utc_offset_minutes as i64 * 60_000).div_euclid(MS_PER_DAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_party_of_zero_is_rejected() {
        assert_eq!(PartySize::parse(0), Err(ValueError::PartySize));
        assert_eq!(PartySize::parse(1000), Err(ValueError::PartySize));
        assert_eq!(PartySize::parse(20).unwrap().get(), 20);
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(CustomerName::parse("  Ana ").unwrap().as_str(), "Ana");
        assert_eq!(CustomerName::parse("   "), Err(ValueError::EmptyName));
        assert_eq!(
            CustomerName::parse(&"x".repeat(200)),
            Err(ValueError::NameTooLong)
        );
        assert_eq!(
            CustomerName::parse("a\u{0}b"),
            Err(ValueError::NameControlChars)
        );
        assert!(CustomerName::parse(&"ç".repeat(MAX_NAME_CHARS)).is_ok());
    }

    #[test]
    fn ticket_numbers_are_padded() {
        assert_eq!(TicketNumber::new("A", 1).0, "A001");
        assert_eq!(TicketNumber::new("VIP", 1234).0, "VIP1234");
    }

    #[test]
    fn local_day_respects_the_venue_offset() {
        let just_before_midnight_utc = MS_PER_DAY - 1;
        assert_eq!(local_day(just_before_midnight_utc, 0), 0);
        assert_eq!(local_day(just_before_midnight_utc, 60), 1);
        assert_eq!(local_day(0, -180), -1);
    }
}
