"""Requests per minute and tokens per day, per principal.

Requests: a bucket of `requests_per_minute` that refills continuously, so a burst of N passes
and the N+1th within the minute waits. It lives in Postgres (the generic cell rate algorithm:
one row and one statement per request), so N auth replicas enforce one budget, not N.
Tokens: today's (UTC) count from the usage the services report, kept in Postgres (it survives
restarts and is shared by replicas) and read back every USAGE_REFRESH_S; a principal at or
over its budget is refused until midnight UTC. Counts lag usage by up to a report interval, so
a budget can be overrun by the requests in flight when it runs out (as with every provider's
quota).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import math
import time
from dataclasses import dataclass

from psycopg_pool import AsyncConnectionPool

from stackmesh_auth.identity import Identity
from stackmesh_common.config import Limits, QuotasConfig
from stackmesh_common.errors import ResourceExhausted

USAGE_REFRESH_S = 1.0
# Rows of principals whose request budget is full again are deleted this often.
SWEEP_S = 60.0

# One request from `principal`'s budget, one per `interval` seconds with a burst of a minute's
# worth: its arrival time moves on by `interval` unless that puts it over a minute ahead (the
# budget is spent). Row locks order concurrent requests. Returns (taken, seconds until one
# would be taken).
_TAKE_REQUEST = """
WITH taken AS (
    INSERT INTO request_limits AS l (principal, tat) VALUES (%(principal)s, now() + make_interval(secs => %(interval)s))
    ON CONFLICT (principal) DO UPDATE SET tat = GREATEST(l.tat, now()) + make_interval(secs => %(interval)s)
    WHERE GREATEST(l.tat, now()) + make_interval(secs => %(interval)s) <= now() + interval '1 minute'
    RETURNING 1
)
SELECT EXISTS (SELECT FROM taken),
       (SELECT EXTRACT(EPOCH FROM GREATEST(tat, now()) + make_interval(secs => %(interval)s) - now() - interval '1 minute')::float8
        FROM request_limits WHERE principal = %(principal)s)
"""


@dataclass(frozen=True)
class Refusal:
    error: ResourceExhausted
    retry_after_s: int


def limits_for(identity: Identity, config: QuotasConfig) -> Limits:
    """A key's own limits, else the first attribute rule the identity matches, else the default."""
    base = config.default
    for rule in config.by_attribute:
        if rule.value in identity.attributes.get(rule.attribute, ()):
            base = rule
            break
    own = identity.limits
    return Limits(
        requests_per_minute=base.requests_per_minute if own.requests_per_minute is None else own.requests_per_minute,
        tokens_per_day=base.tokens_per_day if own.tokens_per_day is None else own.tokens_per_day,
    )


def _seconds_to_midnight_utc() -> int:
    now = dt.datetime.now(dt.timezone.utc)
    midnight = (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1, math.ceil((midnight - now).total_seconds()))


class Quotas:
    def __init__(self, pool: AsyncConnectionPool, config: QuotasConfig) -> None:
        self.pool = pool
        self.config = config
        self._swept = 0.0
        self._day = ""
        self._used: dict[str, int] = {}

    async def check_request(self, principal: str, limits: Limits) -> Refusal | None:
        rate = limits.requests_per_minute
        if not rate:
            return None
        async with self.pool.connection() as conn:
            taken, wait = await (await conn.execute(_TAKE_REQUEST, {"principal": principal, "interval": 60.0 / rate})).fetchone()
        if taken:
            return None
        wait = max(1, math.ceil(wait))
        return Refusal(
            ResourceExhausted(f"Rate limit reached for {principal}: {rate} requests per minute. Retry in {wait} s.", reason="rate_limit_exceeded"),
            wait,
        )

    def check_tokens(self, principal: str, limits: Limits) -> Refusal | None:
        budget = limits.tokens_per_day
        if not budget or self._used.get(principal, 0) < budget:
            return None
        return Refusal(
            ResourceExhausted(
                f"Token quota reached for {principal}: {self._used[principal]} of {budget} tokens per day used; it resets at 00:00 UTC.",
                reason="insufficient_quota",
            ),
            _seconds_to_midnight_utc(),
        )

    def used(self, principal: str) -> tuple[str, int]:
        return self._day, self._used.get(principal, 0)

    async def report(self, usage: dict[str, int]) -> None:
        """Adds reported tokens to today's counts."""
        usage = {p: t for p, t in usage.items() if t > 0}
        if not usage:
            return
        async with self.pool.connection() as conn:
            await conn.execute(
                "INSERT INTO usage_daily (principal, day, tokens)"
                " SELECT p, (now() AT TIME ZONE 'utc')::date, t FROM unnest(%s::text[], %s::bigint[]) AS u(p, t)"
                " ON CONFLICT (principal, day) DO UPDATE SET tokens = usage_daily.tokens + EXCLUDED.tokens",
                (list(usage), list(usage.values())),
            )
        for principal, tokens in usage.items():
            self._used[principal] = self._used.get(principal, 0) + tokens

    async def refresh(self) -> None:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(
                    "SELECT (now() AT TIME ZONE 'utc')::date::text, principal, tokens FROM usage_daily"
                    " WHERE day = (now() AT TIME ZONE 'utc')::date"
                )
            ).fetchall()
            day = rows[0][0] if rows else (await (await conn.execute("SELECT (now() AT TIME ZONE 'utc')::date::text")).fetchone())[0]
        self._day = day
        self._used = {principal: tokens for _, principal, tokens in rows}

    async def keep_fresh(self) -> None:
        """Re-reads today's counts (other replicas' reports, the day changing) until cancelled,
        and drops request budgets that are full again (no row is the same budget)."""
        while True:
            await self.refresh()
            if time.monotonic() - self._swept > SWEEP_S:
                async with self.pool.connection() as conn:
                    await conn.execute("DELETE FROM request_limits WHERE tat < now()")
                self._swept = time.monotonic()
            await asyncio.sleep(USAGE_REFRESH_S)
