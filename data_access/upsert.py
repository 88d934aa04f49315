"""The one dialect upsert of every writer of base tables: the demo feeder, the pack loader, the importers.

SQLite and PostgreSQL get their native ``INSERT ... ON CONFLICT`` (one executemany per batch); any
other dialect falls back to UPDATE-then-INSERT-missing (``upsert``) or a plain INSERT
(``insert_ignore``). No Dash, no Flask: this is data_access.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

BATCH_ROWS = 5000

Rows = Sequence[dict[str, Any]]


def execute_batches(conn: Connection, stmt: sa.Executable, rows: Sequence[Any]) -> None:
    """``stmt`` as one executemany per ``BATCH_ROWS`` rows (nothing at all for no rows).

    PostgreSQL INSERTs go as multi-row ``INSERT … VALUES (…), (…)`` statements (SQLAlchemy's
    insertmanyvalues, which it takes for an INSERT … RETURNING; psycopg's own executemany sends one
    statement per row): statement-level triggers (the incident roll-ups) then run once per page of
    rows instead of once per row, and the server parses a statement per page."""
    if conn.dialect.name == "postgresql" and isinstance(stmt, sa.Insert) and len(stmt.table.primary_key.columns):
        stmt = stmt.returning(*stmt.table.primary_key.columns)
    for start in range(0, len(rows), BATCH_ROWS):
        conn.execute(stmt, list(rows[start:start + BATCH_ROWS]))


def dialect_insert(conn_or_engine: Connection | Engine, table: sa.Table) -> Any | None:
    """The dialect's own INSERT for ``table`` (it has ``on_conflict_do_*``) on SQLite and
    PostgreSQL; None on any other dialect."""
    name = conn_or_engine.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        return None
    return insert(table)


def insert_ignore(conn_or_engine: Connection | Engine, table: sa.Table) -> sa.Insert:
    """INSERT that skips rows whose key exists: writing the same row twice is harmless (a plain
    INSERT on dialects without ON CONFLICT)."""
    stmt = dialect_insert(conn_or_engine, table)
    return table.insert() if stmt is None else stmt.on_conflict_do_nothing()


def primary_key(table: sa.Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


def upsert_statement(conn_or_engine: Connection | Engine, table: sa.Table, *, keys: Sequence[str],
                     update: Sequence[str]) -> Any | None:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE SET`` the ``update`` columns (DO NOTHING when there
    are none); None on a dialect without ON CONFLICT."""
    stmt = dialect_insert(conn_or_engine, table)
    if stmt is None:
        return None
    if update:
        return stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in update})
    return stmt.on_conflict_do_nothing(index_elements=list(keys))


def upsert(conn: Connection, table: sa.Table, rows: Rows, *, keys: Sequence[str] | None = None,
           update: Sequence[str] | None = None) -> None:
    """Insert ``rows``, updating the ``update`` columns of rows whose ``keys`` already exist.

    ``keys`` default to the primary key; ``update`` to every column of the rows but the keys.
    """
    if not rows:
        return
    keys = primary_key(table) if keys is None else list(keys)
    update = [c for c in rows[0] if c not in keys] if update is None else list(update)
    stmt = upsert_statement(conn, table, keys=keys, update=update)
    if stmt is not None:
        if conn.dialect.name == "postgresql" and update:
            # one multi-row statement may not update a row twice: the last row of a key wins, as
            # it did row by row
            rows = list({tuple(r[k] for k in keys): r for r in rows}.values())
        execute_batches(conn, stmt, rows)
        return
    _upsert_generic(conn, table, rows, keys=keys, update=update)


def _upsert_generic(conn: Connection, table: sa.Table, rows: Rows, *, keys: list[str], update: list[str]) -> None:
    """Find which keys exist, update those, insert the rest."""
    existing = {tuple(r) for r in conn.execute(sa.select(*[table.c[k] for k in keys]))}
    old = [r for r in rows if tuple(r[k] for k in keys) in existing]
    new = [r for r in rows if tuple(r[k] for k in keys) not in existing]
    if old and update:
        stmt = table.update().where(*[table.c[k] == sa.bindparam(f"k_{k}") for k in keys]).values(
            {c: sa.bindparam(f"v_{c}") for c in update})
        execute_batches(conn, stmt, [{**{f"k_{k}": r[k] for k in keys}, **{f"v_{c}": r[c] for c in update}}
                                     for r in old])
    execute_batches(conn, table.insert(), new)


def upsert_columns(conn: Connection, table: sa.Table, columns: dict[str, list[Any]], *,
                   keys: Sequence[str] | None = None) -> None:
    """``upsert`` of rows given column-wise (name -> values, all of one length).

    On SQLite the statement is compiled once and handed to the driver's executemany with plain
    tuples: SQLAlchemy's per-row parameter handling cost more than SQLite's own work at a million
    rows. Elsewhere the rows go through ``upsert``.
    """
    names = list(columns)
    if not names or not len(columns[names[0]]):
        return
    keys = primary_key(table) if keys is None else list(keys)
    if conn.dialect.name != "sqlite":
        rows = [dict(zip(names, values, strict=True)) for values in zip(*columns.values(), strict=True)]
        upsert(conn, table, rows, keys=keys)
        return
    stmt = upsert_statement(conn, table, keys=keys, update=[n for n in names if n not in keys])
    compiled = stmt.compile(dialect=conn.dialect, column_keys=names)
    order = [names.index(key) for key in compiled.positiontup]
    values = list(columns.values())
    rows = [tuple(row[i] for i in order) for row in zip(*values, strict=True)] if order != list(range(len(names))) \
        else list(zip(*values, strict=True))
    conn.exec_driver_sql(str(compiled), rows)
