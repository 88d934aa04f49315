"""Push against polling with N connected screens, in one run (issue 16, item 1).

    python bench/push.py --screens 300 [--backend postgresql|sqlite] [--ticks 12] [--refresh 5]

One server (gunicorn app:server, 3 gthread workers, the tick cache in Redis, the feeder as its own
process) on the demo city; then, one after the other, N lightweight screens that

- **push**: open the wall's push stream (pages/_push.py) and read its events, as assets/push.js does;
- **poll**: post the wall's refresh callback on the browser's own schedule (bench/wall_client.py
  PollSchedule, the rule of assets/citywall.js pollWall), and the wall's map's refresh after each
  (its counts: a polling browser's map polls every tick too); ``--no-maps``: the wall's alone.

A pushed wall's stream carries its map's counts too (pages/_push_map.py: a ``map`` event on each
tick's message). **Bytes** per screen and tick, received (response bodies; a stream's raw bytes),
are reported for the whole and for the map's part (``map_bytes``: the map events, or the map
polls' replies), next to the server's CPU.

**Delivery** of a tick: from its data being ready on the server (the tick window's start + the
render's ``ready_ms``, as every reply's status says) to the moment the LAST of the N screens holds
that tick or a newer one. p50/p95 over the run's ticks (the first two left out: connections are
being opened). ``coverage``: the share of screens that held each tick (or a newer) before the next.
The load generator (asyncio, several processes, on the same 2 cores) reports its own CPU time:
``gen_cpu_share`` = its CPU ÷ the whole machine's busy CPU in the phase (``gen_cpu_of_cores``: ÷
the phase's length × cores), so a figure is never the generator's limit unnoticed. The server's
CPU and memory (gunicorn's processes) are reported too.
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

from bench.run import DEFAULT_PG, PYTHON, new_database, pct, seed_demo  # noqa: E402
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
                 refresh_s: float) -> None:
        self.url = f"http://127.0.0.1:{port}"
        with socket.socket() as probe:  # another server still on the port would be measured instead
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                raise RuntimeError(f"port {port} is in use")
        redis_url = f"redis://127.0.0.1:6379/{redis_db}"
        redis.Redis.from_url(redis_url).flushdb()
        env = {**os.environ, "CITYWALL_DATABASE_URL": db_url, "CITYWALL_REFRESH_S": str(refresh_s),
               "CITYWALL_FEEDER": "0", "CITYWALL_REDIS_URL": redis_url, "CITYWALL_TRANSPORT": "push",
               "CITYWALL_PUSH_STREAMS": str(streams_per_worker),
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
        for attempt in range(10):  # a worker still starting may answer without the pages' callbacks
            try:
                self.spec = PageSpec.read(self.url)
                break
            except (StopIteration, KeyError, ValueError, requests.RequestException):
                if attempt == 9:
                    raise
                time.sleep(2)

    def processes(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.gunicorn.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def cpu_s(self) -> float:
        total = 0.0
        for proc in self.processes():
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.NoSuchProcess:
                pass
        return total

    def rss_mb(self) -> float:
        total = 0
        for proc in self.processes():
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total / 2**20

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


async def push_screen(host: str, port: int, path: str, start_at: float, end_at: float, held: dict[int, float],
                      errors: list[int], ready: dict[int, tuple[int, int]], received: list[int] | None = None, *,
                      reconnect: bool = False) -> None:
    """One pushed screen: the stream's events, each tick's arrival noted (``held``: tick -> epoch s);
    ``received``: [bytes, of which map events' bytes]. ``reconnect``: a stream the server ends
    (STREAM_MAX_S) is opened again after the ``retry`` delay, as the browser does (a soak longer than
    one stream), instead of counting as an error."""
    received = received if received is not None else [0, 0]
    await asyncio.sleep(max(0.0, start_at - time.time()))
    while (await _push_stream(host, port, path, end_at, held, errors, ready, received, reconnect)
           and time.time() < end_at):
        await asyncio.sleep(RETRY_S)


async def _push_stream(host: str, port: int, path: str, end_at: float, held: dict[int, float], errors: list[int],
                       ready: dict[int, tuple[int, int]], received: list[int], reconnect: bool) -> bool:
    """One stream until ``end_at``; True when the server ended it and ``reconnect`` asked for that."""
    ended = False
    try:
        reader, writer = await asyncio.open_connection(host, port)
        close = "Connection: close\r\n" if reconnect else ""  # the stream's end closes the connection: EOF
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: text/event-stream\r\n{close}\r\n"
                     .encode())
        status, _headers = await _read_head(reader)
        if status != 200:
            errors[0] += 1
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
                errors[0] += 0 if ended else 1
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
    except (OSError, asyncio.IncompleteReadError, ValueError):
        errors[0] += 1
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
                      held: dict[int, float], errors: list[int], ready: dict[int, tuple[int, int]],
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
                errors[0] += 1
                continue
            now = time.time()
            data = json.loads(content)["response"]
        except (OSError, asyncio.IncompleteReadError, ValueError, KeyError, TimeoutError):
            errors[0] += 1
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
    errors = [0]
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
    out.put({"held": helds, "errors": errors[0], "cpu_s": time.process_time() - cpu0, "ready": ready,
             "bytes": received[0], "map_bytes": received[1]})


def run_phase(mode: str, server: Server, *, screens: int, procs: int, ticks: int, refresh_s: float,
              maps: bool = True) -> dict[str, Any]:
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
    tick_range = list(range(first, last + 1))
    ready: dict[int, tuple[int, int]] = {}
    for r in results:
        for tick, stamp in r["ready"].items():
            ready.setdefault(tick, stamp)
    delivery_ms, fanout_ms, coverage = [], [], []
    for tick in tick_range:
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
        # from the tick's data ready (its window's start + the render's ready_ms) to the last screen holding it
        delivery_ms.append((max(times) - (tick * refresh_s + ready[tick][0] / 1000)) * 1000)
        if ready[tick][1]:  # push: from the hub's message built to the last screen holding it
            fanout_ms.append((max(times) - ready[tick][1] / 1000) * 1000)
    phase_ticks = (end_at - start_at) / refresh_s
    return {"mode": mode, "screens": screens, "ticks": len(delivery_ms), "errors": sum(r["errors"] for r in results),
            "delivery_p50_ms": pct(delivery_ms, 0.5), "delivery_p95_ms": pct(delivery_ms, 0.95),
            "fanout_p50_ms": pct(fanout_ms, 0.5), "fanout_p95_ms": pct(fanout_ms, 0.95),
            "coverage_min": round(min(coverage), 3) if coverage else None,
            "gen_cpu_s": round(gen_cpu, 1), "machine_busy_cpu_s": round(busy, 1),
            "gen_cpu_share": round(gen_cpu / busy, 3) if busy else None,
            "gen_cpu_of_cores": round(gen_cpu / (elapsed * (os.cpu_count() or 1)), 3),
            "server_cpu_s": round(server.cpu_s() - server0, 1), "server_rss_mb": round(server.rss_mb(), 1),
            "elapsed_s": round(elapsed, 1),
            # received per screen and tick (the phase's ticks: its ramp and length over the refresh)
            "bytes_per_screen_tick": round(sum(r["bytes"] for r in results) / screens / phase_ticks),
            "map_bytes_per_screen_tick": round(sum(r["map_bytes"] for r in results) / screens / phase_ticks)}


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
    ap.add_argument("--no-maps", action="store_true",
                    help="polling screens poll the wall alone, not its map too (a pushed wall's stream carries it)")
    a = ap.parse_args()
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="citywall-push-") as tmp:
        db = new_database(a.backend, Path(tmp), "push", a.pg)
        try:
            log(f"seeding the demo city ({a.days} days) on {a.backend}")
            seed_s = seed_demo(db, days=a.days)
            per_worker = math.ceil(a.screens / a.workers * 1.5) + 10  # connections do not spread evenly
            server = Server(db.url, port=a.port, redis_db=a.redis_db, workers=a.workers,
                            streams_per_worker=per_worker, refresh_s=a.refresh)
            rows = []
            try:
                for mode in a.modes.split(","):
                    log(f"{mode}: {a.screens} screens, {a.ticks} ticks")
                    rows.append(run_phase(mode, server, screens=a.screens, procs=a.procs, ticks=a.ticks,
                                          refresh_s=a.refresh, maps=not a.no_maps))
                    log(json.dumps(rows[-1]))
            finally:
                server.close()
        finally:
            db.cleanup()
    print(f"\n{'mode':6} {'screens':>7} {'ticks':>5} {'deliv p50':>9} {'deliv p95':>9} {'coverage':>8} "
          f"{'errors':>6} {'gen CPU':>7} {'srv CPU s':>9} {'srv MB':>7} {'B/scr/tick':>10} {'map B':>7}")
    for r in rows:
        print(f"{r['mode']:6} {r['screens']:7d} {r['ticks']:5d} {r['delivery_p50_ms'] or 0:9.0f} "
              f"{r['delivery_p95_ms'] or 0:9.0f} {r['coverage_min'] or 0:8.3f} {r['errors']:6d} "
              f"{(r['gen_cpu_share'] or 0) * 100:6.0f}% {r['server_cpu_s']:9.1f} {r['server_rss_mb']:7.0f} "
              f"{r['bytes_per_screen_tick']:10d} {r['map_bytes_per_screen_tick']:7d}")
    by = {r["mode"]: r for r in rows}
    summary = {"backend": a.backend, "screens": a.screens, "refresh_s": a.refresh, "workers": a.workers,
               "maps_polled": not a.no_maps,
               "seed_s": round(seed_s, 1), "elapsed_s": round(time.time() - started, 1)}
    for mode, r in by.items():
        for key in ("delivery_p50_ms", "delivery_p95_ms", "fanout_p95_ms", "coverage_min", "errors", "gen_cpu_share",
                    "gen_cpu_of_cores", "server_cpu_s", "server_rss_mb", "bytes_per_screen_tick",
                    "map_bytes_per_screen_tick"):
            summary[f"{mode}_{key}"] = r[key]
    if "push" in by and "poll" in by and by["push"]["delivery_p95_ms"]:
        summary["ratio_delivery_p95_poll_over_push"] = round(by["poll"]["delivery_p95_ms"]
                                                             / by["push"]["delivery_p95_ms"], 2)
        if by["push"]["server_cpu_s"]:
            summary["ratio_server_cpu_poll_over_push"] = round(by["poll"]["server_cpu_s"]
                                                               / by["push"]["server_cpu_s"], 2)
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    raise SystemExit(main())
