"""Bearer JWTs from an identity provider: signature against its JWKS, issuer, audience, expiry.

Keys come from `jwks_file` or `jwks_url` (re-read every `jwks_refresh_s`, and sooner when a
token names a key id not seen yet, at most every MIN_REFETCH_S). A verified token is cached
until it expires, so a client reusing its token costs one dict lookup per request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import urllib.request
from pathlib import Path

import jwt

from stackmesh_auth.identity import Identity, check_principal
from stackmesh_common.config import JwtConfig
from stackmesh_common.errors import InvalidArgument, Unauthenticated

log = logging.getLogger("stackmesh.auth.jwt")

MIN_REFETCH_S = 10.0
FETCH_TIMEOUT_S = 5.0
CACHE_MAX = 100_000


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


class JwtVerifier:
    def __init__(self, config: JwtConfig, jwks_file: Path | None) -> None:
        """`jwks_file`: config.jwks_file resolved (None when keys come from jwks_url)."""
        if bool(config.jwks_url) == bool(config.jwks_file):
            raise ValueError("auth.jwt needs exactly one of jwks_url and jwks_file")
        self.config = config
        self._file = jwks_file
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        # token -> its identity, trusted until the token's exp claim
        self._verified: dict[str, Identity] = {}

    def _read_jwks(self) -> dict[str, jwt.PyJWK]:
        if self._file is not None:
            text = self._file.read_text()
        else:
            with urllib.request.urlopen(self.config.jwks_url, timeout=FETCH_TIMEOUT_S) as answer:
                text = answer.read(1 << 20).decode()
        keys = {}
        for entry in json.loads(text).get("keys", []):
            try:
                key = jwt.PyJWK(entry)
            except jwt.PyJWTError as exc:
                log.warning("skipping a JWKS key: %s", exc)
                continue
            keys[entry.get("kid", "")] = key
        return keys

    async def _refresh(self, force: bool) -> None:
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            if age < (MIN_REFETCH_S if force else self.config.jwks_refresh_s):
                return
            try:
                self._keys = await asyncio.to_thread(self._read_jwks)
            except Exception as exc:
                # Keep the keys we had: an identity provider blip must not lock everyone out.
                log.warning("reading the JWKS failed: %s", exc)
            self._fetched_at = time.monotonic()

    async def _key(self, kid: str) -> jwt.PyJWK:
        await self._refresh(force=False)
        if kid not in self._keys:
            await self._refresh(force=True)
        if kid not in self._keys:
            if not kid and len(self._keys) == 1:
                return next(iter(self._keys.values()))
            raise Unauthenticated("the token is signed by a key the identity provider does not publish", reason="invalid_token")
        return self._keys[kid]

    def _identity(self, claims: dict) -> Identity:
        name = claims.get(self.config.principal_claim)
        if not isinstance(name, str):
            raise Unauthenticated(f"the token has no `{self.config.principal_claim}` claim naming the caller", reason="invalid_token")
        try:
            check_principal(name, param=self.config.principal_claim)
        except InvalidArgument as exc:
            raise Unauthenticated(f"the token's principal is unusable: {exc.message}", reason="invalid_token") from None
        attributes = {}
        for attribute, claim in self.config.attribute_claims.items():
            value = claims.get(claim)
            values = [value] if isinstance(value, str) else [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
            if values:
                attributes[attribute] = values[:32]
        # A token cannot be revoked: its verification holds until it expires.
        return Identity(name, attributes, trusted_until=float(claims["exp"]))

    async def verify(self, token: str) -> Identity:
        now = time.time()
        if (cached := self._verified.get(token)) is not None and cached.trusted_until > now:
            return cached
        try:
            header = jwt.get_unverified_header(token)
            key = await self._key(str(header.get("kid", "")))
            claims = jwt.decode(
                token,
                key,
                algorithms=self.config.algorithms,
                audience=self.config.audience,
                issuer=self.config.issuer,
                leeway=self.config.leeway_s,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired", reason="invalid_token") from None
        except jwt.PyJWTError as exc:
            raise Unauthenticated(f"the token is not valid: {exc}", reason="invalid_token") from None
        identity = self._identity(claims)
        if len(self._verified) >= CACHE_MAX:
            self._verified.clear()
        self._verified[token] = identity
        return identity
