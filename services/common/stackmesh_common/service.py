"""The one way to build a stackmesh service: a declarative ServiceSpec, one build, one serve.

A service declares what it needs — its schema's migrations, its provider registry, its typed
settings, whether it talks to NATS — and a `setup` that wires its servicers from a ready
ServiceContext. The kit does the rest in the same order for every service: validate the
whole config (a typo fails before anything opens), open Postgres and migrate, connect to
NATS, load providers, run setup, serve (with health, reflection and inspect); on SIGTERM:
drain streams, stop the server, stop background work, then close what was opened in
reverse order. Worker processes (`serve_worker`) share all of it but the gRPC server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import grpc
from nats.aio.client import Client as NatsClient
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel, ConfigDict, ValidationError

from stackmesh.inspect.v1 import inspect_service_pb2_grpc as inspect_grpc
from stackmesh_common import access, jobs
from stackmesh_common.config import ConfigError, ServiceConfig, StackConfig, load_config
from stackmesh_common.db import migrate, open_pool
from stackmesh_common.inspect import InspectServicer
from stackmesh_common.logging import setup_logging
from stackmesh_common.peers import Peers
from stackmesh_common.registry import LoadedProvider, ProviderRegistry
from stackmesh_common.server import Servicer, start_server
from stackmesh_common.telemetry import metrics, tracing

log = logging.getLogger("stackmesh.service")

COMMON_MIGRATIONS = "stackmesh_common.migrations"
# Seconds a stopping service gives in-flight calls before cutting them.
STOP_GRACE_S = 5.0


class NoSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class ServiceSpec:
    """What a service is made of; `setup` adds its servicers and background work."""

    name: str
    setup: Callable[["ServiceContext"], Awaitable[None]]
    # Package of the service's own `NNN_name.sql` migrations (the shared job and resource
    # tables are migrated into every service's schema first).
    migrations: str | None = None
    providers: Callable[[], ProviderRegistry] | None = None
    settings: type[BaseModel] = NoSettings
    # Typed models of the resources the distribution seeds (`resources.<kind>`).
    resources: dict[str, type[BaseModel]] = field(default_factory=dict)
    # What providers get as their `context` (shared clients, data folders); None by default.
    provider_context: Callable[["ServiceContext"], Any] | None = None
    uses_nats: bool = False
    # Whether worker processes load the providers too (vector_io writes chunks through
    # them; inference's batch workers call the API instead of loading models).
    workers_load_providers: bool = True


def _service_name(add_to_server: Callable[..., None]) -> str:
    """`stackmesh.x.v1.FooService` from the generated `add_FooServiceServicer_to_server`."""
    short = add_to_server.__name__.removeprefix("add_").removesuffix("Servicer_to_server")
    pb2 = importlib.import_module(add_to_server.__module__.removesuffix("_grpc"))
    return pb2.DESCRIPTOR.services_by_name[short].full_name


@dataclass
class ServiceContext:
    """Everything a service's setup builds on, and what the kit closes at shutdown."""

    spec: ServiceSpec
    config: StackConfig
    service: ServiceConfig
    settings: Any
    resources: dict[str, list[Any]]
    pool: AsyncConnectionPool
    peers: Peers
    nats: NatsClient | None = None
    providers: list[LoadedProvider] = field(default_factory=list)
    # Set when shutdown begins: long streams end with an in-band "retry" error instead of
    # being cut when the grace period runs out.
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    servicers: list[Servicer] = field(default_factory=list)
    # False in a worker process: setup starts job runners but adds no servicers.
    serving: bool = True
    # Job kinds this process queues or runs: kind -> (stream, durable consumer), for metrics.
    job_kinds: dict[str, tuple[str, str]] = field(default_factory=dict)
    _closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _stoppers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    _tasks: list[asyncio.Task[Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def provider_impls(self) -> dict[str, Any]:
        return {p.provider_id: p.impl for p in self.providers}

    def add_servicer(self, impl: Any, add_to_server: Callable[[Any, grpc.aio.Server], None]) -> None:
        self.servicers.append(Servicer(impl, add_to_server, _service_name(add_to_server)))

    def on_close(self, close: Callable[[], Awaitable[None]]) -> None:
        """Runs at shutdown after the server stopped, in reverse order of registration."""
        self._closers.append(close)

    def on_stop(self, stop: Callable[[], Awaitable[None]]) -> None:
        """Runs at shutdown before anything closes (job workers finishing their jobs)."""
        self._stoppers.append(stop)

    def background(self, work: Coroutine[Any, Any, Any], name: str) -> None:
        """A task that runs until shutdown; a crash is logged, not silent."""

        async def guarded() -> None:
            try:
                await work
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("background task %s of %s failed", name, self.name)

        self._tasks.append(asyncio.create_task(guarded(), name=f"{self.name}:{name}"))

    async def job_queue(self, kind: jobs.JobKind, workers: jobs.WorkerSettings, handler: Callable[[], jobs.JobHandler]) -> jobs.JobQueue:
        """The queue of one kind of job. Its workers run here in a worker process, and in the
        service process too when `workers.in_process`; `handler` is built only then."""
        if self.nats is None:
            raise ConfigError(f"service {self.name!r} queues jobs but its spec does not set uses_nats")
        self.job_kinds[kind.name] = (kind.stream, kind.durable)
        if not self.serving or workers.in_process:
            await self.start_worker(kind, handler(), workers.concurrency)
        return jobs.JobQueue(self.nats, self.pool)

    async def start_worker(self, kind: jobs.JobKind, handler: jobs.JobHandler, concurrency: int) -> jobs.JobRunner:
        """Starts a job runner in this process; it stops (jobs handed back) at shutdown."""
        if self.nats is None:
            raise ConfigError(f"service {self.name!r} runs jobs but its spec does not set uses_nats")
        self.job_kinds[kind.name] = (kind.stream, kind.durable)
        runner = jobs.JobRunner(self.nats, self.pool, kind, handler, concurrency)
        await runner.start()
        self.on_stop(runner.stop)
        return runner

    async def close(self) -> None:
        self.draining.set()
        for stop in self._stoppers:
            await stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for close in reversed(self._closers):
            try:
                await close()
            except Exception:
                log.exception("closing %s failed", self.name)


def _validate(spec: ServiceSpec, config: StackConfig) -> tuple[ServiceConfig, Any, dict[str, list[Any]]]:
    """Parses every provider config, the settings and the seeded resources; a typo names itself."""
    service = config.service(spec.name)
    if spec.providers is not None:
        registry = spec.providers()
        for provider in service.providers:
            registry.parse_config(provider)
    elif service.providers:
        raise ConfigError(f"service {spec.name!r} takes no providers")
    try:
        settings = spec.settings.model_validate(service.settings)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings of service {spec.name!r}:\n{exc}") from None
    unknown = set(service.resources) - set(spec.resources)
    if unknown:
        raise ConfigError(
            f"service {spec.name!r} has no resources of kind {', '.join(sorted(unknown))}; "
            f"it takes: {', '.join(sorted(spec.resources)) or 'none'}"
        )
    provider_ids = {p.provider_id for p in service.providers}
    resources: dict[str, list[Any]] = {}
    for kind, model in spec.resources.items():
        try:
            resources[kind] = [model.model_validate(item) for item in service.resources.get(kind, [])]
        except ValidationError as exc:
            raise ConfigError(f"invalid {kind} of service {spec.name!r}:\n{exc}") from None
        for resource in resources[kind]:
            if getattr(resource, "provider_id", None) not in (None, *provider_ids):
                raise ConfigError(
                    f"{kind} resource {resource.model_dump(exclude_defaults=True)} names provider {resource.provider_id!r}; "
                    f"{spec.name} providers: {', '.join(sorted(provider_ids)) or 'none'}"
                )
    return service, settings, resources


async def build(spec: ServiceSpec, config: StackConfig, *, serving: bool = True) -> ServiceContext:
    """Opens everything the service runs on and runs its setup; on failure closes what opened."""
    service, settings, resources = _validate(spec, config)
    access.configure(access.AccessPolicy.from_config(config.auth.access))
    pool = await open_pool(config.postgres_for(spec.name), schema=spec.name)
    ctx = ServiceContext(spec, config, service, settings, resources, pool, Peers(config), serving=serving)
    ctx.on_close(pool.close)
    ctx.on_close(ctx.peers.close)
    try:
        await migrate(pool, spec.name, COMMON_MIGRATIONS, prefix="common/")
        if spec.migrations:
            await migrate(pool, spec.name, spec.migrations)
        if spec.uses_nats:
            ctx.nats = await jobs.connect(config.nats, spec.name)
            ctx.on_close(ctx.nats.close)
        if spec.providers is not None and (serving or spec.workers_load_providers):
            registry = spec.providers()
            context = spec.provider_context(ctx) if spec.provider_context else None
            for provider in service.providers:
                loaded = await registry.create(provider, context)
                ctx.providers.append(loaded)
                ctx.on_close(loaded.impl.close)
        await spec.setup(ctx)
        if serving:
            hosted = [s.name for s in ctx.servicers]
            # Every service hosts inspect; the gateway picks one to aggregate the mesh.
            ctx.add_servicer(InspectServicer(spec.name, config, ctx.providers, hosted), inspect_grpc.add_InspectServiceServicer_to_server)
    except BaseException:
        await ctx.close()
        raise
    return ctx


def _start_telemetry(ctx: ServiceContext, process: str, metrics_port: int | None) -> None:
    """Traces to their exporters, and /metrics on `metrics_port` (the distribution's port
    when None: one process per container)."""
    traces = tracing.setup(ctx.config, process)
    if traces is not None:
        for writer in traces.writers:
            ctx.background(writer.run(), f"spans to the {writer.sink.name}")
        ctx.on_close(lambda: asyncio.to_thread(traces.provider.shutdown))  # writes the last spans
    settings = ctx.config.telemetry.metrics
    if settings.enabled:
        host, port = ctx.service.listen_host or ctx.service.host, settings.port if metrics_port is None else metrics_port
        try:
            metrics.serve(host, port, ctx.pool)
        except OSError as exc:
            raise ConfigError(f"cannot serve metrics on port {port}: {exc.strerror}") from None
        log.info("metrics", extra={"fields": {"url": f"http://{host}:{port}/metrics"}})
        if ctx.nats is not None:
            ctx.background(metrics.watch_jobs(ctx.pool, ctx.nats, ctx.job_kinds), "job metrics")


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def serve(spec: ServiceSpec, config: StackConfig, metrics_port: int | None = None) -> None:
    """Runs one service until SIGTERM or SIGINT, then drains calls and closes everything."""
    ctx = await build(spec, config)
    try:
        _start_telemetry(ctx, spec.name, metrics_port)
        server = await start_server(ctx.service.bind_address, ctx.servicers, spec.name)
    except BaseException:
        await ctx.close()
        raise
    log.info("serving", extra={"fields": {"service": spec.name, "address": ctx.service.bind_address, "port": server.port}})
    await _until_signalled()
    log.info("shutting down", extra={"fields": {"service": spec.name}})
    ctx.draining.set()
    await server.stop(STOP_GRACE_S)
    await ctx.close()


async def serve_worker(spec: ServiceSpec, config: StackConfig, metrics_port: int | None = None) -> None:
    """Runs the service's setup without a gRPC server (job workers scaled apart from the API)."""
    ctx = await build(spec, config, serving=False)
    try:
        _start_telemetry(ctx, f"{spec.name}-worker", metrics_port)
    except BaseException:
        await ctx.close()
        raise
    log.info("worker started", extra={"fields": {"service": spec.name}})
    await _until_signalled()
    log.info("worker stopping", extra={"fields": {"service": spec.name}})
    await ctx.close()


def main(spec: ServiceSpec, *, worker: bool = False) -> None:
    """The `python -m stackmesh_<service>` entry point: --config, logging, serve."""
    prog = f"stackmesh-{spec.name}" + ("-worker" if worker else "")
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--config", required=True, help="distribution YAML file")
    parser.add_argument("--log-level", default="INFO")
    parser.add_argument("--metrics-port", type=int, help="port of /metrics (default: telemetry.metrics.port)")
    if not worker:
        parser.add_argument("--port", type=int, help="gRPC port of this replica (default: services.<name>.port)")
    args = parser.parse_args()
    setup_logging(spec.name + (".worker" if worker else ""), args.log_level)
    try:
        config = load_config(args.config)
        if getattr(args, "port", None) is not None:
            config.services[spec.name] = config.service(spec.name).model_copy(update={"port": args.port})
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run((serve_worker if worker else serve)(spec, config, args.metrics_port))
    except ConfigError as exc:
        raise SystemExit(f"{prog}: {exc}") from None
