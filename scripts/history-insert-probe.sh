#!/usr/bin/env bash
# What one table definition costs MariaDB when history is written: inserts 20,000 joins'
# ticket and event rows, 400 rows per statement in one transaction (the shape the history
# projector writes), into a fresh database migrated by Fila's own migrations, and prints
# MariaDB's CPU time for it. With `--with-queue-key` the tickets table keeps the foreign key
# to `queues` (and its index) that migration 7 dropped.
#
#   scripts/history-insert-probe.sh [--with-queue-key] [--rounds N]
#
# Needs a local MariaDB as root without a password (MYSQL_HOST, default 127.0.0.1), and
# python3. It creates and drops the database `fila_insert_probe`.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
KEY=0
ROUNDS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --with-queue-key) KEY=1 ;;
    --rounds) ROUNDS="$2"; shift ;;
    *) echo "usage: $0 [--with-queue-key] [--rounds N]" >&2; exit 2 ;;
  esac
  shift
done
M=(mysql -uroot -h"${MYSQL_HOST:-127.0.0.1}")
DB=fila_insert_probe
PID=$(pgrep -x mariadbd || pgrep -x mysqld) || { echo "no local mariadbd/mysqld running" >&2; exit 1; }
SQL=$(mktemp)
trap 'rm -f "$SQL"; "${M[@]}" -e "DROP DATABASE IF EXISTS $DB" || true' EXIT

python3 - > "$SQL" <<'EOF'
N, PER = 20000, 400
print("BEGIN;")
for start in range(0, N, PER):
    ids = range(start + 1, start + PER + 1)
    tickets = ",".join(
        f"(1,{i},1,'A{i:03d}','token-{i:040d}','Guest {i}',2,NULL,0,'waiting',{i},NULL,0,"
        f"20261204,1764800000000,NULL,NULL,NULL,{i})" for i in ids)
    print("INSERT INTO tickets (venue_id, id, queue_id, number, token, name, party_size, notes, "
          "walk_in, status, ticket_rank, counter_id, calls, day, joined_at, called_at, "
          "serving_at, finished_at, version) VALUES " + tickets +
          " ON DUPLICATE KEY UPDATE version = GREATEST(version, VALUES(version));")
    events = ",".join(
        f"(1,{i},1764800000000,'joined',{i},NULL,'{{\"type\":\"joined\",\"ticket\":{i},"
        f"\"queue\":1,\"number\":\"A{i:03d}\",\"party_size\":2,\"walk_in\":false,"
        f"\"position\":{i}}}')" for i in ids)
    print("INSERT INTO events (venue_id, event_offset, at, kind, ticket_id, actor, body) VALUES "
          + events + " ON DUPLICATE KEY UPDATE venue_id = venue_id;")
print("COMMIT;")
EOF

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
hz=$(getconf CLK_TCK)
for r in $(seq "$ROUNDS"); do
  "${M[@]}" -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB"
  cat "$ROOT"/server/migrations/mysql/*.sql | "${M[@]}" "$DB"
  "${M[@]}" "$DB" -e "INSERT INTO venues (id, slug, name, utc_offset_minutes, event_offset,
      next_ticket_id, created_at, time_zone) VALUES (1, 'demo', 'Demo', 0, 0, 1, 0, 'UTC');
    INSERT INTO queues (id, venue_id, slug, name, prefix, status, day, last_number, pace_ms,
      sort_order, status_offset, limit_offset) VALUES (1, 1, 'bar', 'Bar', 'A', 'open', 0, 0,
      0, 0, 0, 0)"
  if [ "$KEY" = 1 ]; then
    "${M[@]}" "$DB" -e "ALTER TABLE tickets ADD CONSTRAINT tickets_queue
      FOREIGN KEY (queue_id) REFERENCES queues (id)"
  fi
  sleep 0.5
  before=$(cpu_ticks)
  "${M[@]}" "$DB" < "$SQL"
  after=$(cpu_ticks)
  echo "round $r: MariaDB CPU for 20000 joins' history rows: $(( (after - before) * 1000 / hz )) ms ($([ "$KEY" = 1 ] && echo with || echo without) the tickets->queues key)"
done
