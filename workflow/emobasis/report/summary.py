"""The summary a reader opens first: ``results/summary.md`` in plain words, its HTML page, the README
block, the study's provenance and limits, and the table of what the monitor flags.

The verdict and every claim come from :mod:`emobasis.report.verdict`; the figures from :mod:`emobasis.report.plots`.
"""

from __future__ import annotations

import re
import textwrap

import numpy as np
import pandas as pd

from emobasis.labels.targets import label_column
from emobasis.report.sections import alarms_line, mismatch_line, null_spread, per_suite_section, split_seed_line
from emobasis.report.verdict import (
    CRITERIA,
    INCREMENT_CLAIM,
    OWN_HIDDEN_CLAIM,
    claim_of,
    claims,
    describe_rule,
    first_k,
    fmt_claim,
    gated_decide,
    history_markdown,
    power_line,
)

# --- summary.md -----------------------------------------------------------------------------------------


def truncation_line(suites: dict, ex: dict, own: bool) -> str:
    """Which prompts the models saw cut (extraction.max_prompt_tokens keeps a prompt's end), per suite and model,
    from the suite summaries; "none" when no answer's prompt was cut."""
    head = f"Truncation: a prompt longer than {ex['max_prompt_tokens']} tokens keeps its last {ex['max_prompt_tokens']}"
    if not own:
        return head + f", a response its first {ex['max_response_tokens']}."
    cut = {(s, m): n for s, v in suites.items() for m, n in (v["labels"].get("prompts_cut") or {}).items() if n}
    if not cut:
        return head + "; no model saw any prompt of the study cut."
    return (
        head + "; the models saw these prompts cut (the answers, labels and reads are of the cut prompt; raise "
        "extraction.max_prompt_tokens to keep them whole): "
        + ", ".join(f"{s}/{m} {n}" for (s, m), n in sorted(cut.items()))
        + "."
    )


def claims_markdown(cl: pd.DataFrame) -> str:
    lines = ["| holdout | claim | aligner | space | rank | k | value [95% CI] |", "|---|---|---|---|---|---|---|"]
    for _, r in cl.iterrows():
        cells = (r["holdout"], r["claim"], r["aligner"], r["space"], r["rank"], r["k"], fmt_claim(r))
        lines.append("| " + " | ".join(map(str, cells)) + " |")
    return "\n".join(lines)


#: the text baselines the headline shows: an own-answer study reads only the prompt before the answer exists
PROMPT_TEXT = ("residualized (prompt) zero-shot", "surface (prompt) zero-shot", "prompt embedding zero-shot")
RESPONSE_TEXT = ("residualized zero-shot", "surface zero-shot")


def text_claims(cl: pd.DataFrame) -> tuple[str, ...]:
    return PROMPT_TEXT if PROMPT_TEXT[1] in set(cl["claim"]) else RESPONSE_TEXT


def headline_markdown(cl: pd.DataFrame, rule: dict) -> str:
    """One line per holdout: the numbers a reader wants first (the rule's three criteria, then the bounds)."""
    k = str(rule["match_k"])
    present = set(cl["claim"])
    own = OWN_HIDDEN_CLAIM.format(k=k)
    cells = [
        "zero-shot",
        own if own in present else f"shared - specific at k={k}",
        "shared - specific at k=all",
        *([INCREMENT_CLAIM] if INCREMENT_CLAIM in present else []),
        *[c for c in ("prompt text zero-shot", "harm_intent zero-shot") if c in present],
    ]
    if INCREMENT_CLAIM not in present:
        cells += [c for c in text_claims(cl) if c in present]
    lines = [
        f"| holdout | zero-shot {rule['aligner']} | " + " | ".join(cells[1:]) + " |",
        "|---|" + "---|" * len(cells),
    ]
    for h in cl["holdout"].unique():
        lines.append(f"| {h} | " + " | ".join(fmt_claim(claim_of(cl, h, c)) for c in cells) + " |")
    return "\n".join(lines)


def plain_words(
    summary: pd.DataFrame,
    cl: pd.DataFrame,
    rule: dict,
    holdouts: list[str],
    fractions: pd.DataFrame,
    angles: pd.DataFrame,
    ks: list[str],
) -> list[str]:
    """The summary's bullets: transfer vs chance, labels needed, cost at full data, beyond the words, how much
    of each model's predictor is shared and whether the predictors point the same way."""
    each = lambda c: "; ".join(f"{h} {fmt_claim(claim_of(cl, h, c))}" for h in holdouts)  # noqa: E731
    # the anatomy fits predictors on every row: a conditional target is read through its label column
    label = label_column(rule["target"])
    fr = fractions[
        (fractions["position"] == rule["position"])
        & (fractions["target"] == label)
        & (fractions["rank"] == rule["rank"])
    ]
    ang = angles[(angles["position"] == rule["position"]) & (angles["target"] == label)]
    shuffled = summary[(summary["aligner"] == "shuffled") & (summary["target"] == rule["target"])]["auc"]
    matches = {h: first_k(summary, rule, h, -rule["margin"], ks) for h in holdouts}
    n_scanned = sum(str(k) != "0" for k in ks)
    beats = {h: first_k(summary, rule, h, 0.0, ks) for h in holdouts}
    out = [
        f"- **Zero-shot transfer vs chance (0.5)**: a head trained on the other models' shared coordinates "
        f"scores the held-out model at {each('zero-shot')}. Heads fit on shuffled labels average "
        f"{shuffled.min():.3f}-{shuffled.max():.3f} over every cell of the grid at {rule['target']}, but one such head "
        "can land far from "
        f"0.5: {null_spread(summary, rule, holdouts)}; the verdict's criterion A tests each zero-shot head "
        "against those single heads (permutation p-value, Holm-adjusted across holdouts).",
        f"- **Labels needed to match the model's own probe** (first k whose paired difference is above "
        f"-{rule['margin']}, one-sided at 0.025, Holm-corrected across the {n_scanned} k values scanned): "
        + "; ".join(f"{h} k={matches[h]}" for h in holdouts)
        + ". First k where shared is significantly better (above 0, same correction): "
        + "; ".join(f"{h} {beats[h]}" for h in holdouts)
        + ".",
        f"- **Cost at full data** (k = all, shared - specific): {each('shared - specific at k=all')}.",
        alarms_line(summary, rule, holdouts),
    ]
    if text_claims(cl) == PROMPT_TEXT:
        out.append(
            "- **Does the inside signal add anything beyond the prompt's words?** (at prompt_last the answer does "
            "not exist yet, so the prompt is all a text monitor could read) Residualized on the prompt's "
            f"sentence embedding (cross-fitted ridge): {each(PROMPT_TEXT[0])}. TF-IDF on the prompt: "
            f"{each(PROMPT_TEXT[1])}. The prompt embedding alone: {each(PROMPT_TEXT[2])}."
        )
    else:
        out.append(
            "- **Does the inside signal add anything beyond the words?** Residualized on a sentence embedding of "
            f"the response: {each('residualized zero-shot')}. TF-IDF on the response text alone: "
            f"{each('surface zero-shot')}."
        )
    if len(fr):
        out.append(
            f"- **How much is shared**: at rank {rule['rank']}, the fraction of each model's own "
            f"{label} predictor's (every row) variance inside the shared subspace is "
            + "; ".join(
                f"{r['model']} {r['fraction']:.2f} (random {r['rank']}-dim subspace: {r['random_fraction']:.2f})"
                for _, r in fr.iterrows()
            )
            + "."
        )
    if len(ang):
        out.append(
            f"- **Do the models' predictors point the same way in the shared coordinates** (rank "
            f"{int(ang['rank'].max())}, angle between predictors, 90 = unrelated): "
            + "; ".join(f"{r['model_a']} vs {r['model_b']} {r['degrees']:.0f} deg" for _, r in ang.iterrows())
            + "."
        )
    return out


#: the primary target with its labels from the second labeler (the judge in place of the compliance rules)
SECOND_LABELER_TARGETS = {"tone_masked": "tone_masked_judge"}


def second_labeler_line(summary: pd.DataFrame, rule: dict, holdouts: list[str], gate) -> list[str]:
    """How much the verdict moves when the verdict's target comes from the second labeler (same rule, same
    gate, the study's split only), where the study ran that target."""
    other = SECOND_LABELER_TARGETS.get(rule["target"])
    if other is None or other not in set(summary["target"]):
        return []
    v = gated_decide(summary, {**rule, "target": other}, holdouts, gate)
    return [
        f"With the second labeler's labels (`{other}`: the judge's unsafe in place of the compliance rules, the "
        f"study's split only) the same rule gives: **{v['verdict']}**."
    ]


def write_summary(
    summary: pd.DataFrame,
    fractions: pd.DataFrame,
    angles: pd.DataFrame,
    rule: dict,
    holdouts: list[str],
    context: dict,
    ks: list[str],
    stability: pd.DataFrame | None = None,
    answers: list[str] | None = None,
    by_suite: pd.DataFrame | None = None,
    spaces: pd.DataFrame | None = None,
    top_concepts: pd.DataFrame | None = None,
    gate: pd.DataFrame | None = None,
    validity: list[str] | None = None,
    history: pd.DataFrame | None = None,
) -> tuple[str, pd.DataFrame, dict]:
    """The text of results/summary.md, the claims behind it, and the verdict (``summary``: the rule's feature
    space's rows; ``ks``: the study's k grid; ``stability``: results/tables/cross_suite_stability.csv, judged
    by ``rule["stability"]``; ``by_suite``: results/tables/transfer_by_suite.csv, the rule per suite;
    ``spaces``: every space's rows, for the feature-space section, with ``top_concepts``; ``gate``:
    results/tables/label_gate.csv, whose invalid models take no part in the verdict, and ``validity`` the label
    validity section; ``history``: the rule's change log, ``verdict.history``)."""
    from emobasis.report.sections import harmful_only_section, space_section, stability_summary

    stab_line, stab_section = stability_summary(stability, rule) if stability is not None else (None, [])
    cl = claims(summary, rule, holdouts)
    v = gated_decide(summary, rule, holdouts, gate)
    p = {h: f" (perm. p {v['perm'][h][0]:.3f}, Holm {v['perm'][h][1]:.3f})" for h in v["per_holdout"]}
    crit = lambda h: (  # noqa: E731
        ", ".join(
            f"{CRITERIA[name]} {'yes' if ok else 'no'}{p[h] if name == 'A_above_chance' else ''}"
            for name, ok in v["per_holdout"][h].items()
        )
        if h in v["per_holdout"]
        else f"labels not valid ({v['invalid'][h]}), not part of the verdict"
    )
    lines = [
        "# emobasis — summary of this study",
        "",
        f"**Verdict: {v['verdict']}.** " + "; ".join(f"{h}: {crit(h)}" for h in holdouts) + ".",
        *([v["gate_line"]] if v.get("gate_line") else []),
        *second_labeler_line(summary, rule, holdouts, gate),
        *([stab_line] if stab_line else []),
        *([line] if (line := power_line(summary, rule, holdouts)) else []),
        "",
        "## The rule (from the config; its history below says which changes came after results existed)",
        "",
        describe_rule(rule),
        "",
        "```yaml",
        "verdict:",
        *[f"  {key}: {val}" for key, val in rule.items() if key != "stability"],
        "```",
        "",
        *(["### The rule's history", "", *history_markdown(history), ""] if history is not None else []),
        "## Headline",
        "",
        f"AUROC on each holdout model's test prompts (prompt-disjoint), {rule['target']} at {rule['position']}, "
        f"{rule['aligner']} rank {rule['rank']}; 95% CIs from {int(summary['n_boot'].max())} bootstrap resamples "
        "of prompts; differences are paired on the same resamples."
        + (
            f" Each number is the mean over {int(summary['n_split_seeds'].max())} split seeds; its interval is a "
            "random-effects prediction interval (test prompts plus the spread across splits): it covers the number "
            "one more split would give."
            if "n_split_seeds" in summary and summary["n_split_seeds"].notna().any()
            else ""
        ),
        "",
        headline_markdown(cl, rule),
        "",
        "## In plain words",
        "",
        *plain_words(summary, cl, rule, holdouts, fractions, angles, ks),
        *mismatch_line(summary, context.get("mismatch", {}), rule, holdouts),
        *split_seed_line(summary, rule, holdouts),
    ]
    harmful = harmful_only_section(spaces if spaces is not None else summary, rule, holdouts)
    lines += ["", *harmful] if harmful else []
    section = space_section(spaces, rule, holdouts, top_concepts) if spaces is not None else []
    lines += ["", *section] if section else []
    lines += ["", *per_suite_section(by_suite, rule, holdouts, v["verdict"])] if by_suite is not None else []
    lines += ["", *stab_section] if stab_section else []
    lines += ["", *validity] if validity else []
    lines += ["", *answers] if answers else []
    lines += [
        "",
        "## Limits of this run",
        "",
        *[f"- {item}" for item in context.get("limits", [])],
        "",
        "## Every number above",
        "",
        "Each row is one cell of `results/tables/transfer_summary.csv` (aligner, space, rank, holdout, target, "
        "position, k).",
        "",
        claims_markdown(cl),
        "",
        "## Provenance",
        "",
        *[f"- {key}: {val}" for key, val in context.get("provenance", {}).items()],
        "",
    ]
    return "\n".join(lines), cl, v


CLAIM_ROW = re.compile(
    r"^\| (?P<holdout>[^|]+) \| (?P<claim>[^|]+) \| (?P<aligner>[^|]+) \| (?P<space>[a-z_]+) \| (?P<rank>\d+) \| "
    r"(?P<k>[^|]+) \| (?P<value>[-+0-9.]+) \[(?P<low>[-+0-9.]+), (?P<high>[-+0-9.]+)\] \|$"
)


def parse_claims(markdown: str) -> pd.DataFrame:
    """The claims table of a summary.md, back as numbers (for checking it against the tables)."""
    rows = [m.groupdict() for m in map(CLAIM_ROW.match, markdown.splitlines()) if m]
    return pd.DataFrame(rows)


# --- provenance, limits, tables ---------------------------------------------------------------------


def top_alarms(
    rows: pd.DataFrame, scores: pd.Series, holdout: str, target: str, n: int = 10, width: int = 160
) -> pd.DataFrame:
    """The holdout's test rows the zero-shot monitor scores highest, with their labels and texts (a conditional
    target, e.g. the harmful-prompts-only one, shows its label column)."""
    target = label_column(target)
    sub = rows.iloc[scores.index].assign(score=scores.to_numpy())
    sub = sub.sort_values("score", ascending=False, kind="mergesort").head(n)
    short = lambda s: textwrap.shorten(str(s), width=width, placeholder=" ...")  # noqa: E731
    out = pd.DataFrame(
        {"holdout": holdout, "rank": np.arange(1, len(sub) + 1), "score": sub["score"].round(3).to_numpy()}
    )
    for col in dict.fromkeys([target, "unsafe", "calm"]):
        out[col] = sub[col].astype(bool).to_numpy()
    for col in ("suite", "responder", "prompt", "response"):  # whichever the suite tables carry
        if col in sub:
            out[col] = sub[col].map(short).to_numpy() if col in ("prompt", "response") else sub[col].to_numpy()
    return out


def within_family_limits(specs: dict, models: list[str]) -> list[str]:
    """A sentence per model family (models[].family) with two or more study models: those holdouts are
    within-family (a model of the same tokenizer and training, at another size, trains the shared basis)."""
    families: dict[str, list[str]] = {}
    for m in models:
        if specs.get(m, {}).get("family"):
            families.setdefault(specs[m]["family"], []).append(m)
    return [
        f"Within-family holdouts: {', '.join(ids)} (family {name}: one tokenizer, different sizes). When one is held "
        "out the other trains the shared basis, an easier transfer than across families; the other holdouts are "
        "cross-family."
        for name, ids in families.items()
        if len(ids) > 1
    ]


def study_context(config: dict, models: list[dict], sources: dict, suites: dict, summary: pd.DataFrame) -> dict:
    """Provenance (models, data, config hash) and the limits of the run, from the study's own files."""
    import hashlib
    import json

    prov = {}
    for m in models:
        if m.get("source") == "hub":
            where = f"{m['repo']}@{m['revision']}"
        elif m.get("source") == "local":
            where = str(m.get("path"))
        else:
            where = ", ".join(f"{p['package']}:{p['path']}" for p in m.get("parts") or [])
        prov[f"model {m['id']}"] = (
            f"{m.get('source')} {m.get('format')} ({where}); sha256 {m.get('sha256')}; "
            f"{m.get('num_hidden_layers')} layers, hidden {m.get('hidden_size')}"
        )
    for name, man in sources.items():
        digest = hashlib.sha256("".join(sorted(f["sha256"] for f in man["files"].values())).encode()).hexdigest()
        spec = config["sources"].get(name, {})
        origin = spec.get("url") or man.get("url") or f"mirror_dir {spec.get('mirror_dir', name)} (no URL pinned)"
        prov[f"data {name}"] = f"{origin} ({len(man['files'])} files, sha256 of hashes {digest[:16]})"
    prov["config sha256"] = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    prov["seed"] = config["seed"]
    ex, st = config["extraction"], config["study"]
    formats = sorted({m.get("format") for m in models})
    labels = {s: v["labels"]["all"] for s, v in suites.items()}
    t = label_column(config["verdict"]["target"])
    own = st.get("reader_mode") == "own_answers"
    specs = {m["id"]: m for m in config.get("models", [])}
    dtypes = {i: m["dtype"] for i, m in specs.items() if "dtype" in m}
    limits = [
        f"{len(models)} {'study' if own else 'reader'} models ({', '.join(m['id'] for m in models)}), "
        + ("GGUF-quantized weights dequantized" if "gguf" in formats else "full-precision weights")
        + f", computed in {ex.get('dtype', 'float32')}"
        + "".join(f" ({i}: {d})" for i, d in dtypes.items())
        + (
            ": small models whose own answers are often off-topic or echo the request."
            if own
            else ": small models, far from the responders that wrote the suites."
        ),
        (
            f"Own answers: each model answered each prompt itself, greedy, at most "
            f"{config.get('generation', {}).get('max_new_tokens')} new tokens (most answers are cut by that cap). "
            "The labels come from transparent phrase rules and an offline TF-IDF judge, not from people; they are "
            "checked against an audit set of the models' own answers read blind by the project's maintainers (AI "
            "agent sessions, config/audit/), and a model whose primary labels fail the gate takes no part in the "
            "verdict (results/tables/label_gate.csv). Every transfer number of a model that fails the gate rests on "
            "labels shown not to be valid on its answers; the tables keep them as descriptions."
            if own
            else "Reader mode: the models read responses written by other models (the suites' responders), not "
            "their own generations; an own-response study needs the GPU config."
        ),
        f"Suites {', '.join(st['suites'])}: "
        + "; ".join(f"{s} {v['rows']} rows, {v[t]} {t}" for s, v in labels.items())
        + (
            f"; each model read at most {st['max_rows_per_suite']} rows per suite"
            if st.get("max_rows_per_suite")
            else ""
        )
        + f" ({int(summary['n_test'].max())} test rows, {int(summary['n_test_pos'].max())} positive "
        "per holdout at most): wide CIs.",
        *within_family_limits(specs, [m["id"] for m in models]),
        truncation_line(suites, ex, own),
        (
            "At prompt_last the read is taken before the answer exists; the prompt-only baselines (TF-IDF and "
            "embedding of the prompt, and the read residualized on the prompt's embedding) say how much of it "
            "the prompt's words alone explain. The response-side baselines still read the answer."
            if own
            else "tone_masked is defined from the response text (unsafe and calm by a transparent tone scorer), "
            "so a text-only baseline can reach it by construction; the residualized and surface rows say how "
            "much the hidden states add."
        ),
    ]
    from emobasis.transfer.baselines import MISMATCH

    return {"provenance": prov, "limits": limits, "mismatch": {**MISMATCH, **config["transfer"].get("mismatch", {})}}


def summary_html(markdown: str, title: str = "emobasis summary") -> str:
    """A self-contained HTML page of summary.md (for the Snakemake report, which shows HTML, not markdown)."""
    from markdown_it import MarkdownIt

    return html_page(MarkdownIt("commonmark").enable("table").render(markdown), title)


def table_html(table: pd.DataFrame, title: str, intro: str = "") -> str:
    """A self-contained HTML page showing a table (the Snakemake report cannot display CSV inline)."""
    from html import escape

    return html_page(
        f"<h1>{escape(title)}</h1>\n<p>{escape(intro)}</p>\n" + table.to_html(index=False, escape=True), title
    )


def html_page(body: str, title: str) -> str:
    css = (
        "body{font-family:system-ui,sans-serif;max-width:68em;margin:1.5em auto;padding:0 1em;line-height:1.45;"
        "color:#222}table{border-collapse:collapse;font-size:.9em;margin:.6em 0}td,th{border:1px solid #ccc;"
        "padding:.25em .55em;text-align:left}th{background:#f3f3f3}code,pre{background:#f6f6f6}"
        "pre{padding:.6em;overflow-x:auto}h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.4em}"
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{title}</title><style>{css}</style></head>'
        f"<body>\n{body}</body></html>\n"
    )
