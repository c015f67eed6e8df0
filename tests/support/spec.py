"""Validate response bodies against the official OpenAPI spec in ../shared/spec (never a copy)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SHARED = Path(__file__).resolve().parents[3] / "shared"
SPEC_PATH = SHARED / "spec" / "openapi.yml"
AUDIO = SHARED / "audio"


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
