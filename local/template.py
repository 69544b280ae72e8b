"""Read template.yaml the way CloudFormation does, for the local stack.

- :func:`load_template` parses YAML with the CloudFormation short tags (``!Ref``, ``!GetAtt``,
  ``!Sub``, ...) into their long forms (``{"Ref": ...}``, ``{"Fn::GetAtt": [...]}``).
- :func:`resources` / :func:`functions` list resources; functions come merged with ``Globals``.
- :class:`Resolver` evaluates intrinsics against the physical ids of locally provisioned resources,
  so :func:`function_environment` yields exactly the variables a deployed function would get.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = REPO_ROOT / "template.yaml"

FUNCTION_TYPE = "AWS::Serverless::Function"
NO_VALUE = object()
"""What ``!Ref AWS::NoValue`` resolves to: the enclosing key or list item is dropped."""


class TemplateError(ValueError):
    """The template uses something this resolver does not understand, or refers to nothing."""


# ---------------------------------------------------------------------------- YAML with short tags
class CloudFormationLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no stubs here
    """SafeLoader that turns CloudFormation short tags into long-form intrinsic dicts."""


def _construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise TemplateError(f"unsupported YAML node {node!r}")


def _short_tag(long_name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value = _construct(loader, node)
        if long_name == "Fn::GetAtt" and isinstance(value, str):
            logical_id, _, attribute = value.partition(".")
            value = [logical_id, attribute]
        return {long_name: value}

    return construct


for _tag in (
    "Base64",
    "Cidr",
    "FindInMap",
    "GetAtt",
    "GetAZs",
    "ImportValue",
    "Join",
    "Select",
    "Split",
    "Sub",
    "Transform",
    "And",
    "Equals",
    "If",
    "Not",
    "Or",
    "ToJsonString",
    "Length",
):
    CloudFormationLoader.add_constructor(f"!{_tag}", _short_tag(f"Fn::{_tag}"))
CloudFormationLoader.add_constructor("!Ref", _short_tag("Ref"))
CloudFormationLoader.add_constructor("!Condition", _short_tag("Condition"))


def load_template(path: Path | str = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as plain dicts/lists with long-form intrinsics."""
    with open(path, encoding="utf-8") as handle:
        document = yaml.load(handle, Loader=CloudFormationLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(document, dict) or "Resources" not in document:
        raise TemplateError(f"{path} is not a CloudFormation template")
    return document


# ---------------------------------------------------------------------------- listing
def resources(template: Mapping[str, Any], resource_type: str | None = None) -> dict[str, dict[str, Any]]:
    """Resources by logical id, optionally only those of one type."""
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource_type is None or resource["Type"] == resource_type
    }


def _merge_globals(global_props: Mapping[str, Any], props: Mapping[str, Any]) -> dict[str, Any]:
    """SAM's Globals merge: maps merge recursively, lists concatenate, scalars are overridden."""
    merged: dict[str, Any] = dict(global_props)
    for key, value in props.items():
        base = merged.get(key)
        if isinstance(base, Mapping) and isinstance(value, Mapping) and not _is_intrinsic(value):
            merged[key] = _merge_globals(base, value)
        elif isinstance(base, list) and isinstance(value, list):
            merged[key] = [*base, *value]
        else:
            merged[key] = value
    return merged


def _is_intrinsic(value: Mapping[str, Any]) -> bool:
    if len(value) != 1:
        return False
    key = next(iter(value))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def functions(template: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each ``AWS::Serverless::Function``'s properties merged with ``Globals.Function``."""
    global_props = template.get("Globals", {}).get("Function", {})
    return {
        logical_id: _merge_globals(global_props, resource.get("Properties", {}))
        for logical_id, resource in resources(template, FUNCTION_TYPE).items()
    }


def references(value: Any) -> set[str]:
    """Logical ids (resources or parameters) that ``value`` refers to, pseudo parameters excluded."""
    found: set[str] = set()
    for _kind, target in _walk_references(value):
        if not target.startswith("AWS::"):
            # ``${Resource.Attribute}`` in a Sub names the resource before the dot.
            found.add(target.split(".", 1)[0])
    return found


def _walk_references(value: Any) -> Iterator[tuple[str, str]]:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                yield "Ref", inner
            elif key == "Fn::GetAtt":
                yield "GetAtt", inner[0] if isinstance(inner, list) else str(inner)
            elif key == "Fn::Sub":
                text, variables = (inner, {}) if isinstance(inner, str) else (inner[0], inner[1])
                for name in _SUB_VARIABLE.findall(text):
                    if name not in variables:
                        yield "Ref", name
                yield from _walk_references(variables)
            else:
                yield from _walk_references(inner)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_references(item)


# ---------------------------------------------------------------------------- resolving intrinsics
_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]+)\}")


@dataclass
class PhysicalResource:
    """What a provisioned resource answers to ``Ref`` and ``Fn::GetAtt``."""

    ref: Any
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Resolver:
    """Evaluates intrinsic functions like CloudFormation would for one stack."""

    template: Mapping[str, Any]
    physical: dict[str, PhysicalResource]
    parameters: dict[str, Any] = field(default_factory=dict)
    region: str = "us-east-1"
    account_id: str = "123456789012"
    stack_name: str = "kyrios-quickbooks-local"

    def __post_init__(self) -> None:
        declared = self.template.get("Parameters", {})
        values: dict[str, Any] = {}
        for name, spec in declared.items():
            if name in self.parameters:
                raw = self.parameters[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                continue  # unset without default: an error only if something refers to it
            if spec.get("Type") == "CommaDelimitedList" and isinstance(raw, str):
                raw = [part.strip() for part in raw.split(",")]
            values[name] = raw
        unknown = set(self.parameters) - set(declared)
        if unknown:
            raise TemplateError(f"unknown template parameters: {sorted(unknown)}")
        self.parameters = values

    # -- pseudo parameters and conditions
    def pseudo(self, name: str) -> Any:
        table = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackName": self.stack_name,
            "AWS::StackId": (
                f"arn:aws:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/local"
            ),
            "AWS::NoValue": NO_VALUE,
        }
        if name not in table:
            raise TemplateError(f"unsupported pseudo parameter {name}")
        return table[name]

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions", {})
        if name not in conditions:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.resolve(conditions[name]))

    # -- resolution
    def ref(self, name: str) -> Any:
        if name.startswith("AWS::"):
            return self.pseudo(name)
        if name in self.parameters:
            return self.parameters[name]
        if name in self.template.get("Parameters", {}):
            raise TemplateError(f"parameter {name} has no default and no value was given")
        if name in self.physical:
            return self.physical[name].ref
        raise TemplateError(f"Ref to {name}, which is neither a parameter nor a provisioned resource")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        resource = self.physical.get(logical_id)
        if resource is None:
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: resource not provisioned")
        if attribute not in resource.attributes:
            raise TemplateError(f"GetAtt {logical_id}.{attribute}: attribute not known locally")
        return resource.attributes[attribute]

    def sub(self, text: str, variables: Mapping[str, Any] | None = None) -> str:
        local_values = {key: self.resolve(value) for key, value in (variables or {}).items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in local_values:
                return str(local_values[name])
            if "." in name and not name.startswith("AWS::"):
                logical_id, attribute = name.split(".", 1)
                return str(self.get_att(logical_id, attribute))
            value = self.ref(name)
            if isinstance(value, list):
                raise TemplateError(f"${{{name}}} is a list and cannot be substituted into a string")
            return str(value)

        return _SUB_VARIABLE.sub(replace, text).replace("${!", "${")

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic evaluated; ``AWS::NoValue`` entries removed."""
        if isinstance(value, list):
            items = [self.resolve(item) for item in value]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(value, Mapping):
            return value
        if len(value) == 1:
            key, arg = next(iter(value.items()))
            handler = self._intrinsics().get(key)
            if handler is not None:
                return handler(arg)
        resolved = {key: self.resolve(inner) for key, inner in value.items()}
        return {key: inner for key, inner in resolved.items() if inner is not NO_VALUE}

    def _intrinsics(self) -> dict[str, Any]:
        return {
            "Ref": lambda arg: self.ref(arg),
            "Condition": lambda arg: self.condition(arg),
            "Fn::GetAtt": lambda arg: self.get_att(*(arg if isinstance(arg, list) else arg.split(".", 1))),
            "Fn::Sub": lambda arg: self.sub(arg) if isinstance(arg, str) else self.sub(arg[0], arg[1]),
            "Fn::Join": lambda arg: str(arg[0]).join(str(part) for part in self.resolve(arg[1])),
            "Fn::Select": lambda arg: self.resolve(arg[1])[int(self.resolve(arg[0]))],
            "Fn::Split": lambda arg: str(self.resolve(arg[1])).split(arg[0]),
            "Fn::If": lambda arg: self.resolve(arg[1] if self.condition(arg[0]) else arg[2]),
            "Fn::Equals": lambda arg: self.resolve(arg[0]) == self.resolve(arg[1]),
            "Fn::Not": lambda arg: not self.resolve(arg[0]),
            "Fn::And": lambda arg: all(self.resolve(item) for item in arg),
            "Fn::Or": lambda arg: any(self.resolve(item) for item in arg),
        }


def function_environment(template: Mapping[str, Any], logical_id: str, resolver: Resolver) -> dict[str, str]:
    """Environment variables of one function (Globals merged), every value resolved to a string."""
    props = functions(template).get(logical_id)
    if props is None:
        raise TemplateError(f"{logical_id} is not an AWS::Serverless::Function in the template")
    variables = props.get("Environment", {}).get("Variables", {})
    resolved = resolver.resolve(variables)
    return {name: _as_env_string(name, value) for name, value in resolved.items()}


def _as_env_string(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TemplateError(f"environment variable {name} resolved to a non-scalar {value!r}")
