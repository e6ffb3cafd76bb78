"""Study configuration: schema validation plus the cross-references a schema cannot express.

Every failure raises :class:`ConfigError` with one message that names the key and the fix, so a bad
config stops the workflow before any job runs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from emobasis import EmobasisError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "config" / "schema.yaml"

#: emotion corpora whose labels a stimulus concept can name as ``<source>:<label>``
EMOTION_CORPORA = ("goemotions", "emorynlp")
#: control concepts with built-in contrast templates (emobasis/resources/control_templates.yaml)
CONTROL_CONCEPTS = ("harm_salience", "risk_aversion", "epistemic_uncertainty", "prosocial")
#: LOMO baselines (the ``aligner`` column of the transfer tables): one result file per rank, or rank 0
RANKED_BASELINES = ("specific", "random", "shuffled", "residualized")
RANKFREE_BASELINES = ("specific_profiles", "surface", "mismatch_style", "mismatch_concern")


class ConfigError(EmobasisError):
    """The study configuration is invalid."""


def load_schema(path: str | Path | None = None) -> dict:
    with open(path or SCHEMA_PATH) as fh:
        return yaml.safe_load(fh)


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
        what = "unknown model source" if where.endswith(".source") and where.startswith(
            ("models", "embedder")) else "invalid value"
        return f"{what} '{err.instance}' at '{where}'. Fix: use one of: {opts}."
    if v in ("exclusiveMinimum", "minimum", "maximum", "exclusiveMaximum") and where.startswith(
            "extraction.layers"):
        return (f"relative layer depth {err.instance} at '{where}' is outside (0, 1]. "
                "Fix: give depths as fractions of the model's layer count, e.g. 0.5 for the middle layer.")
    if v == "pattern" and "sha256" in where.split(".")[-1] or v == "pattern" and where.startswith(
            "sources") and ".files." in where:
        return f"'{where}' = {err.instance!r} is not a sha256. Fix: write the 64 lowercase hex digits of the file's sha256."
    if v == "pattern" and where.endswith(".revision"):
        return (f"'{where}' = {err.instance!r} is not a pinned revision. "
                "Fix: give the full 40-hex-digit commit of the hub repo.")
    return f"invalid value at '{where}': {err.message}. Fix: see the description of '{where}' in config/schema.yaml."


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
    study.setdefault("reader_mode", "all_responses")
    cfg.setdefault("monitor_models", [])
    cfg.get("extraction", {}).setdefault("device", "auto")
    return cfg


def concept_names(cfg: dict) -> list[str]:
    """All concept names of the study, emotions first, in config order."""
    names: list[str] = []
    for set_name in cfg["study"]["stimulus_sets"]:
        sset = cfg["stimulus_sets"][set_name]
        names += list(sset["concepts"])
    return names


def _check_references(cfg: dict) -> None:
    ids = [m["id"] for m in cfg["models"]] + [m["id"] for m in cfg.get("monitor_models", [])]
    if "embedder" in cfg:
        ids.append(cfg["embedder"]["id"])
    seen = set()
    for i in ids:
        if i in seen:
            raise ConfigError(f"duplicate model id '{i}' in 'models' (or 'embedder'). "
                              "Fix: give every model a unique id.")
        seen.add(i)

    for name, suite in cfg["suites"].items():
        if suite["source"] not in cfg["sources"]:
            raise ConfigError(f"suite '{name}' names source '{suite['source']}', which does not exist. "
                              f"Fix: use one of the keys of 'sources': {', '.join(cfg['sources'])}.")
        if suite["adapter"] == "table" and suite["file"] not in cfg["sources"][suite["source"]]["files"]:
            raise ConfigError(f"suites.{name}.file '{suite['file']}' is not listed in sources.{suite['source']}.files. "
                              "Fix: add it there with its sha256.")

    clash = set(cfg["suites"]) & set(cfg["stimulus_sets"])
    if clash:
        raise ConfigError(f"'{sorted(clash)[0]}' names both a suite and a stimulus set (activation files are "
                          "named by dataset). Fix: rename one of them.")

    for kind, key in (("suite", "suites"), ("stimulus set", "stimulus_sets")):
        for ref in cfg["study"][key]:
            if ref not in cfg[key]:
                raise ConfigError(f"study.{key} names {kind} '{ref}', which does not exist. "
                                  f"Fix: use one of the keys of '{key}': {', '.join(cfg[key])}.")

    for name, sset in cfg["stimulus_sets"].items():
        concepts = sset["concepts"]
        if sset["kind"] == "emotions":
            if not isinstance(concepts, dict) or not concepts:
                raise ConfigError(f"stimulus_sets.{name}.concepts must map each emotion to a list of "
                                  "'<source>:<label>'. Fix: see config/config.yaml.")
            for concept, specs in concepts.items():
                if not isinstance(specs, list) or not specs:
                    raise ConfigError(f"stimulus_sets.{name}.concepts.{concept} is empty. "
                                      "Fix: list at least one '<source>:<label>'.")
                for spec in specs:
                    src, _, label = str(spec).partition(":")
                    if src not in EMOTION_CORPORA or not label:
                        raise ConfigError(
                            f"stimulus_sets.{name}.concepts.{concept}: '{spec}' is not '<source>:<label>' with a "
                            f"known emotion corpus. Fix: use one of: {', '.join(EMOTION_CORPORA)}.")
                    if src not in cfg["sources"]:
                        raise ConfigError(f"stimulus_sets.{name}.concepts.{concept} uses source '{src}', which does "
                                          "not exist. Fix: add it under 'sources' (see config/config.yaml).")
        else:
            if not isinstance(concepts, list) or not concepts:
                raise ConfigError(f"stimulus_sets.{name}.concepts must list control concepts. "
                                  f"Fix: choose from: {', '.join(CONTROL_CONCEPTS)}.")
            for c in concepts:
                if c not in CONTROL_CONCEPTS:
                    raise ConfigError(f"stimulus_sets.{name}.concepts: unknown control concept '{c}'. "
                                      f"Fix: choose from: {', '.join(CONTROL_CONCEPTS)}.")

    vs = cfg["concepts"].get("valence_source")
    if vs is not None and vs not in cfg["sources"]:
        raise ConfigError(f"concepts.valence_source names source '{vs}', which does not exist. "
                          "Fix: add it under 'sources' or remove the key.")
    emotion_sets = [s for s in cfg["study"]["stimulus_sets"] if cfg["stimulus_sets"][s]["kind"] == "emotions"]
    if len(emotion_sets) != 1:
        raise ConfigError(f"the study needs exactly one emotions stimulus set, it has {len(emotion_sets)}. "
                          "Fix: list one set of kind 'emotions' in study.stimulus_sets.")
    if cfg["concepts"]["neutral_concept"] not in cfg["stimulus_sets"][emotion_sets[0]]["concepts"]:
        raise ConfigError(f"concepts.neutral_concept '{cfg['concepts']['neutral_concept']}' is not a concept of "
                          f"stimulus set '{emotion_sets[0]}'. Fix: add it there or name another concept.")

    names = concept_names(cfg)
    dup = {c for c in names if names.count(c) > 1}
    if dup:
        raise ConfigError(f"concept(s) {', '.join(sorted(dup))} appear in more than one stimulus set of the study. "
                          "Fix: give each concept one home.")

    total = sum(cfg["split"].values())
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(f"split fractions sum to {total:g}, not 1. Fix: make split.train + split.val + split.test = 1.")

    if len(cfg["models"]) < 3:
        raise ConfigError(f"leave-one-model-out needs at least 3 models, the config has {len(cfg['models'])}. "
                          "Fix: add models under 'models'.")
    pca = cfg["transfer"]["pca_dims"]
    if not 1 <= cfg["deploy"]["rank"] <= min(pca, len(names)):
        raise ConfigError(f"deploy.rank = {cfg['deploy']['rank']} is outside 1..{min(pca, len(names))}. "
                          "Fix: pick one of the swept ranks.")
    n = len(names)
    for i, r in enumerate(cfg["basis"]["ranks"]):
        if r > pca:
            raise ConfigError(f"basis.ranks[{i}] = {r} exceeds transfer.pca_dims = {pca}. Fix: raise pca_dims.")
        if not 1 <= r <= n:
            raise ConfigError(f"basis.ranks[{i}] = {r} is outside 1..{n} (the number of concepts in the study). "
                              f"Fix: use ranks between 1 and {n}, or add concepts.")
    if cfg["study"].get("reader_mode") == "own_responses":
        for m in cfg["models"]:
            missing = [s for s in cfg["study"]["suites"] if s not in (m.get("responders") or {})]
            if missing:
                raise ConfigError(f"study.reader_mode is own_responses but model '{m['id']}' names no responder for "
                                  f"suite(s) {', '.join(missing)}. Fix: add models[].responders, e.g. "
                                  "{jailbreakbench: llama-2-7b-chat-hf, xstest: llama2orig}.")
        if cfg.get("monitor_models"):
            raise ConfigError("monitor_models cannot be scored in own_responses mode (a new model has no own "
                              "responses in the suites). Fix: score them in a study with reader_mode all_responses.")
    v, t = cfg["verdict"], cfg["transfer"]
    for key, allowed, where in (("aligner", t["aligners"], "transfer.aligners"), ("rank", cfg["basis"]["ranks"], "basis.ranks"),
                                ("target", t["targets"], "transfer.targets"),
                                ("position", t["positions"], "transfer.positions"),
                                ("match_k", [k for k in t["ks"] if k != "all"], "transfer.ks")):
        if v[key] not in allowed:
            raise ConfigError(f"verdict.{key} = {v[key]!r} is not in {where} ({allowed}). Fix: the verdict must "
                              f"read a cell the study computes; pick one of {where}.")


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


def model_specs(cfg: dict) -> dict[str, dict]:
    """id -> spec for every model the workflow can build (readers and the embedder)."""
    specs = {m["id"]: m for m in cfg["models"] + cfg.get("monitor_models", [])}
    if "embedder" in cfg:
        specs[cfg["embedder"]["id"]] = cfg["embedder"]
    return specs
