rule fit_concepts:
    input:
        acts=get_model_stimulus_activations,
        tables=get_stimulus_tables,
        vad=get_valence_manifest,
    output:
        directions=paths.concepts("{model}"),
        diagnostics="results/concepts/{model}.diagnostics.csv",
        cosine="results/concepts/{model}.cosine.csv",
    log:
        "logs/fit_concepts/{model}.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        concepts=config["concepts"],
        kinds=get_stimulus_kinds,
        code=script_code("fit_concepts"),
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
    params:
        code=script_code("gather_tables"),
    script:
        "../workflow/scripts/gather_tables.py"


rule profiles:
    input:
        concepts=paths.concepts("{model}"),
        acts=paths.activations("{model}", "{suite}"),
        manifest=paths.activation_manifest("{model}", "{suite}"),
        table=get_profile_table,
    output:
        paths.profiles("{model}", "{suite}"),
    log:
        "logs/profiles/{model}/{suite}.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        code=script_code("profiles"),
    script:
        "../workflow/scripts/profiles.py"
