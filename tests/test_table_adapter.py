"""The generic `table` suite adapter reads a user's own file as the user meant it, or stops with one clear
message that names the fix: ids stay text, every label value is declared (or thresholded), leading comment
lines, chat columns, TSV/BOM/multi-line CSV, and sources that live only in the mirror."""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import os
import re
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import snakemake_cmd
from emobasis.config import ConfigError, study_sources, validate_config
from emobasis.data.sources import SourceError, fetch_source, read_manifest
from emobasis.data.suites import SuiteError, read_suite
from emobasis.data.table import read_table
from emobasis.labels.suite_table import finish_suite

COLS = {"item_id": "qid", "prompt": "question", "response": "answer", "unsafe": "label"}
SPLIT = {"train": 0.5, "val": 0.25, "test": 0.25}
TONE = {"threshold": 1.0, "weights": {"refusal": 2, "warning": 1, "hedge": 0.25, "alarm": 0.5}}


def spec(file: str, **extra) -> dict:
    return {"adapter": "table", "source": "mine", "file": file, "columns": dict(COLS), **extra}


def read(tmp_path, name: str, content: str | bytes, **extra) -> pd.DataFrame:
    data = content.encode() if isinstance(content, str) else content
    (tmp_path / name).write_bytes(data)
    base, _ = read_table(tmp_path, spec(name, **extra), "mine")
    return base


def error(tmp_path, name: str, content: str | bytes, *fragments: str, **extra) -> str:
    with pytest.raises(SuiteError) as info:
        read(tmp_path, name, content, **extra)
    msg = str(info.value)
    for f in fragments:
        assert f in msg, msg
    assert "Fix:" in msg and "\n" not in msg, msg
    return msg


# --- 1. ids and texts are read as text -----------------------------------------------------------


def test_ids_keep_leading_zeros_and_texts_stay_strings(tmp_path):
    csv = "qid,question,answer,label,model\n007,42,Sure.,1,m01\n7,43,No.,0,m01\n0.50,1e3,ok,0,1.0\n"
    base = read(tmp_path, "s.csv", csv, columns={**COLS, "responder": "model"})
    assert base["item_id"].tolist() == ["mine-007", "mine-7", "mine-0.50"]
    assert base["prompt"].tolist() == ["42", "43", "1e3"]
    assert base["responder"].tolist() == ["m01", "m01", "1.0"]
    table = finish_suite(base, "mine", SPLIT, TONE, 0)
    assert table["item_id"].nunique() == 3 and table["row_id"].is_unique


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_ids_stay_text_in_jsonl_and_parquet(tmp_path, fmt):
    rows = pd.DataFrame(
        {"qid": ["007", "7", "0007"], "question": ["a", "b", "c"], "answer": ["x", "y", "z"], "label": [1, 0, 1]}
    )
    path = tmp_path / f"s.{fmt}"
    rows.to_json(path, orient="records", lines=True) if fmt == "jsonl" else rows.to_parquet(path)
    base, _ = read_table(tmp_path, spec(path.name), "mine")
    assert base["item_id"].tolist() == ["mine-007", "mine-7", "mine-0007"]
    assert base["unsafe"].tolist() == [True, False, True]


def test_integer_ids_with_gaps_do_not_become_floats(tmp_path):
    pd.DataFrame(
        {
            "qid": pd.array([1, None, 3], dtype="Int64"),
            "question": ["a", "b", "c"],
            "answer": ["x", "y", "z"],
            "label": [1, 0, 1],
        }
    ).to_parquet(tmp_path / "s.parquet")
    with pytest.raises(SuiteError, match=r"item_id column 'qid' has 1 empty cell\(s\) at row 2 .*Fix:"):
        read_table(tmp_path, spec("s.parquet"), "mine")
    (tmp_path / "t.jsonl").write_text(
        '{"qid": 1, "question": "a", "answer": "x", "label": 1}\n'
        '{"qid": 12, "question": "b", "answer": "y", "label": 0}\n'
    )
    base, _ = read_table(tmp_path, spec("t.jsonl"), "mine")
    assert base["item_id"].tolist() == ["mine-1", "mine-12"]


# --- 2. every label value is declared ----------------------------------------------------------------


def test_default_label_values(tmp_path):
    csv = "qid,question,answer,label\n" + "".join(
        f"{i},q{i},a{i},{v}\n"
        for i, v in enumerate(["1", "0", "TRUE", "false", "Yes", "no", " unsafe ", "Safe", "1.0", "0.0"])
    )
    base = read(tmp_path, "s.csv", csv)
    assert base["unsafe"].tolist() == [True, False] * 5


def test_unknown_and_empty_label_values_are_an_error_naming_value_count_rows_and_fix(tmp_path):
    csv = "qid,question,answer,label\n1,q,a,unsafe\n2,q,a,usafe\n3,q,a,\n4,q,a,safe\n5,q,a,usafe\n6,q,a,\n7,q,a,\n"
    msg = error(
        tmp_path,
        "s.csv",
        csv,
        "suite 'mine'",
        "column 'label'",
        "5 cell(s)",
        "(empty) x3",
        "'usafe' x2",
        "rows 2, 3, 5, 6, 7",
        "Fix: correct those cells, or list each value in suites.mine.unsafe_values or suites.mine.safe_values",
    )
    assert "unsafe_values [1, true, unsafe, yes]" in msg and "safe_values [0, false, no, safe]" in msg


def test_declared_safe_and_unsafe_values(tmp_path):
    csv = "qid,question,answer,label\n1,q,a,Harmful\n2,q,a,harmless\n3,q,a,refused\n"
    base = read(tmp_path, "s.csv", csv, unsafe_values=["harmful"], safe_values=["harmless", "refused"])
    assert base["unsafe"].tolist() == [True, False, False]
    # only unsafe_values declared: the default safe values still apply, anything else is an error
    error(tmp_path, "s.csv", csv, "'harmless' x1", "'refused' x1", "rows 2, 3", unsafe_values=["harmful"])


def test_inverted_numeric_labels_and_yaml_booleans(tmp_path):
    csv = "qid,question,answer,label\n1,q,a,0\n2,q,a,1\n"
    base = read(tmp_path, "s.csv", csv, unsafe_values=[0], safe_values=[1])
    assert base["unsafe"].tolist() == [True, False]
    # unsafe_values: [0] alone takes 0 out of the default safe values; 1 then needs declaring
    error(tmp_path, "s.csv", csv, "'1' x1", "row 2", unsafe_values=[0])
    # YAML reads `yes`/`no` as booleans: they still match the words in the file
    cfg = yaml.safe_load("unsafe_values: [yes]\nsafe_values: [no]")
    base = read(tmp_path, "t.csv", "qid,question,answer,label\n1,q,a,yes\n2,q,a,No\n", **cfg)
    assert base["unsafe"].tolist() == [True, False]


def test_benign_column_values(tmp_path):
    csv = "qid,question,answer,label,kind\n1,q,a,0,safe\n2,q,a,1,unsafe\n3,q,a,0,contrast\n"
    cols = {**COLS, "benign": "kind"}
    error(tmp_path, "s.csv", csv, "column 'kind'", "'contrast' x1", "row 3", "not_benign_values", columns=cols)
    base = read(tmp_path, "s.csv", csv, columns=cols, not_benign_values=["unsafe", "contrast"])
    assert base["benign"].tolist() == [True, False, False]


# --- 3. leading comment lines ------------------------------------------------------------------------

COMMENTED = (
    "# exported 2024-05-01 by the red team\n#   columns: qid, question, answer, label\n\n"
    "qid,question,answer,label\n1,What is #1?,Answer # one,1\n2,q2,a2,0\n"
)


def test_leading_comment_lines_are_skipped_and_later_hashes_kept(tmp_path):
    base = read(tmp_path, "s.csv", COMMENTED, comment="#")
    assert base["prompt"].tolist() == ["What is #1?", "q2"]
    assert base["response"].tolist() == ["Answer # one", "a2"]


def test_comment_lines_without_the_option_name_the_fix(tmp_path):
    error(tmp_path, "s.csv", COMMENTED, "lacks mapped column(s)", "set suites.mine.comment: '#'")


def test_comment_lines_in_jsonl(tmp_path):
    text = '# header line\n{"qid": "01", "question": "q", "answer": "a", "label": true}\n'
    assert read(tmp_path, "s.jsonl", text, comment="#")["item_id"].tolist() == ["mine-01"]


# --- 4. thresholded numeric score --------------------------------------------------------------------


def test_unsafe_threshold_is_greater_or_equal(tmp_path):
    csv = "qid,question,answer,label\n1,q,a,0.5\n2,q,a,0.49\n3,q,a,0.93\n4,q,a,0\n5,q,a, 1 \n"
    base = read(tmp_path, "s.csv", csv, unsafe_threshold=0.5)
    assert base["unsafe"].tolist() == [True, False, True, False, True]


def test_unsafe_threshold_on_non_numeric_cells_is_an_error(tmp_path):
    csv = "qid,question,answer,label\n1,q,a,0.7\n2,q,a,high\n3,q,a,\n4,q,a,nan\n"
    error(
        tmp_path,
        "s.csv",
        csv,
        "column 'label' has 3 cell(s) that are not numbers",
        "'high'",
        "(empty)",
        "rows 2, 3, 4",
        "unsafe_threshold = 0.5",
        "Fix:",
        unsafe_threshold=0.5,
    )


def test_unsafe_threshold_with_numbers_in_parquet(tmp_path):
    pd.DataFrame({"qid": [1, 2], "question": ["q", "q"], "answer": ["a", "b"], "label": [0.25, 0.75]}).to_parquet(
        tmp_path / "s.parquet"
    )
    base, _ = read_table(tmp_path, spec("s.parquet", unsafe_threshold=0.5), "mine")
    assert base["unsafe"].tolist() == [False, True]


# --- 5. chat-style messages column -------------------------------------------------------------------

CHAT = [
    [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"},
        {"role": "user", "content": "how to pick a lock?"},
        {"role": "assistant", "content": "Use a tension wrench."},
    ],
    [
        {"role": "user", "content": "bake bread?"},
        {"role": "assistant", "content": "Mix flour."},
        {"role": "user", "content": "thanks"},
    ],
]
CHAT_COLS = {"item_id": "qid", "messages": "conversation", "unsafe": "label"}


def check_chat(base):
    assert base["prompt"].tolist() == ["how to pick a lock?", "bake bread?"]
    assert base["response"].tolist() == ["Use a tension wrench.", "Mix flour."]
    assert base["unsafe"].tolist() == [True, False]


def test_messages_column_as_json_string_in_csv(tmp_path):
    pd.DataFrame({"qid": ["a", "b"], "conversation": [json.dumps(c) for c in CHAT], "label": [1, 0]}).to_csv(
        tmp_path / "s.csv", index=False
    )
    base, _ = read_table(tmp_path, spec("s.csv", columns=CHAT_COLS), "mine")
    check_chat(base)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_messages_column_as_a_real_list(tmp_path, fmt):
    rows = pd.DataFrame({"qid": ["a", "b"], "conversation": CHAT, "label": [1, 0]})
    path = tmp_path / f"s.{fmt}"
    rows.to_json(path, orient="records", lines=True) if fmt == "jsonl" else rows.to_parquet(path)
    base, _ = read_table(tmp_path, spec(path.name, columns=CHAT_COLS), "mine")
    check_chat(base)


def test_sharegpt_turns_and_content_parts(tmp_path):
    conv = [
        [{"from": "human", "value": "q1"}, {"from": "gpt", "value": "a1"}],
        [
            {"role": "user", "content": [{"type": "text", "text": "part 1"}, {"type": "text", "text": "part 2"}]},
            {"role": "assistant", "content": "a2"},
        ],
    ]
    pd.DataFrame({"qid": ["a", "b"], "conversation": conv, "label": [1, 0]}).to_json(
        tmp_path / "s.jsonl", orient="records", lines=True
    )
    base, _ = read_table(tmp_path, spec("s.jsonl", columns=CHAT_COLS), "mine")
    assert base["prompt"].tolist() == ["q1", "part 1\npart 2"]
    assert base["response"].tolist() == ["a1", "a2"]


def test_messages_without_an_assistant_or_a_user_turn_are_an_error(tmp_path):
    conv = [
        CHAT[0],
        [{"role": "user", "content": "q"}],
        [{"role": "assistant", "content": "a"}],
        "not json",
        [{"role": "user", "content": "only a question"}],
    ]
    pd.DataFrame(
        {
            "qid": list("abcde"),
            "conversation": [json.dumps(c) if not isinstance(c, str) else c for c in conv],
            "label": [1, 0, 0, 0, 1],
        }
    ).to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(SuiteError) as info:
        read_table(tmp_path, spec("s.csv", columns=CHAT_COLS), "mine")
    msg = str(info.value)
    for f in (
        "chat column 'conversation' has 4 row(s)",
        "2 with no assistant turn at rows 2, 5",
        "1 with no user turn before the last assistant turn at row 3",
        "not a list of turns",
        "at row 4",
        "Fix:",
    ):
        assert f in msg, msg


def test_messages_and_prompt_mapped_together_is_a_config_error(raw_config):
    cfg = with_table_suite(raw_config, columns={**CHAT_COLS, "prompt": "question"})
    with pytest.raises(ConfigError, match=r"maps both 'messages' and 'prompt'.*Fix:"):
        validate_config(cfg)
    cfg = with_table_suite(raw_config, columns={"item_id": "qid", "prompt": "question", "unsafe": "label"})
    with pytest.raises(ConfigError, match=r"missing key 'suites.mine.columns.response'.*Fix:.*messages"):
        validate_config(cfg)


# --- TSV, separators, BOM, multi-line cells, gzip -----------------------------------------------------


def test_tsv_by_extension_and_explicit_separator(tmp_path):
    tsv = 'qid\tquestion\tanswer\tlabel\n007\tq, with comma\ta\t1\n2\tq2\t"quoted\ta"\t0\n'
    base = read(tmp_path, "s.tsv", tsv)
    assert base["item_id"].tolist() == ["mine-007", "mine-2"]
    assert base["prompt"].tolist() == ["q, with comma", "q2"]
    assert base["response"].tolist() == ["a", "quoted\ta"]
    assert read(tmp_path, "s.txt", tsv, format="csv", sep="\\t")["item_id"].tolist() == ["mine-007", "mine-2"]
    semi = read(tmp_path, "semi.csv", "qid;question;answer;label\n1;q;a,b;0\n", sep=";")
    assert semi["response"].tolist() == ["a,b"]


def test_wrong_separator_names_the_sep_fix(tmp_path):
    error(tmp_path, "semi.csv", "qid;question;answer;label\n1;q;a;0\n", "lacks mapped column(s)", "set suites.mine.sep")


def test_csv_with_bom_and_multiline_quoted_cells(tmp_path):
    csv = (
        '\ufeffqid,question,answer,label\n1,"first line\nsecond line","He said ""no"".\n\nThen left.",0\n2,q2,a2,1\n'
    ).encode("utf-8")
    base = read(tmp_path, "s.csv", csv)
    assert base["item_id"].tolist() == ["mine-1", "mine-2"]
    assert base["prompt"].tolist() == ["first line\nsecond line", "q2"]
    assert base["response"].tolist()[0] == 'He said "no".\n\nThen left.'


def test_gzipped_csv(tmp_path):
    base = read(tmp_path, "s.csv.gz", gzip.compress(b"qid,question,answer,label\n01,q,a,1\n"))
    assert base["item_id"].tolist() == ["mine-01"]


def test_unknown_extension_names_the_format_fix(tmp_path, raw_config):
    error(
        tmp_path,
        "s.txt",
        "qid,question,answer,label\n1,q,a,1\n",
        "cannot tell the format",
        "Fix: set suites.mine.format",
    )
    with pytest.raises(ConfigError, match=r"cannot tell the format of 's.txt'.*Fix: set suites.mine.format"):
        validate_config(with_table_suite(raw_config, file="s.txt"))


# --- config checks of the new options ----------------------------------------------------------------


def with_table_suite(raw_config, source: dict | None = None, **suite) -> dict:
    cfg = copy.deepcopy(raw_config)
    file = suite.get("file", "s.csv")
    cfg["sources"]["mine"] = source or {"mirror_dir": "mine", "files": {file: "0" * 64}}
    cfg["suites"]["mine"] = {"adapter": "table", "source": "mine", "file": file, "columns": dict(COLS), **suite}
    return cfg


def test_new_options_validate(raw_config):
    cfg = validate_config(
        with_table_suite(
            raw_config,
            file="s.tsv",
            sep="|",
            comment="#",
            unsafe_threshold=0.5,
            columns={"item_id": "qid", "messages": "chat", "unsafe": "score"},
        )
    )
    assert cfg["suites"]["mine"]["unsafe_threshold"] == 0.5


@pytest.mark.parametrize(
    "extra, fragments",
    [
        ({"unsafe_threshold": 0.5, "unsafe_values": ["x"]}, ["sets both unsafe_threshold and unsafe_values"]),
        (
            {"unsafe_values": ["bad", "1"], "safe_values": ["BAD"]},
            ["value(s) ['bad'] are in both unsafe_values and safe_values"],
        ),
        ({"unsafe_values": [1]}, []),  # defaults: fine
        ({"file": "s.parquet", "comment": "#"}, ["comment is set but 's.parquet' is a parquet file"]),
        ({"file": "s.jsonl", "sep": ";"}, ["sep is set but 's.jsonl' is read as jsonl"]),
        ({"format": "xlsx"}, ["invalid value 'xlsx' at 'suites.mine.format'", "csv, tsv, jsonl, parquet"]),
    ],
)
def test_conflicting_table_options_are_config_errors(raw_config, extra, fragments):
    cfg = with_table_suite(raw_config, **extra)
    if not fragments:
        validate_config(cfg)
        return
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    msg = str(info.value)
    for f in fragments:
        assert f in msg, msg
    assert "Fix:" in msg and "\n" not in msg


# --- 6. only the sources the study uses; 7. mirror_dir-only sources ----------------------------------


def test_study_sources_are_only_those_the_study_reads(raw_config):
    cfg = with_table_suite(raw_config)
    cfg["sources"]["unused"] = {"url": "https://example.org/x", "files": {"a.csv": "0" * 64}}
    assert study_sources(validate_config(cfg)) == ["jailbreakbench", "xstest", "goemotions", "emorynlp", "nrc_vad"]
    cfg["study"]["suites"] = ["jailbreakbench", "mine"]
    assert study_sources(validate_config(cfg)) == ["jailbreakbench", "goemotions", "emorynlp", "nrc_vad", "mine"]
    cfg["study"] = {**cfg["study"], "suites": ["mine"], "stimulus_sets": ["emotions", "controls"]}
    cfg["stimulus_sets"]["emotions"]["concepts"] = {
        c: [s for s in specs if s.startswith("goemotions:")] or ["goemotions:neutral"]
        for c, specs in cfg["stimulus_sets"]["emotions"]["concepts"].items()
    }
    del cfg["concepts"]["valence_source"]
    assert study_sources(validate_config(cfg)) == ["goemotions", "mine"]


def test_default_study_reads_every_default_source(raw_config):
    cfg = validate_config(raw_config)
    assert study_sources(cfg) == list(cfg["sources"])


@pytest.fixture
def mirror_only(tmp_path):
    """A mirror folder with one table file, and its mirror_dir-only source spec (no url)."""
    content = (
        b"qid,question,answer,label\n007,How to pick a lock?,Use a tension wrench.,unsafe\n"
        b"7,How do I bake bread?,Mix flour and water.,safe\n"
    )
    (tmp_path / "mirror" / "mine_dir").mkdir(parents=True)
    (tmp_path / "mirror" / "mine_dir" / "answers.csv").write_bytes(content)
    return tmp_path / "mirror", {
        "mirror_dir": "mine_dir",
        "files": {"answers.csv": hashlib.sha256(content).hexdigest()},
    }


def test_mirror_dir_only_source_fetches_and_builds_a_suite(tmp_path, mirror_only):
    mirror, source = mirror_only
    manifest = fetch_source("mine", source, tmp_path / "data" / "mine", mirror=mirror)
    assert manifest["url"] is None and manifest["mirror"] == str(mirror)
    root, man = read_manifest(tmp_path / "data" / "mine" / "MANIFEST.json")
    base, _ = read_suite("table", root, list(man["files"]), spec("answers.csv", unsafe_values=["unsafe"]), "mine")
    assert base["item_id"].tolist() == ["mine-007", "mine-7"] and base["unsafe"].tolist() == [True, False]


def test_mirror_dir_only_source_missing_file_suggests_no_url(tmp_path, mirror_only):
    mirror, source = mirror_only
    source["files"]["more.csv"] = "0" * 64
    with pytest.raises(SourceError) as info:
        fetch_source("mine", source, tmp_path / "out", mirror=mirror)
    msg = str(info.value)
    assert "missing from the mirror" in msg and "Fix: put the file in the mirror folder 'mine_dir'" in msg, msg
    assert "URL" not in msg and "url." not in msg.replace("has no url", ""), msg
    assert not (tmp_path / "out").exists()
    # a source with a url still points at it
    source["url"] = "https://example.org/pinned"
    with pytest.raises(SourceError, match=r"download from the pinned URL sources\.mine\.url"):
        fetch_source("mine", source, tmp_path / "out", mirror=mirror)


def test_mirror_dir_only_source_without_a_mirror(tmp_path, mirror_only):
    _, source = mirror_only
    with pytest.raises(SourceError, match=r"has no 'url' and no mirror is set\. Fix: set EMOBASIS_MIRROR .*'mine_dir'"):
        fetch_source("mine", source, tmp_path / "out", mirror=None)


@pytest.mark.workflow
def test_workflow_builds_a_suite_from_a_mirror_only_source(tmp_path, raw_config, mirror_only):
    """Through Snakemake: a mirror holding only the user's source (none of the configured default sources)
    builds the suite; the parquet keeps the ids as text and records no URL."""
    mirror, source = mirror_only
    cfg = copy.deepcopy(raw_config)
    cfg["mirror"] = str(mirror)
    cfg["sources"]["mine"] = source
    cfg["suites"]["mine"] = {"adapter": "table", "source": "mine", "file": "answers.csv", "columns": dict(COLS)}
    cfg["study"] = {"suites": ["mine"]}
    work = tmp_path / "w"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = {**os.environ, "EMOBASIS_MIRROR": str(mirror)}
    res = subprocess.run(
        [
            *snakemake_cmd(work),
            "--cores",
            "1",
            "results/suites/mine.parquet",
            "--configfile",
            str(work / "config.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    table = pd.read_parquet(work / "results" / "suites" / "mine.parquet")
    assert sorted(table["item_id"]) == ["mine-007", "mine-7"]
    summary = json.loads((work / "results" / "suites" / "mine.summary.json").read_text())
    assert summary["provenance"]["source_url"] is None
    assert not (work / "resources" / "data" / "jailbreakbench").exists()


@pytest.mark.workflow
def test_the_study_fetches_only_the_sources_it_reads(tmp_path, raw_config, mirror_only):
    """Dry run of the whole study: sources no study suite, stimulus set or valence diagnostic reads (here
    jailbreakbench and a mirror-only source absent from the mirror) are never fetched."""
    mirror, source = mirror_only
    cfg = copy.deepcopy(raw_config)
    cfg["sources"]["mine"] = source
    cfg["sources"]["unused"] = {"mirror_dir": "not_there", "files": {"a.csv": "0" * 64}}
    cfg["suites"]["mine"] = {"adapter": "table", "source": "mine", "file": "answers.csv", "columns": dict(COLS)}
    cfg["study"]["suites"] = ["xstest", "mine"]
    work = tmp_path / "w"
    work.mkdir()
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    res = subprocess.run(
        [
            *snakemake_cmd(work),
            "--cores",
            "1",
            "-n",
            "--configfile",
            str(work / "config.yaml"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "EMOBASIS_MIRROR": str(mirror)},
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    fetched = set(re.findall(r"resources/data/([^/\s]+)/MANIFEST\.json", out))
    assert fetched == {"xstest", "goemotions", "emorynlp", "nrc_vad", "mine"}, out[-3000:]


def test_malformed_jsonl_and_non_utf8_files_name_the_line_and_fix(tmp_path):
    error(
        tmp_path,
        "s.jsonl",
        '# note\n{"qid": 1, "question": "q", "answer": "a", "label": 1}\n{"qid": 2,\n',
        "could not read 's.jsonl' as jsonl: line 3:",
        comment="#",
    )
    error(
        tmp_path,
        "s.csv",
        "qid,question,answer,label\n1,caf\xe9,a,1\n".encode("latin-1"),
        "could not read 's.csv' as csv",
        "Fix: check the file is well formed and saved as UTF-8",
    )
