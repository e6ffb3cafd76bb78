"""The prepared device check runs here on the CPU as a test of itself (issue 37, item 9): the same script a GPU
machine runs (tests/gpu/check.sh), with no hub and no network, writes one JSON with every field."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import REPO


def test_the_device_check_runs_on_the_cpu_and_reports_every_field(tmp_path):
    out = tmp_path / "check.json"
    res = subprocess.run(
        ["bash", str(REPO / "tests/gpu/check.sh"), "--device", "cpu", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "HF_HUB_OFFLINE": "1"},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["device"] == "cpu" and report["dtype"] == "float32"
    assert report["identical_answer_share"] == 1.0  # two runs, the same answers
    assert report["batching"]["identical_answer_share_one_row_batches"] == 1.0  # greedy answers ignore the batch
    assert report["batching"]["reads_max_rel_diff_one_row_batches"] < 1e-3
    assert (
        report["reads"]["within_tolerance"]
        and report["reads"]["prompt_last_max_rel_diff_fused_vs_teacher_forced"] < 1e-3
    )
    assert report["speed"]["answer_tokens"] > 0 and report["speed"]["tokens_per_s"] > 0
    assert report["memory"]["batch_token_budget"]["used"] == 65536 and report["memory"]["oom_backoffs"] == []
    runtime = report["provenance"]["runtime"]
    assert {"torch", "transformers", "device_name", "attn_implementation", "dtype"} <= set(runtime)
