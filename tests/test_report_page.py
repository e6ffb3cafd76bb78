"""The report's front page (workflow/report/workflow.rst, the Snakefile's `report:`): rendered for every study
config as `snakemake --report` renders it, it is well-formed reStructuredText, without a docutils System Message."""

from __future__ import annotations

import io

import pytest
import yaml
from conftest import REPO
from docutils import nodes
from docutils.core import publish_doctree, publish_parts
from docutils.utils import SystemMessage
from emobasis.config import validate_config
from jinja2 import Environment
from snakemake.utils import update_config

PAGE = REPO / "workflow" / "report" / "workflow.rst"
SCHEMA = REPO / "config" / "schema.yaml"

# The config files of each study, in --configfile order over an empty config. The own-answer studies extend the
# Snakefile's `configfile: "config/config.yaml"`; the reader study runs in its own --directory, where that path
# does not exist, so its config stands alone (config.yaml under it fails validation: reader_mode own_answers).
STUDIES = {
    "default": ["config.yaml"],
    "full": ["config.yaml", "study-full.yaml"],
    "gpu": ["config.yaml", "study-gpu.yaml"],
    "reader": ["study-reader.yaml"],
    "gpu-reader": ["study-reader.yaml", "study-gpu.yaml"],
}

# What snakemake.report.auto_report (Snakemake 9.27.1, snakemake/report/__init__.py) appends to the page before
# rendering it (here with no categories and no result files: their loops add only link targets).
RST_LINKS = """

.. _Workflow: javascript:show_panel('workflow')
.. _Statistics: javascript:show_panel('statistics')
{% for cat, catresults in categories|dictsort %}
.. _{{ cat.name }}: javascript:app.showCategory('{{ cat.name|urlencode }}')
{% endfor %}
{% for res in files %}
.. _{{ res.target }}: javascript:app.showResultInfo('{{ res.path|urlencode }}')
{% endfor %}
"""


def study_config(files: list[str]) -> dict:
    """The config the report sees: the files merged as Snakemake merges them, validated as rules/common.smk
    validates it (defaults filled in)."""
    cfg: dict = {}
    for name in files:
        update_config(cfg, yaml.safe_load((REPO / "config" / name).read_text()))
    return validate_config(cfg, SCHEMA)


def page_rst(cfg: dict) -> str:
    """The page through Jinja2 exactly as auto_report renders the global description."""

    class Snakemake:
        config = cfg

    env = Environment(trim_blocks=True, lstrip_blocks=True)
    return env.from_string(PAGE.read_text() + RST_LINKS).render(snakemake=Snakemake, categories={}, files=[])


def numbered(text: str) -> str:
    return "\n".join(f"{i:3d} | {line}" for i, line in enumerate(text.splitlines(), 1))


@pytest.mark.filterwarnings('ignore:Argument "writer_name" will be removed:PendingDeprecationWarning')
@pytest.mark.parametrize("study", list(STUDIES))
def test_report_front_page_renders_without_docutils_messages(study):
    text = page_rst(study_config(STUDIES[study]))
    quiet = {"halt_level": 2, "report_level": 2, "warning_stream": io.StringIO()}  # any warning raises
    try:  # as auto_report publishes it
        html, message = publish_parts(text, writer_name="html", settings_overrides=quiet)["html_body"], None
    except SystemMessage as exc:
        html, message = "", str(exc)
    assert message is None, (
        f"{study}: workflow.rst renders to broken reStructuredText: {message}\n{numbered(text)}\n"
        "Fix: keep each Jinja branch's lines well-formed rst (a tag alone on its line vanishes with its indent "
        "and its newline: trim_blocks, lstrip_blocks)"
    )
    assert "System Message" not in html
    lists = publish_doctree(text, settings_overrides=quiet).findall(nodes.enumerated_list)
    steps = [len(ol.children) for ol in lists]
    assert steps == [5], f"{study}: the numbered steps are {steps} list items, not one list of 5\n{numbered(text)}"
