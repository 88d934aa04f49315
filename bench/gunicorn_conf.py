"""gunicorn settings the benchmark starts the app with (``gunicorn -c bench/gunicorn_conf.py app:server``).

The statement counter is the benchmark's, not the app's: when CITYWALL_BENCH_COUNTER names a Redis
key, every worker adds one to it per SQL statement its engines send (a SQLAlchemy
``before_cursor_execute`` listener on the Engine class: every engine of the worker, pre-ping
excluded). One counter shared by all workers is what "queries per tick" needs with several
processes. The same key + ":ms" collects the server-side milliseconds of every callback request
(gunicorn's pre/post request hooks). Without the variable this file only sets gunicorn defaults.
"""
from __future__ import annotations

import os
import time

worker_class = "gthread"
threads = int(os.environ.get("CITYWALL_BENCH_THREADS", "8"))
timeout = 60
# Longer than a wall's refresh: its keep-alive connection is never closed between two polls (a
# request racing the server's close is a failed refresh for a client that does not retry).
keepalive = 30
graceful_timeout = 5
accesslog = None
loglevel = "warning"


def post_worker_init(worker: object) -> None:
    key = os.environ.get("CITYWALL_BENCH_COUNTER")
    if not key:
        return
    import redis
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

    client = redis.Redis.from_url(os.environ.get("CITYWALL_BENCH_COUNTER_REDIS", "redis://127.0.0.1:6379/15"))

    def count(*_args: object) -> None:
        client.incr(key)

    sa.event.listen(Engine, "before_cursor_execute", count)


def _timing_client():  # one per worker process, made on first use (after the fork)
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(os.environ.get("CITYWALL_BENCH_COUNTER_REDIS", "redis://127.0.0.1:6379/15"))
    return _client


_client = None


def pre_request(worker: object, req: object) -> None:
    if os.environ.get("CITYWALL_BENCH_COUNTER") and req.path == "/_dash-update-component":
        req.cw_started = time.perf_counter()


def post_request(worker: object, req: object, environ: dict, resp: object) -> None:
    started = getattr(req, "cw_started", None)
    if started is not None:
        _timing_client().rpush(os.environ["CITYWALL_BENCH_COUNTER"] + ":ms",
                               round((time.perf_counter() - started) * 1000, 2))
