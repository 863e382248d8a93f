"""The pieces of authentication without a stack: access rules, quota arithmetic, JWT checks,
distribution variants (`extends`) and the gateway's rendered auth and TLS config."""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import time
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from envoy.service.auth.v3 import external_auth_pb2 as authz

from stackmesh_auth.ext_authz import GATEWAY_CACHE_S, AuthorizationServicer
from stackmesh_auth.identity import Identity, KeyLimits
from stackmesh_auth.jwt_tokens import JwtVerifier
from stackmesh_auth.quotas import Quotas, limits_for
from stackmesh_common import access
from stackmesh_common.access import AccessPolicy, Action
from stackmesh_common.call_context import attributes, principal
from stackmesh_common.config import AccessConfig, AuthConfig, ConfigError, JwtConfig, QuotasConfig, load_config
from stackmesh_common.errors import Unauthenticated
from stackmesh_gateway.render import render
from tests.support.jwt_issuer import AUDIENCE, ISSUER, JwtIssuer

REPO = Path(__file__).resolve().parents[2]
DESCRIPTOR = REPO / "build" / "stackmesh.binpb"


def as_caller(name: str, attrs: dict[str, list[str]] | None = None):
    """Runs a function with the call context of `name` (a copy, so tests do not leak it)."""
    context = contextvars.copy_context()
    context.run(principal.set, name)
    context.run(attributes.set, attrs or {})
    return context.run


@pytest.fixture(autouse=True)
def team_policy():
    access.configure(AccessPolicy.from_config(AccessConfig(shared={"team": ["read"]})))
    yield
    access.configure(AccessPolicy())


class TestAccess:
    def test_owners_do_everything(self):
        run = as_caller("alice", {"team": ["red"]})
        assert run(access.allows, "alice", {}, Action.WRITE)

    def test_a_teammate_reads_but_does_not_change(self):
        run = as_caller("bob", {"team": ["blue", "red"]})
        assert run(access.allows, "alice", {"team": ["red"]}, Action.READ)
        assert not run(access.allows, "alice", {"team": ["red"]}, Action.WRITE)

    def test_another_tenant_sees_nothing(self):
        run = as_caller("mallory", {"team": ["green"], "project": ["red"]})
        assert not run(access.allows, "alice", {"team": ["red"]}, Action.READ)
        assert not run(access.allows, "alice", {}, Action.READ)

    def test_admins_do_everything(self):
        run = as_caller("ops", {"roles": ["admin"]})
        assert run(access.allows, "alice", {"team": ["red"]}, Action.WRITE)
        assert run(access.sql_filter) == ("TRUE", [])

    def test_the_sql_filter_names_the_owner_and_each_shared_attribute(self):
        run = as_caller("bob", {"team": ["red", "blue"], "roles": ["viewer"]})
        assert run(access.sql_filter, Action.READ) == ("(owner = %s OR owner_attributes -> %s ?| %s)", ["bob", "team", ["red", "blue"]])
        # Writes are not shared by team.
        assert run(access.sql_filter, Action.WRITE, owner_column="f.owner") == ("(f.owner = %s)", ["bob"])


class TestQuotas:
    def test_a_keys_own_limit_beats_an_attribute_rule_which_beats_the_default(self):
        config = QuotasConfig.model_validate(
            {"default": {"requests_per_minute": 100, "tokens_per_day": 1000}, "by_attribute": [{"attribute": "tier", "value": "free", "requests_per_minute": 10}]}
        )
        assert limits_for(Identity("a"), config).requests_per_minute == 100
        free = Identity("b", {"tier": ["free"]})
        assert (limits_for(free, config).requests_per_minute, limits_for(free, config).tokens_per_day) == (10, 0)
        own = Identity("c", {"tier": ["free"]}, KeyLimits(requests_per_minute=0))
        assert limits_for(own, config).requests_per_minute == 0  # 0: unlimited



class TestJwt:
    @pytest.fixture
    def issuer(self) -> JwtIssuer:
        return JwtIssuer()

    @pytest.fixture
    def verifier(self, issuer: JwtIssuer, tmp_path: Path) -> JwtVerifier:
        jwks = issuer.write_jwks(tmp_path / "jwks.json")
        return JwtVerifier(JwtConfig.model_validate(issuer.config(jwks)), jwks)

    def test_claims_become_the_principal_and_its_attributes(self, issuer, verifier):
        identity = asyncio.run(verifier.verify(issuer.token("erin", groups=["red", "blue"], roles="admin", expires_in=300)))
        assert (identity.principal, identity.attributes) == ("erin", {"team": ["red", "blue"], "roles": ["admin"]})
        # A token cannot be revoked: its verification holds until it expires.
        assert 295 <= identity.trusted_until - time.time() <= 300

    @pytest.mark.parametrize(
        "token_of",
        [
            lambda issuer: JwtIssuer().token("erin"),  # another key, same kid
            lambda issuer: issuer.token("erin", expires_in=-300),
            lambda issuer: issuer.token("erin", audience="other"),
            lambda issuer: issuer.token("erin", issuer="https://other/"),
            lambda issuer: issuer.token("has spaces"),
            lambda issuer: "eyJhbGciOiJub25lIn0.eyJzdWIiOiJlcmluIn0.",  # alg none
        ],
    )
    def test_forged_expired_or_misaddressed_tokens_are_refused(self, issuer, verifier, token_of):
        with pytest.raises(Unauthenticated):
            asyncio.run(verifier.verify(token_of(issuer)))

    def test_a_config_needs_exactly_one_key_source(self):
        with pytest.raises(ValueError):
            JwtVerifier(JwtConfig(issuer=ISSUER, audience=AUDIENCE), None)


class TestDistributionVariants:
    def test_local_auth_is_local_with_auth_on(self):
        local = load_config(REPO / "deploy/distributions/local.yaml")
        variant = load_config(REPO / "deploy/distributions/local-auth.yaml")
        assert (local.auth.enabled, variant.auth.enabled, variant.name) == (False, True, "local-auth")
        assert variant.services == local.services
        assert variant.auth.access == local.auth.access
        assert variant.auth.quotas.default.requests_per_minute > 0

    def test_null_removes_a_service_and_cycles_are_refused(self, tmp_path):
        (tmp_path / "small.yaml").write_text(f"extends: {REPO}/deploy/distributions/local.yaml\nname: small\nservices: {{safety: null}}\n")
        assert "safety" not in load_config(tmp_path / "small.yaml").services
        (tmp_path / "a.yaml").write_text("extends: b.yaml\n")
        (tmp_path / "b.yaml").write_text("extends: a.yaml\n")
        with pytest.raises(ConfigError, match="extends itself"):
            load_config(tmp_path / "a.yaml")


def _listener_and_filters(config) -> tuple[dict, dict]:
    rendered = render(config, DESCRIPTOR)
    listener = rendered["static_resources"]["listeners"][0]
    return rendered, listener["filter_chains"][0]["filters"][0]["typed_config"]


def _check(servicer: AuthorizationServicer, token: str, path: str) -> authz.CheckResponse:
    request = authz.CheckRequest()
    request.attributes.request.http.path = path
    request.attributes.request.http.headers["authorization"] = f"Bearer {token}"
    return asyncio.run(servicer.Check(request, None))  # type: ignore[arg-type]


class TestGatewayCacheOfAnswers:
    """Which allowed answers the gateway may reuse (auth_cache.lua), and for how long."""

    CHAT = "/stackmesh.inference.v1.InferenceService/CreateChatCompletion"
    MODELS = "/stackmesh.inference.v1.ModelsService/ListModels"

    @pytest.fixture
    def issuer(self) -> JwtIssuer:
        return JwtIssuer()

    def servicer(self, issuer: JwtIssuer, tmp_path: Path, quotas: dict) -> AuthorizationServicer:
        jwks = issuer.write_jwks(tmp_path / "jwks.json")
        config = AuthConfig.model_validate({"enabled": True, "api_keys": False, "jwt": issuer.config(jwks), "quotas": quotas})
        return AuthorizationServicer(config, None, JwtVerifier(config.jwt, jwks), Quotas(None, config.quotas))  # type: ignore[arg-type]

    def test_an_unlimited_caller_is_cached_for_at_most_the_cache_time(self, issuer, tmp_path):
        servicer = self.servicer(issuer, tmp_path, {})
        answer = _check(servicer, issuer.token("erin", groups=["red"]), self.CHAT)
        assert answer.status.code == 0 and answer.HasField("dynamic_metadata")
        verdict = answer.dynamic_metadata
        assert (verdict["principal"], verdict["attributes"]) == ("erin", '{"team":["red"]}')
        assert 0 < verdict["expires_ms"] / 1000 - time.time() <= GATEWAY_CACHE_S

    def test_never_past_the_tokens_expiry(self, issuer, tmp_path):
        servicer = self.servicer(issuer, tmp_path, {})
        answer = _check(servicer, issuer.token("erin", expires_in=1), self.MODELS)
        assert answer.dynamic_metadata["expires_ms"] / 1000 <= time.time() + 1

    def test_under_a_token_budget_only_methods_that_spend_none_are_cached(self, issuer, tmp_path):
        servicer = self.servicer(issuer, tmp_path, {"default": {"tokens_per_day": 1000}})
        token = issuer.token("erin")
        assert not _check(servicer, token, self.CHAT).HasField("dynamic_metadata")
        assert _check(servicer, token, self.MODELS).HasField("dynamic_metadata")

    def test_refusals_are_never_cached(self, issuer, tmp_path):
        servicer = self.servicer(issuer, tmp_path, {})
        answer = _check(servicer, JwtIssuer().token("erin"), self.MODELS)
        assert answer.status.code == 16 and not answer.HasField("dynamic_metadata")


class TestGatewayConfig:
    def test_auth_on_checks_after_the_transcoder_and_exempts_health(self):
        rendered, hcm = _listener_and_filters(load_config(REPO / "deploy/distributions/local-auth.yaml"))
        names = [f["name"] for f in hcm["http_filters"]]
        # The cache of recent answers sits between them; ext_authz runs on its misses only.
        transcoder = names.index("envoy.filters.http.grpc_json_transcoder")
        assert names[transcoder + 1 : transcoder + 3] == ["stackmesh.auth_cache", "envoy.filters.http.ext_authz"]
        check = hcm["http_filters"][names.index("envoy.filters.http.ext_authz")]["typed_config"]
        assert check["failure_mode_allow"] is False
        assert check["filter_enabled_metadata"]["filter"] == "stackmesh.auth_cache"
        assert "auth" in [c["name"] for c in rendered["static_resources"]["clusters"]]
        health = next(r for r in hcm["route_config"]["virtual_hosts"][0]["routes"] if r["match"].get("path") == "/healthz")
        assert health["typed_per_filter_config"]["envoy.filters.http.ext_authz"]["disabled"] is True

    def test_auth_off_drops_claimed_identity_headers(self):
        _, hcm = _listener_and_filters(load_config(REPO / "deploy/distributions/local.yaml"))
        assert "envoy.filters.http.ext_authz" not in [f["name"] for f in hcm["http_filters"]]
        assert hcm["route_config"]["virtual_hosts"][0]["request_headers_to_remove"] == ["x-stackmesh-principal", "x-stackmesh-attributes"]

    def test_tls_serves_the_configured_certificate_and_refuses_a_missing_one(self, tmp_path):
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = dt.datetime.now(dt.timezone.utc)
        cert = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256())
        )  # fmt: skip
        (tmp_path / "gateway.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (tmp_path / "gateway.key").write_bytes(
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        )
        env = {"STACKMESH_STATE_DIR": str(tmp_path), "STACKMESH_GATEWAY__TLS__CERT_FILE": "gateway.crt", "STACKMESH_GATEWAY__TLS__KEY_FILE": "gateway.key"}
        config = load_config(REPO / "deploy/distributions/local.yaml", env=env)
        rendered = render(config, DESCRIPTOR)
        socket = rendered["static_resources"]["listeners"][0]["filter_chains"][0]["transport_socket"]
        certificate = socket["typed_config"]["common_tls_context"]["tls_certificates"][0]
        assert certificate["certificate_chain"]["filename"] == str(tmp_path / "gateway.crt")
        missing = load_config(REPO / "deploy/distributions/local.yaml", env={**env, "STACKMESH_GATEWAY__TLS__KEY_FILE": "nope.key"})
        with pytest.raises(ConfigError, match="private key file"):
            render(missing, DESCRIPTOR)
