"""The security subcommands of ``citywall`` (kept here so cli.py only wires them in):

    citywall db create-readonly-role --name citywall_ro [--password-stdin]
    citywall db create-action-role --name citywall_actions [--password-stdin]
    citywall user add NAME --role supervisor [--scope 310115] [--password-stdin | --no-password]
    citywall token create --name lobby-310115 --scope 310115 [--role wall]
    citywall token revoke lobby-310115
    citywall token list
"""
from __future__ import annotations

import argparse
import getpass
import json
import sys
from pathlib import Path
from urllib.parse import quote

from data_access.settings import Settings, SettingsError
from security.policy import ROLES

COMMANDS = ("db", "user", "token")


def add_commands(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="database administration (read-only role, action role)")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    role = db_sub.add_parser("create-readonly-role", help="a PostgreSQL role that may only SELECT the v_* views")
    role.add_argument("--name", default="citywall_ro", help="role name (default citywall_ro)")
    role.add_argument("--password-stdin", action="store_true", help="read the role's password from stdin")
    actions = db_sub.add_parser("create-action-role", help="a PostgreSQL role that may only INSERT operator actions"
                                " (and SELECT v_operator_actions): CITYWALL_ACTIONS_DATABASE_URL's")
    actions.add_argument("--name", default="citywall_actions", help="role name (default citywall_actions)")
    actions.add_argument("--password-stdin", action="store_true", help="read the role's password from stdin")

    files = argparse.ArgumentParser(add_help=False)
    files.add_argument("--users-file", type=Path, help="default: CITYWALL_USERS_FILE")
    user = sub.add_parser("user", help="users of CITYWALL_AUTH=basic|header")
    user_sub = user.add_subparsers(dest="user_command", required=True)
    add = user_sub.add_parser("add", parents=[files], help="add or replace a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--scope", help="area code the user may see (default: the whole city)")
    pw = add.add_mutually_exclusive_group()
    pw.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    pw.add_argument("--no-password", action="store_true", help="no password (header mode only)")

    token = sub.add_parser("token", help="kiosk tokens for walls")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", parents=[files], help="a new token bound to a scope (printed once)")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", help="area code (default: the whole city)")
    create.add_argument("--role", default="wall", choices=ROLES)
    create.add_argument("--replace", action="store_true",
                        help="issue a new token under a revoked token's name (its old walls stay locked out)")
    revoke = token_sub.add_parser("revoke", parents=[files], help="revoke a token: its walls are locked out")
    revoke.add_argument("name")
    token_sub.add_parser("list", parents=[files], help="tokens (names, scopes, state; never the tokens)")


def _password(args: argparse.Namespace) -> str | None:
    if getattr(args, "no_password", False):
        return None
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n") or None
    first = getpass.getpass("password: ")
    if first != getpass.getpass("again: "):
        raise SettingsError("the passwords differ")
    return first or None


def run_command(args: argparse.Namespace, settings: Settings) -> int:
    from security import store as security

    try:
        if args.command == "db":
            from data_access.db import check_database, make_engine
            from data_access.roles import create_action_role, create_readonly_role

            engine = make_engine(settings.database_url)
            check_database(engine)
            create = create_action_role if args.db_command == "create-action-role" else create_readonly_role
            password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
            print(create(engine, name=args.name, password=password or None))
            engine.dispose()
            return 0
        path = args.users_file or settings.users_file
        if args.command == "user":
            security.add_user(path, name=args.name, password=_password(args), role=args.role, scope=args.scope)
            print(f"{path}: user {args.name} ({args.role}, scope {args.scope or 'city'})")
            return 0
        if args.token_command == "create":
            token = security.create_token(path, name=args.name, scope=args.scope, role=args.role,
                                          replace=args.replace)
            print(token)
            wall = quote(f"/wall/{args.scope}?kiosk=1" if args.scope else "/?kiosk=1", safe="/")
            print(f"token {args.name} ({args.role}, scope {args.scope or 'city'}) stored hashed in {path}; "
                  f"open the wall as /_citywall/kiosk#token=<token>&next={wall}", file=sys.stderr)
            return 0
        if args.token_command == "revoke":
            if not security.revoke_token(path, name=args.name):
                print(f"citywall: no token named {args.name!r} in {path}", file=sys.stderr)
                return 2
            print(f"token {args.name} revoked")
            return 0
        store = security.UserStore(path).load()
        for record in store.tokens.values():
            print(json.dumps({"name": record.name, "role": record.role, "scope": record.scope,
                              "created": record.created, "revoked": record.revoked}, ensure_ascii=False))
        return 0
    except (SettingsError, ValueError, OSError) as exc:
        print(f"citywall: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # noqa: BLE001 - database errors: one line, no traceback
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        print(f"citywall: {type(exc).__name__}: {first[0] if first else ''}", file=sys.stderr)
        return 2
