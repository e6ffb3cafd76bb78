rule embed_responses:
    input:
        embedder=get_embedder_manifest,
        table="results/suites/{suite}.parquet",
    output:
        acts="results/embeddings/{suite}.safetensors",
        manifest="results/embeddings/{suite}.json",
    log:
        "logs/embed_responses/{suite}.log",
    conda:
        "../envs/emobasis.yaml"
    threads: 2
    params:
        max_rows=config["study"]["max_rows_per_suite"],
        responders=get_suite_responders,
        seed=config["seed"],
    script:
        "../workflow/scripts/embed_responses.py"


rule transfer:
    input:
        unpack(get_transfer_inputs),
    output:
        results=get_transfer_outputs("results/transfer", "parquet"),
        bases=get_basis_outputs(),
        summary="results/transfer/summary/{holdout}.parquet",
    log:
        "logs/transfer/{holdout}.log",
    conda:
        "../envs/emobasis.yaml"
    threads: 1
    params:
        transfer=config["transfer"],
        ranks=config["basis"]["ranks"],
        models=study_models(),
        suites=config["study"]["suites"],
        seed=config["seed"],
    script:
        "../workflow/scripts/transfer.py"


rule gather_transfer:
    input:
        results=expand(
            "results/transfer/{method}/r{rank}/{holdout}.parquet",
            zip,
            **transfer_result_grid(),
        ),
        summaries=expand(
            "results/transfer/summary/{holdout}.parquet", holdout=study_models()
        ),
    output:
        table="results/tables/transfer.csv",
        summary="results/tables/transfer_summary.csv",
    log:
        "logs/gather_transfer.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        transfer=config["transfer"],
        ranks=config["basis"]["ranks"],
        holdouts=study_models(),
    script:
        "../workflow/scripts/gather_transfer.py"


rule fit_monitor:
    input:
        unpack(get_transfer_inputs),
    output:
        monitor_path(),
    log:
        "logs/fit_monitor.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        deploy=config["deploy"],
        transfer=config["transfer"],
        models=study_models(),
        suites=config["study"]["suites"],
    script:
        "../workflow/scripts/fit_monitor.py"


rule score_model:
    input:
        monitor=monitor_path(),
        tables=expand("results/suites/{suite}.parquet", suite=config["study"]["suites"]),
        acts=expand(
            "results/activations/{{model}}/{suite}.safetensors",
            suite=config["study"]["suites"],
        ),
        stimuli=expand(
            "results/activations/{{model}}/{sset}.safetensors",
            sset=config["study"]["stimulus_sets"],
        ),
        concepts="results/concepts/{model}.safetensors",
    output:
        "results/scores/{model}.parquet",
    log:
        "logs/score_model/{model}.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        deploy=config["deploy"],
        transfer=config["transfer"],
        suites=config["study"]["suites"],
        seed=config["seed"],
    script:
        "../workflow/scripts/score_model.py"
