"""Stage 4, concepts: functional-emotion and control directions in each model's hidden states.

Owns ``directions`` (fit per model and layer from the stimulus sets, their diagnostics, the chosen layer and
the concept file) and ``profiles`` (each suite row's scores on every concept).

May use: :mod:`emobasis.data`, :mod:`emobasis.models` and the leaf modules. Independent of
:mod:`emobasis.labels`.
"""
