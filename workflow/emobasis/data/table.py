"""The generic ``table`` adapter: any CSV, TSV, JSONL or Parquet file with a column mapping in the
config, read as the user meant it or stopped with an error that names the fix. Its options (file format,
label values) and their cross-checks that the schema cannot express are here too.

Every mapped column is read as text (``"007"`` and ``"7"`` stay two ids); labels are declared values
(``unsafe_values`` / ``safe_values``, defaults 1/true/yes/unsafe and 0/false/no/safe) or a numeric score
with ``unsafe_threshold`` (unsafe when >= it), and any other cell is an error naming its rows; leading
comment lines can be skipped (``comment``), the separator set (``sep``), and a chat column (a list of
role/content turns, or a JSON string of one) mapped as ``messages`` gives prompt (last user turn before
the last assistant turn) and response (the last assistant turn).
"""

from __future__ import annotations

import gzip
import json
import math
import numbers
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from emobasis.errors import SuiteError, TableSpecError
from emobasis.paths import inside


class Where(NamedTuple):
    """Where a table's options live, for error messages: ``subject`` ("suite 'mine'") and the config ``key``
    under which its options are set ("suites.mine", "suites.own.prompts[2]")."""

    subject: str
    key: str
    error: type = SuiteError


def is_missing(value) -> bool:
    """An empty cell: None, NaN or blank text."""
    return (
        value is None
        or (isinstance(value, float) and np.isnan(value))
        or (isinstance(value, str) and not value.strip())
    )


def _rows_note(positions) -> str:
    """``rows 2, 5, 9, ...`` (data rows counted from 1) for the first few positions."""
    pos = [int(p) + 1 for p in positions]
    return "row" + ("s " if len(pos) > 1 else " ") + ", ".join(map(str, pos[:5])) + (", ..." if len(pos) > 5 else "")


def _open_text(path: Path):
    """The file as text (UTF-8, a leading byte-order mark dropped; ``.gz`` decompressed)."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _skip_leading_comments(fh, prefix: str | None) -> int:
    """Move ``fh`` past its leading lines that start with ``prefix`` (and blank lines among them)."""
    if not prefix:
        return 0
    skipped = 0
    while True:
        pos = fh.tell()
        line = fh.readline()
        if not line or not (line.lstrip().startswith(prefix) or not line.strip()):
            fh.seek(pos)
            return skipped
        skipped += 1


def _object_frame(columns: dict[str, list]) -> pd.DataFrame:
    """A frame whose cells stay the Python values read (ints stay ints, lists stay lists)."""
    return pd.DataFrame({str(k): pd.Series(v, dtype=object) for k, v in columns.items()})


def _read_jsonl(fh, first_line: int = 1) -> pd.DataFrame:
    records = []
    for lineno, line in enumerate(fh, start=first_line):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValueError(f"line {lineno}: {exc}") from exc
        if not isinstance(rec, dict):
            raise ValueError(f"line {lineno} is not a JSON object")
        records.append(rec)
    names = list(dict.fromkeys(k for rec in records for k in rec))
    return _object_frame({k: [rec.get(k) for rec in records] for k in names})


def _read_parquet(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return _object_frame({name: table.column(name).to_pylist() for name in table.column_names})


def _separator(spec: dict, fmt: str) -> str:
    sep = spec.get("sep") or ("\t" if fmt == "tsv" else ",")
    return "\t" if sep in ("\\t", "tab") else sep


def _read_raw(root: Path, spec: dict, where: Where) -> pd.DataFrame:
    """The user's file as a frame: csv/tsv cells as strings (empty cells ''), jsonl/parquet cells as read."""
    path = inside(root, spec["file"], f"{where.key}.file")
    fmt = table_format(spec)
    if fmt is None:
        raise where.error(
            f"{where.subject}: cannot tell the format of '{spec['file']}'. "
            f"Fix: set {where.key}.format to csv, tsv, jsonl or parquet."
        )
    if fmt == "parquet" and spec.get("comment"):
        raise where.error(
            f"{where.subject}: comment is set but '{spec['file']}' is a parquet file. Fix: remove {where.key}.comment."
        )
    try:
        if fmt == "parquet":
            return _read_parquet(path)
        with _open_text(path) as fh:
            skipped = _skip_leading_comments(fh, spec.get("comment"))
            if fmt == "jsonl":
                return _read_jsonl(fh, first_line=skipped + 1)
            return pd.read_csv(fh, sep=_separator(spec, fmt), dtype=str, keep_default_na=False, na_filter=False)
    except (ValueError, pd.errors.ParserError, OSError) as exc:  # pyarrow's ArrowInvalid/ArrowIOError too
        if isinstance(exc, UnicodeDecodeError):
            hint = " and saved as UTF-8"
        elif fmt in ("csv", "tsv"):
            hint = (
                f" (read with separator {_separator(spec, fmt)!r}; set {where.key}.sep, or "
                f"{where.key}.comment to skip leading comment lines)"
            )
        else:
            hint = ""
        raise where.error(
            f"{where.subject}: could not read '{spec['file']}' as {fmt}: "
            f"{' '.join(str(exc).split())}. Fix: check the file is well formed{hint}."
        ) from exc


def _text(value) -> str | None:
    """A cell as text, never as a number read from it (None: empty). Numbers stored as numbers in
    JSONL/Parquet become their plain decimal text (7 -> '7')."""
    if is_missing(value):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _id_column(raw: pd.DataFrame, col: str, what: str, where: Where) -> pd.Series:
    """An id column as text; empty ids are an error."""
    out = raw[col].map(_text)
    empty = np.flatnonzero(out.isna().to_numpy())
    if len(empty):
        raise where.error(
            f"{where.subject}: {what} column '{col}' has {len(empty)} empty cell(s) at "
            f"{_rows_note(empty)} (the first data row is 1). "
            f"Fix: give every row a {what}, or remove those rows from the file."
        )
    return out.astype(object)


def _label_column(series: pd.Series, spec: dict, keys: tuple[str, str], column: str, where: Where) -> pd.Series:
    """A label column as booleans: values in ``spec[keys[0]]`` are True, those in ``spec[keys[1]]`` False
    (defaults: :data:`emobasis.data.table.DEFAULT_LABEL_VALUES`); any other value, empty included, is an error."""
    true_key, false_key = keys
    truth, falsity = label_values(spec, true_key), label_values(spec, false_key)
    cell = series.map(label_key)
    is_true, is_false = cell.isin(truth).to_numpy(), cell.isin(falsity).to_numpy()
    bad = np.flatnonzero(~(is_true | is_false))
    if len(bad):
        counts = cell.iloc[bad].value_counts(sort=True)
        shown = ", ".join(
            f"{_value_name(series.iloc[bad][cell.iloc[bad] == k].iloc[0])} x{n}" for k, n in counts.head(5).items()
        )
        more = f" and {len(counts) - 5} more value(s)" if len(counts) > 5 else ""
        raise where.error(
            f"{where.subject}: column '{column}' has {len(bad)} cell(s) that are neither {true_key} "
            f"{_value_list(truth)} nor {false_key} {_value_list(falsity)}: {shown}{more}, at {_rows_note(bad)} "
            f"(the first data row is 1). Fix: correct those cells, or list each value in {where.key}.{true_key} "
            f"or {where.key}.{false_key}"
            + (" (or set unsafe_threshold for a numeric score)" if true_key == "unsafe_values" else "")
            + "."
        )
    return pd.Series(is_true, index=series.index)


def _value_name(value) -> str:
    return "(empty)" if label_key(value) == "" else repr(value if isinstance(value, str) else _text(value))


def _value_list(keys: set[str]) -> str:
    return "[" + ", ".join(sorted(keys)) + "]" if keys else "[]"


def _threshold_column(series: pd.Series, threshold: float, column: str, where: Where) -> pd.Series:
    """``unsafe = score >= threshold`` for a numeric score column; a non-numeric or empty cell is an error."""

    def number(v):
        if isinstance(v, bool):
            return None
        try:
            x = float(v.strip() if isinstance(v, str) else v)
        except (TypeError, ValueError):
            return None
        return x if math.isfinite(x) else None

    score = series.map(number)
    bad = np.flatnonzero(score.isna().to_numpy())
    if len(bad):
        values = list(dict.fromkeys(_value_name(series.iloc[i]) for i in bad))
        raise where.error(
            f"{where.subject}: column '{column}' has {len(bad)} cell(s) that are not numbers "
            f"({', '.join(values[:5])}{', ...' if len(values) > 5 else ''}) at {_rows_note(bad)} "
            f"(the first data row is 1), but {where.key}.unsafe_threshold = {threshold:g} reads it "
            "as a numeric score. Fix: correct or remove those rows, or drop unsafe_threshold and list "
            "the column's values in unsafe_values and safe_values."
        )
    return score.astype(float) >= threshold


USER_ROLES = ("user", "human")
ASSISTANT_ROLES = ("assistant", "gpt", "bot", "model")


def _turns(value) -> list | None:
    """The turns of a chat cell: a list (JSONL/Parquet) or a JSON string of one; None: empty cell."""
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return list(value)
    if is_missing(value):
        return None
    if isinstance(value, str):
        parsed = json.loads(value)  # JSONDecodeError is a ValueError
        if isinstance(parsed, list):
            return parsed
    raise ValueError("not a list of turns")


def _turn_text(content) -> str | None:
    """A turn's content: a string, or a list of parts whose ``text`` is joined (OpenAI style)."""
    if isinstance(content, list):
        parts = [p.get("text") if isinstance(p, dict) else p for p in content]
        content = "\n".join(str(p) for p in parts if isinstance(p, str))
    return _text(content)


def _chat_pair(value) -> tuple[str | None, str | None] | str:
    """(prompt, response) of a chat cell, or the reason it has none ("no assistant turn", ...)."""
    turns = _turns(value)
    if turns is None:
        return None, None
    roles, texts = [], []
    for t in turns:
        if not isinstance(t, dict):
            return "a turn that is not a {role, content} object"
        role = t.get("role", t.get("from"))
        roles.append(str(role).strip().lower() if role is not None else "")
        texts.append(_turn_text(t.get("content", t.get("value"))))
    last_assistant = max((i for i, r in enumerate(roles) if r in ASSISTANT_ROLES), default=None)
    if last_assistant is None:
        return "no assistant turn"
    last_user = max((i for i, r in enumerate(roles[:last_assistant]) if r in USER_ROLES), default=None)
    if last_user is None:
        return "no user turn before the last assistant turn"
    return texts[last_user], texts[last_assistant]


def _chat_columns(series: pd.Series, column: str, where: Where) -> tuple[pd.Series, pd.Series]:
    """Prompt and response from a chat column: the last assistant turn is the response, the last user
    turn before it the prompt. A row with no such turns, or a cell that is not a list of turns, is an error."""
    pairs, problems = [], {}
    for i, value in enumerate(series):
        try:
            pair = _chat_pair(value)
        except ValueError:
            pair = "a cell that is not a list of turns (nor a JSON string of one)"
        if isinstance(pair, str):
            problems.setdefault(pair, []).append(i)
            pair = (None, None)
        pairs.append(pair)
    if problems:
        what = "; ".join(f"{len(rows)} with {why} at {_rows_note(rows)}" for why, rows in problems.items())
        raise where.error(
            f"{where.subject}: chat column '{column}' has {sum(map(len, problems.values()))} row(s) "
            f"without a prompt and a response: {what} (the first data row is 1; roles read: user/human "
            f"and assistant/gpt/bot/model). Fix: remove those rows, or map prompt and response "
            f"columns instead of {where.key}.columns.messages."
        )
    return (
        pd.Series([p for p, _ in pairs], index=series.index, dtype=object),
        pd.Series([r for _, r in pairs], index=series.index, dtype=object),
    )


def _read_mapped(root: Path, spec: dict, where: Where) -> pd.DataFrame:
    """The file as :func:`_read_raw` reads it, checked to hold every column that ``spec["columns"]`` maps."""
    raw = _read_raw(root, spec, where)
    missing = [f"{k} -> '{v}'" for k, v in spec["columns"].items() if v not in raw.columns]
    if missing:
        hint = ""
        if not spec.get("comment") and any(str(c).lstrip().startswith("#") for c in raw.columns[:1]):
            hint = f", or set {where.key}.comment: '#' to skip the file's leading comment lines"
        elif len(raw.columns) == 1 and table_format(spec) in ("csv", "tsv"):
            hint = f", or set {where.key}.sep to the file's column separator"
        raise where.error(
            f"{where.subject}: file '{spec['file']}' lacks mapped column(s) {', '.join(missing)} "
            f"(it has: {', '.join(map(str, raw.columns))}). Fix: correct {where.key}.columns{hint}."
        )
    return raw


def read_table(root: Path, spec: dict, suite: str) -> tuple[pd.DataFrame, dict]:
    """A user's suite: a CSV/TSV, JSONL or Parquet file plus a mapping of canonical -> file columns.

    Every mapped id and text column is read as text (``007`` stays ``007``). Labels: ``unsafe_values``
    and ``safe_values`` (or ``unsafe_threshold`` for a numeric score, unsafe when ``>=``), ``benign_values``
    and ``not_benign_values``; any other label value is an error. ``columns.messages`` reads prompt and
    response from a chat column. Rows without a prompt or a response are dropped and counted.
    """
    where = Where(f"suite '{suite}'", f"suites.{suite}")
    raw = _read_mapped(root, spec, where)
    cols = spec["columns"]
    if "messages" in cols:
        prompt, response = _chat_columns(raw[cols["messages"]], cols["messages"], where)
    else:
        prompt, response = raw[cols["prompt"]].map(_text), raw[cols["response"]].map(_text)
    if "unsafe_threshold" in spec:
        unsafe = _threshold_column(raw[cols["unsafe"]], float(spec["unsafe_threshold"]), cols["unsafe"], where)
    else:
        unsafe = _label_column(raw[cols["unsafe"]], spec, ("unsafe_values", "safe_values"), cols["unsafe"], where)
    df = pd.DataFrame(
        {
            "item_id": _id_column(raw, cols["item_id"], "item_id", where).radd(f"{suite}-"),
            "prompt": prompt.astype(object),
            "responder": _id_column(raw, cols["responder"], "responder", where) if "responder" in cols else suite,
            "response": response.astype(object),
            "category": raw[cols["category"]].map(_text).fillna("").astype(object) if "category" in cols else "",
            "attack": "none",
            "unsafe": unsafe.astype(bool),
            "benign": (
                _label_column(
                    raw[cols["benign"]], spec, ("benign_values", "not_benign_values"), cols["benign"], where
                ).astype(bool)
                if "benign" in cols
                else False
            ),
        }
    )
    n = len(df)
    keep = ~(df["response"].map(is_missing) | df["prompt"].map(is_missing))
    return df[keep].reset_index(drop=True), {"dropped_no_response": int(n - keep.sum())}


def keep_rows(raw: pd.DataFrame, entry: dict, where: Where) -> pd.DataFrame:
    """The rows of a prompt file whose cells are in ``entry["keep_rows"]`` (file column -> list of values, read as
    text; every column must match). An unknown column, or no row left, is an error that names the fix."""
    rules = entry.get("keep_rows") or {}
    keep = np.ones(len(raw), bool)
    for col, values in rules.items():
        if col not in raw.columns:
            raise where.error(
                f"{where.subject}: keep_rows names column '{col}', which file '{entry['file']}' lacks (it has: "
                f"{', '.join(map(str, raw.columns))}). Fix: correct {where.key}.keep_rows."
            )
        keep &= raw[col].map(_text).isin([_text(v) for v in values]).to_numpy()
    if rules and not keep.any():
        seen = {c: sorted(map(str, raw[c].map(_text).dropna().unique()))[:8] for c in rules}
        raise where.error(
            f"{where.subject}: no row of '{entry['file']}' matches keep_rows {rules} (values there: {seen}). "
            f"Fix: correct {where.key}.keep_rows."
        )
    return raw[keep].reset_index(drop=True)


def row_ids(entry: dict, index: pd.Index) -> pd.Series:
    """Ids of a prompt file without an id column: ``<file name without its extensions>-<data row>`` (the first
    data row is 1), stable while the file's sha256 is."""
    stem = Path(entry["file"]).name.split(".")[0]
    return pd.Series([f"{stem}-{i}" for i in range(1, len(index) + 1)], index=index, dtype=object)


def read_prompt_file(root: Path, entry: dict, where: Where) -> tuple[pd.DataFrame, dict]:
    """A prompt file of the own-answer study, read exactly as a suite's table is (formats, ``comment``,
    ``sep``, a byte-order mark, ids as text): ``columns`` maps ``prompt`` (required), ``item_id`` (optional:
    without it, :func:`row_ids`), ``benign`` and ``category`` (optional); ``keep_rows`` keeps only the rows
    with the listed values (:func:`keep_rows`; data row numbers count the kept rows). ``benign`` cells must
    be in ``benign_values`` / ``not_benign_values`` (defaults 1/true/yes/benign/safe and
    0/false/no/harmful/unsafe); any other value, an empty cell included, is an error naming its rows.
    Without a ``benign`` column every prompt is benign when the entry's ``label`` is ``safe``, harmful
    otherwise (:func:`emobasis.data.prompts.check_entry_options` refuses both). A file without data rows, or
    without a prompt in any row, is an error; rows with an empty prompt are dropped and counted. Returns
    (``item_id, prompt, benign, category`` with surrounding white space trimmed from prompts, stats)."""
    cols = entry["columns"]
    raw = _read_mapped(root, entry, where)
    if raw.empty:
        raise where.error(
            f"{where.subject}: file '{entry['file']}' has no data rows (a header only). "
            f"Fix: add prompts to the file, or remove the entry {where.key}."
        )
    raw = keep_rows(raw, entry, where)
    if "benign" in cols:
        benign = _label_column(
            raw[cols["benign"]], entry, ("benign_values", "not_benign_values"), cols["benign"], where
        )
    else:
        benign = pd.Series(entry.get("label") == "safe", index=raw.index)
    df = pd.DataFrame(
        {
            "item_id": (
                _id_column(raw, cols["item_id"], "item_id", where) if "item_id" in cols else row_ids(entry, raw.index)
            ),
            "prompt": raw[cols["prompt"]].map(_text).map(lambda s: s.strip() if isinstance(s, str) else s),
            "benign": benign.astype(bool),
            "category": raw[cols["category"]].map(_text).fillna("").astype(object) if "category" in cols else "",
        }
    )
    keep = ~df["prompt"].map(is_missing).astype(bool)
    if not keep.any():
        raise where.error(
            f"{where.subject}: every prompt cell of column '{cols['prompt']}' in '{entry['file']}' is empty. "
            f"Fix: correct {where.key}.columns.prompt (the file has: {', '.join(map(str, raw.columns))})."
        )
    return df[keep].reset_index(drop=True), {"dropped_no_prompt": int(len(df) - keep.sum())}


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
#: a prompt entry's options that only its table reader reads
TABLE_ENTRY_OPTIONS = (
    "file",
    "columns",
    "format",
    "sep",
    "comment",
    "benign_values",
    "not_benign_values",
    "keep_rows",
)
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


def check_table_file(where: str, spec: dict, source: str, cfg: dict) -> None:
    """Cross-checks of a table file's options (a suite's or a prompt entry's) that the schema cannot express:
    the file is one of the source's, its format is known, ``sep`` and ``comment`` suit it, and no label
    value is in both lists of a pair. ``where`` is the config key of the options."""
    if spec["file"] not in cfg["sources"][source]["files"]:
        raise TableSpecError(
            f"{where}.file '{spec['file']}' is not listed in sources.{source}.files. Fix: add it there with its sha256."
        )
    fmt = table_format(spec)
    if fmt is None:
        raise TableSpecError(
            f"{where}: cannot tell the format of '{spec['file']}' from its name. "
            f"Fix: set {where}.format to one of: csv, tsv, jsonl, parquet."
        )
    if "sep" in spec and fmt not in ("csv", "tsv"):
        raise TableSpecError(
            f"{where}.sep is set but '{spec['file']}' is read as {fmt}. "
            "Fix: remove sep (it applies to csv and tsv files only) or correct the format."
        )
    if "comment" in spec and fmt == "parquet":
        raise TableSpecError(
            f"{where}.comment is set but '{spec['file']}' is a parquet file. "
            "Fix: remove comment (it applies to csv, tsv and jsonl files only)."
        )
    for true_key, false_key in LABEL_VALUE_PAIRS:
        both = label_values(spec, true_key) & label_values(spec, false_key)
        if both:
            raise TableSpecError(
                f"{where}: value(s) {sorted(both)} are in both {true_key} and {false_key}. "
                "Fix: list each label value in one of them only."
            )


def check_table_suite(name: str, suite: dict, cfg: dict) -> None:
    """Cross-checks of a table suite's options that the schema cannot express (config validation turns
    the error into a ConfigError)."""
    where = f"suites.{name}"
    check_table_file(where, suite, suite["source"], cfg)
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
