"""Config checking with messages a person can act on: the key, the value, what is allowed."""

from pathlib import Path

import jsonschema
import yaml


class ConfigError(ValueError):
    pass


def load_schema(path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def check_config(config: dict, schema: dict) -> None:
    """Raise ConfigError naming the first problem (by key path), before any job starts."""
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(config), key=lambda e: list(map(str, e.path)))
    if errors:
        raise ConfigError(describe(errors[0], schema))


def describe(error: jsonschema.ValidationError, schema: dict) -> str:
    key = ".".join(str(p) for p in error.path) or "(top level)"
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        if error.schema.get("patternProperties"):
            pattern = next(iter(error.schema["patternProperties"]))
            return f"config key {key}: invalid name(s) {', '.join(unknown)}; names must match {pattern}"
        return f"unknown config key {_join(key, unknown[0])}; allowed keys there: {', '.join(allowed)}"
    if error.validator == "enum":
        return (f"config key {key} = {error.instance!r} is not allowed; allowed values: "
                + ", ".join(map(str, error.validator_value)))
    if error.validator == "type":
        return f"config key {key} = {error.instance!r} has the wrong type; expected {error.validator_value}"
    bounds = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<",
              "minItems": "at least", "maxItems": "at most"}
    if error.validator in bounds:
        unit = " items" if "Items" in error.validator else ""
        return f"config key {key} = {error.instance!r} is out of range; must be {bounds[error.validator]} {error.validator_value}{unit}"
    if error.validator == "uniqueItems":
        return f"config key {key} = {error.instance!r} lists a value twice"
    if error.validator == "required":
        return f"config key {key}: {error.message}"
    return f"config key {key}: {error.message}"


def _join(key: str, name: str) -> str:
    return name if key == "(top level)" else f"{key}.{name}"
