"""What the logs say about a failure: one line, never a traceback in a warning."""
from __future__ import annotations


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s message (SQLAlchemy's run to pages: the SQL, the parameters, a
    link), or its type's name when it says nothing."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
