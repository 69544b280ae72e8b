"""One door per resource: only the ``store`` package reaches DynamoDB's plumbing (``store._*``)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "shared" / "kyrios_qbo"


def _private_store_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {n}" for n in names if "kyrios_qbo.store._" in n]
    return found


def test_nothing_outside_the_store_imports_its_private_modules() -> None:
    code = [p for p in LAYER.rglob("*.py") if (LAYER / "store") not in p.parents]
    code += list((ROOT / "functions").rglob("*.py"))
    assert [hit for path in code for hit in _private_store_imports(path)] == []
