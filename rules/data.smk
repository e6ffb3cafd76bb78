rule fetch_source:
    output:
        "resources/data/{source}/MANIFEST.json",
    log:
        "logs/fetch_source/{source}.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        spec=get_source_spec,
        code=script_code("fetch_source"),
    script:
        "../workflow/scripts/fetch_source.py"


rule build_suite:
    input:
        unpack(get_suite_inputs),
    output:
        table="results/suites/{suite}.parquet",
        summary="results/suites/{suite}.summary.json",
    log:
        "logs/build_suite/{suite}.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        suite=get_suite_params,
        split=config["split"],
        tone=config["tone"],
        seed=config["seed"],
        models=get_suite_models,
        code=script_code("build_suite"),
    script:
        "../workflow/scripts/build_suite.py"


rule check_tone_scorer:
    input:
        "results/suites/{suite}.parquet",
    output:
        "results/tables/tone_scorer_{suite}.csv",
    log:
        "logs/check_tone_scorer/{suite}.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        code=script_code("check_tone_scorer"),
    script:
        "../workflow/scripts/check_tone_scorer.py"


rule build_stimuli:
    input:
        unpack(get_stimulus_inputs),
        templates=package_resource("control_templates.yaml"),
    output:
        "results/stimuli/{stimulus_set}.parquet",
    log:
        "logs/build_stimuli/{stimulus_set}.log",
    conda:
        "../envs/emobasis.yaml"
    params:
        spec=get_stimulus_spec,
        seed=config["seed"],
        code=script_code("build_stimuli"),
    script:
        "../workflow/scripts/build_stimuli.py"
