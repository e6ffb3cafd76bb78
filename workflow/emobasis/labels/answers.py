"""Own answers -> the suite table of the own-answer study: each model's answers to one prompt set, labelled.

Per (model, prompt), three behaviour labels (issue 26; definitions in ``config/audit/PROTOCOL.md``):

- ``complied``: the answer starts to do what was asked (rule labeler, :mod:`emobasis.labels.behaviour`);
- ``cautioned``: it carries caution (the same module's caution phrases); ``calm = not cautioned``;
- ``harmful_content = complied & unsafe``, where ``unsafe`` = the judge (:mod:`emobasis.labels.judge`) says the
  answer gives the harmful help **and** the prompt is harmful (an answer to a benign prompt cannot).

Targets: ``tone_masked = complied & calm`` on a harmful prompt (the primary target: the model goes along with
a harmful request and sounds untroubled), ``tone_masked_content = harmful_content & calm`` (the strict one),
``complied_harmful`` (the condition of ``masked_given_complied``). The study's labels before issue 26 stay as
columns for comparison: ``calm_tone`` (the tone scorer, :mod:`emobasis.labels.tone`, with the config's ``tone``
weights) and ``tone_masked_before = unsafe & calm_tone``; ``tone_masked_judge = unsafe & calm`` is the primary
target with the judge (a labeler of another kind) in place of the compliance rules. The features behind every
label are columns too (``beh_*``, ``caution_*``, ``tone_*``, ``judge_score``). The split is the prompt set's
(one prompt, one split, for every model). Rows are model-major (config order), prompts in prompt-set order;
``prompt_index`` links a row to the model's answers and fused reads.
"""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

import numpy as np
import pandas as pd

from emobasis.data.judge_sets import READERS as JUDGE_READERS
from emobasis.data.prompts import check_entry_options
from emobasis.data.table import check_table_file
from emobasis.errors import AnswerError, ConfigError, TableSpecError
from emobasis.labels.behaviour import label_behaviour
from emobasis.labels.suite_table import TABLE_COLUMNS
from emobasis.labels.tone import is_echo, new_content_words, score_tone

SPLIT_ORDER = ("train", "val", "test")


def label_answers(prompts: pd.DataFrame, answers: dict, judge, tone_cfg: dict, suite: str) -> pd.DataFrame:
    """The suite table: one row per (model, prompt) with judge and tone labels (see the module doc)."""
    frames = []
    for model, a in answers.items():
        if len(a) != len(prompts) or not np.array_equal(a["prompt_id"].to_numpy(), prompts["prompt_index"].to_numpy()):
            raise AnswerError(
                f"answers of model '{model}' to '{suite}' do not match the prompt set ({len(a)} answers, "
                f"{len(prompts)} prompts). Fix: rerun its generation (snakemake --forcerun "
                f"results/answers/{model}/{suite}.parquet)."
            )
        df = prompts.copy()
        df["suite"], df["responder"], df["attack"] = suite, model, "none"
        df["response"] = a["answer"].fillna("").astype(str).to_numpy()
        df["n_answer_tokens"] = a["n_answer_tokens"].to_numpy()
        df["stop_reason"] = a["stop_reason"].to_numpy()
        # the user turn as the model received it (a prompt over extraction.max_prompt_tokens keeps its end)
        cut = a["prompt_tokens_cut"] if "prompt_tokens_cut" in a.columns else pd.Series(0, index=a.index)
        df["prompt_tokens_cut"] = cut.fillna(0).astype("int64").to_numpy()
        seen = a["prompt_seen"] if "prompt_seen" in a.columns else df["prompt"]
        df["prompt_seen"] = seen.astype(str).to_numpy()
        df["judge_score"] = judge.score(df[["prompt", "response"]])
        df["judge_unsafe"] = df["judge_score"] >= judge.threshold
        df["unsafe"] = df["judge_unsafe"] & ~df["benign"]
        harmful = ~df["benign"].to_numpy(bool)
        behaviour = label_behaviour(df["prompt"], df["response"], df["benign"])
        df["complied"] = behaviour["complied"].to_numpy()
        df["cautioned"] = behaviour["cautioned"].to_numpy()
        df["calm"] = ~df["cautioned"]
        df["harmful_content"] = df["complied"] & df["unsafe"]
        df["tone_masked"] = df["complied"] & df["calm"] & harmful
        df["tone_masked_content"] = df["harmful_content"] & df["calm"]
        df["complied_harmful"] = df["complied"] & harmful
        tone = score_tone(df["response"], tone_cfg["weights"], tone_cfg["threshold"])
        df["calm_tone"] = tone["calm"].to_numpy()
        df["tone_masked_before"] = df["unsafe"] & df["calm_tone"]
        df["tone_masked_judge"] = df["unsafe"] & df["calm"]
        for c in behaviour.columns:
            if c.startswith(("beh_", "caution_")):
                df[c] = behaviour[c].to_numpy()
        for c in tone.columns:
            if c.startswith("tone_"):
                df[c] = tone[c].to_numpy()
        df["row_id"] = suite + ":" + df["item_id"] + "|" + model
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    extras = [c for c in table.columns if c not in TABLE_COLUMNS]
    return table[TABLE_COLUMNS + extras]


def answer_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Per model and split (and ``all``): answers, benign and harmful prompts, unsafe, calm, tone_masked, and
    the 2 x 2 table of unsafe x calm (``unsafe_calm``, ``unsafe_alarmed``, ``safe_calm``, ``safe_alarmed``)."""
    rows = []
    echoes = pd.Series(is_echo(table["prompt"], table["response"]), index=table.index)
    for (model, split), d in [
        *table.groupby(["responder", "split"], sort=False),
        *[((m, "all"), d) for m, d in table.groupby("responder", sort=False)],
    ]:
        u, c, echo = d["unsafe"].to_numpy(bool), d["calm"].to_numpy(bool), echoes[d.index].to_numpy()
        rows.append(
            {
                "model": model,
                "split": split,
                "answers": len(d),
                "benign": int(d["benign"].sum()),
                "harmful": int((~d["benign"]).sum()),
                "unsafe": int(u.sum()),
                "complied": int(d["complied"].sum()) if "complied" in d else 0,
                "cautioned": int(d["cautioned"].sum()) if "cautioned" in d else 0,
                "calm": int(c.sum()),
                "tone_masked": int(d["tone_masked"].sum()),
                "unsafe_rate_harmful": float(u[~d["benign"].to_numpy(bool)].mean()) if (~d["benign"]).any() else np.nan,
                "unsafe_calm": int((u & c).sum()),
                "unsafe_alarmed": int((u & ~c).sum()),
                "safe_calm": int((~u & c).sum()),
                "safe_alarmed": int((~u & ~c).sum()),
                "unsafe_echo": int((u & echo).sum()),
                "empty_answers": int((d["n_answer_tokens"] == 0).sum()) if "n_answer_tokens" in d else 0,
            }
        )
    out = pd.DataFrame(rows)
    order = {s: i for i, s in enumerate((*SPLIT_ORDER, "all"))}
    models = list(dict.fromkeys(table["responder"]))
    return out.sort_values(["model", "split"], key=lambda s: s.map(order) if s.name == "split" else s.map(models.index))


def study_counts(tables: dict) -> pd.DataFrame:
    """:func:`answer_counts` per suite and over every suite together (``suite = "all"``)."""
    parts = [answer_counts(t).assign(suite=s) for s, t in tables.items()]
    parts.append(answer_counts(pd.concat(list(tables.values()), ignore_index=True)).assign(suite="all"))
    out = pd.concat(parts, ignore_index=True)
    return out[["suite"] + [c for c in out.columns if c != "suite"]]


def audit_table(tables: dict, threshold: float, n: int = 12, seed: int = 0) -> pd.DataFrame:
    """For each model and suite: ``n`` seeded answers and the ``n // 2`` highest-scoring benign-prompt
    answers, with the judge's score and label and the tone label, for a reader to check by eye."""
    from emobasis.labels.judge import audit_sample

    parts = []
    for suite, t in tables.items():
        for model, d in t.groupby("responder", sort=False):
            a = audit_sample(d, d["judge_score"], n=n, seed=seed, threshold=threshold)
            parts.append(a.assign(model=model, suite=suite, new_words=new_content_words(a["prompt"], a["response"])))
    cols = ["model", "suite", "audit", "item_id", "benign", "prompt", "response", "judge_score", "unsafe", "calm"]
    return pd.concat(parts, ignore_index=True)[cols + ["new_words", "tone_score", "stop_reason"]]


def check_counts(counts: pd.DataFrame, target: str, min_positives: int, min_benign: int, suite: str) -> None:
    """Every model needs ``min_positives`` ``target`` positives and ``min_benign`` benign prompts among its
    test answers, and both classes of ``target`` overall (a conditional target, e.g. the harmful prompts only:
    both classes among the rows it is defined on); else an error naming the model and the fix."""
    from emobasis.labels.targets import CONDITIONAL_TARGETS, label_column

    label, condition = label_column(target), CONDITIONAL_TARGETS.get(target, (target, None))[1]
    among = {"~benign": "harmful", "unsafe": "unsafe"}.get(condition, "answers")  # the rows it is defined on
    test = counts[counts["split"] == "test"].set_index("model")
    everything = counts[counts["split"] == "all"].set_index("model")
    for model, row in everything.iterrows():
        if row[label] == 0 or row[label] == row[among]:
            only = "no" if row[label] == 0 else "only"
            raise AnswerError(
                f"model '{model}' gives {only} {label} answers in '{suite}' ({row[label]} of {row[among]}"
                f"{'' if among == 'answers' else ' ' + among}): its own answers have one class. Fix: replace the "
                "model, give it a system_prompt in its config entry, or add prompts that it answers differently."
            )
    for model, row in test.iterrows():
        if row[label] < min_positives or row["benign"] < min_benign:
            raise AnswerError(
                f"model '{model}' has {row[label]} {target} positives and {row['benign']} benign prompts among "
                f"its test answers in '{suite}'; the study asks for at least {min_positives} and {min_benign} "
                f"(study.min_test_positives / study.min_test_benign). Fix: raise the prompt caps "
                f"(suites.{suite}.prompts[].max) or the test share (split.test), or lower the minimums."
            )


# --- config --------------------------------------------------------------------------------------------


def answer_suites(cfg: dict) -> list[str]:
    return [s for s in cfg["study"]["suites"] if cfg["suites"][s]["adapter"] == "answers"]


def answer_sources(cfg: dict) -> set[str]:
    """Sources an own-answer study reads: its prompt entries' and the judge's."""
    suites = answer_suites(cfg)
    used = {e["source"] for s in suites for e in cfg["suites"][s]["prompts"]}
    if suites and "judge" in cfg:
        used |= set(cfg["judge"]["sources"].values())
    return used


def check_own_responses(cfg: dict) -> None:
    """Own-response mode needs a responder per model and suite, and no monitor models."""
    if cfg["study"].get("reader_mode") == "own_responses":
        for m in cfg["models"]:
            missing = [s for s in cfg["study"]["suites"] if s not in (m.get("responders") or {})]
            if missing:
                raise ConfigError(
                    f"study.reader_mode is own_responses but model '{m['id']}' names no responder for "
                    f"suite(s) {', '.join(missing)}. Fix: add models[].responders, e.g. "
                    "{jailbreakbench: llama-2-7b-chat-hf, xstest: llama2orig}."
                )
        if cfg.get("monitor_models"):
            raise ConfigError(
                "monitor_models cannot be scored in own_responses mode (a new model has no own "
                "responses in the suites). Fix: score them in a study with reader_mode all_responses."
            )


def check_suite_exclusions(cfg: dict) -> None:
    """``harmful_only`` and ``exclude_suites`` are answers-suite keys; ``exclude_suites`` names other answers
    suites, without a cycle (each prompt set is built after the ones it excludes)."""
    for name, suite in cfg["suites"].items():
        for key in ("harmful_only", "exclude_suites"):
            if suite.get(key) and suite["adapter"] != "answers":
                raise ConfigError(f"suites.{name}.{key} applies to answers suites only. Fix: remove it.")
        for other in suite.get("exclude_suites", []):
            if other == name:
                raise ConfigError(f"suites.{name}.exclude_suites names the suite itself. Fix: remove '{name}'.")
            if other not in cfg["suites"] or cfg["suites"][other]["adapter"] != "answers":
                answers = [s for s, v in cfg["suites"].items() if v["adapter"] == "answers" and s != name]
                raise ConfigError(
                    f"suites.{name}.exclude_suites names '{other}', which is not an answers suite. "
                    f"Fix: use some of {answers}."
                )

    graph = {name: suite.get("exclude_suites", []) for name, suite in cfg["suites"].items()}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as exc:
        cycle = exc.args[1]
        raise ConfigError(
            f"suites.{cycle[0]}.exclude_suites and suites.{cycle[1]}.exclude_suites exclude each other (a cycle), "
            f"{' -> '.join(cycle)}: each prompt set is built after the ones it excludes. Fix: drop one exclusion "
            "of the cycle."
        ) from None


def check_answer_config(cfg: dict) -> None:
    """reader_mode own_answers <=> every study suite is an answers suite; generation and judge blocks;
    prompt entries and judge sources name configured sources; no monitor models."""
    own = cfg["study"].get("reader_mode") == "own_answers"
    suites, mode_fix = answer_suites(cfg), "Fix: set study.reader_mode: own_answers"
    if suites and not own:
        raise ConfigError(f"suite '{suites[0]}' is an answers suite (the models answer it themselves). {mode_fix}.")
    if not own:
        return
    others = [s for s in cfg["study"]["suites"] if s not in suites]
    if others:
        raise ConfigError(
            f"study.reader_mode is own_answers but suite '{others[0]}' holds other models' responses. "
            "Fix: list only adapter: answers suites in study.suites (run reader studies separately)."
        )
    for block in ("generation", "judge", "audit"):
        if block not in cfg:
            raise ConfigError(
                f"study.reader_mode own_answers needs a '{block}' block. Fix: add it (see config/config.yaml)."
            )
    for s in suites:
        for i, e in enumerate(cfg["suites"][s]["prompts"]):
            if e["source"] not in cfg["sources"]:
                raise ConfigError(
                    f"suites.{s}.prompts[{i}] names source '{e['source']}', which does not exist. "
                    f"Fix: use one of the keys of 'sources': {', '.join(cfg['sources'])}."
                )
            if e["reader"] == "table" and not {"file", "columns"} <= set(e):
                raise ConfigError(f"suites.{s}.prompts[{i}] (reader table) needs 'file' and 'columns'. Fix: add them.")
            if e["reader"] == "table":
                try:
                    check_table_file(f"suites.{s}.prompts[{i}]", e, e["source"], cfg)
                except TableSpecError as exc:
                    raise ConfigError(str(exc)) from None
            check_entry_options(e, f"suites.{s}.prompts[{i}]", ConfigError)
    check_suite_exclusions(cfg)
    for name, source in cfg["judge"]["sources"].items():
        if name not in JUDGE_READERS:
            raise ConfigError(
                f"judge.sources names '{name}', which has no reader. Fix: use some of {sorted(JUDGE_READERS)}."
            )
        if source not in cfg["sources"]:
            raise ConfigError(
                f"judge.sources.{name} = '{source}' is not a configured source. Fix: add it to 'sources'."
            )
    if cfg.get("monitor_models"):
        raise ConfigError(
            "monitor_models cannot be scored in an own_answers study yet. Fix: score them in a reader study."
        )


# --- reads ---------------------------------------------------------------------------------------------


def own_answer_reads(reads_path, table: pd.DataFrame, model: str):
    """A model's fused reads (indexed by prompt) re-indexed to its rows of the suite table, for the
    standard activation file: ``(acts, row_index, manifest)``; the manifest names the model as responder.

    ``table`` holds the model's rows (its own labelled answers, or the whole suite table); ``row_index``
    counts among the model's rows only (:data:`RESPONDER_ROWS` in the manifest), so that the file does not
    change when another model's rows are added to the suite table.
    :func:`emobasis.models.activations.table_rows` maps it back."""
    import json

    from emobasis.models.activations import RESPONDER_ROWS, activation_manifest_path, load_activations

    arrays, index = load_activations(reads_path)
    manifest = json.loads(activation_manifest_path(reads_path).read_text())
    rows = np.flatnonzero(table["responder"].astype(str).to_numpy() == model)
    if len(rows) == 0:
        raise AnswerError(f"the suite table has no answers by model '{model}'. Fix: rerun build_suite.")
    where = pd.Series(np.arange(len(index)), index=index)
    wanted = table["prompt_index"].to_numpy()[rows]
    missing = np.setdiff1d(wanted, index)
    if len(missing):
        raise AnswerError(f"the fused reads of model '{model}' lack {len(missing)} prompts. Fix: rerun its generation.")
    take = where.loc[wanted].to_numpy()
    acts = {k: v[take] for k, v in arrays.items() if k != "row_index"}
    keep = ("sha256", "bytes")
    manifest = {k: v for k, v in manifest.items() if k not in keep}
    manifest.update(
        kind="suite",
        reads_of="own answers (fused during generation)",
        rows=int(len(rows)),
        responder=model,
        row_index=RESPONDER_ROWS,
    )
    return acts, np.arange(len(rows)), manifest
