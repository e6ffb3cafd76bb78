rule fetch_source:
    output:
        "resources/data/{source}/MANIFEST.json",
    params:
        spec=get_source_spec,
    log:
        "logs/fetch_source/{source}.log",
    script:
        "../workflow/scripts/fetch_source.py"


rule build_suite:
    input:
        manifest=get_suite_manifest,
    output:
        table="results/suites/{suite}.parquet",
        summary="results/suites/{suite}.summary.json",
    params:
        suite=get_suite_params,
        split=config["split"],
        tone=config["tone"],
        seed=config["seed"],
    log:
        "logs/build_suite/{suite}.log",
    script:
        "../workflow/scripts/build_suite.py"


rule check_tone_scorer:
    input:
        "results/suites/{suite}.parquet",
    output:
        "results/tables/tone_scorer_{suite}.csv",
    log:
        "logs/check_tone_scorer/{suite}.log",
    script:
        "../workflow/scripts/check_tone_scorer.py"


rule build_stimuli:
    input:
        unpack(get_stimulus_inputs),
        templates="workflow/emobasis/resources/control_templates.yaml",
    output:
        "results/stimuli/{stimulus_set}.parquet",
    params:
        spec=get_stimulus_spec,
        seed=config["seed"],
    log:
        "logs/build_stimuli/{stimulus_set}.log",
    script:
        "../workflow/scripts/build_stimuli.py"
