rule pilot_answers:
    input:
        model=model_manifest("{model}"),
        prompts=paths.prompt_set("{suite}"),
    output:
        "results/pilot/answers/{model}/{suite}.parquet",
    log:
        "logs/pilot_answers/{model}/{suite}.log",
    benchmark:
        "benchmarks/pilot_answers/{model}/{suite}.tsv"
    conda:
        "../envs/emobasis.yaml"
    threads: 2
    params:
        settings=get_generation_settings,
        pilot=config.get("pilot"),
        seed=config["seed"],
        code=script_code("pilot_answers"),
    script:
        "../workflow/scripts/pilot_answers.py"


rule pilot_estimate:
    input:
        answers=pilot_answer_files(),
        prompts=[paths.prompt_set(s) for s in answer_count_suites("fit")],
    output:
        "results/pilot/estimate.csv",
    log:
        "logs/pilot_estimate.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        models=study_models(),
        suites=answer_count_suites("fit"),
        pilot=config.get("pilot"),
        minimums=get_answer_minimums,
        seed=config["seed"],
        code=script_code("pilot_estimate"),
    script:
        "../workflow/scripts/pilot_estimate.py"
