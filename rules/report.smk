rule basis_anatomy:
    input:
        unpack(get_transfer_inputs),
    output:
        loadings="results/tables/basis_loadings.csv",
        fractions="results/tables/predictor_subspace.csv",
        angles="results/tables/predictor_angles.csv",
        top_concepts="results/tables/top_concepts.csv",
    log:
        "logs/basis_anatomy.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        verdict=config["verdict"],
        settings=transfer_settings(),
        code=script_code("basis_anatomy"),
    script:
        "../workflow/scripts/basis_anatomy.py"


rule top_alarms:
    input:
        unpack(get_transfer_inputs),
    output:
        table="results/tables/top_alarms.csv",
        html=report(
            "results/tables/top_alarms.html",
            caption="../workflow/report/top_alarms.rst",
            category="4. Monitor",
        ),
    log:
        "logs/top_alarms.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        verdict=config["verdict"],
        settings=transfer_settings(),
        code=script_code("top_alarms"),
    script:
        "../workflow/scripts/top_alarms.py"


rule plot_data_efficiency:
    input:
        "results/tables/transfer_summary.csv",
    output:
        report(
            "results/figures/data_efficiency/{target}.{position}.png",
            caption="../workflow/report/data_efficiency.rst",
            category="1. Transfer",
            subcategory="Data efficiency",
            labels={"target": "{target}", "position": "{position}"},
        ),
    log:
        "logs/plot_data_efficiency/{target}.{position}.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        rank=config["verdict"]["rank"],
        space=config["verdict"]["space"],
        holdouts=study_models(),
        ks=config["transfer"]["ks"],
        code=script_code("plot_data_efficiency"),
    script:
        "../workflow/scripts/plot_data_efficiency.py"


rule plot_headline:
    input:
        "results/tables/transfer_summary.csv",
    output:
        headline=report(
            "results/figures/headline.png",
            caption="../workflow/report/headline.rst",
            category="1. Transfer",
        ),
        harmful_only=report(
            "results/figures/harmful_only.png",
            caption="../workflow/report/harmful_only.rst",
            category="1. Transfer",
        ),
    log:
        "logs/plot_headline.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        target=config["verdict"]["target"],
        position=config["verdict"]["position"],
        rank=config["verdict"]["rank"],
        space=config["verdict"]["space"],
        holdouts=study_models(),
        ks=config["transfer"]["ks"],
        match_k=config["verdict"]["match_k"],
        code=script_code("plot_headline"),
    script:
        "../workflow/scripts/plot_headline.py"


rule plot_rank_sweep:
    input:
        "results/tables/transfer_summary.csv",
    output:
        report(
            "results/figures/rank_sweep/{target}.png",
            caption="../workflow/report/rank_sweep.rst",
            category="1. Transfer",
            subcategory="Rank sweep",
            labels={"target": "{target}"},
        ),
    log:
        "logs/plot_rank_sweep/{target}.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        positions=config["transfer"]["positions"],
        ranks=config["basis"]["ranks"],
        match_k=config["verdict"]["match_k"],
        space=config["verdict"]["space"],
        code=script_code("plot_rank_sweep"),
    script:
        "../workflow/scripts/plot_rank_sweep.py"


rule plot_basis:
    input:
        loadings="results/tables/basis_loadings.csv",
        fractions="results/tables/predictor_subspace.csv",
        angles="results/tables/predictor_angles.csv",
    output:
        loadings=report(
            "results/figures/basis_loadings.png",
            caption="../workflow/report/basis_loadings.rst",
            category="2. Shared basis",
        ),
        subspace=report(
            "results/figures/predictor_subspace.png",
            caption="../workflow/report/predictor_subspace.rst",
            category="2. Shared basis",
        ),
    log:
        "logs/plot_basis.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        target=config["verdict"]["target"],
        code=script_code("plot_basis"),
    script:
        "../workflow/scripts/plot_basis.py"


rule plot_concepts:
    input:
        "results/concepts/{model}.diagnostics.csv",
    output:
        report(
            "results/figures/concepts/{model}.png",
            caption="../workflow/report/concepts.rst",
            category="3. Concepts",
            labels={"model": "{model}"},
        ),
    log:
        "logs/plot_concepts/{model}.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        code=script_code("plot_concepts"),
    script:
        "../workflow/scripts/plot_concepts.py"


rule write_summary:
    input:
        unpack(get_answer_tables),
        unpack(get_verdict_history),
        summary="results/tables/transfer_summary.csv",
        by_suite="results/tables/transfer_by_suite.csv",
        split_seeds="results/tables/transfer_splits.csv",
        fractions="results/tables/predictor_subspace.csv",
        angles="results/tables/predictor_angles.csv",
        top_concepts="results/tables/top_concepts.csv",
        models=[model_manifest(m) for m in study_models()],
        sources=study_source_manifests(),
        suites=expand("results/suites/{suite}.summary.json", suite=study_suites()),
        stability="results/tables/cross_suite_stability.csv",
    output:
        summary="results/summary.md",
        html=report(
            "results/summary.html",
            caption="../workflow/report/summary.rst",
            category="0. Verdict",
        ),
        claims="results/tables/summary_claims.csv",
    log:
        "logs/write_summary.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        verdict=config["verdict"],
        holdouts=study_models(),
        ks=config["transfer"]["ks"],
        config=config,
        code=script_code("write_summary"),
    script:
        "../workflow/scripts/write_summary.py"
