"""scripts/dump_jit.py: source and analysis output, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scripts.dump_jit import main


def test_prints_generated_source(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["0x600160020160005500"]) == 0
    out = capsys.readouterr().out
    assert "def r_0(evm):" in out and "h_55(evm)" in out
    compile(out, "dump", "exec")  # the dump is the real, valid source


def test_regions_and_artifact_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    artifact = tmp_path / "a.json"
    artifact.write_text(json.dumps({"deployedBytecode": "0x6001600101"}))
    assert main(["--file", str(artifact), "--regions", "--fork", "cancun"]) == 0
    assert "region 0: 3 instructions" in capsys.readouterr().out
    foundry = tmp_path / "f.json"
    foundry.write_text(json.dumps({"deployedBytecode": {"object": "0x00"}}))
    assert main(["--file", str(foundry)]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["0x123"], "odd number"),
        (["zz"], "not hex"),
        (["0x"], "empty"),
        ([], "either HEX or --file"),
        (["00", "--file", "x"], "either HEX or --file"),
        (["00", "--fork", "frontier"], "unknown fork"),
        (["--file", "/nonexistent/code.hex"], "cannot read"),
        (["00" * (1 << 20) + "00"], "larger than"),
    ],
)
def test_bad_input_exits_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_artifacts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for text, message in [("{nope", "not valid JSON"), ('{"abi": []}', "no deployedBytecode")]:
        path = tmp_path / "bad.json"
        path.write_text(text)
        assert main(["--file", str(path)]) == 2
        assert message in capsys.readouterr().err
