//! Venue time zones. The engine only knows a venue's current UTC offset (it has no time zone
//! database and must stay deterministic); this module resolves IANA names at the edge and
//! keeps every venue's offset current across daylight-saving changes, through the log like
//! any other change, so every instance applies the same offset at the same point.

use super::Venues;
use crate::clock::now_ms;
use app::domain::{Command, Timestamp};
use jiff::tz::TimeZone;
use std::time::Duration;

/// How often offsets are checked. A clock change is followed within this time.
pub const CHECK_EVERY: Duration = Duration::from_secs(30);

/// A time zone by IANA name ("Europe/Lisbon", case-insensitive): its canonical name and its
/// offset in minutes at `now`. An empty name or "UTC" is UTC.
pub fn resolve(name: &str, now: Timestamp) -> Result<(String, i32), String> {
    let name = name.trim();
    if name.is_empty() || name.eq_ignore_ascii_case("utc") {
        return Ok((String::new(), 0));
    }
    if name.len() > 64 {
        return Err("a time zone name is at most 64 characters".into());
    }
    let tz = TimeZone::get(name).map_err(|_| {
        format!("unknown time zone {name:?}: use a name such as Europe/Lisbon or America/Sao_Paulo")
    })?;
    let canonical = tz.iana_name().unwrap_or(name).to_owned();
    Ok((canonical, offset_minutes(&tz, now)))
}

fn offset_minutes(tz: &TimeZone, now: Timestamp) -> i32 {
    let at = jiff::Timestamp::from_millisecond(now).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
    tz.to_offset(at).seconds() / 60
}

/// Send `SetTimeZone` to every loaded venue whose offset is no longer the zone's offset now.
pub async fn refresh_offsets(venues: &Venues) {
    let now = now_ms();
    for venue in venues.loaded() {
        let (zone, current) = {
            let st = venue.read();
            (st.time_zone.clone(), st.utc_offset_minutes)
        };
        let Ok((zone, offset)) = resolve(&zone, now) else {
            tracing::warn!(venue = %venue.slug, zone, "venue time zone no longer known; keeping its offset");
            continue;
        };
        if offset == current {
            continue;
        }
        let cmd = Command::SetTimeZone {
            time_zone: zone,
            utc_offset_minutes: offset,
        };
        if let Err(e) = venues.execute(&venue, cmd, None).await {
            tracing::warn!(venue = %venue.slug, error = %e, "could not update the UTC offset");
        }
    }
}

/// Keep offsets current for as long as the server runs.
pub async fn keep_offsets_current(venues: std::sync::Arc<Venues>) {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        refresh_offsets(&venues).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-07-01 and 2026-01-15, noon UTC.
    const JULY: Timestamp = 1_782_907_200_000;
    const JANUARY: Timestamp = 1_768_478_400_000;

    #[test]
    fn zones_follow_daylight_saving() {
        assert_eq!(resolve("Europe/Lisbon", JULY).unwrap().1, 60);
        assert_eq!(resolve("Europe/Lisbon", JANUARY).unwrap().1, 0);
        assert_eq!(resolve("America/Sao_Paulo", JULY).unwrap().1, -180);
        assert_eq!(resolve("Asia/Kolkata", JULY).unwrap().1, 330);
    }

    #[test]
    fn names_are_checked_and_made_canonical() {
        assert_eq!(resolve("", JULY).unwrap(), (String::new(), 0));
        assert_eq!(resolve("utc", JULY).unwrap(), (String::new(), 0));
        assert_eq!(resolve("europe/lisbon", JULY).unwrap().0, "Europe/Lisbon");
        let err = resolve("Mars/Olympus_Mons", JULY).unwrap_err();
        assert!(err.contains("unknown time zone"), "{err}");
        assert!(resolve(&"x".repeat(100), JULY).is_err());
    }
}
