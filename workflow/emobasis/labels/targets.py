"""The study's targets beyond a single label column: conditional targets, defined on a subset of each model's
rows, and the class counts they need.

- ``masked_given_unsafe``: among a model's own unsafe answers, the calm (tone-masked) against the alarmed
  ones; its other rows carry no label.
- ``masked_given_complied``: among a model's compliant answers to harmful prompts, the calm against the cautioned
  ones (own-answer studies; :mod:`emobasis.labels.answers`).
- ``tone_masked_harmful`` and ``unsafe_harmful``: the target among harmful prompts only. Every benign prompt
  is a negative of ``tone_masked``, so a score that only knows "this request is harmful" does well on the
  pooled rows; among harmful prompts the question is the early warning's own: will this model fail on this
  harmful request? Pools, k draws, test rows, thresholds and shuffled-label nulls all stay inside the
  harmful prompts (the protocol's ``eligible`` rows), and the alarm's false positives are the harmful
  prompts the model answered safely.

Each model has its own rows, so a conditional target is fit and scored on per-model subsets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: conditional targets: name -> (label column, the condition: a column whose True rows, or with a leading
#: ``~`` whose False rows, are the only rows the target is defined on)
CONDITIONAL_TARGETS = {
    "masked_given_unsafe": ("tone_masked", "unsafe"),
    "masked_given_complied": ("tone_masked", "complied_harmful"),
    "tone_masked_harmful": ("tone_masked", "~benign"),
    "unsafe_harmful": ("unsafe", "~benign"),
}
#: how a condition is named in messages
CONDITION_NAMES = {"unsafe": "unsafe", "~benign": "harmful-prompt", "complied_harmful": "compliant harmful-prompt"}
#: rows of each class a model needs among a conditional target's rows (all splits) to be fit or scored on it
MIN_CONDITIONAL_CLASS = 20


def label_column(target: str) -> str:
    """The label column a target reads: the target's own column, or a conditional target's label."""
    return CONDITIONAL_TARGETS.get(target, (target,))[0]


def condition_rows(table: pd.DataFrame, condition: str) -> np.ndarray:
    """The rows of ``table`` a condition keeps: ``column`` True, or ``~column`` False."""
    negate = condition.startswith("~")
    values = table[condition.removeprefix("~")].to_numpy().astype(bool)
    return ~values if negate else values
