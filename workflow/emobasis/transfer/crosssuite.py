"""Across tasks: leave-one-suite-out scoring of early-warning heads, and the rows the stability claim reads.

For one holdout model and every suite S of the study (fit suites and ``role: test`` suites alike):

- **cross-suite**: bases, whiteners, standardization, heads, the l2 choice and the alarm thresholds are fit
  on the *other fit suites* only (S's rows never enter a fit: they are relabelled out of the train/val
  splits, :func:`cross_data`); the heads score the holdout's test rows of S. k-shot heads draw k labels
  from S's train split of the holdout (warm-started, as in the LOMO grid). ``specific`` is the holdout's
  own probe trained on its rows of the other suites; ``surface`` the TF-IDF head trained on them.
- **in-suite** (fit suites only; zero-shot): the same heads fit on every fit suite, scored on the same
  test rows of S. A test suite never fits anything, so it has no in-suite reference.

:func:`stability_rows` turns both into the drop in-suite - cross-suite per method, with bootstrap CIs
over S's prompts, and the paired difference of drops with the ``baseline`` of ``verdict.stability``.
A cell that cannot be evaluated gets a row whose ``note`` says why (never a silent gap). The protocol,
features and summaries are the LOMO grid's (:mod:`emobasis.transfer.protocol`,
:func:`emobasis.transfer.grid.summarize`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emobasis.labels.targets import CONDITIONAL_TARGETS

#: fewest distinct test prompts of a suite that the bootstrap over prompts is run on
MIN_TEST_PROMPTS = 10
#: the methods scored across suites (shared bases come from the config's ``transfer.aligners``)
BASELINES = ("random", "residualized", "residualized_prompt", "shuffled", "specific", "surface", "surface_prompt")
OWN = "__own__"  # stand-in "training model" whose rows are the holdout's own (the specific probe)


def suite_roles(cfg: dict) -> dict[str, str]:
    """suite -> role (fit or test) of the study's suites."""
    return {s: cfg["suites"][s].get("role", "fit") for s in cfg["study"]["suites"]}


def check_suite_roles(cfg: dict) -> None:
    """At least one fit suite; ``verdict.stability`` names a configured aligner and a cross-suite baseline."""
    from emobasis.errors import ConfigError

    roles = suite_roles(cfg)
    if not any(r == "fit" for r in roles.values()):
        raise ConfigError(
            "every suite of study.suites has role: test, so nothing can be fit. "
            "Fix: give at least one suite role: fit (the default)."
        )
    stab = cfg["verdict"].get("stability")
    if stab and stab["method"] not in cfg["transfer"]["aligners"]:
        raise ConfigError(
            f"verdict.stability.method = {stab['method']!r} is not in transfer.aligners "
            f"({cfg['transfer']['aligners']}). Fix: pick one of them."
        )
    if stab and stab["baseline"] not in (*cfg["transfer"]["aligners"], *BASELINES):
        raise ConfigError(
            f"verdict.stability.baseline = {stab['baseline']!r} is not scored across suites. "
            f"Fix: use one of {', '.join((*cfg['transfer']['aligners'], *BASELINES))}."
        )


def cross_data(data, train_suites: list[str], scored: str):
    """The study cut to the rows of ``train_suites`` and ``scored``, relabelled so that only ``train_suites``'
    train/val rows fit and ``scored``'s test rows are scored; and the shot mask (``scored``'s train rows)."""
    from emobasis.transfer.grid import select_rows

    suite, split = data.rows["suite"].to_numpy(), data.rows["split"].to_numpy()
    fits, on_s = np.isin(suite, train_suites), suite == scored
    new = np.where(fits & np.isin(split, ["train", "val"]), split, "unused")
    new = np.where(on_s & (split == "test"), "test", new)
    new = np.where(on_s & ~fits & (split == "train"), "shot", new)
    keep = fits | on_s
    return select_rows(data, keep, new[keep]), (on_s & (split == "train"))[keep]


def why_not(sub, target: str, scored: str, train_suites: list[str]) -> str | None:
    """Why this (suite, target) cell cannot be evaluated, or None. A conditional target (e.g. the harmful
    prompts only) is checked on each model's rows it is defined on."""
    split = sub.rows["split"].to_numpy()
    for m in sub.models[:1] if sub.same_texts else sub.models:
        y, rows = sub.y(m, target), sub.eligible(m, target)
        where = f" for {m}" if target in CONDITIONAL_TARGETS else ""
        for s in ("train", "val"):
            yy = y[(split == s) & rows]
            if yy.all() or not yy.any():
                return (
                    f"{target} has a single class in the {s} split of the training suites "
                    f"{'+'.join(train_suites)}{where}"
                )
        yy = y[(split == "test") & rows]
        if yy.all() or not yy.any():
            one = "no rows" if not len(yy) else bool(yy[0])
            return f"{target} has a single class ({one}) in {scored}'s test rows{where}"
    n_prompts = sub.rows.loc[split == "test", "item_id"].nunique()
    if n_prompts < MIN_TEST_PROMPTS:
        return f"{scored} has {n_prompts} test prompts, fewer than the {MIN_TEST_PROMPTS} the bootstrap needs"
    return None


def _protocol(sub, holdout: str, target: str, cfg: dict, seed: int, shot, models=None, labels=None):
    from emobasis.transfer.protocol import Protocol

    models = models or sub.models
    if labels is None and (not sub.same_texts or target in CONDITIONAL_TARGETS):
        labels = {m: sub.y(m, target) for m in models}
    eligible = None
    if target in CONDITIONAL_TARGETS:  # every pool, draw, test row stays inside the rows it is defined on
        eligible = {m: sub.eligible(holdout if m == OWN else m, target) for m in models}
    return Protocol(sub.rows, holdout, models, target, cfg, seed, labels=labels, shot=shot, eligible=eligible)


def suite_features(sub, holdout: str, position: str, cfg: dict, seed: int):
    """The Context (fit on the training suites' rows only, in the feature space ``cfg["space"]``, default
    hidden) and every method's features {(method, rank): {model: features}} at one position; ``specific``:
    the holdout's own. A method that cannot run in the space is left out."""
    from emobasis.transfer.baselines import FEATURES, Context
    from emobasis.transfer.spaces import skip_reason

    space = cfg.get("space", "hidden")
    ctx = Context(sub, holdout, position, cfg, seed, space)
    feats = {}
    for rank in cfg["ranks"]:
        for name in (*cfg["aligners"], "random", "residualized", "residualized_prompt", "specific"):
            if skip_reason(sub, space, name, rank, True) is None and (F := FEATURES[name](ctx, rank)) is not None:
                feats[(name, rank)] = F
    return ctx, feats


def run_suite(ctx, feats, shot, target: str, cfg: dict, seed: int, in_suite: bool):
    """Every method's head results on the scored suite's test rows: {(method, rank): [HeadResult]}, the
    zero-shot protocol they share (its ``te``, ``y`` and rows are the scored ones), and the k left out
    (no k-shot when the scored suite's train split has one class)."""
    from emobasis.transfer.baselines import SCORES

    sub, holdout = ctx.data, ctx.holdout
    y = sub.y(holdout, target)
    shot_y = y[shot & sub.eligible(holdout, target)]
    ks = [0] if in_suite else [k for k in cfg["ks"] if k == 0 or len(np.unique(shot_y)) == 2]
    proto = _protocol(sub, holdout, target, {**cfg, "ks": ks}, seed, shot)
    zero = _protocol(sub, holdout, target, {**cfg, "ks": [0]}, seed, shot)
    own = _protocol(sub, holdout, target, {**cfg, "ks": [0]}, seed, shot, [holdout, OWN], {holdout: y, OWN: y})
    store = {}
    for (name, rank), F in feats.items():
        if name == "specific":  # the holdout's own probe, trained on its rows of the training suites
            store[(name, rank)] = own.run({holdout: F[holdout], OWN: F[holdout]})
            continue
        store[(name, rank)] = proto.run(F)
        if name == "gcca":
            store[("shuffled", rank)] = proto.run_shuffled(F)
    for name in ("surface", "surface_prompt"):  # surface_prompt: own answers only (None in reader studies)
        if (res := SCORES[name](ctx, zero)) is not None:
            store[(name, 0)] = res
    return store, zero, [k for k in cfg["ks"] if k not in ks and not in_suite]


def evaluate_cross_suite(data, holdout: str, cfg: dict, roles: dict[str, str], seed: int = 0):
    """Summary rows (the LOMO summary's columns plus condition, suite, train_suites, note) for every suite of
    ``data`` scored with heads fit on the other fit suites (cross-suite) and, for fit suites, on every fit
    suite (in-suite); and the zero-shot kernels {(condition, suite, target, position, method, rank): (K, y,
    groups, W)} that :func:`stability_rows` pairs."""
    from emobasis.data.splits import stable_seed
    from emobasis.transfer.grid import summarize
    from emobasis.transfer.metrics import ALARM_COLUMNS, auc_kernel, bootstrap_units, group_bootstrap

    present = list(dict.fromkeys(data.rows["suite"]))
    suites = [s for s in roles if s in present] + [s for s in present if s not in roles]  # config order first
    fit = [s for s in suites if roles.get(s, "fit") == "fit"]
    rows, kernels = [], {}
    for scored in suites:
        for condition in ("in-suite", "cross-suite"):
            if condition == "in-suite" and scored not in fit:
                continue  # a test suite never fits anything: no in-suite reference
            train = fit if condition == "in-suite" else [s for s in fit if s != scored]
            key = {"condition": condition, "suite": scored, "train_suites": "+".join(train), "holdout": holdout}
            sub, shot = cross_data(data, train, scored) if train else (None, None)
            for position in cfg["positions"]:
                built = None  # the Context and features: once per position, shared by the targets
                for target in cfg["targets"]:
                    cell = {**key, "target": target, "position": position}
                    if not train:
                        rows.append({**cell, "note": f"no fit suite other than {scored} to train on"})
                        continue
                    if why := why_not(sub, target, scored, train):
                        rows.append({**cell, "note": why})
                        continue
                    ctx, feats = built = built or suite_features(sub, holdout, position, cfg, seed)
                    store, proto, no_k = run_suite(ctx, feats, shot, target, cfg, seed, condition == "in-suite")
                    why_k = f"k-shot: {target} has a single class in {scored}'s train split"
                    rows += [{**cell, "k": k, "note": why_k} for k in no_k]
                    spaced = {(cfg.get("space", "hidden"), name, rank): res for (name, rank), res in store.items()}
                    _, summ = summarize(spaced, proto, sub.rows, holdout, target, position, cfg, seed)
                    note = benign_note(sub, proto, scored)
                    blank = dict.fromkeys(ALARM_COLUMNS, np.nan) if note else {}
                    rows += [{**r, **cell, "note": note, **blank} for r in summ]
                    yte, groups = proto.y[proto.te], bootstrap_units(sub.rows)[proto.te]  # te: eligible rows
                    W = group_bootstrap(groups, cfg["n_boot"], stable_seed(seed, "boot", target, position))
                    for (name, rank), results in store.items():
                        K = auc_kernel(results[0].scores, yte, groups)  # results[0]: k = 0
                        kernels[(condition, scored, target, position, name, rank)] = (K, yte, groups, W)
    return order_columns(pd.DataFrame(rows)), kernels


#: the cross-suite table's columns after the LOMO summary's (:data:`emobasis.transfer.grid.SUMMARY_COLUMNS`)
EXTRA_COLUMNS = ("condition", "suite", "train_suites", "note")


def order_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Every LOMO summary column (NaN where a row says why it has no number), then the cross-suite ones."""
    from emobasis.transfer.grid import SUMMARY_COLUMNS

    return (
        table.reindex(columns=[*SUMMARY_COLUMNS, *EXTRA_COLUMNS])
        .assign(note=table.get("note", ""))
        .fillna({"note": ""})
    )


def tidy_table(table: pd.DataFrame) -> pd.DataFrame:
    """k as text, as in the LOMO tables ("all" for every row of the scored suite's train split; empty on a row
    that says why a cell has no number)."""
    from emobasis.transfer.protocol import ALL_K

    tidy = lambda k: "" if pd.isna(k) else ("all" if int(k) == ALL_K else str(int(k)))  # noqa: E731
    return table.assign(k=table["k"].map(tidy))


def benign_note(sub, proto, scored: str) -> str:
    """Why the alarm columns have no number: no benign rows to calibrate the threshold on (the training suites'
    validation rows), or no row to check a false alarm on (neither a benign test row nor a harmful test prompt
    answered safely, ``realized_fpr_safe``); '' when they have one."""
    if not proto.cal.any():
        return "no benign rows in the training suites' validation rows to calibrate the alarm threshold"
    safe = proto.te & ~proto.benign & ~proto.y.astype(bool)  # harmful prompts answered safely: realized_fpr_safe
    if not (proto.te & proto.benign).any() and not safe.any():
        return f"no benign rows or safe answers in {scored}'s test rows: no false alarm can be checked there"
    return ""


def stability_rows(kernels: dict, holdout: str, baseline: str, suites: list[str], roles: dict) -> pd.DataFrame:
    """Per (suite, target, position, method, rank): zero-shot AUC in-suite and cross-suite on the suite's test
    prompts, the drop (in - cross) and the paired difference of drops method - ``baseline`` (at the
    baseline's own rank), each with a 95% CI from the same prompt resamples. A suite without both
    conditions gets a row saying why."""
    from emobasis.transfer.metrics import bootstrap_auc as boot

    out = []
    cells = sorted({k[1:] for k in kernels}, key=lambda c: (suites.index(c[0]), *map(str, c[1:])))
    for scored, target, position, name, rank in cells:
        row = {"holdout": holdout, "suite": scored, "target": target, "position": position}
        row.update(aligner=name, rank=rank, baseline=baseline, note="")
        cross, within = (kernels.get((c, scored, target, position, name, rank)) for c in ("cross-suite", "in-suite"))
        if cross is None or within is None:
            test = roles.get(scored) == "test"
            out.append(
                {
                    **row,
                    "note": "test suite: never fit, so no in-suite AUC and no drop" if test else "see cross_suite.csv",
                }
            )
            continue
        K_c, y, g, W = cross
        K_i = within[0]
        full = np.ones((1, W.shape[1]))
        drop = boot(K_i - K_c, y, g, W)
        row.update(
            auc_in=float(boot(K_i, y, g, full)[0]),
            auc_cross=float(boot(K_c, y, g, full)[0]),
            drop=float(boot(K_i - K_c, y, g, full)[0]),
            drop_ci_low=np.nanpercentile(drop, 2.5),
            drop_ci_high=np.nanpercentile(drop, 97.5),
        )
        base = [
            k for k in kernels if k[0] == "cross-suite" and k[1:4] == (scored, target, position) and k[4] == baseline
        ]
        base_in = [(k[0].replace("cross", "in"), *k[1:]) for k in base]
        if base and base_in[0] in kernels:
            D = (K_i - K_c) - (kernels[base_in[0]][0] - kernels[base[0]][0])
            diff = boot(D, y, g, W)
            row.update(
                drop_diff=float(boot(D, y, g, full)[0]),
                drop_diff_ci_low=np.nanpercentile(diff, 2.5),
                drop_diff_ci_high=np.nanpercentile(diff, 97.5),
            )
        out.append(row)
    cols = ["holdout", "suite", "target", "position", "aligner", "rank", "baseline", "note", "auc_in", "auc_cross"]
    cols += [f"{q}{b}" for q in ("drop", "drop_diff") for b in ("", "_ci_low", "_ci_high")]
    return pd.DataFrame(out, columns=cols)  # the columns even when no cell could be evaluated


# --- the stability claim ------------------------------------------------------------------------------


def stability_cells(stab: pd.DataFrame, verdict: dict, method: str) -> pd.DataFrame:
    """The stability rows at the verdict's rank (rank 0 for rank-free methods), target and position."""
    from emobasis.transfer.methods import METHODS

    rank = verdict["rank"] if METHODS[method].ranked else 0
    return stab[
        (stab["aligner"] == method)
        & (stab["rank"] == rank)
        & (stab["target"] == verdict["target"])
        & (stab["position"] == verdict["position"])
    ]


def decide_stability(stab: pd.DataFrame, verdict: dict) -> dict:
    """Apply ``verdict.stability`` (config): per (holdout, fit suite) the paired difference of drops
    method - baseline; **more stable** when every CI upper bound is < 0, **no less stable** when every one
    is < margin, **not shown** otherwise; **not evaluable** when no fit suite has both conditions."""
    rule = verdict["stability"]
    sel = stability_cells(stab, verdict, rule["method"])
    sel = sel[sel["baseline"] == rule["baseline"]] if "baseline" in sel else sel.iloc[:0]
    have = sel[sel["drop_diff_ci_high"].notna()] if "drop_diff_ci_high" in sel else sel.iloc[:0]
    per = {(r["holdout"], r["suite"]): float(r["drop_diff_ci_high"]) for _, r in have.iterrows()}
    if not per:
        outcome = "not evaluable"
    elif all(v < 0 for v in per.values()):
        outcome = "more stable"
    elif all(v < rule["margin"] for v in per.values()):
        outcome = "no less stable"
    else:
        outcome = "not shown"
    return {"outcome": outcome, "per_cell": per}
