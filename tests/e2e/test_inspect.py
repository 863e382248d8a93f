"""Llama Stack's health and inspection routes through the gateway."""

import httpx


def get(stack, path: str) -> httpx.Response:
    return httpx.get(f"{stack.gateway_url}{path}", timeout=30)


def test_health(stack):
    response = get(stack, "/v1/health")
    assert response.status_code == 200 and response.json() == {"status": "OK"}


def test_gateway_healthz(stack):
    assert get(stack, "/healthz").status_code == 200


def test_version(stack):
    assert get(stack, "/v1/version").json()["version"]


def test_providers(stack):
    providers = {p["provider_id"]: p for p in get(stack, "/v1/providers").json()["data"]}
    assert providers["llama-cpp"]["provider_type"] == "inline::llama-cpp"
    assert providers["llama-cpp"]["api"] == "inference"
    assert providers["sentence-transformers"]["config"]["torch_threads"] == 1
    assert get(stack, "/v1/providers/llama-cpp").json()["provider_type"] == "inline::llama-cpp"
    assert get(stack, "/v1/providers/nope").status_code == 404
    # The remote provider's key is masked; its URL and sampling-style limits are shown.
    openai_config = providers["openai"]["config"]
    assert openai_config["api_key"] == "********" and openai_config["url"].startswith("http")


def test_routes(stack):
    routes = {(r["method"], r["route"]) for r in get(stack, "/v1/inspect/routes").json()["data"]}
    assert ("POST", "/v1/chat/completions") in routes
    assert ("GET", "/v1/models") in routes


def test_request_id_is_echoed_and_reaches_the_service_log(stack):
    response = httpx.get(f"{stack.gateway_url}/v1/models", headers={"x-request-id": "trace-me-42"}, timeout=30)
    assert response.headers["x-request-id"] == "trace-me-42"
    log = (stack.state_dir / "logs" / "inference.log").read_text()
    assert '"request_id": "trace-me-42"' in log


def test_a_request_id_is_generated_when_absent(stack):
    assert len(httpx.get(f"{stack.gateway_url}/v1/models", timeout=30).headers["x-request-id"]) >= 16
