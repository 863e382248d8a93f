"""The operators' key management and the services' usage reports (auth port only)."""

from __future__ import annotations

import grpc

from stackmesh.auth.v1 import auth_service_pb2 as pb
from stackmesh_auth.identity import Identity, KeyLimits, check_principal
from stackmesh_auth.keys import KeyStore
from stackmesh_auth.quotas import Quotas, limits_for
from stackmesh_common.config import QuotasConfig
from stackmesh_common.errors import InvalidArgument

# A report is a few principals' sums; a huge one is a bug in the reporter.
MAX_REPORT_ENTRIES = 10_000
# Tokens of one principal in one report: far above any real one, and 8 million reports a day
# short of the bigint the day's count is (two entries of 2**62 summed past it, and the insert
# was an internal error).
MAX_REPORTED_TOKENS = 2**40


class KeysServicer:
    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    async def CreateKey(self, request: pb.CreateKeyRequest, context: grpc.aio.ServicerContext) -> pb.CreateKeyResponse:
        record, secret = await self.keys.create(request)
        return pb.CreateKeyResponse(key=record.to_proto(), secret=secret)

    async def ListKeys(self, request: pb.ListKeysRequest, context: grpc.aio.ServicerContext) -> pb.ListKeysResponse:
        return pb.ListKeysResponse(data=[r.to_proto() for r in await self.keys.list(request.principal)])

    async def RevokeKey(self, request: pb.RevokeKeyRequest, context: grpc.aio.ServicerContext) -> pb.ApiKey:
        if not request.key:
            raise InvalidArgument("`key` (a key id or secret) is required", param="key")
        return (await self.keys.revoke(request.key)).to_proto()


class UsageServicer:
    def __init__(self, quotas: Quotas, config: QuotasConfig) -> None:
        self.quotas = quotas
        self.config = config

    async def ReportUsage(self, request: pb.ReportUsageRequest, context: grpc.aio.ServicerContext) -> pb.ReportUsageResponse:
        if len(request.usage) > MAX_REPORT_ENTRIES:
            raise InvalidArgument(f"at most {MAX_REPORT_ENTRIES} entries per report", param="usage")
        totals: dict[str, int] = {}
        for entry in request.usage:
            if entry.tokens < 0:
                raise InvalidArgument("`tokens` cannot be negative", param="usage.tokens")
            totals[entry.principal] = totals.get(entry.principal, 0) + entry.tokens
            if totals[entry.principal] > MAX_REPORTED_TOKENS:
                raise InvalidArgument(f"a report holds at most {MAX_REPORTED_TOKENS} tokens per principal", param="usage.tokens")
        await self.quotas.report(totals)
        return pb.ReportUsageResponse()

    async def GetUsage(self, request: pb.GetUsageRequest, context: grpc.aio.ServicerContext) -> pb.Usage:
        principal = check_principal(request.principal)
        await self.quotas.refresh()
        day, tokens = self.quotas.used(principal)
        # Without a key the attribute rules cannot apply: these are the default limits.
        limits = limits_for(Identity(principal, {}, KeyLimits()), self.config)
        return pb.Usage(
            principal=principal,
            day=day,
            tokens=tokens,
            requests_per_minute=limits.requests_per_minute,
            tokens_per_day=limits.tokens_per_day,
        )
