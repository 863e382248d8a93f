"""Hypothesis-generated protobuf messages sent straight to each service's gRPC port.

Every unary method of every deployed service gets messages built from its descriptor (full
ranges of every scalar, NaN and infinities, NUL and astral characters in strings, unknown
enum numbers, bytes), and about as many that no well-behaved client sends: invalid UTF-8 in a
string field, a repeated field of up to 200,000 elements, a Struct nested past protobuf's
recursion limit, unknown fields, garbage. The service may refuse any of them, but with a status that says so:
never INTERNAL or UNKNOWN, and before the deadline.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, struct_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st

from stackmesh_gateway.descriptor import API_FAMILY, INSPECT_API
from tests.fuzz.outcomes import Outcomes

# Statuses that mean the service failed rather than refused: a bug, whatever the input.
FAILED = {grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN}
# Nested messages deeper than this are left empty (some types contain themselves).
MAX_DEPTH = 3
# Past protobuf's default recursion limit (100 nested messages; a Value level is two).
DEEP_STRUCT_LEVELS = (40, 120)
HUGE_REPEATED = (1_000, 200_000)
# Huge repeated fields stop short of this many bytes: past a few MB a case tests only the
# service's CPU (the servers take 64 MiB messages); bench/fuzz.py raises it.
HUGE_BYTES = 2 * 1024 * 1024
FD = FieldDescriptor
_INT_RANGES = {
    FD.TYPE_INT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1),
    FD.TYPE_FIXED32: (0, 2**32 - 1),
    FD.TYPE_INT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FD.TYPE_UINT64: (0, 2**64 - 1),
    FD.TYPE_FIXED64: (0, 2**64 - 1),
}
_JSON_SCALARS = st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20)
_JSON = st.recursive(_JSON_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
# Characters protobuf can carry (no lone surrogates), NUL and astral planes included.
_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)


@dataclass(frozen=True)
class Target:
    service: str  # the process that serves it (stack.service_address)
    path: str  # /stackmesh.inference.v1.ModelsService/GetModel
    input: Descriptor


def load_pool(descriptor: Path) -> descriptor_pool.DescriptorPool:
    pool = descriptor_pool.DescriptorPool()
    # The set is built with --include_imports, dependencies first.
    for file in descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes()).file:
        pool.Add(file)
    return pool


def unary_targets(descriptor: Path, pool: descriptor_pool.DescriptorPool, deployed: list[str]) -> list[Target]:
    """Every unary method of the services the stack runs (Inspect on each of them)."""
    targets = []
    for file in descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes()).file:
        if not file.package.startswith("stackmesh."):
            continue
        api = file.package.split(".")[1]
        hosts = deployed if api == INSPECT_API else [API_FAMILY.get(api, api)]
        for service in file.service:
            for method in service.method:
                if method.client_streaming or method.server_streaming:
                    continue
                input_type = pool.FindMessageTypeByName(method.input_type.lstrip("."))
                for host in hosts:
                    if host in deployed:
                        targets.append(Target(host, f"/{file.package}.{service.name}/{method.name}", input_type))
    return targets


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _deep_value(levels: int) -> bytes:
    """A google.protobuf.Value holding a list holding a list ... `levels` deep."""
    value = _length_delimited(3, b"x")  # Value.string_value
    for _ in range(levels):
        value = _length_delimited(6, _length_delimited(1, value))  # Value.list_value.values
    return value


class Messages:
    """Hypothesis strategies of serialized request messages, hostile ones mixed in."""

    def __init__(self, huge_bytes: int = HUGE_BYTES) -> None:
        self.huge_bytes = huge_bytes
        self._cache: dict[tuple[str, int], st.SearchStrategy[Message]] = {}

    def message(self, descriptor: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
        key = (descriptor.full_name, depth)
        if key not in self._cache:
            cls = message_factory.GetMessageClass(descriptor)
            if depth >= MAX_DEPTH:
                self._cache[key] = st.just(cls())
            elif descriptor.full_name in ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"):
                self._cache[key] = _JSON.map(lambda value, cls=cls: _json_message(cls, value))
            else:
                optional = {f.name: self._field(f, depth) for f in descriptor.fields}
                self._cache[key] = st.fixed_dictionaries({}, optional=optional).map(lambda values, cls=cls: _build(cls, values))
        return self._cache[key]

    def _field(self, f: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            key_field, value_field = f.message_type.fields_by_name["key"], f.message_type.fields_by_name["value"]
            return st.dictionaries(self._single(key_field, depth), self._single(value_field, depth + 1), max_size=3)
        if f.is_repeated:
            return st.lists(self._single(f, depth + 1), max_size=4)
        return self._single(f, depth + 1)

    def _single(self, f: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
        if f.type in _INT_RANGES:
            low, high = _INT_RANGES[f.type]
            return st.integers(low, high)
        if f.type == FD.TYPE_DOUBLE:
            return st.floats()
        if f.type == FD.TYPE_FLOAT:
            return st.floats(width=32)
        if f.type == FD.TYPE_BOOL:
            return st.booleans()
        if f.type == FD.TYPE_STRING:
            return _TEXT
        if f.type == FD.TYPE_BYTES:
            return st.binary(max_size=64)
        if f.type == FD.TYPE_ENUM:
            # proto3 enums are open: numbers without a name arrive as they are.
            return st.sampled_from([v.number for v in f.enum_type.values]) | st.integers(-(2**31), 2**31 - 1)
        return self.message(f.message_type, depth)

    def hostile(self, descriptor: Descriptor) -> st.SearchStrategy[bytes]:
        """Serialized messages for `descriptor`: valid ones, and as many broken in some way."""
        valid = self.message(descriptor).map(lambda m: m.SerializeToString())
        variants: list[st.SearchStrategy[bytes]] = [valid, valid, valid]
        strings = [f for f in descriptor.fields if f.type == FD.TYPE_STRING]
        if strings:
            bad_utf8 = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"ok\x80"])
            variants.append(st.tuples(valid, st.sampled_from(strings), bad_utf8).map(lambda t: t[0] + _length_delimited(t[1].number, t[2])))
        repeated = [f for f in descriptor.fields if f.is_repeated]
        if repeated:
            variants.append(st.tuples(valid, st.sampled_from(repeated), st.integers(*HUGE_REPEATED)).flatmap(lambda t: self._huge(descriptor, *t)))
        structs = [f for f in descriptor.fields if f.message_type is not None and f.message_type.full_name in ("google.protobuf.Value", "google.protobuf.Struct")]
        if structs:
            variants.append(st.tuples(valid, st.sampled_from(structs), st.integers(*DEEP_STRUCT_LEVELS)).map(lambda t: t[0] + _deep_field(*t[1:])))
        variants.append(st.tuples(valid, st.integers(1000, 2**29 - 1), st.binary(max_size=16)).map(lambda t: t[0] + _length_delimited(t[1], t[2])))
        variants.append(st.binary(max_size=64))
        return st.one_of(variants)

    def _huge(self, descriptor: Descriptor, valid: bytes, f: FieldDescriptor, count: int) -> st.SearchStrategy[bytes]:
        # Concatenated messages merge, and repeated fields append: one element's encoding,
        # `count` times over, is a message with `count` elements.
        cls = message_factory.GetMessageClass(descriptor)
        element = self._single(f, MAX_DEPTH - 1) if not (f.message_type and f.message_type.GetOptions().map_entry) else self._field(f, MAX_DEPTH - 1)
        return element.map(lambda e: valid + _repeat(_build(cls, {f.name: e if isinstance(e, dict) else [e]}).SerializeToString(), count, self.huge_bytes))


def _repeat(encoded: bytes, count: int, limit: int) -> bytes:
    return encoded * max(1, min(count, limit // max(1, len(encoded))))


def _deep_field(f: FieldDescriptor, levels: int) -> bytes:
    value = _deep_value(levels)
    if f.message_type.full_name == "google.protobuf.Struct":
        value = _length_delimited(1, _length_delimited(1, b"k") + _length_delimited(2, value))  # Struct.fields["k"]
    return _length_delimited(f.number, value)


def _json_message(cls: type[Message], value: Any) -> Message:
    """A Struct, Value or ListValue of the fuzzer's pool holding `value` (built with the
    default pool's helpers, then re-read: classes of two pools do not mix)."""
    name = cls.DESCRIPTOR.full_name
    if name == "google.protobuf.Struct":
        wkt: Message = struct_pb2.Struct()
        wkt.update(value if isinstance(value, dict) else {"value": value})
    elif name == "google.protobuf.ListValue":
        wkt = struct_pb2.ListValue()
        wkt.extend(value if isinstance(value, list) else [value])
    else:
        holder = struct_pb2.Struct()
        holder.update({"v": value})
        wkt = holder.fields["v"]
    return cls.FromString(wkt.SerializeToString())


def _build(cls: type[Message], values: dict[str, Any]) -> Message:
    message = cls()
    for name, value in values.items():
        f = message.DESCRIPTOR.fields_by_name[name]
        target = getattr(message, name)
        if f.message_type is not None and f.message_type.GetOptions().map_entry:
            for key, item in value.items():
                if isinstance(item, Message):
                    target[key].CopyFrom(item)
                else:
                    target[key] = item
        elif f.is_repeated:
            if f.message_type is not None:
                for item in value:
                    target.add().CopyFrom(item)
            else:
                target.extend(value)
        elif f.message_type is not None:
            target.CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


def fuzz_method(channel: grpc.Channel, target: Target, messages: Messages, examples: int, outcomes: Outcomes, deadline_s: float) -> None:
    call: Callable[..., bytes] = channel.unary_unary(target.path)

    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet)
    @given(messages.hostile(target.input))
    def send(payload: bytes) -> None:
        started = time.monotonic()
        try:
            call(payload, timeout=deadline_s)
            outcomes.record("grpc", "OK")
            return
        except grpc.RpcError as exc:
            code, details = exc.code(), exc.details()
        outcomes.record("grpc", code.name)
        if code in FAILED or code in (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.UNAVAILABLE):
            elapsed = time.monotonic() - started
            outcomes.fail(f"{code.name} from {target.service} {target.path}", f"after {elapsed:.1f} s, {len(payload)} bytes {payload[:120]!r}: {details!r:.300}")

    send()


def fuzz_grpc(
    addresses: dict[str, str], descriptor: Path, examples: int, outcomes: Outcomes, deadline_s: float = 15.0, huge_bytes: int = HUGE_BYTES
) -> None:
    """Sends `examples` messages to every unary method of the services in `addresses`."""
    pool = load_pool(descriptor)
    messages = Messages(huge_bytes)
    options = [("grpc.max_send_message_length", -1), ("grpc.max_receive_message_length", -1)]
    channels = {name: grpc.insecure_channel(address, options=options) for name, address in addresses.items()}
    try:
        for target in unary_targets(descriptor, pool, list(addresses)):
            fuzz_method(channels[target.service], target, messages, examples, outcomes, deadline_s)
    finally:
        for channel in channels.values():
            channel.close()


def run(addresses: dict[str, str], descriptor: Path, examples: int, huge_bytes: int = HUGE_BYTES) -> Outcomes:
    """fuzz_grpc in a fresh Outcomes: the entry point of a child process (it returns by pickle)."""
    outcomes, started = Outcomes(), time.monotonic()
    fuzz_grpc(addresses, descriptor, examples, outcomes, huge_bytes=huge_bytes)
    outcomes.seconds = time.monotonic() - started
    return outcomes
