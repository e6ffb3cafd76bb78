rule build_prompts:
    input:
        manifests=get_prompt_manifests,
        exclude=get_excluded_prompt_sets,
    output:
        paths.prompt_set("{suite}"),
    log:
        "logs/build_prompts/{suite}.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        suite=get_suite_params,
        sources=get_prompt_source_names,
        split=config["split"],
        seed=config["seed"],
        code=script_code("build_prompts"),
    script:
        "../workflow/scripts/build_prompts.py"


rule generate:
    input:
        model=model_manifest("{model}"),
        prompts=paths.prompt_set("{suite}"),
        pilot=get_pilot_gate,
    output:
        answers=paths.answers("{model}", "{suite}"),
        reads=paths.answer_reads("{model}", "{suite}"),
        manifest=paths.answer_manifest("{model}", "{suite}"),
    log:
        "logs/generate/{model}/{suite}.log",
    benchmark:
        "benchmarks/generate/{model}/{suite}.tsv"
    conda:
        "../envs/emobasis.yaml"
    threads: 2
    params:
        settings=get_generation_settings,
        code=script_code("generate"),
    script:
        "../workflow/scripts/generate.py"


rule fit_judge:
    input:
        manifests=get_judge_manifests,
    output:
        judge=paths.JUDGE,
        validation="results/tables/judge_validation.csv",
    log:
        "logs/fit_judge.log",
    benchmark:
        "benchmarks/fit_judge.tsv"
    conda:
        "../envs/emobasis.yaml"
    threads: 1
    params:
        judge=config.get("judge"),
        origins=judge_origins(),
        seed=config["seed"],
        code=script_code("fit_judge"),
    script:
        "../workflow/scripts/fit_judge.py"


rule label_answers:
    input:
        prompts=paths.prompt_set("{suite}"),
        answers=paths.answers("{model}", "{suite}"),
        judge=paths.JUDGE,
    output:
        paths.answer_table("{model}", "{suite}"),
    log:
        "logs/label_answers/{model}/{suite}.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        tone=config["tone"],
        code=script_code("label_answers"),
    script:
        "../workflow/scripts/label_answers.py"


rule answer_counts:
    input:
        tables=[paths.suite_table(s) for s in answer_count_suites("fit")],
    output:
        "results/tables/answers.csv",
    log:
        "logs/answer_counts/fit.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        suites=answer_count_suites("fit"),
        minimums=get_answer_minimums,
        code=script_code("answer_counts"),
    script:
        "../workflow/scripts/answer_counts.py"


rule test_answer_counts:
    input:
        tables=[paths.suite_table(s) for s in answer_count_suites("test")],
    output:
        "results/tables/answers_test.csv",
    log:
        "logs/answer_counts/test.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        suites=answer_count_suites("test"),
        minimums=None,
        code=script_code("answer_counts"),
    script:
        "../workflow/scripts/answer_counts.py"


rule answer_report:
    input:
        tables=[paths.suite_table(s) for s in study_suites()],
        judge=paths.JUDGE,
    output:
        audit=report(
            "results/tables/judge_audit.csv",
            caption="../workflow/report/judge_audit.rst",
            category="1. Own answers",
        ),
        figure=report(
            "results/figures/answers.png",
            caption="../workflow/report/answers.rst",
            category="1. Own answers",
        ),
    log:
        "logs/answer_report.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        suites=study_suites(),
        seed=config["seed"],
        code=script_code("answer_report"),
    script:
        "../workflow/scripts/answer_report.py"


rule audit_sheet:
    input:
        tables=[paths.suite_table(s) for s in study_suites()],
    output:
        "results/audit/sheet.csv",
    log:
        "logs/audit_sheet.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        sheets=config.get("audit", {}).get("sheets"),
        seed=config["seed"],
        code=script_code("audit_sheet"),
    script:
        "../workflow/scripts/audit_sheet.py"


rule label_validity:
    input:
        unpack(get_audit_inputs),
        tables=[paths.suite_table(s) for s in study_suites()],
        judge_validation="results/tables/judge_validation.csv",
        embedder=get_embedder_manifest,
    output:
        validity="results/tables/label_validity.csv",
        gate="results/tables/label_gate.csv",
    log:
        "logs/label_validity.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        gate=config.get("audit", {}).get("gate"),
        n_boot=config["transfer"]["n_boot"],
        seed=config["seed"],
        code=script_code("label_validity"),
    script:
        "../workflow/scripts/label_validity.py"
