# Across tasks: leave-one-suite-out scores per holdout (emobasis.transfer.crosssuite), their tables, the figure.
# A suite with `role: test` is scored here and never fit (the transfer grid leaves its rows out).


rule cross_suite:
    input:
        unpack(get_cross_suite_inputs),
    output:
        summary="results/transfer/cross_suite/{holdout}.parquet",
        stability="results/transfer/cross_suite/{holdout}.stability.parquet",
    log:
        "logs/cross_suite/{holdout}.log",
    benchmark:
        "benchmarks/cross_suite/{holdout}.tsv"
    conda:
        "../envs/emobasis.yaml"
    threads: 1
    params:
        settings=cross_suite_settings(),
        code=script_code("cross_suite"),
    script:
        "../workflow/scripts/cross_suite.py"


rule gather_cross_suite:
    input:
        summaries=expand(
            "results/transfer/cross_suite/{holdout}.parquet", holdout=study_models()
        ),
        stability=expand(
            "results/transfer/cross_suite/{holdout}.stability.parquet",
            holdout=study_models(),
        ),
    output:
        table="results/tables/cross_suite.csv",
        stability="results/tables/cross_suite_stability.csv",
    log:
        "logs/gather_cross_suite.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        code=script_code("cross_suite_gather"),
    script:
        "../workflow/scripts/cross_suite_gather.py"


rule plot_cross_suite:
    input:
        "results/tables/cross_suite.csv",
    output:
        report(
            "results/figures/cross_suite.png",
            caption="../workflow/report/cross_suite.rst",
            category="1. Transfer",
            subcategory="Across suites",
        ),
    log:
        "logs/plot_cross_suite.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        verdict=config["verdict"],
        holdouts=study_models(),
        code=script_code("cross_suite_plot"),
    script:
        "../workflow/scripts/cross_suite_plot.py"
