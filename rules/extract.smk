rule extract:
    input:
        model=model_manifest("{model}"),
        table=get_dataset_table,
    output:
        acts="results/activations/{model}/{dataset}.safetensors",
        manifest="results/activations/{model}/{dataset}.json",
    log:
        "logs/extract/{model}/{dataset}.log",
    conda:
        "../envs/emobasis.yaml"
    threads: 2
    params:
        extraction=config["extraction"],
        kind=get_dataset_kind,
        max_rows=get_dataset_max_rows,
        own=get_own_responses,
        seed=config["seed"],
    script:
        "../workflow/scripts/extract.py"
