"""Every text a request model accepts is text PostgreSQL can store: no NUL anywhere."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import BaseModel

from app.schemas import AlertIn, AlertQuery, SubscriptionIn


def string_schemas(schema: dict[str, Any], defs: dict[str, Any]) -> list[dict[str, Any]]:
    """Every schema of a string (enums aside) inside ``schema``, following $refs."""
    if "$ref" in schema:
        return string_schemas(defs[schema["$ref"].rsplit("/", 1)[1]], defs)
    found = [schema] if schema.get("type") == "string" and "enum" not in schema else []
    for key in ("anyOf", "allOf", "oneOf"):
        for option in schema.get(key, []):
            found += string_schemas(option, defs)
    for value in schema.get("properties", {}).values():
        found += string_schemas(value, defs)
    if "items" in schema:
        found += string_schemas(schema["items"], defs)
    return found


@pytest.mark.parametrize("model", [AlertIn, SubscriptionIn, AlertQuery])
def test_every_string_field_refuses_nul(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    for string in string_schemas(schema, schema.get("$defs", {})):
        pattern = string.get("pattern")
        assert pattern is not None, f"{model.__name__}: a string without a pattern: {string}"
        assert not re.search(pattern, "valid\x00text"), f"{model.__name__}: {pattern} takes NUL"
