"""What the servicers share: providers, repositories, the embedder and the ingestion queue, and
the operations that span them (attach and wait for ingestion, detach, file existence, chunking defaults)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from stackmesh.vector_io.v1 import vector_store_pb2 as vs_pb
from stackmesh_common.access import Action
from stackmesh_common.errors import InvalidArgument, NotFound
from stackmesh_vector_io.chunking import Strategy, resolve
from stackmesh_vector_io.embeddings import EmbeddingClient, EmbeddingModel
from stackmesh_vector_io.files import FileRepository
from stackmesh_vector_io.ingestion import SERVER_ERROR, IngestionQueue
from stackmesh_vector_io.providers.base import VectorIOProvider
from stackmesh_vector_io.settings import Settings
from stackmesh_vector_io.stores import Attachment, BatchRecord, StoreFileRecord, StoreRecord, StoreRepository
from stackmesh_vector_io.waiting import poll_until, wait_budget


@dataclass
class VectorIOService:
    settings: Settings
    providers: dict[str, VectorIOProvider]
    default_provider_id: str
    stores: StoreRepository
    files: FileRepository
    embedder: EmbeddingClient
    queue: IngestionQueue
    # Set when the service begins shutting down: attach calls stop waiting for ingestion and
    # answer with what they have, rather than be cut off when the drain's grace period ends.
    draining: asyncio.Event = field(default_factory=asyncio.Event)
    # Embedding models by id: their dimension and context length do not change while registered.
    _models: dict[str, EmbeddingModel] = field(default_factory=dict)

    def provider(self, provider_id: str) -> VectorIOProvider:
        try:
            return self.providers[provider_id]
        except KeyError:
            raise InvalidArgument(
                f"unknown vector_io provider `{provider_id}`; this distribution has: {', '.join(sorted(self.providers))}",
                param="provider_id",
            ) from None

    async def model(self, name: str) -> EmbeddingModel:
        if name not in self._models:
            self._models[name] = await self.embedder.model(name)
        return self._models[name]

    async def chunking(
        self, store: StoreRecord, strategy: vs_pb.ChunkingStrategy | None, param: str = "chunking_strategy"
    ) -> Strategy:
        context_length = (await self.model(store.embedding_model)).context_length
        return resolve(strategy, context_length, param)

    async def files_exist(self, file_ids: list[str]) -> None:
        """A 404 naming the first of `file_ids` that is not a live file the caller may read
        (attaching another tenant's file is as impossible as attaching a missing one)."""
        if not file_ids:
            return
        found = await self.files.existing(file_ids, Action.READ)
        for file_id in file_ids:
            if file_id not in found:
                raise NotFound(f"file `{file_id}` not found", param="file_id")

    async def attach(self, store_id: str, attachments: list[Attachment], batch_id: str | None) -> list[StoreFileRecord]:
        """Attaches files and enqueues their ingestion; files that cannot be queued are marked failed."""
        records = await self.stores.attach(store_id, attachments, batch_id)
        try:
            await self.queue.enqueue(records)
        except Exception as exc:
            for record in records:
                await self.stores.fail(store_id, record.file_id, record.generation, SERVER_ERROR, str(exc))
            raise
        return records

    async def settled_file(self, attached: StoreFileRecord, time_remaining: float | None) -> StoreFileRecord:
        """The attached file once its ingestion ended, or as it is when the wait runs out."""
        return await poll_until(
            attached,
            lambda: self.stores.get_file(attached.vector_store_id, attached.file_id),
            lambda record: record.status != "in_progress",
            wait_budget(self.settings.attach_wait_s, time_remaining),
            self.draining,
        )

    async def settled_batch(self, store_id: str, batch_id: str, time_remaining: float | None) -> BatchRecord:
        """The batch once none of its files is in progress, or as it is when the wait runs out."""
        return await poll_until(
            await self.stores.get_batch(store_id, batch_id),
            lambda: self.stores.get_batch(store_id, batch_id),
            lambda batch: batch.status != "in_progress",
            wait_budget(self.settings.attach_wait_s, time_remaining),
            self.draining,
        )

    async def detach(self, store_id: str, provider_id: str, file_id: str) -> None:
        # The row goes first: an ingestion holding it finishes before, one not yet there does nothing.
        await self.stores.detach(store_id, file_id)
        await self.provider(provider_id).delete_file_chunks(store_id, file_id)

    async def detach_everywhere(self, file_id: str) -> None:
        """Removes a deleted file from every store it was attached to."""
        for store_id, provider_id in await self.stores.stores_with_file(file_id):
            try:
                await self.detach(store_id, provider_id, file_id)
            except NotFound:
                continue
