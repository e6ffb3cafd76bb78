"""A whole (tiny) study run by Snakemake: determinism, a killed run, a corrupted file, adding a model, own
responses, cross-machine tolerance, SLURM.

The study is the default config shrunk by ``conftest.tiny_study_config``: real suites and stimuli from the
data mirror, three tiny random-init reader models from local folders, the real MiniLM embedder. A full run
is 45-60 jobs (a few minutes on two cores, mostly starting Python and torch per job). One clean run is
shared by the whole session (``conftest.tiny_clean_run``); the only other full run is the killed-and-resumed
one, which doubles as the second run of the byte-identity check. Tests that change files work on a copy of
the clean run and rerun only what Snakemake's rerun triggers schedule. Runs stop at the tables and the
summary (no figures).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
import yaml
from conftest import (
    REPO,
    TINY_MODELS,
    TINY_RESPONDERS,
    TINY_THREADS,
    TOLERANCE,
    copy_run,
    digests,
    run_ok,
    smk,
    snakemake_cmd,
)
from conftest import TINY_TARGETS as TARGETS

pytestmark = [pytest.mark.workflow, pytest.mark.data, pytest.mark.e2e]


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))
    differ = [k for k in a if a[k] != b[k]]
    assert not differ, f"{len(differ)} files differ between runs, e.g. {differ[:5]}"


def test_rerun_with_nothing_changed_schedules_nothing(tiny_clean_run):
    work, config, _ = tiny_clean_run
    res = smk(work, config, "-n", *TARGETS)
    assert res.returncode == 0 and "Nothing to be done" in res.stdout + res.stderr, res.stdout[-2000:]


def dry_run_jobs(res) -> list[tuple[str, dict]]:
    """(rule, wildcards) of every job in a run's or a dry run's listing."""
    jobs, rule = [], None
    for line in (res.stdout + "\n" + res.stderr).splitlines():
        s = line.strip()
        if s.startswith(("rule ", "localrule ")) and s.endswith(":"):
            rule = s.split()[1][:-1]
            jobs.append((rule, {}))
        elif s.startswith("wildcards:") and jobs:
            jobs[-1][1].update(kv.split("=", 1) for kv in s[len("wildcards:") :].strip().split(", "))
    return jobs


def test_adding_a_model_schedules_only_its_jobs_and_the_cross_model_ones(
    tiny_clean_run, tiny_study, minilm_dir, mirror, tmp_path
):
    from conftest import tiny_study_config

    work, config, _ = tiny_clean_run
    _, models_dir = tiny_study
    raw = yaml.safe_load(config.read_text())
    four = tiny_study_config(raw, mirror, models_dir, minilm_dir, models=tuple(TINY_MODELS))
    path = tmp_path / "four.yaml"
    path.write_text(yaml.safe_dump(four, sort_keys=False))
    res = smk(work, path, "-n", *TARGETS)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    jobs = dry_run_jobs(res)
    per_model = {"build_model", "extract", "fit_concepts", "profiles"}
    for rule, wc in jobs:
        if rule in per_model:
            assert wc.get("model") == "tiny-d", (rule, wc)  # nothing of the other models is recomputed
    rules = [r for r, _ in jobs]
    assert rules.count("extract") == 4 and rules.count("build_model") == 1  # 2 suites + 2 stimulus sets
    assert rules.count("transfer") == 4  # every holdout's LOMO sees the new model
    for untouched in ("fetch_source", "build_suite", "build_stimuli", "embed_responses"):
        assert untouched not in rules, untouched


@pytest.mark.long(5)
def test_killed_run_leaves_no_partial_file_and_resumes_to_byte_identical_results(tiny_clean_run, tmp_path):
    """A second, independent run of the whole study, SIGKILLed during an extraction and
    resumed: every file that exists after the kill is whole, the resumed run leaves no temporary file, and
    all its results are byte-identical to the clean run's.

    This test also is the former ``test_two_clean_runs_are_byte_identical`` (its assertions are kept here):
    every compared file (all of them under results/) was computed by this run, so comparing its digests with
    the clean run's checks that two runs of the study give the same bytes. Only resources/ (the fetched data
    sources and built models, each checked against its sha256 when made) is taken from the clean run."""
    from emobasis.models.activations import load_activations

    work_a, config, first = tiny_clean_run
    assert len(first) > 60 and "results/tables/transfer_summary.csv" in first
    assert all(k.startswith("results/") for k in first)
    # the data sources and model folders (resources/, sha256-checked copies, never compared) come from the
    # clean run; everything under results/ is computed again by this run
    work = copy_run(work_a, tmp_path / "run-killed")
    for folder in ("results", "logs", "benchmarks"):
        shutil.rmtree(work / folder, ignore_errors=True)
    cmd = [
        *snakemake_cmd(work),
        "--cores",
        "2",
        *TARGETS,
        *TINY_THREADS,  # as the clean run
        "--configfile",
        str(config),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    logs = work / "logs" / "extract"
    deadline = time.time() + 600
    try:  # wait until an extraction job is running (its log exists, its output does not), then SIGKILL all
        while time.time() < deadline and proc.poll() is None:
            running = [
                p
                for p in logs.glob("*/*.log")
                if not (work / "results" / "activations" / p.parent.name / f"{p.stem}.safetensors").exists()
            ]
            if running:
                time.sleep(1.0)  # well inside the forward pass of that job
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before an extraction could be killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    done = sorted((work / "results" / "activations").glob("*/*.safetensors"))
    for path in done:  # whatever exists is whole: it matches the checksum in its manifest
        load_activations(path)
    unlock = smk(work, config, "--unlock")
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    run_ok(work, config)
    assert_same(first, digests(work))
    leftovers = [p for p in (work / "results").rglob("*.tmp")]  # the killed job's temp file went with its rerun
    assert not leftovers, leftovers


@pytest.mark.long(9)
def test_corrupted_activation_is_detected_never_used_then_rebuilt(tiny_clean_run, tmp_path):
    work_a, config, first = tiny_clean_run
    work = copy_run(work_a, tmp_path / "run-corrupt")
    target = work / "results" / "activations" / "tiny-b" / "xstest.safetensors"
    data = bytearray(target.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte in the float16 payload
    target.write_bytes(bytes(data))
    profile = work / "results" / "profiles" / "tiny-b" / "xstest.parquet"
    before = profile.read_bytes()
    res = smk(work, config, "--cores", "2", *TARGETS, *TINY_THREADS)
    failed_logs = [
        line.split("log: ", 1)[1].split(" (check")[0].split(",")[0]
        for line in res.stdout.splitlines() + res.stderr.splitlines()
        if line.strip().startswith("log: ")
    ]
    out = res.stdout + res.stderr + "".join((work / p).read_text() for p in failed_logs if (work / p).exists())
    assert res.returncode != 0
    assert "sha256" in out and "tiny-b/xstest.safetensors" in out and "Fix:" in out, out[-3000:]
    assert not profile.exists() or profile.read_bytes() == before  # nothing was computed from the bad file
    # the fix the message names: rebuild that extraction; it and the profile read from it equal the clean
    # run's (what follows from them is recomputed, byte-identically, by the killed-and-resumed run's test)
    res = smk(
        work,
        config,
        "--cores",
        "2",
        "results/profiles/tiny-b/xstest.parquet",
        "--forcerun",
        "results/activations/tiny-b/xstest.safetensors",
        *TINY_THREADS,  # as the clean run, whose bytes the rebuilt files must equal
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert sorted(r for r, _ in dry_run_jobs(res)) == ["extract", "profiles"]
    assert profile.read_bytes() == before
    assert_same(first, digests(work))


def test_artifacts_hold_no_pickles(tiny_clean_run):
    """safetensors, parquet, JSON, CSV and npz of plain arrays only: every npz loads with allow_pickle=False."""
    work = tiny_clean_run[0]
    files = [p for p in (work / "results").rglob("*") if p.is_file()]
    suffixes = {p.suffix for p in files}
    assert suffixes <= {".safetensors", ".parquet", ".json", ".csv", ".npz", ".md", ".html", ".png"}, suffixes
    npz = [p for p in files if p.suffix == ".npz"]
    assert npz
    for path in npz:
        with np.load(path, allow_pickle=False) as z:
            for key in z.files:
                assert z[key].dtype != object, (path, key)


SUMMARY_NUMBERS = ["auc", "auc_ci_low", "auc_ci_high"]  # + every column whose name starts with "diff"


@pytest.mark.long(8)
def test_other_threads_and_batching_give_the_same_aucs_within_tolerance(tiny_clean_run, tmp_path):
    """Cross-machine tolerance: the finished study rerun as on another machine, extraction with 2 threads
    instead of 1 and a token_budget of 256 instead of 1024 (rows batched and padded differently), gives every
    AUC, CI bound and paired difference of results/tables/transfer_summary.csv within TOLERANCE
    (conftest.py) of the first run. Only extraction and what depends on it reruns."""
    import pandas as pd

    work_a, config, _ = tiny_clean_run
    work = copy_run(work_a, tmp_path / "run-other-machine")
    cfg = yaml.safe_load(config.read_text())
    assert cfg["extraction"]["token_budget"] != 256
    cfg["extraction"]["token_budget"] = 256
    other = tmp_path / "other-machine.yaml"
    other.write_text(yaml.safe_dump(cfg, sort_keys=False))
    table = "results/tables/transfer_summary.csv"
    # 2 threads per extraction (the clean run used TINY_THREADS' 1, as the default profile does); --cores 4 lets
    # two of these jobs, which mostly wait on imports, run side by side on a two-core machine
    res = smk(work, other, "--cores", "4", table, "--set-threads", "extract=2")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    jobs = [r for r, _ in dry_run_jobs(res)]
    print("reran:", {r: jobs.count(r) for r in sorted(set(jobs))})
    for kept in ("fetch_source", "build_suite", "build_stimuli", "build_model", "embed_responses"):
        assert kept not in jobs, (kept, jobs)  # nothing upstream of extraction, nor the text embeddings
    assert jobs.count("extract") == 12, jobs  # every model's reads of both suites and both stimulus sets
    assert jobs.count("fit_concepts") == 3 and jobs.count("profiles") == 6 and jobs.count("transfer") == 3, jobs
    manifest = json.loads((work / "results/activations/tiny-a/xstest.json").read_text())
    assert manifest["threads"] == 2 and manifest["token_budget"] == 256  # the rerun really read differently
    a = pd.read_csv(work_a / table, dtype={"k": str})
    b = pd.read_csv(work / table, dtype={"k": str})
    numbers = [c for c in a.columns if c in SUMMARY_NUMBERS or c.startswith("diff")]
    keys = [c for c in a.columns if not pd.api.types.is_float_dtype(a[c])]  # the cell: method, holdout, k, ...
    assert len(a) == len(b) and set(SUMMARY_NUMBERS) <= set(numbers), (a.columns, len(a), len(b))
    merged = a.merge(b, on=keys, suffixes=("", "_other"), validate="one_to_one")
    assert len(merged) == len(a), keys
    for c in numbers:  # a number missing in one run is missing in the other
        assert (merged[c].isna() == merged[f"{c}_other"].isna()).all(), c
    diffs = {c: float(np.nanmax(np.abs(merged[c] - merged[f"{c}_other"]))) for c in numbers}
    print("max |difference| per column:", diffs)
    assert max(diffs.values()) <= TOLERANCE, diffs


SLURM_SCRIPT = REPO / "tests" / "slurm" / "cluster.sh"


@pytest.fixture(scope="module")
def slurm_cluster(tmp_path_factory):
    """A real single-node SLURM cluster (Debian slurm-wlm + munge), started for this module."""
    if os.geteuid() != 0:
        pytest.skip("the SLURM integration test starts slurmctld/slurmd/munged and needs root")
    if shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        pytest.skip("no slurm-wlm and no apt-get to install it (Debian/Ubuntu only)")
    inst = subprocess.run(["bash", str(SLURM_SCRIPT), "install"], capture_output=True, text=True, timeout=900)
    if inst.returncode != 0:
        pytest.skip(f"could not install slurm-wlm and munge: {inst.stderr[-500:]}")
    state = tmp_path_factory.mktemp("slurm")
    start = subprocess.run(
        ["bash", str(SLURM_SCRIPT), "start", str(state)], capture_output=True, text=True, timeout=120
    )
    if start.returncode != 0:
        subprocess.run(["bash", str(SLURM_SCRIPT), "stop", str(state)], capture_output=True)
        pytest.skip(f"SLURM could not start in this sandbox: {start.stderr[-1500:]}")
    yield state
    subprocess.run(["bash", str(SLURM_SCRIPT), "stop", str(state)], capture_output=True, timeout=60)


@pytest.mark.long(7)
def test_slurm_executor_gives_the_local_results(tiny_clean_run, slurm_cluster, tmp_path):
    """profiles/slurm unchanged, through snakemake-executor-plugin-slurm: one model's extractions (forced; each
    asks for a GPU) and every job downstream of them run as SLURM jobs, and the tables equal the local run's."""
    work_a, config, first = tiny_clean_run
    work = copy_run(work_a, tmp_path / "run-slurm")
    redo = [f"results/activations/tiny-a/{d}.safetensors" for d in ("jailbreakbench", "xstest", "emotions", "controls")]
    target = ["results/tables/transfer_summary.csv"]
    res = subprocess.run(
        [
            *snakemake_cmd(work),
            *target,
            "--workflow-profile",
            str(REPO / "profiles" / "slurm"),
            "--slurm-no-account",
            "--slurm-status-command",
            "squeue",
            "--slurm-init-seconds-before-status-checks",
            "1",
            "--seconds-between-status-checks",
            "2",
            "--jobs",
            "4",
            # the test node's 16 CPUs are announced, not real: keep torch from oversubscribing the real cores
            "--set-threads",
            "extract=1",
            "build_model=1",
            "embed_responses=1",
            "transfer=1",
            "--forcerun",
            *redo,
            "--configfile",
            str(config),
        ],
        capture_output=True,
        text=True,
        timeout=1500,
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    table = "results/tables/transfer_summary.csv"
    assert hashlib.sha256((work / table).read_bytes()).hexdigest() == first[table]
    queue = subprocess.run(
        ["squeue", "--states=all", "-h", "-O", "Comment:|,tres-per-job:|,State:"], capture_output=True, text=True
    )
    rows = [[f.strip() for f in line.split("|")][:3] for line in queue.stdout.splitlines() if line.startswith("rule_")]
    rules = [name.split("_wildcards")[0] for name, _, _ in rows]
    assert rows and all(state == "COMPLETED" for _, _, state in rows), (queue, res.stdout[-2000:])
    assert rules.count("rule_extract") == 4 and rules.count("rule_transfer") == 3, rules
    assert {r for (name, tres, _), r in zip(rows, rules) if "gpu" in tres} == {"rule_extract"}, rows
    assert all("gpu" in tres for (_, tres, _), r in zip(rows, rules) if r == "rule_extract"), rows
    assert "rule_gather_transfer" not in rules  # a local rule


@pytest.mark.long(6)
def test_own_response_mode_reads_each_models_own_responses(tiny_clean_run, tmp_path):
    """reader_mode own_responses: each model reads only its responder's responses to common prompts, and
    every holdout is scored on its own labels.

    The run starts from a copy of the finished clean study (the tiny models already declare their
    responders): the model builds, stimulus reads and concepts do not depend on the reader mode, so
    Snakemake's rerun triggers keep them; the run's job listing shows that only the suite reads and what
    follows from them ran."""
    import pandas as pd
    from emobasis.models.activations import load_activations

    work_a, config, _ = tiny_clean_run
    cfg = yaml.safe_load(config.read_text())
    cfg["study"]["reader_mode"] = "own_responses"
    responders = {m: TINY_RESPONDERS[m] for m in ("tiny-a", "tiny-b", "tiny-c")}
    for m in cfg["models"]:
        assert m["responders"] == dict(zip(("jailbreakbench", "xstest"), responders[m["id"]]))
    path = tmp_path / "own.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    work = copy_run(work_a, tmp_path / "run-own")
    jobs = dry_run_jobs(run_ok(work, path))
    rules = [r for r, _ in jobs]
    assert sorted((wc["model"], wc["dataset"]) for r, wc in jobs if r == "extract") == sorted(
        (m, s) for m in responders for s in ("jailbreakbench", "xstest")
    ), jobs  # suite reads only
    for kept in ("fetch_source", "build_suite", "build_stimuli", "build_model", "fit_concepts"):
        assert kept not in rules, (kept, rules)
    assert rules.count("embed_responses") == 2 and rules.count("transfer") == 3, rules
    slots = {}
    for m, pair in responders.items():
        for suite, responder in zip(("jailbreakbench", "xstest"), pair):
            manifest = json.loads((work / f"results/activations/{m}/{suite}.json").read_text())
            assert manifest["responder"] == responder
            table = pd.read_parquet(work / f"results/suites/{suite}.parquet")
            _, index = load_activations(work / f"results/activations/{m}/{suite}.safetensors")
            read = table.iloc[index]
            assert (read["responder"] == responder).all() and len(read) == 120
            slots.setdefault(suite, []).append(set(read["item_id"].astype(str) + "|" + read["attack"].astype(str)))
    for suite, sets in slots.items():  # every model answered the same prompts
        assert all(s == sets[0] for s in sets), suite
    summary = pd.read_csv(work / "results/tables/transfer_summary.csv", dtype={"k": str})
    pos = (
        summary[(summary.aligner == "gcca") & (summary.k == "0") & (summary.target == "unsafe")]
        .groupby("holdout")["n_test_pos"]
        .first()
    )
    assert pos.nunique() > 1, pos  # the holdouts' own labels differ
