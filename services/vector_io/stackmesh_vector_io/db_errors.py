"""Database errors with the request's values left out, for logs and `last_error` messages.

Drivers quote what was sent in their messages (Postgres' DETAIL and CONTEXT lines echo JSON
data and parameters, SQLite names the JSON path it choked on), and those values are a
caller's filters, attributes and document text. The error's class and code say enough.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool


class DatabaseError(Exception):
    """A statement failed; the message is the driver error's class and code only."""


def redacted(exc: Exception) -> DatabaseError:
    """`exc` without its message: its class, plus Postgres' SQLSTATE or SQLite's extended code."""
    name = f"{type(exc).__module__}.{type(exc).__qualname__}"
    code = getattr(exc, "sqlstate", None) or getattr(exc, "extendedresult", None)
    return DatabaseError(f"{name} (code {code})" if code else name)


@asynccontextmanager
async def connection(pool: AsyncConnectionPool) -> AsyncIterator[AsyncConnection]:
    """A pooled connection whose statement errors are `redacted`."""
    try:
        async with pool.connection() as conn:
            yield conn
    except psycopg.OperationalError:
        raise  # the database is unreachable: the caller answers UNAVAILABLE, or the job retries
    except psycopg.Error as exc:
        raise redacted(exc) from None
