"""File ingestion as durable jobs: attaching a file enqueues a job; a worker parses, chunks,
embeds and writes it.

Exactly once in effect, though delivered at least once: the job names the attachment's
generation, and the write is one critical section under the file row's lock (re-check the
row, replace the file's chunks atomically, mark it completed). A redelivered or duplicate
job finds the row completed and does nothing; one that died before committing left nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from stackmesh.vector_io.v1 import ingestion_pb2
from stackmesh_common.errors import InvalidArgument, NotFound
from stackmesh_common.jobs import JobContext, JobKind, JobQueue, JobRecord, PermanentJobError
from stackmesh_vector_io.chunking import TOKENIZER, Strategy, TooManyChunks, split
from stackmesh_vector_io.embeddings import EmbeddingClient
from stackmesh_vector_io.files import FileRecord, FileRepository
from stackmesh_vector_io.objects import ObjectStore
from stackmesh_vector_io.parsing import INVALID, ParseError, TextExtractor
from stackmesh_vector_io.providers.base import StoredChunk, VectorIOProvider
from stackmesh_vector_io.settings import IngestionSettings
from stackmesh_vector_io.stores import StoreFileRecord, StoreRepository

log = logging.getLogger("stackmesh.vector_io.ingestion")

KIND = "file_ingestion"
SERVER_ERROR = "server_error"


class IngestionFailed(PermanentJobError):
    """Ingestion cannot succeed on a retry; `code` is OpenAI's last_error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class IngestionQueue:
    """Enqueues the ingestion job of each attached file."""

    def __init__(self, queue: JobQueue, kind: JobKind) -> None:
        self.queue = queue
        self.kind = kind

    async def enqueue(self, files: list[StoreFileRecord]) -> None:
        async def one(record: StoreFileRecord) -> None:
            payload = ingestion_pb2.FileIngestionJob(
                vector_store_id=record.vector_store_id, file_id=record.file_id, generation=record.generation
            )
            # The id names the attachment's generation: submitting it twice is one job.
            job_id = f"ingest_{record.vector_store_id}_{record.file_id}_{record.generation}"
            await self.queue.submit(self.kind, job_id, payload, total=1)

        await asyncio.gather(*(one(record) for record in files))


class Ingestor:
    """The job handler: one file of one store, from bytes to searchable chunks."""

    # Texts embedded between checks that the file is still wanted (and progress logs).
    SLICE = 128

    def __init__(
        self,
        stores: StoreRepository,
        files: FileRepository,
        objects: ObjectStore,
        providers: dict[str, VectorIOProvider],
        embedder: EmbeddingClient,
        limits: IngestionSettings,
    ) -> None:
        self.stores = stores
        self.files = files
        self.objects = objects
        self.providers = providers
        self.embedder = embedder
        self.limits = limits

    payload_type = ingestion_pb2.FileIngestionJob

    @staticmethod
    def _target(payload: ingestion_pb2.FileIngestionJob) -> tuple[str, str, int]:
        return payload.vector_store_id, payload.file_id, payload.generation

    async def _wanted(self, store_id: str, file_id: str, generation: int) -> StoreFileRecord | None:
        try:
            record = await self.stores.get_file(store_id, file_id)
        except NotFound:
            return None
        return record if record.status == "in_progress" and record.generation == generation else None

    async def run(self, job: JobContext) -> dict[str, Any] | None:
        store_id, file_id, generation = self._target(job.payload)
        record = await self._wanted(store_id, file_id, generation)
        if record is None:
            log.info("ingestion of %s into %s is no longer wanted", file_id, store_id)
            return None
        try:
            store = await self.stores.get_store(store_id)
        except NotFound:
            return None  # deleted meanwhile, with its files
        try:
            file = await self.files.get(file_id)
            text = await self._text(file)
        except NotFound:
            raise IngestionFailed(INVALID, f"file `{file_id}` was deleted before it was ingested") from None
        except ParseError as exc:
            raise IngestionFailed(exc.code, exc.message) from None
        try:
            pieces = await asyncio.to_thread(split, text, Strategy(**record.chunking), self.limits.max_chunks)
        except TooManyChunks as exc:
            raise IngestionFailed(
                INVALID, f"the file makes {exc.count} chunks, over the ingestion limit of {self.limits.max_chunks} (max_chunks)"
            ) from None
        vectors = []
        for start in range(0, len(pieces), self.SLICE):
            try:
                texts = [p.text for p in pieces[start : start + self.SLICE]]
                vectors.extend(await self.embedder.embed(store.embedding_model, texts, store.embedding_dimension))
            except InvalidArgument as exc:
                raise IngestionFailed(SERVER_ERROR, exc.message) from None
            log.info(
                "ingest progress",
                extra={"fields": {"vector_store_id": store_id, "file_id": file_id, "embedded": len(vectors), "total": len(pieces), "attempt": job.attempt}},
            )
            await job.progress(len(vectors), len(pieces), "embedding")
            if len(vectors) < len(pieces) and await self._wanted(store_id, file_id, generation) is None:
                return None
        now = int(time.time())
        chunks = [
            StoredChunk(
                chunk_id=f"{file_id}_{position}",
                file_id=file_id,
                position=position,
                text=piece.text,
                embedding=vector,
                metadata={"document_id": file_id, "filename": file.filename},
                chunk_metadata=self._chunk_metadata(f"{file_id}_{position}", file_id, file.filename, piece.tokens, now, store.embedding_model, store.embedding_dimension),
                attributes=record.attributes,
            )
            for position, (piece, vector) in enumerate(zip(pieces, vectors))
        ]
        async with self.stores.claim(store_id, file_id, generation) as claim:
            if claim is None:
                return None
            await self.providers[store.provider_id].replace_file_chunks(store_id, file_id, chunks)
            await claim.complete(len(chunks), sum(len(c.text.encode()) for c in chunks))
        log.info("ingested", extra={"fields": {"vector_store_id": store_id, "file_id": file_id, "chunks": len(chunks)}})
        return {"chunks": len(chunks)}

    async def _text(self, file: FileRecord) -> str:
        """The file's text, read a piece at a time: a file over a limit is read no further."""
        extractor = TextExtractor(
            file.filename, file.content_type, file.bytes, self.limits.max_file_bytes, self.limits.max_text_chars
        )
        async for piece in self.objects.read_chunks(file.object_key):
            extractor.feed(piece)
        return await asyncio.to_thread(extractor.finish)

    @staticmethod
    def _chunk_metadata(
        chunk_id: str, file_id: str, filename: str, tokens: int, now: int, model: str, dimension: int
    ) -> dict[str, Any]:
        return {
            "chunk_id": chunk_id,
            "document_id": file_id,
            "source": filename,
            "created_timestamp": now,
            "updated_timestamp": now,
            "chunk_tokenizer": TOKENIZER,
            "content_token_count": tokens,
            "chunk_embedding_model": model,
            "chunk_embedding_dimension": dimension,
        }

    async def failed(self, job: JobContext, error: BaseException) -> None:
        store_id, file_id, generation = self._target(job.payload)
        if isinstance(error, IngestionFailed):
            code, message = error.code, error.message
        else:
            code, message = SERVER_ERROR, f"ingestion failed {job.attempt} times; last error: {error}"
        await self.stores.fail(store_id, file_id, generation, code, message)

    async def cancelled_unstarted(self, record: JobRecord) -> None:
        # Ingestion jobs are not cancelled through the queue: a detached file's job finds
        # its row gone and does nothing.
        return None
