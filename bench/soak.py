"""Soak: the app, the feeder and 200 wall screens for a set time; errors, p95 latency per minute and
the server processes' memory at start and end.

    python bench/soak.py [--quick] [--minutes N] [--screens 200] [--refresh 5] [--server gunicorn|dash]
                        [--database-url URL] [--tracemalloc DIR] [--tick-computer auto|on|off]
                        [--transport push|poll]

--quick runs 3 minutes, the default 30. A SQLite demo city is created in a temporary folder unless
--database-url names one. The app runs in its own process (gunicorn when installed, else Dash's
threaded server), the feeder as ``python -m feeder`` in another. ``--transport push`` (the app's
default, CITYWALL_TRANSPORT): every screen holds the wall's push stream open (bench/push.py's
screen, with its own fleet screen id as assets/push.js sends it, opened again when the server ends
it after STREAM_MAX_S); a minute's latency is each tick's delivery (its data ready on the server to
the screen holding it). ``--transport poll``: every screen POSTs the wall's real refresh callback
to /_dash-update-component once per tick on the browser's poll schedule (first polls out of phase),
keeping what the server told it (the tick it applied), like a browser; a minute's latency is the
request's. Screens are spread over the city wall and the district walls. Memory is the resident
set (VmRSS, /proc) of the server process and its children (each one's too: gunicorn's master and workers), and of the
feeder. Prints one line per minute; the last line is JSON.
Memory growth is reported after the first 5 minutes too (``server_growth_after_5_min_pct``, the
target: at most 10 %) when the soak runs longer. ``--tracemalloc DIR``: every gunicorn worker dumps a
tracemalloc snapshot a minute into DIR (bench/tracemalloc_conf.py); ``python bench/tracemalloc_diff.py
DIR`` then prints what grew.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.push import PUSH_PATH, push_screen  # noqa: E402
from bench.run import free_port  # noqa: E402
from bench.wall_client import PageSpec  # noqa: E402


def gunicorn_path() -> str | None:
    beside = Path(sys.executable).parent / "gunicorn"  # the venv's, even when it is not on PATH
    return str(beside) if beside.exists() else shutil.which("gunicorn")


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, MB (from /proc)."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


def processes_mb(pid: int) -> dict[str, float]:
    """Resident memory of the server process and of each of its children, MB (pid -> MB)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return {}
    out = {}
    for proc in procs:
        try:
            out[str(proc.pid)] = round(proc.memory_info().rss / 2**20, 1)
        except psutil.NoSuchProcess:
            continue
    return out


def start_processes(url: str, refresh: float, port: int, log_dir: Path, use_gunicorn: bool,
                    tracemalloc_dir: Path | None = None, tick_computer: str = "auto", transport: str = "push",
                    screens: int = 200) -> tuple[subprocess.Popen, subprocess.Popen]:
    env = {**os.environ, "CITYWALL_DATABASE_URL": url, "CITYWALL_REFRESH_S": str(refresh), "CITYWALL_FEEDER": "0",
           "CITYWALL_TICK_COMPUTER": tick_computer, "CITYWALL_TRANSPORT": transport}
    workers = max(2, os.cpu_count() or 2)
    threads = 16
    if transport == "push":  # each open stream holds a thread; connections do not spread evenly (bench/push.py)
        per_worker = math.ceil(screens / workers * 1.5) + 10
        env["CITYWALL_PUSH_STREAMS"] = str(per_worker)
        threads = per_worker + 16
    if tracemalloc_dir is not None:
        tracemalloc_dir.mkdir(parents=True, exist_ok=True)
        env["CITYWALL_TRACEMALLOC_DIR"] = str(tracemalloc_dir)
    feeder = subprocess.Popen([sys.executable, "-m", "feeder", "--backfill-days", "1", "--auto-rainstorm-after", "1"],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=open(log_dir / "feeder.log", "w"))  # noqa: SIM115
    deadline = time.monotonic() + 600
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    while time.monotonic() < deadline:  # the feeder creates, seeds and back-fills the city first
        try:
            with engine.connect() as conn:
                if conn.exec_driver_sql("SELECT COUNT(*) FROM readings_latest").scalar_one() > 0:
                    break
        except sa.exc.SQLAlchemyError:
            pass
        if feeder.poll() is not None:
            raise SystemExit(f"feeder exited: {(log_dir / 'feeder.log').read_text()[-2000:]}")
        time.sleep(1)
    engine.dispose()
    gunicorn = gunicorn_path() if use_gunicorn else None
    if gunicorn:
        argv = [gunicorn, "app:server", "-w", str(workers), "-k", "gthread", "--threads", str(threads),
                "-b", f"127.0.0.1:{port}"]
        if tracemalloc_dir is not None:
            argv += ["-c", str(ROOT / "bench" / "tracemalloc_conf.py")]
    else:
        argv = [sys.executable, "-c", f"from app import create_app; create_app().run(host='127.0.0.1', port={port})"]
    server = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,  # its own group: see main()
                              stderr=open(log_dir / "server.log", "w"), start_new_session=True)  # noqa: SIM115
    for _ in range(300):
        try:
            requests.get(f"http://127.0.0.1:{port}/_dash-layout", timeout=2)
            break
        except requests.RequestException:
            if server.poll() is not None:
                raise SystemExit(f"server exited: {(log_dir / 'server.log').read_text()[-2000:]}") from None
            time.sleep(0.2)
    return server, feeder


def soak(base: str, *, screens: int, refresh: float, seconds: float, server_pid: int, feeder_pid: int,
         transport: str = "push") -> dict:
    import sqlalchemy as sa  # the districts, from the views, to spread the screens as a city would

    engine = sa.create_engine(os.environ["SOAK_DB"])
    with engine.connect() as conn:
        districts = [r[0] for r in conn.exec_driver_sql("SELECT area_code FROM v_areas WHERE level = 'district'"
                                                       " ORDER BY sort_order, area_code")]
    engine.dispose()
    paths = ["/"] + [f"/wall/{d}" for d in districts]
    views = {p: PageSpec.read(base, p) for p in paths}
    minutes: dict[int, dict[str, list]] = {}
    lock = threading.Lock()
    stop = threading.Event()
    began = time.monotonic()
    memory_start = {"server_mb": rss_mb(server_pid), "feeder_mb": rss_mb(feeder_pid)}
    memory_by_minute: list[float] = []
    processes_by_minute: list[dict[str, float]] = []
    pushed = PushedScreens(base, views, paths, screens=screens, refresh=refresh, began=time.time(),
                           seconds=seconds) if transport == "push" else None

    def screen(index: int) -> None:
        session = requests.Session()
        view = views["/" if index % 5 < 2 else paths[1 + index % (len(paths) - 1)]]
        signatures: dict = {}
        schedule = view.schedule(index / screens)  # the browser's own poll schedule (citywall.js)
        n = 0
        stop.wait(refresh * index / screens)  # the first poll out of phase, as page loads are
        while not stop.is_set():
            n += 1
            due = schedule.sent_now(time.time())
            started = time.monotonic()
            minute = int((started - began) // 60)
            error = None
            try:
                reply = session.post(base + "/_dash-update-component", json=view.wall_payload(n, signatures),
                                     timeout=30)
                if reply.status_code != 200:
                    error = f"HTTP {reply.status_code}"
                else:
                    data = reply.json()["response"]
                    status = data.get("status-store", {}).get("data", {})
                    if not status.get("ok"):
                        error = "refresh not ok"
                    signatures = view.wall_kept(data, signatures)
                    due = schedule.after_reply(status, time.time(), due)
            except (requests.RequestException, ValueError, KeyError) as exc:
                error = type(exc).__name__
            elapsed_ms = (time.monotonic() - started) * 1000
            with lock:
                bucket = minutes.setdefault(minute, {"ms": [], "errors": []})
                bucket["ms"].append(elapsed_ms)
                if error:
                    bucket["errors"].append(error)
            stop.wait(max(0.0, due - time.time()))

    threads = [threading.Thread(target=screen, args=(i,), daemon=True) for i in range(screens)] if pushed is None \
        else [threading.Thread(target=pushed.run, daemon=True)]
    for thread in threads:
        thread.start()
    reported = 0
    while time.monotonic() - began < seconds:
        time.sleep(1)
        done = int((time.monotonic() - began) // 60)
        while reported < done:
            if pushed is not None:
                minutes[reported] = pushed.minute(reported)
            b = minutes.get(reported, {"ms": [], "errors": []})
            memory_by_minute.append(rss_mb(server_pid))
            processes_by_minute.append(processes_mb(server_pid))
            each = " ".join(f"{mb:g}" for mb in processes_by_minute[-1].values())
            print(f"minute {reported + 1:>3}: {len(b['ms']):>6} {'deliveries' if pushed else 'refreshes'}, "
                  f"p95 {_p95(b['ms'])} ms, errors {len(b['errors'])}, server {memory_by_minute[-1]} MB ({each}), "
                  f"feeder {rss_mb(feeder_pid)} MB, "
                  f"load {os.getloadavg()[0]:.2f}",
                  flush=True)
            reported += 1
    stop.set()
    for thread in threads:
        thread.join(timeout=35)
    memory_end = {"server_mb": rss_mb(server_pid), "feeder_mb": rss_mb(feeder_pid)}
    per_minute = [{"minute": m + 1, "requests": len(b["ms"]), "p95_ms": _p95(b["ms"]),
                   "median_ms": round(statistics.median(b["ms"]), 1) if b["ms"] else None,
                   "errors": len(b["errors"])} for m, b in sorted(minutes.items()) if m < seconds // 60]
    all_ms = [ms for b in minutes.values() for ms in b["ms"]]
    kinds: dict[str, int] = {}
    for b in minutes.values():
        for e in b["errors"]:
            kinds[e] = kinds.get(e, 0) + 1
    return {"screens": screens, "transport": transport,
            "latency": "tick delivery" if pushed is not None else "refresh request",
            "refresh_s": refresh, "minutes": round(seconds / 60, 1),
            "requests": len(all_ms), "errors": sum(kinds.values()), "error_kinds": kinds,
            "p95_ms_first_minute": per_minute[0]["p95_ms"] if per_minute else None,
            "p95_ms_last_minute": per_minute[-1]["p95_ms"] if per_minute else None,
            "p95_ms_overall": _p95(all_ms), "per_minute": per_minute,
            "memory_start": memory_start, "memory_end": memory_end, "server_mb_by_minute": memory_by_minute,
            "server_processes_mb_by_minute": processes_by_minute,
            "server_growth_after_5_min_pct": _growth(memory_by_minute[4:]),
            "server_growth_after_1_min_pct": _growth(memory_by_minute[0:])}


class PushedScreens:
    """``screens`` pushed screens (bench/push.py's ``push_screen``) in one asyncio loop, and what each
    minute delivered: each tick's arrival at each screen, from that tick's data ready on the server."""

    def __init__(self, base: str, views: dict, paths: list[str], *, screens: int, refresh: float, began: float,
                 seconds: float) -> None:
        self.host, port = base.split("//")[1].split(":")
        self.port = int(port)
        self.refresh, self.began, self.end_at = refresh, began, began + seconds
        self.urls = []
        for index in range(screens):
            view = views["/" if index % 5 < 2 else paths[1 + index % (len(paths) - 1)]]
            url = f"{PUSH_PATH}?area={view.scope.get('area_code')}&lang={view.scope.get('lang', 'zh')}"
            if view.fleet:  # a tab's own fleet screen id, kept across its reconnections (assets/fleet.js)
                url += "&screen=" + quote(json.dumps({**view.fleet, "id": uuid.uuid4().hex}))
            self.urls.append(url)
        self.held: list[dict[int, float]] = [{} for _ in range(screens)]
        self.errors = [0]
        self.ready: dict[int, tuple[int, int]] = {}
        self._errors_seen = 0

    def run(self) -> None:
        async def main() -> None:
            n = len(self.urls)
            await asyncio.gather(*(push_screen(self.host, self.port, url, self.began + self.refresh * i / n,
                                               self.end_at, self.held[i], self.errors, self.ready, reconnect=True)
                                   for i, url in enumerate(self.urls)))

        asyncio.run(main())

    def minute(self, m: int) -> dict[str, list]:
        """Minute ``m``'s deliveries (ms) and the streams that failed since the last call."""
        ms = []
        for held in self.held:
            # A tick arriving after a newer one (a stream opened again on the worker that is behind) is
            # no delivery. copy(): the loop's thread adds to it.
            newer_at = math.inf
            for tick, at in sorted(held.copy().items(), reverse=True):
                window = self.ready.get(tick)
                if window is not None and at <= newer_at and int((at - self.began) // 60) == m:
                    ms.append((at - (tick * self.refresh + window[0] / 1000)) * 1000)
                newer_at = min(newer_at, at)
        errors, self._errors_seen = self.errors[0] - self._errors_seen, self.errors[0]
        return {"ms": ms, "errors": ["stream"] * errors}


def _growth(values: list[float]) -> float | None:
    """Growth from the first to the last value, percent (None: fewer than two)."""
    if len(values) < 2 or not values[0]:
        return None
    return round((values[-1] - values[0]) / values[0] * 100, 1)


def _p95(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[int(0.95 * (len(ordered) - 1))], 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 minutes")
    parser.add_argument("--minutes", type=float, help="how long (default 30; 3 with --quick)")
    parser.add_argument("--screens", type=int, default=200)
    parser.add_argument("--refresh", type=float, default=5.0)
    parser.add_argument("--database-url", help="an existing city database (default: a new SQLite demo city)")
    parser.add_argument("--server", choices=("gunicorn", "dash"), default="gunicorn" if gunicorn_path() else "dash",
                        help="gunicorn (workers = CPUs, gthread) when installed, else Dash's threaded server")
    parser.add_argument("--tracemalloc", type=Path, help="gunicorn workers dump a tracemalloc snapshot a minute here")
    parser.add_argument("--transport", choices=("push", "poll"), default="push",
                        help="CITYWALL_TRANSPORT for the app and how the screens get each tick")
    parser.add_argument("--tick-computer", choices=("auto", "on", "off"), default="auto",
                        help="CITYWALL_TICK_COMPUTER for the app (auto: on with SQLite)")
    args = parser.parse_args()
    minutes = args.minutes or (3 if args.quick else 30)
    with tempfile.TemporaryDirectory(prefix="citywall-soak-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'soak.db'}"
        os.environ["SOAK_DB"] = url
        port = free_port()
        print(f"soak: {args.screens} {args.transport} screens, {minutes:g} min, refresh {args.refresh:g} s, "
              f"database {url}", flush=True)
        server, feeder = start_processes(url, args.refresh, port, Path(tmp), args.server == "gunicorn",
                                         tracemalloc_dir=args.tracemalloc, tick_computer=args.tick_computer,
                                         transport=args.transport, screens=args.screens)
        try:
            result = soak(f"http://127.0.0.1:{port}", screens=args.screens, refresh=args.refresh,
                          seconds=minutes * 60, server_pid=server.pid, feeder_pid=feeder.pid,
                          transport=args.transport)
            result["server"] = "gunicorn gthread" if args.server == "gunicorn" else "dash (threaded werkzeug)"
            result["tick_computer"] = args.tick_computer
            result["load_avg_1m"] = round(os.getloadavg()[0], 2)
            result["server_alive"] = server.poll() is None
            result["feeder_alive"] = feeder.poll() is None
        finally:
            for proc in (server, feeder):
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    try:
                        proc.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
            try:  # gunicorn's workers too: a worker still finishing requests outlives its master
                os.killpg(server.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
    print(json.dumps(result))
    return 0 if result["errors"] == 0 and result["server_alive"] and result["feeder_alive"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
