"""The gRPC server every service runs: interceptors, health checking, reflection."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from stackmesh_common.config import ConfigError
from stackmesh_common.interceptors import ServiceInterceptor

# Large enough for batched embeddings and long chat histories.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024
MAX_METADATA_BYTES = 96 * 1024


@dataclass
class Servicer:
    """A servicer instance with its generated `add_XServicer_to_server` and full service name."""

    impl: Any
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    name: str


class NotServed(grpc.GenericRpcHandler):
    """Answers a method no servicer handles — an API of the contract this service does not
    implement (yet) — with UNIMPLEMENTED naming it, where gRPC says only "Method not found!"."""

    def __init__(self, service: str) -> None:
        self.service_name = service

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        method = handler_call_details.method.lstrip("/")

        async def refuse(request: bytes, context: grpc.aio.ServicerContext) -> None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, f"{method} is not served by the {self.service_name} service yet")

        return grpc.unary_unary_rpc_method_handler(refuse)


@dataclass
class Server:
    """A started grpc.aio server; `port` is the bound one (useful when asked for port 0)."""

    server: grpc.aio.Server
    health: health.aio.HealthServicer
    port: int
    services: list[str] = field(default_factory=list)

    async def stop(self, grace: float = 5.0) -> None:
        for name in ["", *self.services]:
            await self.health.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
        await self.server.stop(grace)


async def start_server(bind_address: str, servicers: list[Servicer], service: str = "this") -> Server:
    """Builds and starts the server: every servicer plus health checking and reflection."""
    server = grpc.aio.server(
        interceptors=[ServiceInterceptor()],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            # Above the 60 KiB of headers the gateway takes (the transcoder forwards them, the
            # REST path included): a long URL gets Envoy's 431, not RESOURCE_EXHAUSTED (a 429)
            # from here, at random between gRPC's default 8 KiB soft and 16 KiB hard limits.
            ("grpc.max_metadata_size", MAX_METADATA_BYTES),
            ("grpc.absolute_max_metadata_size", MAX_METADATA_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [s.name for s in servicers]
    for servicer in servicers:
        servicer.add_to_server(servicer.impl, server)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    server.add_generic_rpc_handlers((NotServed(service),))  # last: only what nothing else serves
    port = server.add_insecure_port(bind_address)
    if port == 0:
        raise ConfigError(f"cannot bind {bind_address}: the port is taken or the address is not local")
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return Server(server, health_servicer, port, names)
