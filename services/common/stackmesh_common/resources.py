"""One registry for every kind of resource a service routes to a provider.

Models and shields today; datasets, benchmarks, scoring functions, tool groups and prompts
next. A resource has an id, aliases, the provider that serves it and what the provider
calls it, a kind-specific type and params, and its owner. Rows live in the service's
`resources` table (shared by replicas); each replica keeps the active ones in memory and
re-reads the table when another replica changes it (Postgres LISTEN/NOTIFY), when a name
misses, or when a list is stale. What "active" means is the
kind's business: `activate` loads a model's weights or checks a shield can run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.errors import UniqueViolation
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from stackmesh_common import access
from stackmesh_common.access import Action
from stackmesh_common.call_context import ANONYMOUS
from stackmesh_common.errors import AlreadyExists, InvalidArgument, NotFound

log = logging.getLogger("stackmesh.resources")

# How stale a replica's view of resources registered elsewhere may get before a list re-reads it
# (a fallback: changes are announced at once with NOTIFY).
REFRESH_INTERVAL_S = 2.0
# Wait before listening again after the connection to Postgres was lost.
RELISTEN_AFTER_S = 1.0
# NOTIFY channels are per database: the schema's name makes them per service.
_NOTIFY = "SELECT pg_notify('stackmesh_resources_' || current_schema(), %s)"

_COLUMNS = "id, provider_id, provider_resource_id, type, params, aliases, owner, source, extract(epoch from created_at)::int, owner_attributes"


@dataclass(frozen=True)
class Resource:
    id: str
    provider_id: str
    provider_resource_id: str
    type: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    owner: str = ANONYMOUS
    source: str = "api"
    created_at: int = 0
    owner_attributes: dict[str, list[str]] = field(default_factory=dict)

    def names(self) -> tuple[str, ...]:
        return (self.id, *self.aliases, f"{self.provider_id}/{self.id}")


def _row(row: tuple) -> Resource:
    return Resource(row[0], row[1], row[2], row[3], row[4], tuple(row[5]), row[6], row[7], row[8], row[9])


def visible(resource: Resource, action: Action = Action.READ) -> bool:
    """Whether the caller may do `action` to the resource. Those the distribution file seeds
    and those operators (the admin role) register are public: everyone reads them, admins
    change them. The rest (a tenant's fine-tuned model, say) follow the access rules."""
    operators = resource.source == "config" or access.ADMIN_ROLE in resource.owner_attributes.get(access.ROLES_ATTRIBUTE, ())
    if operators and action is Action.READ:
        return True
    return access.allows(resource.owner, resource.owner_attributes, action)


# Makes a resource servable; returns it as served (e.g. with the metadata its provider
# reports merged in), or raises to refuse it.
Activate = Callable[[Resource], Awaitable[Resource]]
# Releases what activation took; `shared` says another resource still uses the same
# provider resource (two names for one set of weights).
Deactivate = Callable[[Resource, bool], Awaitable[None]]


async def _nothing_to_release(resource: Resource, shared: bool) -> None:
    return None


class ResourceRegistry:
    """The resources of one kind: register (409 on a taken name), resolve by id, alias or
    `provider_id/id` (404 listing what exists), list, unregister."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        kind: str,
        providers: dict[str, Any],
        *,
        noun: str,
        activate: Activate,
        deactivate: Deactivate = _nothing_to_release,
        list_unservable: bool = False,
    ) -> None:
        """`list_unservable`: a stored resource that cannot be activated now stays listed
        (using it answers why), instead of being left out until it can."""
        self.pool = pool
        self.kind = kind
        self.providers = providers
        self.noun = noun
        self._activate = activate
        self._deactivate = deactivate
        self._list_unservable = list_unservable
        self._active: dict[str, Resource] = {}
        self._lock = asyncio.Lock()
        self._miss_lock = asyncio.Lock()
        # When the last read of the table began.
        self._refreshed_at = 0.0
        self._listener: asyncio.Task[None] | None = None

    def provider(self, resource: Resource) -> Any:
        return self.providers[resource.provider_id]

    def default_provider(self, provider_id: str) -> str:
        """`provider_id`, or the only provider when the caller named none."""
        if not provider_id:
            if len(self.providers) != 1:
                raise InvalidArgument(
                    f"`provider_id` is required when several providers exist: {', '.join(sorted(self.providers))}", param="provider_id"
                )
            return next(iter(self.providers))
        if provider_id not in self.providers:
            raise InvalidArgument(
                f"provider {provider_id!r} does not exist; providers: {', '.join(sorted(self.providers))}", param="provider_id"
            )
        return provider_id

    async def _rows(self) -> list[Resource]:
        async with self.pool.connection() as conn:
            rows = await (
                await conn.execute(f"SELECT {_COLUMNS} FROM resources WHERE kind = %s ORDER BY created_at, id", (self.kind,))
            ).fetchall()
        return [_row(row) for row in rows]

    async def _insert(self, resource: Resource, *, replace_existing: bool) -> Resource:
        conflict = (
            "ON CONFLICT (kind, id) DO UPDATE SET provider_id = EXCLUDED.provider_id,"
            " provider_resource_id = EXCLUDED.provider_resource_id, type = EXCLUDED.type, params = EXCLUDED.params,"
            " aliases = EXCLUDED.aliases, source = EXCLUDED.source"
            if replace_existing
            else ""
        )
        async with self.pool.connection() as conn:
            row = await (
                await conn.execute(
                    "INSERT INTO resources (kind, id, provider_id, provider_resource_id, type, params, aliases, owner, source,"
                    f" owner_attributes) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) {conflict} RETURNING {_COLUMNS}",
                    (
                        self.kind, resource.id, resource.provider_id, resource.provider_resource_id, resource.type,
                        Jsonb(resource.params), list(resource.aliases), resource.owner, resource.source,
                        Jsonb(resource.owner_attributes),
                    ),
                )
            ).fetchone()
            await conn.execute(_NOTIFY, (self.kind,))  # delivered when this commits
        return _row(row)

    async def start(self, seeded: list[Resource]) -> None:
        """Writes the distribution's resources (the file is the source of truth for those it
        names), then activates every stored one; one that cannot be served now is logged."""
        for resource in seeded:
            await self._insert(replace(resource, source="config"), replace_existing=True)
        await self._refresh(force=True)
        async with self.pool.connection() as conn:
            schema = (await (await conn.execute("SELECT current_schema()")).fetchone())[0]
        # Runs for the life of the process (cancelled with the event loop, or by close()).
        self._listener = asyncio.create_task(self._listen(schema), name=f"{self.kind} changes")

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()

    async def _listen(self, schema: str) -> None:
        """Re-reads the table as soon as a replica or worker announces a change of this kind
        (on the channel of the service's `schema`). After a lost connection it listens again
        and re-reads (announcements were missed)."""
        channel = sql.Identifier(f"stackmesh_resources_{schema}")
        while True:
            try:
                async with await AsyncConnection.connect(self.pool.conninfo, autocommit=True) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(channel))
                    await self._refresh(force=True)
                    async for note in conn.notifies():
                        if note.payload == self.kind:
                            await self._refresh(force=True)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("listening for %s changes failed, retrying: %s", self.noun, exc)
            await asyncio.sleep(RELISTEN_AFTER_S)

    async def _try_activate(self, resource: Resource) -> Resource | None:
        if resource.provider_id not in self.providers:
            log.warning("%s %s names provider %s, which this distribution lacks", self.noun, resource.id, resource.provider_id)
            return None
        try:
            return await self._activate(resource)
        except Exception as exc:
            log.warning("%s %s cannot be served now: %s", self.noun, resource.id, exc)
            return resource if self._list_unservable else None

    async def _refresh(self, force: bool = False) -> None:
        """Picks up resources registered or removed through another replica."""
        if not force and time.monotonic() - self._refreshed_at < REFRESH_INTERVAL_S / 4:
            return
        began = time.monotonic()
        stored = {r.id: r for r in await self._rows()}
        self._refreshed_at = began
        async with self._lock:
            for resource_id in list(self._active):
                if resource_id not in stored:
                    self._active.pop(resource_id)
            for resource_id, resource in stored.items():
                if resource_id not in self._active and (active := await self._try_activate(resource)) is not None:
                    self._active[resource_id] = active

    async def _refresh_since(self, missed_at: float) -> None:
        """Makes sure a read of the table began after a miss, so a name registered through
        another replica (or a worker) just before is found. Concurrent misses share reads: at
        most one runs at a time, and one that began after a miss answers for it."""
        async with self._miss_lock:
            if self._refreshed_at <= missed_at:
                await self._refresh(force=True)

    def _lookup(self, name: str) -> Resource | None:
        if name in self._active:
            return self._active[name]
        return next((r for r in self._active.values() if name in r.names()), None)

    async def list(self) -> list[Resource]:
        """The resources the caller may see."""
        if time.monotonic() - self._refreshed_at > REFRESH_INTERVAL_S:
            await self._refresh()
        return sorted((r for r in self._active.values() if visible(r)), key=lambda r: (r.created_at, r.id))

    async def get(self, name: str, param: str, action: Action = Action.READ) -> Resource:
        """The resource named `name` if the caller may do `action` to it; otherwise it is as
        absent as a missing one, and the 404 lists only those the caller may do it to."""
        if not name:
            raise InvalidArgument(f"`{param}` is required", param=param)
        missed_at = time.monotonic()
        resource = self._lookup(name)
        if resource is None:
            await self._refresh_since(missed_at)
            resource = self._lookup(name)
        if resource is None or not visible(resource, action):
            noun = self.noun
            # Those the caller may do `action` to: a teammate refused a change is not told
            # the resource is missing while seeing it listed.
            names = sorted(r.id for r in self._active.values() if visible(r, action))
            raise NotFound(
                f"The {noun} `{name}` does not exist. Available {noun}s: {', '.join(names) or 'none'}",
                param=param,
                reason=f"{noun.replace(' ', '_')}_not_found",
            )
        return resource

    async def register(self, resource: Resource, param: str) -> Resource:
        """Activates and stores a resource for the caller; any of its names taken is a 409."""
        if not resource.id:
            raise InvalidArgument(f"`{param}` is required", param=param)
        resource = replace(
            resource,
            provider_id=self.default_provider(resource.provider_id),
            owner=access.owner(),
            owner_attributes=access.owner_attributes(),
            source="api",
        )
        await self._refresh()
        for name in (resource.id, *resource.aliases):
            if self._lookup(name) is not None:
                raise AlreadyExists(f"a {self.noun} named `{name}` is already registered", param=param)
        # Outside the lock: activation may load weights or call a peer.
        active = await self._activate(resource)
        async with self._lock:
            try:
                # What the caller registered is stored; what activation added is this replica's.
                stored = await self._insert(resource, replace_existing=False)
            except UniqueViolation:
                # Registered meanwhile, here or through another replica.
                raise AlreadyExists(f"a {self.noun} named `{resource.id}` is already registered", param=param) from None
            active = replace(active, created_at=stored.created_at)
            self._active[stored.id] = active
        return active

    async def unregister(self, name: str, param: str) -> Resource:
        resource = await self.get(name, param, Action.WRITE)
        async with self.pool.connection() as conn:
            await conn.execute("DELETE FROM resources WHERE kind = %s AND id = %s", (self.kind, resource.id))
            await conn.execute(_NOTIFY, (self.kind,))
        async with self._lock:
            self._active.pop(resource.id, None)
        shared = any(
            other.provider_id == resource.provider_id and other.provider_resource_id == resource.provider_resource_id
            for other in self._active.values()
        )
        await self._deactivate(resource, shared)
        return resource
