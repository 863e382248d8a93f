"""API keys in Postgres: created for a principal, shown once, stored as SHA-256, revocable.

The gateway checks a key on every request, so verified keys are cached in memory for a
couple of seconds (a revocation through this process clears its entry at once; another
replica's cache catches up within CACHE_TTL_S).
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass

from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from stackmesh.auth.v1 import auth_service_pb2 as pb
from stackmesh_auth.identity import Identity, KeyLimits, check_attributes, check_principal
from stackmesh_common.errors import InvalidArgument, NotFound, Unauthenticated

KEY_PREFIX = "sk-sm-"
# The part of a secret lists show to tell keys apart (the random part adds 4 characters).
SHOWN_CHARS = len(KEY_PREFIX) + 4
CACHE_TTL_S = 2.0
CACHE_MAX = 100_000
MAX_EXPIRY_S = 10 * 365 * 86400

_COLUMNS = (
    "id, prefix, principal, attributes, description, requests_per_minute, tokens_per_day,"
    " extract(epoch from created_at)::bigint, coalesce(extract(epoch from expires_at)::bigint, 0),"
    " coalesce(extract(epoch from revoked_at)::bigint, 0)"
)


def key_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


@dataclass(frozen=True)
class KeyRecord:
    id: str
    prefix: str
    principal: str
    attributes: dict[str, list[str]]
    description: str
    requests_per_minute: int | None
    tokens_per_day: int | None
    created_at: int
    expires_at: int
    revoked_at: int

    def to_proto(self) -> pb.ApiKey:
        limits = pb.Limits()
        if self.requests_per_minute is not None:
            limits.requests_per_minute = self.requests_per_minute
        if self.tokens_per_day is not None:
            limits.tokens_per_day = self.tokens_per_day
        return pb.ApiKey(
            id=self.id,
            principal=self.principal,
            attributes={k: pb.AttributeValues(values=v) for k, v in self.attributes.items()},
            prefix=self.prefix,
            description=self.description,
            limits=limits,
            created_at=self.created_at,
            expires_at=self.expires_at,
            revoked_at=self.revoked_at,
        )

    def identity(self, trusted_until: float = 0.0) -> Identity:
        """The key's identity, or Unauthenticated saying why it is no longer valid."""
        if self.revoked_at:
            raise Unauthenticated(f"API key {self.prefix}... was revoked", reason="invalid_api_key")
        if self.expires_at and self.expires_at <= time.time():
            raise Unauthenticated(f"API key {self.prefix}... has expired", reason="invalid_api_key")
        if self.expires_at:
            trusted_until = min(trusted_until, self.expires_at)
        limits = KeyLimits(self.requests_per_minute, self.tokens_per_day)
        return Identity(self.principal, self.attributes, limits, self.id, trusted_until)


def _limit(value: int, name: str) -> int:
    if value < 0:
        raise InvalidArgument(f"`limits.{name}` must be 0 (unlimited) or more", param=f"limits.{name}")
    return value


class KeyStore:
    def __init__(self, pool: AsyncConnectionPool) -> None:
        self.pool = pool
        self._cache: dict[bytes, tuple[float, KeyRecord | None]] = {}

    async def create(self, request: pb.CreateKeyRequest) -> tuple[KeyRecord, str]:
        principal = check_principal(request.principal)
        attributes = check_attributes({k: list(v.values) for k, v in request.attributes.items()})
        if len(request.description) > 512:
            raise InvalidArgument("`description` is at most 512 characters", param="description")
        if not 0 <= request.expires_in_seconds <= MAX_EXPIRY_S:
            raise InvalidArgument(f"`expires_in_seconds` must be 0 (never) to {MAX_EXPIRY_S}", param="expires_in_seconds")
        limits = request.limits
        rpm = _limit(limits.requests_per_minute, "requests_per_minute") if limits.HasField("requests_per_minute") else None
        tpd = _limit(limits.tokens_per_day, "tokens_per_day") if limits.HasField("tokens_per_day") else None
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "INSERT INTO api_keys (id, key_hash, prefix, principal, attributes, description, requests_per_minute,"
                    " tokens_per_day, expires_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s,"
                    " CASE WHEN %s > 0 THEN now() + make_interval(secs => %s) END)"
                    f" RETURNING {_COLUMNS}",
                    (
                        f"key_{uuid.uuid4().hex[:24]}", key_hash(secret), secret[:SHOWN_CHARS], principal, Jsonb(attributes),
                        request.description, rpm, tpd, request.expires_in_seconds, request.expires_in_seconds,
                    ),
                )
            ).fetchone()
        return KeyRecord(*row), secret

    async def list(self, principal: str) -> list[KeyRecord]:
        condition, args = ("WHERE principal = %s", (principal,)) if principal else ("", ())
        async with self.pool.connection() as conn:
            rows = await (await conn.execute(f"SELECT {_COLUMNS} FROM api_keys {condition} ORDER BY created_at DESC, id", args)).fetchall()
        return [KeyRecord(*row) for row in rows]

    async def revoke(self, key: str) -> KeyRecord:
        """Revokes by id or by secret; revoking twice keeps the first time."""
        column, value = ("key_hash", key_hash(key)) if key.startswith(KEY_PREFIX) else ("id", key)
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    f"UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE {column} = %s RETURNING {_COLUMNS}, key_hash",
                    (value,),
                )
            ).fetchone()
        if row is None:
            raise NotFound(f"API key `{key[:SHOWN_CHARS] if key.startswith(KEY_PREFIX) else key[:64]}` not found", param="key")
        self._cache.pop(bytes(row[-1]), None)
        return KeyRecord(*row[:-1])

    async def verify(self, secret: str) -> Identity:
        """The identity of a presented key, or Unauthenticated."""
        digest = key_hash(secret)
        now = time.monotonic()
        cached = self._cache.get(digest)
        if cached is None or now - cached[0] > CACHE_TTL_S:
            async with self.pool.connection() as conn:
                row = await (await conn.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = %s", (digest,))).fetchone()
            if len(self._cache) >= CACHE_MAX:
                self._cache.clear()
            cached = (now, None if row is None else KeyRecord(*row))
            self._cache[digest] = cached
        record = cached[1]
        if record is None:
            raise Unauthenticated("Incorrect API key provided", reason="invalid_api_key")
        return record.identity(trusted_until=time.time() + CACHE_TTL_S - (now - cached[0]))
