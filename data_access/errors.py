"""What an error says in one line: logs and on-screen messages never carry a traceback or a
multi-line driver message."""
from __future__ import annotations


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of ``str(exc)`` (the class name when it says nothing), at most ``limit`` characters."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line[:limit]
