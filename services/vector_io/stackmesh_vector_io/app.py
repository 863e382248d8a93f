"""The vector_io service: Files, vector stores on pluggable providers, durable ingestion."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from stackmesh.vector_io.v1 import files_service_pb2_grpc as files_grpc
from stackmesh.vector_io.v1 import vector_io_service_pb2_grpc as pb_grpc
from stackmesh_common.config import ConfigError
from stackmesh_common.service import ServiceContext, ServiceSpec
from stackmesh_vector_io import providers
from stackmesh_vector_io.embeddings import EmbeddingClient
from stackmesh_vector_io.files import FileRepository
from stackmesh_vector_io.files_servicer import FilesServicer
from stackmesh_vector_io.ingestion import KIND, IngestionQueue, Ingestor
from stackmesh_vector_io.objects import LocalDirectoryStore
from stackmesh_vector_io.providers.base import ProviderContext
from stackmesh_vector_io.service import VectorIOService
from stackmesh_vector_io.settings import Settings
from stackmesh_vector_io.stores import StoreRepository
from stackmesh_vector_io.stores_servicer import VectorStoresServicer
from stackmesh_vector_io.vector_io_servicer import VectorIOServicer

log = logging.getLogger("stackmesh.vector_io")

SERVICE = "vector_io"
# How often expired files are deleted.
SWEEP_INTERVAL_S = 60.0


def data_dir(ctx: ServiceContext) -> Path:
    return ctx.config.state_dir / "data" / SERVICE


def provider_context(ctx: ServiceContext) -> ProviderContext:
    return ProviderContext(postgres=ctx.config.postgres_for(SERVICE), schema=SERVICE, data_dir=data_dir(ctx))


async def sweep_expired_files(service: VectorIOService) -> None:
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_S)
        try:
            for file_id in await service.files.delete_expired():
                await service.detach_everywhere(file_id)
        except Exception:
            log.exception("sweeping expired files failed")


async def setup(ctx: ServiceContext) -> None:
    settings: Settings = ctx.settings
    if not ctx.providers:
        raise ConfigError("the vector_io service needs at least one provider (remote::pgvector, inline::sqlite-vec)")
    default_provider = settings.default_provider_id or ctx.providers[0].provider_id
    if default_provider not in ctx.provider_impls:
        raise ConfigError(f"settings.default_provider_id {default_provider!r} is not a provider of the vector_io service")
    objects = LocalDirectoryStore(settings.files_dir or data_dir(ctx) / "files")
    files = FileRepository(ctx.pool, objects)
    stores = StoreRepository(ctx.pool)
    embedder = EmbeddingClient(ctx.peers.inference, settings.inference_timeout_s, settings.embedding_batch_size)
    kind = settings.ingestion.kind(KIND)
    job_queue = await ctx.job_queue(
        kind, settings.ingestion, lambda: Ingestor(stores, files, objects, ctx.provider_impls, embedder, settings.ingestion)
    )
    if not ctx.serving:
        return
    queue = IngestionQueue(job_queue, kind)
    service = VectorIOService(settings, ctx.provider_impls, default_provider, stores, files, embedder, queue, draining=ctx.draining)
    ctx.background(sweep_expired_files(service), "expired-files")
    upload_limit = ctx.config.gateway.max_upload_bytes
    ctx.add_servicer(FilesServicer(files, objects, upload_limit, service.detach_everywhere), files_grpc.add_FilesServiceServicer_to_server)
    ctx.add_servicer(VectorStoresServicer(service), pb_grpc.add_VectorStoresServiceServicer_to_server)
    ctx.add_servicer(VectorIOServicer(service), pb_grpc.add_VectorIOServiceServicer_to_server)


SPEC = ServiceSpec(
    name=SERVICE,
    setup=setup,
    migrations="stackmesh_vector_io.migrations",
    providers=providers.registry,
    settings=Settings,
    provider_context=provider_context,
    uses_nats=True,
)
