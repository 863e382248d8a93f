"""Who may read or change a stored resource: its owner, callers sharing an attribute, admins.

Every resource records its owner (the principal that created it) and the owner's attributes
at that time. The rules, in the spirit of Llama Stack's access policy:
- the owner may do anything with it;
- a caller sharing a value of one of the policy's `shared` attributes with the owner (the
  same `team`, say) may do the actions the policy lists for that attribute;
- a caller with the `admin` role may do anything (operators manage every tenant's data);
- resources the distribution file seeds are public: everyone reads, admins change them.
Everything else is invisible: a store answers as if the resource did not exist (404, never a
403 that leaks its existence), and lists leave it out.

Services apply the policy of their distribution (`auth.access`), set once by the service kit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from psycopg.types.json import Jsonb

from stackmesh_common.call_context import attributes, principal
from stackmesh_common.config import AccessConfig

ADMIN_ROLE = "admin"
ROLES_ATTRIBUTE = "roles"


class Action(str, Enum):
    READ = "read"  # get, list, search, download, use (e.g. a file attached to a store)
    WRITE = "write"  # update, delete, cancel, add to


@dataclass(frozen=True)
class AccessPolicy:
    # Attribute name -> the actions a caller sharing one of its values with the owner may do.
    shared: dict[str, frozenset[Action]] = field(default_factory=dict)


    @classmethod
    def from_config(cls, config: AccessConfig) -> "AccessPolicy":
        return cls({name: frozenset(Action(a) for a in actions) for name, actions in config.shared.items()})


_policy = AccessPolicy()


def configure(policy: AccessPolicy) -> None:
    global _policy
    _policy = policy


def policy() -> AccessPolicy:
    return _policy


def is_admin() -> bool:
    return ADMIN_ROLE in attributes.get().get(ROLES_ATTRIBUTE, [])


def owner() -> str:
    """The principal a new resource belongs to: the caller."""
    return principal.get()


def owner_attributes() -> dict[str, list[str]]:
    """What a new resource records of its owner: the caller's attributes now."""
    return dict(attributes.get())


def owner_attributes_json() -> Jsonb:
    return Jsonb(owner_attributes())


def allows(resource_owner: str, resource_attributes: dict[str, Any] | None, action: Action = Action.READ) -> bool:
    """Whether the caller may do `action` to a resource of `resource_owner`."""
    if resource_owner == principal.get() or is_admin():
        return True
    mine = attributes.get()
    theirs = resource_attributes or {}
    for name, actions in _policy.shared.items():
        if action in actions and set(mine.get(name, ())) & set(theirs.get(name, ()) or ()):
            return True
    return False


def sql_filter(action: Action = Action.READ, *, owner_column: str = "owner", attributes_column: str = "owner_attributes") -> tuple[str, list[Any]]:
    """An SQL condition (with %s placeholders) and its arguments keeping the rows the caller
    may do `action` to; the same rules as `allows`."""
    if is_admin():
        return "TRUE", []
    conditions, args = [f"{owner_column} = %s"], [principal.get()]
    mine = attributes.get()
    for name, actions in _policy.shared.items():
        if action in actions and (values := mine.get(name)):
            conditions.append(f"{attributes_column} -> %s ?| %s")
            args.extend([name, list(values)])
    return "(" + " OR ".join(conditions) + ")", args
