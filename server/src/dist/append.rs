//! Appending to a venue's log: one compare-and-set script call per batch, and the turn that
//! keeps a writer that keeps losing that race from starving.

use super::Dist;

/// Compare-and-set append: KEYS seq, log, turn; ARGV expected seq, channel, entry count, the
/// append's text ([`write_item`](super::write_item): stream item and pub/sub message, so
/// Redis handles it once), this writer's name, and "1" if a lost compare-and-set is to claim
/// the next turn.
///
/// The turn keeps a writer from starving: an instance whose batch keeps losing the race
/// (another instance appends continuously, as in a door rush, and this batch takes longer
/// to redo, like a call that cannot be taken back) claims the next append for itself; the
/// others wait ({2, seq}) until it appends or the claim expires (100 ms).
pub(super) const APPEND: &str = r#"
local cur = tonumber(redis.call('GET', KEYS[1]) or '-1')
local turn = redis.call('GET', KEYS[3])
if turn and turn ~= ARGV[5] then return {2, cur} end
if cur ~= tonumber(ARGV[1]) then
  if ARGV[6] == '1' and cur >= 0 then redis.call('SET', KEYS[3], ARGV[5], 'PX', 100) end
  return {0, cur}
end
local last = cur + tonumber(ARGV[3])
redis.call('XADD', KEYS[2], '0-' .. string.format('%d', last), 'e', ARGV[4])
redis.call('SET', KEYS[1], string.format('%d', last))
redis.call('PUBLISH', ARGV[2], ARGV[4])
if turn then redis.call('DEL', KEYS[3]) end
return {1, last}
"#;

/// Give back a claimed turn that is not needed (the batch had nothing left to append):
/// KEYS turn; ARGV this writer's name.
pub(super) const RELEASE_TURN: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

pub(crate) enum Appended {
    Done(u64),
    Conflict,
    /// Another instance's writer, starved, has claimed the next append: wait a moment.
    NotOurTurn,
    /// The venue's log does not exist (Redis lost it): resync before anything else.
    NoLog,
}

impl Dist {
    /// Append `count` entries, written as one text by [`write_item`](super::write_item), if
    /// the log is still at `expected` and no other writer has the turn; `claim`: if it is not
    /// at `expected`, take the next turn (see [`APPEND`]).
    pub(crate) async fn append(
        &self,
        venue_id: i64,
        expected: u64,
        count: usize,
        item: String,
        claim: bool,
    ) -> anyhow::Result<Appended> {
        let keys = vec![
            self.key(venue_id, "seq"),
            self.key(venue_id, "log"),
            self.key(venue_id, "turn"),
        ];
        let args = vec![
            expected.to_string(),
            self.channel(venue_id),
            count.to_string(),
            item,
            self.instance.clone(),
            if claim { "1" } else { "0" }.to_owned(),
        ];
        let (ok, seq): (i64, i64) = self
            .append
            .evalsha_with_reload(&self.redis, keys, args)
            .await?;
        Ok(match (ok, seq) {
            (1, s) => Appended::Done(s as u64),
            (_, s) if s < 0 => Appended::NoLog,
            (2, _) => Appended::NotOurTurn,
            (_, _) => Appended::Conflict,
        })
    }

    /// Give back this instance's claim on the venue's next append, if it holds one.
    pub(crate) async fn release_turn(&self, venue_id: i64) -> anyhow::Result<()> {
        let _: i64 = self
            .release_turn
            .evalsha_with_reload(
                &self.redis,
                vec![self.key(venue_id, "turn")],
                vec![self.instance.clone()],
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dist::{redis_builder, redis_connect};
    use fred::prelude::*;
    use fred::types::scripts::Script;
    use std::time::Duration;

    /// The append script's turn, against a real Redis (`FILA_TEST_REDIS`, else
    /// 127.0.0.1:6379) under a key prefix of its own: a writer that lost the race and claims
    /// the next turn appends next; the others wait until it has, gives it back, or the claim
    /// expires.
    #[tokio::test]
    async fn a_writer_that_keeps_losing_claims_the_next_append() {
        let url = std::env::var("FILA_TEST_REDIS").unwrap_or("redis://127.0.0.1:6379".into());
        let redis = redis_connect(&redis_builder(&url).unwrap(), &url)
            .await
            .unwrap_or_else(|e| panic!("this test needs Redis: {e:#}"));
        let p = format!("fila-test-turn-{}", crate::secrets::random_hex(6));
        let keys = vec![format!("{p}:seq"), format!("{p}:log"), format!("{p}:turn")];
        let script = Script::from_lua(APPEND);
        let append = |expected: u64, who: &str, claim: bool| {
            let args = vec![
                expected.to_string(),
                format!("{p}:live"),
                "1".to_owned(),
                format!("entry of {who}"),
                who.to_owned(),
                if claim { "1" } else { "0" }.to_owned(),
            ];
            let (redis, keys, script) = (redis.clone(), keys.clone(), script.clone());
            async move {
                let r: (i64, i64) = script
                    .evalsha_with_reload(&redis, keys, args)
                    .await
                    .unwrap();
                r
            }
        };
        let _: () = redis.set(&keys[0], 5, None, None, false).await.unwrap();
        assert_eq!(append(5, "a", false).await, (1, 6), "a appends");
        assert_eq!(append(5, "b", false).await, (0, 6), "b lost the race");
        assert_eq!(
            append(5, "b", true).await,
            (0, 6),
            "b lost again, and claims"
        );
        assert_eq!(append(6, "a", false).await, (2, 6), "a waits for b");
        assert_eq!(append(6, "b", false).await, (1, 7), "b appends");
        assert_eq!(append(7, "a", false).await, (1, 8), "the turn is over");
        // A claim nobody uses (its writer died, or had nothing left to append) expires.
        assert_eq!(append(7, "b", true).await, (0, 8));
        assert_eq!(append(8, "a", false).await, (2, 8), "a waits for b");
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(append(8, "a", false).await, (1, 9), "b's claim expired");
        // A claim given back: only by its holder.
        assert_eq!(append(8, "b", true).await, (0, 9));
        let release = Script::from_lua(RELEASE_TURN);
        let give_back = |who: &str| {
            let (redis, release) = (redis.clone(), release.clone());
            let args = vec![who.to_owned()];
            let keys = vec![keys[2].clone()];
            async move {
                let n: i64 = release
                    .evalsha_with_reload(&redis, keys, args)
                    .await
                    .unwrap();
                n
            }
        };
        assert_eq!(give_back("a").await, 0, "not a's to give back");
        assert_eq!(append(9, "a", false).await, (2, 9), "a still waits for b");
        assert_eq!(give_back("b").await, 1);
        assert_eq!(append(9, "a", false).await, (1, 10), "b gave it back");
        let _: i64 = redis.del(keys).await.unwrap();
    }
}
