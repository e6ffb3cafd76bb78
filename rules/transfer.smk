rule embed_responses:
    input:
        embedder=get_embedder_manifest,
        table=paths.suite_table("{suite}"),
    output:
        acts=paths.embeddings("{suite}"),
        manifest="results/embeddings/{suite}.json",
    log:
        "logs/embed_responses/{suite}.log",
    benchmark:
        "benchmarks/embed_responses/{suite}.tsv"
    conda:
        "../envs/emobasis.yaml"
    threads: 2
    params:
        max_rows=config["study"]["max_rows_per_suite"],
        responders=get_suite_responders,
        prompts=own_answers(),
        seed=config["seed"],
        code=script_code("embed_responses"),
    script:
        "../workflow/scripts/embed_responses.py"


rule transfer:
    input:
        unpack(get_transfer_inputs),
    output:
        results=get_transfer_outputs("results/transfer", "parquet"),
        bases=get_basis_outputs(),
        summary="results/transfer/summary/{holdout}.parquet",
        by_suite="results/transfer/summary/{holdout}.by_suite.parquet",
        skipped="results/transfer/summary/{holdout}.skipped.parquet",
    log:
        "logs/transfer/{holdout}.log",
    benchmark:
        "benchmarks/transfer/{holdout}.tsv"
    conda:
        "../envs/emobasis.yaml"
    threads: 1
    params:
        settings=transfer_settings(),
        code=script_code("transfer"),
    script:
        "../workflow/scripts/transfer.py"


rule split_seeds:
    input:
        unpack(get_transfer_inputs),
    output:
        per_seed="results/transfer/split_seeds/{holdout}.parquet",
        combined="results/transfer/split_seeds/{holdout}.combined.parquet",
    log:
        "logs/split_seeds/{holdout}.log",
    benchmark:
        "benchmarks/split_seeds/{holdout}.tsv"
    conda:
        "../envs/emobasis.yaml"
    threads: 1
    params:
        settings=transfer_settings(),
        cell=verdict_cell(),
        fractions=config["split"],
        n=config["study"]["split_seeds"],
        code=script_code("split_seeds"),
    script:
        "../workflow/scripts/split_seeds.py"


rule gather_split_seeds:
    input:
        per_seed=expand(
            "results/transfer/split_seeds/{holdout}.parquet", holdout=study_models()
        ),
        combined=expand(
            "results/transfer/split_seeds/{holdout}.combined.parquet",
            holdout=study_models(),
        ),
    output:
        per_seed="results/tables/split_seeds.csv",
        combined="results/tables/transfer_splits.csv",
    log:
        "logs/gather_split_seeds.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        code=script_code("gather_split_seeds"),
    script:
        "../workflow/scripts/gather_split_seeds.py"


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
        by_suite=expand(
            "results/transfer/summary/{holdout}.by_suite.parquet",
            holdout=study_models(),
        ),
        skipped=expand(
            "results/transfer/summary/{holdout}.skipped.parquet",
            holdout=study_models(),
        ),
    output:
        table="results/tables/transfer.csv",
        summary="results/tables/transfer_summary.csv",
        by_suite="results/tables/transfer_by_suite.csv",
        skipped="results/tables/transfer_skipped.csv",
    log:
        "logs/gather_transfer.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        settings=transfer_settings(),
        code=script_code("gather_transfer"),
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
        settings=transfer_settings(),
        code=script_code("fit_monitor"),
    script:
        "../workflow/scripts/fit_monitor.py"


rule score_model:
    input:
        monitor=monitor_path(),
        tables=[paths.suite_table(s) for s in study_suites()],
        acts=[paths.activations("{model}", s) for s in study_suites()],
        stimuli=get_model_stimulus_activations,
        concepts=paths.concepts("{model}"),
    output:
        "results/scores/{model}.parquet",
    log:
        "logs/score_model/{model}.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        deploy=config["deploy"],
        settings=transfer_settings(),
        code=script_code("score_model"),
    script:
        "../workflow/scripts/score_model.py"
