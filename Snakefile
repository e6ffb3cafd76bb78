from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/models.smk"
include: "rules/extract.smk"
include: "rules/concepts.smk"
include: "rules/transfer.smk"
include: "rules/report.smk"


rule all:
    input:
        get_final_output(),
