"""Least privilege: template.yaml grants each function what its code calls, and nothing it never calls.

"Calls" is decided from the code (``iam_audit``): the function's folder and every layer function it can
reach through a static call graph, the boto3 clients those create and the API methods they call.
Each check is also run on a deliberately broken copy of the template, so it is known to fail.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from local.template import TEMPLATE_PATH, functions, load_template
from tests.reliability import iam_audit
from tests.reliability.harness import Counts

TEMPLATE = load_template()
RAW = TEMPLATE_PATH.read_text(encoding="utf-8")
FUNCTIONS = sorted(functions(TEMPLATE))


def missing_permissions(template: dict[str, Any], function_id: str) -> list[str]:
    granted = iam_audit.granted_actions(template, function_id)
    reached = iam_audit.reachable(template, function_id)
    missing = []
    for action, where in sorted(iam_audit.code_actions(reached).items()):
        if action not in iam_audit.NOT_IAM_ACTIONS and not iam_audit.allows(granted, action):
            missing.append(
                f"{function_id} calls {action} ({', '.join(sorted(where)[:2])}) without permission"
            )
    for service, where in sorted(iam_audit.code_services(reached).items()):
        if service not in iam_audit.services_of(granted):
            missing.append(
                f"{function_id} creates a {service} client ({sorted(where)[0]}) with no {service} grant"
            )
    return missing


def unused_grants(template: dict[str, Any], function_id: str) -> list[str]:
    granted = iam_audit.services_of(iam_audit.granted_actions(template, function_id))
    used = set(iam_audit.code_services(iam_audit.reachable(template, function_id)))
    return [
        f"{function_id} is granted {service} but its code never calls it"
        for service in sorted(granted - used)
    ]


def test_every_wildcard_is_justified_in_a_comment(counts: Counts) -> None:
    wildcards = iam_audit.wildcard_values(TEMPLATE)
    counts.add("iam_wildcards_checked", len(wildcards))
    assert wildcards, "the template's wildcards were found (the audit reads policies at all)"
    assert iam_audit.unjustified_wildcards(TEMPLATE, RAW) == []


def test_an_unjustified_wildcard_is_reported() -> None:
    statement = (
        "            - Effect: Allow\n              Action: {}\n              Resource: !GetAtt PushQueue.Arn"
    )
    raw = RAW.replace(statement.format("sqs:SendMessage"), statement.format('"sqs:*"'))
    assert raw != RAW
    broken = load_template_text(raw)
    line = raw.splitlines().index('              Action: "sqs:*"') + 1
    problems = iam_audit.unjustified_wildcards(broken, raw)
    assert f"ApiFunction: 'sqs:*' on line {line} has no '# Wildcard: why' comment" in problems
    assert all(f"on line {line} " in problem for problem in problems), problems


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_function_may_call_what_its_code_calls(function_id: str, counts: Counts) -> None:
    reached = iam_audit.reachable(TEMPLATE, function_id)
    counts.add("iam_actions_checked", len(iam_audit.code_actions(reached)))
    assert missing_permissions(TEMPLATE, function_id) == []


@pytest.mark.parametrize("function_id", FUNCTIONS)
def test_function_is_granted_no_service_it_never_calls(function_id: str) -> None:
    assert unused_grants(TEMPLATE, function_id) == []


def test_kms_and_secrets_grants_follow_the_code() -> None:
    """The webhook reads the verifier token (Secrets Manager) but never a token (KMS)."""
    services = iam_audit.code_services(iam_audit.reachable(TEMPLATE, "WebhookFunction"))
    assert "secretsmanager" in services and "kms" not in services
    granted = iam_audit.services_of(iam_audit.granted_actions(TEMPLATE, "WebhookFunction"))
    assert "secretsmanager" in granted and "kms" not in granted


def test_a_removed_permission_and_an_extra_grant_are_reported() -> None:
    broken = copy.deepcopy(TEMPLATE)
    pusher = broken["Resources"]["PusherFunction"]["Properties"]
    pusher["Policies"] = [p for p in pusher["Policies"] if p != {"Ref": "TokenKeyPolicy"}]
    webhook = broken["Resources"]["WebhookFunction"]["Properties"]
    webhook["Policies"].append({"Ref": "TokenKeyPolicy"})

    assert any(
        "PusherFunction calls kms:" in problem for problem in missing_permissions(broken, "PusherFunction")
    )
    assert unused_grants(broken, "WebhookFunction") == [
        "WebhookFunction is granted kms but its code never calls it"
    ]


def load_template_text(raw: str) -> dict[str, Any]:
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "template.yaml"
        path.write_text(raw, encoding="utf-8")
        return load_template(path)
