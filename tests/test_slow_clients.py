"""``python app.py`` serves through a production server that slow clients cannot stall (issue 12,
item 11; issue 16, item 2): the real command in its own process, real sockets, no mocks.

Fifty slow connections (bench/slow_clients.py's mix: headers and a POST body trickled a byte every
half second, a partial request line then silence, pipelined requests for a large script never
read) outnumber the server's 8 threads six to one; while every one of them is still open, another
client's page load and wall refresh (the real ``/_dash-update-component`` payload a wall sends)
answer within 2 s. The same start-up keeps its feeder thread, stops cleanly on SIGTERM, and
``CITYWALL_DEBUG=1`` still runs Flask's development server.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.slow_clients import SlowClients, big_asset, probe
from bench.wall_client import PageSpec
from data_access.db import make_engine
from tests.conftest import PROJECT_ROOT, free_port

SLOW = 50
BUDGET_S = 2.0
HOST = "127.0.0.1"


class DemoProcess:
    """``python app.py`` (or another entry, e.g. ``cli.py run``) exactly as a user runs it, on a fresh
    SQLite database."""

    def __init__(self, db: Path, *command: str, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.db_url = f"sqlite:///{db}"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYWALL_")}
        self.log = db.with_suffix(".log")  # a file, not a pipe: a full pipe would stall the server's logging
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, *(command or ("app.py",))], cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
            stderr=self._log_file,
            env={**clean, "CITYWALL_DATABASE_URL": self.db_url, "CITYWALL_PORT": str(self.port),
                 "CITYWALL_BACKFILL_DAYS": "0", **env})
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"python app.py exited: {self.stderr()[-2000:]}")
            if probe(HOST, self.port, "GET", "/_dash-layout", timeout=2)[1] == 200:
                return
            time.sleep(0.3)
        self.stop()
        raise RuntimeError("python app.py did not answer within 90 s")

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def server_header(self) -> str:
        import urllib.request

        with urllib.request.urlopen(self.url + "/_dash-layout", timeout=10) as reply:
            return reply.headers.get("Server", "")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log_file.close()
        return self.process.returncode


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoProcess]:
    proc = DemoProcess(tmp_path_factory.mktemp("slow") / "demo.db")  # the feeder thread on, as by default
    yield proc
    proc.stop()


def _readings(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT COUNT(*) FROM readings")).scalar_one()
    finally:
        engine.dispose()


def test_python_app_py_serves_through_waitress_with_its_feeder_thread(demo: DemoProcess) -> None:
    assert demo.server_header() == "CityWall"  # waitress's ident; Flask's development server says Werkzeug/…
    first = _readings(demo.db_url)
    deadline = time.monotonic() + 20
    while _readings(demo.db_url) <= first and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _readings(demo.db_url) > first, "the feeder thread wrote nothing while the server ran"


def test_page_and_wall_refresh_answer_while_50_slow_clients_hold_connections(demo: DemoProcess) -> None:
    spec = PageSpec.read(demo.url)
    wall = json.dumps(spec.wall_payload(1, {})).encode()
    wall_outputs = {part.rsplit(".", 1)[0] for part in spec.wall_output.strip(".").split("...")}
    for _ in range(2):  # warm: the first page and the first wall reply of this process
        probe(HOST, demo.port, "GET", "/")
        probe(HOST, demo.port, "POST", "/_dash-update-component", wall)

    clients = SlowClients(HOST, demo.port, SLOW, big_path=big_asset(demo.url))
    try:
        time.sleep(1.5)  # every slow connection is at the server and being trickled
        assert clients.still_open() == SLOW
        timings: list[tuple[str, float, int | None]] = []
        for _ in range(5):
            took, status, page = probe(HOST, demo.port, "GET", "/", timeout=10)
            timings.append(("page", took, status))
            assert status == 200 and b"_dash-config" in page, (status, page[:200])
            took, status, body = probe(HOST, demo.port, "POST", "/_dash-update-component", wall, timeout=10)
            timings.append(("wall refresh", took, status))
            assert status == 200, (status, body[:300])
            reply = json.loads(body)["response"]
            assert wall_outputs & set(reply), sorted(reply)  # a real wall reply, not an empty 204
        open_after = clients.still_open()
        failures = clients.send_failures
    finally:
        clients.close()
    slow = [(what, round(took, 2)) for what, took, _ in timings if took > BUDGET_S]
    assert not slow, f"answers slower than {BUDGET_S} s with {SLOW} slow clients open: {slow}"
    assert open_after == SLOW and failures == 0, "the slow clients were dropped, so nothing held them open"


@pytest.mark.parametrize("command", [("app.py",), ("cli.py", "run")], ids=["python app.py", "citywall run"])
def test_both_entries_serve_through_waitress_and_stop_cleanly_on_sigterm(tmp_path: Path, command: tuple) -> None:
    proc = DemoProcess(tmp_path / "stop.db", *command, CITYWALL_FEEDER="0")
    try:
        assert proc.server_header() == "CityWall"
    finally:
        code = proc.stop()
    assert code == 0, proc.stderr()[-2000:]


def test_debug_mode_keeps_flasks_development_server(tmp_path: Path) -> None:
    proc = DemoProcess(tmp_path / "debug.db", CITYWALL_FEEDER="0", CITYWALL_DEBUG="1")
    try:
        assert proc.server_header().startswith("Werkzeug/")
    finally:
        proc.stop()
