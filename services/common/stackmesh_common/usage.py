"""Tokens spent per principal, reported to the auth service for the tokens_per_day quotas.

Services that spend tokens call `record(n)` where usage is known; it is attributed to the
call's principal and sent in batches every REPORT_INTERVAL_S, so a request never waits on
the report. A report that fails is kept and retried with the next (quotas lag, never drop
usage). Off until `start` is called, in distributions without an auth service.
"""

from __future__ import annotations

import asyncio
import logging

import grpc

from stackmesh.auth.v1 import auth_service_pb2 as pb
from stackmesh.auth.v1 import auth_service_pb2_grpc as pb_grpc
from stackmesh_common.call_context import principal

log = logging.getLogger("stackmesh.usage")

REPORT_INTERVAL_S = 1.0
REPORT_TIMEOUT_S = 5.0


class UsageMeter:
    def __init__(self, channel: grpc.aio.Channel) -> None:
        self._stub = pb_grpc.UsageServiceStub(channel)
        self._pending: dict[str, int] = {}

    def record(self, tokens: int) -> None:
        if tokens > 0:
            who = principal.get()
            self._pending[who] = self._pending.get(who, 0) + tokens

    async def flush(self) -> None:
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        request = pb.ReportUsageRequest(usage=[pb.PrincipalUsage(principal=p, tokens=t) for p, t in pending.items()])
        try:
            await self._stub.ReportUsage(request, timeout=REPORT_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            log.warning("reporting token usage failed (%s); it goes with the next report", exc.code().name)
            for who, tokens in pending.items():
                self._pending[who] = self._pending.get(who, 0) + tokens

    async def run(self) -> None:
        while True:
            await asyncio.sleep(REPORT_INTERVAL_S)
            await self.flush()


_meter: UsageMeter | None = None


def start(meter: UsageMeter) -> None:
    global _meter
    _meter = meter


def record(tokens: int) -> None:
    """Counts `tokens` against the calling principal (nothing when metering is off)."""
    if _meter is not None:
        _meter.record(tokens)
