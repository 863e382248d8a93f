"""Authentication, operator-only methods and quotas at the gateway (a second Envoy with auth on
in front of the session stack): API keys and JWTs, over REST and gRPC."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import ipaddress
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator

import grpc
import httpx
import openai
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stackmesh.auth.v1 import auth_service_pb2 as auth_pb
from stackmesh.auth.v1 import auth_service_pb2_grpc as auth_grpc
from stackmesh.inference.v1 import inference_service_pb2 as pb
from stackmesh.inference.v1 import inference_service_pb2_grpc as pb_grpc
from stackmesh_auth.ext_authz import GATEWAY_CACHE_S
from stackmesh_auth.quotas import Quotas
from stackmesh_common.config import Limits, QuotasConfig
from stackmesh_common.db import open_pool
from tests.conftest import CHAT_MODEL
from tests.support.auth import create_key, start_auth_gateway
from tests.support.jwt_issuer import JwtIssuer


def bearer(secret: str) -> dict[str, str]:
    return {"authorization": f"Bearer {secret}"}


def keys_stub(stack) -> auth_grpc.KeysServiceStub:
    return auth_grpc.KeysServiceStub(grpc.insecure_channel(stack.service_address("auth")))


def assert_refused(response: httpx.Response, status: int, code: str, error_type: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert (error["code"], error["type"], error["param"]) == (code, error_type, None)
    assert error["message"]
    return error["message"]


@pytest.fixture(scope="module")
def api(auth_gateway):
    with httpx.Client(base_url=auth_gateway.url, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def alice(stack) -> str:
    return create_key(stack, "alice", team="red")


def test_no_credentials_is_401_naming_what_to_send(api):
    response = api.get("/v1/models")
    message = assert_refused(response, 401, "missing_api_key", "authentication_error")
    assert "Authorization: Bearer" in message
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize("authorization", ["Bearer sk-sm-not-a-key", "Bearer nonsense", "Basic YWxpY2U6eA==", "Bearer", "sk-sm-no-scheme"])
def test_wrong_credentials_are_401(api, authorization):
    response = api.get("/v1/models", headers={"authorization": authorization})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_a_key_opens_every_api_for_the_openai_sdk(auth_gateway, alice):
    client = openai.OpenAI(base_url=f"{auth_gateway.url}/v1", api_key=alice, max_retries=0)
    assert CHAT_MODEL in [m.id for m in client.models.list()]
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{auth_gateway.url}/v1", api_key="sk-sm-wrong", max_retries=0).models.list()


def test_health_and_the_openapi_document_need_no_key(api):
    assert api.get("/healthz").status_code == 200
    assert api.get("/v1/openapi.json").json()["openapi"].startswith("3.")


def test_a_revoked_key_is_refused_within_the_gateway_cache_time(api, stack):
    secret = create_key(stack, "carol")
    assert api.get("/v1/models", headers=bearer(secret)).status_code == 200
    revoked = keys_stub(stack).RevokeKey(auth_pb.RevokeKeyRequest(key=secret), timeout=10)
    assert revoked.principal == "carol" and revoked.revoked_at > 0
    started = time.monotonic()
    while (answer := api.get("/v1/models", headers=bearer(secret))).status_code == 200:
        assert time.monotonic() - started < GATEWAY_CACHE_S + 0.5, "the revoked key still works"
        time.sleep(0.05)
    message = assert_refused(answer, 401, "invalid_api_key", "authentication_error")
    assert "revoked" in message


def test_the_gateway_reuses_an_allowed_answer_for_a_moment(api, auth_gateway, stack):
    secret = create_key(stack, "kate")
    api.get("/v1/models", headers=bearer(secret)).raise_for_status()
    before = auth_gateway.checks()
    assert before >= 1  # that first request was checked
    for _ in range(20):
        api.get("/v1/models", headers=bearer(secret)).raise_for_status()
    # One keep-alive connection is served by one Envoy worker: its cache answers, apart from
    # a refresh when an entry passes its 2 s.
    assert auth_gateway.checks() - before <= 2
    # Another method is another decision (operator-only ones differ): asked once.
    api.get("/v1/files", headers=bearer(secret)).raise_for_status()
    assert auth_gateway.checks() - before <= 3


def test_an_expired_key_is_refused(api, stack):
    secret = create_key(stack, "dave", expires_in_seconds=1)
    time.sleep(2.5)  # past expiry and the gateway's 2 s key cache
    message = assert_refused(api.get("/v1/models", headers=bearer(secret)), 401, "invalid_api_key", "authentication_error")
    assert "expired" in message


def test_keys_are_listed_without_secrets(stack, alice):
    listed = keys_stub(stack).ListKeys(auth_pb.ListKeysRequest(principal="alice"), timeout=10)
    assert listed.data and all(k.principal == "alice" for k in listed.data)
    assert listed.data[0].attributes["team"].values == ["red"]
    assert not any(alice in str(k) for k in listed.data)
    assert any(alice.startswith(k.prefix) and len(k.prefix) < 12 for k in listed.data)


@pytest.mark.parametrize(
    "request_, named",
    [
        (auth_pb.CreateKeyRequest(principal=""), "principal"),
        (auth_pb.CreateKeyRequest(principal="has space"), "principal"),
        (auth_pb.CreateKeyRequest(principal="x", attributes={"Team": auth_pb.AttributeValues(values=["a"])}), "attribute name 'Team'"),
        (auth_pb.CreateKeyRequest(principal="x", attributes={"team": auth_pb.AttributeValues(values=[])}), "attribute `team`"),
        (auth_pb.CreateKeyRequest(principal="x", expires_in_seconds=-1), "expires_in_seconds"),
        (auth_pb.CreateKeyRequest(principal="x", limits=auth_pb.Limits(requests_per_minute=-5)), "limits.requests_per_minute"),
    ],
)
def test_bad_key_requests_are_invalid_argument(stack, request_, named):
    with pytest.raises(grpc.RpcError) as refused:
        keys_stub(stack).CreateKey(request_, timeout=10)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert named in refused.value.details()


def test_operator_methods_need_the_admin_role(api, stack, alice):
    body = {"model_id": "no-such-weights", "provider_id": "llama-cpp"}
    message = assert_refused(api.post("/v1/models", json=body, headers=bearer(alice)), 403, "permission_denied", "permission_error")
    assert "roles=admin" in message
    ops = create_key(stack, "ops", roles=["admin"])
    # Past the gate: the service itself now judges the request (no such weights).
    answered = api.post("/v1/models", json=body, headers=bearer(ops))
    assert answered.status_code in (400, 404), answered.text


def test_grpc_callers_use_the_same_credentials(auth_gateway, alice):
    with grpc.insecure_channel(auth_gateway.grpc_address) as channel:
        models = pb_grpc.ModelsServiceStub(channel)
        with pytest.raises(grpc.RpcError) as refused:
            models.ListModels(pb.ListModelsRequest(), timeout=10)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        assert "API key" in refused.value.details()
        listed = models.ListModels(pb.ListModelsRequest(), metadata=list(bearer(alice).items()), timeout=10)
        assert CHAT_MODEL in [m.id for m in listed.data]
        with pytest.raises(grpc.RpcError) as denied:
            models.RegisterModel(pb.RegisterModelRequest(model_id="x"), metadata=list(bearer(alice).items()), timeout=10)
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED


def upload(api: httpx.Client, headers: dict[str, str], name: str) -> str:
    files = {"file": (name, io.BytesIO(b"hello"), "text/plain")}
    response = api.post("/v1/files", files=files, data={"purpose": "assistants"}, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["id"]


def file_ids(api: httpx.Client, headers: dict[str, str]) -> set[str]:
    response = api.get("/v1/files", params={"limit": 10000}, headers=headers)
    assert response.status_code == 200, response.text
    return {f["id"] for f in response.json()["data"]}


def test_a_claimed_principal_header_is_overwritten_by_the_verified_one(api, stack, alice):
    mine = upload(api, bearer(alice), "alice.txt")
    bob = create_key(stack, "bob", team="blue")
    # Bob claims to be alice; the gateway says who he is.
    spoofed = {**bearer(bob), "x-stackmesh-principal": "alice", "x-stackmesh-attributes": '{"roles":["admin"]}'}
    assert mine not in file_ids(api, spoofed)
    assert mine not in file_ids(api, spoofed)  # answered from the gateway's auth cache
    assert mine in file_ids(api, bearer(alice))


def test_without_auth_a_claimed_principal_is_dropped(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as open_api:
        claimed = upload(open_api, {"x-stackmesh-principal": "mallory"}, "claimed.txt")
        # It belongs to `anonymous`, who everyone is on this gateway.
        assert claimed in file_ids(open_api, {})


class TestJwt:
    def test_a_token_from_the_trusted_issuer_is_a_principal_with_attributes(self, api, jwt_issuer: JwtIssuer):
        token = jwt_issuer.token("erin@example.com", groups=["red"], roles=["viewer"])
        created = upload(api, bearer(token), "erin.txt")
        assert created in file_ids(api, bearer(token))
        other = jwt_issuer.token("frank@example.com", groups=["blue"])
        assert created not in file_ids(api, bearer(other))

    def test_a_token_signed_by_another_key_is_401(self, api):
        forged = JwtIssuer(kid="test-key").token("erin@example.com")
        message = assert_refused(api.get("/v1/models", headers=bearer(forged)), 401, "invalid_token", "authentication_error")
        assert "not valid" in message

    @pytest.mark.parametrize(
        "claims, words",
        [
            ({"expires_in": -120}, "expired"),
            ({"audience": "someone-else"}, "not valid"),
            ({"issuer": "https://evil.example/"}, "not valid"),
        ],
    )
    def test_expired_or_misaddressed_tokens_are_401(self, api, jwt_issuer, claims, words):
        token = jwt_issuer.token("erin@example.com", **claims)
        message = assert_refused(api.get("/v1/models", headers=bearer(token)), 401, "invalid_token", "authentication_error")
        assert words in message

    def test_a_key_id_the_issuer_does_not_publish_is_401(self, api):
        stranger = JwtIssuer(kid="unpublished").token("erin@example.com")
        assert_refused(api.get("/v1/models", headers=bearer(stranger)), 401, "invalid_token", "authentication_error")


@pytest.fixture
async def two_replicas(stack) -> AsyncIterator[list[Quotas]]:
    """The quotas of two auth replicas: two processes' pools on the stack's Postgres."""
    pools = [await open_pool(stack.config.postgres, "auth") for _ in range(2)]
    yield [Quotas(pool, QuotasConfig()) for pool in pools]
    for pool in pools:
        await pool.close()


def _per_minute(rate: int) -> Limits:
    return QuotasConfig().default.model_copy(update={"requests_per_minute": rate})


class TestQuotas:
    async def test_replicas_share_one_request_budget(self, two_replicas):
        principal, limits = f"replicated-{uuid.uuid4().hex}", _per_minute(6)
        # Alternating replicas, as the gateway balances its checks: six in all pass, not twelve.
        assert [await two_replicas[n % 2].check_request(principal, limits) for n in range(6)] == [None] * 6
        for replica in two_replicas:
            refusal = await replica.check_request(principal, limits)
            assert refusal is not None and refusal.error.http_status == 429 and refusal.error.reason == "rate_limit_exceeded"
            assert 1 <= refusal.retry_after_s <= 10  # one request every 10 s refills
        assert await two_replicas[1].check_request(f"other-{uuid.uuid4().hex}", limits) is None

    async def test_concurrent_checks_on_two_replicas_take_exactly_the_budget(self, two_replicas):
        principal, limits = f"concurrent-{uuid.uuid4().hex}", _per_minute(20)
        answers = await asyncio.gather(*(two_replicas[n % 2].check_request(principal, limits) for n in range(40)))
        assert sum(answer is None for answer in answers) == 20

    async def test_the_budget_refills_continuously(self, two_replicas):
        principal, limits = f"refilled-{uuid.uuid4().hex}", _per_minute(120)  # one every 0.5 s
        answers = [await two_replicas[0].check_request(principal, limits) for _ in range(121)]
        assert answers[:120] == [None] * 120 and answers[120] is not None
        await asyncio.sleep(0.6)
        assert await two_replicas[1].check_request(principal, limits) is None
        assert await two_replicas[0].check_request(principal, limits) is not None

    def test_the_request_past_the_per_minute_limit_is_429_with_retry_after(self, api, stack):
        created = keys_stub(stack).CreateKey(
            auth_pb.CreateKeyRequest(principal="gina", limits=auth_pb.Limits(requests_per_minute=5)), timeout=10
        )
        others = create_key(stack, "harry")
        statuses = [api.get("/v1/models", headers=bearer(created.secret)).status_code for _ in range(5)]
        assert statuses == [200] * 5
        # Refused although the same call was just allowed: the gateway asks about every request
        # of a rate-limited key instead of reusing an allowed answer.
        refused = api.get("/v1/models", headers=bearer(created.secret))
        message = assert_refused(refused, 429, "rate_limit_exceeded", "rate_limit_error")
        assert "5 requests per minute" in message
        assert 1 <= int(refused.headers["retry-after"]) <= 12
        # Another principal is unaffected.
        assert api.get("/v1/models", headers=bearer(others)).status_code == 200

    def test_tokens_per_day_count_real_usage(self, api, stack):
        created = keys_stub(stack).CreateKey(
            auth_pb.CreateKeyRequest(principal="ivy", limits=auth_pb.Limits(tokens_per_day=30)), timeout=10
        )
        headers = bearer(created.secret)
        chat = {"model": CHAT_MODEL, "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8}
        first = api.post("/v1/chat/completions", json=chat, headers=headers)
        assert first.status_code == 200, first.text
        spent = first.json()["usage"]["total_tokens"]
        assert spent > 0
        usage = auth_grpc.UsageServiceStub(grpc.insecure_channel(stack.service_address("auth")))
        deadline = time.monotonic() + 10
        while (counted := usage.GetUsage(auth_pb.GetUsageRequest(principal="ivy"), timeout=10).tokens) < spent:
            assert time.monotonic() < deadline, f"usage reached {counted} of {spent} tokens"
            time.sleep(0.2)
        assert counted == spent
        if counted < 30:  # a short answer: spend the rest
            api.post("/v1/chat/completions", json={**chat, "max_tokens": 32}, headers=headers)
            time.sleep(2.5)
        refused = api.post("/v1/chat/completions", json=chat, headers=headers)
        message = assert_refused(refused, 429, "insufficient_quota", "rate_limit_error")
        assert "30 tokens per day" in message and int(refused.headers["retry-after"]) > 0
        # Reading stays allowed.
        assert api.get("/v1/models", headers=headers).status_code == 200


def test_stackmesh_keys_create_prints_the_key_last(stack, api):
    command = [sys.executable, "-m", "stackmesh_launcher", "keys", "create", "--principal", "jill", "--attr", "team=red",
               "--attr", "team=green", "--state-dir", str(stack.state_dir)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    secret = done.stdout.split()[-1]
    assert secret.startswith("sk-sm-") and "jill" in done.stdout
    assert api.get("/v1/models", headers=bearer(secret)).status_code == 200
    listed = subprocess.run([*command[:4], "list", "--principal", "jill", "--state-dir", str(stack.state_dir)],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and '"team":["red","green"]' in listed.stdout and secret not in listed.stdout


def test_tls_on_the_gateway_listener(stack, alice, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()).serial_number(7)
        .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    (tmp_path / "gateway.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "gateway.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    gateway = start_auth_gateway(stack, tmp_path, tls={"cert_file": "gateway.crt", "key_file": "gateway.key"})
    try:
        assert gateway.url.startswith("https://")
        with httpx.Client(base_url=gateway.url, verify=str(tmp_path / "gateway.crt"), timeout=30) as https:
            assert https.get("/v1/models", headers=bearer(alice)).status_code == 200
            assert https.get("/v1/models").status_code == 401
        with pytest.raises(httpx.HTTPError):
            httpx.get(gateway.url.replace("https://", "http://") + "/healthz", timeout=5)
        client = openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=alice, max_retries=0,
                               http_client=httpx.Client(verify=str(tmp_path / "gateway.crt")))
        assert CHAT_MODEL in [m.id for m in client.models.list()]
    finally:
        gateway.stop()
