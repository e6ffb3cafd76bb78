"""emobasis: cross-model functional-emotion bases as early-warning monitors for tone-masked safety failures.

One subpackage per stage of the DAG (DESIGN.md has the vocabulary); each stage imports only the stages
below it, as ``pyproject.toml``'s import-linter contracts state and ``make lint`` / the tests check:

- ``config``: the study configuration, validated against config/schema.yaml plus each stage's own checks;
- ``report``: the verdict, the summary and its sections, the figures, the README's blocks;
- ``transfer``: the cross-model study (study data, feature spaces, aligners, heads, the LOMO grid, split
  seeds, cross-suite scoring, the monitor, the basis anatomy, the simulator);
- ``labels`` (the judge, the tone scorer, labelled answer and suite tables) and ``concepts`` (concept
  directions and profiles), which do not know each other;
- ``models``: model folders, encoding, extraction, generation with fused reads;
- ``data``: sources, suites, the table adapter, prompt sets, judge sets, stimuli, splits;
- leaves: ``errors`` (every error class), ``io`` (atomic writes, provenance), ``paths`` (the file layout),
  ``codeversion`` (the hash of the package modules each rule's script runs: its param ``code``).
"""

__version__ = "0.1.0"
