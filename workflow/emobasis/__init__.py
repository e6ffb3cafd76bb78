"""emobasis: cross-model functional-emotion bases as early-warning monitors for tone-masked safety failures.

One module per stage of the study (see DESIGN.md for the vocabulary):
config (validation), sources (fetch and verify data), suites (canonical red-teaming tables),
tone (the transparent tone scorer), splits (prompt-disjoint splits), stimuli (concept stimulus sets),
models (plain HF folders from PyPI packages or the hub), io (atomic writes).
"""

__version__ = "0.1.0"


class EmobasisError(Exception):
    """An error in the user's input that names what is wrong and how to fix it."""
