"""The layer's AWS clients: one per service, each with bounded timeouts and standard retries."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from kyrios_qbo import aws_clients

LAYER = Path(__file__).resolve().parents[2] / "layers" / "shared" / "kyrios_qbo"


def test_clients_have_timeouts_and_standard_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws_clients.client.cache_clear()
    config = aws_clients.client("sqs").meta.config
    assert config.connect_timeout == aws_clients.CONNECT_TIMEOUT_SECONDS
    assert config.read_timeout == aws_clients.READ_TIMEOUT_SECONDS
    assert config.retries == {"mode": "standard", "total_max_attempts": aws_clients.MAX_ATTEMPTS}
    assert aws_clients.client("sqs") is aws_clients.client("sqs")  # one per container
    aws_clients.client.cache_clear()


def test_no_other_module_of_the_layer_creates_a_boto3_client() -> None:
    offenders = []
    for path in LAYER.rglob("*.py"):
        if path.name == "aws_clients.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Attribute) and node.attr in {"client", "resource"}
                    and isinstance(node.value, ast.Name) and node.value.id == "boto3"):
                offenders.append(f"{path.relative_to(LAYER)}:{node.lineno}")
    assert offenders == []
