"""Least privilege, read from template.yaml and the code: pure functions used by ``test_rel_privilege``.

- :func:`unjustified_wildcards`: every ``*``/``?`` in an IAM or resource policy's Action/Resource needs a
  YAML comment saying ``Wildcard`` (why it is there) in the lines just above it.
- :func:`granted_actions`: the IAM actions of a function (managed policies it refers to, inline
  statements, SAM policy templates).
- :func:`code_calls`: the AWS API calls a function's code can make: its code folder plus every
  ``kyrios_qbo`` module it imports transitively (static import graph, imports inside functions
  included), each ``boto3.client("<service>")`` it creates and each method of those services it calls.
"""

from __future__ import annotations

import ast
import fnmatch
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from local.template import REPO_ROOT, functions, resources

LAYER_ROOT = REPO_ROOT / "layers" / "shared"
LAYER_PACKAGE = "kyrios_qbo"
WILDCARD_COMMENT = re.compile(r"#.*\bwildcards?\b", re.IGNORECASE)
JUSTIFICATION_WINDOW = 6
"""Lines above a wildcard in which its justifying comment must be."""

IAM_PREFIX = {"stepfunctions": "states"}
"""boto3 service name → IAM action prefix, where they differ."""

SAM_POLICY_TEMPLATES = {
    # https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-policy-template-list.html
    "SQSSendMessagePolicy": ["sqs:SendMessage*"],
    "SQSPollerPolicy": [
        "sqs:ChangeMessageVisibility",
        "sqs:ChangeMessageVisibilityBatch",
        "sqs:DeleteMessage",
        "sqs:DeleteMessageBatch",
        "sqs:GetQueueAttributes",
        "sqs:ReceiveMessage",
    ],
    "LambdaInvokePolicy": ["lambda:InvokeFunction"],
    "EventBridgePutEventsPolicy": ["events:PutEvents"],
    "KMSDecryptPolicy": ["kms:Decrypt"],
    "AWSSecretsManagerGetSecretValuePolicy": ["secretsmanager:GetSecretValue"],
    "DynamoDBCrudPolicy": [
        "dynamodb:GetItem",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable",
        "dynamodb:ConditionCheckItem",
    ],
    "DynamoDBReadPolicy": [
        "dynamodb:GetItem",
        "dynamodb:Scan",
        "dynamodb:Query",
        "dynamodb:BatchGetItem",
        "dynamodb:DescribeTable",
    ],
}

# DynamoDB transactions are authorised per item by the item actions; there is no IAM action of that name.
NOT_IAM_ACTIONS = {"dynamodb:TransactWriteItems", "dynamodb:TransactGetItems"}


class UnknownPolicy(ValueError):
    """A function's Policies entry this audit cannot read (extend SAM_POLICY_TEMPLATES)."""


# ---------------------------------------------------------------------------- wildcards
def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _text_of(value: Any) -> str:
    """A policy value as written: plain strings, ``!Sub`` strings; other intrinsics have no wildcard."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return str(sub[0] if isinstance(sub, list) else sub)
    return ""


def _policy_documents(template: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        for key in ("PolicyDocument", "KeyPolicy"):
            if isinstance(props.get(key), Mapping):
                yield logical_id, props[key]
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            for policy in _as_list(props.get("Policies") or []):
                if isinstance(policy, Mapping) and "Statement" in policy:
                    yield logical_id, policy


def wildcard_values(template: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(resource, value) for every Action/Resource value of any policy that contains ``*`` or ``?``."""
    found = []
    for logical_id, document in _policy_documents(template):
        for statement in _as_list(document.get("Statement", [])):
            for key in ("Action", "NotAction", "Resource", "NotResource"):
                for value in _as_list(statement.get(key, [])):
                    text = _text_of(value)
                    if "*" in text or "?" in text:
                        found.append((logical_id, text))
    return found


def unjustified_wildcards(template: Mapping[str, Any], raw_text: str) -> list[str]:
    """Wildcards with no ``# Wildcard...`` comment in the lines above any line that holds them."""
    lines = raw_text.splitlines()
    problems = []
    for logical_id, value in wildcard_values(template):
        holders = [i for i, line in enumerate(lines) if value in line.split(" #", 1)[0]]
        if not holders:
            problems.append(f"{logical_id}: {value!r} not found in the template text")
            continue
        for index in holders:
            window = lines[max(0, index - JUSTIFICATION_WINDOW) : index]
            if not any(WILDCARD_COMMENT.search(line) for line in window):
                problems.append(
                    f"{logical_id}: {value!r} on line {index + 1} has no '# Wildcard: why' comment"
                )
    return sorted(set(problems))


# ---------------------------------------------------------------------------- what a function may do
def _statements_actions(statements: Iterable[Any]) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        if statement.get("Effect", "Allow") == "Allow":
            actions.update(str(action) for action in _as_list(statement.get("Action", [])))
    return actions


def granted_actions(template: Mapping[str, Any], function_id: str) -> set[str]:
    props = functions(template)[function_id]
    managed = resources(template, "AWS::IAM::ManagedPolicy")
    actions: set[str] = set()
    for policy in _as_list(props.get("Policies") or []):
        if isinstance(policy, Mapping) and "Ref" in policy and policy["Ref"] in managed:
            document = managed[policy["Ref"]]["Properties"]["PolicyDocument"]
            actions |= _statements_actions(_as_list(document["Statement"]))
        elif isinstance(policy, Mapping) and "Statement" in policy:
            actions |= _statements_actions(_as_list(policy["Statement"]))
        elif isinstance(policy, Mapping) and len(policy) == 1 and next(iter(policy)) in SAM_POLICY_TEMPLATES:
            actions.update(SAM_POLICY_TEMPLATES[next(iter(policy))])
        else:
            raise UnknownPolicy(f"{function_id}: cannot read policy {policy!r}")
    return actions


def allows(granted: Iterable[str], action: str) -> bool:
    return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in granted)


def services_of(actions: Iterable[str]) -> set[str]:
    return {action.split(":", 1)[0].lower() for action in actions}


# ---------------------------------------------------------------------------- what its code does
# A call graph at function granularity over the function's folder and the layer package: a module
# imported for one helper does not make the function "use" everything else in it (the webhook imports
# the store to read; the pusher imports dead_letters to park, not to redrive).
Symbol = tuple[str, str]
"""(module, top-level name); name "" is the module's own top-level code."""


@dataclass
class Module:
    name: str
    is_package: bool
    tree: ast.Module
    bindings: dict[str, tuple[str, str | None]]
    """local name → (module, attribute) for imports; attribute None when the name is a module."""
    definitions: dict[str, ast.AST]


def _layer_module_file(module: str) -> Path | None:
    base = LAYER_ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".") if is_package else module.split(".")[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def _is_module(name: str, code_dir: Path) -> bool:
    return _layer_module_file(name) is not None or _local_file(name, code_dir) is not None


def _local_file(name: str, code_dir: Path) -> Path | None:
    base = code_dir.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _load(name: str, path: Path, code_dir: Path) -> Module:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    bindings: dict[str, tuple[str, str | None]] = {}
    for node in ast.walk(tree):  # imports inside functions bind names too (lazy imports)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bindings[alias.asname] = (alias.name, None)
                else:
                    bindings.setdefault(alias.name.split(".")[0], (alias.name.split(".")[0], None))
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(node, name, is_package)
            for alias in node.names:
                full = f"{source}.{alias.name}"
                target = (full, None) if _is_module(full, code_dir) else (source, alias.name)
                bindings[alias.asname or alias.name] = target
    definitions = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }
    return Module(name, is_package, tree, bindings, definitions)


@dataclass
class CodeBase:
    """The modules of one function: its code folder and the layer package, loaded on demand."""

    code_dir: Path
    modules: dict[str, Module]

    def module(self, name: str) -> Module | None:
        if name not in self.modules:
            path = _local_file(name, self.code_dir) or _layer_module_file(name)
            if path is None:
                return None
            self.modules[name] = _load(name, path, self.code_dir)
        return self.modules[name]

    def resolve(self, module: str, name: str, depth: int = 0) -> Symbol | None:
        """Where ``name`` of ``module`` is really defined (following re-exports)."""
        found = self.module(module)
        if found is None or depth > 10:
            return None
        if name in found.definitions:
            return (module, name)
        if name in found.bindings:
            source, attribute = found.bindings[name]
            return (source, "") if attribute is None else self.resolve(source, attribute, depth + 1)
        return None


def _body_nodes(node: ast.AST, top_level: bool) -> Iterator[ast.AST]:
    """Nodes of a definition; for a module, only its top-level statements outside definitions."""
    if not top_level:
        yield from ast.walk(node)
        return
    for statement in getattr(node, "body", []):
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            for decorator in statement.decorator_list:  # decorators run at import
                yield from ast.walk(decorator)
            continue
        yield from ast.walk(statement)


def _references(code: CodeBase, module: Module, node: ast.AST, top_level: bool) -> set[Symbol]:
    out: set[Symbol] = set()
    for child in _body_nodes(node, top_level):
        if isinstance(child, ast.Name):
            target = code.resolve(module.name, child.id)
            if target:
                out.add(target)
        elif isinstance(child, ast.Attribute) and isinstance(child.value, ast.Name):
            binding = module.bindings.get(child.value.id)
            if binding and binding[1] is None:  # module.attribute
                target = code.resolve(binding[0], child.attr)
                if target:
                    out.add(target)
    return out


@dataclass(frozen=True)
class Reached:
    symbols: frozenset[Symbol]
    services: dict[str, set[str]]
    """boto3 service → symbols creating its client."""
    calls: dict[str, set[str]]
    """method name called on anything → symbols calling it."""


def reachable(template: Mapping[str, Any], function_id: str) -> Reached:
    """Everything the function's code can run: its folder's definitions and top-level code, then
    whatever they refer to in the layer, transitively (a class reached brings all its methods)."""
    code_dir = REPO_ROOT / str(functions(template)[function_id]["CodeUri"])
    code = CodeBase(code_dir, {})
    pending: list[Symbol] = []
    for path in sorted(code_dir.rglob("*.py")):
        name = ".".join(path.relative_to(code_dir).with_suffix("").parts).removesuffix(".__init__")
        module = code.module(name)
        if module is not None:
            pending += [(name, ""), *((name, definition) for definition in module.definitions)]
    seen: set[Symbol] = set()
    services: dict[str, set[str]] = {}
    calls: dict[str, set[str]] = {}
    while pending:
        symbol = pending.pop()
        if symbol in seen:
            continue
        seen.add(symbol)
        module = code.module(symbol[0])
        if module is None:
            continue
        node: ast.AST = module.tree if symbol[1] == "" else module.definitions[symbol[1]]
        top_level = symbol[1] == ""
        label = f"{symbol[0]}.{symbol[1] or '<module>'}"
        for target in _references(code, module, node, top_level):
            if target not in seen:
                pending.append(target)
                if target[1] == "" and code.module(target[0]) is not None:
                    parent = target[0].rpartition(".")[0]
                    if parent:
                        pending.append((parent, ""))
        for child in _body_nodes(node, top_level):
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute):
                calls.setdefault(child.func.attr, set()).add(label)
                first = child.args[0] if child.args else None
                if (
                    child.func.attr == "client"
                    and isinstance(first, ast.Constant)
                    and isinstance(first.value, str)
                ):
                    services.setdefault(first.value, set()).add(label)
    return Reached(frozenset(seen), services, calls)


@cache
def _operations(service: str) -> dict[str, str]:
    """snake_case method → API operation name, from botocore's service model."""
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(name): name for name in model.operation_names}


def code_actions(reached: Reached) -> dict[str, set[str]]:
    """IAM action → where it is called, for the services whose client the reached code creates."""
    actions: dict[str, set[str]] = {}
    for service in reached.services:
        prefix = IAM_PREFIX.get(service, service)
        for method, operation in _operations(service).items():
            if method in reached.calls:
                actions[f"{prefix}:{operation}"] = reached.calls[method]
    return actions


def code_services(reached: Reached) -> dict[str, set[str]]:
    """IAM service prefix → where its client is created."""
    return {IAM_PREFIX.get(service, service): where for service, where in reached.services.items()}
