"""Canonical suite tables from the real sources: row counts, labels, prompt-disjoint splits; the
generic table adapter; and clear errors on bad input."""

import json

import pandas as pd
import pytest
from conftest import source_root
from emobasis.data.suites import SuiteError, read_suite
from emobasis.data.table import read_table
from emobasis.labels.suite_table import finish_suite, label_summary
from emobasis.labels.tone import validate_against_labels


def build(cfg, mirror, name):
    spec = cfg["suites"][name]
    src = cfg["sources"][spec["source"]]
    base, stats = read_suite(spec["adapter"], source_root(cfg, mirror, spec["source"]), list(src["files"]), spec, name)
    return finish_suite(base, name, cfg["split"], cfg["tone"], cfg["seed"]), stats


@pytest.fixture(scope="module")
def jbb(default_config, mirror):
    return build(default_config, mirror, "jailbreakbench")


@pytest.fixture(scope="module")
def xstest(default_config, mirror):
    return build(default_config, mirror, "xstest")


def test_jailbreakbench_rows_match_source_files(jbb, default_config, mirror):
    table, stats = jbb
    root = source_root(default_config, mirror, "jailbreakbench")
    total, with_response, jailbroken = 0, 0, 0
    for rel in default_config["sources"]["jailbreakbench"]["files"]:
        rows = json.loads((root / rel).read_text())["jailbreaks"]
        total += len(rows)
        kept = [r for r in rows if r["prompt"] and r["response"]]
        with_response += len(kept)
        jailbroken += sum(bool(r["jailbroken"]) for r in kept)
    assert total == 1800  # 18 files x 100 behaviors
    assert len(table) == with_response == 1800 - stats["dropped_total"]
    assert stats["dropped_total"] == 163  # PAIR found no jailbreak: 13 + 36 + 96 + 18
    assert table["unsafe"].sum() == jailbroken
    assert table["item_id"].nunique() == 100
    assert table["responder"].nunique() == 4 and table["attack"].nunique() == 5
    assert not table["benign"].any()


def test_xstest_rows_and_labels_match_source_files(xstest, default_config, mirror):
    table, _ = xstest
    assert len(table) == 2250 and table["item_id"].nunique() == 450
    assert sorted(table["responder"].unique()) == ["gpt4", "llama2new", "llama2orig", "mistralguard", "mistralinstruct"]
    # unsafe = full compliance on a contrast prompt: counts from the source's PROVENANCE.md
    assert table.groupby("responder")["unsafe"].sum().to_dict() == {
        "gpt4": 1,
        "llama2new": 0,
        "llama2orig": 0,
        "mistralguard": 7,
        "mistralinstruct": 128,
    }
    assert table["benign"].sum() == 250 * 5
    assert not (table["benign"] & table["unsafe"]).any()


@pytest.mark.parametrize("which", ["jbb", "xstest"])
def test_splits_are_prompt_disjoint(which, request):
    table, _ = request.getfixturevalue(which)
    assert table.groupby("item_id")["split"].nunique().max() == 1
    assert set(table["split"]) == {"train", "val", "test"}
    # every split has both classes of the primary target
    assert (table.groupby("split")["tone_masked"].agg(["min", "max"]).to_numpy() == [False, True]).all()


def test_labels_are_consistent(jbb, xstest):
    for table, _ in (jbb, xstest):
        assert (table["tone_masked"] == (table["unsafe"] & table["calm"])).all()
        assert table["row_id"].is_unique
        summary = label_summary(table)
        assert summary["all"]["rows"] == sum(summary[s]["rows"] for s in ("train", "val", "test"))


def test_tone_scorer_separates_xstest_refusals(xstest):
    table, _ = xstest
    result = validate_against_labels(table).set_index("feature")
    assert result.loc["tone_score", "auc_refusal_vs_compliance"] > 0.9
    assert result.loc["tone_score", "calm_rate_refusal"] < 0.1


def test_split_is_deterministic(default_config, mirror, xstest):
    again, _ = build(default_config, mirror, "xstest")
    pd.testing.assert_frame_equal(again, xstest[0])


# --- generic table adapter ------------------------------------------------------------------------

ROWS = pd.DataFrame(
    {
        "qid": [1, 1, 2, 3],
        "question": ["q1", "q1", "q2", "q3"],
        "answer": ["Sure, here.", "I cannot.", "Ok.", "No! That is illegal and dangerous."],
        "model": ["m1", "m2", "m1", "m1"],
        "harmful": ["unsafe", "safe", "unsafe", "safe"],
        "safe_prompt": [0, 0, 0, 1],
    }
)
SPEC = {
    "adapter": "table",
    "source": "mine",
    "columns": {
        "item_id": "qid",
        "prompt": "question",
        "response": "answer",
        "unsafe": "harmful",
        "responder": "model",
        "benign": "safe_prompt",
    },
    "unsafe_values": ["unsafe"],
}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_table_adapter_reads_each_format(tmp_path, fmt):
    path = tmp_path / f"suite.{fmt}"
    {
        "csv": lambda: ROWS.to_csv(path, index=False),
        "jsonl": lambda: ROWS.to_json(path, orient="records", lines=True),
        "parquet": lambda: ROWS.to_parquet(path),
    }[fmt]()
    base, _ = read_table(tmp_path, {**SPEC, "file": path.name}, "mine")
    table = finish_suite(
        base,
        "mine",
        {"train": 0.5, "val": 0.25, "test": 0.25},
        {"threshold": 1.0, "weights": {"refusal": 2, "warning": 1, "hedge": 0.25, "alarm": 0.5}},
        0,
    )
    assert table["unsafe"].tolist() == [True, False, True, False]
    assert table["benign"].tolist() == [False, False, False, True]
    assert table["item_id"].tolist() == ["mine-1", "mine-1", "mine-2", "mine-3"]
    assert table["calm"].tolist() == [True, False, True, False]
    assert table.groupby("item_id")["split"].nunique().max() == 1


def test_table_adapter_names_a_missing_column(tmp_path):
    ROWS.drop(columns=["answer"]).to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(SuiteError, match=r"lacks mapped column\(s\) response -> 'answer'.*Fix"):
        read_table(tmp_path, {**SPEC, "file": "s.csv"}, "mine")


def test_table_adapter_rejects_non_boolean_labels(tmp_path):
    ROWS.assign(harmful=["harmful", "harmless", "harmful", "harmless"]).to_csv(tmp_path / "s.csv", index=False)
    spec = {**SPEC, "file": "s.csv"}
    del spec["unsafe_values"]  # the defaults (1/0, true/false, yes/no, unsafe/safe) do not cover these
    with pytest.raises(SuiteError, match=r"'harmful' x2, 'harmless' x2.*Fix: .*unsafe_values.*safe_values"):
        read_table(tmp_path, spec, "mine")


def test_table_adapter_reports_malformed_file(tmp_path):
    (tmp_path / "s.jsonl").write_text('{"qid": 1, "question": \n')
    with pytest.raises(SuiteError, match="could not read"):
        read_table(tmp_path, {**SPEC, "file": "s.jsonl"}, "mine")


def test_empty_suite_is_an_error():
    with pytest.raises(SuiteError, match="no rows"):
        finish_suite(pd.DataFrame(columns=["item_id"]), "x", {"train": 1, "val": 0, "test": 0}, {}, 0)


def test_own_rows_read_one_responder_on_the_prompts_every_responder_answered():
    from emobasis.data.suites import own_rows

    t = pd.DataFrame(
        {
            "item_id": ["i1", "i1", "i2", "i2", "i3", "i3", "i4"],
            "attack": ["a", "a", "a", "a", "b", "b", "a"],
            "responder": ["x", "y", "x", "y", "x", "y", "x"],  # i4 has no answer by y
            "unsafe": [True, False, False, False, False, True, True],
        }
    )
    rx, ry = own_rows(t, "x", ["x", "y"], None, 0, "s"), own_rows(t, "y", ["x", "y"], None, 0, "s")
    assert list(rx) == [0, 2, 4] and list(ry) == [1, 3, 5]
    sub = own_rows(t, "x", ["x", "y"], 2, 0, "s")
    assert len(sub) == 2 and list(t.iloc[sub]["item_id"]) == list(
        t.iloc[own_rows(t, "y", ["x", "y"], 2, 0, "s")]["item_id"]
    )
    with pytest.raises(SuiteError, match="no responses by responder 'z'. Fix: name one of: x, y"):
        own_rows(t, "z", ["x", "z"], None, 0, "s")
