"""Known-answer vectors (go-ethereum's testdata, see vectors/README.md) for 0x05-0x11, 0x100."""

from __future__ import annotations

import pytest

from jit.evm.precompiles import bls12_381
from jit.evm.precompiles.base import Precompile, PrecompileFailure
from jit.evm.precompiles.blake2f import blake2f
from jit.evm.precompiles.bn254 import ecadd, ecmul, ecpairing
from jit.evm.precompiles.kzg import point_evaluation
from jit.evm.precompiles.modexp import modexp, modexp_osaka
from jit.evm.precompiles.p256 import p256verify
from tests.unit.jit.precompiles.support import load

SUCCESS: dict[str, Precompile] = {
    "modexp_eip2565": modexp,
    "modexp_eip7883": modexp_osaka,
    "bn256Add": ecadd,
    "bn256ScalarMul": ecmul,
    "bn256Pairing": ecpairing,
    "blake2F": blake2f,
    "pointEvaluation": point_evaluation,
    "blsG1Add": bls12_381.g1add,
    "p256Verify": p256verify,
}
FAILURE: dict[str, Precompile] = {
    "fail-blake2f": blake2f,
}


def _cases(table: dict[str, Precompile]) -> list[object]:
    return [
        pytest.param(fn, vector, id=f"{name}:{vector['Name']}")
        for name, fn in table.items()
        for vector in load(name)
    ]


@pytest.mark.parametrize(("fn", "vector"), _cases(SUCCESS))
def test_known_answer(fn: Precompile, vector: dict[str, object]) -> None:
    data = bytes.fromhex(str(vector["Input"]))
    gas = int(str(vector["Gas"]))
    output, used = fn(data, gas)
    assert output.hex() == vector["Expected"]
    assert used == gas
    # One gas short of the exact cost fails (when the cost is nonzero).
    if gas:
        with pytest.raises(PrecompileFailure):
            fn(data, gas - 1)


@pytest.mark.parametrize(("fn", "vector"), _cases(FAILURE))
def test_known_failure(fn: Precompile, vector: dict[str, object]) -> None:
    with pytest.raises(PrecompileFailure):
        fn(bytes.fromhex(str(vector["Input"])), 10**9)
