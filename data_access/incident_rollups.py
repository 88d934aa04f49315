"""The incident count roll-ups: building them, moving their overdue watermark on, pruning them.

``incident_open_counts``, ``incident_open_cells``, ``incident_hour_counts`` and ``incident_day_counts``
(data_access/schema.py) are kept current by triggers on ``incidents`` (``trigger_sql``, generated
here from ``rollup_upserts`` and created by init_db): every insert, update and delete by any writer
(the feeder, the importers, a city's ETL) moves them at once, so the views ``v_incident_counts``,
``v_incident_sources``, ``v_incident_open_areas``, ``v_incident_cells`` and ``v_incident_categories``
read a few thousand roll-up rows instead of the open and the last 30 days' incidents, whatever the
size of the table.

Two things no write does:

- **time passing due dates.** An open incident becomes overdue without being written. The roll-ups
  count as overdue the open incidents due before the watermark (``rollup_watermarks`` row
  ``'incidents'``, ``rolled_until``); ``advance`` (the feeder, every tick) moves it to ``now`` and
  adds the open incidents that fell due meanwhile. The views add the open incidents due between
  the watermark and the clock from the incidents themselves (an index range of a tick's worth), so
  the figures are exact whatever the watermark's lag.
- **old buckets.** ``prune`` drops hour and day rows older than ``KEEP_S`` (the views read 30 days).

The watermark row also says the roll-ups are complete: ``rebuild`` (init_db, when it is missing)
counts everything afresh and writes it; without it every view counts the incidents itself (the
plain counts). A bulk load that bypasses the triggers (PostgreSQL ``ALTER TABLE … DISABLE
TRIGGER``) deletes the row first (``invalidate``) and calls ``rebuild`` afterwards; an import
batch on SQLite moves them once for the batch (``batch_write``).
"""
from __future__ import annotations

import time as _time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from data_access import schema
from data_access.db import render_sql, utc_now

WATERMARK = "incidents"  # the rollup_watermarks row
BATCH_MARK = "incidents_batch"  # its row while a batch_write moves the roll-ups (SQLite: its triggers skip)
KEEP_S = 32 * 86400  # hour rows kept: the views' 30 days, the city's "today" and a margin

# --- the one rule: how a set of incident rows moves every roll-up table ---------------------------
# A change set ``ch`` holds incident rows with a sign ``s``: +1 for a row that now exists (inserted, or
# an update's new version), -1 for one that no longer does (deleted, or an update's old version). Each
# roll-up row moves by the sum of its rows' signs; sums of nothing are skipped, so an update moves
# only the parts whose columns changed. The same statements keep the roll-ups on every write (the
# triggers: a statement's transition tables on PostgreSQL, OLD / NEW row by row on SQLite), apply an
# import batch at once (``apply_change``) and count everything afresh (``rebuild``: the incidents
# themselves, all +1). Rows are written in key order (two PostgreSQL writers never deadlock).
CHANGE_COLUMNS = ("district_code", "street_code", "cell_id", "category", "source", "priority", "reported_at",
                  "due_at", "resolved_at", "closed_at")
_SQLITE_WATERMARK = "(SELECT m.rolled_until FROM rollup_watermarks m WHERE m.rollup = 'incidents')"
_OPEN_UPSERT = """
INSERT INTO {table} ({keys}, n_open, n_overdue)
SELECT {key_values}, SUM(ch.s), SUM(CASE WHEN ch.due_at < {w} THEN ch.s ELSE 0 END)
FROM ({change}) ch WHERE ch.closed_at IS NULL{where}
GROUP BY {key_values}
HAVING SUM(ch.s) <> 0 OR SUM(CASE WHEN ch.due_at < {w} THEN ch.s ELSE 0 END) <> 0
ORDER BY {positions}
ON CONFLICT ({keys}) DO UPDATE
    SET n_open = {table}.n_open + excluded.n_open, n_overdue = {table}.n_overdue + excluded.n_overdue
"""
# Reports (reported_at's bucket) and closures (closed_at's) per area and channel: e.k 0 / 1 is the
# event, a.k which (area, channel) row it counts in: the city ('*') and the district and street, for
# every channel (''), then the city and the district per channel.
_BUCKET_UPSERT = """
INSERT INTO {table} (area_code, source, {bucket}, n_reported, n_closed, n_closed_on_time)
SELECT x.code, x.src, x.t, SUM(x.rep), SUM(x.clo), SUM(x.ont)
FROM (
    SELECT CASE a.k WHEN 1 THEN ev.d WHEN 2 THEN ev.st WHEN 4 THEN ev.d ELSE '*' END AS code,
           CASE WHEN a.k >= 3 THEN ev.src ELSE '' END AS src, ev.t, ev.rep, ev.clo, ev.ont
    FROM (
        SELECT ch.district_code AS d, ch.street_code AS st, ch.source AS src,
               CASE WHEN e.k = 0 THEN {{{{{macro}:ch.reported_at}}}} ELSE {{{{{macro}:ch.closed_at}}}} END AS t,
               SUM(CASE WHEN e.k = 0 THEN ch.s ELSE 0 END) AS rep, SUM(CASE WHEN e.k = 1 THEN ch.s ELSE 0 END) AS clo,
               SUM(CASE WHEN e.k = 1 AND (ch.due_at IS NULL OR COALESCE(ch.resolved_at, ch.closed_at) <= ch.due_at)
                        THEN ch.s ELSE 0 END) AS ont
        FROM ({change}) ch CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1) e
        WHERE (e.k = 0 AND ch.reported_at >= {since}) OR (e.k = 1 AND ch.closed_at >= {since})
        GROUP BY ch.district_code, ch.street_code, ch.source,
                 CASE WHEN e.k = 0 THEN {{{{{macro}:ch.reported_at}}}} ELSE {{{{{macro}:ch.closed_at}}}} END
    ) ev CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4) a
) x
WHERE x.code IS NOT NULL
GROUP BY x.code, x.src, x.t
HAVING SUM(x.rep) <> 0 OR SUM(x.clo) <> 0 OR SUM(x.ont) <> 0
ORDER BY x.code, x.src, x.t
ON CONFLICT (area_code, source, {bucket}) DO UPDATE
    SET n_reported = {table}.n_reported + excluded.n_reported, n_closed = {table}.n_closed + excluded.n_closed,
        n_closed_on_time = {table}.n_closed_on_time + excluded.n_closed_on_time
"""


_DAYS_FROM_HOURS = """
INSERT INTO incident_day_counts (area_code, source, day, n_reported, n_closed, n_closed_on_time)
SELECT area_code, source, {{DAY:hour}}, SUM(n_reported), SUM(n_closed), SUM(n_closed_on_time)
FROM incident_hour_counts GROUP BY area_code, source, {{DAY:hour}}
"""


def rollup_upserts(change: str, *, w: str, since: str = "'1900-01-01'", open_change: str | None = None,
                   buckets: tuple[tuple[sa.Table, str], ...] = schema.INCIDENT_BUCKET_ROLLUPS) -> list[str]:
    """The statements moving every roll-up table by the change set ``change`` (a SELECT of ``s`` and
    CHANGE_COLUMNS); ``w``: the overdue watermark (an SQL expression); ``since``: the oldest bucket
    counted (``rebuild``: KEEP_S ago); ``open_change``: a narrower change set for the open tables
    (``rebuild``: the open incidents only); ``buckets``: which bucket tables. Unrendered: HOUR / DAY
    macros (data_access.db.render_sql)."""
    out = []
    for table in schema.INCIDENT_OPEN_ROLLUPS:
        keys = [c.name for c in table.primary_key.columns]
        values = [f"COALESCE(ch.{k}, '')" if k in schema.BLANK_FOR_NULL else f"ch.{k}" for k in keys]
        # an incident without one of the other keys (no grid cell) is not in that table
        where = "".join(f" AND ch.{k} IS NOT NULL" for k in keys
                        if k not in schema.BLANK_FOR_NULL and schema.incidents.c[k].nullable)
        out.append(_OPEN_UPSERT.format(table=table.name, keys=", ".join(keys), key_values=", ".join(values),
                                       positions=", ".join(str(i + 1) for i in range(len(keys))), w=w,
                                       change=open_change or change, where=where))
    for table, macro in buckets:
        bucket = [c.name for c in table.primary_key.columns][-1]
        out.append(_BUCKET_UPSERT.format(table=table.name, bucket=bucket, macro=macro, change=change, since=since))
    return out


def change_set(*parts: tuple[int, str]) -> str:
    """A change set from (sign, FROM-or-row-prefix) parts: ``(1, "new_rows")`` reads a table,
    ``(1, "NEW.")`` one trigger row (SQLite)."""
    selects = []
    for sign, source in parts:
        if source.endswith("."):
            selects.append(f"SELECT {sign} AS s, " + ", ".join(f"{source}{c} AS {c}" for c in CHANGE_COLUMNS))
        else:
            selects.append(f"SELECT {sign} AS s, {', '.join(CHANGE_COLUMNS)} FROM {source}")
    return " UNION ALL ".join(selects)


def trigger_sql(dialect: str) -> str:
    """The triggers keeping the roll-ups on every insert, update and delete of ``incidents``, whoever
    writes them (a view file's text: statements split on ``-- @@``, macros unrendered).

    PostgreSQL: statement-level, over the statement's transition tables (an import batch moves each
    roll-up row once); the watermark row is read FOR SHARE, so ``advance`` (FOR UPDATE) and a write
    never miss each other's rows. SQLite: row by row; the update trigger only when a counted column
    changed."""
    drops = [f"DROP TRIGGER IF EXISTS trg_incident_rollups_{e}" for e in ("insert", "update", "delete")]
    if dialect != "postgresql":
        # not while a batch_write of this transaction moves the roll-ups itself
        batch = f"NOT EXISTS (SELECT 1 FROM rollup_watermarks b WHERE b.rollup = '{BATCH_MARK}')"
        changed = f"{batch} AND (" + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in CHANGE_COLUMNS) + ")"
        events = {"insert": ("AFTER INSERT", change_set((1, "NEW."))),
                  "delete": ("AFTER DELETE", change_set((-1, "OLD."))),
                  "update": (f"AFTER UPDATE OF {', '.join(CHANGE_COLUMNS)}", change_set((-1, "OLD."), (1, "NEW.")))}
        statements = list(drops)
        for event, (when, change) in events.items():
            guard = f"\nWHEN {changed if event == 'update' else batch}"
            body = ";\n".join(s.strip() for s in rollup_upserts(change, w=_SQLITE_WATERMARK))
            statements += [f"CREATE TRIGGER trg_incident_rollups_{event} {when} ON incidents{guard}\n"
                           f"BEGIN\n{body};\nEND"]
        return "\n-- @@\n".join(statements)
    statements = [f"{d} ON incidents" for d in [*drops, "DROP TRIGGER IF EXISTS trg_incident_rollups_truncate",
                                                 "DROP TRIGGER IF EXISTS trg_incident_rollups"]]
    statements.append("DROP FUNCTION IF EXISTS citywall_incident_rollups()")  # an older single-function version
    events = {"insert": ("NEW TABLE AS new_rows", change_set((1, "new_rows"))),
              "update": ("OLD TABLE AS old_rows NEW TABLE AS new_rows",
                         change_set((-1, "old_rows"), (1, "new_rows"))),
              "delete": ("OLD TABLE AS old_rows", change_set((-1, "old_rows")))}
    for event, (tables, change) in events.items():
        body = ";\n".join(s.strip() for s in rollup_upserts(change, w="w"))
        statements += [
            f"CREATE OR REPLACE FUNCTION citywall_incident_rollups_{event}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            "DECLARE\n    w timestamp;\nBEGIN\n"
            f"    SELECT rolled_until INTO w FROM rollup_watermarks WHERE rollup = '{WATERMARK}' FOR SHARE;\n"
            f"{body};\n    RETURN NULL;\nEND\n$$",
            f"CREATE TRIGGER trg_incident_rollups_{event} AFTER {event.upper()} ON incidents\n"
            f"    REFERENCING {tables} FOR EACH STATEMENT EXECUTE FUNCTION citywall_incident_rollups_{event}()"]
    # TRUNCATE fires no row trigger: it empties the roll-ups too.
    deletes = "".join(f"    DELETE FROM {t.name};\n" for t in schema.INCIDENT_ROLLUP_TABLES)
    statements += [
        "CREATE OR REPLACE FUNCTION citywall_incident_rollups_truncate() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{deletes}    RETURN NULL;\nEND\n$$",
        "CREATE TRIGGER trg_incident_rollups_truncate AFTER TRUNCATE ON incidents\n"
        "    FOR EACH STATEMENT EXECUTE FUNCTION citywall_incident_rollups_truncate()"]
    return "\n-- @@\n".join(statements)


# The open incidents that fell due in [w, until): added to the overdue counts.
_ADVANCE = (
    """
    UPDATE incident_open_counts SET n_overdue = incident_open_counts.n_overdue + d.n
    FROM (SELECT COALESCE(district_code, '') AS dc, COALESCE(street_code, '') AS sc, category, source, priority,
                 COUNT(*) AS n
          FROM incidents WHERE closed_at IS NULL AND due_at >= :w AND due_at < :until
          GROUP BY COALESCE(district_code, ''), COALESCE(street_code, ''), category, source, priority) d
    WHERE incident_open_counts.district_code = d.dc AND incident_open_counts.street_code = d.sc
      AND incident_open_counts.category = d.category AND incident_open_counts.source = d.source
      AND incident_open_counts.priority = d.priority
    """,
    """
    UPDATE incident_open_cells SET n_overdue = incident_open_cells.n_overdue + d.n
    FROM (SELECT cell_id, priority, COUNT(*) AS n
          FROM incidents WHERE closed_at IS NULL AND cell_id IS NOT NULL AND due_at >= :w AND due_at < :until
          GROUP BY cell_id, priority) d
    WHERE incident_open_cells.cell_id = d.cell_id AND incident_open_cells.priority = d.priority
    """,
)


@dataclass(frozen=True)
class RollupStep:
    done: bool  # False: no roll-ups (no watermark) or, on PostgreSQL, another step holds them
    rolled_until: datetime | None = None
    seconds: float = 0.0


def _text(conn: Connection, sql: str, *times: str) -> sa.TextClause:
    rendered = render_sql(sql, dialect=conn.dialect.name, tz_name="UTC")
    used = [t for t in times if f":{t}" in rendered]
    return sa.text(rendered).bindparams(*[sa.bindparam(t, type_=schema.UtcDateTime) for t in used])


def _naive(moment: datetime) -> datetime:
    return moment.replace(microsecond=0, tzinfo=None)


def watermark(conn: Connection, *, lock: bool = False) -> datetime | None:
    """The overdue watermark (None: no roll-ups). ``lock`` (PostgreSQL): FOR UPDATE SKIP LOCKED,
    None as well when a writer holds the row."""
    w = schema.rollup_watermarks
    query = sa.select(w.c.rolled_until).where(w.c.rollup == WATERMARK)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return conn.execute(query).scalar_one_or_none()


def _set_watermark(conn: Connection, until: datetime) -> None:
    w = schema.rollup_watermarks
    if not conn.execute(w.update().where(w.c.rollup == WATERMARK).values(rolled_until=until)).rowcount:
        conn.execute(w.insert().values(rollup=WATERMARK, rolled_until=until))


def invalidate(conn: Connection) -> None:
    """Say the roll-ups are incomplete (before a load that bypasses the triggers): the views count
    the incidents themselves until ``rebuild``."""
    w = schema.rollup_watermarks
    conn.execute(w.delete().where(w.c.rollup == WATERMARK))


def rebuild(engine_or_conn: Engine | Connection, *, now: datetime) -> RollupStep:
    """Count every roll-up afresh from ``incidents`` and write the watermark (``now``, naive UTC);
    one transaction. PostgreSQL: the incidents are locked against writes meanwhile."""
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            return rebuild(conn, now=now)
    conn = engine_or_conn
    started = _time.perf_counter()
    now = _naive(now)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE incidents IN SHARE MODE")
    invalidate(conn)
    params = {"w": now, "cutoff": now - timedelta(seconds=KEEP_S)}
    for table in schema.INCIDENT_ROLLUP_TABLES:
        conn.execute(table.delete())
    # the open tables from the open incidents, the hours from the 32 days' reports and closures, the
    # days from the hours (one pass over those incidents)
    upserts = rollup_upserts(change_set((1, "incidents WHERE reported_at >= :cutoff OR closed_at >= :cutoff")),
                             open_change=change_set((1, "incidents WHERE closed_at IS NULL")), w=":w",
                             since=":cutoff", buckets=schema.INCIDENT_BUCKET_ROLLUPS[:1])
    for sql in (*upserts, _DAYS_FROM_HOURS):
        conn.execute(_text(conn, sql, "w", "cutoff"), params)
    _set_watermark(conn, now)
    return RollupStep(True, now, round(_time.perf_counter() - started, 4))


def ensure(conn: Connection, *, now: datetime) -> bool:
    """Rebuild the roll-ups when they are not complete (no watermark); True when it rebuilt."""
    if watermark(conn) is not None:
        return False
    rebuild(conn, now=now)
    return True


def advance(engine_or_conn: Engine | Connection, *, now: datetime) -> RollupStep:
    """Move the overdue watermark to ``now`` (naive UTC), counting the open incidents that fell due
    since; one transaction. Nothing without roll-ups, when ``now`` is not past the watermark, or
    (PostgreSQL) while a writer holds the watermark row (the next tick catches up)."""
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            return advance(conn, now=now)
    conn = engine_or_conn
    started = _time.perf_counter()
    now = _naive(now)
    w = watermark(conn, lock=True)
    if w is None:
        return RollupStep(False)
    if now <= w:
        return RollupStep(True, w, round(_time.perf_counter() - started, 4))
    for sql in _ADVANCE:
        conn.execute(_text(conn, sql, "w", "until"), {"w": w, "until": now})
    _set_watermark(conn, now)
    return RollupStep(True, now, round(_time.perf_counter() - started, 4))


@contextmanager
def batch_write(conn: Connection, *, ids: Sequence[str]) -> Iterator[None]:
    """Write incidents ``ids`` (inserts or updates, inside the block, in ``conn``'s transaction)
    with the roll-ups moved once for the whole batch afterwards: their rows before the block out,
    after it in. SQLite only, whose triggers run row by row (most of a large import's time);
    PostgreSQL's run per statement already, and nothing is kept without the roll-ups. The batch's
    mark row is this transaction's own: no other writer's triggers skip (SQLite has one writer)."""
    if conn.dialect.name != "sqlite" or not ids or watermark(conn) is None:
        yield
        return
    columns = ", ".join(CHANGE_COLUMNS)
    for sql in ("DROP TABLE IF EXISTS temp.cw_batch_ids", "DROP TABLE IF EXISTS temp.cw_batch_old",
                "CREATE TEMP TABLE cw_batch_ids (incident_id TEXT PRIMARY KEY)"):
        conn.exec_driver_sql(sql)
    conn.exec_driver_sql("INSERT OR IGNORE INTO temp.cw_batch_ids VALUES (?)", [(i,) for i in ids])
    batch = "incidents WHERE incident_id IN (SELECT incident_id FROM temp.cw_batch_ids)"
    conn.exec_driver_sql(f"CREATE TEMP TABLE cw_batch_old AS SELECT {columns} FROM {batch}")
    marks = schema.rollup_watermarks
    conn.execute(marks.insert().values(rollup=BATCH_MARK, rolled_until=_naive(utc_now())))
    yield
    conn.execute(marks.delete().where(marks.c.rollup == BATCH_MARK))
    for sql in rollup_upserts(change_set((-1, "temp.cw_batch_old"), (1, batch)), w=_SQLITE_WATERMARK):
        conn.execute(_text(conn, sql))
    conn.exec_driver_sql("DROP TABLE temp.cw_batch_ids")
    conn.exec_driver_sql("DROP TABLE temp.cw_batch_old")


def prune(engine_or_conn: Engine | Connection, *, now: datetime) -> int:
    """Drop hour rows older than KEEP_S and open rows that came down to zero; rows deleted."""
    if isinstance(engine_or_conn, Engine):
        with engine_or_conn.begin() as conn:
            return prune(conn, now=now)
    conn = engine_or_conn
    h, o, c = schema.incident_hour_counts, schema.incident_open_counts, schema.incident_open_cells
    d = schema.incident_day_counts
    cutoff = _naive(now) - timedelta(seconds=KEEP_S)
    deleted = conn.execute(h.delete().where(h.c.hour < cutoff)).rowcount or 0
    deleted += conn.execute(d.delete().where(d.c.day < cutoff - timedelta(days=1))).rowcount or 0
    deleted += conn.execute(o.delete().where(o.c.n_open == 0, o.c.n_overdue == 0)).rowcount or 0
    deleted += conn.execute(c.delete().where(c.c.n_open == 0, c.c.n_overdue == 0)).rowcount or 0
    return max(0, deleted)
