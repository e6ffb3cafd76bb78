rule build_model:
    output:
        model_manifest("{model}"),
    params:
        spec=get_model_spec,
    threads: 2
    log:
        "logs/build_model/{model}.log",
    script:
        "../workflow/scripts/build_model.py"
