"""Envoy's ext_authz check: one call per gateway request, before it reaches a service.

The gateway runs the check after the gRPC-JSON transcoder, so REST and gRPC callers alike
arrive as `/package.Service/Method`. Allowed: the verified principal and its attributes are
set on the request (overwriting anything the caller sent) and the credential is stripped.
Denied: 401 (no or bad credential), 403 (an operator-only method), 429 with Retry-After
(over a quota), with OpenAI's error envelope; gRPC callers get the matching status.
"""

from __future__ import annotations

import logging
import time

import grpc
from envoy.config.core.v3 import base_pb2
from envoy.service.auth.v3 import external_auth_pb2 as authz
from envoy.type.v3 import http_status_pb2
from google.protobuf import struct_pb2
from google.rpc import status_pb2

from stackmesh_auth.identity import Identity
from stackmesh_auth.jwt_tokens import JwtVerifier, looks_like_jwt
from stackmesh_auth.keys import KEY_PREFIX, KeyStore
from stackmesh_auth.methods import admin_methods, spends_tokens
from stackmesh_auth.quotas import Quotas, limits_for
from stackmesh_common.access import ADMIN_ROLE, ROLES_ATTRIBUTE
from stackmesh_common.call_context import (
    ATTRIBUTES_HEADER,
    ERROR_CODE_HEADER,
    ERROR_TYPE_HEADER,
    PRINCIPAL_HEADER,
    encode_attributes,
)
from stackmesh_common.config import AuthConfig
from stackmesh_common.errors import PermissionDenied, StackmeshError, Unauthenticated

log = logging.getLogger("stackmesh.auth")

_OVERWRITE = base_pb2.HeaderValueOption.HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD
# How long the gateway may reuse an allowed answer for the same credential and method
# (its auth cache, gateway/stackmesh_gateway/auth_cache.lua), at most.
GATEWAY_CACHE_S = 2.0


def _header(key: str, value: str) -> base_pb2.HeaderValueOption:
    return base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=key, value=value), append_action=_OVERWRITE)


def denied(error: StackmeshError, retry_after_s: int | None = None) -> authz.CheckResponse:
    """The refusal: its body is the message; the gateway's local-reply mapper puts it in the
    OpenAI envelope with the type and code headers below (gRPC callers get it as the status
    message)."""
    headers = [_header(ERROR_TYPE_HEADER, error.error_type), _header(ERROR_CODE_HEADER, error.reason)]
    if isinstance(error, Unauthenticated):
        headers.append(_header("www-authenticate", 'Bearer realm="stackmesh"'))
    if retry_after_s is not None:
        headers.append(_header("retry-after", str(retry_after_s)))
    return authz.CheckResponse(
        status=status_pb2.Status(code=error.grpc_code.value[0], message=error.message),
        denied_response=authz.DeniedHttpResponse(
            status=http_status_pb2.HttpStatus(code=error.http_status), headers=headers, body=error.message
        ),
    )


def _allowed(identity: Identity, cacheable: bool) -> authz.CheckResponse:
    """Sets the identity on the request. When the same answer holds for a while, it goes to
    the gateway's auth cache too, as dynamic metadata: principal, attributes (as the header
    carries them) and expires_ms (Unix time)."""
    now = time.time()
    expires = min(identity.trusted_until, now + GATEWAY_CACHE_S) if cacheable else 0.0
    metadata = None
    if expires > now:
        attributes = encode_attributes(identity.attributes)
        metadata = struct_pb2.Struct()
        metadata.update({"principal": identity.principal, "attributes": attributes, "expires_ms": int(expires * 1000)})
    return authz.CheckResponse(
        status=status_pb2.Status(code=grpc.StatusCode.OK.value[0]),
        dynamic_metadata=metadata,
        ok_response=authz.OkHttpResponse(
            headers=[
                _header(PRINCIPAL_HEADER, identity.principal),
                _header(ATTRIBUTES_HEADER, encode_attributes(identity.attributes)),
            ],
            # Services never need the credential; it stays out of their logs and peers.
            headers_to_remove=["authorization"],
        ),
    )


class AuthorizationServicer:
    """envoy.service.auth.v3.Authorization."""

    def __init__(self, config: AuthConfig, keys: KeyStore, jwt: JwtVerifier | None, quotas: Quotas) -> None:
        self.config = config
        self.keys = keys
        self.jwt = jwt
        self.quotas = quotas
        self._admin_methods = admin_methods()

    async def _authenticate(self, authorization: str) -> Identity:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated(
                "You didn't provide an API key. Send `Authorization: Bearer <key>` (an API key from `stackmesh keys create`"
                + (" or a JWT from your identity provider)." if self.jwt else ")."),
                reason="missing_api_key",
            )
        if token.startswith(KEY_PREFIX) and self.config.api_keys:
            return await self.keys.verify(token)
        if self.jwt is not None and looks_like_jwt(token):
            return await self.jwt.verify(token)
        raise Unauthenticated("Incorrect API key provided", reason="invalid_api_key")

    async def Check(self, request: authz.CheckRequest, context: grpc.aio.ServicerContext) -> authz.CheckResponse:
        http = request.attributes.request.http
        try:
            identity = await self._authenticate(http.headers.get("authorization", ""))
            path = http.path.partition("?")[0]
            if path in self._admin_methods and ADMIN_ROLE not in identity.attributes.get(ROLES_ATTRIBUTE, ()):
                raise PermissionDenied(
                    f"{path.rsplit('/', 1)[-1]} is for operators: the caller needs the `{ADMIN_ROLE}` role"
                    f" (an API key created with --attr {ROLES_ATTRIBUTE}={ADMIN_ROLE})"
                )
            limits = limits_for(identity, self.config.quotas)
            refusal = await self.quotas.check_request(identity.principal, limits)
            spends = spends_tokens(path)
            if refusal is None and spends:
                refusal = self.quotas.check_tokens(identity.principal, limits)
            if refusal is not None:
                return denied(refusal.error, refusal.retry_after_s)
        except StackmeshError as exc:
            return denied(exc)
        # Every request under a rate limit is counted here, and so is every token-spending
        # one under a token budget: those answers are not for reuse.
        cacheable = not limits.requests_per_minute and not (spends and limits.tokens_per_day)
        return _allowed(identity, cacheable)
