"""The shape the code keeps: functions a person can read at once, modules of one
responsibility. Generated protobuf code aside."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MAX_FUNCTION_LINES = 80
MAX_MODULE_LINES = 500


def sources() -> list[Path]:
    return sorted(
        p
        for package in ("harness", "models", "scenarios")
        for p in (ROOT / package).rglob("*.py")
        if "_pb2" not in p.name
    )


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_functions_and_modules_stay_short(path: Path) -> None:
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{path.name} is over {MAX_MODULE_LINES} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (node.end_lineno or node.lineno) - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{path.name}: over {MAX_FUNCTION_LINES} lines: {', '.join(long)}"


def test_the_check_sees_every_package() -> None:
    seen = {p.relative_to(ROOT).parts[0] for p in sources()}
    assert seen == {"harness", "models", "scenarios"} and len(sources()) > 50
