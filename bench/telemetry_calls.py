"""What telemetry adds to each served gRPC call, measured in one process.

bench/telemetry.py compares whole stacks, whose processes differ by a few percent whatever
their telemetry on a shared 2-core box. This one drives the service kit's server interceptor
(the code every call of every service runs) with an empty handler, switching telemetry between
rounds in one process: off, metrics, traces with an unsampled caller (context carried, no span),
traces with a sampled caller (a span written to the span file), both, and both with the spans
exported over OTLP instead (to a receiver in another process). CPU time of this process per call,
the best of the rounds; each round's spans are written or exported within it.
Usage: python bench/telemetry_calls.py [--calls N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import multiprocessing
import tempfile
import time
from concurrent import futures
from pathlib import Path

import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "services" / "common"))

from stackmesh_common.config import StackConfig  # noqa: E402
from stackmesh_common.interceptors import ServiceInterceptor  # noqa: E402
from stackmesh_common.telemetry import metrics, tracing  # noqa: E402
from stackmesh_common.telemetry.span_export import LoopSpanWriter, OtlpCollector  # noqa: E402

METHOD = "/stackmesh.inference.v1.ModelsService/ListModels"


class Call:
    """The servicer context of a call as grpc.aio hands it to the interceptor's wrapper."""

    def __init__(self, metadata: tuple[tuple[str, str], ...]) -> None:
        self.metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata

    def time_remaining(self) -> float:
        return 300.0

    def code(self) -> None:
        return None


class Details:
    """The call details grpc.aio gives a server interceptor."""

    method = METHOD
    invocation_metadata = ()


class Receiver(trace_service_pb2_grpc.TraceServiceServicer):
    def Export(self, request, context):  # noqa: N802 (OTLP's name)
        return trace_service_pb2.ExportTraceServiceResponse()


def receive(port: int) -> None:
    """An OTLP/gRPC trace receiver that drops what it gets (run in its own process)."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Receiver(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


async def empty(request: bytes, context: Call) -> bytes:
    return request


async def cpu_per_call(interceptor: ServiceInterceptor, calls: int, sampled: bool) -> float:
    handler = grpc.unary_unary_rpc_method_handler(empty)
    details = Details()

    async def continuation(_: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler:
        return handler

    traceparent = f"00-{os.urandom(16).hex()}-{os.urandom(8).hex()}-{'01' if sampled else '00'}"
    call = Call((("x-request-id", "bench"), ("traceparent", traceparent)))
    started = time.process_time()
    for _ in range(calls):
        wrapped = await interceptor.intercept_service(continuation, details)
        await wrapped.unary_unary(b"", call)
    for writer in tracing._traces.writers if tracing._traces else ():
        writer.force_flush()
    return (time.process_time() - started) / calls * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000, help="calls per mode and round")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--otlp-port", type=int, default=44317, help="of the OTLP receiver this bench starts")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # every mode logs the same access line; it is not telemetry

    with tempfile.TemporaryDirectory() as state:
        config = StackConfig.model_validate(
            {"name": "bench", "state_dir": state, "services": {}, "telemetry": {"traces": {"directory": "traces", "sample_ratio": 1.0}}}
        )
        to_file = tracing.setup(config, "bench")
        receiver = multiprocessing.Process(target=receive, args=(args.otlp_port,), daemon=True)
        receiver.start()
        collector = OtlpCollector(f"http://127.0.0.1:{args.otlp_port}", to_file.provider.resource)
        to_collector = tracing.Traces(to_file.provider, 1.0, [LoopSpanWriter(collector)])
        # mode -> (metrics on, where spans go (None: traces off), the caller's trace sampled)
        modes = {
            "off": (False, None, False),
            "metrics": (True, None, False),
            "traces, unsampled caller": (False, to_file, False),
            "traces, sampled caller": (False, to_file, True),
            "metrics + sampled traces": (True, to_file, True),
            "... exported over OTLP": (True, to_collector, True),
        }
        interceptor = ServiceInterceptor()
        best = {mode: float("inf") for mode in modes}
        try:
            for _ in range(args.rounds):
                for mode, (metrics_on, traces, sampled) in modes.items():
                    metrics.enabled = metrics_on
                    tracing._traces = traces
                    best[mode] = min(best[mode], await cpu_per_call(interceptor, args.calls, sampled))
        finally:
            receiver.kill()

    print(f"CPU per served call, best of {args.rounds} rounds of {args.calls} calls")
    for mode, micros in best.items():
        print(f"  {mode:26} {micros:6.1f} us   added {micros - best['off']:+5.1f} us")


if __name__ == "__main__":
    asyncio.run(main())
