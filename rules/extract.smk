rule extract:
    input:
        model=model_manifest("{model}"),
        table=get_dataset_table,
        reads=get_answer_reads,
    output:
        acts=paths.activations("{model}", "{dataset}"),
        manifest=paths.activation_manifest("{model}", "{dataset}"),
    log:
        "logs/extract/{model}/{dataset}.log",
    benchmark:
        "benchmarks/extract/{model}/{dataset}.tsv"
    conda:
        "../envs/emobasis.yaml"
    threads: 2
    params:
        extraction=get_extraction_settings,
        kind=get_dataset_kind,
        max_rows=get_dataset_max_rows,
        own=get_own_responses,
        seed=config["seed"],
        code=script_code("extract"),
    script:
        "../workflow/scripts/extract.py"
