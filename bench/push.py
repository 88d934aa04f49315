"""Push against polling with N connected screens, in one run (issue 16, item 1).

    python bench/push.py --screens 300 [--backend postgresql|sqlite] [--ticks 12] [--refresh 5]
    python bench/push.py --backend sqlite --modes '' --step 250,500,750,1000   # the most pushed screens

One server (gunicorn app:server, 3 gthread workers, the tick cache in Redis, the feeder as its own
process) on the demo city; then, one after the other, N lightweight screens that

- **push**: open the wall's push stream (pages/_push.py) and read its events, as assets/push.js does;
- **poll**: post the wall's refresh callback on the browser's own schedule (bench/wall_client.py
  PollSchedule, the rule of assets/citywall.js pollWall).

**Delivery** of a tick: from its data being ready on the server (the tick window's start + the
render's ``ready_ms``, as every reply's status says) to the moment the LAST of the N screens holds
that tick or a newer one. p50/p95 over the run's ticks (the first two left out: connections are
being opened). ``coverage``: the share of screens that held each tick (or a newer) before the next.
The load generator (asyncio, several processes, on the same 2 cores) reports its own CPU time:
``gen_cpu_share`` = its CPU ÷ the whole machine's busy CPU in the phase (``gen_cpu_of_cores``: ÷
the phase's length × cores), so a figure is never the generator's limit unnoticed. The server's
CPU and memory (gunicorn's processes) are reported too. Delivery's parts: when in its window each
tick's render was ready (``render_ready``), when the hub's message was built (``message_built``),
and from there to the last screen (``fanout``).

``--step``: pushed screens at each count while delivery p95 holds 250 ms with every screen holding
every tick and no error; the JSON line's ``max_screens_push_p95_under_250ms`` is the most that held.
bench/run.py runs ``run_phase`` too (its quick run's pushed phase): one home for these figures.
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
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402
import redis  # noqa: E402
import requests  # noqa: E402

from bench.run import (  # noqa: E402
    DEFAULT_PG,
    P95_TARGET_MS,
    PYTHON,
    new_database,
    pct,
    push_sizing,
    read_spec,
    seed_demo,
    tree_cpu_s,
    tree_rss_mb,
)
from bench.wall_client import PageSpec, PollSchedule  # noqa: E402
from components import ids  # noqa: E402
from pages._push import RETRY_MS  # noqa: E402

PUSH_PATH = "/_citywall/push"
STATUS = ids.STATUS_STORE
TICK_RE = re.compile(rb'"tick":\s*(\d+)')
MAP_EVENT = b"event: map\n"  # a map event on the wall's stream (pages/_push_map.py)
# a message's "ready_ms" (epoch ms, when the hub built it) and its status's (ms into the tick window)
READY_RE = re.compile(rb'"ready_ms":\s*(\d+)')


RETRY_S = RETRY_MS / 1000  # the browser opens a stream the server ended again after this


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- the server ---------------------------------------------------------------------------------------

class Server:
    """gunicorn (``workers`` gthread workers with room for the push streams) + the feeder."""

    def __init__(self, db_url: str, *, port: int, redis_db: int, workers: int, streams_per_worker: int,
                 refresh_s: float, tick_computer: str = "auto") -> None:
        self.url = f"http://127.0.0.1:{port}"
        with socket.socket() as probe:  # another server still on the port would be measured instead
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise RuntimeError(f"port {port} is in use")
        redis_url = f"redis://127.0.0.1:6379/{redis_db}"
        redis.Redis.from_url(redis_url).flushdb()
        env = {**os.environ, "CITYWALL_DATABASE_URL": db_url, "CITYWALL_REFRESH_S": str(refresh_s),
               "CITYWALL_FEEDER": "0", "CITYWALL_REDIS_URL": redis_url, "CITYWALL_TRANSPORT": "push",
               "CITYWALL_PUSH_STREAMS": str(streams_per_worker), "CITYWALL_TICK_COMPUTER": tick_computer,
               "CITYWALL_BENCH_THREADS": str(streams_per_worker + 16), "CITYWALL_BENCH_COUNTER": "",
               "PYTHONPATH": str(ROOT)}
        self.gunicorn = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "-c", str(ROOT / "bench" / "gunicorn_conf.py"), "-w", str(workers),
             "--worker-connections", str(streams_per_worker + 200), "-b", f"127.0.0.1:{port}", "app:server"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self.feeder = subprocess.Popen([PYTHON, "-m", "feeder", "--auto-rainstorm-after", "-1"], cwd=ROOT, env=env,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.close()
            raise

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/_dash-layout", timeout=5).ok:
                    break
            except requests.RequestException:
                time.sleep(0.3)
        else:
            raise RuntimeError("gunicorn did not start")
        self.spec = read_spec(self.url)

    def cpu_s(self) -> float:
        return tree_cpu_s(self.gunicorn.pid)

    def rss_mb(self) -> float:
        return tree_rss_mb(self.gunicorn.pid)

    def close(self) -> None:
        for proc in (self.gunicorn, self.feeder):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in (self.gunicorn, self.feeder):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


# --- the screens (one load-generator process runs a group of them) ------------------------------------

async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    return status, headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    body = b""
    while True:  # chunked
        size = int((await reader.readuntil(b"\r\n")).strip() or b"0", 16)
        if size == 0:
            await reader.readuntil(b"\r\n")
            return body
        body += await reader.readexactly(size + 2)
        body = body[:-2]


def _failed(errors: dict[str, int] | list[int], kind: str) -> None:
    """One failure of ``kind`` (a dict: counts by kind; a one-item list: the count alone)."""
    if isinstance(errors, list):
        errors[0] += 1
    else:
        errors[kind] = errors.get(kind, 0) + 1


async def push_screen(host: str, port: int, path: str, start_at: float, end_at: float, held: dict[int, float],
                      errors: dict[str, int] | list[int], ready: dict[int, tuple[int, int]],
                      received: list[int] | None = None, *, reconnect: bool = False) -> None:
    """One pushed screen: the stream's events, each tick's arrival noted (``held``: tick -> epoch s);
    ``received``: [bytes, of which map events' bytes]. ``reconnect``: a stream the server ends
    (CITYWALL_PUSH_STREAM_MAX_S) is opened again after the ``retry`` delay, as the browser does (a soak
    longer than one stream), instead of counting as an error."""
    received = received if received is not None else [0, 0]
    await asyncio.sleep(max(0.0, start_at - time.time()))
    while (await _push_stream(host, port, path, end_at, held, errors, ready, received, reconnect)
           and time.time() < end_at):
        await asyncio.sleep(RETRY_S)


async def _push_stream(host: str, port: int, path: str, end_at: float, held: dict[int, float],
                       errors: dict[str, int] | list[int], ready: dict[int, tuple[int, int]], received: list[int],
                       reconnect: bool) -> bool:
    """One stream until ``end_at``; True when the server ended it and ``reconnect`` asked for that."""
    ended = False
    try:
        reader, writer = await asyncio.open_connection(host, port)
        close = "Connection: close\r\n" if reconnect else ""  # the stream's end closes the connection: EOF
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n{close}\r\n"
                     .encode())
        # a server whose threads are all taken queues the connection unanswered: that is a failure too
        status, _headers = await asyncio.wait_for(_read_head(reader), timeout=max(1.0, end_at - time.time()))
        if status != 200:
            _failed(errors, f"HTTP {status}")
            writer.close()
            return False
        buffer = b""
        while time.time() < end_at:
            try:
                chunk = await asyncio.wait_for(reader.read(65536), timeout=max(0.1, end_at - time.time()))
            except TimeoutError:
                break
            if not chunk:
                ended = reconnect
                if not ended:
                    _failed(errors, "closed")
                break
            now = time.time()
            received[0] += len(chunk)
            buffer += chunk
            while True:
                start = buffer.find(b"data: ")
                if start < 0:
                    buffer = b""
                    break
                stop = buffer.find(b"\n\n", start)
                if stop < 0:
                    buffer = buffer[start:]
                    break
                if buffer[max(0, start - len(MAP_EVENT)):start] == MAP_EVENT:  # the map's part: not the wall's tick
                    received[1] += stop + 2 - start + len(MAP_EVENT)
                    buffer = buffer[stop + 2:]
                    continue
                found = TICK_RE.search(buffer, start, stop)
                if found:
                    tick = int(found.group(1))
                    held.setdefault(tick, now)
                    if tick not in ready:
                        stamps = [int(x) for x in READY_RE.findall(buffer, start, stop)]
                        built = [x for x in stamps if x > 10**9]
                        window = [x for x in stamps if x <= 10**9]
                        if built and window:
                            ready[tick] = (window[0], built[0])
                buffer = buffer[stop + 2:]
        writer.close()
    except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError) as exc:
        _failed(errors, type(exc).__name__)
    return ended


async def _post(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int,
                body: bytes) -> tuple[int, dict[str, str], bytes]:
    writer.write(f"POST /_dash-update-component HTTP/1.1\r\nHost: {host}:{port}\r\n"
                 f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)
    status, headers = await asyncio.wait_for(_read_head(reader), timeout=30)
    return status, headers, await asyncio.wait_for(_read_body(reader, headers), timeout=30)


async def poll_map(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int,
                   spec: PageSpec, n: int, sig: str | None, received: list[int]) -> str | None:
    """The wall's map's poll, as its tick sends it; the signature the screen then holds."""
    status, _headers, content = await _post(reader, writer, host, port, json.dumps(spec.map_payload(n, sig)).encode())
    received[0] += len(content)
    received[1] += len(content)
    if status == 200 and content:
        for key, value in json.loads(content).get("response", {}).items():
            if f'"{ids.MAP_SIG}"' in key and isinstance(value.get("data"), str):
                return value["data"]
    return sig


async def poll_screen(host: str, port: int, spec: PageSpec, share: float, start_at: float, end_at: float,
                      held: dict[int, float], errors: dict[str, int], ready: dict[int, tuple[int, int]],
                      received: list[int], maps: bool = True) -> None:
    """One polling screen on the browser's schedule, over one keep-alive connection (and its map's
    poll after each wall poll, with ``maps``)."""
    schedule: PollSchedule = spec.schedule(share)
    await asyncio.sleep(max(0.0, start_at - time.time()))
    applied: dict = {}
    sig = spec.map_sig
    n = 0
    due = time.time()
    reader = writer = None
    while time.time() < end_at:
        await asyncio.sleep(max(0.0, due - time.time()))
        n += 1
        body = json.dumps(spec.wall_payload(n, applied)).encode()
        due = schedule.sent_now(time.time())
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            status, headers, content = await _post(reader, writer, host, port, body)
            received[0] += len(content)
            if maps and headers.get("connection", "").lower() != "close":
                sig = await poll_map(reader, writer, host, port, spec, n, sig, received)
            if headers.get("connection", "").lower() == "close":
                writer.close()
                reader = writer = None
            if status != 200:
                _failed(errors, f"HTTP {status}")
                continue
            now = time.time()
            data = json.loads(content)["response"]
        except (OSError, asyncio.IncompleteReadError, ValueError, KeyError, TimeoutError) as exc:
            _failed(errors, type(exc).__name__)
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        status_data = data.get(STATUS, {}).get("data", {})
        if status_data.get("ok") and isinstance(status_data.get("tick"), int):
            held.setdefault(status_data["tick"], now)
            if isinstance(status_data.get("ready_ms"), int):
                ready.setdefault(status_data["tick"], (status_data["ready_ms"], 0))
        applied = spec.wall_kept(data, applied)
        due = schedule.after_reply(status_data, time.time(), due)
    if writer is not None:
        writer.close()


def screen_group(mode: str, url: str, spec: PageSpec, count: int, seed: int, start_at: float, ramp_s: float,
                 end_at: float, out: Any, maps: bool = True) -> None:
    """One load-generator process: ``count`` screens; puts what each held (and its own CPU) in ``out``."""
    host, port = url.split("//")[1].split(":")
    rnd = random.Random(seed)
    helds: list[dict[int, float]] = [{} for _ in range(count)]
    errors: dict[str, int] = {}
    received = [0, 0]  # bytes, of which the map's
    ready: dict[int, tuple[int, int]] = {}
    code = spec.scope.get("area_code")
    lang = spec.scope.get("lang", "zh")
    path = f"{PUSH_PATH}?area={code}&lang={lang}"

    async def main() -> None:
        tasks = []
        for i in range(count):
            start = start_at + rnd.random() * ramp_s
            if mode == "push":
                tasks.append(push_screen(host, int(port), path, start, end_at, helds[i], errors, ready, received))
            else:
                tasks.append(poll_screen(host, int(port), spec, rnd.random(), start, end_at, helds[i], errors, ready,
                                         received, maps))
        await asyncio.gather(*tasks)

    cpu0 = time.process_time()
    asyncio.run(main())
    out.put({"held": helds, "errors": errors, "cpu_s": time.process_time() - cpu0, "ready": ready,
             "bytes": received[0], "map_bytes": received[1]})


def run_phase(mode: str, server: Any, *, screens: int, procs: int, ticks: int, refresh_s: float,
              maps: bool = True) -> dict[str, Any]:
    """N screens of ``mode`` (push or poll) against ``server`` (``url``, ``spec``, ``cpu_s()``, ``rss_mb()``:
    this module's Server or bench/run.py's Served) for ``ticks`` ticks: delivery, fan-out, coverage,
    errors, the load generator's CPU share, the server's CPU and memory."""
    ramp_s = min(3.0, refresh_s * 0.8)
    start_at = time.time() + 2.0
    end_at = start_at + ramp_s + ticks * refresh_s
    queue: Any = multiprocessing.Queue()
    sizes = [screens // procs + (1 if i < screens % procs else 0) for i in range(procs)]
    workers = [multiprocessing.Process(target=screen_group, args=(mode, server.url, server.spec, n, 1000 + i,
                                                                  start_at, ramp_s, end_at, queue, maps))
               for i, n in enumerate(sizes) if n]
    machine0 = psutil.cpu_times()
    server0 = server.cpu_s()
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=end_at - time.time() + 120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    machine1 = psutil.cpu_times()
    busy = sum(getattr(machine1, f) - getattr(machine0, f) for f in ("user", "system", "nice", "irq", "softirq"))
    elapsed = end_at - start_at + 2.0
    helds = [h for r in results for h in r["held"]]
    gen_cpu = sum(r["cpu_s"] for r in results)
    first = math.floor((start_at + ramp_s) / refresh_s) + 1  # every screen connected by then
    last = math.floor(end_at / refresh_s) - 2  # the last ticks: screens are leaving
    ready: dict[int, tuple[int, int]] = {}
    for r in results:
        for tick, stamp in r["ready"].items():
            ready.setdefault(tick, stamp)
    error_kinds: dict[str, int] = {}
    for r in results:
        for kind, n in r["errors"].items():
            error_kinds[kind] = error_kinds.get(kind, 0) + n
    phase_ticks = (end_at - start_at) / refresh_s
    return {"mode": mode, "screens": screens,
            "connected": sum(1 for held in helds if held),  # screens that held at least one tick
            **delivery_figures(helds, ready, range(first, last + 1), refresh_s),
            "errors": sum(error_kinds.values()), "error_kinds": error_kinds,
            "gen_cpu_s": round(gen_cpu, 1), "machine_busy_cpu_s": round(busy, 1),
            "gen_cpu_share": round(gen_cpu / busy, 3) if busy else None,
            "gen_cpu_of_cores": round(gen_cpu / (elapsed * (os.cpu_count() or 1)), 3),
            "server_cpu_s": round(server.cpu_s() - server0, 1), "server_rss_mb": round(server.rss_mb(), 1),
            "elapsed_s": round(elapsed, 1), "load_avg_1m": round(os.getloadavg()[0], 2),
            # received per screen and tick (the phase's ticks: its ramp and length over the refresh)
            "bytes_per_screen_tick": round(sum(r["bytes"] for r in results) / screens / phase_ticks),
            "map_bytes_per_screen_tick": round(sum(r["map_bytes"] for r in results) / screens / phase_ticks)}


def delivery_figures(helds: list[dict[int, float]], ready: dict[int, tuple[int, int]], ticks: range,
                     refresh_s: float) -> dict[str, Any]:
    """Per tick of ``ticks``: from its data ready (its window's start + the render's ready_ms) to the
    last of the screens holding it (or a newer tick), as p50/p95 over the ticks. Its parts: when in
    the window the render was ready (``render_ready``) and, for push, when the hub's message was
    built (``message_built``; from there to the last screen: ``fanout``). ``coverage_min``: the
    smallest share of all screens (failed ones included) that held a tick."""
    delivery_ms, fanout_ms, coverage, render_ms, built_ms = [], [], [], [], []
    for tick in ticks:
        if tick not in ready:
            continue
        times = []
        for held in helds:
            arrivals = [at for t, at in held.items() if t >= tick]
            if arrivals:
                times.append(min(arrivals))
        if not times:
            continue
        coverage.append(len(times) / len(helds))
        window_ready_ms, built_epoch_ms = ready[tick]
        render_ms.append(window_ready_ms)
        delivery_ms.append((max(times) - (tick * refresh_s + window_ready_ms / 1000)) * 1000)
        if built_epoch_ms:  # push: from the hub's message built to the last screen holding it
            built_ms.append(built_epoch_ms - tick * refresh_s * 1000)
            fanout_ms.append((max(times) - built_epoch_ms / 1000) * 1000)
    return {"ticks": len(delivery_ms), "delivery_p50_ms": pct(delivery_ms, 0.5),
            "delivery_p95_ms": pct(delivery_ms, 0.95), "fanout_p50_ms": pct(fanout_ms, 0.5),
            "fanout_p95_ms": pct(fanout_ms, 0.95),
            "render_ready_p95_ms": pct(render_ms, 0.95), "message_built_p95_ms": pct(built_ms, 0.95),
            "coverage_min": round(min(coverage), 3) if coverage else None}


def holds(result: dict[str, Any], target_ms: float = P95_TARGET_MS) -> bool:
    """Whether a phase met the screens target: delivery p95 within ``target_ms``, every screen connected
    and holding every tick, no error."""
    return bool(result.get("delivery_p95_ms") is not None and result["delivery_p95_ms"] <= target_ms
                and not result["errors"] and result.get("coverage_min") == 1.0)


def step_screens(server: Any, counts: list[int], *, procs: int, ticks: int, refresh_s: float,
                 rows: list[dict[str, Any]]) -> int:
    """Pushed screens at each of ``counts`` (ascending) while the target holds: the most that held (0: none)."""
    best = 0
    for screens in counts:
        log(f"push: {screens} screens, {ticks} ticks (max-screens search)")
        result = run_phase("push", server, screens=screens, procs=procs, ticks=ticks, refresh_s=refresh_s)
        rows.append(result)
        log(json.dumps(result))
        if not holds(result):
            break
        best = screens
    return best


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--screens", type=int, default=200)
    ap.add_argument("--ticks", type=int, default=10)
    ap.add_argument("--refresh", type=float, default=5.0)
    ap.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    ap.add_argument("--pg", default=DEFAULT_PG)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--procs", type=int, default=2, help="load-generator processes")
    ap.add_argument("--port", type=int, default=8180)
    ap.add_argument("--redis-db", type=int, default=11)
    ap.add_argument("--days", type=float, default=0.1, help="demo history to seed")
    ap.add_argument("--modes", default="push,poll")
    ap.add_argument("--step", default="", help="screen counts, ascending (e.g. 250,500,750,1000,1250): after the "
                    "modes, pushed screens at each while delivery p95 <= 250 ms with every screen held and no "
                    "error; reports the most that held")
    ap.add_argument("--no-maps", action="store_true",
                    help="polling screens poll the wall alone, not its map too (a pushed wall's stream carries it)")
    ap.add_argument("--step-ticks", type=int, default=6, help="ticks of each step")
    ap.add_argument("--tick-computer", default="auto", help="CITYWALL_TICK_COMPUTER; a list (on,off): the modes "
                    "again against a server of each, one after the other in the same run (the steps: the first)")
    a = ap.parse_args()
    counts = sorted(int(x) for x in a.step.split(",") if x.strip())
    started = time.time()
    steps: list[dict[str, Any]] = []
    best = None
    with tempfile.TemporaryDirectory(prefix="citywall-push-") as tmp:
        db = new_database(a.backend, Path(tmp), "push", a.pg)
        try:
            log(f"seeding the demo city ({a.days} days) on {a.backend}")
            seed_s = seed_demo(db, days=a.days)
            most = max([a.screens, *counts])
            per_worker = push_sizing(most)
            rows = []
            for n, computer in enumerate(x.strip() for x in a.tick_computer.split(",") if x.strip()):
                server = Server(db.url, port=a.port, redis_db=a.redis_db, workers=a.workers,
                                streams_per_worker=per_worker, refresh_s=a.refresh, tick_computer=computer)
                try:
                    for mode in [m for m in a.modes.split(",") if m]:
                        log(f"{mode}: {a.screens} screens, {a.ticks} ticks, tick computer {computer}")
                        rows.append({**run_phase(mode, server, screens=a.screens, procs=a.procs, ticks=a.ticks,
                                                 refresh_s=a.refresh, maps=not a.no_maps),
                                     "tick_computer": computer, "serve": n})
                        log(json.dumps(rows[-1]))
                    if counts and n == 0:
                        best = step_screens(server, counts, procs=a.procs, ticks=a.step_ticks,
                                            refresh_s=a.refresh, rows=steps)
                        for r in steps:
                            r.update(tick_computer=computer, serve=n)
                finally:
                    server.close()
        finally:
            db.cleanup()
    print(f"\n{'mode':6} {'tick c.':7} {'screens':>7} {'ticks':>5} {'deliv p50':>9} {'deliv p95':>9} {'render':>7} "
          f"{'built':>7} {'fan-out':>7} {'coverage':>8} {'errors':>6} {'gen CPU':>7} {'srv CPU s':>9} {'srv MB':>7} "
          f"{'load':>5} {'B/scr/tick':>10} {'map B':>6}")
    for r in [*rows, *steps]:
        print(f"{r['mode']:6} {r['tick_computer']:7} {r['screens']:7d} {r['ticks']:5d} "
              f"{r['delivery_p50_ms'] or 0:9.0f} {r['delivery_p95_ms'] or 0:9.0f} {r['render_ready_p95_ms'] or 0:7.0f} "
              f"{r['message_built_p95_ms'] or 0:7.0f} {r['fanout_p95_ms'] or 0:7.0f} {r['coverage_min'] or 0:8.3f} "
              f"{r['errors']:6d} {(r['gen_cpu_share'] or 0) * 100:6.0f}% {r['server_cpu_s']:9.1f} "
              f"{r['server_rss_mb']:7.0f} {r['load_avg_1m']:5.1f} {r['bytes_per_screen_tick']:10d} "
              f"{r['map_bytes_per_screen_tick']:6d}")
    print("(render: p95 of when in its window each tick's render was ready; built: of when the hub's message was "
          "built, ms into the window; fan-out: built -> the last screen; gen CPU: the load generator's share of "
          "the machine's busy CPU)")
    by = {r["mode"]: r for r in rows if r["serve"] == 0}
    summary: dict[str, Any] = {"backend": a.backend, "screens": a.screens, "refresh_s": a.refresh,
                               "workers": a.workers, "tick_computer": a.tick_computer, "maps_polled": not a.no_maps,
                               "seed_s": round(seed_s, 1)}
    for r in rows:
        name = r["mode"] if r["serve"] == 0 else f"{r['mode']}_tick_computer_{r['tick_computer']}"
        for key in ("delivery_p50_ms", "delivery_p95_ms", "fanout_p95_ms", "render_ready_p95_ms",
                    "message_built_p95_ms", "coverage_min", "errors", "error_kinds", "connected", "gen_cpu_share",
                    "gen_cpu_of_cores", "server_cpu_s", "server_rss_mb", "load_avg_1m", "bytes_per_screen_tick",
                    "map_bytes_per_screen_tick", "fanout_p50_ms"):
            summary[f"{name}_{key}"] = r[key]
    if "push" in by and "poll" in by and by["push"]["delivery_p95_ms"]:
        summary["ratio_delivery_p95_poll_over_push"] = round(by["poll"]["delivery_p95_ms"]
                                                             / by["push"]["delivery_p95_ms"], 2)
        if by["push"]["server_cpu_s"]:
            summary["ratio_server_cpu_poll_over_push"] = round(by["poll"]["server_cpu_s"]
                                                               / by["push"]["server_cpu_s"], 2)
    if counts:
        summary["max_screens_push_p95_under_250ms"] = best
        summary["steps"] = [{k: r[k] for k in ("screens", "delivery_p95_ms", "coverage_min", "errors",
                                               "gen_cpu_share", "gen_cpu_of_cores", "server_rss_mb",
                                               "load_avg_1m")} for r in steps]
    summary["elapsed_s"] = round(time.time() - started, 1)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    raise SystemExit(main())
