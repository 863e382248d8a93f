"""The auth service: Envoy's ext_authz check, API keys, JWT verification and quotas."""

from __future__ import annotations

import logging

from envoy.service.auth.v3 import external_auth_pb2_grpc as authz_grpc

from stackmesh.auth.v1 import auth_service_pb2_grpc as pb_grpc
from stackmesh_auth.ext_authz import AuthorizationServicer
from stackmesh_auth.jwt_tokens import JwtVerifier
from stackmesh_auth.keys import KeyStore
from stackmesh_auth.quotas import Quotas
from stackmesh_auth.servicer import KeysServicer, UsageServicer
from stackmesh_common.config import ConfigError
from stackmesh_common.service import ServiceContext, ServiceSpec

log = logging.getLogger("stackmesh.auth")


async def setup(ctx: ServiceContext) -> None:
    auth = ctx.config.auth
    if auth.enabled and not auth.api_keys and auth.jwt is None:
        raise ConfigError("auth is enabled with neither api_keys nor jwt: no caller could authenticate")
    try:
        jwt = None
        if auth.jwt is not None:
            jwt = JwtVerifier(auth.jwt, ctx.config.state_path(auth.jwt.jwks_file) if auth.jwt.jwks_file else None)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    keys = KeyStore(ctx.pool)
    quotas = Quotas(ctx.pool, auth.quotas)
    await quotas.refresh()
    ctx.background(quotas.keep_fresh(), "usage refresh")
    ctx.add_servicer(AuthorizationServicer(auth, keys, jwt, quotas), authz_grpc.add_AuthorizationServicer_to_server)
    ctx.add_servicer(KeysServicer(keys), pb_grpc.add_KeysServiceServicer_to_server)
    ctx.add_servicer(UsageServicer(quotas, auth.quotas), pb_grpc.add_UsageServiceServicer_to_server)
    if not auth.enabled:
        log.warning("auth is off in distribution %s: the gateway lets every caller in as `anonymous`", ctx.config.name)


SPEC = ServiceSpec(name="auth", setup=setup, migrations="stackmesh_auth.migrations")
