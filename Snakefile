from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/answers.smk"
include: "rules/models.smk"
include: "rules/extract.smk"
include: "rules/concepts.smk"
include: "rules/transfer.smk"
include: "rules/report.smk"
include: "rules/crosssuite.smk"
include: "rules/pilot.smk"


# Small jobs run where Snakemake runs, even under a cluster executor (profiles/slurm); build_model too: a hub
# model is downloaded into the HF cache there (compute nodes usually have no network).
localrules:
    all,
    build_model,
    fetch_source,
    build_suite,
    build_prompts,
    label_answers,
    answer_counts,
    test_answer_counts,
    build_stimuli,
    check_tone_scorer,
    gather_concept_diagnostics,
    gather_transfer,
    gather_split_seeds,
    plot_data_efficiency,
    plot_headline,
    plot_rank_sweep,
    plot_basis,
    plot_concepts,
    write_summary,
    pilot_estimate,
    gather_cross_suite,
    plot_cross_suite,


rule all:
    input:
        get_final_output(),
