"""The config of a ``table`` suite: file formats and label values, and the cross-checks of its options that
the schema cannot express (config validation turns :class:`TableSpecError` into a ConfigError)."""

from __future__ import annotations

import math
import numbers
from pathlib import Path

from emobasis import EmobasisError


class TableSpecError(EmobasisError):
    """A table suite's config options contradict each other or the file."""


#: file name ending -> format of a table suite's file (a trailing .gz is read through gzip)
TABLE_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".pq": "parquet",
}
#: default label values of a table suite when the config names none (matched case-insensitively)
DEFAULT_LABEL_VALUES = {
    "unsafe_values": (1, "true", "yes", "unsafe"),
    "safe_values": (0, "false", "no", "safe"),
    "benign_values": (1, "true", "yes", "benign", "safe"),
    "not_benign_values": (0, "false", "no", "harmful", "unsafe"),
}
#: the pairs of label-value lists: (values meaning true, values meaning false) of the unsafe/benign columns
LABEL_VALUE_PAIRS = (("unsafe_values", "safe_values"), ("benign_values", "not_benign_values"))
#: YAML 1.1 reads yes/no/on/off as booleans: a boolean in the config stands for all of its spellings
_BOOL_SPELLINGS = {True: ("true", "yes", "on"), False: ("false", "no", "off")}


def table_format(spec: dict) -> str | None:
    """Format of a table suite's file: ``format`` if set, else from the file name (None: unknown)."""
    if spec.get("format"):
        return spec["format"]
    suffixes = [s.lower() for s in Path(spec.get("file", "")).suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return TABLE_FORMATS.get(suffixes[-1]) if suffixes else None


def label_key(value) -> str:
    """A label cell (or config value) as a comparable string: trimmed, lower case, numbers without a
    trailing ``.0`` (``1``, ``1.0`` and ``"1"`` are equal); empty cells give ``""``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, numbers.Real):
        v = float(value)
        if math.isnan(v):
            return ""
        return str(int(v)) if v.is_integer() else repr(v)
    text = str(value).strip().lower()
    try:
        v = float(text)
    except ValueError:
        return text
    return (str(int(v)) if v.is_integer() else repr(v)) if math.isfinite(v) else text


def label_values(spec: dict, key: str) -> set[str]:
    """The label keys (:func:`label_key`) that ``spec[key]`` names, else the default ones; a default list
    leaves out what the other list of its pair names (``unsafe_values: [0]`` takes 0 out of the safe ones)."""

    def keys(values):
        out = set()
        for v in values:
            out |= set(_BOOL_SPELLINGS[v]) if isinstance(v, bool) else {label_key(v)}
        return out

    if spec.get(key) is not None:
        return keys(spec[key])
    other = next(b if a == key else a for a, b in LABEL_VALUE_PAIRS if key in (a, b))
    return keys(DEFAULT_LABEL_VALUES[key]) - (keys(spec[other]) if spec.get(other) is not None else set())


def check_table_suite(name: str, suite: dict, cfg: dict) -> None:
    """Cross-checks of a table suite's options that the schema cannot express (config validation turns
    the error into a ConfigError)."""
    where = f"suites.{name}"
    if suite["file"] not in cfg["sources"][suite["source"]]["files"]:
        raise TableSpecError(
            f"{where}.file '{suite['file']}' is not listed in sources.{suite['source']}.files. "
            "Fix: add it there with its sha256."
        )
    fmt = table_format(suite)
    if fmt is None:
        raise TableSpecError(
            f"{where}: cannot tell the format of '{suite['file']}' from its name. "
            f"Fix: set {where}.format to one of: csv, tsv, jsonl, parquet."
        )
    if "sep" in suite and fmt not in ("csv", "tsv"):
        raise TableSpecError(
            f"{where}.sep is set but '{suite['file']}' is read as {fmt}. "
            "Fix: remove sep (it applies to csv and tsv files only) or correct the format."
        )
    if "comment" in suite and fmt == "parquet":
        raise TableSpecError(
            f"{where}.comment is set but '{suite['file']}' is a parquet file. "
            "Fix: remove comment (it applies to csv, tsv and jsonl files only)."
        )
    cols = suite["columns"]
    if "messages" in cols:
        both = [c for c in ("prompt", "response") if c in cols]
        if both:
            raise TableSpecError(
                f"{where}.columns maps both 'messages' and '{both[0]}'. Fix: map either messages "
                "(a chat column: prompt = last user turn, response = last assistant turn) or "
                "prompt and response."
            )
    else:
        lacking = [c for c in ("prompt", "response") if c not in cols]
        if lacking:
            raise TableSpecError(
                f"missing key '{where}.columns.{lacking[0]}'. Fix: map the file's {lacking[0]} "
                "column, or map 'messages' to a chat column (a list of {role, content} turns)."
            )
    if "unsafe_threshold" in suite:
        given = [k for k in ("unsafe_values", "safe_values") if k in suite]
        if given:
            raise TableSpecError(
                f"{where} sets both unsafe_threshold and {given[0]}. Fix: use unsafe_threshold for "
                f"a numeric score column, or {given[0]} for a column of label values, not both."
            )
    for true_key, false_key in LABEL_VALUE_PAIRS:
        both = label_values(suite, true_key) & label_values(suite, false_key)
        if both:
            raise TableSpecError(
                f"{where}: value(s) {sorted(both)} are in both {true_key} and {false_key}. "
                "Fix: list each label value in one of them only."
            )
