"""The inspect API (health, version, providers, routes), hosted by every service.

Each service answers for itself; the one the gateway routes /v1/inspect to (the
distribution's `gateway.inspect_service`) also asks its peers over gRPC, so callers see
the whole mesh. Peer calls carry `x-stackmesh-scope: local` so peers do not fan out again.
"""

from __future__ import annotations

import asyncio
import re
import logging
from importlib.metadata import version
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import grpc
from google.api import annotations_pb2
from google.protobuf import descriptor_pool, struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc

from stackmesh.inspect.v1 import inspect_service_pb2 as pb
from stackmesh.inspect.v1 import inspect_service_pb2_grpc as pb_grpc
from stackmesh_common.config import StackConfig
from stackmesh_common.errors import NotFound
from stackmesh_common.peers import peer_channel
from stackmesh_common.registry import LoadedProvider

log = logging.getLogger("stackmesh.inspect")

SCOPE_HEADER = "x-stackmesh-scope"
PEER_TIMEOUT_S = 2.0
# Config keys holding credentials, matched against the words of a key (`api_key`, `apiKey`,
# `access_token`), so `max_tokens` or `tokenizer` stay readable.
_SECRET_WORDS = {"key", "apikey", "token", "secret", "password", "passwd", "credentials"}
# libpq-style `password=…` inside a connection string.
_INLINE_PASSWORD = re.compile(r"(password\s*=\s*)\S+", re.IGNORECASE)
MASK = "********"
_HTTP_METHODS = ("get", "put", "post", "delete", "patch")


def _is_secret(key: str) -> bool:
    words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", key).lower())
    return any(word in _SECRET_WORDS for word in words)


def _redacted_text(text: str) -> str:
    """A URL's password (`postgresql://user:pw@host`) and inline `password=…` masked."""
    try:
        parts = urlsplit(text)
        password = parts.password
    except ValueError:
        password = None
    if password:
        netloc = parts.netloc.replace(f":{password}@", f":{MASK}@", 1)
        text = urlunsplit(parts._replace(netloc=netloc))
    return _INLINE_PASSWORD.sub(rf"\g<1>{MASK}", text)


def redacted(value: Any) -> Any:
    """A provider config as /v1/providers shows it: credentials masked at any depth."""
    if isinstance(value, dict):
        return {k: MASK if _is_secret(k) and v not in (None, "") else redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(item) for item in value]
    if isinstance(value, str):
        return _redacted_text(value)
    return value


def http_routes(service_names: list[str]) -> list[tuple[str, str]]:
    """(method, path) of every HTTP binding of the named gRPC services."""
    pool = descriptor_pool.Default()
    routes = []
    for name in service_names:
        for method in pool.FindServiceByName(name).methods:
            rule = method.GetOptions().Extensions[annotations_pb2.http]
            for binding in [rule, *rule.additional_bindings]:
                verb = binding.WhichOneof("pattern")
                if verb in _HTTP_METHODS:
                    routes.append((verb.upper(), getattr(binding, verb)))
    return routes


class InspectServicer(pb_grpc.InspectServiceServicer):
    def __init__(self, service: str, config: StackConfig, providers: list[LoadedProvider], hosted: list[str]) -> None:
        self.service = service
        self.config = config
        self.providers = providers
        self.hosted = hosted

    def _peers(self) -> list[tuple[str, str]]:
        return [(name, svc.address) for name, svc in self.config.services.items() if name != self.service]

    @staticmethod
    def _is_local(context: grpc.aio.ServicerContext) -> bool:
        return dict(context.invocation_metadata() or ()).get(SCOPE_HEADER) == "local"

    async def _ask_peers(self, rpc: str, request: Any) -> list[Any]:
        async def ask(name: str, address: str) -> Any:
            async with peer_channel(address) as channel:
                stub = pb_grpc.InspectServiceStub(channel)
                try:
                    return await getattr(stub, rpc)(request, timeout=PEER_TIMEOUT_S, metadata=((SCOPE_HEADER, "local"),))
                except grpc.aio.AioRpcError as exc:
                    log.warning("peer %s did not answer %s: %s", name, rpc, exc.code().name)
                    return None

        answers = await asyncio.gather(*(ask(name, address) for name, address in self._peers()))
        return [a for a in answers if a is not None]

    async def _peer_health(self, address: str) -> bool:
        async with peer_channel(address) as channel:
            try:
                reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=PEER_TIMEOUT_S)
            except grpc.aio.AioRpcError:
                return False
        return reply.status == health_pb2.HealthCheckResponse.SERVING

    async def GetHealth(self, request: pb.GetHealthRequest, context: grpc.aio.ServicerContext) -> pb.HealthInfo:
        if self._is_local(context):
            return pb.HealthInfo(status="OK")
        healthy = await asyncio.gather(*(self._peer_health(address) for _, address in self._peers()))
        return pb.HealthInfo(status="OK" if all(healthy) else "Error")

    async def GetVersion(self, request: pb.GetVersionRequest, context: grpc.aio.ServicerContext) -> pb.VersionInfo:
        return pb.VersionInfo(version=version("stackmesh-common"))

    def _local_providers(self) -> list[pb.ProviderInfo]:
        infos = []
        for provider in self.providers:
            config = struct_pb2.Struct()
            config.update(redacted(provider.config.model_dump(mode="json")))
            health = struct_pb2.Struct()
            health.update({"status": "OK"})
            infos.append(
                pb.ProviderInfo(
                    api=self.service,
                    provider_id=provider.provider_id,
                    provider_type=provider.provider_type,
                    config=config,
                    health=health,
                )
            )
        return infos

    async def ListProviders(self, request: pb.ListProvidersRequest, context: grpc.aio.ServicerContext) -> pb.ListProvidersResponse:
        data = self._local_providers()
        if not self._is_local(context):
            for answer in await self._ask_peers("ListProviders", request):
                data.extend(answer.data)
        return pb.ListProvidersResponse(data=data)

    async def GetProvider(self, request: pb.GetProviderRequest, context: grpc.aio.ServicerContext) -> pb.ProviderInfo:
        for provider in (await self.ListProviders(pb.ListProvidersRequest(), context)).data:
            if provider.provider_id == request.provider_id:
                return provider
        raise NotFound(f"provider `{request.provider_id}` does not exist", param="provider_id")

    async def ListRoutes(self, request: pb.ListRoutesRequest, context: grpc.aio.ServicerContext) -> pb.ListRoutesResponse:
        provider_types = sorted({p.provider_type for p in self.providers})
        data = [
            pb.RouteInfo(route=path, method=method, provider_types=provider_types)
            for method, path in http_routes(self.hosted)
            if not path.endswith(":stream")
        ]
        if not self._is_local(context):
            for answer in await self._ask_peers("ListRoutes", request):
                data.extend(answer.data)
        return pb.ListRoutesResponse(data=data)
