"""Typed distribution config: one YAML file, `${VAR:-default}` expansion, env overrides.

Environment overrides use `STACKMESH_` plus the path in upper case joined by `__`, e.g.
`STACKMESH_GATEWAY__PORT=9000` or `STACKMESH_SERVICES__INFERENCE__PORT=0`; values are
parsed as YAML scalars so numbers and booleans keep their types.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, Mapping
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

ENV_PREFIX = "STACKMESH_"
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """The distribution file is missing, malformed or names something unknown."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderConfig(_Strict):
    """One provider instance of an API: its id, its type name and its typed config."""

    provider_id: str
    provider_type: str
    config: dict[str, Any] = Field(default_factory=dict)


class ServiceConfig(_Strict):
    """One gRPC service process of the mesh."""

    # Address peers and the gateway use to reach the service.
    host: str = "127.0.0.1"
    # Port to bind; 0 asks the OS for a free one.
    port: int
    # Interface to bind; defaults to host (set "0.0.0.0" in containers).
    listen_host: str | None = None
    providers: list[ProviderConfig] = Field(default_factory=list)
    # Resources registered at start-up, by kind ("models", "shields", ...), typed by the service.
    resources: dict[str, list[dict[str, Any]]] = Field(default_factory=dict)
    # Service-wide settings that belong to no one provider, typed and validated by the service.
    settings: dict[str, Any] = Field(default_factory=dict)
    # Worker threads for blocking provider calls.
    max_workers: int = 8
    # Job-worker processes (`python -m stackmesh_<name>.worker`) the local launcher runs beside
    # the service; they share its job queues (its settings decide whether the service process
    # runs jobs itself too).
    workers: int = Field(default=0, ge=0, le=64)
    # The service's own login role, which owns its schema and nothing else (deploy/launcher/
    # stackmesh_launcher/service_roles.sql creates it). Empty: the service connects with
    # postgres.url. The local launcher sets it for its embedded PostgreSQL.
    postgres_url: str = ""

    # Processes serving this API behind the gateway (the local launcher runs them; on
    # Kubernetes the Deployment's replicas): the gateway and peers balance calls over them.
    replicas: int = Field(default=1, ge=1, le=16)
    # Ports of replicas 2..N on `host` (the local launcher sets them).
    replica_ports: list[int] = Field(default_factory=list)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def addresses(self) -> list[str]:
        """Every replica's address, the first one's first."""
        return [self.address, *(f"{self.host}:{port}" for port in self.replica_ports)]

    @property
    def bind_address(self) -> str:
        return f"{self.listen_host or self.host}:{self.port}"


class PostgresConfig(_Strict):
    # A libpq URL; empty means the local launcher starts embedded PostgreSQL and sets it (to its
    # admin login, which the launcher and tests use; services connect as their own roles).
    url: str = ""
    pool_min_size: int = 1
    pool_max_size: int = 8


class NatsConfig(_Strict):
    # Empty means the local launcher starts nats-server and sets it, with a user and a fresh
    # password of its own. Credentials belong in user/password, not in the URL.
    url: str = ""
    port: int = 4222
    user: str = ""
    password: str = ""


class TlsConfig(_Strict):
    """Serve the gateway's listener over TLS with this certificate chain and key (PEM)."""

    cert_file: Path
    key_file: Path


class GatewayConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = 8321
    admin_port: int = 9901
    # A listener on `host` serving Envoy's Prometheus stats at GET /metrics (when telemetry.metrics.enabled).
    metrics_port: int = 9464
    # Requests with a larger body are refused with 413.
    max_request_bytes: int = 8 * 1024 * 1024
    # Uploads (RPCs taking `stream google.api.HttpBody`, e.g. POST /v1/files) stream to their
    # service unbuffered and may be this large; larger ones are refused with 413 (OpenAI's limit).
    max_upload_bytes: int = 512 * 1024 * 1024
    # Upper bound for unary calls (model calls included) and for whole streams.
    request_timeout_s: float = 300.0
    # Time to open a connection to a service before answering 503.
    connect_timeout_s: float = 1.0
    # Envoy worker threads; the local box has 2 cores shared with every service.
    concurrency: int = 1
    # The service that hosts the aggregated inspect API (/v1/health, /v1/providers, ...).
    inspect_service: str = "inference"
    tls: TlsConfig | None = None


class JwtConfig(_Strict):
    """Bearer JWTs from an identity provider: checked signature (keys from a JWKS URL or
    file), issuer, audience and expiry; claims name the principal and its attributes."""

    issuer: str
    audience: str
    jwks_url: str = ""
    jwks_file: str = ""
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    principal_claim: str = "sub"
    # Attribute name -> the claim holding its value or values, e.g. {"team": "groups"}.
    attribute_claims: dict[str, str] = Field(default_factory=dict)
    # Clock skew tolerated on exp/nbf/iat.
    leeway_s: int = Field(default=30, ge=0)
    # How often keys are re-read from jwks_url (a kid not seen forces an earlier re-read).
    jwks_refresh_s: int = Field(default=300, ge=10)


class Limits(_Strict):
    # 0 means unlimited.
    requests_per_minute: int = Field(default=0, ge=0)
    tokens_per_day: int = Field(default=0, ge=0)


class AttributeLimits(Limits):
    """Limits for principals with `attribute` = `value` (the first matching rule applies)."""

    attribute: str
    value: str


class QuotasConfig(_Strict):
    # A key's own limits win over an attribute rule, which wins over the default.
    default: Limits = Field(default_factory=Limits)
    by_attribute: list[AttributeLimits] = Field(default_factory=list)


class AccessConfig(_Strict):
    # Attribute name -> what a caller sharing one of its values with a resource's owner may
    # do to it, e.g. {"team": ["read"]}. Owners and admins may always do everything.
    shared: dict[str, list[Literal["read", "write"]]] = Field(default_factory=dict)


class AuthConfig(_Strict):
    """Who may call the gateway. Off: every caller is `anonymous` (and owns everything it makes)."""

    enabled: bool = False
    api_keys: bool = True
    jwt: JwtConfig | None = None
    access: AccessConfig = Field(default_factory=AccessConfig)
    quotas: QuotasConfig = Field(default_factory=QuotasConfig)
    # The service Envoy asks (ext_authz) and where keys live.
    service: str = "auth"
    # Envoy answers 503 when the auth service does not answer in time (fail closed).
    check_timeout_s: float = 1.0


class MetricsConfig(_Strict):
    """Prometheus metrics: every service and worker process serves /metrics on its own port."""

    enabled: bool = True
    # The port each process binds (one per container); the local launcher picks a free one
    # per process instead and passes it on the command line.
    port: int = Field(default=9464, ge=0, le=65535)


class TracesConfig(_Strict):
    """OpenTelemetry traces: the gateway starts or continues a W3C trace, services continue it
    over gRPC and NATS. Spans go to an OTLP collector and/or a JSON-lines file."""

    enabled: bool = True
    # gRPC OTLP endpoint of a collector, e.g. http://otel-collector:4317. Empty: none.
    otlp_endpoint: str = ""
    # Folder (under state_dir when relative) where each process appends its spans as JSON
    # lines, read back by `stackmesh traces`. Empty: no files.
    directory: str = ""
    # Fraction of new traces recorded (a caller's sampled flag is honoured).
    sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)


def otlp_collector_address(endpoint: str) -> tuple[str, int, bool]:
    """(host, port, TLS) of a collector's `otlp_endpoint`: http://host[:port] plain, https://
    TLS, port 4317 by default; the services export to it, and Envoy sends the gateway's spans."""
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    if not parts.hostname or parts.scheme not in ("http", "https"):
        raise ConfigError(f"telemetry.traces.otlp_endpoint {endpoint!r} is not http(s)://host[:port] (e.g. http://otel-collector:4317)")
    return parts.hostname, parts.port or 4317, parts.scheme == "https"


class TelemetryConfig(_Strict):
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)
    traces: TracesConfig = Field(default_factory=TracesConfig)


class StackConfig(_Strict):
    """A distribution: which services run, with which providers and resources."""

    name: str
    version: int = 1
    # Logs, data and generated config of a local stack go under this folder.
    state_dir: Path = Path(".stackmesh")
    postgres: PostgresConfig = Field(default_factory=PostgresConfig)
    nats: NatsConfig = Field(default_factory=NatsConfig)
    gateway: GatewayConfig = Field(default_factory=GatewayConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    telemetry: TelemetryConfig = Field(default_factory=TelemetryConfig)
    services: dict[str, ServiceConfig]

    def service(self, name: str) -> ServiceConfig:
        try:
            return self.services[name]
        except KeyError:
            raise ConfigError(
                f"service {name!r} is not in distribution {self.name!r}; it has: {', '.join(sorted(self.services))}"
            ) from None

    def state_path(self, path: Path | str) -> Path:
        """A path of the config (a certificate, a JWKS file): relative ones are under state_dir."""
        path = Path(path)
        return path if path.is_absolute() else self.state_dir / path

    def postgres_for(self, name: str) -> PostgresConfig:
        """The Postgres connection service `name` uses: its own role's URL, else postgres.url."""
        url = self.service(name).postgres_url or self.postgres.url
        if not url:
            raise ConfigError(
                f"service {name!r} has no Postgres URL: set services.{name}.postgres_url "
                f"(STACKMESH_SERVICES__{name.upper()}__POSTGRES_URL) or postgres.url (STACKMESH_POSTGRES__URL)"
            )
        return self.postgres.model_copy(update={"url": url})


def _expand(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in env:
                return env[name]
            if default is None:
                raise ConfigError(f"environment variable {name} is not set and has no default in the config")
            return default

        return _VAR.sub(substitute, value)
    if isinstance(value, dict):
        return {k: _expand(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, env) for v in value]
    return value


def _apply_overrides(data: dict[str, Any], env: Mapping[str, str]) -> None:
    for key, raw in sorted(env.items()):
        if not key.startswith(ENV_PREFIX) or "__" not in key and key[len(ENV_PREFIX):].lower() not in data:
            continue
        path = [part.lower() for part in key[len(ENV_PREFIX):].split("__")]
        node = data
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"{key} overrides a path that is not a mapping")
        node[path[-1]] = _scalar(raw)


def _scalar(raw: str) -> Any:
    # A value YAML cannot parse (a password such as "@x:y") is the string itself; YAML's own error
    # would quote the value, a secret, into the logs.
    if raw == "":
        return ""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` on top of `base`: mappings merge key by key, null removes a key (a service
    the variant leaves out), anything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
            continue
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def _read(path: Path, seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The file's mapping; `extends: other.yaml` (relative to the file) is read first and
    this file's values merged over it, so a variant names only what differs."""
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"distribution file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"distribution file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"distribution file {path} must be a mapping")
    if (parent := data.pop("extends", None)) is None:
        return data
    parent_path = (path.parent / str(parent)).resolve()
    if parent_path in seen:
        raise ConfigError(f"distribution file {path} extends itself through {parent}")
    return _merge(_read(parent_path, (*seen, path.resolve())), data)


def load_config(path: str | os.PathLike[str], env: Mapping[str, str] | None = None) -> StackConfig:
    """Reads a distribution file, expands variables and applies STACKMESH_* overrides."""
    env = os.environ if env is None else env
    path = Path(path)
    data = _expand(_read(path), env)
    _apply_overrides(data, env)
    try:
        return StackConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"distribution file {path} is invalid:\n{exc}") from None
