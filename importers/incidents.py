"""``citywall import-incidents FILE.csv --mapping MAPPING.toml``: a hotline / 311 export into
CityWall's incidents, every row imported or rejected with a reason.

The mapping (TOML, see docs/importing.md) names the source columns, the time format and zone, and
maps the source's categories and statuses onto CityWall's. Everything that can be checked before
the first write is checked first (the mapping, the header, the categories), so a bad file or
mapping writes nothing. Rows are then read, checked and upserted in batches, one transaction per
batch; rejected rows go to ``<input>.rejects.csv`` with the reason beside the original columns.
Rows are vectorised with pandas and placed with one shapely STRtree query per batch: per-row
Python is what makes naive importers slow.
"""
from __future__ import annotations

import csv
import itertools
import string
import time
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from data_access import incident_rollups, schema
from data_access.db import utc_now
from data_access.errors import first_line
from data_access.upsert import upsert, upsert_columns
from importers.common import CODE_PATTERN, ImportFailure, stored_areas
from importers.geometry import polygonal

BATCH_ROWS = 50_000
ID_QUERY_SLICE = 10_000  # bound parameters per "which ids exist" query (SQLite allows 32,766)
COLUMN_ROLES = ("id", "category", "subcategory", "status", "reported_at", "closed_at", "closed_at_fallback", "due_at",
                "lat", "lon", "title", "address", "channel", "district_code", "street_code")
REQUIRED_ROLES = ("id", "category", "reported_at")
TEMPLATE_ROLES = ("title", "address")  # may be "{Column A}: {Column B}" instead of one column
TIME_ROLES = ("reported_at", "closed_at", "closed_at_fallback", "due_at")
FALLBACK_ROLE = "closed_at_fallback"  # e.g. an "updated" date: a closed row's closed time when closed_at is empty
CATEGORY_KEYS = {"subcategory": str, "category": str, "name": str, "name_en": str, "category_name": str,
                 "category_name_en": str, "sla_hours": (int, float), "priority": int, "sort_order": int}
WILDCARD = "*"
REJECT_COLUMNS = ("row", "reason", "detail")  # after the source's own columns in the rejects file
MAX_ID = 64
SQLITE_CACHE_KIB = 256_000

Progress = Callable[[int, int, int], None]  # rows read, imported, rejected so far


# --- the mapping ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mapping:
    path: Path
    columns: dict[str, str]  # role -> source column, or a template for title/address
    templates: dict[str, list[tuple[str, str | None]]]  # role -> [(literal, column or None)]
    formats: dict[str, str]  # time role -> strptime format or "ISO8601"
    timezone: str
    id_prefix: str
    channel: str
    encoding: str
    delimiter: str
    statuses: dict[str, str]  # casefolded source value -> CityWall status
    categories: dict[str, str]  # casefolded "category" or "category / subcategory" -> CityWall subcategory
    declared: list[dict[str, Any]]  # incident_categories rows the mapping defines

    def source_columns(self) -> dict[str, str]:
        """Every CSV column the mapping reads -> the place in the mapping that names it."""
        needed: dict[str, str] = {}
        for role, value in self.columns.items():
            if role in self.templates:
                for _, column in self.templates[role]:
                    if column is not None:
                        needed.setdefault(column, f"[columns] {role}")
            else:
                needed.setdefault(value, f"[columns] {role}")
        return needed


def _fail(path: Path, place: str, problem: str) -> ImportFailure:
    return ImportFailure(f"{path}: {place}: {problem}")


def _table(data: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise _fail(path, f"[{key}]", "expected a table")
    return value


def _strings(table: dict[str, Any], key: str, path: Path) -> dict[str, str]:
    out = {}
    for name, value in table.items():
        if not isinstance(value, str) or not value.strip():
            raise _fail(path, f"[{key}] {name!r}", "expected a non-empty string")
        out[str(name)] = value.strip()
    return out


def _parse_template(text: str, path: Path, role: str) -> list[tuple[str, str | None]]:
    try:
        parts = [(literal, field_name) for literal, field_name, _, _ in string.Formatter().parse(text)]
    except ValueError as exc:
        raise _fail(path, f"[columns] {role}", f"bad template {text!r} ({exc})") from None
    return [(literal, name if name else None) for literal, name in parts]


def load_mapping(path: Path) -> Mapping:
    """Read and check the mapping file itself (the database and the CSV are checked later)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ImportFailure(f"{path}: cannot read: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ImportFailure(f"{path}: not valid TOML: {exc}") from None
    unknown = set(data) - {"csv", "columns", "times", "incidents", "statuses", "categories", "category"}
    if unknown:
        raise _fail(path, f"[{sorted(unknown)[0]}]", "unknown table (expected csv, columns, times, incidents,"
                    " statuses, categories, category)")
    columns = _columns(data, path)
    templates = {role: _parse_template(columns[role], path, role)
                 for role in TEMPLATE_ROLES if role in columns and "{" in columns[role]}
    timezone, formats = _times(data, path)
    incidents = _table(data, "incidents", path)
    csv_opts = _table(data, "csv", path)
    if len(str(csv_opts.get("delimiter", ","))) != 1:
        raise _fail(path, "[csv] delimiter", f"{csv_opts['delimiter']!r}: expected one character")
    statuses = _statuses(data, path, columns)
    categories = {k.strip().casefold(): v for k, v in _strings(_table(data, "categories", path), "categories",
                                                                path).items()}
    return Mapping(path=path, columns=columns, templates=templates, formats=formats, timezone=timezone,
                   id_prefix=str(incidents.get("id_prefix", "")), channel=str(incidents.get("channel", "import")),
                   encoding=str(csv_opts.get("encoding", "utf-8-sig")), delimiter=str(csv_opts.get("delimiter", ",")),
                   statuses=statuses, categories=categories, declared=_declared_categories(data, path))


def _columns(data: dict[str, Any], path: Path) -> dict[str, str]:
    """[columns]: role -> source column (or template); the required roles, lat with lon."""
    columns = _strings(_table(data, "columns", path), "columns", path)
    for role in columns:
        if role not in COLUMN_ROLES:
            raise _fail(path, f"[columns] {role}", f"unknown key (expected one of {', '.join(COLUMN_ROLES)})")
    for role in REQUIRED_ROLES:
        if role not in columns:
            raise _fail(path, "[columns]", f"{role!r} is required")
    if ("lat" in columns) != ("lon" in columns):
        raise _fail(path, "[columns]", "name both lat and lon, or neither")
    return columns


def _times(data: dict[str, Any], path: Path) -> tuple[str, dict[str, str]]:
    """[times]: (the source's time zone, time role -> strptime format or "ISO8601")."""
    times = _table(data, "times", path)
    timezone = str(times.get("timezone", "UTC"))
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise _fail(path, "[times] timezone", f"{timezone!r} is not an IANA time zone") from None
    default_format = str(times.get("format", "ISO8601"))
    formats = {role: str(times.get(f"{role}_format", default_format)) for role in TIME_ROLES}
    for role, fmt in formats.items():
        if fmt != "ISO8601" and "%" not in fmt:
            raise _fail(path, f"[times] {role}_format" if f"{role}_format" in times else "[times] format",
                        f"{fmt!r} is neither 'ISO8601' nor a strptime format")
    return timezone, formats


def _statuses(data: dict[str, Any], path: Path, columns: dict[str, str]) -> dict[str, str]:
    """[statuses]: casefolded source value -> CityWall status."""
    statuses = {k.strip().casefold(): v for k, v in _strings(_table(data, "statuses", path), "statuses",
                                                              path).items()}
    for key, target in statuses.items():
        if target not in schema.INCIDENT_STATUSES:
            raise _fail(path, f"[statuses] {key!r}", f"{target!r} is not a CityWall status "
                        f"({', '.join(schema.INCIDENT_STATUSES)})")
    if statuses and "status" not in columns:
        raise _fail(path, "[statuses]", "mapping statuses needs [columns] status")
    return statuses


def _declared_categories(data: dict[str, Any], path: Path) -> list[dict[str, Any]]:
    """[[category]]: the incident_categories rows the mapping defines."""
    declared = data.get("category", [])
    if not isinstance(declared, list):
        raise _fail(path, "[[category]]", "expected an array of tables ([[category]])")
    rows = []
    for n, item in enumerate(declared, start=1):
        place = f"[[category]] #{n}"
        if not isinstance(item, dict):
            raise _fail(path, place, "expected a table")
        for key, value in item.items():
            if key not in CATEGORY_KEYS:
                raise _fail(path, f"{place} {key}", f"unknown key (expected {', '.join(CATEGORY_KEYS)})")
            if not isinstance(value, CATEGORY_KEYS[key]) or isinstance(value, bool):
                raise _fail(path, f"{place} {key}", f"{value!r} has the wrong type")
        for key in ("subcategory", "category", "name", "category_name", "sla_hours"):
            if key not in item:
                raise _fail(path, place, f"{key!r} is required")
        if not CODE_PATTERN.match(item["subcategory"]) or not CODE_PATTERN.match(item["category"]):
            raise _fail(path, place, "category and subcategory ids: 1-32 letters, digits, '_', '.' or '-'")
        if item["sla_hours"] <= 0:
            raise _fail(path, f"{place} sla_hours", "must be positive")
        rows.append({"subcategory": item["subcategory"], "category": item["category"], "name": item["name"],
                     # one language given: it serves both (better than the UI falling back to the id)
                     "name_en": item.get("name_en", item["name"]), "category_name": item["category_name"],
                     "category_name_en": item.get("category_name_en", item["category_name"]),
                     "sla_hours": float(item["sla_hours"]), "priority": int(item.get("priority", 1)),
                     "sort_order": int(item.get("sort_order", n))})
    return rows


def _category_table(engine: Engine, mapping: Mapping) -> pd.DataFrame:
    """subcategory -> category, sla_hours, priority: the database's catalogue plus the mapping's,
    after checking that every target of [categories] exists."""
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(sa.select(
            schema.incident_categories.c.subcategory, schema.incident_categories.c.category,
            schema.incident_categories.c.sla_hours, schema.incident_categories.c.priority))]
    known = {r["subcategory"]: r for r in rows}
    for r in mapping.declared:
        known[r["subcategory"]] = {k: r[k] for k in ("subcategory", "category", "sla_hours", "priority")}
    if not mapping.categories:
        raise _fail(mapping.path, "[categories]", "map at least one source category (or \"*\") to a CityWall"
                    " subcategory")
    for source, target in mapping.categories.items():
        if target not in known:
            sample = ", ".join(sorted(known)[:8]) or "none yet: declare them with [[category]]"
            raise _fail(mapping.path, f"[categories] {source!r}", f"unknown CityWall category {target!r}"
                        f" (known subcategories: {sample})")
    return pd.DataFrame(list(known.values())).set_index("subcategory")


# --- placing points --------------------------------------------------------------------------------

class Placer:
    """Point-in-polygon over the grid cells, then the streets, then the districts (v_grid_cells and
    v_areas), one vectorised STRtree query per layer; the first polygon in code order wins on a
    shared border, so the result is deterministic."""

    def __init__(self, engine: Engine) -> None:
        areas = stored_areas(engine)
        self.street_parent = {a.area_code: a.parent_code for a in areas if a.level == "street"}
        self.districts = {a.area_code for a in areas if a.level == "district"}
        if not self.districts:
            raise ImportFailure("import-incidents: the database has no districts: run citywall import-areas first")
        with engine.connect() as conn:
            cells = conn.execute(sa.text(
                "SELECT cell_id, street_code, district_code, geojson FROM v_grid_cells WHERE geojson IS NOT NULL"
                " ORDER BY cell_id")).all()
        self.layers: list[tuple[shapely.STRtree, np.ndarray, np.ndarray]] = []  # tree, codes, level
        cell_geoms = [polygonal(shapely.from_geojson(c.geojson)) for c in cells]
        self._add([g for g in cell_geoms], [(c.cell_id, c.street_code, c.district_code) for c in cells])
        streets = [a for a in areas if a.level == "street" and a.geometry is not None]
        self._add([s.geometry for s in streets], [(None, s.area_code, s.parent_code) for s in streets])
        districts = [a for a in areas if a.level == "district" and a.geometry is not None]
        self._add([d.geometry for d in districts], [(None, None, d.area_code) for d in districts])

    def _add(self, geoms: list[Any], codes: list[tuple[str | None, str | None, str | None]]) -> None:
        keep = [i for i, g in enumerate(geoms) if g is not None]
        if keep:
            self.layers.append((shapely.STRtree(np.asarray([geoms[i] for i in keep], dtype=object)),
                                np.asarray([codes[i] for i in keep], dtype=object)))

    def place(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """(n, 3) object array: cell_id, street_code, district_code (None where not placed)."""
        out = np.full((len(lon), 3), None, dtype=object)
        todo = np.arange(len(lon))
        for tree, codes in self.layers:
            if len(todo) == 0:
                break
            points = shapely.points(lon[todo], lat[todo])
            hit, poly = tree.query(points, predicate="intersects")
            order = np.lexsort((poly, hit))
            hit, poly = hit[order], poly[order]
            first = np.unique(hit, return_index=True)[1]
            hit, poly = hit[first], poly[first]
            out[todo[hit]] = codes[poly]
            todo = np.delete(todo, hit)
        return out


# --- the import -----------------------------------------------------------------------------------

@dataclass
class IncidentSummary:
    path: Path
    rows: int = 0
    imported: int = 0
    new: int = 0
    updated: int = 0
    rejected: int = 0
    reasons: Counter = field(default_factory=Counter)
    rejects_path: Path | None = None
    categories_declared: int = 0
    closed_from_fallback: int = 0  # imported closed rows whose closed time came from the fallback column
    fallback_column: str | None = None
    seconds: float = 0.0
    cpu_seconds: float = 0.0  # this process's CPU time: the figure a busy shared machine does not inflate

    def __str__(self) -> str:
        rate = self.rows / self.seconds if self.seconds else 0.0
        lines = [f"{self.path}: {self.rows:,} rows = {self.imported:,} imported ({self.new:,} new,"
                 f" {self.updated:,} updated) + {self.rejected:,} rejected, in {self.seconds:.1f} s"
                 f" ({rate:,.0f} rows/s)"]
        lines += [f"  rejected, {reason} ({reason_code(reason)}): {count:,}"
                  for reason, count in self.reasons.most_common()]
        if self.fallback_column:
            lines.append(f"  closed time taken from {self.fallback_column!r} ({FALLBACK_ROLE}):"
                         f" {self.closed_from_fallback:,}")
        if self.rejected:
            lines.append(f"  rejected rows with their reason: {self.rejects_path}")
        return "\n".join(lines)


def default_rejects_path(path: Path) -> Path:
    return path.with_name(f"{path.stem}.rejects.csv")


def _header(path: Path, mapping: Mapping) -> list[str]:
    try:
        frame = pd.read_csv(path, nrows=0, dtype=str, encoding=mapping.encoding, sep=mapping.delimiter)
    except FileNotFoundError:
        raise ImportFailure(f"{path}: no such file") from None
    except pd.errors.EmptyDataError:
        raise ImportFailure(f"{path}: line 1: empty file, expected a CSV header") from None
    except UnicodeDecodeError as exc:
        raise ImportFailure(f"{path}: byte {exc.start}: not {mapping.encoding} text"
                            f" (set [csv] encoding in {mapping.path.name})") from None
    except (pd.errors.ParserError, OSError) as exc:
        raise ImportFailure(f"{path}: header: {first_line(exc)}") from None
    header = [str(c) for c in frame.columns]
    for column, place in mapping.source_columns().items():
        if column not in header:
            shown = ", ".join(header[:8]) + (", …" if len(header) > 8 else "")
            raise ImportFailure(f"{path}: header: no column {column!r} (named by {mapping.path.name} {place});"
                                f" the header has: {shown}")
    return header


def _utc(raw: pd.Series, fmt: str, tz: str) -> tuple[pd.Series, pd.Series]:
    """(naive UTC times, unparseable mask) from text in the mapping's format and zone."""
    text = raw.str.strip()
    empty = text == ""
    parsed = pd.to_datetime(text.where(~empty), format=fmt, errors="coerce")
    if getattr(parsed.dt, "tz", None) is not None:  # the text carried an offset (%z / ISO with offset)
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    elif tz != "UTC":
        # A wall-clock time repeated at the autumn change reads as the first (daylight) one; one
        # skipped in spring moves forward: never a rejected row for a clock change.
        parsed = (parsed.dt.tz_localize(tz, ambiguous=np.ones(len(parsed), dtype=bool), nonexistent="shift_forward")
                  .dt.tz_convert("UTC").dt.tz_localize(None))
    return parsed.dt.floor("s"), ~empty & parsed.isna()


def _objects(series: pd.Series, *, times_as_text: bool) -> list[Any]:
    """A column as Python values with None for missing (what the DBAPI binds as NULL). On SQLite
    times go as the stored text itself, formatted in one numpy call (per-value datetime objects
    and their bind processing were a third of the import's time)."""
    if pd.api.types.is_datetime64_any_dtype(series):
        missing = series.isna().to_numpy()
        if times_as_text:
            text = np.datetime_as_string(series.to_numpy().astype("datetime64[s]"), unit="s").astype(object)
            text = np.char.replace(text.astype(str), "T", " ").astype(object)
        else:
            text = np.array(series.dt.to_pydatetime(), dtype=object)  # a copy: pandas 3 hands a read-only view
        text[missing] = None
        return text.tolist()
    return series.astype(object).where(series.notna(), None).tolist()


def _text_times_table() -> sa.Table:
    """``incidents`` with its time columns typed as plain text, for SQLite's upserts: the values are
    already in the stored form ("YYYY-MM-DD HH:MM:SS", the same as schema.UtcDateTime writes)."""
    columns = [sa.Column(c.name, sa.String if isinstance(c.type, sa.DateTime) else c.type, primary_key=c.primary_key)
               for c in schema.incidents.columns]
    return sa.Table(schema.incidents.name, sa.MetaData(), *columns)


def reason_code(reason: str) -> str:
    """The rejects file's ``reason`` column: the reason's words joined by "_" ("outside the city" ->
    outside_the_city), the same for every row it applies to, so rejects can be grouped."""
    return reason.replace(" ", "_")


class _Batch:
    """One batch of source rows checked column by column; ``kind`` holds the first problem (a fixed
    reason), ``detail`` the row's own data that shows it."""

    def __init__(self, frame: pd.DataFrame, first_row: int) -> None:
        self.frame = frame
        self.row_numbers = np.arange(first_row, first_row + len(frame))
        self.kind = pd.Series(pd.NA, index=frame.index, dtype=object)
        self.detail = pd.Series("", index=frame.index, dtype=object)

    def reject(self, mask: pd.Series | np.ndarray, kind: str, detail: pd.Series | str | None = None) -> None:
        mask = pd.Series(np.asarray(mask, dtype=bool), index=self.frame.index) & self.kind.isna()
        if not mask.any():
            return
        self.kind[mask] = kind
        if isinstance(detail, pd.Series):
            self.detail[mask] = detail[mask].astype(str).astype(object)
        elif detail:
            self.detail[mask] = detail

    @property
    def ok(self) -> pd.Series:
        return self.kind.isna()


class IncidentImporter:
    def __init__(self, engine: Engine, *, path: Path, mapping: Mapping, rejects_path: Path | None = None) -> None:
        self.engine = engine
        self.path = Path(path)
        self.mapping = mapping
        self.rejects_path = Path(rejects_path) if rejects_path else default_rejects_path(self.path)
        self.header = _header(self.path, mapping)
        self.catalogue = _category_table(engine, mapping)
        self.placer = Placer(engine)
        # hashes of the ids of this file's imported rows so far (sorted), and the row each came from
        self.seen_ids = np.empty(0, dtype=np.uint64)
        self.seen_rows = np.empty(0, dtype=np.int64)
        self.summary = IncidentSummary(path=self.path, rejects_path=self.rejects_path,
                                       fallback_column=mapping.columns.get(FALLBACK_ROLE))

    def run(self, *, progress: Progress | None = None) -> IncidentSummary:
        started, cpu_started = time.perf_counter(), time.process_time()
        m = self.mapping
        # The rejects go to a new file beside the old one, which they replace only when the import
        # ran to the end: a failed run keeps the previous rejects file.
        partial = self.rejects_path.with_name(self.rejects_path.name + ".partial")
        try:
            rejects = partial.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise ImportFailure(f"{self.rejects_path}: cannot write the rejects file ({exc.strerror or exc});"
                                " choose another place with --rejects") from None
        try:
            with rejects:
                writer = csv.writer(rejects)
                writer.writerow([*self.header, *REJECT_COLUMNS])
                with self.engine.begin() as conn:
                    upsert(conn, schema.incident_categories, m.declared)
                self.summary.categories_declared = len(m.declared)
                try:
                    for frame, widths in self._frames():
                        self._batch(frame, widths, writer)
                        if progress:
                            progress(self.summary.rows, self.summary.imported, self.summary.rejected)
                except (csv.Error, UnicodeDecodeError) as exc:
                    done = self.summary.rows
                    raise ImportFailure(
                        f"{self.path}: after row {done:,}: {first_line(exc)}; the {done:,} rows before it are"
                        " imported (one transaction per batch) and the previous rejects file is kept; fix the file"
                        " and run again (it updates)") from None
            partial.replace(self.rejects_path)
        finally:
            partial.unlink(missing_ok=True)
        # The rows are in the incident count roll-ups already (their triggers); the overdue watermark
        # moves to now, so a city importing without a feeder keeps the views' overdue range short.
        incident_rollups.advance(self.engine, now=utc_now())
        self.summary.seconds = time.perf_counter() - started
        self.summary.cpu_seconds = time.process_time() - cpu_started
        return self.summary

    def _frames(self) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        """The file in batches of BATCH_ROWS records: (every field as text, in the header's columns;
        how many fields each record really had). A record with too many fields keeps its first ones,
        one with too few gets empty ones: _batch rejects both as malformed. Blank lines are skipped."""
        width = len(self.header)
        with self.path.open(encoding=self.mapping.encoding, newline="") as fh:
            records = csv.reader(fh, delimiter=self.mapping.delimiter)
            next(records, None)  # the header, read by _header
            while True:
                raw = list(itertools.islice(records, BATCH_ROWS))
                if not raw:
                    return
                chunk = [r for r in raw if r]
                if not chunk:
                    continue
                widths = np.fromiter((len(r) for r in chunk), dtype=np.int64, count=len(chunk))
                if (widths != width).any():
                    chunk = [r if len(r) == width else (r + [""] * width)[:width] for r in chunk]
                yield pd.DataFrame(chunk, columns=self.header, dtype=object), widths

    def _batch(self, frame: pd.DataFrame, widths: np.ndarray, writer: Any) -> None:
        """Check one batch column by column, upsert its good rows, write its rejected ones."""
        b = _Batch(frame.reset_index(drop=True), self.summary.rows + 1)
        expected = len(self.header)
        b.reject(widths != expected, "malformed row",
                 pd.Series(widths, index=b.frame.index).astype(str) + f" fields, expected {expected}")
        incident_id, ids, hashes = self._check_ids(b)
        target = self._check_categories(b)
        times = self._check_times(b)
        status, closed_at, from_fallback = self._check_status(b, times)
        codes, coded = self._check_codes(b)
        lat, lon = self._check_coordinates(b, coded)
        cell, street, district = self._place(b, lat, lon, codes, coded)
        self._check_duplicates(b, ids, hashes)
        ok = b.ok.to_numpy()
        self.summary.closed_from_fallback += int((from_fallback.to_numpy() & ok).sum())
        subcategory = target.where(b.ok)
        info = self.catalogue.reindex(subcategory.fillna("").to_numpy())
        sla = pd.to_timedelta(info["sla_hours"].to_numpy(), unit="h")
        channel = self._channel(b.frame)
        out = pd.DataFrame({
            "incident_id": incident_id, "category": info["category"].to_numpy(), "subcategory": subcategory,
            "source": channel.where(channel != "", self.mapping.channel), "priority": info["priority"].to_numpy(),
            "status": status, "title": self._text("title", b.frame), "address": self._text("address", b.frame),
            "lat": lat, "lon": lon, "cell_id": cell, "street_code": street, "district_code": district,
            "reported_at": times["reported_at"], "closed_at": closed_at,
            "due_at": times["due_at"].fillna(times["reported_at"] + sla),
        })[ok]
        out["priority"] = out["priority"].astype(int)
        self._write(out)
        self._report(b, ok, writer)

    def _check_ids(self, b: _Batch) -> tuple[pd.Series, pd.Series, np.ndarray]:
        """(incident ids with the prefix, source ids, their hashes); rejects empty, long and repeated ids."""
        cols = self.mapping.columns
        ids = b.frame[cols["id"]].str.strip()
        b.reject(ids == "", "no id", f"column {cols['id']!r} is empty")
        incident_id = self.mapping.id_prefix + ids
        b.reject(incident_id.str.len() > MAX_ID, "id too long", f"more than {MAX_ID} characters with the prefix")
        hashes = pd.util.hash_pandas_object(ids, index=False).to_numpy()
        return incident_id, ids, hashes

    def _check_duplicates(self, b: _Batch, ids: pd.Series, hashes: np.ndarray) -> None:
        """Last, once every other check judged the batch: a row is a duplicate when an earlier row of
        the file with its id was imported (a repeat of a rejected row is judged on its own)."""
        ok = b.ok.to_numpy()
        rows = b.row_numbers
        earlier = np.full(len(ids), -1, dtype=np.int64)  # the row that first imported the id, else -1
        if len(self.seen_ids):
            at = np.minimum(np.searchsorted(self.seen_ids, hashes), len(self.seen_ids) - 1)
            found = self.seen_ids[at] == hashes
            earlier[found] = self.seen_rows[at[found]]
        candidates = pd.Series(np.where(ok & (earlier < 0), ids.to_numpy(), None), dtype=object)
        first = candidates.notna() & ~candidates.duplicated(keep="first")
        first_row = pd.Series(rows[first.to_numpy()], index=candidates[first].to_numpy())
        within = (candidates.notna() & ~first).to_numpy()
        earlier[within] = first_row.reindex(ids.to_numpy()[within]).to_numpy()
        repeat = ok & (earlier >= 0)
        b.reject(repeat, "duplicate id", "row " + pd.Series(earlier, index=b.frame.index).astype(str)
                 + " has the id " + ids)
        keep = ok & ~repeat
        seen_ids = np.concatenate([self.seen_ids, hashes[keep]])
        seen_rows = np.concatenate([self.seen_rows, rows[keep]])
        order = np.argsort(seen_ids, kind="stable")
        self.seen_ids, self.seen_rows = seen_ids[order], seen_rows[order]

    def _check_categories(self, b: _Batch) -> pd.Series:
        """CityWall's subcategory of each row: "category / subcategory", then "category", then "*"."""
        m, cols, frame = self.mapping, self.mapping.columns, b.frame
        category = frame[cols["category"]].str.strip()
        key = category.str.casefold()
        target = pd.Series(pd.NA, index=frame.index, dtype=object)
        if "subcategory" in cols:
            sub = frame[cols["subcategory"]].str.strip()
            target = (key + " / " + sub.str.casefold()).map(m.categories).astype(object)
        target = target.fillna(key.map(m.categories).astype(object))
        if WILDCARD in m.categories:
            target = target.fillna(m.categories[WILDCARD])
        b.reject(target.isna(), "unknown category", "'" + category + "'")
        return target

    def _check_times(self, b: _Batch) -> dict[str, pd.Series]:
        """Every time role in naive UTC (NaT where the mapping names no column or the cell is empty)."""
        m, cols, frame = self.mapping, self.mapping.columns, b.frame
        times = {}
        labels = {"reported_at": "reported time", "closed_at": "closed time", "due_at": "due time"}
        for role in TIME_ROLES:
            if role in cols:
                times[role], bad = _utc(frame[cols[role]], m.formats[role], m.timezone)
                if role != FALLBACK_ROLE:  # the fallback only matters where it is used (_check_status)
                    b.reject(bad, f"unparseable {labels[role]}", "'" + frame[cols[role]] + f"' ({cols[role]})")
            else:
                times[role] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[s]")
        b.reject(times["reported_at"].isna(), "no reported time", f"column {cols['reported_at']!r} is empty")
        return times

    def _check_status(self, b: _Batch, times: dict[str, pd.Series]) -> tuple[pd.Series, pd.Series, pd.Series]:
        """(CityWall status, closed time, closed time from the fallback column): from [statuses], the
        source's own words, or the closed time."""
        m, cols, frame = self.mapping, self.mapping.columns, b.frame
        if "status" in cols:
            raw_status = frame[cols["status"]].str.strip()
            status = raw_status.str.casefold().map(m.statuses).astype(object)
            if WILDCARD in m.statuses:
                status = status.fillna(m.statuses[WILDCARD])
            if m.statuses:
                b.reject(status.isna(), "unknown status", "'" + raw_status + "'")
            else:  # no [statuses]: the source already speaks CityWall's words
                status = raw_status.str.casefold().where(raw_status.str.casefold().isin(schema.INCIDENT_STATUSES))
                b.reject(status.isna(), "unknown status", "'" + raw_status + "'")
        else:
            status = pd.Series(np.where(times["closed_at"].notna(), "closed", "reported"), index=frame.index,
                               dtype=object)
        closed = (status == "closed").fillna(False).astype(bool)
        closed_at = times["closed_at"]
        from_fallback = closed & closed_at.isna() & times[FALLBACK_ROLE].notna()
        closed_at = closed_at.where(~from_fallback, times[FALLBACK_ROLE])
        given = [f"column {cols[r]!r}" for r in ("closed_at", FALLBACK_ROLE) if r in cols]
        b.reject(closed & closed_at.isna(), "closed without a closed time",
                 " and ".join(given) + " empty or unreadable" if given else "map [columns] closed_at")
        return status, closed_at.where(closed), from_fallback  # open = no closed time, whatever the source says

    def _check_codes(self, b: _Batch) -> tuple[np.ndarray, pd.Series]:
        """((n, 3) cell, street, district codes the source gives, rows with a known code)."""
        cols, frame = self.mapping.columns, b.frame
        codes = np.full((len(frame), 3), None, dtype=object)
        coded = pd.Series(False, index=frame.index)
        for level, role in (("district", "district_code"), ("street", "street_code")):
            if role not in cols:
                continue
            given = frame[cols[role]].str.strip()
            known = given.isin(self.placer.districts if level == "district" else self.placer.street_parent.keys())
            b.reject((given != "") & ~known, f"unknown {level} code", "'" + given + "'")
            if level == "district":
                codes[:, 2] = np.where(known, given, codes[:, 2])
            else:
                codes[:, 1] = np.where(known, given, codes[:, 1])
                codes[:, 2] = np.where(known, given.map(self.placer.street_parent).astype(object), codes[:, 2])
            coded |= known
        return codes, coded

    def _check_coordinates(self, b: _Batch, coded: pd.Series) -> tuple[pd.Series, pd.Series]:
        """(lat, lon), NaN where missing or unusable; a row needs them unless the source coded its area."""
        cols, frame = self.mapping.columns, b.frame
        lat = lon = pd.Series(np.nan, index=frame.index)
        if "lat" in cols:
            lat_raw, lon_raw = frame[cols["lat"]].str.strip(), frame[cols["lon"]].str.strip()
            missing = (lat_raw == "") | (lon_raw == "")
            lat, lon = pd.to_numeric(lat_raw, errors="coerce"), pd.to_numeric(lon_raw, errors="coerce")
            bad = ~missing & (lat.isna() | lon.isna())
            b.reject(bad, "unparseable coordinates", "'" + lat_raw + "', '" + lon_raw + "'")
            out = ~missing & ~bad & ((lat.abs() > 90) | (lon.abs() > 180) | ((lat == 0) & (lon == 0)))
            b.reject(out, "coordinates out of range", lat_raw + ", " + lon_raw)
            lat, lon = lat.where(~(missing | bad | out)), lon.where(~(missing | bad | out))
        b.reject(lat.isna() & ~coded, "no coordinates",
                 f"{cols['lat']!r}/{cols['lon']!r} empty" if "lat" in cols else "the mapping names no lat/lon")
        return lat, lon

    def _place(self, b: _Batch, lat: pd.Series, lon: pd.Series, codes: np.ndarray, coded: pd.Series
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(cell, street, district) of each row; rejects points outside the city."""
        n = len(b.frame)
        locate = (b.ok & lat.notna()).to_numpy()
        placed = np.full((n, 3), None, dtype=object)
        if locate.any():
            placed[locate] = self.placer.place(lon.to_numpy()[locate], lat.to_numpy()[locate])
        coded_np = coded.to_numpy()
        # Codes from the source win; the point still gives the cell when it lies in that street.
        same_street = placed[:, 1] == codes[:, 1]
        cell = np.where(coded_np, np.where(same_street, placed[:, 0], None), placed[:, 0])
        street = np.where(coded_np, codes[:, 1], placed[:, 1])
        district = np.where(coded_np, codes[:, 2], placed[:, 2])
        b.reject(pd.Series(district, index=b.frame.index).isna() & lat.notna(), "outside the city",
                 lat.round(6).astype(str) + ", " + lon.round(6).astype(str))
        return cell, street, district

    def _channel(self, frame: pd.DataFrame) -> pd.Series:
        cols = self.mapping.columns
        return frame[cols["channel"]].str.strip() if "channel" in cols else pd.Series(self.mapping.channel,
                                                                                     index=frame.index)

    def _report(self, b: _Batch, ok: np.ndarray, writer: Any) -> None:
        """Write the rejected rows with their number and reason; count the batch into the summary."""
        rejected = ~ok
        if rejected.any():
            originals = b.frame[rejected].to_numpy().tolist()
            numbers = b.row_numbers[rejected].tolist()
            codes = [reason_code(k) for k in b.kind[rejected].tolist()]
            details = b.detail[rejected].tolist()
            writer.writerows(row + [number, code, detail]
                             for row, number, code, detail in zip(originals, numbers, codes, details, strict=True))
            self.summary.reasons.update(b.kind[rejected].tolist())
        self.summary.rows += len(b.frame)
        self.summary.imported += int(ok.sum())
        self.summary.rejected += int(rejected.sum())

    def _text(self, role: str, frame: pd.DataFrame) -> pd.Series:
        cols = self.mapping.columns
        if role not in cols:
            return pd.Series(None, index=frame.index, dtype=object)
        if role not in self.mapping.templates:
            text = frame[cols[role]].str.strip()
        else:
            text = pd.Series("", index=frame.index)
            for literal, column in self.mapping.templates[role]:
                text = text + literal
                if column is not None:
                    text = text + frame[column].str.strip()
            text = text.str.strip(" :-,/")
        return text.where(text != "").astype(object)

    def _write(self, out: pd.DataFrame) -> None:
        if out.empty:
            return
        ids = out["incident_id"].tolist()
        sqlite = self.engine.dialect.name == "sqlite"
        table = _text_times_table() if sqlite else schema.incidents
        # One transaction per batch: which ids exist (for the new/updated counts), then the upsert.
        with self.engine.begin() as conn:
            if sqlite:  # a large page cache: the time indexes take random inserts on a big table
                conn.exec_driver_sql(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
            existing = 0
            for start in range(0, len(ids), ID_QUERY_SLICE):
                chunk = ids[start:start + ID_QUERY_SLICE]
                existing += conn.execute(sa.select(sa.func.count()).select_from(table)
                                         .where(table.c.incident_id.in_(chunk))).scalar_one()
            with incident_rollups.batch_write(conn, ids=ids):  # SQLite: the roll-ups moved once per batch
                upsert_columns(conn, table, {name: _objects(out[name], times_as_text=sqlite) for name in out.columns})
        self.summary.new += len(ids) - existing
        self.summary.updated += existing


def import_incidents(engine: Engine, *, path: Path, mapping_path: Path, rejects_path: Path | None = None,
                     progress: Progress | None = None) -> IncidentSummary:
    """Check the mapping, the CSV header and the categories, then import in batches (see module doc)."""
    mapping = load_mapping(Path(mapping_path))
    return IncidentImporter(engine, path=Path(path), mapping=mapping, rejects_path=rejects_path).run(progress=progress)
