"""Channels to peers, with the interceptor that carries a call's context onto outgoing calls."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import grpc

from stackmesh_common.call_context import (
    ANONYMOUS,
    ATTRIBUTES_HEADER,
    PRINCIPAL_HEADER,
    REQUEST_ID_HEADER,
    attributes,
    encode_attributes,
    principal,
    request_id,
    time_left,
)
from stackmesh_common.config import StackConfig
from stackmesh_common.errors import DeadlineExceeded
from stackmesh_common.server import MAX_MESSAGE_BYTES
from stackmesh_common.peers.agents import AgentsClient
from stackmesh_common.peers.eval import EvalClient
from stackmesh_common.peers.files import FilesClient
from stackmesh_common.peers.inference import InferenceClient
from stackmesh_common.peers.safety import SafetyClient
from stackmesh_common.peers.vector_io import VectorIOClient
from stackmesh_common.telemetry import tracing

_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    # Notice a peer that vanished (a killed process, a dropped connection) within seconds.
    ("grpc.keepalive_time_ms", 10_000),
    ("grpc.keepalive_timeout_ms", 5_000),
]


class CallContextInterceptor:
    """Adds the served call's request id, principal and its attributes, and never lets a peer call outlive
    the served call's deadline."""

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        if (rid := request_id.get()) and REQUEST_ID_HEADER not in metadata:
            metadata.add(REQUEST_ID_HEADER, rid)
        trace_context: dict[str, str] = {}
        tracing.inject(trace_context)
        for key, value in trace_context.items():
            if key not in metadata:
                metadata.add(key, value)
        if (who := principal.get()) != ANONYMOUS and PRINCIPAL_HEADER not in metadata:
            metadata.add(PRINCIPAL_HEADER, who)
            if (attrs := attributes.get()) and ATTRIBUTES_HEADER not in metadata:
                metadata.add(ATTRIBUTES_HEADER, encode_attributes(attrs))
        timeout = details.timeout
        left = time_left()
        if left is not None:
            if left <= 0:
                raise DeadlineExceeded("the request's deadline passed before a call it needed could start")
            timeout = left if timeout is None else min(timeout, left)
        return grpc.aio.ClientCallDetails(details.method, timeout, metadata, details.credentials, details.wait_for_ready)


# grpc.aio files an interceptor under the first of the four call kinds it implements (an
# if/elif chain), so one object implementing all four would only see unary calls: each kind
# gets an interceptor of its own.
class _UnaryUnary(CallContextInterceptor, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _UnaryStream(CallContextInterceptor, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _StreamUnary(CallContextInterceptor, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return await continuation(self._details(details), request_iterator)


class _StreamStream(CallContextInterceptor, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return await continuation(self._details(details), request_iterator)


def peer_channel(*addresses: str) -> grpc.aio.Channel:
    """A channel to a peer. Calls go round robin over its replicas that are connected (one
    that goes away is skipped until it is back): the local launcher's replicas listed here,
    or every address a name resolves to (a headless Kubernetes Service)."""
    target = "ipv4:" + ",".join(addresses) if len(addresses) > 1 else addresses[0]
    options = [*_OPTIONS, ("grpc.lb_policy_name", "round_robin")]
    return grpc.aio.insecure_channel(target, options=options, interceptors=[_UnaryUnary(), _UnaryStream(), _StreamUnary(), _StreamStream()])


class Peers:
    """One channel per peer service of the distribution, opened on first use."""

    def __init__(self, config: StackConfig) -> None:
        self._config = config
        self._channels: dict[str, grpc.aio.Channel] = {}

    def channel(self, service: str) -> grpc.aio.Channel:
        if service not in self._channels:
            self._channels[service] = peer_channel(*self._config.service(service).addresses)
        return self._channels[service]

    def has(self, service: str) -> bool:
        return service in self._config.services

    # Built once: a batch asks for its client on every request it sends.
    @cached_property
    def inference(self) -> InferenceClient:
        return InferenceClient(self.channel("inference"))

    @cached_property
    def files(self) -> FilesClient:
        return FilesClient(self.channel("vector_io"))

    @cached_property
    def vector_io(self) -> VectorIOClient:
        return VectorIOClient(self.channel("vector_io"))

    @cached_property
    def safety(self) -> SafetyClient:
        return SafetyClient(self.channel("safety"))

    @cached_property
    def agents(self) -> AgentsClient:
        return AgentsClient(self.channel("agents"))

    @cached_property
    def eval(self) -> EvalClient:
        return EvalClient(self.channel("eval"))

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()
        self._channels.clear()
