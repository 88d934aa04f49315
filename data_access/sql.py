"""How the reads run their SQL: text with bound parameters, times as naive UTC on both dialects."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

SQL_CHUNK = 500  # ids per IN (...) list: far below every dialect's bound-parameter limit


def statement(sql: str, expanding: tuple[str, ...] | Mapping[str, bool] = ()) -> sa.TextClause:
    """``sql`` as a statement; ``expanding``: IN lists, one bound parameter per element, never text."""
    text = sa.text(sql)
    if expanding:
        text = text.bindparams(*(sa.bindparam(name, expanding=True) for name in expanding))
    return text


def times(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """SQLite hands back text, PostgreSQL datetimes; both become naive UTC Timestamps."""
    for column in columns:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], format="ISO8601", errors="coerce")
    return frame


def read_frame(engine: Engine, sql: str | sa.TextClause, params: Mapping[str, object] | None = None,
          times_in: tuple[str, ...] = (), expanding: tuple[str, ...] = ()) -> pd.DataFrame:
    query = statement(sql, expanding) if isinstance(sql, str) else sql
    with engine.connect() as conn:
        try:
            out = pd.read_sql(query, conn, params=dict(params or {}))
        except pd.errors.DatabaseError as exc:  # pandas wraps some driver errors (a statement timeout's
            if isinstance(exc.__cause__, sa.exc.SQLAlchemyError):  # "interrupted"): callers catch SQLAlchemy's
                raise exc.__cause__ from None
            raise
    return times(out, times_in)


def utc_text(moment: datetime) -> str:
    """A naive-UTC bound value both dialects compare correctly with their timestamp columns."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")
