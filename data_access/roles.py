"""The PostgreSQL roles of a read-only deployment: the read-only role the app should run as (it
may only SELECT the ``v_*`` views), and the narrow action role its actions engine writes through
(it may only INSERT into ``operator_actions`` and SELECT ``v_operator_actions``).

PostgreSQL checks a view's base tables with the rights of the view's OWNER, so SELECT on the
views is all the role needs; it gets nothing on the base tables (explicitly revoked), cannot
create objects, and its sessions default to read-only transactions. The same statements, as
plain SQL for a DBA, are in docs/security.md.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class RoleReport:
    role: str
    schema: str
    views: list[str]
    readable_tables: list[str]  # base tables the role can still read (through PUBLIC grants): should be []

    def __str__(self) -> str:
        line = (f"role {self.role}: SELECT on {len(self.views)} views in schema {self.schema}; "
                "read-only sessions; no rights on base tables")
        if self.readable_tables:
            line += f"; WARNING: still readable through PUBLIC: {', '.join(self.readable_tables)}"
        return line


def create_readonly_role(engine: Engine, *, name: str, password: str | None = None) -> RoleReport:
    """Create (or bring up to date) a LOGIN role that may only SELECT the v_* views of the current
    schema. Idempotent: run it again after adding views. Needs a superuser or CREATEROLE connection."""
    if engine.dialect.name != "postgresql":
        raise ValueError("read-only roles are a PostgreSQL feature (SQLite has no roles)")
    if not _ROLE.match(name):
        raise ValueError(f"role name {name!r}: lower-case letters, digits and _ only")
    prep = engine.dialect.identifier_preparer
    role = prep.quote(name)
    with engine.begin() as conn:
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
        exists = conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :name"), {"name": name}).first()
        q_schema = _login_role_without_rights(conn, name=name, create=not exists, password=password, schema=schema,
                                              database=database)
        views = [r[0] for r in conn.execute(sa.text(
            "SELECT table_name FROM information_schema.views WHERE table_schema = :schema"
            " AND table_name LIKE 'v\\_%' ORDER BY table_name"), {"schema": schema})]
        for view in views:
            conn.exec_driver_sql(f"GRANT SELECT ON {q_schema}.{prep.quote(view)} TO {role}")
        conn.exec_driver_sql(f"ALTER ROLE {role} SET default_transaction_read_only = on")
        readable = [r[0] for r in conn.execute(sa.text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = :schema AND c.relkind IN ('r', 'p')"
            " AND has_table_privilege(:role, c.oid, 'SELECT') ORDER BY c.relname"),
            {"schema": schema, "role": name})]
    return RoleReport(role=name, schema=schema, views=views, readable_tables=readable)


ACTIONS_TABLE = "operator_actions"
ACTIONS_VIEW = "v_operator_actions"


@dataclass(frozen=True)
class ActionRoleReport:
    role: str
    schema: str
    sequence: str
    # what the role can still do beyond INSERT on operator_actions and SELECT on v_operator_actions
    # (through PUBLIC grants or earlier grants of its own): should be []
    extra_rights: list[str]

    def __str__(self) -> str:
        line = (f"role {self.role}: INSERT on {self.schema}.{ACTIONS_TABLE} (and USAGE on its sequence "
                f"{self.sequence}), SELECT on {self.schema}.{ACTIONS_VIEW}; nothing else")
        if self.extra_rights:
            line += f"; WARNING: it can still {', '.join(self.extra_rights)}"
        return line


def create_action_role(engine: Engine, *, name: str, password: str | None = None) -> ActionRoleReport:
    """Create (or bring up to date) a LOGIN role that may only INSERT into operator_actions (with
    USAGE on its id sequence) and SELECT v_operator_actions, in the current schema: what the app's
    actions engine (CITYWALL_ACTIONS_DATABASE_URL) runs as in a read-only deployment. Idempotent.
    The same statements, as plain SQL for a DBA, are in docs/security.md."""
    if engine.dialect.name != "postgresql":
        raise ValueError("SQLite has no roles: on SQLite the app writes operator actions to its one database "
                         "file (CITYWALL_ACTIONS_DATABASE_URL defaults to it); action roles are a PostgreSQL feature")
    if not _ROLE.match(name):
        raise ValueError(f"role name {name!r}: lower-case letters, digits and _ only")
    prep = engine.dialect.identifier_preparer
    role = prep.quote(name)
    with engine.begin() as conn:
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
        if not sa.inspect(conn).has_table(ACTIONS_TABLE, schema=schema):
            raise ValueError(f"no table {schema}.{ACTIONS_TABLE}: run `citywall init-db` first")
        sequence = conn.execute(sa.text("SELECT pg_get_serial_sequence(:table, 'action_id')"),
                                {"table": f"{prep.quote(schema)}.{ACTIONS_TABLE}"}).scalar_one()
        existing = conn.execute(sa.text("SELECT rolconfig FROM pg_roles WHERE rolname = :name"),
                                {"name": name}).first()
        if existing is not None and "default_transaction_read_only=on" in (existing[0] or []):
            raise ValueError(f"role {name} is a read-only role (create-readonly-role): pick another name for "
                             "the action role")
        q_schema = _login_role_without_rights(conn, name=name, create=existing is None, password=password,
                                              schema=schema, database=database)
        conn.exec_driver_sql(f"GRANT INSERT ON {q_schema}.{ACTIONS_TABLE} TO {role}")
        if sequence:
            conn.exec_driver_sql(f"GRANT USAGE ON SEQUENCE {sequence} TO {role}")
        conn.exec_driver_sql(f"GRANT SELECT ON {q_schema}.{ACTIONS_VIEW} TO {role}")
        extra = [f"{r.privilege} {r.relname}" for r in conn.execute(sa.text(
            "SELECT c.relname, p.privilege FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) AS p(privilege)"
            " WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v')"
            " AND has_table_privilege(:role, c.oid, p.privilege)"
            " AND NOT (c.relname = :table AND p.privilege = 'INSERT')"
            " AND NOT (c.relname = :view AND p.privilege = 'SELECT')"
            " ORDER BY c.relname, p.privilege"),
            {"schema": schema, "role": name, "table": ACTIONS_TABLE, "view": ACTIONS_VIEW})]
    return ActionRoleReport(role=name, schema=schema, sequence=sequence or "", extra_rights=extra)


def _login_role_without_rights(conn: sa.Connection, *, name: str, create: bool, password: str | None,
                               schema: str, database: str) -> str:
    """The start of every role CityWall makes: a login role (created when ``create``) that may connect
    and see the schema, with its password set when given, and every right on the schema's tables and
    sequences revoked (the caller grants what the role is for). Returns the quoted schema."""
    prep = conn.dialect.identifier_preparer
    role = prep.quote(name)
    if create:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT")
    if password:
        # Utility statements take no bound parameters: psycopg quotes the literal client-side.
        from psycopg import sql

        raw = conn.connection.dbapi_connection
        with raw.cursor() as cur:
            cur.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(name), sql.Literal(password)))
    q_schema = prep.quote(schema)
    conn.exec_driver_sql(f"GRANT CONNECT ON DATABASE {prep.quote(database)} TO {role}")
    conn.exec_driver_sql(f"GRANT USAGE ON SCHEMA {q_schema} TO {role}")
    conn.exec_driver_sql(f"REVOKE CREATE ON SCHEMA {q_schema} FROM {role}")
    conn.exec_driver_sql(f"REVOKE ALL ON ALL TABLES IN SCHEMA {q_schema} FROM {role}")
    conn.exec_driver_sql(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {q_schema} FROM {role}")
    return q_schema
