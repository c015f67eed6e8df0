"""Validate response bodies against the official specs in `spec/` (exact copies, see spec/LICENSE)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO / "spec"
SPEC_PATH = SPEC_DIR / "openapi.yml"
AUDIO = REPO / "tests" / "data"


def _fix_yaml11(node: Any) -> Any:
    """PyYAML (YAML 1.1) reads the language code `no` as False; the spec means the string."""
    if isinstance(node, dict):
        return {k: _fix_yaml11(v) for k, v in node.items()}
    if isinstance(node, list):
        return ["no" if v is False else _fix_yaml11(v) for v in node]
    return node


@functools.lru_cache
def spec() -> dict[str, Any]:
    return _fix_yaml11(yaml.safe_load(SPEC_PATH.read_text()))


@functools.lru_cache
def _validator(name: str) -> jsonschema.Draft202012Validator:
    root = {**spec(), "$ref": f"#/components/schemas/{name}"}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


def assert_matches(name: str, body: Any) -> None:
    """Raise with every violation listed if `body` does not match schema `name`."""
    problems = sorted(_validator(name).iter_errors(body), key=lambda e: list(e.absolute_path))
    if problems:
        lines = [
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}" for e in problems[:20]
        ]
        raise AssertionError(f"{name} does not match the spec:\n" + "\n".join(lines))


def _flatten_all_of(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """asyncapi.yml builds messages as allOf[base with additionalProperties: false, extension]; read
    literally, no object could match both, so merge the branches into one closed object as intended."""
    if "allOf" not in schema:
        return schema
    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for branch in schema["allOf"]:
        if "$ref" in branch:
            branch = schemas[branch["$ref"].rsplit("/", 1)[-1]]
        branch = _flatten_all_of(branch, schemas)
        merged["properties"].update(branch.get("properties", {}))
        merged["required"] += branch.get("required", [])
        if branch.get("additionalProperties") is False:
            merged["additionalProperties"] = False
    return merged


@functools.lru_cache
def _stream_validator(file: str, name: str) -> jsonschema.Draft202012Validator:
    document = _fix_yaml11(yaml.safe_load((SPEC_DIR / file).read_text()))
    schemas = document["components"]["schemas"]
    root = {**document, **_flatten_all_of(schemas[name], schemas)}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.FormatChecker())


def assert_stream_message(file: str, name: str, body: Any) -> None:
    """Validate a WebSocket message against `asyncapi.yml` (v2) or `usm-streaming.yml` (v3)."""
    problems = list(_stream_validator(file, name).iter_errors(body))
    if problems:
        lines = [f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:300]}" for e in problems]
        raise AssertionError(f"{name} does not match {file}:\n" + "\n".join(lines[:20]))
