rule build_model:
    output:
        model_manifest("{model}"),
    log:
        "logs/build_model/{model}.log",
    benchmark:
        "benchmarks/build_model/{model}.tsv"
    conda:
        "../envs/emobasis.yaml"
    threads: 2
    params:
        spec=get_model_spec,
        code=script_code("build_model"),
    script:
        "../workflow/scripts/build_model.py"
