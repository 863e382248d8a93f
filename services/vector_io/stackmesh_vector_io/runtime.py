"""Opens everything the service and its ingestion workers run on, from the distribution."""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from psycopg_pool import AsyncConnectionPool

from stackmesh_common import jobs
from stackmesh_common.config import ConfigError, StackConfig
from stackmesh_common.db import migrate, open_pool
from stackmesh_common.registry import LoadedProvider
from stackmesh_vector_io import providers
from stackmesh_vector_io.embeddings import EmbeddingClient
from stackmesh_vector_io.files import FileRepository
from stackmesh_vector_io.ingestion import IngestionQueue, Ingestor, job_kind
from stackmesh_vector_io.objects import LocalDirectoryStore
from stackmesh_vector_io.providers.base import ProviderContext
from stackmesh_vector_io.service import VectorIOService
from stackmesh_vector_io.settings import Settings
from stackmesh_vector_io.stores import StoreRepository

SERVICE = "vector_io"
# The service that computes embeddings.
INFERENCE = "inference"


@dataclass
class Runtime:
    service: VectorIOService
    ingestor: Ingestor
    kind: jobs.JobKind
    nats: NatsClient
    pool: AsyncConnectionPool
    loaded: list[LoadedProvider]

    def worker(self) -> jobs.JobWorker:
        return jobs.JobWorker(self.nats, self.kind, self.ingestor, self.service.settings.ingestion.concurrency)

    async def close(self) -> None:
        # Acks are synchronous, so nothing is left to drain; draining would wait on the
        # pull subscription's inbox until its timeout.
        await self.nats.flush()
        await self.nats.close()
        await self.service.embedder.close()
        for provider in self.loaded:
            await provider.impl.close()
        await self.pool.close()


async def open_runtime(config: StackConfig) -> Runtime:
    service = config.service(SERVICE)
    settings = Settings.model_validate(service.settings)
    registry = providers.registry()
    # Parse every provider config before opening anything: a typo fails fast.
    for provider in service.providers:
        registry.parse_config(provider)
    if not service.providers:
        raise ConfigError("the vector_io service needs at least one provider (remote::pgvector, inline::sqlite-vec)")
    default_provider = settings.default_provider_id or service.providers[0].provider_id
    if default_provider not in {p.provider_id for p in service.providers}:
        raise ConfigError(f"settings.default_provider_id {default_provider!r} is not a provider of the vector_io service")
    inference = config.service(INFERENCE)

    data_dir = config.state_dir / "data" / SERVICE
    pool = await open_pool(config.postgres, schema=SERVICE)
    await migrate(pool, SERVICE, "stackmesh_vector_io.migrations")
    context = ProviderContext(postgres=config.postgres, schema=SERVICE, data_dir=data_dir)
    loaded = [await registry.create(p, context) for p in service.providers]
    objects = LocalDirectoryStore(settings.files_dir or data_dir / "files")
    files = FileRepository(pool, objects)
    stores = StoreRepository(pool)
    embedder = EmbeddingClient(inference.address, settings.inference_timeout_s, settings.embedding_batch_size)
    nc = await jobs.connect(config.nats, SERVICE)
    kind = job_kind(settings.ingestion)
    await jobs.ensure_stream(nc, kind)
    impls = {p.provider_id: p.impl for p in loaded}
    svc = VectorIOService(settings, impls, default_provider, stores, files, embedder, IngestionQueue(nc, kind))
    return Runtime(svc, Ingestor(stores, files, objects, impls, embedder), kind, nc, pool, loaded)
