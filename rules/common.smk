import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

# The emobasis package lives in workflow/. Parse time: put it on sys.path here. Jobs: Snakemake adds
# each script's folder to sys.path, and workflow/scripts/emobasis links to the package.
PACKAGE_DIR = str(Path(workflow.basedir) / "workflow")
if PACKAGE_DIR not in sys.path:
    sys.path.insert(0, PACKAGE_DIR)

from emobasis import paths
from emobasis.codeversion import PackageCode
from emobasis.config import (
    canonical_order,
    load_schema,
    model_specs,
    study_sources,
    suite_spec,
    validate_config,
)
from emobasis.data.stimuli import concept_kinds
from emobasis.errors import ConfigError
from emobasis.models.folders import build_spec
from emobasis.transfer.methods import METHODS, result_methods

try:
    # options in sorted key order: params that hold config dicts compare equal when only key order differs
    SCHEMA = load_schema(Path(workflow.basedir) / "config" / "schema.yaml")
    _checked = canonical_order(validate_config(config, SCHEMA), SCHEMA)
    config.clear()
    config.update(_checked)
except ConfigError as exc:
    raise WorkflowError(f"invalid config: {exc}") from None

MODELS = model_specs(config)
PACKAGE_CODE = PackageCode(PACKAGE_DIR)


def script_code(name):
    """Every rule's param ``code``: the version of the emobasis modules that workflow/scripts/<name>.py runs
    (emobasis.codeversion), so that a change to a module reruns the jobs whose scripts import it, and no
    other (Snakemake's own code trigger sees only the script file)."""
    return PACKAGE_CODE.script_version(
        Path(workflow.basedir) / "workflow" / "scripts" / f"{name}.py"
    )


# --- the study: models, suites, datasets -----------------------------------------------------------


def study_models():
    """Reader models of the study, in config order."""
    return [m["id"] for m in config["models"]]


def study_suites():
    return config["study"]["suites"]


def study_stimulus_sets():
    return config["study"]["stimulus_sets"]


def study_datasets():
    """Suites then stimulus sets of the study: every reader model extracts each of them."""
    return study_suites() + study_stimulus_sets()


def xstest_suites():
    return [s for s in study_suites() if config["suites"][s]["adapter"] == "xstest"]


def _alternatives(names):
    return "|".join(re.escape(n) for n in names)


wildcard_constraints:
    source=_alternatives(config["sources"]),
    suite=_alternatives(config["suites"]),
    stimulus_set=_alternatives(config["stimulus_sets"]),
    model=_alternatives(MODELS),
    holdout=_alternatives(study_models()),
    dataset=_alternatives(list(config["suites"]) + list(config["stimulus_sets"])),
    target=_alternatives(config["transfer"]["targets"]),
    position=_alternatives(config["transfer"]["positions"]),


# --- file names ------------------------------------------------------------------------------------


def package_resource(name):
    """Absolute path of a file shipped in the emobasis package (works with --directory)."""
    return str(Path(PACKAGE_DIR) / "emobasis" / "resources" / name)


def source_manifest(source):
    return f"resources/data/{source}/MANIFEST.json"


def study_source_manifests():
    """Manifests of the data sources the study reads (not every configured source)."""
    return [source_manifest(s) for s in study_sources(config)]


def model_manifest(model):
    return f"resources/models/{model}/MANIFEST.json"


def stimulus_activations(models):
    """Each model's reads of the study's stimulus sets, model-major."""
    return [paths.activations(m, s) for m in models for s in study_stimulus_sets()]


def monitor_path():
    d = config["deploy"]
    return f"results/basis/{d['aligner']}/r{d['rank']}/all.npz"


# --- final targets ---------------------------------------------------------------------------------


def get_final_output():
    targets = answer_outputs() + [paths.suite_table(s) for s in study_suites()]
    targets += [paths.stimulus_table(s) for s in study_stimulus_sets()]
    targets += [f"results/tables/tone_scorer_{s}.csv" for s in xstest_suites()]
    targets += [model_manifest(m) for m in MODELS]
    targets += [
        paths.activations(m, d) for m in study_models() for d in study_datasets()
    ]
    targets.append("results/concepts/diagnostics.csv")
    targets += [paths.profiles(m, s) for m in study_models() for s in study_suites()]
    targets += ["results/tables/transfer.csv", "results/tables/transfer_summary.csv"]
    targets.append(monitor_path())
    targets += [f"results/scores/{m['id']}.parquet" for m in config["monitor_models"]]
    return targets + report_outputs()


def report_outputs():
    """Figures, tables and the summary of the report (snakemake --report results/report.html)."""
    t = config["transfer"]
    out = [
        f"results/figures/data_efficiency/{target}.{position}.png"
        for target in t["targets"]
        for position in t["positions"]
    ]
    out += [f"results/figures/rank_sweep/{target}.png" for target in t["targets"]]
    out += ["results/figures/headline.png", "results/figures/harmful_only.png"]
    out += [f"results/figures/concepts/{m}.png" for m in study_models()]
    out += [
        "results/figures/basis_loadings.png",
        "results/figures/predictor_subspace.png",
        "results/tables/top_alarms.csv",
        "results/summary.md",
    ]
    out += cross_suite_outputs()
    return out


# --- data, stimuli, models -------------------------------------------------------------------------


def get_source_spec(wildcards):
    return config["sources"][wildcards.source]


def get_suite_inputs(wildcards):
    """A suite's source manifest; an answers suite: its prompt set and every study model's labelled answers
    (rule label_answers), concatenated in config order."""
    spec = config["suites"][wildcards.suite]
    if spec["adapter"] != "answers":
        return {"manifest": source_manifest(spec["source"])}
    return {
        "prompts": paths.prompt_set(wildcards.suite),
        "tables": [paths.answer_table(m, wildcards.suite) for m in study_models()],
    }


def get_suite_models(wildcards):
    """An answers suite: the models whose answers it holds (none for other suites, whose table does not
    depend on the study's models, so adding a model leaves them alone)."""
    if config["suites"][wildcards.suite]["adapter"] != "answers":
        return []
    return study_models()


def get_answer_minimums(wildcards):
    s = config["study"]
    return {
        "target": config["verdict"]["target"],
        "positives": s.get("min_test_positives", 30),
        "benign": s.get("min_test_benign", 30),
    }


def get_suite_params(wildcards):
    """The suite's config as its prompt set is built (study.every_prompt drops the entries' max caps)."""
    return suite_spec(config, wildcards.suite)


def get_stimulus_spec(wildcards):
    return config["stimulus_sets"][wildcards.stimulus_set]


def get_stimulus_inputs(wildcards):
    """Named inputs: one source manifest per corpus an emotion set draws from."""
    spec = config["stimulus_sets"][wildcards.stimulus_set]
    if spec["kind"] != "emotions":
        return {}
    corpora = {s.split(":", 1)[0] for specs in spec["concepts"].values() for s in specs}
    return {c: source_manifest(c) for c in sorted(corpora)}


def get_model_spec(wildcards):
    """The options of a model entry that its folder depends on (emobasis.models.folders.build_spec)."""
    return build_spec(MODELS[wildcards.model])


# --- extraction ------------------------------------------------------------------------------------


def get_dataset_kind(wildcards):
    return "suite" if wildcards.dataset in config["suites"] else "stimuli"


def get_answer_reads(wildcards):
    """Own answers: the model's fused reads of an answers suite (the extract rule re-indexes them)."""
    if not is_answers_suite(wildcards.dataset):
        return []
    return [paths.answer_reads(wildcards.model, wildcards.dataset)]


def is_answers_suite(name):
    spec = config["suites"].get(name)
    return spec is not None and spec["adapter"] == "answers"


def model_suite_table(model, suite):
    """The suite rows one model's jobs read: an answers suite's are its own labelled answers only (so that
    adding a model reruns none of the others' reads or profiles), another suite's the whole table.
    """
    if is_answers_suite(suite):
        return paths.answer_table(model, suite)
    return paths.suite_table(suite)


def get_dataset_table(wildcards):
    if get_dataset_kind(wildcards) == "suite":
        return model_suite_table(wildcards.model, wildcards.dataset)
    return paths.stimulus_table(wildcards.dataset)


def get_profile_table(wildcards):
    return model_suite_table(wildcards.model, wildcards.suite)


def own_responses():
    """Each model reads only its own rows: another model's responses (own_responses) or its own answers."""
    return config["study"]["reader_mode"] in ("own_responses", "own_answers")


def own_answers():
    return config["study"]["reader_mode"] == "own_answers"


def responder_of(model, suite):
    return model if own_answers() else MODELS[model]["responders"][suite]


def get_own_responses(wildcards):
    """Own-response mode: this model's responder in this suite and those of the whole study (whose common
    prompts every model reads); None: the model reads every response, or (own answers) its fused reads.
    """
    if not own_responses() or get_dataset_kind(wildcards) != "suite":
        return None
    if is_answers_suite(wildcards.dataset):
        return None
    return {
        "responder": responder_of(wildcards.model, wildcards.dataset),
        "study": get_suite_responders(wildcards, wildcards.dataset),
    }


def get_suite_responders(wildcards, suite=None):
    """Own-response mode: the responders of every study model in this suite (embed their rows)."""
    if not own_responses():
        return []
    suite = suite or wildcards.suite
    return sorted({responder_of(m, suite) for m in study_models()})


def get_dataset_max_rows(wildcards):
    if get_dataset_kind(wildcards) == "suite":
        return config["study"]["max_rows_per_suite"]
    return None


def get_embedder_manifest(wildcards):
    return model_manifest(config["embedder"]["id"])


# --- own answers (rules/answers.smk) ---------------------------------------------------------------


def prompt_sources(suite):
    return list(dict.fromkeys(e["source"] for e in config["suites"][suite]["prompts"]))


def get_prompt_manifests(wildcards):
    return [source_manifest(s) for s in prompt_sources(wildcards.suite)]


def get_excluded_prompt_sets(wildcards):
    """The prompt sets of the suites this one excludes (suites.<suite>.exclude_suites), in that order."""
    return [
        paths.prompt_set(s)
        for s in config["suites"][wildcards.suite].get("exclude_suites", [])
    ]


def get_prompt_source_names(wildcards):
    return prompt_sources(wildcards.suite)


def get_extraction_settings(wildcards):
    """The extraction block, with the model entry's dtype when it sets one (its answers and every read of it,
    stimuli included, in that dtype)."""
    m = MODELS[wildcards.model]
    return {**config["extraction"], **({"dtype": m["dtype"]} if "dtype" in m else {})}


def get_generation_settings(wildcards):
    """Decoding and reading settings of one model's answers: extraction's layers, positions and prompt cap,
    the generation block, and the model entry's system_prompt / plain_format / stop_strings.
    """
    e, g, m = (
        get_extraction_settings(wildcards),
        config["generation"],
        MODELS[wildcards.model],
    )
    out = {
        k: e[k]
        for k in ("layers", "response_first_k", "max_prompt_tokens", "device", "dtype")
    }
    out["max_new_tokens"] = g["max_new_tokens"]
    out["token_budget"] = m.get(
        "token_budget", g.get("token_budget", e["token_budget"])
    )
    out.update(
        {k: m[k] for k in ("system_prompt", "plain_format", "stop_strings") if k in m}
    )
    return out


def judge_origins():
    """Config sources holding the judge's labelled responses (none unless the study answers itself)."""
    if not own_answers():
        return []
    return list(dict.fromkeys(config["judge"]["sources"].values()))


def get_judge_manifests(wildcards):
    return [source_manifest(s) for s in judge_origins()]


def get_answer_tables(wildcards):
    """Own answers: the answer counts and the judge's validation, for the summary."""
    if not own_answers():
        return {}
    return {
        "answers": "results/tables/answers.csv",
        "judge_validation": "results/tables/judge_validation.csv",
        "label_validity": "results/tables/label_validity.csv",
        "label_gate": "results/tables/label_gate.csv",
    }


def answer_count_suites(role):
    """The answers suites of one role (fit or test): each role has its own count table, so a fitting job,
    which waits for the fit suites' table, never depends on a test suite's answers."""
    return [
        s for s in study_suites() if is_answers_suite(s) and suite_roles()[s] == role
    ]


def answer_outputs():
    if not own_answers():
        return []
    out = [paths.prompt_set(s) for s in study_suites()]
    out += [paths.answers(m, s) for m in study_models() for s in study_suites()]
    out += ["results/tables/judge_validation.csv", "results/tables/answers.csv"]
    if answer_count_suites("test"):
        out.append("results/tables/answers_test.csv")
    out += ["results/tables/judge_audit.csv", "results/figures/answers.png"]
    out += ["results/audit/sheet.csv", "results/tables/label_validity.csv"]
    return out


def pilot_answer_files():
    """The pilot's answers (rules/pilot.smk): every study model x fit answers suite, model-major."""
    return [
        f"results/pilot/answers/{m}/{s}.parquet"
        for m in study_models()
        for s in answer_count_suites("fit")
    ]


def get_pilot_gate(wildcards):
    """With a pilot block in the config, every full generation waits for the pilot's estimate (which stops the
    study when a model would fall short); without one, nothing."""
    return (
        ["results/pilot/estimate.csv"] if config.get("pilot") and own_answers() else []
    )


def get_audit_inputs(wildcards):
    """The audit labels and a second reader's (each one file or several), where those files exist
    (none: no model is audited), and the XSTest completions with their human compliance labels, where the
    study has that source.
    """
    a = config.get("audit", {})
    out = {}
    for key in ("labels", "second_reads"):
        files = a.get(key) or []
        found = [
            f
            for v in ([files] if isinstance(files, str) else files)
            if (f := in_workflow(v))
        ]
        if found:
            out[key] = found
    if "xstest" in config["sources"]:  # human compliance labels on public answers
        out["xstest"] = source_manifest("xstest")
    return out


# --- concepts --------------------------------------------------------------------------------------


def get_model_stimulus_activations(wildcards):
    return stimulus_activations([wildcards.model])


def get_stimulus_tables(wildcards):
    return [paths.stimulus_table(s) for s in study_stimulus_sets()]


def get_stimulus_kinds(wildcards):
    return [config["stimulus_sets"][s]["kind"] for s in study_stimulus_sets()]


def get_valence_manifest(wildcards):
    source = config["concepts"].get("valence_source")
    return [source_manifest(source)] if source else []


# --- cross-model stages ----------------------------------------------------------------------------


def transfer_settings():
    """The one param of every cross-model job that fits anything. The config's transfer block plus the
    basis ranks, the study's models, FIT suites and stimulus sets, the seed, and whether text embeddings
    exist. Test suites (role: test) are neither its input nor its param, so adding one refits nothing.
    """
    return {
        **config["transfer"],
        "ranks": config["basis"]["ranks"],
        "models": study_models(),
        "suites": fit_suites(),
        "stimulus_sets": study_stimulus_sets(),
        "seed": config["seed"],
        "embeddings": "embedder" in config,
        "concept_kinds": concept_kinds(config),
        "ablation_rank": config["verdict"]["rank"],
        "vad_lexicon": vad_lexicon(),
        # the per-suite rows (transfer_by_suite.csv) are the verdict's cell only: all the summary reads
        "suite_cell": {k: config["verdict"][k] for k in ("target", "position", "rank")},
    }


def verdict_cell():
    """The verdict's cell (rank, target, position) that the split-seed jobs rerun, in the verdict's feature
    space and in hidden (the summary states the rule in both)."""
    v = config["verdict"]
    return {
        **{key: v[key] for key in ("rank", "target", "position")},
        "spaces": list(dict.fromkeys([v["space"], "hidden"])),
    }


def transfer_methods():
    """(method, rank) pairs whose result files a transfer job writes (rank 0: rank-free baselines)."""
    pairs = []
    for method in result_methods(config["transfer"]["aligners"]):
        ranks = config["basis"]["ranks"] if METHODS[method].ranked else [0]
        pairs += [(method, r) for r in ranks]
    return pairs


def get_transfer_outputs(folder, ext):
    return [f"{folder}/{m}/r{r}/{{holdout}}.{ext}" for m, r in transfer_methods()]


def get_basis_outputs():
    return [
        f"results/basis/{a}/r{r}/{{holdout}}.npz"
        for a in config["transfer"]["aligners"]
        for r in config["basis"]["ranks"]
    ]


def transfer_result_grid():
    pairs = [(m, r, h) for m, r in transfer_methods() for h in study_models()]
    return {
        "method": [p[0] for p in pairs],
        "rank": [p[1] for p in pairs],
        "holdout": [p[2] for p in pairs],
    }


def cross_model_inputs(suites):
    """Every study model's activations, profiles and concepts for ``suites`` and the stimulus sets (+ text
    embeddings; own answers: + the fit suites' answer counts, whose check must pass before any cross-model
    job; test suites have a count table of their own, which no job waits for).
    """
    inputs = paths.study_inputs(
        study_models(), suites, study_stimulus_sets(), "embedder" in config
    )
    if own_answers():
        inputs["answer_counts"] = "results/tables/answers.csv"
    if vad_lexicon():  # the valence_arousal method's ratings
        inputs["vad"] = source_manifest(config["concepts"]["valence_source"])
    return inputs


def vad_lexicon():
    """The NRC VAD lexicon's path once fetched (None without concepts.valence_source)."""
    source = config["concepts"].get("valence_source")
    return f"resources/data/{source}/NRC-VAD-Lexicon.txt" if source else None


def get_verdict_history(wildcards):
    """The verdict rule's change log, which the summary prints (verdict.history): relative to the working
    directory, else to the workflow's own folder (a run elsewhere with --directory); a path in neither is an
    error (a typo would drop the history from the summary silently).
    """
    history = config["verdict"].get("history")
    if not history:
        return {}
    found = in_workflow(history)
    if found is None:
        raise WorkflowError(
            f"verdict.history = {history!r} is neither in the working directory nor in the workflow's folder "
            f"({workflow.basedir}). Fix: correct the path, or remove the key to run without the rule's history."
        )
    return {"history": found}


def in_workflow(path):
    """A config file path (audit labels, the rule's history) relative to the working directory, else to the
    workflow's own folder (a run elsewhere with --directory); None when neither holds it.
    """
    for candidate in (Path(path), Path(workflow.basedir) / path):
        if candidate.is_file():
            return str(candidate)
    return None


def get_transfer_inputs(wildcards):
    """The fit suites' inputs (test suites never enter a fitting job)."""
    return cross_model_inputs(fit_suites())


# --- across suites (rules/crosssuite.smk) ----------------------------------------------------------


def suite_roles():
    """suite -> role of the study's suites: fit (default) or test (scored across suites, never fit)."""
    return {s: config["suites"][s].get("role", "fit") for s in study_suites()}


def test_suites():
    return [s for s, role in suite_roles().items() if role == "test"]


def fit_suites():
    return [s for s, role in suite_roles().items() if role == "fit"]


def get_cross_suite_inputs(wildcards):
    """Every study suite's inputs: the test suites are scored here."""
    return cross_model_inputs(study_suites())


def cross_suite_settings():
    """The cross_suite rule's param: transfer_settings() at the verdict's rank, with the suites' roles and
    the baseline of the stability rule (verdict.stability)."""
    stability = config["verdict"].get("stability") or {}
    return {
        **transfer_settings(),
        "suites": study_suites(),
        **({"test_suites": test_suites()} if test_suites() else {}),
        "ranks": [config["verdict"]["rank"]],
        "space": config["verdict"]["space"],
        "roles": suite_roles(),
        "baseline": stability.get("baseline", "surface"),
    }


def cross_suite_outputs():
    return [
        "results/tables/cross_suite.csv",
        "results/tables/cross_suite_stability.csv",
        "results/figures/cross_suite.png",
    ]
