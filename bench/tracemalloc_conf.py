"""gunicorn settings for a soak with memory snapshots (``bench/soak.py --tracemalloc DIR``).

Each worker starts tracemalloc after its fork and dumps a snapshot every
CITYWALL_TRACEMALLOC_EVERY_S seconds (default 60) to CITYWALL_TRACEMALLOC_DIR as
``<pid>-<n>.snap``; ``python bench/tracemalloc_diff.py DIR`` prints what grew between a worker's
first and last snapshot. Without the variable this file only sets the soak's gunicorn defaults.
"""
from __future__ import annotations

import os

worker_class = "gthread"
accesslog = None
loglevel = "warning"


def post_worker_init(worker: object) -> None:
    out = os.environ.get("CITYWALL_TRACEMALLOC_DIR")
    if not out:
        return
    import threading
    import time
    import tracemalloc

    tracemalloc.start(int(os.environ.get("CITYWALL_TRACEMALLOC_FRAMES", "6")))
    every = float(os.environ.get("CITYWALL_TRACEMALLOC_EVERY_S", "60"))

    def dump() -> None:
        n = 0
        while True:
            time.sleep(every)
            tracemalloc.take_snapshot().dump(os.path.join(out, f"{os.getpid()}-{n:03d}.snap"))
            n += 1

    threading.Thread(target=dump, name="citywall-tracemalloc", daemon=True).start()
