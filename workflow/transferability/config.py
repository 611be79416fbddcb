"""Config checking with messages a person can act on: the key, the value, what is allowed."""

import copy
import re
from pathlib import Path

import jsonschema
import yaml


# `train` keys that say how a net is trained, not what it learns: they stay out of a net's settings,
# so changing them reruns no net.
RUN_ONLY_TRAIN_KEYS = ("threads", "device", "compile", "cuda_graphs", "warm_start")


class ConfigError(ValueError):
    pass


def load_schema(path) -> dict:
    return yaml.safe_load(Path(path).read_text())


def coerce_config(config: dict, schema: dict, as_text: dict | None = None) -> dict:
    """Read strings as YAML where the schema wants a number or a boolean, in place, for the values that
    arrived as text: those of `as_text`, the part of the config given with --config (None: all of it).

    Snakemake parses the nested values of --config with YAML's BaseLoader, so `--config layers=[1,2]`
    arrives as ['1', '2'] and `--config "train={'epochs': 3}"` as {'epochs': '3'}. A config file is typed
    YAML: a string there (`image_size: "16"`) was written as one, so it is left for check_config to refuse,
    as is a string that does not read as the wanted type.
    """
    return _coerce(config, schema, config if as_text is None else as_text)


def _coerce(value, schema: dict, as_text):
    """`as_text`: the same place in the values given as text (--config), or None where none was."""
    if isinstance(value, dict):
        properties, patterns = schema.get("properties", {}), schema.get("patternProperties", {})
        for key, item in value.items():
            sub = properties.get(key) or next((s for p, s in patterns.items() if re.search(p, str(key))), None)
            if isinstance(sub, dict) and isinstance(as_text, dict) and key in as_text:
                value[key] = _coerce(item, sub, as_text[key])
    elif isinstance(value, list) and isinstance(schema.get("items"), dict) and as_text is not None:
        value[:] = [_coerce(item, schema["items"], item) for item in value]  # --config replaces a list whole
    elif isinstance(value, str) and as_text is not None:
        return _scalar(value, schema)
    return value


def _scalar(text: str, schema: dict):
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    enum = schema.get("enum")
    if "string" in types or (enum is not None and text in enum):
        return text
    wanted = set(types) | {type(v).__name__ for v in enum or []}
    if not wanted & {"integer", "number", "boolean", "int", "float", "bool"}:
        return text
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(parsed, str):  # YAML 1.1 reads 1e-3 as a string
        try:
            parsed = float(text)
        except ValueError:
            return text
    return parsed if isinstance(parsed, (bool, int, float)) else text


def fill_defaults(config: dict, schema: dict) -> dict:
    """The schema's defaults for every key left out, in place, also inside sections that were left out
    (as Snakemake's validate does)."""
    for key, sub in schema.get("properties", {}).items():
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        if isinstance(config.get(key), dict):
            fill_defaults(config[key], sub)
    for pattern, sub in schema.get("patternProperties", {}).items():
        for key, value in config.items():
            if isinstance(value, dict) and re.search(pattern, str(key)):
                fill_defaults(value, sub)
    return config


def check_config(config: dict, schema: dict) -> None:
    """Raise ConfigError naming the first problem (by key path), before any job starts."""
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(config), key=lambda e: list(map(str, e.path)))
    if errors:
        raise ConfigError(describe(errors[0], schema))


def describe(error: jsonschema.ValidationError, schema: dict) -> str:
    key = _key_path(error.path)
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
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        return f"config key {key} = {error.instance!r} has the wrong type; expected {expected}"
    bounds = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if error.validator in bounds:
        return f"config key {key} = {error.instance!r} is out of range; must be {bounds[error.validator]} {error.validator_value}"
    if error.validator in ("minItems", "maxItems"):
        bound = "at least" if error.validator == "minItems" else "at most"
        return (f"config key {key} = {error.instance!r} has {len(error.instance)} item(s); "
                f"must have {bound} {error.validator_value}")
    if error.validator == "uniqueItems":
        return f"config key {key} = {error.instance!r} lists a value twice"
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return f"config key {key} lacks required key(s) {', '.join(missing)}"
    return f"config key {key}: {error.message}"


def _join(key: str, name: str) -> str:
    return name if key == "(top level)" else f"{key}.{name}"


def _key_path(path) -> str:
    """train.epochs, layers[0], splits.explicit.dissimilar.A[3]; '(top level)' for the config itself."""
    key = ""
    for part in path:
        key += f"[{part}]" if isinstance(part, int) else f".{part}" if key else str(part)
    return key or "(top level)"
