"""Dash's WebSocket callbacks against CityWall's server-sent events, in one run (issue 16, item 1).

    python bench/ws_vs_sse.py [--screens 100,300,1000] [--refresh 1] [--ticks 15] [--outage-s 5]
                              [--browser-outage-s 200] [--skip-browser]

**SSE**: the real app and its real push hub (pages/_push.py) under gunicorn, as bench/push.py serves
it (its ``Server``, its screens and its ``run_phase``); each tick's wall delta (about 2.9 KB).
**WS**: a minimal Dash app on the FastAPI backend (uvicorn, as many workers as gunicorn has) whose
one persistent WebSocket callback (no Output, no Input, ``persistent=True``: Dash ≥ 4.2) waits for
each tick of a shared in-process ticker and sends a payload of the same size with ``set_props``.
The WS app computes nothing per tick (a fixed payload): every difference in its favour is free.

Each WS screen speaks Dash's own protocol, as the renderer's SharedWorker (dash-ws-worker.js)
does: ``callback_request`` for the persistent callback (its id from /_dash-dependencies), then
``set_props`` messages (single or batched in a JSON array); after a close it reconnects the way
that worker does (1 s doubling to 30 s, with up to 1 s jitter, at most 10 attempts, then it gives
up) and asks for the persistent callback again, as the renderer does on reconnect.

Phases: (1) N screens of each transport: fan-out p50/p95 (from the tick's payload built on the
server to the last screen holding it), coverage, errors, server CPU and memory, the generator's
CPU share; (2) restart: N screens connected, the server killed and started again after
``--outage-s``: how many screens get ticks again and how soon; (3) in Chromium: the real renderer
against the WS app (the inactivity reaper: the server pauses longer than the renderer's inactivity
timeout; then an outage of ``--browser-outage-s``) and the real wall against the real app (same
outage). The last line is JSON with the ratios WS/SSE.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import requests  # noqa: E402

from bench.push import PUSH_PATH, Server, log, push_screen, run_phase  # noqa: E402
from bench.run import DEFAULT_PG, PYTHON, chrome, new_database, pct, seed_demo, wait_js  # noqa: E402

WS_PATH = "/_dash-ws-callback"
TICK_RE = re.compile(r'"tick":\s*(\d+)')
BUILT_RE = re.compile(r'"ready_ms":\s*(\d+)')
WS_RETRIES = 10  # dash-ws-worker.js: maxRetries, initialRetryDelay 1 s doubling, maxRetryDelay 30 s
SSE_RETRY_S = 1.0  # pages/_push.py RETRY_MS: what the browser's EventSource waits before it reconnects


# --- the WebSocket app (uvicorn --factory bench.ws_vs_sse:make_asgi) --------------------------------

def wall_like_payload(tick: int, size: int) -> dict[str, Any]:
    """A tick message shaped like the wall's delta: a few dozen tiles' values, about ``size`` bytes."""
    tiles = []
    n = 0
    while len(json.dumps(tiles)) < size - 120:
        tiles.append({"id": f"ind-{n:03d}", "value": round(1000 * random.random(), 1), "trend": "up",
                      "alarm": n % 7 == 0, "spark": [round(random.random(), 2) for _ in range(6)]})
        n += 1
    return {"tick": tick, "base": tick - 1, "ready_ms": int(time.time() * 1000), "props": tiles}


def make_asgi() -> Any:
    """The WS side: Dash on FastAPI, one persistent callback per connection, one ticker per process."""
    from dash import Dash, ctx, dcc, html, set_props
    from dash.exceptions import PreventUpdate

    tick_s = float(os.environ.get("BENCH_TICK_S", "1"))
    size = int(os.environ.get("BENCH_PAYLOAD_BYTES", "2900"))
    app = Dash(__name__, backend="fastapi",
               websocket_inactivity_timeout=int(os.environ.get("BENCH_WS_INACTIVITY_MS", "300000")),
               websocket_heartbeat_interval=int(os.environ.get("BENCH_WS_HEARTBEAT_MS", "30000")))
    app.layout = html.Div([html.Div(id="tick"), dcc.Store(id="wall")])
    state: dict[str, Any] = {"seq": 0, "payload": None, "event": None, "task": None, "paused_until": 0.0}

    async def ticker() -> None:  # one per process: the same payload for every connection of the tick
        while True:
            now = time.time()
            await asyncio.sleep(tick_s - now % tick_s)
            if time.time() < state["paused_until"]:
                continue
            state["payload"] = wall_like_payload(int(time.time() // tick_s), size)
            state["seq"] += 1
            event, state["event"] = state["event"], asyncio.Event()
            event.set()

    @app.callback(persistent=True, websocket=True)
    async def stream() -> None:
        if state["task"] is None:
            state["event"] = asyncio.Event()
            state["task"] = asyncio.get_running_loop().create_task(ticker())
        ws = ctx.websocket
        seen = -1
        while True:
            if ws is not None and ws.is_shutdown:
                raise PreventUpdate
            if state["seq"] == seen or state["payload"] is None:  # nothing new (or no tick yet)
                await state["event"].wait()
            seen = state["seq"]
            payload = state["payload"]
            set_props("wall", {"data": payload})
            set_props("tick", {"children": str(payload["tick"])})

    server = app.server

    @server.get("/bench/pause")
    async def pause(seconds: float) -> dict:  # the idle reaper's test: no message for this long
        state["paused_until"] = time.time() + seconds
        return {"paused_until": state["paused_until"]}

    return server


class WsServer(Server):
    """uvicorn serving make_asgi() (``workers`` processes); CPU and memory as bench/push.py's Server."""

    def __init__(self, *, port: int, workers: int, refresh_s: float, env: dict[str, str] | None = None) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.args = [PYTHON, "-m", "uvicorn", "--factory", "bench.ws_vs_sse:make_asgi", "--host", "127.0.0.1",
                     "--port", str(port), "--workers", str(workers), "--log-level", "warning",
                     "--no-access-log", "--timeout-graceful-shutdown", "1"]
        self.env = {**os.environ, "BENCH_TICK_S": str(refresh_s), "PYTHONPATH": str(ROOT), **(env or {})}
        self.start()

    def start(self) -> None:
        self.gunicorn = subprocess.Popen(self.args, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                deps = requests.get(self.url + "/_dash-dependencies", timeout=5).json()
                self.callback_id = next(d["output"] for d in deps if not d["inputs"])
                return
            except (requests.RequestException, ValueError, StopIteration):
                time.sleep(0.3)
        raise RuntimeError("uvicorn did not start")

    def close(self) -> None:
        if self.gunicorn.poll() is None:
            os.killpg(self.gunicorn.pid, signal.SIGKILL)  # a crash, not a drain: like the SSE side's restart
        self.gunicorn.wait(timeout=15)


# --- the WS screens -----------------------------------------------------------------------------------

def _callback_request(callback_id: str, renderer: str) -> str:
    return json.dumps({"type": "callback_request", "rendererId": renderer, "requestId": f"{renderer}-{time.time()}",
                       "payload": {"output": callback_id, "outputs": [], "inputs": [], "state": [],
                                   "changedPropIds": []}})


async def ws_screen(url: str, callback_id: str, renderer: str, start_at: float, end_at: float,
                    held: dict[int, float], built: dict[int, int], errors: list[int], *, reconnect: bool,
                    log_events: list[tuple[str, float]]) -> None:
    """One screen on Dash's WebSocket protocol (dash-ws-worker.js and the renderer's persistent-callback
    restart); ``held``: tick -> epoch s of arrival, ``built``: tick -> the server's ready_ms."""
    import websockets

    await asyncio.sleep(max(0.0, start_at - time.time()))
    host = url.split("//")[1]
    attempts = 0
    while time.time() < end_at:
        try:
            async with websockets.connect(f"ws://{host}{WS_PATH}", origin=f"http://{host}", open_timeout=10,
                                          ping_interval=None, max_size=2**22) as sock:
                attempts = 0
                log_events.append(("open", time.time()))
                await sock.send(_callback_request(callback_id, renderer))
                while time.time() < end_at:
                    try:
                        text = await asyncio.wait_for(sock.recv(), timeout=max(0.1, end_at - time.time()))
                    except TimeoutError:
                        return
                    now = time.time()
                    found = TICK_RE.search(text)
                    if found:
                        tick = int(found.group(1))
                        held.setdefault(tick, now)
                        if tick not in built and (stamp := BUILT_RE.search(text)):
                            built[tick] = int(stamp.group(1))
        except (TimeoutError, OSError, websockets.exceptions.WebSocketException) as exc:
            errors[0] += 1
            log_events.append((f"error {type(exc).__name__}: {str(exc)[:60]}", time.time()))
        log_events.append(("closed", time.time()))
        if not reconnect or attempts >= WS_RETRIES:
            if reconnect:
                log_events.append(("gave_up", time.time()))
            return
        await asyncio.sleep(min(1.0 * 2 ** attempts + random.random(), 30.0))
        attempts += 1


async def sse_screen(host: str, port: int, path: str, start_at: float, end_at: float, held: dict[int, float],
                     errors: list[int], ready: dict[int, tuple[int, int]]) -> None:
    """One pushed screen that reconnects as the browser's EventSource does (bench/push.py's screen, again)."""
    await asyncio.sleep(max(0.0, start_at - time.time()))
    while time.time() < end_at:
        await push_screen(host, port, path, time.time(), end_at, held, errors, ready)
        await asyncio.sleep(SSE_RETRY_S)


def restart_group(mode: str, url: str, target: str, count: int, seed: int, start_at: float, ramp_s: float,
                  end_at: float, out: Any) -> None:
    """One load-generator process of the restart phase: ``count`` reconnecting screens."""
    rnd = random.Random(seed)
    helds: list[dict[int, float]] = [{} for _ in range(count)]
    events: list[list[tuple[str, float]]] = [[] for _ in range(count)]
    errors = [0]
    host, port = url.split("//")[1].split(":")

    async def main() -> None:
        tasks = []
        for i in range(count):
            start = start_at + rnd.random() * ramp_s
            if mode == "ws":
                tasks.append(ws_screen(url, target, f"r{seed}-{i}", start, end_at, helds[i], {}, errors,
                                       reconnect=True, log_events=events[i]))
            else:
                tasks.append(sse_screen(host, int(port), target, start, end_at, helds[i], errors, {}))
        await asyncio.gather(*tasks)

    asyncio.run(main())
    out.put({"held": helds, "events": events, "errors": errors[0]})


def ws_group(url: str, callback_id: str, count: int, seed: int, start_at: float, ramp_s: float, end_at: float,
             out: Any) -> None:
    """One load-generator process of the load phase: ``count`` WS screens (no reconnection)."""
    rnd = random.Random(seed)
    helds: list[dict[int, float]] = [{} for _ in range(count)]
    built: dict[int, int] = {}
    errors = [0]
    events: list[list[tuple[str, float]]] = [[] for _ in range(count)]

    async def main() -> None:
        await asyncio.gather(*(ws_screen(url, callback_id, f"r{seed}-{i}", start_at + rnd.random() * ramp_s, end_at,
                                         helds[i], built, errors, reconnect=False, log_events=events[i])
                               for i in range(count)))

    cpu0 = time.process_time()
    asyncio.run(main())
    kinds: dict[str, int] = {}
    for kind, _at in (e for ev in events for e in ev if e[0].startswith("error")):
        kinds[kind] = kinds.get(kind, 0) + 1
    out.put({"held": helds, "built": built, "errors": errors[0], "cpu_s": time.process_time() - cpu0,
             "error_kinds": kinds})


def _spawn(target: Any, groups: list[tuple]) -> tuple[list[Any], Any]:
    queue: Any = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=target, args=(*g, queue)) for g in groups]
    for worker in workers:
        worker.start()
    return workers, queue


def _sizes(screens: int, procs: int) -> list[int]:
    return [n for n in (screens // procs + (1 if i < screens % procs else 0) for i in range(procs)) if n]


def run_ws_phase(server: WsServer, *, screens: int, procs: int, ticks: int, refresh_s: float) -> dict[str, Any]:
    """The WS twin of bench/push.py's run_phase: fan-out from the payload built to the last screen."""
    ramp_s = min(3.0, refresh_s * 0.8)
    start_at = time.time() + 2.0
    end_at = start_at + ramp_s + ticks * refresh_s
    groups = [(server.url, server.callback_id, n, 1000 + i, start_at, ramp_s, end_at)
              for i, n in enumerate(_sizes(screens, procs))]
    machine0, server0 = psutil.cpu_times(), server.cpu_s()
    workers, queue = _spawn(ws_group, groups)
    results = [queue.get(timeout=end_at - time.time() + 120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    machine1 = psutil.cpu_times()
    busy = sum(getattr(machine1, f) - getattr(machine0, f) for f in ("user", "system", "nice", "irq", "softirq"))
    elapsed = end_at - start_at + 2.0
    helds = [h for r in results for h in r["held"]]
    built: dict[int, int] = {}
    for r in results:
        for tick, stamp in r["built"].items():
            built.setdefault(tick, stamp)
    first = math.floor((start_at + ramp_s) / refresh_s) + 1
    last = math.floor(end_at / refresh_s) - 2
    fanout_ms, coverage = [], []
    for tick in range(first, last + 1):
        if tick not in built:
            continue
        times = [min(at for t, at in held.items() if t >= tick) for held in helds if any(t >= tick for t in held)]
        if not times:
            continue
        coverage.append(len(times) / len(helds))
        fanout_ms.append((max(times) - built[tick] / 1000) * 1000)
    gen_cpu = sum(r["cpu_s"] for r in results)
    kinds: dict[str, int] = {}
    for r in results:
        for kind, n in r["error_kinds"].items():
            kinds[kind] = kinds.get(kind, 0) + n
    return {"mode": "ws", "screens": screens, "ticks": len(fanout_ms), "errors": sum(r["errors"] for r in results),
            "error_kinds": kinds,
            "fanout_p50_ms": pct(fanout_ms, 0.5), "fanout_p95_ms": pct(fanout_ms, 0.95),
            "coverage_min": round(min(coverage), 3) if coverage else None,
            "gen_cpu_share": round(gen_cpu / busy, 3) if busy else None,
            "server_cpu_s": round(server.cpu_s() - server0, 1), "server_rss_mb": round(server.rss_mb(), 1),
            "elapsed_s": round(elapsed, 1)}


# --- restart: the server killed and started again with N screens connected -----------------------------

def run_restart(mode: str, start: Any, stop: Any, url: str, target: str, *, screens: int, procs: int,
                outage_s: float, refresh_s: float, after_s: float) -> dict[str, Any]:
    """``stop()`` the server once every screen is connected, ``start()`` it after ``outage_s``: the share
    of screens holding a tick newer than the restart by the end, and when (from the server up again)."""
    ramp_s = 3.0
    start_at = time.time() + 2.0
    kill_at = start_at + ramp_s + 4 * refresh_s
    # the screens stay past the server's stop and start (90 s allowed: gunicorn drains, then boots 3 workers)
    end_at = kill_at + outage_s + 90 + after_s
    groups = [(mode, url, target, n, 2000 + i, start_at, ramp_s, end_at) for i, n in enumerate(_sizes(screens, procs))]
    workers, queue = _spawn(restart_group, groups)
    time.sleep(max(0.0, kill_at - time.time()))
    stop()
    time.sleep(outage_s)
    start()
    up_at = time.time()
    results = [queue.get(timeout=end_at - time.time() + 120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    helds = [h for r in results for h in r["held"]]
    window = min(end_at, up_at + after_s)  # what came within after_s of the server answering again
    resumed = [min(at for at in held.values() if at > up_at) - up_at for held in helds
               if any(up_at < at <= window for at in held.values())]
    gave_up = sum(1 for r in results for ev in r["events"] if any(kind == "gave_up" for kind, _ in ev))
    return {"mode": mode, "screens": screens, "outage_s": outage_s,
            "resumed_share": round(len(resumed) / len(helds), 3),
            "resume_p50_s": pct(resumed, 0.5), "resume_p95_s": pct(resumed, 0.95),
            "resume_max_s": round(max(resumed), 1) if resumed else None, "gave_up": gave_up,
            "down_to_up_s": round(up_at - kill_at, 1), "window_s": round(window - up_at, 1)}


# --- in Chromium: the real renderer on the WS app, the real wall on the real app ------------------------

# the newest tick a tab shows (JS expressions)
WS_TICK = "(function () { const e = document.getElementById('tick'); return e ? Number(e.textContent) || 0 : 0; })()"
SSE_TICK = "((window.citywallPush || {}).lastTick || 0)"


def browser_outage(url: str, tick: str, stop: Any, start: Any, *, outage_s: float, refresh_s: float,
                   wait_s: float) -> dict[str, Any]:
    """A tab on ``url``: ticks arriving, the server gone ``outage_s``, back: does the tab get ticks
    again without a reload, and how soon."""
    driver = chrome()
    try:
        driver.get(url + "/")
        if wait_js(driver, f"return {tick} > 0;", 60, poll=0.2) is None:
            return {"error": "no tick before the outage"}
        driver.execute_script("window.__notReloaded = true;")
        before = driver.execute_script(f"return {tick};")
        stop()
        time.sleep(outage_s)
        start()
        up = time.time()
        back = wait_js(driver, f"return {tick} > {before};", wait_s, poll=0.5)
        return {"outage_s": outage_s, "resumed": back is not None,
                "resume_s": round(time.time() - up, 1) if back is not None else None,
                "not_reloaded": bool(driver.execute_script("return window.__notReloaded === true;"))}
    finally:
        driver.quit()


def browser_idle_reaper(server: WsServer, *, inactivity_s: float, pause_s: float, wait_s: float) -> dict[str, Any]:
    """The renderer's inactivity timeout: the server sends nothing for ``pause_s`` (> the timeout); is the
    socket closed, and do ticks come back by themselves when the server sends again?"""
    driver = chrome()
    try:
        driver.get(server.url + "/")
        if wait_js(driver, f"return {WS_TICK} > 0;", 60, poll=0.2) is None:
            return {"error": "no tick"}
        requests.get(server.url + "/bench/pause", params={"seconds": pause_s}, timeout=5)
        time.sleep(0.5)
        paused = driver.execute_script(f"return {WS_TICK};")
        time.sleep(pause_s)
        resumed = wait_js(driver, f"return {WS_TICK} > {paused};", wait_s, poll=0.5)
        return {"inactivity_s": inactivity_s, "pause_s": pause_s, "resumed": resumed is not None,
                "resume_s": round(resumed, 1) if resumed is not None else None,
                "waited_s": wait_s}
    finally:
        driver.quit()


# --- the run --------------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--screens", default="100,300,1000")
    ap.add_argument("--refresh", type=float, default=1.0, help="the tick (s), the same for both")
    ap.add_argument("--ticks", type=int, default=15)
    ap.add_argument("--workers", type=int, default=3, help="gunicorn workers = uvicorn workers")
    ap.add_argument("--procs", type=int, default=3, help="load-generator processes")
    ap.add_argument("--restart-screens", type=int, default=300)
    ap.add_argument("--outage-s", type=float, default=5.0)
    ap.add_argument("--browser-outage-s", type=float, default=200.0,
                    help="longer than dash-ws-worker.js's 10 retries (about 3 minutes) give up at")
    ap.add_argument("--skip-browser", action="store_true")
    ap.add_argument("--skip-load", action="store_true", help="no load and no restart phase")
    ap.add_argument("--restart-only", action="store_true", help="the restart phase alone")
    ap.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    ap.add_argument("--pg", default=DEFAULT_PG)
    ap.add_argument("--port", type=int, default=8185)
    ap.add_argument("--ws-port", type=int, default=8186)
    ap.add_argument("--redis-db", type=int, default=13)
    a = ap.parse_args()
    counts = [int(x) for x in a.screens.split(",") if x]
    started = time.time()
    rows: list[dict[str, Any]] = []
    restarts: list[dict[str, Any]] = []
    browser: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="citywall-wsse-") as tmp:
        db = new_database(a.backend, Path(tmp), "wsse", a.pg)
        try:
            log(f"seeding the demo city on {a.backend}")
            seed_demo(db, days=0.1)
            per_worker = math.ceil(max(counts + [a.restart_screens]) / a.workers * 1.5) + 10

            def sse_server() -> Server:
                return Server(db.url, port=a.port, redis_db=a.redis_db, workers=a.workers,
                              streams_per_worker=per_worker, refresh_s=a.refresh)

            holder = {"sse": sse_server()}
            ws = WsServer(port=a.ws_port, workers=a.workers, refresh_s=a.refresh)
            try:
                code = holder["sse"].spec.scope.get("area_code")
                lang = holder["sse"].spec.scope.get("lang", "zh")
                sse_path = f"{PUSH_PATH}?area={code}&lang={lang}"
                for n in [] if a.skip_load or a.restart_only else counts:
                    for mode in ("sse", "ws"):
                        log(f"{mode}: {n} screens, {a.ticks} ticks of {a.refresh:g} s; load {os.getloadavg()}")
                        if mode == "sse":
                            row = run_phase("push", holder["sse"], screens=n, procs=a.procs, ticks=a.ticks,
                                            refresh_s=a.refresh)
                            row["mode"] = "sse"
                        else:
                            row = run_ws_phase(ws, screens=n, procs=a.procs, ticks=a.ticks, refresh_s=a.refresh)
                        row["load1"] = round(os.getloadavg()[0], 1)
                        rows.append(row)
                        log(json.dumps(row))

                def sse_stop() -> None:
                    holder["sse"].close()

                def sse_start() -> None:
                    holder["sse"] = sse_server()

                if not a.skip_load or a.restart_only:
                    log(f"restart: {a.restart_screens} screens, outage {a.outage_s:g} s")
                    restarts.append(run_restart("sse", sse_start, sse_stop, holder["sse"].url, sse_path,
                                                screens=a.restart_screens, procs=a.procs, outage_s=a.outage_s,
                                                refresh_s=a.refresh, after_s=40))
                    log(json.dumps(restarts[-1]))
                    restarts.append(run_restart("ws", ws.start, ws.close, ws.url, ws.callback_id,
                                                screens=a.restart_screens, procs=a.procs, outage_s=a.outage_s,
                                                refresh_s=a.refresh, after_s=40))
                    log(json.dumps(restarts[-1]))
            finally:
                holder["sse"].close()
                ws.close()
            if not a.skip_browser and not a.restart_only:
                browser = run_browser(a, holder, sse_server)
        finally:
            db.cleanup()
    print_report(rows, restarts, browser)
    summary: dict[str, Any] = {"refresh_s": a.refresh, "workers": a.workers, "elapsed_s": round(time.time() - started),
                               "load_avg": [round(x, 1) for x in os.getloadavg()], "rows": rows,
                               "restarts": restarts, "browser": browser}
    for n in counts:
        by = {r["mode"]: r for r in rows if r["screens"] == n}
        if "ws" in by and "sse" in by:
            for key in ("fanout_p95_ms", "server_cpu_s", "server_rss_mb"):
                if by["sse"].get(key):
                    summary[f"ratio_ws_over_sse_{key}_{n}"] = round((by["ws"].get(key) or 0) / by["sse"][key], 2)
    print(json.dumps(summary))
    return 0


def run_browser(a: argparse.Namespace, holder: dict[str, Any], sse_server: Any) -> dict[str, Any]:
    """Chromium: the WS app's idle reaper, then each transport's long outage (both at once: two tabs,
    two servers, one wait)."""
    import threading

    out: dict[str, Any] = {}
    # The renderer checks inactivity at each heartbeat, every 30 s (4.4.1 passes only inactivity_timeout to
    # its worker on the first connect: websocket_heartbeat_interval is not used then), so the server is
    # quiet for 45 s against a 10 s timeout.
    reaper_env = {"BENCH_WS_INACTIVITY_MS": "10000", "BENCH_WS_HEARTBEAT_MS": "2000"}
    ws = WsServer(port=a.ws_port, workers=1, refresh_s=a.refresh, env=reaper_env)
    try:
        log("browser: the WS inactivity reaper (timeout 10 s, server quiet for 45 s)")
        out["ws_idle_reaper"] = browser_idle_reaper(ws, inactivity_s=10, pause_s=45, wait_s=60)
        log(json.dumps(out["ws_idle_reaper"]))
    finally:
        ws.close()
    ws = WsServer(port=a.ws_port, workers=1, refresh_s=a.refresh)
    holder["sse"] = sse_server()

    def sse_stop() -> None:
        holder["sse"].close()

    def sse_start() -> None:
        holder["sse"] = sse_server()

    wait_s = 120.0
    log(f"browser: both transports, server gone {a.browser_outage_s:g} s")
    threads = [threading.Thread(target=lambda: out.__setitem__("ws_outage", browser_outage(
                   ws.url, WS_TICK, ws.close, ws.start, outage_s=a.browser_outage_s, refresh_s=a.refresh,
                   wait_s=wait_s))),
               threading.Thread(target=lambda: out.__setitem__("sse_outage", browser_outage(
                   holder["sse"].url, SSE_TICK, sse_stop, sse_start, outage_s=a.browser_outage_s,
                   refresh_s=a.refresh, wait_s=wait_s)))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        ws.close()
        holder["sse"].close()
    log(json.dumps(out))
    return out


def print_report(rows: list[dict[str, Any]], restarts: list[dict[str, Any]], browser: dict[str, Any]) -> None:
    print(f"\n{'mode':5} {'screens':>7} {'ticks':>5} {'fan p50':>8} {'fan p95':>8} {'coverage':>8} {'errors':>6} "
          f"{'gen CPU':>7} {'srv CPU s':>9} {'srv MB':>7} {'load1':>5}")
    for r in rows:
        print(f"{r['mode']:5} {r['screens']:7d} {r['ticks']:5d} {r.get('fanout_p50_ms') or 0:8.0f} "
              f"{r.get('fanout_p95_ms') or 0:8.0f} {r['coverage_min'] or 0:8.3f} {r['errors']:6d} "
              f"{(r['gen_cpu_share'] or 0) * 100:6.0f}% {r['server_cpu_s']:9.1f} {r['server_rss_mb']:7.0f} "
              f"{r['load1']:5.1f}")
    for r in restarts:
        print(f"restart {r['mode']:3}: {r['screens']} screens, outage {r['outage_s']:g} s: resumed "
              f"{r['resumed_share']:.1%}, p50 {r['resume_p50_s']} s, p95 {r['resume_p95_s']} s, "
              f"max {r['resume_max_s']} s, gave up {r['gave_up']}")
    for key, value in browser.items():
        print(f"chromium {key}: {json.dumps(value)}")


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    raise SystemExit(main())
