import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

# The emobasis package lives in workflow/. Parse time: put it on sys.path here. Jobs: Snakemake adds
# each script's folder to sys.path, and workflow/scripts/emobasis links to the package.
PACKAGE_DIR = str(Path(workflow.basedir) / "workflow")
if PACKAGE_DIR not in sys.path:
    sys.path.insert(0, PACKAGE_DIR)

from emobasis.config import (
    RANKED_BASELINES,
    RANKFREE_BASELINES,
    ConfigError,
    model_specs,
    validate_config,
)

try:
    config.update(
        validate_config(config, Path(workflow.basedir) / "config" / "schema.yaml")
    )
except ConfigError as exc:
    raise WorkflowError(f"invalid config: {exc}") from None

MODELS = model_specs(config)


def study_models_from(cfg):
    return [m["id"] for m in cfg["models"]]


def _alternatives(names):
    return "|".join(re.escape(n) for n in names)


wildcard_constraints:
    source=_alternatives(config["sources"]),
    suite=_alternatives(config["suites"]),
    stimulus_set=_alternatives(config["stimulus_sets"]),
    model=_alternatives(MODELS),
    holdout=_alternatives(study_models_from(config)),
    dataset=_alternatives(list(config["suites"]) + list(config["stimulus_sets"])),
    target=_alternatives(config["transfer"]["targets"]),
    position=_alternatives(config["transfer"]["positions"]),


def package_resource(name):
    """Absolute path of a file shipped in the emobasis package (works with --directory)."""
    return str(Path(PACKAGE_DIR) / "emobasis" / "resources" / name)


def source_manifest(source):
    return f"resources/data/{source}/MANIFEST.json"


def model_manifest(model):
    return f"resources/models/{model}/MANIFEST.json"


def study_models():
    """Reader models of the study, in config order."""
    return [m["id"] for m in config["models"]]


def xstest_suites():
    return [
        s
        for s in config["study"]["suites"]
        if config["suites"][s]["adapter"] == "xstest"
    ]


def study_datasets():
    """Suites then stimulus sets of the study: every reader model extracts each of them."""
    return config["study"]["suites"] + config["study"]["stimulus_sets"]


def get_final_output():
    targets = [f"results/suites/{s}.parquet" for s in config["study"]["suites"]]
    targets += [
        f"results/stimuli/{s}.parquet" for s in config["study"]["stimulus_sets"]
    ]
    targets += [f"results/tables/tone_scorer_{s}.csv" for s in xstest_suites()]
    targets += [model_manifest(m) for m in MODELS]
    targets += [
        f"results/activations/{m}/{d}.safetensors"
        for m in study_models()
        for d in study_datasets()
    ]
    targets.append("results/concepts/diagnostics.csv")
    targets += [
        f"results/profiles/{m}/{s}.parquet"
        for m in study_models()
        for s in config["study"]["suites"]
    ]
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
    out += [f"results/figures/concepts/{m}.png" for m in study_models()]
    out += [
        "results/figures/basis_loadings.png",
        "results/figures/predictor_subspace.png",
        "results/tables/top_alarms.csv",
        "results/summary.md",
    ]
    return out


def get_source_spec(wildcards):
    return config["sources"][wildcards.source]


def get_suite_manifest(wildcards):
    return source_manifest(config["suites"][wildcards.suite]["source"])


def get_suite_params(wildcards):
    return config["suites"][wildcards.suite]


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
    return MODELS[wildcards.model]


def get_dataset_kind(wildcards):
    return "suite" if wildcards.dataset in config["suites"] else "stimuli"


def get_dataset_table(wildcards):
    folder = "suites" if get_dataset_kind(wildcards) == "suite" else "stimuli"
    return f"results/{folder}/{wildcards.dataset}.parquet"


def own_responses():
    return config["study"]["reader_mode"] == "own_responses"


def get_own_responses(wildcards):
    """Own-response mode: this model's responder in this suite and those of the whole study (whose common
    prompts every model reads); None: the model reads every response."""
    if not own_responses() or get_dataset_kind(wildcards) != "suite":
        return None
    return {
        "responder": MODELS[wildcards.model]["responders"][wildcards.dataset],
        "study": get_suite_responders(wildcards, wildcards.dataset),
    }


def get_suite_responders(wildcards, suite=None):
    """Own-response mode: the responders of every study model in this suite (embed their rows)."""
    if not own_responses():
        return []
    suite = suite or wildcards.suite
    return sorted({m["responders"][suite] for m in config["models"]})


def get_dataset_max_rows(wildcards):
    if get_dataset_kind(wildcards) == "suite":
        return config["study"]["max_rows_per_suite"]
    return None


def get_stimulus_activations(wildcards):
    return [
        f"results/activations/{wildcards.model}/{s}.safetensors"
        for s in config["study"]["stimulus_sets"]
    ]


def get_stimulus_tables(wildcards):
    return [f"results/stimuli/{s}.parquet" for s in config["study"]["stimulus_sets"]]


def get_stimulus_kinds(wildcards):
    return [
        config["stimulus_sets"][s]["kind"] for s in config["study"]["stimulus_sets"]
    ]


def get_valence_manifest(wildcards):
    source = config["concepts"].get("valence_source")
    return [source_manifest(source)] if source else []


def transfer_methods():
    """(method, rank) pairs whose result files a transfer job writes (rank 0: rank-free baselines)."""
    ranked = config["transfer"]["aligners"] + list(RANKED_BASELINES)
    pairs = [(m, r) for m in ranked for r in config["basis"]["ranks"]]
    return pairs + [(m, 0) for m in RANKFREE_BASELINES]


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


def get_embedder_manifest(wildcards):
    return model_manifest(config["embedder"]["id"])


def get_transfer_inputs(wildcards):
    """Every study model's suite and stimulus activations, profiles and concepts (+ embeddings)."""
    models, suites = study_models(), config["study"]["suites"]
    inputs = {
        "tables": [f"results/suites/{s}.parquet" for s in suites],
        "acts": [
            f"results/activations/{m}/{s}.safetensors" for m in models for s in suites
        ],
        "profiles": [
            f"results/profiles/{m}/{s}.parquet" for m in models for s in suites
        ],
        "stimuli": get_all_stimulus_activations(),
        "concepts": [f"results/concepts/{m}.safetensors" for m in models],
    }
    if "embedder" in config:
        inputs["embeddings"] = [f"results/embeddings/{s}.safetensors" for s in suites]
    return inputs


def get_all_stimulus_activations():
    return [
        f"results/activations/{m}/{s}.safetensors"
        for m in study_models()
        for s in config["study"]["stimulus_sets"]
    ]


def monitor_path():
    d = config["deploy"]
    return f"results/basis/{d['aligner']}/r{d['rank']}/all.npz"
