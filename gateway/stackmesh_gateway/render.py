"""Renders the Envoy config of the gateway from the distribution and the descriptor set.

Nothing here is written by hand per route: every gRPC service in the descriptor set is
transcoded; its calls go to the process of its API family, or get a clear 501 when the
distribution does not deploy that API.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from stackmesh_common.call_context import ATTRIBUTES_HEADER, ERROR_CODE_HEADER, ERROR_TYPE_HEADER, PRINCIPAL_HEADER
from stackmesh_common.config import ConfigError, GatewayConfig, ServiceConfig, StackConfig, otlp_collector_address
from stackmesh_gateway.descriptor import API_FAMILY, INSPECT_API, GrpcService, load_services, stream_paths, upload_bindings
from stackmesh_gateway.openapi import OPENAPI_PATH, build_openapi

HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
BUFFER_FILTER = "envoy.filters.http.buffer"
# Added to the request by the Lua filter when it refuses an upload over max_upload_bytes.
UPLOAD_REFUSED_HEADER = "x-stackmesh-upload-refused"
# Characters with a meaning in Lua patterns, escaped with % in the upload path patterns.
_LUA_MAGIC = set("^$()%.[]*+-?")
# Streams may run long; they end on their own or after this much silence.
STREAM_IDLE_TIMEOUT_S = 120
# A crashed service is restarted within about a second (deploy/launcher's supervisor).
UNAVAILABLE_RETRY_AFTER_S = 1
# The largest answer the transcoder turns into JSON: the largest message a service sends
# (stackmesh_common.server.MAX_MESSAGE_BYTES).
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
EXT_AUTHZ_FILTER = "envoy.filters.http.ext_authz"
# The Lua filter in front of ext_authz that remembers its recent answers (auth_cache.lua):
# it marks a miss with this dynamic metadata, and only then does ext_authz run.
AUTH_CACHE_FILTER = "stackmesh.auth_cache"
AUTH_CACHE_CHECK_KEY = "check"
# Entries per Envoy worker before the cache starts over.
AUTH_CACHE_MAX_ENTRIES = 10_000
# Answered without credentials when auth is on.
PUBLIC_PATHS = ("/healthz", "/v1/openapi.json")
# Only the gateway's auth check may say who a caller is.
IDENTITY_HEADERS = (PRINCIPAL_HEADER, ATTRIBUTES_HEADER)


def _family(service: GrpcService, config: StackConfig) -> str:
    if service.api == INSPECT_API:
        return config.gateway.inspect_service
    return API_FAMILY.get(service.api, service.api)


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _json_error(message: str, error_type: str, code: str) -> dict[str, Any]:
    return {
        "content_type": "application/json",
        "json_format": {"error": {"message": message, "type": error_type, "param": None, "code": code}},
    }


def _status_filter(status: int) -> dict[str, Any]:
    return {"status_code_filter": {"comparison": {"op": "EQ", "value": {"default_value": status, "runtime_key": f"local_reply.{status}"}}}}


def _local_reply_mapper(status: int, message: str, error_type: str, code: str) -> dict[str, Any]:
    return {"filter": _status_filter(status), "body_format_override": _json_error(message, error_type, code)}


def _auth_refusal_mappers() -> list[dict[str, Any]]:
    """The auth check's 401, 403 and 429: the refusal's body is its message, and headers say
    its type and code. REST callers get OpenAI's envelope; native gRPC callers the message
    as the status's (Envoy turns a local reply to a gRPC call into a gRPC status)."""
    refused = {"or_filter": {"filters": [_status_filter(status) for status in (401, 403, 429)]}}
    native_grpc = {
        "and_filter": {
            "filters": [
                {"header_filter": {"header": {"name": "content-type", "string_match": {"prefix": "application/grpc"}}}},
                # The transcoder keeps a REST call's path here; a native gRPC call has none.
                {"header_filter": {"header": {"name": "x-envoy-original-path", "present_match": True, "invert_match": True}}},
            ]
        }
    }
    envelope = {
        "content_type": "application/json",
        "json_format": {
            "error": {
                "message": "%LOCAL_REPLY_BODY%",
                "type": f"%RESP({ERROR_TYPE_HEADER})%",
                "param": None,
                "code": f"%RESP({ERROR_CODE_HEADER})%",
            }
        },
    }
    return [
        {"filter": {"and_filter": {"filters": [refused, native_grpc]}}, "body_format_override": {"text_format": "%LOCAL_REPLY_BODY%"}},
        {"filter": refused, "body_format_override": envelope},
    ]


def _unavailable_mapper() -> dict[str, Any]:
    """Envoy's 503 when a service does not answer (down, or being restarted by its supervisor):
    a message that says what to do, and Retry-After, which clients like the openai SDK honour."""
    message = (
        "The %UPSTREAM_CLUSTER% service is unavailable (down or restarting); retry in a few seconds. "
        "Gateway detail: %LOCAL_REPLY_BODY%"
    )
    return {
        **_local_reply_mapper(503, message, "api_error", "service_unavailable"),
        "headers_to_add": [{"header": {"key": "retry-after", "value": str(UNAVAILABLE_RETRY_AFTER_S)}}],
    }


def _direct_ok_mapper() -> dict[str, Any]:
    """The gateway's own 200s (/healthz, /v1/openapi.json) keep their body: the default
    body_format would wrap it in the error envelope. The route sets their Content-Type."""
    return {"filter": _status_filter(200), "body_format_override": {"text_format": "%LOCAL_REPLY_BODY%"}}


def _upload_refused_mapper() -> dict[str, Any]:
    """The Lua filter's 413 for an upload over the limit: its body is the message."""
    refused = {"header_filter": {"header": {"name": UPLOAD_REFUSED_HEADER, "present_match": True}}}
    return {
        "filter": {"and_filter": {"filters": [_status_filter(413), refused]}},
        "body_format_override": _json_error("%LOCAL_REPLY_BODY%", "invalid_request_error", "request_too_large"),
    }


def _template_regex(path: str) -> str:
    """An RE2 regex matching a google.api.http path template ({var} is one segment)."""
    return "".join("[^/]+" if part.startswith("{") else re.escape(part) for part in re.split(r"(\{[^}]+\})", path))


def _template_lua_pattern(path: str) -> str:
    parts = re.split(r"(\{[^}]+\})", path)
    escaped = "".join("[^/]+" if part.startswith("{") else "".join(f"%{c}" if c in _LUA_MAGIC else c for c in part) for part in parts)
    return f"^{escaped}$"


def _upload_routes(services: list[GrpcService], config: StackConfig) -> list[dict[str, Any]]:
    """Routes matching the REST path of uploads, seen by the filters before the transcoder
    rewrites the path: they turn the buffer filter off, so the body streams to the service."""
    routes = []
    for service, verb, path in upload_bindings(services):
        family = _family(service, config)
        if family not in config.services:
            continue
        routes.append(
            {
                "match": {"safe_regex": {"regex": _template_regex(path)}, "headers": [{"name": ":method", "string_match": {"exact": verb}}]},
                "route": {"cluster": family, "timeout": _seconds(config.gateway.request_timeout_s)},
                "typed_per_filter_config": {
                    BUFFER_FILTER: {"@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.BufferPerRoute", "disabled": True}
                },
            }
        )
    return routes


# Uploaded content goes back as a download, never rendered by a browser under our origin
# with the Content-Type its uploader chose (an HTML upload would run as a page).
DOWNLOAD_HEADERS = [
    {"header": {"key": "x-content-type-options", "value": "nosniff"}},
    {"header": {"key": "content-disposition", "value": "attachment"}},
]


def _openapi_route(openapi: Path | None) -> list[dict[str, Any]]:
    """GET /v1/openapi.json: the document write_openapi wrote, served by Envoy itself."""
    if openapi is None:
        return []
    return [
        {
            "match": {"path": OPENAPI_PATH},
            "direct_response": {"status": 200, "body": {"filename": str(openapi.resolve())}},
            "response_headers_to_add": [{"header": {"key": "content-type", "value": "application/json"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}],
        }
    ]


def write_openapi(config: StackConfig, descriptor: Path, directory: Path) -> Path:
    """Writes openapi.json, the OpenAPI document of the APIs the distribution deploys, into
    `directory` (beside envoy.yaml) and returns its path, for render's `openapi`."""
    deployed = [s.full_name for s in load_services(descriptor) if _family(s, config) in config.services]
    path = directory / "openapi.json"
    path.write_text(json.dumps(build_openapi(descriptor, deployed), separators=(",", ":")))
    return path


def _routes(services: list[GrpcService], config: StackConfig, openapi: Path | None = None) -> list[dict[str, Any]]:
    gateway = config.gateway
    routes: list[dict[str, Any]] = [
        {
            "match": {"path": "/healthz"},
            "direct_response": {"status": 200, "body": {"inline_string": "ok\n"}},
            "response_headers_to_add": [{"header": {"key": "content-type", "value": "text/plain"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}],
        },
        *_openapi_route(openapi),
        *_upload_routes(services, config),
    ]
    # A call whose replica died under it (reset) goes once to another replica, as does one
    # that could not connect; with a single replica the retry finds it restarted, or answers 503.
    retry = {"retry_on": "connect-failure,refused-stream,reset", "num_retries": 1, "host_selection_retry_max_attempts": 3, "retry_host_predicate": [{"name": "envoy.retry_host_predicates.previous_hosts", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"}}]}
    for service in services:
        family = _family(service, config)
        if family not in config.services:
            routes.append(
                {
                    "match": {"prefix": f"/{service.full_name}/"},
                    "direct_response": {"status": 501, "body": {"inline_string": f"the {service.api} API is not deployed in distribution {config.name}"}},
                }
            )
            continue
        tag = {"response_headers_to_add": [{"header": {"key": "x-stackmesh-service", "value": family}}]}
        for method in service.methods:
            if method.server_streaming:
                headers = tag["response_headers_to_add"] + (DOWNLOAD_HEADERS if method.serves_download else [])
                routes.append(
                    {
                        "match": {"path": f"/{service.full_name}/{method.name}"},
                        "route": {"cluster": family, "timeout": "0s", "idle_timeout": _seconds(STREAM_IDLE_TIMEOUT_S), "retry_policy": retry},
                        "response_headers_to_add": headers,
                    }
                )
        routes.append(
            {
                "match": {"prefix": f"/{service.full_name}/"},
                "route": {"cluster": family, "timeout": _seconds(gateway.request_timeout_s), "retry_policy": retry},
                **tag,
            }
        )
    routes.append({"match": {"prefix": "/"}, "direct_response": {"status": 404, "body": {"inline_string": "no such route"}}})
    return routes


def _addresses(service: ServiceConfig) -> list[tuple[str, int]]:
    return [(service.host, service.port), *((service.host, port) for port in service.replica_ports)]


def _cluster(name: str, addresses: list[tuple[str, int]], connect_timeout_s: float) -> dict[str, Any]:
    """A cluster of one service's replicas (or a collector). Over several replicas Envoy
    checks each one's gRPC health every second and balances calls over the serving ones."""
    cluster = {
        "name": name,
        "type": "STRICT_DNS",
        "dns_lookup_family": "V4_ONLY",
        "connect_timeout": _seconds(connect_timeout_s),
        "typed_extension_protocol_options": {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {"max_concurrent_streams": 1000}},
            }
        },
        # Envoy allows only 3 concurrent retries per cluster by default: calls in flight on a
        # replica that died then fail instead of going to another.
        "circuit_breakers": {"thresholds": [{"max_connections": 10000, "max_pending_requests": 10000, "max_requests": 10000, "max_retries": 10000}]},
        # Replicas that keep failing are taken out of rotation for a while.
        "outlier_detection": {"consecutive_5xx": 5, "consecutive_gateway_failure": 3, "base_ejection_time": "10s", "max_ejection_percent": 50},
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}} for host, port in addresses]}
            ],
        },
    }
    if len(addresses) > 1:
        cluster["health_checks"] = [
            {"timeout": "1s", "interval": "1s", "unhealthy_threshold": 1, "healthy_threshold": 1, "grpc_health_check": {}}
        ]
    return cluster


def _lua_source(services: list[GrpcService], config: StackConfig) -> str:
    streams = stream_paths(services)
    table = ", ".join(f'["{path}"] = true' for path in streams if "{" not in path)
    patterns = ", ".join(f'"{_template_lua_pattern(path)}"' for path in streams if "{" in path)
    uploads = ", ".join(f'"{_template_lua_pattern(path)}"' for _, verb, path in upload_bindings(services) if verb == "POST")
    code = resources.files("stackmesh_gateway").joinpath("gateway.lua").read_text()
    traces = config.telemetry.traces
    # With a collector, Envoy's own tracer starts traces (and records the gateway's span).
    start_traces = traces.enabled and not traces.otlp_endpoint
    return (
        f"START_TRACES = {'true' if start_traces else 'false'}\n"
        f"TRACE_SAMPLE_RATIO = {traces.sample_ratio}\n"
        f"STREAM_PATHS = {{ {table} }}\n"
        f"STREAM_PATTERNS = {{ {patterns} }}\n"
        f"UPLOAD_PATTERNS = {{ {uploads} }}\n"
        f"MAX_UPLOAD_BYTES = {config.gateway.max_upload_bytes}\n"
        f'UPLOAD_REFUSED_HEADER = "{UPLOAD_REFUSED_HEADER}"\n'
        f"{code}"
    )


OTEL_COLLECTOR_CLUSTER = "otel_collector"


def _tracing(config: StackConfig) -> dict[str, Any]:
    """Envoy's OpenTelemetry tracer: starts or continues the W3C trace of each request and
    sends the gateway's span to the collector the services export to."""
    return {
        "provider": {
            "name": "envoy.tracers.opentelemetry",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.config.trace.v3.OpenTelemetryConfig",
                "grpc_service": {"envoy_grpc": {"cluster_name": OTEL_COLLECTOR_CLUSTER}, "timeout": "1s"},
                "service_name": "stackmesh-gateway",
            },
        },
        "random_sampling": {"value": config.telemetry.traces.sample_ratio * 100},
    }


def _auth_cache_filter() -> dict[str, Any]:
    code = resources.files("stackmesh_gateway").joinpath("auth_cache.lua").read_text()
    constants = (
        f'CACHE_NAMESPACE = "{AUTH_CACHE_FILTER}"\n'
        f'CHECK_KEY = "{AUTH_CACHE_CHECK_KEY}"\n'
        f'VERDICT_NAMESPACE = "{EXT_AUTHZ_FILTER}"\n'
        f'PRINCIPAL_HEADER = "{PRINCIPAL_HEADER}"\n'
        f'ATTRIBUTES_HEADER = "{ATTRIBUTES_HEADER}"\n'
        f"MAX_ENTRIES = {AUTH_CACHE_MAX_ENTRIES}\n"
    )
    return {
        "name": AUTH_CACHE_FILTER,
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua", "default_source_code": {"inline_string": constants + code}},
    }


def _ext_authz_filter(config: StackConfig) -> dict[str, Any]:
    """Asks the auth service about every request the cache in front of it cannot answer,
    after the transcoder so that REST and gRPC calls both arrive as /package.Service/Method.
    Fails closed: no answer is a 503."""
    return {
        "name": EXT_AUTHZ_FILTER,
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz",
            "grpc_service": {"envoy_grpc": {"cluster_name": config.auth.service}, "timeout": _seconds(config.auth.check_timeout_s)},
            "transport_api_version": "V3",
            # The check reads only the credential (and the path, which it always gets).
            "allowed_headers": {"patterns": [{"exact": "authorization"}]},
            "failure_mode_allow": False,
            "status_on_error": {"code": 503},
            "filter_enabled_metadata": {
                "filter": AUTH_CACHE_FILTER,
                "path": [{"key": AUTH_CACHE_CHECK_KEY}],
                "value": {"present_match": True},
            },
        },
    }


def _exempt_public_paths(routes: list[dict[str, Any]]) -> None:
    disabled = {"@type": "type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthzPerRoute", "disabled": True}
    for route in routes:
        if route["match"].get("path") in PUBLIC_PATHS:
            route.setdefault("typed_per_filter_config", {})[EXT_AUTHZ_FILTER] = disabled


def _tls_transport_socket(config: StackConfig) -> dict[str, Any]:
    tls = config.gateway.tls
    assert tls is not None
    files = {"certificate_chain": tls.cert_file, "private_key": tls.key_file}
    for name, path in files.items():
        if not config.state_path(path).is_file():
            raise ConfigError(f"gateway.tls: the {name.replace('_', ' ')} file {config.state_path(path)} does not exist")
    return {
        "name": "envoy.transport_sockets.tls",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "common_tls_context": {
                "tls_certificates": [{name: {"filename": str(config.state_path(path).resolve())} for name, path in files.items()}],
                "alpn_protocols": ["h2", "http/1.1"],
            },
        },
    }


ENVOY_ADMIN_CLUSTER = "envoy_admin"
METRICS_PATH = "/metrics"
ADMIN_STATS_PATH = "/stats/prometheus"
ROUTER_FILTER = {"name": "envoy.filters.http.router", "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"}}


def _metrics_listener(gateway: GatewayConfig) -> dict[str, Any]:
    """GET /metrics on `host`: Envoy's Prometheus stats, for scrapers outside the box or pod.
    The admin listener stays on loopback (it can also shut Envoy down), so this listener
    proxies exactly its /stats/prometheus and answers any other path with 404."""
    hcm = {
        "@type": HCM,
        "stat_prefix": "metrics",
        "codec_type": "AUTO",
        "route_config": {
            "name": "metrics",
            "virtual_hosts": [
                {
                    "name": "metrics",
                    "domains": ["*"],
                    "routes": [
                        {
                            "match": {"path": METRICS_PATH, "headers": [{"name": ":method", "string_match": {"exact": "GET"}}]},
                            "route": {"cluster": ENVOY_ADMIN_CLUSTER, "prefix_rewrite": ADMIN_STATS_PATH},
                        },
                        {"match": {"prefix": "/"}, "direct_response": {"status": 404, "body": {"inline_string": "no such route\n"}}},
                    ],
                }
            ],
        },
        "http_filters": [ROUTER_FILTER],
    }
    return {
        "name": "metrics",
        "address": {"socket_address": {"address": gateway.host, "port_value": gateway.metrics_port}},
        "filter_chains": [{"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}],
    }


def _admin_cluster(gateway: GatewayConfig) -> dict[str, Any]:
    """Envoy's own admin listener, over plain HTTP/1.1 on loopback."""
    return {
        "name": ENVOY_ADMIN_CLUSTER,
        "type": "STATIC",
        "connect_timeout": _seconds(gateway.connect_timeout_s),
        "load_assignment": {
            "cluster_name": ENVOY_ADMIN_CLUSTER,
            "endpoints": [{"lb_endpoints": [{"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": gateway.admin_port}}}}]}],
        },
    }


def render(config: StackConfig, descriptor: Path, openapi: Path | None = None) -> dict[str, Any]:
    """The Envoy bootstrap config as a dict (write it as YAML or JSON); with `openapi` (the
    file write_openapi wrote), it serves that file at GET /v1/openapi.json."""
    gateway = config.gateway
    services = [s for s in load_services(descriptor) if any(m.bindings for m in s.methods)]
    access_log = {
        "name": "envoy.access_loggers.stdout",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
            "log_format": {
                "json_format": {
                    "ts": "%START_TIME%",
                    "request_id": "%REQ(X-REQUEST-ID)%",
                    "method": "%REQ(:METHOD)%",
                    "path": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%",
                    "status": "%RESPONSE_CODE%",
                    "grpc_status": "%GRPC_STATUS%",
                    "duration_ms": "%DURATION%",
                    "upstream": "%UPSTREAM_CLUSTER%",
                    "flags": "%RESPONSE_FLAGS%",
                }
            },
        },
    }
    routes = _routes(services, config, openapi)
    virtual_host: dict[str, Any] = {"name": "all", "domains": ["*"], "routes": routes}
    if config.auth.enabled:
        if config.auth.service not in config.services:
            raise ConfigError(f"auth is enabled but distribution {config.name!r} has no {config.auth.service!r} service to check callers")
        _exempt_public_paths(routes)
    else:
        # Every caller is anonymous: a header claiming otherwise is dropped. (With auth on, the
        # check overwrites both; removing them here would undo that, as the router runs last.)
        virtual_host["request_headers_to_remove"] = list(IDENTITY_HEADERS)
    hcm = {
        "@type": HCM,
        "stat_prefix": "gateway",
        "codec_type": "AUTO",
        # A caller's x-request-id is kept, echoed back, and logged by Envoy and the services.
        "generate_request_id": True,
        "preserve_external_request_id": True,
        "always_set_request_id_in_response": True,
        "stream_idle_timeout": _seconds(STREAM_IDLE_TIMEOUT_S),
        "access_log": [access_log],
        "local_reply_config": {
            "mappers": [
                _direct_ok_mapper(),
                _upload_refused_mapper(),
                *_auth_refusal_mappers(),
                _local_reply_mapper(400, "%LOCAL_REPLY_BODY%", "invalid_request_error", "invalid_request"),
                _local_reply_mapper(404, "Unknown route %REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "invalid_request_error", "not_found"),
                _local_reply_mapper(413, f"Request body is larger than the {gateway.max_request_bytes} byte limit", "invalid_request_error", "request_too_large"),
                _local_reply_mapper(501, "%LOCAL_REPLY_BODY%", "invalid_request_error", "not_implemented"),
                _unavailable_mapper(),
                _local_reply_mapper(504, "The request timed out: %LOCAL_REPLY_BODY%", "timeout_error", "timeout"),
            ],
            "body_format": _json_error("%LOCAL_REPLY_BODY%", "api_error", "http_%RESPONSE_CODE%"),
        },
        "route_config": {
            "name": "stackmesh",
            "virtual_hosts": [virtual_host],
            # Envoy refuses a direct_response file over this (4 KiB by default).
            "max_direct_response_body_size_bytes": max(4096, openapi.stat().st_size if openapi else 0),
        },
        "http_filters": [
            {
                "name": BUFFER_FILTER,
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
                    "max_request_bytes": gateway.max_request_bytes,
                },
            },
            {
                "name": "envoy.filters.http.lua",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
                    "default_source_code": {"inline_string": _lua_source(services, config)},
                },
            },
            {
                "name": "envoy.filters.http.grpc_json_transcoder",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
                    "proto_descriptor": str(descriptor.resolve()),
                    "services": [s.full_name for s in services],
                    "convert_grpc_status": True,
                    "ignore_unknown_query_parameters": True,
                    # Model ids hold "/" ("llama-cpp/SmolLM2-..."), which SDKs send as %2F.
                    "url_unescape_spec": "ALL_CHARACTERS",
                    "print_options": {
                        "always_print_primitive_fields": True,
                        "preserve_proto_field_names": True,
                        "stream_sse_style_delimited": True,
                    },
                    "request_validation_options": {"reject_binding_body_field_collisions": True},
                    # Unset, both are the 1 MiB stream buffer: a prompt of 1.5 MB was stored, and
                    # then every GET of it (and every list holding it) was a 500.
                    "max_request_body_size": gateway.max_request_bytes,
                    "max_response_body_size": MAX_RESPONSE_BYTES,
                },
            },
            *([_auth_cache_filter(), _ext_authz_filter(config)] if config.auth.enabled else []),
            ROUTER_FILTER,
        ],
    }
    families = sorted({_family(s, config) for s in services} & set(config.services))
    if config.auth.enabled and config.auth.service not in families:
        families.append(config.auth.service)
    clusters = [_cluster(name, _addresses(config.services[name]), gateway.connect_timeout_s) for name in families]
    traces = config.telemetry.traces
    if traces.enabled and traces.otlp_endpoint:
        hcm["tracing"] = _tracing(config)
        clusters.append(_cluster(OTEL_COLLECTOR_CLUSTER, [otlp_collector_address(traces.otlp_endpoint)[:2]], gateway.connect_timeout_s))
    chain: dict[str, Any] = {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
    if gateway.tls is not None:
        chain["transport_socket"] = _tls_transport_socket(config)
    listeners = [{"name": "public", "address": {"socket_address": {"address": gateway.host, "port_value": gateway.port}}, "filter_chains": [chain]}]
    if config.telemetry.metrics.enabled:
        listeners.append(_metrics_listener(gateway))
        clusters.append(_admin_cluster(gateway))
    return {
        # Loopback only: the admin API can also change Envoy's state and shut it down.
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": gateway.admin_port}}},
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }
