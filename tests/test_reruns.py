"""What a change to a finished own-answer study reruns, asked of Snakemake itself (dry-run).

A finished study is made without running it: every output of the default study's DAG is written as an
empty file, then ``snakemake --touch --forceall`` records each job's params, inputs and code as if it had
run, with modification times in DAG order. A dry-run with a changed config then lists exactly the jobs that
Snakemake's rerun triggers (mtime, params, input, code) would start."""

from __future__ import annotations

import copy
import shutil

import pytest
import yaml
from conftest import REPO, job_counts, smk

pytestmark = pytest.mark.workflow

DEFAULT = REPO / "config" / "config.yaml"
FITTING = ("transfer", "split_seeds", "fit_monitor", "basis_anatomy", "gather_transfer", "fit_concepts")


def dry_run_jobs(stdout: str) -> list[tuple[str, dict]]:
    """(rule, wildcards) of every job a dry-run lists."""
    jobs = []
    for line in stdout.splitlines():
        s = line.strip()
        if s.startswith(("rule ", "localrule ")) and s.endswith(":"):
            jobs.append((s.split()[1][:-1], {}))
        elif s.startswith("wildcards:") and jobs:
            jobs[-1][1].update(kv.split("=", 1) for kv in s[len("wildcards:") :].strip().split(", "))
    return jobs


def finish(work, snakefile=None):
    """Make ``work`` a finished default study (touched, not run) of the workflow at ``snakefile``."""
    res = smk(work, DEFAULT, "--summary", snakefile=snakefile)
    assert res.returncode == 0, res.stderr[-3000:]
    outputs = [line.split("\t")[0] for line in res.stdout.splitlines()[1:] if "\t" in line]
    assert len(outputs) > 100, res.stdout[:2000]
    for rel in outputs:
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_bytes(b"")
    res = smk(work, DEFAULT, "--touch", "--forceall", "--cores", "1", snakefile=snakefile)
    assert res.returncode == 0, res.stderr[-3000:]
    res = smk(work, DEFAULT, "-n", snakefile=snakefile)
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr, res.stdout[-3000:]
    return work


@pytest.fixture(scope="module")
def finished_default(tmp_path_factory):
    """A workdir in which the default own-answer study is finished (touched, not run)."""
    return finish(tmp_path_factory.mktemp("finished-default"))


def dry_run(work, tmp_path, cfg: dict, snakefile=None):
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = smk(work, path, "-n", snakefile=snakefile)
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-3000:]
    return dry_run_jobs(res.stdout), job_counts(res.stdout) if "Job stats:" in res.stdout else {}


def default_config() -> dict:
    return yaml.safe_load(DEFAULT.read_text())


def test_adding_a_test_prompt_set_to_a_finished_study_refits_nothing(finished_default, tmp_path):
    """A held-out prompt set (role: test): its prompts, answers, labels, reads, profiles and embeddings, its
    own count table, the cross-suite scoring and the report; never a fitting job, never the fit counts."""
    cfg = default_config()
    cfg["sources"]["heldout"] = {"mirror_dir": "heldout", "files": {"harmful.csv": "0" * 64, "benign.csv": "1" * 64}}
    cols = {"item_id": "id", "prompt": "prompt"}
    cfg["suites"]["heldout"] = {
        "adapter": "answers",
        "role": "test",
        "prompts": [
            {"reader": "table", "source": "heldout", "file": "harmful.csv", "columns": cols},
            {"reader": "table", "source": "heldout", "file": "benign.csv", "columns": cols, "label": "safe"},
        ],
    }
    cfg["study"] = {**cfg.get("study", {}), "suites": ["jailbreakbench", "xstest", "heldout"]}
    # the caution suite leaves the study, and its audit sheet with it (a sheet over a suite the study does not
    # answer is a config error)
    cfg["audit"]["sheets"] = [s for s in cfg["audit"]["sheets"] if set(s["suites"]) <= set(cfg["study"]["suites"])]
    jobs, counts = dry_run(finished_default, tmp_path, cfg)
    for rule in (*FITTING, "answer_counts", "build_model", "fit_judge", "label_answers"):
        if rule == "label_answers":  # only the new suite's answers are labelled
            assert {wc["suite"] for r, wc in jobs if r == rule} == {"heldout"}, jobs
            continue
        assert rule not in counts, (rule, counts)
    for rule in ("generate", "extract", "profiles"):  # one per model, the new suite only
        assert [wc.get("suite", wc.get("dataset")) for r, wc in jobs if r == rule] == ["heldout"] * 3, (rule, jobs)
    assert counts["test_answer_counts"] == 1 and counts["cross_suite"] == 3 and counts["write_summary"] == 1
    assert {wc["suite"] for r, wc in jobs if r in ("build_suite", "embed_responses")} == {"heldout"}


def test_adding_a_model_reruns_only_its_own_jobs_and_the_cross_model_ones(finished_default, tmp_path):
    """A fourth model: its build, answers, labels, reads, concepts and profiles, then the cross-model stages;
    no other model's generation, labels, reads or profiles."""
    cfg = default_config()
    new = copy.deepcopy(cfg["models"][0])
    new["id"] = "smollm2-second"
    cfg["models"].append(new)
    jobs, counts = dry_run(finished_default, tmp_path, cfg)
    per_model = ("build_model", "generate", "label_answers", "extract", "fit_concepts", "profiles", "plot_concepts")
    for rule, wc in jobs:
        if rule in per_model:
            assert wc.get("model") == "smollm2-second", (rule, wc)  # nothing of the other models is recomputed
    assert counts["extract"] == 5 and counts["profiles"] == 3 and counts["generate"] == 3  # 3 suites
    assert counts["transfer"] == 4 and counts["split_seeds"] == 4  # every holdout's LOMO sees the new model
    for untouched in ("fetch_source", "build_prompts", "fit_judge", "build_stimuli"):
        assert untouched not in counts, untouched


def test_a_plain_rerun_of_the_finished_study_schedules_nothing(finished_default, tmp_path):
    jobs, _ = dry_run(finished_default, tmp_path, default_config())
    assert jobs == [], jobs


def _reordered(value):
    """The same options with their keys in reverse order (what an overlay written by another tool, or by
    hand, may hold), in the mapping itself and in the entries of its lists (models, prompt entries). Deeper
    mappings keyed by the user's names (a mismatch score's concept weights, a stimulus set's concepts) keep
    their order: it is the order they are read in."""
    if isinstance(value, list):
        return [_reordered(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        k: [_reordered(v) for v in value[k]] if isinstance(value[k], list) else value[k] for k in reversed(list(value))
    }


def test_a_reordered_overlay_with_one_new_model_reruns_no_existing_model_job(finished_default, tmp_path):
    """An overlay that lists the same models with their keys in another order (and in flow style), plus a
    new model: only the new model's jobs and the cross-model stages are scheduled."""
    cfg = default_config()
    models = cfg["models"]
    new = copy.deepcopy(models[0])
    new["id"] = "smollm2-second"
    models = [_reordered(m) for m in models] + [dict(sorted(new.items()))]
    assert [list(m) for m in models[:-1]] != [list(m) for m in cfg["models"]]  # the order does differ
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"models": models}, sort_keys=False, default_flow_style=True))
    res = smk(finished_default, [DEFAULT, overlay], "-n")
    assert res.returncode == 0, res.stderr[-3000:] + res.stdout[-3000:]
    jobs, counts = dry_run_jobs(res.stdout), job_counts(res.stdout)
    per_model = ("build_model", "generate", "label_answers", "extract", "fit_concepts", "profiles", "plot_concepts")
    for rule, wc in jobs:
        if rule in per_model:
            assert wc.get("model") == "smollm2-second", (rule, wc)
    assert counts["build_model"] == 1 and counts["generate"] == 3 and counts["transfer"] == 4, counts
    # every options block and entry reordered, no new model: nothing at all
    cfg = default_config()
    cfg = {
        k: _reordered(v) if k in ("models", "extraction", "generation", "transfer", "study") else v
        for k, v in cfg.items()
    }
    cfg["suites"] = {name: _reordered(spec) for name, spec in cfg["suites"].items()}
    jobs, _ = dry_run(finished_default, tmp_path, dict(reversed(list(cfg.items()))))
    assert jobs == [], jobs


@pytest.fixture(scope="module")
def workflow_copy(tmp_path_factory):
    """A copy of the workflow (Snakefile, rules, package, scripts, config, envs) and a study finished with it."""
    root = tmp_path_factory.mktemp("workflow-copy")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("rules", "workflow", "config", "envs"):
        shutil.copytree(REPO / name, root / name, ignore=ignore, symlinks=True)
    shutil.copy(REPO / "Snakefile", root / "Snakefile")
    work = root / "work"
    work.mkdir()
    return root, finish(work, root / "Snakefile")


def test_editing_a_transfer_module_reruns_the_transfer_stage_and_no_generation(workflow_copy, tmp_path):
    """A change to what a function of emobasis.transfer does reruns the jobs whose scripts import that module
    (the LOMO grid, split seeds, the monitor, the summary), and nothing before them; a docstring or comment
    change reruns nothing."""
    root, work = workflow_copy
    module = root / "workflow" / "emobasis" / "transfer" / "align.py"
    text = module.read_text()
    edited = text.replace("def make_aligner(", "# a comment\ndef make_aligner(", 1)
    assert edited != text
    module.write_text(edited)
    jobs, _ = dry_run(work, tmp_path, default_config(), snakefile=root / "Snakefile")
    assert jobs == [], jobs  # a comment is not a change of code
    module.write_text(
        text.replace(
            "    return ALIGNERS[name](rank, **kwargs)",
            "    kwargs = dict(kwargs)\n    return ALIGNERS[name](rank, **kwargs)",
            1,
        )
    )
    try:
        jobs, counts = dry_run(work, tmp_path, default_config(), snakefile=root / "Snakefile")
    finally:
        module.write_text(text)
    for rule in ("transfer", "split_seeds", "fit_monitor", "cross_suite", "write_summary"):
        assert counts.get(rule), (rule, counts)
    assert counts["transfer"] == 3 and counts["split_seeds"] == 3, counts
    for before in ("build_model", "generate", "label_answers", "extract", "build_prompts", "fit_concepts", "profiles"):
        assert before not in counts, (before, counts)


@pytest.fixture(autouse=True, scope="module")
def _cleanup(finished_default):
    yield
    shutil.rmtree(finished_default, ignore_errors=True)


def test_a_models_own_token_budget_reruns_only_its_generation(finished_default, tmp_path):
    """models[].token_budget overrides generation.token_budget for that model's batches (a 13B model next to
    7B ones): its answers are regenerated (the batch is part of their provenance), no other model's."""
    cfg = default_config()
    cfg["models"][0]["token_budget"] = 1024
    jobs, counts = dry_run(finished_default, tmp_path, cfg)
    assert {wc["model"] for r, wc in jobs if r == "generate"} == {cfg["models"][0]["id"]}
    assert counts["generate"] == 3 and "build_model" not in counts
