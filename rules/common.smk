import re
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError

# The emobasis package lives in workflow/. Parse time: put it on sys.path here. Jobs: Snakemake adds
# each script's folder to sys.path, and workflow/scripts/emobasis links to the package.
PACKAGE_DIR = str(Path(workflow.basedir) / "workflow")
if PACKAGE_DIR not in sys.path:
    sys.path.insert(0, PACKAGE_DIR)

from emobasis.config import ConfigError, model_specs, validate_config

try:
    config.update(
        validate_config(config, Path(workflow.basedir) / "config" / "schema.yaml")
    )
except ConfigError as exc:
    raise WorkflowError(f"invalid config: {exc}") from None

MODELS = model_specs(config)


def _alternatives(names):
    return "|".join(re.escape(n) for n in names)


wildcard_constraints:
    source=_alternatives(config["sources"]),
    suite=_alternatives(config["suites"]),
    stimulus_set=_alternatives(config["stimulus_sets"]),
    model=_alternatives(MODELS),
    dataset=_alternatives(list(config["suites"]) + list(config["stimulus_sets"])),


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
    return targets


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


def get_dataset_max_rows(wildcards):
    if get_dataset_kind(wildcards) == "suite":
        return config["study"]["max_rows_per_suite"]
    return None
