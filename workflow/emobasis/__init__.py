"""emobasis: cross-model functional-emotion bases as early-warning monitors for tone-masked safety failures.

One module per stage of the study (see DESIGN.md for the vocabulary):

- data: ``config`` (validation), ``sources`` (fetch and verify), ``suites`` (canonical red-teaming tables),
  ``tablespec`` / ``tablesuite`` (a user's own suite file: its config and its reader), ``tone`` (the
  transparent tone scorer), ``splits`` (prompt-disjoint splits), ``stimuli`` (concept stimulus sets);
- models and reads: ``models`` (plain HF folders from PyPI packages or the hub), ``extract`` (pooled
  hidden states), ``generate`` (own answers with reads pooled while generating), ``judge`` (the offline
  judge of answers), ``embed`` (sentence embeddings for the text baselines);
- concepts: ``concepts`` (directions, diagnostics, profiles, the concept file);
- transfer: ``study`` (the cross-model study from files), ``methods`` (the registry of methods),
  ``align`` (aligners), ``heads`` (batched ridge-logistic heads), ``protocol`` (k draws, heads, scoring),
  ``baselines`` (every method's features or scores), ``transfer`` (the LOMO grid and its summary),
  ``metrics`` (AUC, bootstrap, thresholds), ``monitor`` (deployment), ``anatomy`` (what the basis is made of);
- report: ``verdict`` (the pre-registered rule and claims), ``plots`` (figures), ``report`` (summary,
  README block, provenance);
- support: ``paths`` (file layout), ``io`` (atomic writes, provenance), ``simulate`` (planted-truth
  simulator).
"""

__version__ = "0.1.0"


class EmobasisError(Exception):
    """An error in the user's input that names what is wrong and how to fix it."""
