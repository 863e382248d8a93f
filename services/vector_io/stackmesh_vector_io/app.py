"""Builds the vector_io service: runtime, in-process ingestion workers, expiry sweeper, servicers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from stackmesh.inspect.v1 import inspect_service_pb2_grpc as inspect_grpc
from stackmesh.vector_io.v1 import files_service_pb2_grpc as files_grpc
from stackmesh.vector_io.v1 import vector_io_service_pb2_grpc as pb_grpc
from stackmesh_common.config import StackConfig
from stackmesh_common.inspect import InspectServicer
from stackmesh_common.jobs import JobWorker
from stackmesh_common.server import Servicer
from stackmesh_vector_io.files_servicer import FilesServicer
from stackmesh_vector_io.runtime import SERVICE, Runtime, open_runtime
from stackmesh_vector_io.service import VectorIOService
from stackmesh_vector_io.stores_servicer import VectorStoresServicer
from stackmesh_vector_io.vector_io_servicer import VectorIOServicer

log = logging.getLogger("stackmesh.vector_io")

FILES = "stackmesh.vector_io.v1.FilesService"
VECTOR_STORES = "stackmesh.vector_io.v1.VectorStoresService"
VECTOR_IO = "stackmesh.vector_io.v1.VectorIOService"
INSPECT = "stackmesh.inspect.v1.InspectService"
# How often expired files are deleted.
SWEEP_INTERVAL_S = 60.0


async def sweep_expired_files(service: VectorIOService) -> None:
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_S)
        try:
            for file_id in await service.files.delete_expired():
                await service.detach_everywhere(file_id)
        except Exception:
            log.exception("sweeping expired files failed")


@dataclass
class VectorIOApp:
    servicers: list[Servicer]
    runtime: Runtime
    worker: JobWorker | None
    sweeper: asyncio.Task[None]
    draining: asyncio.Event

    async def close(self) -> None:
        self.sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.sweeper
        if self.worker is not None:
            await self.worker.stop()
        await self.runtime.close()


async def build(config: StackConfig) -> VectorIOApp:
    runtime = await open_runtime(config)
    service = runtime.service
    worker = None
    if service.settings.ingestion.in_process:
        worker = runtime.worker()
        await worker.start()
    hosted = [FILES, VECTOR_STORES, VECTOR_IO]
    servicers = [
        Servicer(
            FilesServicer(service.files, service.files.objects, config.gateway.max_upload_bytes, service.detach_everywhere),
            files_grpc.add_FilesServiceServicer_to_server,
            FILES,
        ),
        Servicer(VectorStoresServicer(service), pb_grpc.add_VectorStoresServiceServicer_to_server, VECTOR_STORES),
        Servicer(VectorIOServicer(service), pb_grpc.add_VectorIOServiceServicer_to_server, VECTOR_IO),
        Servicer(
            InspectServicer(SERVICE, config, runtime.loaded, hosted), inspect_grpc.add_InspectServiceServicer_to_server, INSPECT
        ),
    ]
    return VectorIOApp(servicers, runtime, worker, asyncio.create_task(sweep_expired_files(service)), asyncio.Event())
