"""The config: a file with its base, --config's values, the schema's check and defaults (prepare, the one way every run
and test reads a config), with messages a person can act on: the key, the value, what is allowed."""

import copy
import re
from pathlib import Path

import jsonschema
import yaml

from .architectures import architecture, foreign_keys, own_keys
from .pretrained import is_weights_name

WORKFLOW_DIR = Path(__file__).resolve().parent.parent
SCHEMA = WORKFLOW_DIR / "schemas/config.schema.yaml"
DEFAULT_CONFIG = WORKFLOW_DIR.parent / "config.yaml"
DEFAULT_RUN = "default"  # the run of config.yaml (its file name would say "config")
CACHE = "cache"  # results/cache holds the data caches, so no run may have that name


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


# ---- the config: a file, its base, the schema's defaults


def prepare(config: dict, configfiles, command_line: dict, given_configfiles=None) -> dict:
    """Snakemake's config, in place, as every run reads it: the last config file's `base` merged under it,
    --config's mappings checked (`command_line`: Snakemake's config_settings.config), `run` named after the
    last --configfile (`given_configfiles`, default `configfiles`) unless the config names it, then checked
    with the schema's defaults filled in (see checked)."""
    apply_base(config, configfiles)
    check_overrides(command_line, config)  # before the schema's defaults fill it
    config.setdefault("run", run_name(configfiles if given_configfiles is None else given_configfiles))
    return checked(config, command_line)


def load_config(path=DEFAULT_CONFIG, overrides=None) -> dict:
    """A config file as `snakemake --configfile path --config overrides` reads it (prepare); for the tests and
    the benchmarks."""
    overrides = copy.deepcopy(overrides or {})
    config = merge(yaml.safe_load(Path(path).read_text()) or {}, overrides)
    return prepare(config, [Path(path)], overrides)


def read_config_file(path, bases=()) -> dict:
    """A config file with its `base` (a path relative to the file) merged under it, recursively."""
    path = Path(path).resolve()
    if path in bases:
        raise ConfigError(f"config file {path}: its base names it again ({' -> '.join(map(str, (*bases, path)))})")
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read config file {path}: {error}") from error
    if not isinstance(config, dict):
        raise ConfigError(f"config file {path}: expected a mapping of keys, got {type(config).__name__}")
    base = config.pop("base", None)
    if not base:
        return config
    under = read_config_file(path.parent / base, (*bases, path))
    under.pop("run", None)  # a run is named by its own file: one built on a base never writes into the base's run
    return merge(under, config)


def merge(base: dict, over: dict) -> dict:
    """`over` on top of `base`: mappings merge key by key, anything else (lists included) is replaced."""
    merged = copy.deepcopy(base)
    for key, value in over.items():
        both_mappings = isinstance(value, dict) and isinstance(merged.get(key), dict)
        merged[key] = merge(merged[key], value) if both_mappings else copy.deepcopy(value)
    return merged


def apply_base(config: dict, configfiles) -> None:
    """Snakemake's config, in place: the `base` of the last config file that names one (a --configfile,
    the `configfile:` of this Snakefile or of a workflow using it as a module) merged under it."""
    for path in reversed([Path(p) for p in configfiles]):
        if "base" in (yaml.safe_load(path.read_text()) or {}):
            merged = merge(read_config_file(path), config)
            merged.pop("base", None)
            config.clear()
            config.update(merged)
            return
    if "base" in config:  # e.g. --config base=...: silently running without it would be another experiment
        raise ConfigError(f"config key base = {config['base']!r}: only a config file's own base: is read "
                          "(write it in the file given with --configfile)")


def check_overrides(overrides: dict, config: dict, key: str = "") -> None:
    """Snakemake merges --config into the config files' mappings key by key, so an empty mapping there
    removes nothing: refused where the files' mapping is not empty (the run would silently keep it)."""
    for name, value in overrides.items():
        path, there = f"{key}.{name}" if key else str(name), config.get(name)
        if not isinstance(value, dict) or not isinstance(there, dict):
            continue
        if not value and there:
            raise ConfigError(f"config key {path} = {{}} from --config removes nothing (--config merges mappings key "
                              f"by key, so {path} keeps {', '.join(map(str, there))}); write a config file without them "
                              "and give it with --configfile")
        check_overrides(value, there, path)


def run_name(configfiles) -> str:
    """The last config file's name without its suffix (config.yaml: `default`)."""
    if not configfiles or Path(configfiles[-1]).resolve() == DEFAULT_CONFIG.resolve():
        return DEFAULT_RUN
    return Path(configfiles[-1]).stem


def checked(config: dict, from_command_line: dict | None = None) -> dict:
    """The config, in place: the strings of --config (`from_command_line`, Snakemake's config_settings.config)
    read as numbers, checked (ConfigError naming the key), the schema's defaults filled in, and the checks
    across keys the schema cannot say. A config file's values are typed YAML and are checked as written."""
    schema = load_schema(SCHEMA)
    coerce_config(config, schema, from_command_line or {})
    check_config(config, schema)
    fill_defaults(config, schema)
    _check_source(config)  # before the default random split: a source's run has its own
    if config["splits"]["random"] is None:  # random halves only where no explicit split (or source) is asked for
        config["splits"]["random"] = [] if config["splits"]["explicit"] or config["source"]["weights"] else [0]
    taken = [name for name in config["splits"]["explicit"] if re.fullmatch(r"random\d+|whole|pretrained", name)]
    if taken:
        raise ConfigError(f"config key splits.explicit.{taken[0]}: the names random<seed> and whole are the random "
                          "splits' and the controls' (pretrained: a pretrained source's); name the explicit split otherwise")
    if config["run"] == CACHE:
        raise ConfigError(f"config key run = {CACHE!r} is reserved for the data caches (results/{CACHE}); "
                          "choose another run name")
    if not config["splits"]["random"] and not config["splits"]["explicit"] and not config["source"]["weights"]:
        raise ConfigError("config key splits: no split to run; give splits.random or splits.explicit")
    _check_runtime_cap(config)
    _check_model(config)
    compiled = [key for key, on in (("train.compile", config["train"]["compile"]),
                                    ("model.lrn_fused", config["model"].get("lrn_fused"))) if on]
    if config["train"]["cuda_graphs"] and compiled:
        raise ConfigError(f"config keys train.cuda_graphs and {compiled[0]} are both true: choose one (cuda_graphs "
                          "is for small nets whose steps wait on the CPU launching kernels; compiled kernels inside "
                          "a captured step are not tested)")
    return config


def _check_model(config: dict) -> None:
    """A model key of another preset's net, and the layer analyses on a residual net (they read the
    AlexNet-like nets' conv1 and fc8): refused, where the schema cannot say it."""
    model, preset = config["model"], config["model"]["preset"]
    foreign = foreign_keys(model)
    if foreign:
        raise ConfigError(f"config key model.{foreign[0]} does not apply to model.preset {preset}; its keys: "
                          f"{', '.join(own_keys(preset))}")
    if "torchvision" in architecture(model) and config["analyses"]["run"]:
        raise ConfigError(f"config key analyses.run = {config['analyses']['run']}: the layer analyses read the "
                          f"AlexNet-like nets' conv1 and fc8 and do not run on model.preset {preset}; write "
                          "analyses: {run: []}")


def _check_source(config: dict) -> None:
    """A pretrained source stands for half A: every class of the data set is half B, so what needs classes of
    a half A (its own splits, the direction B to A, controls on the whole task, reduced data on A) is refused."""
    source, preset = config["source"], config["model"]["preset"]
    if source["weights"] is None:
        if source["download"]:
            raise ConfigError("config key source.download = true without source.weights: name the weights to "
                              "download (e.g. ResNet18_Weights.IMAGENET1K_V1) or leave download out")
        return
    why = "with a pretrained source (source.weights) every class of the data set is half B and A is the source"
    if "torchvision" not in architecture(config["model"]):
        raise ConfigError(f"config key source.weights is for torchvision's nets, not model.preset {preset}; "
                          "use model.preset resnet18")
    if source["download"] and not is_weights_name(source["weights"]):
        raise ConfigError(f"config key source.download is for a torchvision weights name "
                          f"(ResNet18_Weights.IMAGENET1K_V1), not the path {source['weights']!r}")
    refused = [("splits.random", config["splits"]["random"] is not None),
               ("splits.explicit", bool(config["splits"]["explicit"])),
               (f"directions = {config['directions']}", "BA" in config["directions"]),
               ("controls_on = whole", config["controls_on"] == "whole"),
               ("reduced_data.half = A", config["reduced_data"]["half"] == "A" and config["reduced_data"]["images_per_class"])]
    for key, given in refused:
        if given:
            raise ConfigError(f"config key {key} does not apply: {why}; leave it out (reduced data: half B)")


def _check_runtime_cap(config: dict) -> None:
    cap, every = config["resources"]["max_runtime_minutes"], config["checkpoints"]["every_minutes"]
    if cap is not None and not 0 < every < cap:
        raise ConfigError(f"config key checkpoints.every_minutes = {every} must be above 0 and below "
                          f"resources.max_runtime_minutes = {cap}: a job stopped at its time limit resumes "
                          "from its last checkpoint on its next attempt, so it needs one in each attempt")
