"""Stage 3, labels: what an answer is, measured.

Owns ``judge`` (the offline answer judge: does a response give the harmful help asked for?), ``tone`` (the
transparent tone scorer: does it *sound* calm?) and ``answers`` (the models' own answers labelled as suite
tables, their counts, the audit sample and the study's minimums).

May use: :mod:`emobasis.data`, :mod:`emobasis.models` and the leaf modules. Independent of
:mod:`emobasis.concepts`: a label never depends on a concept direction, nor the reverse.
"""
