"""A database that does not answer, told as one line instead of SQLAlchemy's traceback.

The usual first mistakes with ``ORCHESTRATOR_DATABASE_URL``: a host that does not resolve, a server
that is not running, a database that was never created. The driver's own words say which.
"""

from __future__ import annotations

import sys


def database_problem(exc: BaseException) -> str | None:
    """The line to print when ``exc`` is the database refusing a connection; None for anything else."""
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is None or not isinstance(exc, sqlalchemy_exc.OperationalError):
        return None
    if not _is_connection_failure(exc.orig):
        return None
    detail = " ".join(str(exc.orig).split())
    return f"cannot connect to the database (ORCHESTRATOR_DATABASE_URL): {detail}"


def _is_connection_failure(orig: BaseException | None) -> bool:
    """psycopg says ``connection failed`` or ``failed to resolve host``; SQLite ``unable to open database file``."""
    text = str(orig)
    return any(words in text for words in ("connection failed", "failed to resolve host", "unable to open database"))
