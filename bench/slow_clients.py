"""Slow clients against CityWall's servers: how long a normal request (a page, a wall refresh)
takes while N slow connections are open, for ``python app.py`` (waitress), gunicorn gthread
without a proxy (deploy.md's workers: 2 x 8 threads) and, when nginx is installed, the same
gunicorn behind ``scripts/nginx-citywall.conf``.

    python bench/slow_clients.py                  # 50 slow connections, 40 probes per server
    python bench/slow_clients.py --slow 200 --servers waitress

The slow connections (``SlowClients``, also used by tests/test_slow_clients.py) are a mix of four
kinds, round robin: a request line and headers trickled one byte every half second (slowloris),
a POST whose body is trickled the same way, a partial request line then silence, and a client
that sends whole requests for a large script and never reads the reply. The probes are a fresh
connection each (``GET /`` and the wall's real ``/_dash-update-component`` refresh, alternately);
a probe that gets no answer within ``--probe-timeout`` counts as that long (after 6 such in a
row the server's probing stops). The last line is one
JSON object: each server's p50/p95/max in ms, probe failures, slow connections still open at the
end, and the ratio of each p95 to waitress's.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.wall_client import PageSpec  # noqa: E402

PYTHON = sys.executable
KINDS = ("headers", "body", "hold", "reader")
TRICKLE_S = 0.5
GIVE_UP_AFTER = 6  # consecutive failed probes: stop probing that server


class SlowClients:
    """``n`` slow connections to ``host:port``, kept slow by a background thread until ``close``."""

    def __init__(self, host: str, port: int, n: int, *, big_path: str = "/", kinds: tuple[str, ...] = KINDS) -> None:
        self.host, self.port = host, port
        self.socks: list[tuple[str, socket.socket]] = []
        self._stop = threading.Event()
        self.send_failures = 0
        for i in range(n):
            kind = kinds[i % len(kinds)]
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            if kind == "reader":  # a small window, so the reply piles up at the server, not in our kernel
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.settimeout(5)
            sock.connect((host, port))
            head = f"Host: {host}:{port}\r\nUser-Agent: slow-client\r\n"
            if kind == "headers":
                sock.sendall(f"GET / HTTP/1.1\r\n{head}X-Slow: ".encode())
            elif kind == "body":
                sock.sendall((f"POST /_dash-update-component HTTP/1.1\r\n{head}Content-Type: application/json\r\n"
                              f"Content-Length: 100000\r\n\r\n{{\"output\": \"").encode())
            elif kind == "hold":
                sock.sendall(b"GET /_dash-layout HT")
            else:  # "reader": 30 pipelined requests for a large script (~4 MB of replies), never read
                sock.sendall(f"GET {big_path} HTTP/1.1\r\n{head}\r\n".encode() * 30)
            sock.setblocking(False)
            self.socks.append((kind, sock))
        self._thread = threading.Thread(target=self._trickle, name="slow-clients", daemon=True)
        self._thread.start()

    def _trickle(self) -> None:
        while not self._stop.wait(TRICKLE_S):
            for kind, sock in self.socks:
                if kind in ("headers", "body"):
                    try:
                        sock.send(b"a")
                    except OSError:
                        self.send_failures += 1

    def still_open(self) -> int:
        """Slow connections the server has neither closed nor answered (an answer would be 4xx/408);
        "reader" connections count while the server has not closed them."""
        count = 0
        for kind, sock in self.socks:
            try:
                data = sock.recv(1, socket.MSG_PEEK)
            except BlockingIOError:
                count += 1
                continue
            except OSError:
                continue
            if data and kind == "reader":
                count += 1
        return count

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for _kind, sock in self.socks:
            sock.close()


def probe(host: str, port: int, method: str, path: str, body: bytes | None = None,
          timeout: float = 10.0) -> tuple[float, int | None, bytes]:
    """One request on a fresh connection: (seconds, status or None on timeout/error, body)."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        reply = conn.getresponse()
        data = reply.read()
        return time.perf_counter() - started, reply.status, data
    except OSError:
        return max(time.perf_counter() - started, timeout), None, b""
    finally:
        conn.close()


def big_asset(url: str) -> str:
    """The path of the page's largest script (react-dom), what a slow reader asks for."""
    import re
    import urllib.request

    with urllib.request.urlopen(url + "/", timeout=30) as reply:
        page = reply.read().decode()
    found = re.search(r'/_dash-component-suites/dash/deps/react-dom@[^"]*', page)
    return found.group(0) if found else "/"


def measure(host: str, port: int, *, slow: int, probes: int, probe_timeout: float, spec: PageSpec) -> dict:
    """Open ``slow`` slow connections, then ``probes`` normal requests one after another."""
    path = big_asset(f"http://{host}:{port}")
    wall = json.dumps(spec.wall_payload(1, {})).encode()
    clients = SlowClients(host, port, slow, big_path=path)
    try:
        time.sleep(2 * TRICKLE_S)  # every slow connection has reached the server and is being trickled
        times: list[float] = []
        failed = in_a_row = 0
        for i in range(probes):
            if i % 2 == 0:
                took, status, _ = probe(host, port, "GET", "/", timeout=probe_timeout)
            else:
                took, status, _ = probe(host, port, "POST", "/_dash-update-component", wall, timeout=probe_timeout)
            times.append(took)
            failed += status != 200
            in_a_row = in_a_row + 1 if status != 200 else 0
            if in_a_row == GIVE_UP_AFTER:  # the server does not answer: the rest would only wait as long
                break
        still_open = clients.still_open()
    finally:
        clients.close()
    ordered = sorted(times)
    return {"p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1), "failed": failed, "probes": len(times),
            "slow_open_at_end": still_open}


# --- the servers -----------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_until_up(port: int, procs: list[subprocess.Popen], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a server exited during start-up")
        took, status, _ = probe("127.0.0.1", port, "GET", "/_dash-layout", timeout=5)
        if status == 200:
            return
        time.sleep(0.3)
    raise RuntimeError(f"nothing answered on port {port}")


def _stop(procs: list) -> None:
    for proc in procs:
        if isinstance(proc, _NginxHandle):
            proc.wait()
        elif proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # each server was started in a session of its own
    for proc in procs:
        if isinstance(proc, _NginxHandle):
            continue
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def served(kind: str, env: dict[str, str]) -> Iterator[int]:
    """Start one server kind; yield the port the probes and slow clients use."""
    procs: list[subprocess.Popen] = []
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "start_new_session": True, "cwd": ROOT}
    try:
        if kind == "waitress":
            port = _free_port()
            procs.append(subprocess.Popen([PYTHON, "app.py"], env={**env, "CITYWALL_PORT": str(port)}, **quiet))
            _wait_until_up(port, procs)
        elif kind == "gunicorn":
            port = _free_port()
            procs.append(subprocess.Popen(
                [PYTHON, "-m", "gunicorn", "app:server", "-w", "2", "-k", "gthread", "--threads", "8",
                 "--keep-alive", "30", "-b", f"127.0.0.1:{port}", "--no-control-socket"], env=env, **quiet))
            _wait_until_up(port, procs)
        elif kind == "nginx":  # the shipped configuration: 8070 -> gunicorn on 8071 and 8072
            for upstream in (8071, 8072):
                procs.append(subprocess.Popen(
                    [PYTHON, "-m", "gunicorn", "app:server", "-w", "1", "-k", "gthread", "--threads", "8",
                     "--keep-alive", "30", "-b", f"127.0.0.1:{upstream}", "--no-control-socket"], env=env, **quiet))
            for upstream in (8071, 8072):
                _wait_until_up(upstream, procs)
            conf = str(ROOT / "scripts" / "nginx-citywall.conf")
            subprocess.run(["nginx", "-c", conf], check=True)
            procs.append(_NginxHandle(conf))
            port = 8070
            _wait_until_up(port, procs[:-1])
        else:
            raise ValueError(kind)
        yield port
    finally:
        _stop(procs)


class _NginxHandle:
    """nginx daemonizes itself: ``wait`` stops it with ``-s quit``."""

    def __init__(self, conf: str) -> None:
        self.conf, self.done = conf, False

    def poll(self) -> int | None:
        return 0 if self.done else None

    def wait(self, timeout: float | None = None) -> int:
        if not self.done:
            subprocess.run(["nginx", "-c", self.conf, "-s", "quit"], check=False)
            self.done = True
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", type=int, default=50, help="slow connections held open during the probes")
    parser.add_argument("--probes", type=int, default=40, help="normal requests per server, one after another")
    parser.add_argument("--probe-timeout", type=float, default=10.0, help="seconds a probe waits at most")
    default = "waitress,gunicorn" + (",nginx" if shutil.which("nginx") else "")
    parser.add_argument("--servers", default=default, help=f"comma-separated (default here: {default})")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="citywall-slow-"))
    url = f"sqlite:///{work / 'slow.db'}"
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CITYWALL_")}
    env = {**clean, "CITYWALL_DATABASE_URL": url, "CITYWALL_FEEDER": "0", "PYTHONPATH": str(ROOT)}
    feeder = subprocess.Popen([PYTHON, "-m", "feeder", "--database-url", url, "--backfill-days", "0",
                               "--auto-rainstorm-after", "-1"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    results: dict[str, dict] = {}
    try:
        time.sleep(8)  # the feeder creates and seeds the database
        for kind in args.servers.split(","):
            with served(kind, env) as port:
                spec = PageSpec.read(f"http://127.0.0.1:{port}")
                for _ in range(3):  # warm: first page and first wall reply of this server
                    probe("127.0.0.1", port, "GET", "/")
                    probe("127.0.0.1", port, "POST", "/_dash-update-component",
                          json.dumps(spec.wall_payload(1, {})).encode())
                idle = measure("127.0.0.1", port, slow=0, probes=args.probes, probe_timeout=args.probe_timeout,
                               spec=spec)
                loaded = measure("127.0.0.1", port, slow=args.slow, probes=args.probes,
                                 probe_timeout=args.probe_timeout, spec=spec)
                results[kind] = {"idle_p95_ms": idle["p95_ms"], **loaded}
                print(f"{kind:9} idle p95 {idle['p95_ms']:8.1f} ms | {args.slow} slow: p50 {loaded['p50_ms']:8.1f} "
                      f"p95 {loaded['p95_ms']:8.1f} max {loaded['max_ms']:8.1f} ms, {loaded['failed']}/"
                      f"{loaded['probes']} failed, {loaded['slow_open_at_end']} slow still open", flush=True)
    finally:
        _stop([feeder])
        shutil.rmtree(work, ignore_errors=True)
    base = results.get("waitress", {}).get("p95_ms")
    for row in results.values():
        row["p95_vs_waitress"] = round(row["p95_ms"] / base, 1) if base else None
    print(json.dumps({"slow_connections": args.slow, "probe_timeout_s": args.probe_timeout, "servers": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
