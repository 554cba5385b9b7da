"""rpc.dispatch: registration, annotation-driven param decoding and geth's argument rules."""

from __future__ import annotations

from typing import Annotated, Any

import pytest

from rpc.codecs import BlockId, Codec, invalid
from rpc.dispatch import (
    Address,
    BlockIdParam,
    Bool,
    Data,
    Hash,
    Quantity,
    Registry,
    RequestContext,
    StorageSlot,
    Uint64,
    default_registry,
    method,
)
from rpc.errors import InvalidParams, MethodNotFound, RpcError

ADDR = "0x" + "11" * 20
HASH = "0x" + "22" * 32

reg = Registry()
CTX = RequestContext(node="the node")


@reg.method("t_balance", "t_balanceAlias")
async def balance(ctx: RequestContext, who: Address, block: BlockIdParam | None = None) -> object:
    return {"node": ctx.node, "who": who, "block": block}


@reg.method("t_all")
async def all_codecs(
    ctx: RequestContext,
    q: Quantity,
    u: Uint64,
    d: Data,
    h: Hash,
    b: Bool,
    s: StorageSlot,
) -> tuple[int, int, bytes, bytes, bool, int]:
    return q, u, d, h, b, s


@reg.method("t_plain")
async def plain(
    ctx: RequestContext,
    anything: object,
    obj: dict[str, object],
    arr: list[object],
    text: str,
    n: int,
    flag: bool,
    whatever: Any = "dflt",
) -> list[object]:
    return [anything, obj, arr, text, n, flag, whatever]


@reg.method("t_defaults")
async def defaults(
    ctx: RequestContext, a: Quantity = 7, b: str | None = None, c: Quantity | None = None
) -> list[object]:
    return [a, b, c]


@reg.method("t_none")
async def no_params(ctx: RequestContext) -> str:
    return "pong"


def parse_even(value: Any, arg: int | None) -> int:
    if not isinstance(value, int) or value % 2:
        raise invalid(arg, "want an even number")
    return value


Even = Annotated[int, Codec(parse_even)]


@reg.method("t_custom")
async def custom(ctx: RequestContext, n: Even) -> int:
    return n // 2


@reg.method("t_boom")
async def boom(ctx: RequestContext) -> None:
    raise KeyError("boom")


@reg.method("t_kwonly")
async def kwonly(ctx: RequestContext, a: Quantity, *, extra: int = 3) -> int:
    return a + extra


async def call(method_name: str, params: object) -> Any:
    return await reg.call(CTX, method_name, params)


async def params_error(method_name: str, params: object) -> str:
    with pytest.raises(InvalidParams) as info:
        await call(method_name, params)
    assert info.value.code == -32602
    return info.value.message


async def test_positional_params_are_decoded_by_annotation() -> None:
    out = await call("t_balance", [ADDR, "latest"])
    assert out == {"node": "the node", "who": b"\x11" * 20, "block": BlockId(tag="latest")}
    result = await call("t_all", ["0x10", "0x20", "0xabcd", HASH, True, "0x01"])
    assert result == (16, 32, b"\xab\xcd", b"\x22" * 32, True, 1)


async def test_aliases_share_the_handler() -> None:
    assert await call("t_balanceAlias", [ADDR]) == await call("t_balance", [ADDR])
    assert reg.handler("t_balanceAlias") is balance


async def test_optional_params() -> None:
    assert (await call("t_balance", [ADDR]))["block"] is None
    assert (await call("t_balance", [ADDR, None]))["block"] is None  # null -> default
    assert await call("t_defaults", []) == [7, None, None]
    assert await call("t_defaults", None) == [7, None, None]  # params: null is no params
    assert await call("t_defaults", [None, None, None]) == [7, None, None]
    assert await call("t_defaults", ["0x1", "x", "0x2"]) == [1, "x", 2]


async def test_passthrough_types() -> None:
    args = [{"deep": [1]}, {"k": 1}, [1, "2"], "text", 5, False]
    assert await call("t_plain", args) == [*args, "dflt"]
    assert await call("t_plain", [*args, [1, 2]]) == [*args, [1, 2]]


@pytest.mark.parametrize(
    ("index", "value", "message"),
    [
        (1, "x", "cannot unmarshal string into object"),
        (1, [], "cannot unmarshal array into object"),
        (2, {}, "cannot unmarshal object into array"),
        (3, 1, "cannot unmarshal number into string"),
        (4, "1", "cannot unmarshal string into integer"),
        (4, True, "cannot unmarshal bool into integer"),
        (4, 1.5, "cannot unmarshal number into integer"),
        (5, "true", "cannot unmarshal string into bool"),
    ],
)
async def test_passthrough_type_checks(index: int, value: object, message: str) -> None:
    args: list[object] = [1, {}, [], "s", 1, True]
    args[index] = value
    assert await params_error("t_plain", args) == f"invalid argument {index}: {message}"


async def test_too_many_arguments() -> None:
    assert (
        await params_error("t_balance", [ADDR, "latest", 1]) == "too many arguments, want at most 2"
    )
    assert await params_error("t_none", [1]) == "too many arguments, want at most 0"


async def test_missing_required_argument() -> None:
    assert await params_error("t_balance", []) == "missing value for required argument 0"
    assert await params_error("t_balance", None) == "missing value for required argument 0"
    assert await params_error("t_balance", [None]) == "missing value for required argument 0"
    assert await params_error("t_all", ["0x1"]) == "missing value for required argument 1"


async def test_named_or_scalar_params_are_refused_like_geth() -> None:
    for params in ({"who": ADDR}, "0x1", 1, True):
        assert await params_error("t_balance", params) == "non-array args"


async def test_codec_errors_name_the_argument() -> None:
    message = await params_error("t_all", ["0x1", "0x01"])
    assert message == "invalid argument 1: hex number with leading zero digits"
    assert (
        await params_error("t_balance", [ADDR, "0xzz"]) == "invalid argument 1: invalid hex string"
    )
    assert await params_error("t_balance", ["0x12"]) == (
        "invalid argument 0: hex string has length 2, want 40 for common.Address"
    )


async def test_custom_codec() -> None:
    assert await call("t_custom", [4]) == 2
    assert await params_error("t_custom", [3]) == "invalid argument 0: want an even number"


async def test_keyword_only_params_with_defaults_are_not_positional() -> None:
    assert await call("t_kwonly", ["0x1"]) == 4
    assert await params_error("t_kwonly", ["0x1", 5]) == "too many arguments, want at most 1"


async def test_unknown_method() -> None:
    with pytest.raises(MethodNotFound) as info:
        await call("eth_nope", [])
    assert info.value.code == -32601
    assert info.value.message == "the method eth_nope does not exist/is not available"
    with pytest.raises(MethodNotFound):
        reg.decode("eth_nope", [])


async def test_handler_exceptions_propagate_unchanged() -> None:
    with pytest.raises(KeyError):
        await call("t_boom", [])


def test_decode_without_running() -> None:
    assert reg.decode("t_balance", [ADDR]) == [b"\x11" * 20, None]


def test_registry_introspection() -> None:
    assert "t_balance" in reg
    assert "t_balanceAlias" in reg
    assert "nope" not in reg
    assert "t_none" in reg.names()
    assert reg.names() == sorted(reg.names())
    assert len(reg) == len(reg.names())
    assert reg.handler("nope") is None
    reg.resolve_all()


def test_duplicate_names_are_refused() -> None:
    r = Registry()

    @r.method("a", "b")
    async def h(ctx: RequestContext) -> None:
        return None

    with pytest.raises(ValueError, match="already registered"):

        @r.method("b")
        async def h2(ctx: RequestContext) -> None:
            return None

    assert r.names() == ["a", "b"]


def test_sync_handlers_are_refused() -> None:
    r = Registry()
    with pytest.raises(TypeError, match="async def"):

        @r.method("x")  # type: ignore[type-var]
        def h(ctx: RequestContext) -> None:  # pragma: no cover
            return None


def test_bad_shapes_are_refused() -> None:
    r = Registry()
    with pytest.raises(TypeError, match="RequestContext"):

        @r.method("x")
        async def no_ctx() -> None:  # pragma: no cover
            return None

    with pytest.raises(TypeError, match="positionally"):

        @r.method("y")
        async def star(ctx: RequestContext, *rest: object) -> None:  # pragma: no cover
            return None

    with pytest.raises(TypeError, match="positionally"):

        @r.method("z")
        async def kw(ctx: RequestContext, *, need: int) -> None:  # pragma: no cover
            return None


class Unsupported:
    pass


async def unsupported_handler(ctx: RequestContext, x: Unsupported) -> None:  # pragma: no cover
    return None


async def union_handler(ctx: RequestContext, x: int | str) -> None:  # pragma: no cover
    return None


@pytest.mark.parametrize("fn", [unsupported_handler, union_handler])
def test_unsupported_annotations_fail_at_resolve(fn: Any) -> None:
    r = Registry()
    r.add(fn, "x")
    with pytest.raises(TypeError, match="parameter x"):
        r.resolve_all()


def test_default_registry_and_module_decorator(monkeypatch: pytest.MonkeyPatch) -> None:
    # registered into a copy, so the real default registry is left as it was
    monkeypatch.setattr(default_registry, "_methods", dict(default_registry._methods))
    name = "test_dispatch_default_registry_probe"
    assert name not in default_registry

    @method(name)
    async def probe(ctx: RequestContext) -> int:
        return 1

    assert default_registry.handler(name) is probe


async def test_after_response_callbacks_run_once_and_survive_errors() -> None:
    ctx = RequestContext(node=None)
    seen: list[int] = []
    ctx.after_response(lambda: seen.append(1))
    ctx.after_response(lambda: 1 / 0)
    ctx.after_response(lambda: seen.append(2))
    ctx.run_after_response()
    ctx.run_after_response()
    assert seen == [1, 2]
    assert ctx.connection is None and ctx.request is None


def test_request_context_is_slotted() -> None:
    with pytest.raises(AttributeError):
        CTX.extra = 1  # type: ignore[attr-defined]


def test_rpc_error_is_the_base() -> None:
    assert issubclass(InvalidParams, RpcError)
    assert issubclass(MethodNotFound, RpcError)


def test_every_registered_handler_of_the_node_resolves() -> None:
    """create_app resolves a handler's annotations at its first call (start-up, issue 21):
    a handler with an unsupported annotation must fail here instead."""
    import rpc.namespaces  # noqa: F401  (registers every namespace)

    assert len(default_registry) > 150
    default_registry.resolve_all()
