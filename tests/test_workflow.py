"""The workflow as users run it: dry-run, bad config, a real build from the mirror, lint and format."""

import os
import subprocess
import sys

import pandas as pd
import pytest
import yaml
from conftest import REPO, job_counts
from emobasis.io import read_provenance

pytestmark = pytest.mark.workflow


def snakemake(*args, cwd=REPO, env=None):
    run_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args], cwd=cwd, env=run_env, capture_output=True, text=True, timeout=900
    )


def test_dry_run_of_the_own_answer_default(tmp_path):
    res = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(REPO / "config/config.yaml"))
    assert res.returncode == 0, res.stderr + res.stdout
    counts = job_counts(res.stdout)
    assert counts["fetch_source"] == 8  # + the judge's gptfuzz and jailbreakeval sets, AILuminate (caution)
    assert counts["build_prompts"] == 3 and counts["fit_judge"] == 1 and counts["answer_report"] == 1
    assert counts["generate"] == 3 * 3  # every model answers every prompt set itself
    assert counts["extract"] == 3 * 5  # fused reads re-indexed (3 suites) + 2 stimulus sets
    assert counts["build_suite"] == 3 and counts["transfer"] == 3 and "check_tone_scorer" not in counts
    assert counts["label_answers"] == 3 * 3 and counts["audit_sheet"] == 1 and counts["label_validity"] == 1
    # run elsewhere (--directory), the study still reads the repo's audit labels and the verdict rule's history
    for name in ("config/audit/labels.csv", "config/audit/second_reads.csv", "config/verdict_history.csv"):
        assert str(REPO / name) in res.stdout, name


def test_dry_run_lists_data_and_model_jobs(tmp_path):
    res = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(REPO / "config/study-reader.yaml"))
    assert res.returncode == 0, res.stderr + res.stdout
    counts = job_counts(res.stdout)
    assert "generate" not in counts and "fit_judge" not in counts
    assert counts["fetch_source"] == 5  # jailbreakbench, xstest, goemotions, emorynlp, nrc_vad
    assert counts["build_model"] == 4  # three readers + the embedder
    assert counts["build_suite"] == 2 and counts["build_stimuli"] == 2
    assert counts["extract"] == 3 * 4  # every reader x (2 suites + 2 stimulus sets)
    assert counts["fit_concepts"] == 3 and counts["profiles"] == 6
    assert counts["transfer"] == 3 and counts["gather_transfer"] == 1  # one LOMO job per holdout
    assert counts["fit_monitor"] == 1


def test_bad_config_fails_before_any_job(tmp_path, raw_config):
    raw_config["extraction"]["layers"] = [0.5, 1.25]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(raw_config))
    work = tmp_path / "work"
    res = snakemake("--cores", "1", "--directory", str(work), "--configfile", str(bad))
    assert res.returncode != 0
    out = res.stdout + res.stderr
    assert "invalid config: relative layer depth 1.25 at 'extraction.layers[1]' is outside (0, 1]" in out
    assert not (work / "results").exists() and not (work / "resources").exists()


@pytest.mark.data
def test_workflow_builds_suite_tables_from_mirror(tmp_path, mirror):
    targets = ["results/suites/jailbreakbench.parquet", "results/suites/xstest.parquet"]
    common = ["--directory", str(tmp_path), "--configfile", str(REPO / "config/study-reader.yaml")]
    res = snakemake(*targets, "--cores", "2", *common, env={"EMOBASIS_MIRROR": str(mirror)})
    assert res.returncode == 0, res.stderr[-3000:]
    jbb = pd.read_parquet(tmp_path / targets[0])
    xs = pd.read_parquet(tmp_path / targets[1])
    assert (len(jbb), len(xs)) == (1637, 2250)
    prov = read_provenance(tmp_path / targets[1])
    assert prov["source"]["xstest_prompts.csv"] == ("11783fb294ed017473ee53c207d71f2161c7672c8d0b037501e78387f801cb5a")
    # a rerun with nothing changed schedules nothing
    again = snakemake(*targets, "-n", *common, env={"EMOBASIS_MIRROR": str(mirror)})
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr


def test_lint_is_clean():
    res = snakemake("--lint")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Lints for" not in res.stdout + res.stderr


def test_snakefmt_is_clean():
    res = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "."], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.fixture(scope="module")
def gpu_study_slurm_plan(tmp_path_factory):
    """One dry run of the GPU study config (config/study-gpu.yaml over the default) under profiles/slurm,
    shared by the two tests below (the DAG of that study is built once)."""
    res = snakemake(
        "-n",
        "--directory",
        str(tmp_path_factory.mktemp("gpu-plan")),
        "--workflow-profile",
        str(REPO / "profiles" / "slurm"),
        "--slurm-no-account",
        "--configfile",
        str(REPO / "config/config.yaml"),
        str(REPO / "config/study-gpu.yaml"),
    )
    assert res.returncode == 0, res.stderr[-2000:] + res.stdout[-2000:]
    return res


def test_gpu_study_config_validates_with_pinned_hub_models(gpu_study_slurm_plan):
    """config/study-gpu.yaml: the suites' responders and other open chat models, each at a 40-hex revision."""
    overlay = yaml.safe_load((REPO / "config" / "study-gpu.yaml").read_text())
    ids = [m["id"] for m in overlay["models"]]
    assert {"llama-2-7b-chat", "vicuna-13b-v1.5", "mistral-7b-instruct-v0.1"} <= set(ids) and len(ids) >= 5
    for m in overlay["models"]:
        assert m["source"] == "hub" and len(m["revision"]) == 40 and not m.get("trust_remote_code", False)
    counts = job_counts(gpu_study_slurm_plan.stdout)
    assert counts["extract"] == len(ids) * 4 and counts["transfer"] == len(ids)
    assert counts["generate"] == len(ids) * 2  # the own-answer study: every hub model answers both prompt sets


def test_slurm_profile_validates_and_asks_gpus_for_extraction_only(gpu_study_slurm_plan):
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    gpu_rules = [
        rule for rule, res in profile["set-resources"].items() if res.get("gpu") or "gpu" in str(res.get("gres", ""))
    ]
    assert gpu_rules == ["extract", "generate", "pilot_answers"]
    assert "gpu=1" in gpu_study_slurm_plan.stdout  # extraction jobs carry the GPU request into the plan


def test_no_shell_no_pickle_no_remote_code_by_default(default_config):
    """Config values never reach a shell (no rule has shell:/run:), the code never unpickles, and hub models
    run no repo code unless a model opts in."""
    import re

    rules = "".join(p.read_text() for p in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))])
    assert not re.search(r"^\s+(shell|run):", rules, re.M)
    code = "".join(p.read_text() for p in (REPO / "workflow").rglob("*.py"))
    for forbidden in ("import pickle", "allow_pickle=True", "torch.load(", "joblib", "cloudpickle"):
        assert forbidden not in code, forbidden
    assert all(m["trust_remote_code"] is False for m in default_config["models"])


def test_the_one_machine_gpu_profile_gives_each_model_job_a_card_of_its_own(tmp_path):
    """profiles/gpu: generate and extract declare gpu=1 and the machine's gpu resource caps how many run at
    once, so up to 16 model jobs no longer share one GPU; build_model stays a local rule under SLURM."""
    profile = yaml.safe_load((REPO / "profiles" / "gpu" / "config.yaml").read_text())
    assert profile["resources"] == {"gpu": 1}
    assert sorted(r for r, res in profile["set-resources"].items() if res.get("gpu")) == [
        "extract",
        "generate",
        "pilot_answers",
    ]
    res = snakemake(
        "-n",
        "--directory",
        str(tmp_path),
        "--workflow-profile",
        str(REPO / "profiles" / "gpu"),
        "--configfile",
        str(REPO / "config/config.yaml"),
        str(REPO / "config/study-gpu.yaml"),
    )
    assert res.returncode == 0, res.stderr[-2000:] + res.stdout[-2000:]
    assert "gpu=1" in res.stdout
    assert "build_model," in (REPO / "Snakefile").read_text().split("localrules:", 1)[1].split("rule all", 1)[0]
    header = (REPO / "profiles" / "slurm" / "config.yaml").read_text().split("executor:", 1)[0]
    assert "--workflow-profile profiles/slurm" in header and "snakemake --profile" not in header


def test_the_gpu_study_uses_every_row_and_fixes_its_system_prompts_up_front(mirror):
    """Before: it inherited the default's max caps (about 200 prompts per model, not every row) and the
    default's audit block; now every row of its sources, its own audit, and a system prompt per chat model set
    before any answer exists."""
    from emobasis.config import suite_spec, validate_config
    from snakemake.utils import update_config
    from test_full_study import prompt_sets

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    update_config(cfg, yaml.safe_load((REPO / "config/study-gpu.yaml").read_text()))
    cfg = validate_config(cfg)
    assert cfg["study"]["every_prompt"] is True
    cfg["suites"] = {s: suite_spec(cfg, s) for s in cfg["suites"]}  # as rule build_prompts gets them
    for s in cfg["study"]["suites"]:
        assert all("max" not in e for e in cfg["suites"][s]["prompts"]), s
    sets = prompt_sets(cfg, mirror)
    assert {s: len(v) for s, v in sets.items()} == {"jailbreakbench": 225, "xstest": 225}
    assert {s: int((~v["benign"]).sum()) for s, v in sets.items()} == {"jailbreakbench": 100, "xstest": 100}
    for m in cfg["models"]:
        assert m.get("system_prompt") or m.get("plain_format"), m["id"]
    assert cfg["audit"]["labels"] == [] and cfg["audit"]["sheets"][0]["suites"] == ["jailbreakbench", "xstest"]
