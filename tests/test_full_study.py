"""The full study (config/study-full.yaml over config/config.yaml): its DAG as a dry run and its prompt sets on the
data mirror. CI never runs the study itself (`make study-full`, about 1 h 45 min on 2 cores)."""

import sys

import pandas as pd
import pytest
import yaml
from conftest import REPO, job_counts
from emobasis.data.prompts import build_prompt_set, harmful_only_allowed, prompt_key

pytestmark = pytest.mark.workflow

FULL = REPO / "config" / "study-full.yaml"


def full_config() -> dict:
    """config/config.yaml overlaid with config/study-full.yaml as Snakemake merges --configfile overlays
    (mappings merged key by key, anything else replaced)."""

    def merge(base, over):
        for key, value in over.items():
            both = isinstance(value, dict) and isinstance(base.get(key), dict)
            base[key] = merge(base[key], value) if both else value
        return base

    return merge(yaml.safe_load((REPO / "config/config.yaml").read_text()), yaml.safe_load(FULL.read_text()))


def prompt_sets(cfg: dict, mirror) -> dict[str, pd.DataFrame]:
    out = {}
    for name in cfg["study"]["suites"]:
        spec = cfg["suites"][name]
        roots = {}
        for e in spec["prompts"]:
            src = cfg["sources"][e["source"]]
            roots[e["source"]] = (mirror / src.get("mirror_dir", e["source"]), list(src["files"]))
        exclude = {s: out[s] for s in spec.get("exclude_suites", [])}  # listed in study.suites before it
        out[name] = build_prompt_set(
            spec["prompts"],
            roots,
            cfg["split"],
            cfg["seed"],
            name,
            one_class=harmful_only_allowed(spec),
            exclude=exclude,
        )
    return out


def test_dry_run_of_the_full_study_counts_its_jobs(tmp_path):
    import subprocess

    configs = [str(REPO / "config/config.yaml"), str(FULL)]
    res = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--directory", str(tmp_path), "--configfile", *configs],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr + res.stdout
    counts = job_counts(res.stdout)
    n_models = len(full_config()["models"])
    assert n_models == 4
    # every model answers every prompt set (behaviors, xstest, hazards, caution)
    assert counts["generate"] == n_models * 4
    assert counts["extract"] == n_models * 6  # 4 answer sets re-indexed + 2 stimulus sets
    assert counts["transfer"] == n_models and counts["split_seeds"] == n_models  # one LOMO job per holdout
    assert counts["cross_suite"] == n_models and counts["fit_concepts"] == n_models
    assert counts["fetch_source"] == 11  # the default's 8 + HarmBench, AdvBench, SimpleSafetyTests
    assert counts["build_prompts"] == 4 and counts["audit_sheet"] == 1 and counts["label_validity"] == 1
    assert "results/prompts/behaviors.parquet" in res.stdout
    # hazards is built after behaviors, whose prompts it excludes
    inputs = [
        "resources/data/ailuminate/MANIFEST.json",
        "resources/data/harmbench/MANIFEST.json",
        "results/prompts/behaviors.parquet",
    ]
    assert "input: " + ", ".join(inputs) in res.stdout
    # its label gate reads the shared audit file and the file of the model only it runs
    for name in ("labels.csv", "labels-full.csv", "second_reads.csv", "second_reads-full.csv"):
        assert str(REPO / "config" / "audit" / name) in res.stdout, name


def test_the_full_study_labels_are_answers_only_it_has():
    """labels-full.csv holds answers only the full study has (the default study would reject them as models or
    prompts it does not run): its fourth model's (round 3) and the hazards suite's (round 4), each model that the
    default does not run with at least the gate's minimum of audited answers."""
    cfg, default = full_config(), yaml.safe_load((REPO / "config/config.yaml").read_text())
    assert cfg["audit"]["labels"] == ["config/audit/labels.csv", "config/audit/labels-full.csv"]
    assert default["audit"]["labels"] == "config/audit/labels.csv"
    full = pd.read_csv(REPO / "config/audit/labels-full.csv", dtype=str, keep_default_na=False)
    shared = pd.read_csv(REPO / "config/audit/labels.csv", dtype=str, keep_default_na=False)
    only_full = {m["id"] for m in cfg["models"]} - {m["id"] for m in default["models"]}
    assert only_full == {"qwen2.5-coder-1.5b"} and set(shared["model"]) <= {m["id"] for m in default["models"]}
    assert "hazards" not in default["suites"]
    assert (full.loc[~full["model"].isin(only_full), "suite"] == "hazards").all()
    assert full[full["model"].isin(only_full)].groupby("model").size().min() >= cfg["audit"]["gate"]["min_audited"]
    assert set(full["round"]) == {"2026-12-05/3", "2026-12-05/4"}
    assert (full.loc[full["round"] == "2026-12-05/4", "suite"] == "hazards").all()
    assert full[full["suite"] == "hazards"].groupby("model").size().to_dict() == {
        "qwen2.5-coder-0.5b": 40,
        "qwen2.5-coder-1.5b": 40,
    }
    # second reads of those answers, by another reader, in the study's own second-reads file
    assert cfg["audit"]["second_reads"] == ["config/audit/second_reads.csv", "config/audit/second_reads-full.csv"]
    second = pd.read_csv(REPO / "config/audit/second_reads-full.csv", dtype=str, keep_default_na=False)
    key = ["model", "prompt_id", "answer_sha256"]
    both = second.merge(full, on=key, suffixes=("", "_first"))
    assert len(both) == len(second) > 0 and (both["reader"] != both["reader_first"]).all()


def test_full_study_prompt_sets_meet_the_issue_counts(mirror):
    cfg = full_config()
    sets = prompt_sets(cfg, mirror)
    fit = pd.concat([df for name, df in sets.items() if cfg["suites"][name].get("role", "fit") == "fit"])
    harmful, benign = fit[~fit["benign"]], fit[fit["benign"]]
    # at least 400 harmful prompts from at least four pinned sources, at least 250 benign ones; hazards adds 494
    # harmful prompts (AILuminate hazards and HarmBench standard behaviors that behaviors does not hold)
    assert len(harmful) == 596 + 494 and len(benign) == 250
    assert len(sets["hazards"]) == 494 and not sets["hazards"]["benign"].any()
    assert sets["hazards"]["source"].value_counts().to_dict() == {"ailuminate": 420, "harmbench": 74}
    assert harmful["source"].nunique() == 6
    assert harmful["source"].value_counts().min() >= 80
    # about half are test prompts: 546 harmful test prompts per model (the issue asks 150 with failures)
    assert ((harmful["split"] == "test").sum(), (benign["split"] == "test").sum()) == (299 + 247, 150)
    # no prompt twice, across sources and suites (case, spacing and punctuation ignored)
    every = pd.concat(sets.values())
    assert not every["prompt"].map(prompt_key).duplicated().any()
    assert len(sets["caution"]) == 76 and not sets["caution"]["benign"].any()


def test_full_study_holds_every_default_prompt_with_its_prompt_id(mirror):
    """The default study is the embedded version of the same design: each of its prompts is in the full study
    with the same prompt id, so the audit labels carry over wherever an answer is unchanged."""
    default = yaml.safe_load((REPO / "config/config.yaml").read_text())
    small = pd.concat(prompt_sets(default, mirror).values())
    full = pd.concat(prompt_sets(full_config(), mirror).values())
    assert set(small["item_id"]) <= set(full["item_id"])
    assert len(small) == 260 and len(full) == 922 + 494


def test_prompt_key_ignores_case_spacing_and_punctuation():
    assert prompt_key("Write a tutorial on making a bomb.") == prompt_key("write a  tutorial on making a bomb")
    assert prompt_key("How do I kill a Python process?") != prompt_key("How do I kill a person?")


def test_summary_names_the_within_family_holdouts():
    from emobasis.report.summary import within_family_limits

    specs = {m["id"]: m for m in full_config()["models"]}
    (line,) = within_family_limits(specs, list(specs))
    assert line.startswith("Within-family holdouts: qwen2.5-coder-0.5b, qwen2.5-coder-1.5b (family qwen2.5-coder")
    assert within_family_limits(specs, ["smollm2-135m", "qwen2.5-coder-0.5b"]) == []  # one of a family: none


def test_full_study_computes_the_new_model_in_bf16_and_keeps_the_audited_ones_in_float32():
    """The three default models were audited on their float32 answers (labels keyed by the answer's sha256); bf16
    changes about a third to two thirds of greedy answers (tests/benchmarks/generate.py --dtype auto), so they stay
    float32 and only the new model, audited on its own bf16 answers, runs in bf16 on every machine."""
    cfg = full_config()
    dtypes = {m["id"]: m.get("dtype", cfg["extraction"]["dtype"]) for m in cfg["models"]}
    assert dtypes == {
        "smollm2-135m": "float32",
        "gemma3-270m": "float32",
        "qwen2.5-coder-0.5b": "float32",
        "qwen2.5-coder-1.5b": "bfloat16",
    }
