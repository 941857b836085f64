//! Trimming a venue's log: entries go once both the newest snapshot and the history
//! projector are past them (a new instance starts from the snapshot; MySQL must have them).

use super::{Dist, HISTORY_GROUP, flat_map, seq_of_id};
use fred::prelude::*;

impl Dist {
    /// Drop log entries that both the newest snapshot and the projector are past.
    pub(super) async fn trim(&self, venue_id: i64) -> anyhow::Result<()> {
        let log = self.key(venue_id, "log");
        let snap: Option<u64> = self.redis.get(self.key(venue_id, "snapseq")).await?;
        let Some(snap) = snap else { return Ok(()) };
        let projected = acked_below(&self.redis, &log).await?;
        let keep_from = (snap + 1).min(projected);
        if keep_from > 1 {
            let _: Value = self
                .redis
                .custom(
                    fred::cmd!("XTRIM"),
                    vec![log, "MINID".into(), format!("0-{keep_from}")],
                )
                .await?;
        }
        Ok(())
    }
}

/// The lowest item id (`0-<seq>`, its last entry's) the projector has not acknowledged yet:
/// the log may be trimmed below it.
async fn acked_below(redis: &Client, log: &str) -> anyhow::Result<u64> {
    // [count, smallest id, largest id, consumers]
    let pending: Value = match redis
        .custom(
            fred::cmd!("XPENDING"),
            vec![log.to_owned(), HISTORY_GROUP.to_owned()],
        )
        .await
    {
        Ok(v) => v,
        Err(e) if e.details().contains("NOGROUP") => return Ok(1),
        Err(e) => return Err(e.into()),
    };
    let mut p = pending.into_array().into_iter();
    let count = p.next().and_then(|v| v.as_u64()).unwrap_or(0);
    if count > 0 {
        let min = p.next().and_then(|v| v.into_string()).unwrap_or_default();
        return Ok(seq_of_id(&min).unwrap_or(1));
    }
    let groups: Value = redis
        .custom(
            fred::cmd!("XINFO"),
            vec!["GROUPS".to_owned(), log.to_owned()],
        )
        .await?;
    for g in groups.into_array() {
        let fields = flat_map(g);
        if fields.get("name").map(String::as_str) == Some(HISTORY_GROUP) {
            let last = fields
                .get("last-delivered-id")
                .and_then(|id| seq_of_id(id))
                .unwrap_or(0);
            return Ok(last + 1);
        }
    }
    Ok(1)
}
