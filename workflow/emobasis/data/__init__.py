"""Stage 1, data: the inputs every later stage reads, built from pinned sources.

Owns ``sources`` (fetch and verify by sha256), ``suites`` (canonical red-teaming tables), ``table`` (the
generic table adapter: a user's CSV/TSV/JSONL/Parquet file of responses or prompts, one reader, one set of
checks), ``prompts`` (the own-answer study's prompt sets), ``judge_sets`` (the human-labelled response sets
the answer judge learns from), ``stimuli`` (the concept stimulus sets and the study's concept names) and
``splits`` (prompt-disjoint, seeded splits).

May use: :mod:`emobasis.errors`, :mod:`emobasis.io`, :mod:`emobasis.paths`. Nothing of a later stage.
"""
