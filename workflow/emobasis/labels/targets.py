"""The study's targets beyond a single label column: conditional targets, defined on a subset of each model's
rows, and the class counts they need."""

#: conditional targets: name -> (label column, the column whose True rows are the only rows it is defined on).
#: ``masked_given_unsafe``: among a model's own unsafe answers, the calm (tone-masked) against the alarmed ones;
#: its other rows carry no label. Each model has its own rows, so it is fit and scored on per-model subsets.
CONDITIONAL_TARGETS = {"masked_given_unsafe": ("tone_masked", "unsafe")}
#: rows of each class a model needs among a conditional target's rows (all splits) to be fit or scored on it
MIN_CONDITIONAL_CLASS = 20
