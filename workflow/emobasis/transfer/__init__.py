"""Stage 5, transfer: the cross-model study.

Owns ``study`` (every model's reads, profiles and labels, rows aligned), ``spaces`` (feature spaces),
``methods`` (the registry of methods), ``align`` (aligners with ``fit``/``transform``), ``heads`` (batched
logistic heads), ``protocol`` (k draws, heads and scoring for one holdout), ``baselines`` (every method's
features or scores), ``metrics`` (AUC, bootstrap, thresholds, permutation p), ``grid`` (the
leave-one-model-out grid, its summary and its files), ``splitseeds`` (the verdict's cell on several
splits), ``crosssuite`` (leave-one-suite-out), ``monitor`` (the deployed monitor), ``anatomy`` (what the
basis is made of) and ``simulate`` (planted-truth worlds).

May use: data, models, labels, concepts and the leaf modules. Never :mod:`emobasis.report`.
"""
