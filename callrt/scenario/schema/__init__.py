"""The JSON Schema of scenario files (`scenario.schema.json`, draft 2020-12) and the check against it.

The schema holds the file's shape: fields, types, step and fault kinds, the `expect` block.
What a schema cannot say (a `now` that parses as a real date, opening hours that close after
they open) stays with `callrt.scenario.model` and the store. Editors can validate a file as it
is written by naming the schema in the file's `"$schema"` field.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, relevance

SCHEMA_FILE = "scenario.schema.json"


@cache
def scenario_schema() -> dict[str, Any]:
    """The schema as a JSON object."""
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(scenario_schema())


def schema_problem(raw: object) -> str | None:
    """The one most telling way `raw` breaks the schema, as `$.json.path: what is wrong`; None if it fits."""
    errors = list(_validator().iter_errors(raw))
    if not errors:
        return None
    return _describe(max(errors, key=relevance))


def _describe(error: ValidationError) -> str:
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator == "oneOf" and description:
        # "not valid under any of the given schemas" says nothing: the schema's description says what fits.
        return f"{error.json_path}: {description}"
    if error.validator == "pattern" and description:  # a regular expression is no explanation either
        return f"{error.json_path}: {error.instance!r} is not {description}"
    return f"{error.json_path}: {error.message}"
