//! The venue's dead-letter stream (`{p}:v:{id}:dead`): history entries the projector gave
//! up on, each with its error. Managers and owners list and replay them; `/metrics` counts
//! them. The projector writes them (`projector::MAX_FAILURES`).

use super::flat_map;
use super::{DeadLetter, Dist, Entry};
use anyhow::Context;
use fred::prelude::*;

/// A venue's dead letters, oldest first (at most 500).
pub(super) async fn list(dist: &Dist, venue: i64) -> anyhow::Result<Vec<DeadLetter>> {
    read_dead(dist, venue, "-", "+").await
}

/// Dead letters with stream ids from `start` to `end` (inclusive), oldest first, at most 500.
async fn read_dead(
    dist: &Dist,
    venue: i64,
    start: &str,
    end: &str,
) -> anyhow::Result<Vec<DeadLetter>> {
    let raw = dist
        .xrange(dist.key(venue, "dead"), start, end, 500)
        .await?;
    let mut out = Vec::new();
    for item in raw.into_array() {
        let mut parts = item.into_array().into_iter();
        let (Some(id), Some(fields)) = (parts.next(), parts.next()) else {
            continue;
        };
        let f = flat_map(fields);
        out.push(DeadLetter {
            id: id.into_string().unwrap_or_default(),
            seq: f.get("seq").and_then(|s| s.parse().ok()).unwrap_or(0),
            error: f.get("error").cloned().unwrap_or_default(),
            failures: f.get("failures").and_then(|s| s.parse().ok()).unwrap_or(0),
            entry: f.get("e").cloned().unwrap_or_default(),
        });
    }
    Ok(out)
}

/// Write a dead letter to history; remove it from the dead-letter stream once written.
/// `Ok(false)`: no such dead letter.
pub(super) async fn replay(dist: &Dist, venue: i64, id: &str) -> anyhow::Result<bool> {
    // Only a stream id (`<ms>-<n>`) can name a dead letter; anything else would be a Redis error.
    let is_stream_id = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !id
        .split_once('-')
        .is_some_and(|(a, b)| is_stream_id(a) && is_stream_id(b))
    {
        return Ok(false);
    }
    let Some(letter) = read_dead(dist, venue, id, id).await?.into_iter().next() else {
        return Ok(false);
    };
    let entry: Entry = serde_json::from_str(&letter.entry)
        .context("the dead letter's entry cannot be decoded; it cannot be replayed")?;
    dist.mysql
        .write_history(&[entry.into_history(venue)])
        .await?;
    let _: Value = dist
        .redis
        .custom(
            fred::cmd!("XDEL"),
            vec![dist.key(venue, "dead"), id.to_owned()],
        )
        .await?;
    Ok(true)
}

/// Dead letters waiting in a venue's stream, for `/metrics`.
pub async fn count(dist: &Dist, venue: i64) -> anyhow::Result<u64> {
    Ok(dist.redis.xlen(dist.key(venue, "dead")).await?)
}
