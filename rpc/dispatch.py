"""The method registry: ``@method("eth_getBalance")`` and positional params decoded by annotation.

Owns ``Registry`` (method name -> handler, aliases included), the module-level
``default_registry`` and ``method`` decorator the namespaces register into, and
``RequestContext``. A handler is ``async def h(ctx: RequestContext, p0: T0, p1: T1 = d)``;
each JSON positional parameter is decoded by its annotation (resolved with
``typing.get_type_hints(include_extras=True)``, lazily or by ``Registry.resolve_all``):

- ``Annotated[T, Codec(fn)]`` (``Quantity``, ``Data``, ``Address``, ``Hash``, ``Bool``,
  ``BlockIdParam``, ``StorageSlot``, ... from ``rpc.codecs``): ``fn(value, index)``;
- ``object`` / ``Any``: the JSON value as is; ``str``, ``dict[...]``, ``list[...]``,
  ``int`` (a JSON integer), ``bool``: the JSON value after a type check;
- ``X | None``: optional (missing or null -> the default, else None).

Argument checks follow geth's ``parsePositionalArguments``: named (object) params are
refused (``non-array args``), ``too many arguments, want at most N``, ``missing value for
required argument N`` (also for a null given to a required parameter), and codec errors
as ``invalid argument N: ...``; all -32602.
"""

from __future__ import annotations

import inspect
import logging
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, Union

from rpc.codecs import (
    Address,
    BlockIdParam,
    BlockNumberParam,
    Bool,
    Codec,
    Data,
    Hash,
    Quantity,
    StorageSlot,
    Uint64,
    invalid,
    json_type,
    parse_bool,
)
from rpc.errors import InvalidParams, MethodNotFound

if TYPE_CHECKING:
    from aiohttp import web

    from rpc.server import WsConnection

__all__ = [
    "Address",
    "BlockIdParam",
    "BlockNumberParam",
    "Bool",
    "Data",
    "Hash",
    "Quantity",
    "Registry",
    "RequestContext",
    "StorageSlot",
    "Uint64",
    "default_registry",
    "method",
]

Handler = Callable[..., Awaitable[Any]]
Decoder = Callable[[Any, int], Any]
F = TypeVar("F", bound=Handler)

logger = logging.getLogger("hummingbird.rpc")

_MISSING = object()


class RequestContext:
    """What a handler gets besides its params: the node, the WebSocket connection
    (None over HTTP) and the aiohttp request (the upgrade request over WebSocket).

    One context serves one HTTP body or WebSocket message (all items of a batch).
    ``after_response(fn)`` runs ``fn()`` right after that message's response has been
    queued (WebSocket) or built (HTTP), or after the last item if nothing is answered.
    """

    __slots__ = ("_after", "connection", "node", "request")

    def __init__(
        self,
        node: Any,
        connection: WsConnection | None = None,
        request: web.Request | None = None,
    ) -> None:
        self.node = node
        self.connection = connection
        self.request = request
        self._after: list[Callable[[], object]] | None = None

    def after_response(self, fn: Callable[[], object]) -> None:
        if self._after is None:
            self._after = []
        self._after.append(fn)

    def run_after_response(self) -> None:
        """Run (once) the callbacks ``after_response`` collected; errors are logged."""
        callbacks, self._after = self._after, None
        for fn in callbacks or ():
            try:
                fn()
            except Exception:
                logger.exception("after_response callback failed")


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    decode: Decoder | None  # None: the JSON value as is
    required: bool
    default: Any


@dataclass(slots=True)
class _Method:
    name: str
    handler: Handler
    params: tuple[_Param, ...] | None = None  # resolved on first use

    def resolve(self) -> tuple[_Param, ...]:
        if self.params is None:
            self.params = _signature(self.handler)
        return self.params

    def decode(self, params: object) -> list[Any]:
        spec = self.resolve()
        if params is None:
            values: list[Any] = []
        elif isinstance(params, list):
            values = params
        else:
            raise InvalidParams("non-array args")
        if len(values) > len(spec):
            raise InvalidParams(f"too many arguments, want at most {len(spec)}")
        args: list[Any] = []
        for i, p in enumerate(spec):
            value = values[i] if i < len(values) else None
            if value is not None:
                args.append(value if p.decode is None else p.decode(value, i))
            elif p.required:
                raise InvalidParams(f"missing value for required argument {i}")
            else:
                args.append(p.default)
        return args


class Registry:
    """JSON-RPC method name -> handler; ``call`` decodes params and runs the handler."""

    __slots__ = ("_methods",)

    def __init__(self) -> None:
        self._methods: dict[str, _Method] = {}

    def method(self, name: str, *aliases: str) -> Callable[[F], F]:
        """Decorator registering an ``async def`` handler under ``name`` and ``aliases``."""

        def register(fn: F) -> F:
            self.add(fn, name, *aliases)
            return fn

        return register

    def add(self, fn: Handler, name: str, *aliases: str) -> None:
        if not inspect.iscoroutinefunction(fn):
            raise TypeError(f"{name}: handler {fn!r} must be an async def")
        _check_shape(fn)
        for n in (name, *aliases):
            if n in self._methods:
                raise ValueError(f"method {n} is already registered")
        entry = _Method(name, fn)
        for n in (name, *aliases):
            self._methods[n] = entry

    def resolve_all(self) -> None:
        """Resolve every handler's annotations now (raises TypeError on an unsupported one)."""
        for entry in self._methods.values():
            entry.resolve()

    def names(self) -> list[str]:
        return sorted(self._methods)

    def handler(self, name: str) -> Handler | None:
        entry = self._methods.get(name)
        return None if entry is None else entry.handler

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    def __len__(self) -> int:
        return len(self._methods)

    def decode(self, method: str, params: object) -> list[Any]:
        """The handler's positional arguments for JSON ``params`` (raises RpcError)."""
        entry = self._methods.get(method)
        if entry is None:
            raise MethodNotFound(method)
        return entry.decode(params)

    async def call(self, ctx: RequestContext, method: str, params: object) -> Any:
        """Run ``method``: -32601 / -32602 as ``RpcError``; the handler's own exceptions
        propagate unchanged (the server maps them with ``rpc.errors.error_object``)."""
        entry = self._methods.get(method)
        if entry is None:
            raise MethodNotFound(method)
        args = entry.decode(params)
        return await entry.handler(ctx, *args)


default_registry = Registry()


def method(name: str, *aliases: str) -> Callable[[F], F]:
    """Register a handler in ``default_registry``: ``@method("anvil_mine", "evm_mine")``."""
    return default_registry.method(name, *aliases)


# ---------------------------------------------------------------- signatures


def _check_shape(fn: Handler) -> None:
    params = list(inspect.signature(fn).parameters.values())
    if not params or params[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        raise TypeError(f"{fn.__qualname__}: the first parameter must be the RequestContext")
    for p in params[1:]:
        if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
            continue
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is not p.empty:
            continue
        raise TypeError(f"{fn.__qualname__}: parameter {p.name} cannot be filled positionally")


def _signature(fn: Handler) -> tuple[_Param, ...]:
    hints = typing.get_type_hints(fn, include_extras=True)
    out: list[_Param] = []
    for p in list(inspect.signature(fn).parameters.values())[1:]:
        if p.kind is inspect.Parameter.KEYWORD_ONLY:
            continue
        annotation = hints.get(p.name, Any)
        decode, optional = _decoder(annotation, f"{fn.__qualname__}: parameter {p.name}")
        has_default = p.default is not inspect.Parameter.empty
        out.append(
            _Param(
                name=p.name,
                decode=decode,
                required=not (has_default or optional),
                default=p.default if has_default else None,
            )
        )
    return tuple(out)


def _decoder(tp: Any, where: str) -> tuple[Decoder | None, bool]:
    """The decoder for annotation ``tp`` and whether ``tp`` admits None."""
    origin = typing.get_origin(tp)
    if origin is Union or origin is types.UnionType:
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(members) != 1:
            raise TypeError(f"{where}: unsupported union {tp!r} (only X | None)")
        decode, _ = _decoder(members[0], where)
        return decode, True
    if origin is Annotated:
        for meta in tp.__metadata__:
            if isinstance(meta, Codec):
                return meta.parse, False
        return _decoder(typing.get_args(tp)[0], where)
    if tp is Any or tp is object:
        return None, False
    if tp is type(None):
        return None, True
    if tp is bool:
        return parse_bool, False
    if tp is int:
        return _expect_int, False
    if tp is str:
        return _expect(str, "string"), False
    if tp is dict or origin is dict:
        return _expect(dict, "object"), False
    if tp is list or origin is list:
        return _expect(list, "array"), False
    raise TypeError(f"{where}: unsupported annotation {tp!r}")


def _expect(kind: type, name: str) -> Decoder:
    def check(value: Any, arg: int) -> Any:
        if not isinstance(value, kind):
            raise invalid(arg, f"cannot unmarshal {json_type(value)} into {name}")
        return value

    return check


def _expect_int(value: Any, arg: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid(arg, f"cannot unmarshal {json_type(value)} into integer")
    return value
