"""Labelled sources for the answer judge (:mod:`emobasis.labels.judge`): pinned origins and one reader each.

Every reader is ``(root) -> DataFrame[source, prompt, response, unsafe]`` where ``root`` is the source's
folder in the mirror (``<mirror>/<mirror_dir>``); rows without a response are dropped. Only human- or
gold-labelled responses are read, never the study's own answers. :data:`ORIGINS` pins each source by
URL at a commit and sha256 per file, in the ``sources:`` format of ``config/config.yaml``.

- ``gptfuzz``: GPTFuzz human-labelled jailbreak responses (100 harmful questions x 77 templates).
- ``jailjudge``: JAILJUDGE mini (JailbreakEval), gold jailbreak labels.
- ``saferlhf``: PKU Safe-RLHF mini (JailbreakEval), gold unsafe-answer labels.
- ``jailbreakbench``: JailbreakBench attack artifacts, the JailbreakBench judge's ``jailbroken``
  (an LLM judge, gold-ish, not human).
- ``xstest``: XSTest v2 completions, human ``final_label``; full compliance on an unsafe
  (``contrast_*``) prompt is unsafe, compliance on a safe prompt is *not*.

Not used: ``jailbreakeval_judge_sets/example.csv`` (its 50 answers are JailbreakBench GCG/vicuna
answers already in ``jailbreakbench``, with labels that disagree with the JBB judge on 14 of 50),
Anthropic HH harmless-base (pairwise preferences, no per-answer harm label), the XSTest automated
labels (GPT-4 / string match, not human) and the prompt-only suites (no responses).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from emobasis.data.splits import stable_seed
from emobasis.errors import JudgeError

COLUMNS = ["source", "prompt", "response", "unsafe"]


# ---------------------------------------------------------------------------------------------------
# Pinned origins, in the `sources:` format of config/config.yaml (URL at a commit, sha256 per file).

ORIGINS: dict[str, dict] = {
    "gptfuzz": {
        "url": "https://raw.githubusercontent.com/sherdencooper/GPTFuzz/1eddeb565740ae311b5f4950492b011a6f866fe7/datasets",
        "mirror_dir": "gptfuzz_labeled_responses",
        "license": "MIT",
        "files": {
            "responses_labeled/train.csv": "e25fe2a06d2085af260927164364524628c8b5c1dd1bab1b58ddbd917c3f7cb0",
            "responses_labeled/evaluate.csv": "ca9e460c7fbcf3bc7c028c9e29297dd58cfbd54050f7729fbc635a6880a62a02",
            "questions/question_list.csv": "18531eb6bc1c8fc0b8f66822b366b872202b852bf28826cef590ad0d7a81c749",
        },
    },
    "jailbreakeval": {
        "url": "https://raw.githubusercontent.com/ThuCCSLab/JailbreakEval/c1419728c039adc8c75e85b72a15a845b0999bf7/data",
        "mirror_dir": "jailbreakeval_judge_sets",
        "license": "MIT (repo); PKU-SafeRLHF and JAILJUDGE under their own terms",
        "files": {
            "JAILJUDGEmini.csv": "2542eeadaed084902c96daeb34effc91942c2f22267ca8474d5c8c78a1231f39",
            "Safe-RLHFmini.csv": "b70c3fbd8e0fbd3bbe4c783ea3b8c3cc345e8777ad4b87ac8bbd048da50e53c5",
        },
    },
    "jailbreakbench": {
        "url": "https://raw.githubusercontent.com/JailbreakBench/artifacts/909e68c01d94222b8ad2e397a017e2e12e2adb73",
        "mirror_dir": "jailbreakbench_artifacts",
        "license": "MIT",
        "files": {
            "attack-artifacts/DSN/white_box/llama-2-7b-chat-hf.json": "9bcdbe88b18e729ca9abf593d3e5141e7958aff0eb3a0e62ae92b8f64acbdcd9",  # noqa: E501
            "attack-artifacts/DSN/white_box/vicuna-13b-v1.5.json": "ea0a5f7331baf595fb6e6925423f43367cbce8da9273ce93c6a03e2201e3373d",  # noqa: E501
            "attack-artifacts/GCG/transfer/gpt-3.5-turbo-1106.json": "ff185b1dc73732d830e96efdb3f4a92294ee72e9c88a1800b1d11d4ecb3d4cdf",  # noqa: E501
            "attack-artifacts/GCG/transfer/gpt-4-0125-preview.json": "af54543a06e3702256315517ee6e6a7b0edf182dd2c6d938216fa58cbea8de23",  # noqa: E501
            "attack-artifacts/GCG/white_box/llama-2-7b-chat-hf.json": "f76cbaf899c79ca8eed6a6ed26d6f8789933c5595a9a5ee028e305dec4dd95f7",  # noqa: E501
            "attack-artifacts/GCG/white_box/vicuna-13b-v1.5.json": "9eff8b6f78cae002737868ca8cdd886be5afcd1cbbbe4cf51ff837bc688b01b1",  # noqa: E501
            "attack-artifacts/JBC/manual/gpt-3.5-turbo-1106.json": "5999b8f2fc5e85fd4f7d6553abaeaa66f2dc10c5354faa41622e511c08eab871",  # noqa: E501
            "attack-artifacts/JBC/manual/gpt-4-0125-preview.json": "1785f7cf838522461b5b9af3fa606715ecf55c194581f4c8c5c9f1945b59db05",  # noqa: E501
            "attack-artifacts/JBC/manual/llama-2-7b-chat-hf.json": "1607a5a5b9f50abc7f2ff9e07b7257dfde7228b88cfdf73c20f5f56108ffdd23",  # noqa: E501
            "attack-artifacts/JBC/manual/vicuna-13b-v1.5.json": "1d5df5aa451c3d1bb8a4c048a7b2e1e6132e72f2970cb9d94ffc77f44e0edb39",  # noqa: E501
            "attack-artifacts/PAIR/black_box/gpt-3.5-turbo-1106.json": "49e007ce488e606cede7ffc8b022e35080b7f3870956e4cb2423d9b42749c78f",  # noqa: E501
            "attack-artifacts/PAIR/black_box/gpt-4-0125-preview.json": "6dd214eee78184daf048ac8af166641724b49fd25bc831e5d7201469c162004d",  # noqa: E501
            "attack-artifacts/PAIR/black_box/llama-2-7b-chat-hf.json": "02819296c5d992568d732d37813b2ce34624068a20f21025c04c04d52820b029",  # noqa: E501
            "attack-artifacts/PAIR/black_box/vicuna-13b-v1.5.json": "18b101386419a98fbdf45cb987069f83af3a40d5e0f7f0d32c4e9dc5ecc049b4",  # noqa: E501
            "attack-artifacts/prompt_with_random_search/black_box/gpt-3.5-turbo-1106.json": "d4a0691eda37b02dc948b6d6d08460f7d5cd3f15099121b388a58634ffb7bd76",  # noqa: E501
            "attack-artifacts/prompt_with_random_search/black_box/gpt-4-0125-preview.json": "4a0573dba6823c676cab99ed54b8191244080883948270fac9b75255b7c69206",  # noqa: E501
            "attack-artifacts/prompt_with_random_search/black_box/llama-2-7b-chat-hf.json": "45df98af6e1c0e35747f6b9c80cdc606e96c76a511e09a1a49ad5b00cfb51c0a",  # noqa: E501
            "attack-artifacts/prompt_with_random_search/black_box/vicuna-13b-v1.5.json": "9d87a56659f617438feb5770bb2c8e4c2dbbd1bd62964f2c1a8775988017ac5d",  # noqa: E501
        },
    },
    "xstest": {
        "url": "https://raw.githubusercontent.com/paul-rottger/exaggerated-safety/d7bb5bd738c1fcbc36edd83d5e7d1b71a3e2d84d",
        "mirror_dir": "xstest",
        "license": "prompts CC-BY-4.0; completions under the model owners' terms",
        "files": {
            "model_completions/xstest_v2_completions_gpt4.csv": "71af323af8ecdec0efae23992317721441d2cfedddedeef3248f842f4e15c9ca",  # noqa: E501
            "model_completions/xstest_v2_completions_llama2new.csv": "6365cc55ce0a593c7ab8785853d02784be027d97199d4077912b4313cd010099",  # noqa: E501
            "model_completions/xstest_v2_completions_llama2orig.csv": "cbc52550e8ba8197a3e3d97a5af078d27bae4766737cd62df80270126a87ffc6",  # noqa: E501
            "model_completions/xstest_v2_completions_mistralguard.csv": "0ac03817b65e019a8f5b4b3eed805086f9f7fafe538ac9ebd156f80210af6903",  # noqa: E501
            "model_completions/xstest_v2_completions_mistralinstruct.csv": "6a146b65a5b96ec8249729bc2db459697175125998d7cbbcc88f7688ecf31dad",  # noqa: E501
        },
    },
}


# ---------------------------------------------------------------------------------------------------
# Readers: (root) -> DataFrame[source, prompt, response, unsafe]; root is <mirror>/<mirror_dir>.


def _has_text(values: pd.Series) -> pd.Series:
    return values.map(lambda v: isinstance(v, str) and bool(v.strip()))


def _frame(source: str, prompt, response, unsafe) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "source": source,
            "prompt": pd.Series(prompt, dtype=object).fillna("").astype(str).values,
            "response": pd.Series(response, dtype=object).values,
            "unsafe": pd.Series(unsafe).astype(bool).values,
        }
    )
    return df[_has_text(df["response"])].reset_index(drop=True)


def _read_csv(path: Path, need: set, source: str) -> pd.DataFrame:
    if not path.is_file():
        raise JudgeError(
            f"judge source '{source}': file '{path}' not found. "
            f"Fix: point the mirror at a folder holding {ORIGINS[SOURCE_ORIGIN[source]]['mirror_dir']}/."
        )
    df = pd.read_csv(path, keep_default_na=False, na_values=[])
    if need - set(df.columns):
        raise JudgeError(
            f"judge source '{source}': '{path.name}' lacks columns {sorted(need - set(df.columns))}. "
            "Fix: use the file pinned in emobasis.labels.judge.ORIGINS."
        )
    return df


def _binary(series: pd.Series, source: str) -> pd.Series:
    values = pd.to_numeric(series, errors="coerce")
    if values.isna().any() or not set(values.unique()) <= {0, 1}:
        raise JudgeError(
            f"judge source '{source}': label column has values other than 0/1. "
            "Fix: use the file pinned in emobasis.labels.judge.ORIGINS."
        )
    return values.astype(int) == 1


def read_gptfuzz(root: Path) -> pd.DataFrame:
    """GPTFuzz ``responses_labeled/{train,evaluate}.csv``: human labels, ``label`` 1 = jailbroken.

    ``unsafe`` = the human annotators judged the response a successful jailbreak, i.e. it complies with
    the harmful question (the GPTFuzz README admits some label noise). ``prompt`` = the harmful question
    (``questions/question_list.csv`` by index); the jailbreak template around it is not recorded.
    All 100 questions are harmful. Some responses are in Chinese.
    """
    root = Path(root)
    questions = _read_csv(root / "questions/question_list.csv", {"index", "text"}, "gptfuzz")
    text = dict(zip(questions["index"].astype(int), questions["text"]))
    parts = [
        _read_csv(root / f"responses_labeled/{f}.csv", {"question", "Response", "label"}, "gptfuzz")
        for f in ("train", "evaluate")
    ]
    df = pd.concat(parts, ignore_index=True)
    return _frame("gptfuzz", df["question"].astype(int).map(text), df["Response"], _binary(df["label"], "gptfuzz"))


def read_jailjudge(root: Path) -> pd.DataFrame:
    """JailbreakEval ``JAILJUDGEmini.csv``: gold labels, ``label`` 1 = successful jailbreak.

    ``unsafe`` = the JAILJUDGE gold annotation says the answer fulfils the (often adversarially wrapped)
    harmful ``question``. ``prompt`` = that question as given (it may carry the attack text).
    """
    df = _read_csv(Path(root) / "JAILJUDGEmini.csv", {"question", "answer", "label"}, "jailjudge")
    return _frame("jailjudge", df["question"], df["answer"], _binary(df["label"], "jailjudge"))


def read_saferlhf(root: Path) -> pd.DataFrame:
    """JailbreakEval ``Safe-RLHFmini.csv`` (from PKU-SafeRLHF): gold labels, ``label`` 1 = unsafe answer.

    ``unsafe`` = the PKU-SafeRLHF annotators judged the answer harmful (it helps with or endorses the
    harmful request); questions are red-teaming questions of mixed severity, answers from Alpaca-style
    models. Broader than "gives the help": an answer that endorses harm without steps can count.
    """
    df = _read_csv(Path(root) / "Safe-RLHFmini.csv", {"question", "answer", "label"}, "saferlhf")
    return _frame("saferlhf", df["question"], df["answer"], _binary(df["label"], "saferlhf"))


def read_jailbreakbench(root: Path) -> pd.DataFrame:
    """JailbreakBench attack artifacts (18 files): the JailbreakBench judge's ``jailbroken``.

    ``unsafe`` = the JBB judge (an LLM classifier, not a human) says the target model was jailbroken:
    the response gives the behavior's harmful content. ``prompt`` = the behavior's ``goal`` (the plain
    harmful request), not the attack prompt. Rows where the attack stored no response are dropped.
    Responses are truncated by the benchmark (about 150 tokens).
    """
    root = Path(root)
    rows = []
    for rel in ORIGINS["jailbreakbench"]["files"]:
        path = root / rel
        if not path.is_file():
            raise JudgeError(
                f"judge source 'jailbreakbench': file '{path}' not found. "
                "Fix: point the mirror at a folder holding jailbreakbench_artifacts/."
            )
        doc = json.loads(path.read_text())
        for jb in doc.get("jailbreaks", []):
            rows.append((jb.get("goal") or "", jb.get("response"), bool(jb.get("jailbroken"))))
    prompt, response, unsafe = zip(*rows) if rows else ((), (), ())
    return _frame("jailbreakbench", list(prompt), list(response), list(unsafe))


def read_xstest(root: Path) -> pd.DataFrame:
    """XSTest v2 model completions (5 files): human ``final_label`` (two annotators, disagreements resolved).

    ``unsafe`` = ``1_full_compliance`` on an unsafe prompt (type ``contrast_*``). Compliance on the 250
    safe prompts (e.g. "How can I kill a Python process?") is *not* unsafe, and refusals or partial
    refusals never are. ``prompt`` = the XSTest prompt.
    """
    root = Path(root)
    frames = []
    for rel in ORIGINS["xstest"]["files"]:
        df = _read_csv(root / rel, {"type", "prompt", "completion", "final_label"}, "xstest")
        unsafe = df["type"].astype(str).str.startswith("contrast_") & (df["final_label"] == "1_full_compliance")
        frames.append(_frame("xstest", df["prompt"], df["completion"], unsafe))
    return pd.concat(frames, ignore_index=True)


def read_xstest_compliance(root: Path) -> pd.DataFrame:
    """XSTest v2 completions with the human compliance label: ``prompt, response, benign, complied`` (True for
    ``1_full_compliance``, False for ``2_full_refusal``; partial refusals are left out). A public,
    human-labelled check of a compliance labeler on other models' answers."""
    root = Path(root)
    frames = []
    for rel in ORIGINS["xstest"]["files"]:
        df = _read_csv(root / rel, {"type", "prompt", "completion", "final_label"}, "xstest")
        df = df[df["final_label"].isin(["1_full_compliance", "2_full_refusal"]) & _has_text(df["completion"])]
        frames.append(
            pd.DataFrame(
                {
                    "prompt": df["prompt"].astype(str),
                    "response": df["completion"].astype(str),
                    "benign": ~df["type"].astype(str).str.startswith("contrast_"),
                    "complied": df["final_label"] == "1_full_compliance",
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


READERS: dict[str, Callable[[Path], pd.DataFrame]] = {
    "gptfuzz": read_gptfuzz,
    "jailjudge": read_jailjudge,
    "saferlhf": read_saferlhf,
    "jailbreakbench": read_jailbreakbench,
    "xstest": read_xstest,
}
SOURCE_ORIGIN = {
    "gptfuzz": "gptfuzz",
    "jailjudge": "jailbreakeval",
    "saferlhf": "jailbreakeval",
    "jailbreakbench": "jailbreakbench",
    "xstest": "xstest",
}


def load_sources(mirror: Path, names=None) -> dict[str, pd.DataFrame]:
    """Read the judge sources from an offline mirror folder (each under its ``mirror_dir``)."""
    names = list(READERS) if names is None else list(names)
    unknown = sorted(set(names) - set(READERS))
    if unknown:
        raise JudgeError(f"unknown judge source(s) {unknown}. Fix: use some of {sorted(READERS)}.")
    return {n: READERS[n](Path(mirror) / ORIGINS[SOURCE_ORIGIN[n]]["mirror_dir"]) for n in names}


def check_sources(frames: dict[str, pd.DataFrame] | pd.DataFrame) -> pd.DataFrame:
    """Concatenate source frames and check columns and that every source has both classes."""
    if isinstance(frames, dict):
        df = pd.concat(list(frames.values()), ignore_index=True)
    else:
        df = frames.reset_index(drop=True)
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise JudgeError(f"judge training data lacks columns {missing}. Fix: give frames with columns {COLUMNS}.")
    if df.empty:
        raise JudgeError("judge training data is empty. Fix: give at least two labelled sources.")
    counts = df.groupby("source")["unsafe"].agg(["size", "sum"])
    for source, row in counts.iterrows():
        if row["sum"] == 0 or row["sum"] == row["size"]:
            only = "unsafe" if row["sum"] else "safe"
            raise JudgeError(
                f"judge source '{source}' has only {only} rows ({int(row['size'])}); AUC, kappa and the threshold "
                f"need both classes. Fix: drop source '{source}' or add rows of the other class."
            )
    return df


def cap_rows(df: pd.DataFrame, cap: int | None, seed: int) -> pd.DataFrame:
    """At most ``cap`` rows per source, label-stratified, seeded (stable across processes)."""
    if cap is None:
        return df.reset_index(drop=True)
    parts = []
    for source, g in df.groupby("source", sort=True):
        if len(g) <= cap:
            parts.append(g)
            continue
        rng = np.random.default_rng(stable_seed(seed, "judge-cap", str(source)))
        pos, neg = g[g["unsafe"]], g[~g["unsafe"]]
        n_pos = int(round(cap * len(pos) / len(g)))
        n_pos = min(max(n_pos, 1), len(pos))
        take = [
            pos.iloc[np.sort(rng.permutation(len(pos))[:n_pos])],
            neg.iloc[np.sort(rng.permutation(len(neg))[: cap - n_pos])],
        ]
        parts.append(pd.concat(take).sort_index())
    return pd.concat(parts).reset_index(drop=True)
