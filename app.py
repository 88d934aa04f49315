"""CityWall: ``python app.py`` runs the whole demo; ``gunicorn app:server`` serves the app.

The Dash app is built on first use of ``app``/``server`` (or by ``create_app``), so importing
this module reads no file and opens no connection.
"""
from __future__ import annotations

import sys

import dash
from dash import html

from components.status_bar import register_status_bar_callbacks
from data_access.db import city_settings, engine_from_settings
from data_access.settings import PROJECT_ROOT, Settings, SettingsError, load_settings
from pages._callbacks import register_shared_callbacks
from pages._push import install_push
from pages._push_map import install_push_map
from pages._runtime import attach_runtime
from security import install_security


def create_app(settings: Settings | None = None) -> dash.Dash:
    settings = settings or load_settings()
    if not settings.city_timezone:  # gunicorn's path: the zone `citywall new-city` recorded is the default
        probe = engine_from_settings(settings)
        try:
            settings = city_settings(settings, probe)
        finally:
            probe.dispose()
    app = dash.Dash(
        __name__, use_pages=True, pages_folder=str(PROJECT_ROOT / "pages"), title="CityWall",
        update_title=None, suppress_callback_exceptions=True,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    runtime = attach_runtime(app.server, settings)
    # auth, scopes, payload checks, headers; refuses unsafe settings
    install_security(app, settings, lineage=runtime.lineage)
    install_push(app, runtime)  # the wall's push stream (issue 16): after the gate, which runs first
    install_push_map(app, runtime)  # the maps' counts: on the wall's stream, and the other maps' own
    register_status_bar_callbacks(app)
    register_shared_callbacks()
    app.layout = html.Div(dash.page_container, className="shell")
    return app


def __getattr__(name: str) -> object:
    # gunicorn's "app:server" and tools asking for "app" build the app once, on demand.
    if name in ("app", "server"):
        try:
            built = globals().setdefault("app", create_app())
        except SettingsError as exc:  # e.g. auth on with the default secret key: one line, exit 2
            print(f"citywall: {exc}", file=sys.stderr)
            raise SystemExit(2) from None
        globals()["server"] = built.server
        return globals()[name]
    raise AttributeError(name)


if __name__ == "__main__":
    from feeder.demo import run_demo

    raise SystemExit(run_demo(create_app))
