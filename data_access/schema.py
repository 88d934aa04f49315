"""CityWall's demo base tables (SQLAlchemy Core).

Only the feeder and the importers write these; the app reads the ``v_*`` views built on
them (``views/*.sql``). A city with its own database skips these tables and writes the views
over its own (docs/own-database.md). All timestamps are naive UTC.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite

metadata = sa.MetaData()

# Second resolution, space separator: on SQLite the stored text then compares correctly with
# datetime('now') and the views' other time expressions (plain string comparison).
UtcDateTime = sa.DateTime().with_variant(
    sqlite.DATETIME(
        storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d",
        regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)",
    ),
    "sqlite",
)

# Bumped whenever a table or view changes shape; stored in citywall_meta by init_db.
SCHEMA_VERSION = 6

meta = sa.Table(
    "citywall_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

areas = sa.Table(
    "areas",
    metadata,
    sa.Column("area_code", sa.String(32), primary_key=True),
    sa.Column("level", sa.String(16), nullable=False),  # city | district | street
    sa.Column("parent_code", sa.String(32), sa.ForeignKey("areas.area_code"), nullable=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text),
    sa.Column("geojson", sa.Text),  # GeoJSON geometry, WGS-84
    sa.Column("center_lat", sa.Float),
    sa.Column("center_lon", sa.Float),
    sa.Column("sort_order", sa.Integer, nullable=False, server_default="0"),
    sa.Column("approximate", sa.Boolean, nullable=False, server_default=sa.false()),
    # Where the boundary comes from (BOUNDARY_SOURCES): only 'generated' ones are approximate.
    sa.Column("boundary_source", sa.String(16)),
    # The box of the area's bulk (its largest parts, 99 % of its area): what a map fits to, so a
    # tiny fragment far away does not shrink the city into a corner. WGS-84 degrees.
    sa.Column("fit_west", sa.Float),
    sa.Column("fit_south", sa.Float),
    sa.Column("fit_east", sa.Float),
    sa.Column("fit_north", sa.Float),
    sa.CheckConstraint("level IN ('city','district','street')", name="ck_areas_level"),
)
# file: as in the imported file (perhaps simplified for display); dissolved: the union of its imported
# children; district: a street standing for its whole district (a city without streets); generated:
# drawn by CityWall (the demo's streets, or marked --approximate).
BOUNDARY_SOURCES = ("file", "dissolved", "district", "generated")
FIT_COLUMNS = ("fit_west", "fit_south", "fit_east", "fit_north")
sa.Index("ix_areas_parent", areas.c.parent_code)

grid_cells = sa.Table(
    "grid_cells",
    metadata,
    sa.Column("cell_id", sa.String(32), primary_key=True),
    sa.Column("street_code", sa.String(32), sa.ForeignKey("areas.area_code"), nullable=False),
    sa.Column("geojson", sa.Text),
    sa.Column("center_lat", sa.Float),
    sa.Column("center_lon", sa.Float),
    sa.Column("name", sa.Text),  # readable: the street's name and a number ("Harlem 3")
    sa.Column("name_en", sa.Text),
)
sa.Index("ix_grid_cells_street", grid_cells.c.street_code)

# What the city calls its levels (new-city or `citywall level-names`); v_level_names fills the
# defaults (市/区/街道/网格, city/district/street/grid cell) for a level without a row.
LEVELS = ("city", "district", "street", "cell")
level_names = sa.Table(
    "level_names",
    metadata,
    sa.Column("level", sa.String(16), primary_key=True),  # city | district | street | cell (the grid)
    sa.Column("name", sa.Text, nullable=False),  # local language (zh), singular
    sa.Column("name_plural", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text, nullable=False),
    sa.Column("name_en_plural", sa.Text, nullable=False),
    sa.CheckConstraint("level IN ('city','district','street','cell')", name="ck_level_names_level"),
)

indicators = sa.Table(
    "indicators",
    metadata,
    sa.Column("indicator_id", sa.String(64), primary_key=True),
    sa.Column("dimension", sa.String(32), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text),
    # The short names a wall tile shows (readable from five metres); NULL: the name.
    sa.Column("wall_name", sa.Text),
    sa.Column("wall_name_en", sa.Text),
    sa.Column("unit", sa.String(32), nullable=False, server_default=""),  # in the city's language (zh)
    sa.Column("unit_en", sa.String(32)),  # NULL: unit
    sa.Column("level", sa.String(16), nullable=False),  # city | district
    sa.Column("period_s", sa.Integer, nullable=False),
    sa.Column("warn_low", sa.Float),
    sa.Column("warn_high", sa.Float),
    sa.Column("alarm_low", sa.Float),
    sa.Column("alarm_high", sa.Float),
    sa.Column("higher_is_better", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("on_wall", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("sort_order", sa.Integer, nullable=False, server_default="0"),
    sa.Column("decimals", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("period_s > 0", name="ck_indicators_period"),
)

# Thresholds of one area's series where they differ from the catalogue's (a district's power load
# is a share of the city's: the city's bounds would never trip). NULL columns inherit.
indicator_thresholds = sa.Table(
    "indicator_thresholds",
    metadata,
    sa.Column("indicator_id", sa.String(64), primary_key=True),
    sa.Column("area_code", sa.String(32), primary_key=True),
    sa.Column("warn_low", sa.Float),
    sa.Column("warn_high", sa.Float),
    sa.Column("alarm_low", sa.Float),
    sa.Column("alarm_high", sa.Float),
)

readings = sa.Table(
    "readings",
    metadata,
    sa.Column("indicator_id", sa.String(64), sa.ForeignKey("indicators.indicator_id"), primary_key=True),
    sa.Column("area_code", sa.String(32), sa.ForeignKey("areas.area_code"), primary_key=True),
    sa.Column("ts", UtcDateTime, primary_key=True),
    sa.Column("value", sa.Float),  # NULL: the sensor reported but had no value
)
sa.Index("ix_readings_ts", readings.c.ts)

# One row per indicator x area, kept current by a trigger on readings (views/*trigger*.sql),
# so v_vitals_latest never scans the history.
readings_latest = sa.Table(
    "readings_latest",
    metadata,
    sa.Column("indicator_id", sa.String(64), primary_key=True),
    sa.Column("area_code", sa.String(32), primary_key=True),
    sa.Column("ts", UtcDateTime, nullable=False),
    sa.Column("value", sa.Float),
)

# Roll-ups of readings (kept by the feeder's roll-up step, feeder/rollups.py): one row per
# indicator x area x finished minute / hour. ``value`` is the mean of the non-NULL readings (NULL
# when every reading was NULL), ``n`` how many non-NULL readings it averages (so hours, or any
# coarser bucket, are exact weighted means: sum(value * n) / sum(n)).
readings_minute = sa.Table(
    "readings_minute",
    metadata,
    sa.Column("indicator_id", sa.String(64), primary_key=True),
    sa.Column("area_code", sa.String(32), primary_key=True),
    sa.Column("minute", UtcDateTime, primary_key=True),  # start of the minute
    sa.Column("value", sa.Float),
    sa.Column("n", sa.Integer, nullable=False, server_default="0"),
)
# Retention deletes by time: an index on the time on SQLite only. On PostgreSQL any index on the
# time alone (btree or BRIN) tempts the planner into reading every series' recent minutes instead
# of the primary key's per-series ranges (measured: 24 h of all 8,052 series for the wall's
# "in alarm since"); there the retention delete scans the table every 10 minutes instead.
sa.Index("ix_readings_minute_time", readings_minute.c.minute).ddl_if(dialect="sqlite")

readings_hourly = sa.Table(
    "readings_hourly",
    metadata,
    sa.Column("indicator_id", sa.String(64), primary_key=True),
    sa.Column("area_code", sa.String(32), primary_key=True),
    sa.Column("hour", UtcDateTime, primary_key=True),  # start of the hour
    sa.Column("value", sa.Float),
    sa.Column("n", sa.Integer, nullable=False, server_default="0"),
)
sa.Index("ix_readings_hourly_time", readings_hourly.c.hour).ddl_if(dialect="sqlite")

# How far each roll-up is complete: every bucket starting before ``rolled_until`` is in its table;
# the views read newer buckets from raw readings (rollup: 'minute' | 'hour'). No row: nothing
# rolled yet, the views aggregate raw readings alone (a database written by someone else's ETL).
rollup_watermarks = sa.Table(
    "rollup_watermarks",
    metadata,
    sa.Column("rollup", sa.String(16), primary_key=True),
    sa.Column("rolled_until", UtcDateTime, nullable=False),
)

# --- incident count roll-ups (issue 16) -------------------------------------------------------------
# Optional: kept by triggers on ``incidents`` (data_access/incident_rollups.py writes them, and the
# statements every table moves by), so every writer (the feeder, the importers) keeps them current;
# complete only while rollup_watermarks holds the row 'incidents' (incident_rollups.rebuild writes
# it). Without that row the views count the incidents themselves. '' stands for a NULL district /
# street (keys cannot be NULL).
BLANK_FOR_NULL = ("district_code", "street_code")
_ROLLUP_KEY_TYPES = {"district_code": sa.String(32), "street_code": sa.String(32), "category": sa.String(64),
                     "source": sa.String(32), "priority": sa.Integer(), "cell_id": sa.String(32),
                     "area_code": sa.String(32), "hour": UtcDateTime, "day": UtcDateTime}


def _rollup_table(name: str, keys: tuple[str, ...], counts: tuple[str, ...]) -> sa.Table:
    """One roll-up table: its keys are the primary key, its counts integers that start at 0."""
    return sa.Table(name, metadata,
                    *[sa.Column(k, _ROLLUP_KEY_TYPES[k], primary_key=True) for k in keys],
                    *[sa.Column(c, sa.Integer, nullable=False, server_default="0") for c in counts])


# Open incidents per key: n_overdue counts those due before the watermark's rolled_until (the feeder
# moves it every tick; the views count the open incidents due between it and now from the incidents).
_OPEN = ("n_open", "n_overdue")
# per (district, street, category, channel, priority)
incident_open_counts = _rollup_table("incident_open_counts",
                                     ("district_code", "street_code", "category", "source", "priority"), _OPEN)
# per grid cell and priority (the map's cells; max_priority = the top priority held)
incident_open_cells = _rollup_table("incident_open_cells", ("cell_id", "priority"), _OPEN)
# Reports and closures per area and UTC hour / day (reported_at's, closed_at's): area_code '*' is the
# whole city, else a district or a street; source '' every channel, else one channel (city and
# districts only). n_closed_on_time: closed no later than due (resolved_at, or closed_at without it).
# The 30 days' figures read whole days from the days and the partial days at both ends from the hours.
_EVENTS = ("n_reported", "n_closed", "n_closed_on_time")
incident_hour_counts = _rollup_table("incident_hour_counts", ("area_code", "source", "hour"), _EVENTS)
incident_day_counts = _rollup_table("incident_day_counts", ("area_code", "source", "day"), _EVENTS)
INCIDENT_OPEN_ROLLUPS = (incident_open_counts, incident_open_cells)
INCIDENT_BUCKET_ROLLUPS = ((incident_hour_counts, "HOUR"), (incident_day_counts, "DAY"))  # the bucket's macro
INCIDENT_ROLLUP_TABLES = (*INCIDENT_OPEN_ROLLUPS, *(t for t, _ in INCIDENT_BUCKET_ROLLUPS))

incident_categories = sa.Table(
    "incident_categories",
    metadata,
    sa.Column("subcategory", sa.String(64), primary_key=True),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text),
    sa.Column("category_name", sa.Text, nullable=False),
    sa.Column("category_name_en", sa.Text),
    sa.Column("sla_hours", sa.Float, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False, server_default="1"),
    sa.Column("sort_order", sa.Integer, nullable=False, server_default="0"),
)

INCIDENT_STATUSES = ("reported", "dispatched", "in_progress", "resolved", "closed")

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("incident_id", sa.String(64), primary_key=True),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("subcategory", sa.String(64)),
    sa.Column("source", sa.String(32), nullable=False, server_default="patrol"),
    sa.Column("priority", sa.Integer, nullable=False, server_default="1"),  # 1 routine .. 3 urgent
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("title", sa.Text),
    sa.Column("address", sa.Text),
    sa.Column("lat", sa.Float),
    sa.Column("lon", sa.Float),
    sa.Column("cell_id", sa.String(32)),
    sa.Column("street_code", sa.String(32)),
    sa.Column("district_code", sa.String(32)),
    sa.Column("reported_at", UtcDateTime, nullable=False),
    sa.Column("dispatched_at", UtcDateTime),
    sa.Column("started_at", UtcDateTime),
    sa.Column("resolved_at", UtcDateTime),
    sa.Column("closed_at", UtcDateTime),
    sa.Column("due_at", UtcDateTime),
    sa.Column("reopened", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint(
        "status IN ('reported','dispatched','in_progress','resolved','closed')", name="ck_incidents_status"
    ),
)
# Open incidents are a small slice of the table: partial indexes keep the map's aggregation on it.
sa.Index("ix_incidents_open_cell", incidents.c.cell_id, sqlite_where=incidents.c.closed_at.is_(None),
         postgresql_where=incidents.c.closed_at.is_(None))
sa.Index("ix_incidents_open_street", incidents.c.street_code, incidents.c.due_at,
         sqlite_where=incidents.c.closed_at.is_(None), postgresql_where=incidents.c.closed_at.is_(None))
sa.Index("ix_incidents_reported", incidents.c.reported_at)
sa.Index("ix_incidents_closed", incidents.c.closed_at)


# --- situations (issue 13) -------------------------------------------------------------------------
# The scenario catalogue (应用场景): written by `citywall load-scenarios` / load-city-pack
# (importers/scenarios.py), read through v_scenarios and its companion views (40-44).
AREA_LEVELS = ("city", "district", "street")
ACTIVATION_KINDS = ("indicators", "incidents", "manual")
STEP_ROLES = ("supervisor", "leader", "admin")
RESOURCE_STATUSES = ("idle", "en_route", "on_site", "off_duty")
ACTION_KINDS = ("ack_takeover", "step", "manual_start", "manual_end")
STEP_STATES = ("done", "skipped")

scenarios = sa.Table(
    "scenarios",
    metadata,
    sa.Column("scenario_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text),
    sa.Column("description", sa.Text),
    sa.Column("description_en", sa.Text),
    sa.Column("area_level", sa.String(16), nullable=False),  # the level its state is evaluated at
    sa.Column("activation_kind", sa.String(16), nullable=False),  # indicators | incidents | manual
    # indicators rule: a triggering indicator of the area at this status or worse for activation_minutes
    sa.Column("activation_status", sa.String(8)),
    sa.Column("activation_minutes", sa.Integer),
    # incidents rule: activation_incidents of its categories reported in the area within the window
    sa.Column("activation_incidents", sa.Integer),
    sa.Column("activation_window_minutes", sa.Integer),
    # end rule: triggering indicators all normal for end_normal_minutes, and fewer than
    # end_incidents_below of its categories' incidents reported in the window
    sa.Column("end_normal_minutes", sa.Integer),
    sa.Column("end_incidents_below", sa.Integer),
    sa.Column("sort_order", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("area_level IN ('city','district','street')", name="ck_scenarios_area_level"),
    sa.CheckConstraint("activation_kind IN ('indicators','incidents','manual')", name="ck_scenarios_kind"),
    sa.CheckConstraint("activation_status IS NULL OR activation_status IN ('alarm','warn')",
                       name="ck_scenarios_status"),
)

scenario_indicators = sa.Table(
    "scenario_indicators",
    metadata,
    sa.Column("scenario_id", sa.String(64), sa.ForeignKey("scenarios.scenario_id"), primary_key=True),
    sa.Column("indicator_id", sa.String(64), primary_key=True),
    sa.Column("triggers", sa.Boolean, nullable=False, server_default=sa.true()),  # False: on the board only
    sa.Column("sort_order", sa.Integer, nullable=False, server_default="0"),
)

scenario_categories = sa.Table(
    "scenario_categories",
    metadata,
    sa.Column("scenario_id", sa.String(64), sa.ForeignKey("scenarios.scenario_id"), nullable=False),
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("subcategory", sa.String(64)),  # NULL: the whole category
    sa.UniqueConstraint("scenario_id", "category", "subcategory", name="uq_scenario_categories"),
)

scenario_resource_types = sa.Table(
    "scenario_resource_types",
    metadata,
    sa.Column("scenario_id", sa.String(64), sa.ForeignKey("scenarios.scenario_id"), primary_key=True),
    sa.Column("resource_type", sa.String(32), primary_key=True),
)

scenario_steps = sa.Table(
    "scenario_steps",
    metadata,
    sa.Column("scenario_id", sa.String(64), sa.ForeignKey("scenarios.scenario_id"), primary_key=True),
    sa.Column("step_id", sa.String(64), primary_key=True),
    sa.Column("sort_order", sa.Integer, nullable=False, server_default="0"),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("text_en", sa.Text),
    sa.Column("role", sa.String(16), nullable=False),  # the least role that may mark it
    sa.CheckConstraint("role IN ('supervisor','leader','admin')", name="ck_scenario_steps_role"),
)

# Field resources (demo tables, filled and moved by the feeder; read through v_resources).
resource_types = sa.Table(
    "resource_types",
    metadata,
    sa.Column("resource_type", sa.String(32), primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text),
    sa.Column("sort_order", sa.Integer, nullable=False, server_default="0"),
)

resources = sa.Table(
    "resources",
    metadata,
    sa.Column("resource_id", sa.String(64), primary_key=True),
    sa.Column("resource_type", sa.String(32), nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("name_en", sa.Text),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("lat", sa.Float),  # NULL: no position
    sa.Column("lon", sa.Float),
    sa.Column("area_code", sa.String(32)),  # district or street
    sa.Column("updated_at", UtcDateTime),
    sa.Column("period_s", sa.Integer, nullable=False, server_default="60"),
    sa.Column("assigned_incident_id", sa.String(64)),
    sa.CheckConstraint("status IN ('idle','en_route','on_site','off_duty')", name="ck_resources_status"),
)
sa.Index("ix_resources_area", resources.c.area_code)

# The audit of operator actions: the only table the app itself writes (actions/, issue 13 item 6).
operator_actions = sa.Table(
    "operator_actions",
    metadata,
    sa.Column("action_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("principal", sa.Text, nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("screen", sa.Text, nullable=False),  # page path + screen name
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("scenario_id", sa.String(64), nullable=False),
    sa.Column("area_code", sa.String(32), nullable=False),
    sa.Column("scope_code", sa.String(32)),  # the wall's area, for an acknowledgement
    sa.Column("step_id", sa.String(64)),
    sa.Column("step_state", sa.String(8)),
    sa.Column("comment", sa.Text),
    sa.Column("activation_since", UtcDateTime),
    sa.Column("request_id", sa.String(64), nullable=False, unique=True),  # replay protection
    sa.CheckConstraint("kind IN ('ack_takeover','step','manual_start','manual_end')", name="ck_actions_kind"),
    sa.CheckConstraint("step_state IS NULL OR step_state IN ('done','skipped')", name="ck_actions_step_state"),
)
sa.Index("ix_operator_actions_at", operator_actions.c.at)
