"""Every Lambda handler has Powertools' Logger context, Tracer and Metrics flush, in that order
(metrics emitted by the layer during an invocation are flushed with it, never leaked into the next)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
EXPECTED = ["inject_lambda_context", "capture_lambda_handler", "log_metrics"]


def _decorators(path: Path) -> list[str]:
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name == "lambda_handler":
            names = []
            for decorator in node.decorator_list:
                target = decorator.func if isinstance(decorator, ast.Call) else decorator
                if isinstance(target, ast.Attribute):
                    names.append(target.attr)
            return names
    raise AssertionError(f"{path} has no lambda_handler")


@pytest.mark.parametrize("app", sorted(FUNCTIONS.glob("*/app.py")), ids=lambda p: p.parent.name)
def test_handler_has_logger_tracer_and_metrics(app: Path) -> None:
    assert _decorators(app) == EXPECTED
