rule fit_concepts:
    input:
        acts=get_stimulus_activations,
        tables=get_stimulus_tables,
        vad=get_valence_manifest,
    output:
        directions="results/concepts/{model}.safetensors",
        diagnostics="results/concepts/{model}.diagnostics.csv",
        cosine="results/concepts/{model}.cosine.csv",
    log:
        "logs/fit_concepts/{model}.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        concepts=config["concepts"],
        kinds=get_stimulus_kinds,
    script:
        "../workflow/scripts/fit_concepts.py"


rule gather_concept_diagnostics:
    input:
        expand("results/concepts/{model}.diagnostics.csv", model=study_models()),
    output:
        "results/concepts/diagnostics.csv",
    log:
        "logs/gather_concept_diagnostics.log",
    conda:
        "../envs/emobasis.yaml"
    script:
        "../workflow/scripts/gather_tables.py"


rule profiles:
    input:
        concepts="results/concepts/{model}.safetensors",
        acts="results/activations/{model}/{suite}.safetensors",
        manifest="results/activations/{model}/{suite}.json",
        table="results/suites/{suite}.parquet",
    output:
        "results/profiles/{model}/{suite}.parquet",
    log:
        "logs/profiles/{model}/{suite}.log",
    conda:
        "../envs/emobasis.yaml"
    script:
        "../workflow/scripts/profiles.py"
