"""Stage 6, report: what a reader opens.

Owns ``verdict`` (the pre-registered rule and the claims behind it), ``sections`` (the summary's
paragraphs that read many cells at once), ``summary`` (results/summary.md, its HTML page, provenance),
``plots`` (figures) and ``readme`` (the README's generated blocks).

May use every stage below it. Only :mod:`emobasis.config` sits above it.
"""
