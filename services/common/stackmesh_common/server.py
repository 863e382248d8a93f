"""The one gRPC bootstrap every service uses: interceptors, health, reflection, SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Protocol

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from stackmesh_common.config import ConfigError, StackConfig, load_config
from stackmesh_common.interceptors import ServiceInterceptor
from stackmesh_common.logging import setup_logging

log = logging.getLogger("stackmesh.server")

# Large enough for batched embeddings and long chat histories.
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


@dataclass
class Servicer:
    """A servicer instance with its generated `add_XServicer_to_server` and full service name."""

    impl: Any
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    name: str


class ServiceApp(Protocol):
    """What a service's `build()` returns: its servicers, and how to release its providers."""

    servicers: list[Servicer]
    # Set when the service begins shutting down: long streams end with an in-band
    # "shutting down, retry" error instead of being cut when the grace period runs out.
    draining: asyncio.Event

    async def close(self) -> None: ...


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


async def start_server(bind_address: str, servicers: list[Servicer]) -> Server:
    """Builds and starts the server: every servicer plus health checking and reflection."""
    server = grpc.aio.server(
        interceptors=[ServiceInterceptor()],
        options=[
            ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ("grpc.so_reuseport", 0),
        ],
    )
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [s.name for s in servicers]
    for servicer in servicers:
        servicer.add_to_server(servicer.impl, server)
    reflection.enable_server_reflection([*names, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    port = server.add_insecure_port(bind_address)
    if port == 0:
        raise ConfigError(f"cannot bind {bind_address}: the port is taken or the address is not local")
    await server.start()
    for name in ["", *names]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return Server(server, health_servicer, port, names)


async def serve(name: str, config: StackConfig, build: Callable[[StackConfig], Awaitable[ServiceApp]]) -> None:
    """Runs one service until SIGTERM or SIGINT, then drains calls and closes providers."""
    service = config.service(name)
    app = await build(config)
    server = await start_server(service.bind_address, app.servicers)
    log.info("serving", extra={"fields": {"service": name, "address": service.bind_address, "port": server.port}})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down", extra={"fields": {"service": name}})
    app.draining.set()
    await server.stop()
    await app.close()


def main(name: str, build: Callable[[StackConfig], Awaitable[ServiceApp]]) -> None:
    """The `python -m stackmesh_<service>` entry point: --config, logging, serve."""
    parser = argparse.ArgumentParser(prog=f"stackmesh-{name}")
    parser.add_argument("--config", required=True, help="distribution YAML file")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    setup_logging(name, args.log_level)
    try:
        config = load_config(args.config)
        asyncio.run(serve(name, config, build))
    except ConfigError as exc:
        raise SystemExit(f"stackmesh-{name}: {exc}") from None
