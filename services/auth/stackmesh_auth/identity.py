"""Who a verified credential stands for, and the limits that come with it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from stackmesh_common.errors import InvalidArgument

# Principals name tenants in logs, ownership columns and headers: printable, no spaces.
_PRINCIPAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}")
_ATTRIBUTE = re.compile(r"[a-z][a-z0-9_-]{0,31}")
MAX_ATTRIBUTES = 16
MAX_VALUES = 32
MAX_VALUE_CHARS = 128


@dataclass(frozen=True)
class KeyLimits:
    """A key's own limits; None leaves it to the distribution's rules, 0 is unlimited."""

    requests_per_minute: int | None = None
    tokens_per_day: int | None = None


@dataclass(frozen=True)
class Identity:
    principal: str
    attributes: dict[str, list[str]] = field(default_factory=dict)
    limits: KeyLimits = KeyLimits()
    # The API key it came from; "" for a JWT.
    key_id: str = ""
    # Unix time until which this verification may be reused without asking the key store
    # again (the key cache's freshness, the key's or token's expiry); 0: not at all.
    trusted_until: float = 0.0


def check_principal(name: str, param: str = "principal") -> str:
    if not _PRINCIPAL.fullmatch(name):
        raise InvalidArgument(
            f"`{param}` must be 1-128 characters of letters, digits and . _ @ : + - (starting with a letter or digit); got {name[:64]!r}",
            param=param,
        )
    return name


def check_attributes(attributes: dict[str, list[str]], param: str = "attributes") -> dict[str, list[str]]:
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidArgument(f"at most {MAX_ATTRIBUTES} attributes", param=param)
    for name, values in attributes.items():
        if not _ATTRIBUTE.fullmatch(name):
            raise InvalidArgument(
                f"attribute name {name[:64]!r} must be 1-32 characters of a-z, 0-9, _ and -, starting with a letter", param=f"{param}.{name[:64]}"
            )
        if not values or len(values) > MAX_VALUES:
            raise InvalidArgument(f"attribute `{name}` needs 1 to {MAX_VALUES} values", param=f"{param}.{name}")
        for value in values:
            if not value or len(value) > MAX_VALUE_CHARS or not value.isprintable():
                raise InvalidArgument(
                    f"values of attribute `{name}` must be 1-{MAX_VALUE_CHARS} printable characters", param=f"{param}.{name}"
                )
    return attributes
