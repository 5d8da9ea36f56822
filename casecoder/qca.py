"""Set-theoretic analysis: Qualitative Comparative Analysis (crisp-set and fuzzy-set QCA).

The module follows the definitions of the R package QCA (Dusa), version 3.x, so that its
numbers can be checked against published R output:

* parameters of fit for sufficiency (``inclS``, ``PRI``, ``covS``, ``covU``) and necessity
  (``inclN``, ``RoN``, ``covN``) of any sum-of-products expression such as ``A*~B + C``;
* direct calibration (Ragin's log-odds method with exclusion, crossover and inclusion
  thresholds, its linear variant, and crisp thresholds);
* the truth table (``n``, ``incl``, ``PRI`` and ``OUT`` per configuration, remainders);
* Boolean minimisation: exact prime implicants and an exact search for *every* minimal
  cover of the prime implicant chart, for the complex (conservative), parsimonious and
  intermediate solutions (easy counterfactuals from directional expectations, as in R's
  ``minimize(..., dir.exp = ...)``).

Everything here is a pure function over immutable data; the only input/output is
:func:`load_table`. See ``docs/qca.md`` for the formulas and the options.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

__all__ = [
    "Model",
    "NecessityFit",
    "QcaColumnError",
    "QcaDataError",
    "QcaError",
    "QcaResult",
    "QcaSpecError",
    "QcaTable",
    "Solution",
    "SufficiencyFit",
    "TermFit",
    "TruthTable",
    "TruthTableRow",
    "calibrate",
    "calibrate_table",
    "complex_solution",
    "format_report",
    "intermediate_solutions",
    "load_table",
    "membership",
    "necessity",
    "necessity_analysis",
    "parse_expression",
    "parsimonious_solution",
    "result_to_dict",
    "run",
    "sufficiency",
    "sufficiency_analysis",
    "truth_table",
]

# Two floats closer than this count as equal when compared with a cut-off (R's all.equal).
_TOL = 1.5e-8

# Safety valve: a pathological PI chart can have astronomically many tied minimal models.
MAX_MODELS = 1_000
# Steps of the exact cover search before falling back (see _all_minimum_covers).
MAX_SEARCH_STEPS = 50_000
# Minimisation works on arrays of 2**k configurations.
MAX_CONDITIONS = 20
# At most this many intermediate solutions (complex x parsimonious model pairs) are built.
MAX_INTERMEDIATE_PAIRS = 100


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


class QcaError(ValueError):
    """Base class of every error raised by this module."""


class QcaDataError(QcaError):
    """A data file cannot be used: a value is not numeric, out of range, missing, ...

    Attributes
    ----------
    path : str
        The file as it was given.
    line : int or None
        The 1-based line of the file, or None for a problem with the whole file.
    column : str or None
        The column name (the header label), or None when the problem is not in one column.
    field : int or None
        The 1-based position of the field on its line.
    reason : str
        What is wrong, and what was expected.
    """

    def __init__(
        self,
        path: str,
        reason: str,
        *,
        line: int | None = None,
        column: str | None = None,
        field: int | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.column = column
        self.field = field
        self.reason = reason
        if line is None:
            message = f"{path}: {reason}"
        elif column is None:
            message = f"{path} line {line}: {reason}"
        else:
            message = f"{path} line {line}, column {column!r} (field {field}): {reason}"
        super().__init__(message)


class QcaColumnError(QcaError):
    """A condition or outcome name is not a column of the table.

    Attributes
    ----------
    column : str
        The unknown name.
    path : str
        The table's source (file name, or ``"<table>"``).
    known : tuple of str
        The columns that exist.
    """

    def __init__(self, column: str, path: str, known: Sequence[str]) -> None:
        self.column = column
        self.path = path
        self.known = tuple(known)
        super().__init__(f"Column {column!r} is not in {path}. Columns: {', '.join(self.known)}.")


class QcaSpecError(QcaError):
    """An option has a value that cannot be used (a cut-off, a threshold, an expression)."""


# ---------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class QcaTable:
    """A cases-by-columns table of numbers.

    Attributes
    ----------
    cases : tuple of str
        Case names, in file order.
    columns : tuple of str
        Column names, in file order (the case-name column is not one of them).
    values : numpy.ndarray
        Float array of shape ``(len(cases), len(columns))``; read-only.
    source : str, default="<table>"
        Where the table came from, used in error messages.
    """

    cases: tuple[str, ...]
    columns: tuple[str, ...]
    values: np.ndarray
    source: str = "<table>"

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=float)
        if values.ndim != 2 or values.shape != (len(self.cases), len(self.columns)):
            raise QcaSpecError(
                f"values must have shape ({len(self.cases)}, {len(self.columns)}), "
                f"got {values.shape}"
            )
        values.setflags(write=False)
        object.__setattr__(self, "cases", tuple(self.cases))
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "values", values)

    @classmethod
    def from_columns(
        cls,
        data: Mapping[str, Sequence[float]],
        cases: Sequence[str] | None = None,
        source: str = "<table>",
    ) -> QcaTable:
        """Build a table from a mapping of column name to values.

        Parameters
        ----------
        data : Mapping[str, Sequence[float]]
            Column name to the column's values; all columns have the same length.
        cases : Sequence[str] or None, default=None
            Case names; ``"1"``, ``"2"``, ... when None.
        source : str, default="<table>"
            Name used in error messages.

        Returns
        -------
        QcaTable
        """
        columns = list(data)
        arrays = [np.asarray(data[c], dtype=float) for c in columns]
        n = len(arrays[0]) if arrays else 0
        if any(len(a) != n for a in arrays):
            raise QcaSpecError("all columns must have the same length")
        names = tuple(cases) if cases is not None else tuple(str(i + 1) for i in range(n))
        matrix = np.column_stack(arrays) if arrays else np.zeros((n, 0))
        return cls(names, tuple(columns), matrix, source)

    def column(self, name: str) -> np.ndarray:
        """Return one column's values.

        Parameters
        ----------
        name : str
            The column name.

        Returns
        -------
        numpy.ndarray
        """
        return self.values[:, self._index(name)]

    def with_columns(self, data: Mapping[str, Sequence[float]]) -> QcaTable:
        """Return a copy with some columns replaced (or appended when new).

        Parameters
        ----------
        data : Mapping[str, Sequence[float]]
            Column name to new values.

        Returns
        -------
        QcaTable
        """
        columns = list(self.columns)
        values = self.values.copy()
        for name, col in data.items():
            arr = np.asarray(col, dtype=float)
            if arr.shape != (len(self.cases),):
                raise QcaSpecError(f"column {name!r} must have {len(self.cases)} values")
            if name in columns:
                values[:, columns.index(name)] = arr
            else:
                columns.append(name)
                values = np.column_stack([values, arr])
        return QcaTable(self.cases, tuple(columns), values, self.source)

    def _index(self, name: str) -> int:
        try:
            return self.columns.index(name)
        except ValueError:
            raise QcaColumnError(name, self.source, self.columns) from None


_DELIMITERS = {".tsv": "\t", ".tab": "\t", ".csv": ","}


def _sniff_delimiter(path: Path, text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    by_ext = _DELIMITERS.get(path.suffix.lower())
    if by_ext == "\t":
        return "\t"
    counts = {d: first.count(d) for d in ("\t", ",", ";")}
    if by_ext == "," and (counts[","] > 0 or max(counts.values()) == 0):
        return ","
    best = max(counts, key=lambda d: counts[d])
    if counts[best] == 0:
        return by_ext or ","
    return best


_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


def load_table(
    path: str | Path,
    *,
    delimiter: str | None = None,
    membership: bool = True,
) -> QcaTable:
    """Read a CSV/TSV table whose first column holds the case names.

    The header row either labels every field (the first label then names the case column)
    or, as R's ``write.table`` writes it, labels only the data columns. Quoted fields are
    allowed. The delimiter is a tab for ``.tsv``/``.tab``, a comma for ``.csv``, and is
    otherwise sniffed from the first line (tab, comma or semicolon; with a semicolon a
    decimal comma such as ``0,75`` is accepted).

    Parameters
    ----------
    path : str or pathlib.Path
        The file.
    delimiter : str or None, default=None
        Force a delimiter instead of detecting it.
    membership : bool, default=True
        Require every value to be a set membership score in [0, 1] (crisp 0/1 or fuzzy).
        Use False for raw data that is still to be calibrated.

    Returns
    -------
    QcaTable

    Raises
    ------
    QcaDataError
        When a value is missing, not a number or out of range, when a line has the wrong
        number of fields, or when names are missing or repeated. The message names the
        file, the line and the column.
    """
    path = Path(path)
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise QcaDataError(shown, f"cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise QcaDataError(shown, "is not UTF-8 text") from None
    delim = delimiter or _sniff_delimiter(path, text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    rows: list[tuple[int, list[str]]] = []
    for fields in reader:
        if any(f.strip() for f in fields):
            rows.append((reader.line_num, [f.strip() for f in fields]))
    if not rows:
        raise QcaDataError(shown, "is empty; expected a header row and one row per case")
    header_line, header = rows[0]
    body = rows[1:]
    if not body:
        raise QcaDataError(shown, "has a header but no cases", line=header_line)
    width = len(body[0][1])
    if len(header) == width - 1:
        case_label, columns = "case", header
    elif len(header) == width:
        case_label, columns = header[0] or "case", header[1:]
    else:
        raise QcaDataError(
            shown,
            f"the header has {len(header)} fields but the first case row has {width}",
            line=header_line,
        )
    if not columns:
        raise QcaDataError(shown, "has no data columns after the case names", line=header_line)
    offset = 1 + len(header) - len(columns)  # field number of the first data column
    seen: set[str] = set()
    for j, name in enumerate(columns):
        field_no = j + offset
        if not name:
            raise QcaDataError(
                shown, "the column has no name", line=header_line, column="", field=field_no
            )
        if name in seen:
            raise QcaDataError(
                shown,
                "the column name is repeated",
                line=header_line,
                column=name,
                field=field_no,
            )
        seen.add(name)
    cases: list[str] = []
    values = np.zeros((len(body), len(columns)))
    case_seen: dict[str, int] = {}
    for i, (line, fields) in enumerate(body):
        if len(fields) != width:
            raise QcaDataError(
                shown,
                f"expected {width} fields (like the first case row), found {len(fields)}",
                line=line,
            )
        name = fields[0]
        if not name:
            raise QcaDataError(shown, "the case has no name", line=line, column=case_label, field=1)
        if name in case_seen:
            raise QcaDataError(
                shown,
                f"case name {name!r} repeats the one on line {case_seen[name]}",
                line=line,
                column=case_label,
                field=1,
            )
        case_seen[name] = line
        cases.append(name)
        for j, raw in enumerate(fields[1:]):
            column = columns[j]
            values[i, j] = _parse_value(raw, delim, membership, shown, line, column, j + 2)
    return QcaTable(tuple(cases), tuple(columns), values, shown)


def _parse_value(
    raw: str, delim: str, membership: bool, path: str, line: int, column: str, field: int
) -> float:
    if raw == "":
        raise QcaDataError(
            path,
            "the value is empty; QCA needs a value for every case and column",
            line=line,
            column=column,
            field=field,
        )
    text = raw.replace(",", ".") if delim == ";" and _DECIMAL_COMMA.match(raw) else raw
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        expected = "a membership score between 0 and 1" if membership else "a finite number"
        raise QcaDataError(
            path,
            f"value {raw!r} is not a number; expected {expected}",
            line=line,
            column=column,
            field=field,
        )
    if membership and not 0.0 <= value <= 1.0:
        raise QcaDataError(
            path,
            f"value {raw} is outside [0, 1]; set membership scores are crisp (0 or 1) or "
            "fuzzy (between 0 and 1); calibrate raw data first",
            line=line,
            column=column,
            field=field,
        )
    return value


# ---------------------------------------------------------------------------------------
# Expressions and parameters of fit
# ---------------------------------------------------------------------------------------

# A conjunction: (column index, 1 for presence or 0 for absence) per literal.
Term = tuple[tuple[int, int], ...]


def parse_expression(expression: str, columns: Sequence[str]) -> tuple[Term, ...]:
    """Parse a sum-of-products expression such as ``A*~B + C``.

    ``+`` is OR, ``*`` is AND and ``~`` negates the name that follows it. Names are the
    column names, matched exactly.

    Parameters
    ----------
    expression : str
        The expression.
    columns : Sequence[str]
        The known names.

    Returns
    -------
    tuple of tuple of (int, int)
        One tuple of literals ``(column index, value)`` per disjunct.

    Raises
    ------
    QcaSpecError
        When the expression is empty or malformed, or names an unknown column.
    """
    index = {name: i for i, name in enumerate(columns)}
    terms: list[Term] = []
    if not expression or not expression.strip():
        raise QcaSpecError("the expression is empty")
    for raw_term in expression.split("+"):
        literals: list[tuple[int, int]] = []
        for raw in raw_term.split("*"):
            token = raw.strip()
            value = 1
            while token.startswith("~"):
                value = 1 - value
                token = token[1:].strip()
            if not token:
                raise QcaSpecError(f"malformed expression {expression!r}")
            if token not in index:
                raise QcaSpecError(
                    f"unknown name {token!r} in {expression!r}; known: {', '.join(columns)}"
                )
            literals.append((index[token], value))
        terms.append(tuple(literals))
    return tuple(terms)


def _term_membership(values: np.ndarray, term: Term) -> np.ndarray:
    out = np.ones(values.shape[0])
    for col, val in term:
        x = values[:, col]
        out = np.minimum(out, x if val else 1.0 - x)
    return out


def membership(table: QcaTable, expression: str) -> np.ndarray:
    """Membership of every case in a sum-of-products expression (fuzzy AND = min, OR = max).

    Parameters
    ----------
    table : QcaTable
        The data.
    expression : str
        For example ``"~DEMOC"`` or ``"DEV*STB + ~URB"``.

    Returns
    -------
    numpy.ndarray
    """
    terms = parse_expression(expression, table.columns)
    out = np.zeros(len(table.cases))
    for term in terms:
        out = np.maximum(out, _term_membership(table.values, term))
    return out


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else math.nan


def _clean(value: float) -> float:
    """R sets parameters of fit below 1e-5 to zero."""
    return 0.0 if value < 0.00001 else value


def _suf(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    xy = np.minimum(x, y)
    sxy = float(xy.sum())
    overlap = float(np.minimum(xy, 1.0 - y).sum())
    incl = _ratio(sxy, float(x.sum()))
    pri = _ratio(sxy - overlap, float(x.sum()) - overlap)
    cov = _ratio(sxy, float(y.sum()))
    return _clean(incl), _clean(pri), _clean(cov)


def _nec(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    xy = np.minimum(x, y)
    sxy = float(xy.sum())
    incl = _ratio(sxy, float(y.sum()))
    ron = _ratio(float((1.0 - x).sum()), float((1.0 - xy).sum()))
    cov = _ratio(sxy, float(x.sum()))
    return _clean(incl), _clean(ron), _clean(cov)


@dataclass(frozen=True)
class SufficiencyFit:
    """Parameters of fit of ``expression -> outcome``.

    Attributes
    ----------
    expression : str
        The set (condition, negated condition or expression).
    inclS : float
        Consistency of sufficiency.
    PRI : float
        Proportional reduction in inconsistency.
    covS : float
        Coverage of sufficiency.
    """

    expression: str
    inclS: float
    PRI: float
    covS: float


@dataclass(frozen=True)
class NecessityFit:
    """Parameters of fit of ``expression <- outcome``.

    Attributes
    ----------
    expression : str
        The set.
    inclN : float
        Consistency of necessity.
    RoN : float
        Relevance of necessity.
    covN : float
        Coverage of necessity.
    """

    expression: str
    inclN: float
    RoN: float
    covN: float


def _outcome_vector(table: QcaTable, outcome: str, neg_out: bool) -> tuple[np.ndarray, str, bool]:
    name = outcome.strip()
    negated = neg_out
    while name.startswith("~"):
        negated = not negated
        name = name[1:].strip()
    y = table.column(name)
    return (1.0 - y if negated else y.copy()), name, negated


def sufficiency(
    table: QcaTable, expression: str, outcome: str, neg_out: bool = False
) -> SufficiencyFit:
    """Consistency, PRI and coverage of an expression as sufficient for the outcome.

    Parameters
    ----------
    table : QcaTable
        The data (membership scores).
    expression : str
        A sum-of-products expression, for example ``"~NATPRIDE"``.
    outcome : str
        The outcome column; a leading ``~`` negates it.
    neg_out : bool, default=False
        Negate the outcome.

    Returns
    -------
    SufficiencyFit
    """
    y, _, _ = _outcome_vector(table, outcome, neg_out)
    return SufficiencyFit(expression, *_suf(membership(table, expression), y))


def necessity(
    table: QcaTable, expression: str, outcome: str, neg_out: bool = False
) -> NecessityFit:
    """Consistency, relevance and coverage of an expression as necessary for the outcome.

    Parameters
    ----------
    table : QcaTable
        The data (membership scores).
    expression : str
        A sum-of-products expression, for example ``"GEOCON"`` or ``"A + ~B"``.
    outcome : str
        The outcome column; a leading ``~`` negates it.
    neg_out : bool, default=False
        Negate the outcome.

    Returns
    -------
    NecessityFit
    """
    y, _, _ = _outcome_vector(table, outcome, neg_out)
    return NecessityFit(expression, *_nec(membership(table, expression), y))


def _default_conditions(table: QcaTable, outcome_name: str) -> tuple[str, ...]:
    table._index(outcome_name)
    return tuple(c for c in table.columns if c != outcome_name)


def necessity_analysis(
    table: QcaTable,
    outcome: str,
    conditions: Sequence[str] | None = None,
    neg_out: bool = False,
) -> tuple[NecessityFit, ...]:
    """Necessity of each condition and of each negated condition for the outcome.

    Parameters
    ----------
    table : QcaTable
        The data (membership scores).
    outcome : str
        The outcome column; a leading ``~`` negates it.
    conditions : Sequence[str] or None, default=None
        The conditions; every other column when None.
    neg_out : bool, default=False
        Negate the outcome.

    Returns
    -------
    tuple of NecessityFit
        ``X`` then ``~X`` for every condition, in condition order.
    """
    y, name, _ = _outcome_vector(table, outcome, neg_out)
    conds = tuple(conditions) if conditions is not None else _default_conditions(table, name)
    out: list[NecessityFit] = []
    for cond in conds:
        x = table.column(cond)
        out.append(NecessityFit(cond, *_nec(x, y)))
        out.append(NecessityFit(f"~{cond}", *_nec(1.0 - x, y)))
    return tuple(out)


def sufficiency_analysis(
    table: QcaTable,
    outcome: str,
    conditions: Sequence[str] | None = None,
    neg_out: bool = False,
) -> tuple[SufficiencyFit, ...]:
    """Sufficiency of each condition and of each negated condition for the outcome.

    Parameters
    ----------
    table : QcaTable
        The data (membership scores).
    outcome : str
        The outcome column; a leading ``~`` negates it.
    conditions : Sequence[str] or None, default=None
        The conditions; every other column when None.
    neg_out : bool, default=False
        Negate the outcome.

    Returns
    -------
    tuple of SufficiencyFit
        ``X`` then ``~X`` for every condition, in condition order.
    """
    y, name, _ = _outcome_vector(table, outcome, neg_out)
    conds = tuple(conditions) if conditions is not None else _default_conditions(table, name)
    out: list[SufficiencyFit] = []
    for cond in conds:
        x = table.column(cond)
        out.append(SufficiencyFit(cond, *_suf(x, y)))
        out.append(SufficiencyFit(f"~{cond}", *_suf(1.0 - x, y)))
    return tuple(out)


# ---------------------------------------------------------------------------------------
# Calibration
# ---------------------------------------------------------------------------------------


def _thresholds(thresholds: Mapping[str, float] | Sequence[float]) -> list[float]:
    if isinstance(thresholds, Mapping):
        try:
            return [float(thresholds[k]) for k in ("e", "c", "i")]
        except KeyError:
            raise QcaSpecError(
                "fuzzy thresholds need the keys 'e', 'c' and 'i' "
                f"(exclusion, crossover, inclusion); got {sorted(thresholds)}"
            ) from None
    return [float(t) for t in thresholds]


def calibrate(
    x: Sequence[float] | np.ndarray,
    thresholds: Mapping[str, float] | Sequence[float],
    *,
    kind: Literal["fuzzy", "crisp"] = "fuzzy",
    logistic: bool = True,
    idm: float = 0.95,
    below: float = 1.0,
    above: float = 1.0,
) -> np.ndarray:
    """Direct calibration of raw values into set membership scores.

    Fuzzy (``kind="fuzzy"``) uses three thresholds: exclusion ``e``, crossover ``c`` and
    inclusion ``i``. With ``logistic=True`` (Ragin's log-odds method, R's default) the
    log-odds of membership are ``(x - c) / (i - c) * log(idm / (1 - idm))`` above the
    crossover and ``(x - c) / (c - e) * log(idm / (1 - idm))`` below it, so that ``x = e``
    maps to ``1 - idm`` and ``x = i`` to ``idm``. ``e > i`` gives a decreasing set. With
    ``logistic=False`` membership is piecewise linear (exponents ``below``/``above`` bend the
    two halves). As in R, scores below 0.0001 become 0 and scores above 0.9999 become 1.

    Crisp (``kind="crisp"``) returns, for every value, the number of (sorted) thresholds
    that are less than or equal to it: with one threshold, 0 below it and 1 from it on.

    Parameters
    ----------
    x : Sequence[float] or numpy.ndarray
        Raw values.
    thresholds : Mapping[str, float] or Sequence[float]
        ``(e, c, i)`` or ``{"e": ..., "c": ..., "i": ...}`` for fuzzy; any number of
        values for crisp.
    kind : {"fuzzy", "crisp"}, default="fuzzy"
        Fuzzy or crisp calibration.
    logistic : bool, default=True
        Log-odds (True) or linear (False) fuzzy calibration.
    idm : float, default=0.95
        Inclusion degree of membership at the inclusion threshold; in (0.5, 1).
    below : float, default=1.0
        Exponent of the linear function below the crossover.
    above : float, default=1.0
        Exponent of the linear function above the crossover.

    Returns
    -------
    numpy.ndarray
        Membership scores (fuzzy) or integer categories (crisp).
    """
    values = np.asarray(x, dtype=float)
    if not np.all(np.isfinite(values)):
        raise QcaSpecError("calibration needs finite raw values")
    if kind == "crisp":
        ths = sorted(_thresholds(thresholds))
        if not ths:
            raise QcaSpecError("crisp calibration needs at least one threshold")
        return np.searchsorted(np.asarray(ths), values, side="right").astype(int)
    if kind != "fuzzy":
        raise QcaSpecError(f"unknown calibration kind {kind!r}; expected 'fuzzy' or 'crisp'")
    ths = _thresholds(thresholds)
    if len(ths) != 3:
        raise QcaSpecError(f"fuzzy direct calibration needs 3 thresholds (e, c, i); got {ths}")
    e, c, i = ths
    if not (e < c < i or e > c > i):
        raise QcaSpecError(f"the crossover c={c} must lie strictly between e={e} and i={i}")
    if logistic:
        if not 0.5 < idm < 1.0:
            raise QcaSpecError(f"idm must be greater than 0.5 and less than 1; got {idm}")
        decreasing = e > i
        if decreasing:
            e, i = i, e
        scale = math.log(idm / (1.0 - idm))
        logodds = np.where(values >= c, (values - c) / (i - c), (values - c) / (c - e)) * scale
        fs = 0.5 * (1.0 + np.tanh(logodds / 2.0))  # the logistic function, overflow-free
        if decreasing:
            fs = 1.0 - fs
    else:
        if below <= 0 or above <= 0:
            raise QcaSpecError("the exponents 'below' and 'above' must be positive")
        fs = _linear(values, e, c, i, below, above)
    fs = np.where(fs < 0.0001, 0.0, fs)
    return np.where(fs > 0.9999, 1.0, fs)


def _leq(a: float, b: float) -> bool:
    return a < b or abs(a - b) <= _TOL * max(1.0, abs(b))


def _linear(
    values: np.ndarray, e: float, c: float, i: float, below: float, above: float
) -> np.ndarray:
    out = np.empty_like(values)
    increasing = e < i
    for idx, v in enumerate(values):
        if increasing:
            if _leq(v, e):
                out[idx] = 0.0
            elif _leq(v, c):
                out[idx] = ((e - v) / (e - c)) ** below / 2
            elif _leq(v, i):
                out[idx] = 1 - ((i - v) / (i - c)) ** above / 2
            else:
                out[idx] = 1.0
        else:
            if _leq(v, i):
                out[idx] = 1.0
            elif _leq(v, c):
                out[idx] = 1 - ((i - v) / (i - c)) ** above / 2
            elif _leq(v, e):
                out[idx] = ((e - v) / (e - c)) ** below / 2
            else:
                out[idx] = 0.0
    return out


def calibrate_table(
    table: QcaTable,
    thresholds: Mapping[str, Mapping[str, float] | Sequence[float]],
    **options: Any,
) -> QcaTable:
    """Calibrate several columns of a raw table at once.

    Parameters
    ----------
    table : QcaTable
        Raw data (load it with ``load_table(path, membership=False)``).
    thresholds : Mapping[str, Mapping[str, float] or Sequence[float]]
        Column name to its thresholds.
    **options : Any
        Passed on to :func:`calibrate` (``kind``, ``logistic``, ``idm``, ...).

    Returns
    -------
    QcaTable
        A copy in which the named columns hold membership scores.
    """
    return table.with_columns(
        {name: calibrate(table.column(name), th, **options) for name, th in thresholds.items()}
    )


# ---------------------------------------------------------------------------------------
# Truth table
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TruthTableRow:
    """One observed configuration of the conditions.

    Attributes
    ----------
    number : int
        R's row number: 1 + the configuration read as a binary number, first condition
        most significant.
    values : tuple of int
        0/1 per condition.
    out : str
        ``"1"`` (positive), ``"0"`` (negative), ``"C"`` (contradiction) or ``"?"``
        (remainder because ``n < n_cut``).
    n : int
        Cases with membership above 0.5 in the configuration.
    incl : float
        Consistency of sufficiency of the configuration, over all cases.
    PRI : float
        Proportional reduction in inconsistency of the configuration.
    cases : tuple of str
        The cases counted in ``n``.
    """

    number: int
    values: tuple[int, ...]
    out: str
    n: int
    incl: float
    PRI: float
    cases: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class TruthTable:
    """A truth table with the data it was built from.

    Attributes
    ----------
    outcome : str
        The outcome as displayed (``"~Y"`` when negated).
    conditions : tuple of str
        Condition names, in order.
    rows : tuple of TruthTableRow
        Observed configurations (``n >= 1``), by row number.
    incl_cut : tuple of float
        ``(incl.cut1, incl.cut0)``.
    n_cut : int
        Minimum number of cases for a configuration not to be a remainder.
    pri_cut : float
        Minimum PRI for a positive configuration.
    neg_out : bool
        Whether the outcome was negated.
    case_names : tuple of str
        Case names.
    x : numpy.ndarray
        Condition memberships, shape ``(cases, conditions)``.
    y : numpy.ndarray
        Outcome memberships (negated when ``neg_out``).
    warnings : tuple of str
        Notes about the data (for example fuzzy scores of exactly 0.5).
    """

    outcome: str
    conditions: tuple[str, ...]
    rows: tuple[TruthTableRow, ...]
    incl_cut: tuple[float, float]
    n_cut: int
    pri_cut: float
    neg_out: bool
    case_names: tuple[str, ...]
    x: np.ndarray
    y: np.ndarray
    warnings: tuple[str, ...] = ()

    def rows_with(self, out: str) -> tuple[int, ...]:
        """Row numbers of observed rows whose ``OUT`` equals ``out``.

        Parameters
        ----------
        out : str
            ``"1"``, ``"0"``, ``"C"`` or ``"?"``.

        Returns
        -------
        tuple of int
        """
        return tuple(r.number for r in self.rows if r.out == out)

    @property
    def positive_rows(self) -> tuple[int, ...]:
        """Row numbers with ``OUT = 1``."""
        return self.rows_with("1")

    @property
    def negative_rows(self) -> tuple[int, ...]:
        """Row numbers with ``OUT = 0`` or ``"C"`` (both are excluded from remainders)."""
        return tuple(r.number for r in self.rows if r.out in ("0", "C"))

    @property
    def remainder_rows(self) -> tuple[int, ...]:
        """Row numbers of remainders: unobserved configurations and rows with ``n < n_cut``."""
        fixed = {r.number for r in self.rows if r.out != "?"}
        return tuple(n for n in range(1, 2 ** len(self.conditions) + 1) if n not in fixed)


def _incl_cuts(incl_cut: float | Sequence[float]) -> tuple[float, float]:
    vals = [float(incl_cut)] if isinstance(incl_cut, int | float) else [float(v) for v in incl_cut]
    if not 1 <= len(vals) <= 2:
        raise QcaSpecError(f"incl_cut takes one or two values; got {vals}")
    if not all(0.0 <= v <= 1.0 for v in vals):
        raise QcaSpecError(f"incl_cut values must lie in [0, 1]; got {vals}")
    if len(vals) == 1:
        return (vals[0], 1.0)  # as in R: without incl.cut0 no row can be a contradiction
    if vals[1] > vals[0]:
        raise QcaSpecError(
            f"incl_cut is (incl.cut1, incl.cut0) with incl.cut0 <= incl.cut1; got {vals}"
        )
    return (vals[0], vals[1])


def _geq(a: float, b: float) -> bool:
    return a >= b or abs(a - b) <= _TOL * max(1.0, abs(b))


def truth_table(
    table: QcaTable,
    outcome: str,
    conditions: Sequence[str] | None = None,
    *,
    incl_cut: float | Sequence[float] = 0.8,
    n_cut: int = 1,
    pri_cut: float = 0.0,
    neg_out: bool = False,
) -> TruthTable:
    """Build the truth table of the conditions for the outcome.

    Every case belongs to the one configuration in which its membership is above 0.5
    (crisp: its own 0/1 pattern). ``n`` counts those cases; ``incl`` and ``PRI`` use the
    membership of *all* cases in the configuration (minimum over the conditions of ``x`` or
    ``1 - x``). ``OUT`` is ``"?"`` when ``n < n_cut``; otherwise ``"1"`` when
    ``incl >= incl.cut1`` and ``PRI >= pri_cut``, ``"C"`` when
    ``incl.cut0 <= incl < incl.cut1`` and ``"0"`` else.

    Parameters
    ----------
    table : QcaTable
        Membership scores.
    outcome : str
        The outcome column; a leading ``~`` negates it.
    conditions : Sequence[str] or None, default=None
        The conditions; every other column when None.
    incl_cut : float or (float, float), default=0.8
        ``incl.cut1``, or ``(incl.cut1, incl.cut0)`` to mark contradictions ``"C"``.
    n_cut : int, default=1
        Frequency threshold.
    pri_cut : float, default=0.0
        Minimum PRI of positive configurations.
    neg_out : bool, default=False
        Negate the outcome.

    Returns
    -------
    TruthTable
    """
    y, name, negated = _outcome_vector(table, outcome, neg_out)
    conds = tuple(conditions) if conditions is not None else _default_conditions(table, name)
    if not conds:
        raise QcaSpecError("at least one condition is needed")
    if len(set(conds)) != len(conds):
        raise QcaSpecError(f"a condition is listed twice: {list(conds)}")
    if name in conds:
        raise QcaSpecError(f"the outcome {name!r} cannot also be a condition")
    ic1, ic0 = _incl_cuts(incl_cut)
    if int(n_cut) != n_cut or n_cut < 1:
        raise QcaSpecError(f"n_cut must be a positive integer; got {n_cut}")
    if not 0.0 <= pri_cut <= 1.0:
        raise QcaSpecError(f"pri_cut must lie in [0, 1]; got {pri_cut}")
    for col in (*conds, name):
        v = table.column(col)
        if np.any((v < 0) | (v > 1)):
            raise QcaSpecError(f"column {col!r} holds values outside [0, 1]; calibrate it first")
    x = np.column_stack([table.column(c) for c in conds])
    k = len(conds)
    notes: list[str] = []
    half = np.isclose(x, 0.5, rtol=0, atol=_TOL)
    if np.any(half):
        bad = sorted({table.cases[i] for i in np.nonzero(half.any(axis=1))[0]})
        notes.append(
            "fuzzy conditions should not hold 0.5; these cases belong to no configuration: "
            + ", ".join(bad)
        )
    weights = 1 << np.arange(k - 1, -1, -1)
    config = (x > 0.5).astype(int) @ weights
    observed = sorted(set(int(c) for c in config))
    bits = ((np.asarray(observed)[:, None] >> np.arange(k - 1, -1, -1)) & 1).astype(bool)
    # membership of every case in every observed configuration: (cases, configurations)
    mem = np.where(bits[None, :, :], x[:, None, :], 1.0 - x[:, None, :]).min(axis=2)
    rows: list[TruthTableRow] = []
    for j, cfg in enumerate(observed):
        m = mem[:, j]
        inside = m > 0.5
        n = int(inside.sum())
        if n == 0:
            continue
        incl, pri, _ = _suf(m, y)
        if n < n_cut:
            out = "?"
        elif _geq(incl, ic1) and _geq(pri, pri_cut):
            out = "1"
        elif incl < ic1 and _geq(incl, ic0):
            out = "C"
        else:
            out = "0"
        rows.append(
            TruthTableRow(
                number=cfg + 1,
                values=tuple(int(b) for b in bits[j]),
                out=out,
                n=n,
                incl=incl,
                PRI=pri,
                cases=tuple(table.cases[i] for i in np.nonzero(inside)[0]),
            )
        )
    shown = f"~{name}" if negated else name
    return TruthTable(
        outcome=shown,
        conditions=conds,
        rows=tuple(rows),
        incl_cut=(ic1, ic0),
        n_cut=int(n_cut),
        pri_cut=float(pri_cut),
        neg_out=negated,
        case_names=table.cases,
        x=x,
        y=y,
        warnings=tuple(notes),
    )


# ---------------------------------------------------------------------------------------
# Boolean minimisation
# ---------------------------------------------------------------------------------------
# A configuration is an int whose bit (k - 1 - j) is condition j (so R's row number is
# config + 1). An implicant is (mask, value): the conditions in `mask` are fixed to the
# bits of `value`; the others are free.

Implicant = tuple[int, int]


def _popcount(v: int) -> int:
    return bin(v).count("1")


def _prime_implicants(k: int, seeds: Iterable[int], off: Iterable[int]) -> list[Implicant]:
    """The prime implicants that cover at least one ``seeds`` configuration.

    The function is false on ``off`` and true on ``seeds``; every other configuration is a
    don't-care. Pass the negative rows as ``off`` for the parsimonious solution (the
    remainders are don't-cares) and the complement of the true set for classical
    Quine-McCluskey (complex and intermediate solutions).

    For a seed ``p``, the cube fixing the conditions in ``mask`` to their values in ``p``
    avoids an off configuration ``o`` exactly when ``mask`` meets ``o ^ p`` (they differ
    somewhere in ``mask``). So the cubes through ``p`` that avoid every off configuration
    are the masks that hit every ``o ^ p``, and the prime ones are the minimal such masks.
    Both are computed for all ``2**k`` masks at once with subset sums over the bits, so
    the cost is ``O(k * 2**k)`` per seed, whatever the number of remainders.
    """
    if k > MAX_CONDITIONS:
        raise QcaSpecError(f"at most {MAX_CONDITIONS} conditions can be minimised; got {k}")
    full = (1 << k) - 1
    size = 1 << k
    off_arr = np.fromiter(off, dtype=np.int64)
    primes: set[Implicant] = set()
    for p in sorted(set(seeds)):
        # missed[mask]: some off configuration agrees with p on every condition in mask
        missed = np.zeros(size, dtype=bool)
        if off_arr.size:
            missed[~(off_arr ^ p) & full] = True
        for b in range(k):
            view = missed.reshape(-1, 2, 1 << b)
            view[:, 0, :] |= view[:, 1, :]  # a subset of a missing mask misses too
        implicant = ~missed
        not_prime = np.zeros(size, dtype=bool)
        for b in range(k):
            imp = implicant.reshape(-1, 2, 1 << b)
            not_prime.reshape(-1, 2, 1 << b)[:, 1, :] |= imp[:, 0, :]
        for mask in np.flatnonzero(implicant & ~not_prime).tolist():
            primes.add((mask, p & mask))
    return sorted(primes)


def _codes(imp: Implicant, k: int) -> tuple[int, ...]:
    """R's implicant notation: 0 absent, 1 negated, 2 present, per condition."""
    mask, value = imp
    out = []
    for j in range(k):
        bit = 1 << (k - 1 - j)
        out.append(0 if not mask & bit else (2 if value & bit else 1))
    return tuple(out)


def _r_order(codes: Sequence[tuple[int, ...]]) -> list[int]:
    """The order in which R QCA lists prime implicants.

    Fewer literals first; within a complexity level lexicographic over the conditions with
    negated < present < absent. Reproduces R's column-wise passes, including that a column
    without any absent literal keeps its last implicant out of the ascending pass.
    """
    order = list(range(len(codes)))
    if not order:
        return order
    k = len(codes[0])
    for col in reversed(range(k)):
        key = [c[col] for c in codes]
        order.sort(key=key.__getitem__, reverse=True)  # stable, descending
        zero = next((pos for pos, p in enumerate(order) if key[p] == 0), len(order) - 1)
        order[:zero] = sorted(order[:zero], key=key.__getitem__)
    literals = [sum(1 for v in c if v) for c in codes]
    order.sort(key=literals.__getitem__)
    return order


def _all_minimum_covers(
    covers: Sequence[int], universe: int, limit: int = MAX_MODELS, steps: int = MAX_SEARCH_STEPS
) -> tuple[list[tuple[int, ...]], str]:
    """Every set of the minimum number of implicants whose coverage includes ``universe``.

    Exact branch and bound with iterative deepening over the number of implicants. The
    columns (configurations to explain) are first reduced by column dominance (a column
    whose candidate implicants include all candidates of another column is covered
    whenever that one is, so it can be dropped without losing any cover). The search
    branches on the uncovered column with the fewest candidates; within a branch the
    candidates tried before are excluded, so each cover is produced exactly once. The
    lower bound is the number of uncovered columns with pairwise disjoint candidate sets.
    When the search needs more than ``steps`` steps to settle the minimum, the minimum is
    taken from an integer program (scipy's HiGHS) and the enumeration is repeated.

    Returns the covers (sorted tuples of implicant indices, in lexicographic order) and
    a note, empty unless the enumeration was cut short (``limit`` covers or ``steps``).
    """
    if universe == 0:
        return [()], ""
    elements = [b for b in range(universe.bit_length()) if universe >> b & 1]
    colset: dict[int, int] = {}
    for e in elements:
        mask = 0
        for i, c in enumerate(covers):
            if c >> e & 1:
                mask |= 1 << i
        if not mask:
            raise QcaError("internal error: a positive configuration is not covered")
        colset[e] = mask
    # column dominance: keep only columns whose candidate set contains no other's
    kept_sets: list[int] = []
    for cand in sorted(set(colset.values()), key=_popcount):
        if not any(k & cand == k for k in kept_sets):
            kept_sets.append(cand)
    columns = kept_sets  # candidate sets, fewest candidates first
    ncols = len(columns)
    everything = (1 << ncols) - 1
    pi_cols = [0] * len(covers)  # for each implicant, the reduced columns it covers
    for j, cset in enumerate(columns):
        rest = cset
        while rest:
            low = rest & -rest
            pi_cols[low.bit_length() - 1] |= 1 << j
            rest ^= low

    def bound(uncovered: int, excluded: int) -> int:
        used = 0
        count = 0
        for j in range(ncols):
            if uncovered >> j & 1:
                avail = columns[j] & ~excluded
                if not avail & used:
                    count += 1
                    used |= avail
        return count

    found: list[tuple[int, ...]] = []
    state = {"steps": 0, "stop": ""}

    def search(uncovered: int, chosen: tuple[int, ...], excluded: int, left: int) -> None:
        if state["stop"]:
            return
        state["steps"] += 1
        if state["steps"] > steps:
            state["stop"] = "steps"
            return
        if uncovered == 0:
            found.append(tuple(sorted(chosen)))
            if len(found) >= limit:
                state["stop"] = "limit"
            return
        if left == 0 or bound(uncovered, excluded) > left:
            return
        best = -1
        best_count = len(covers) + 1
        for j in range(ncols):
            if uncovered >> j & 1:
                count = _popcount(columns[j] & ~excluded)
                if count < best_count:
                    best, best_count = j, count
                    if count <= 1:
                        break
        if best_count == 0:
            return
        avail = columns[best] & ~excluded
        while avail:
            low = avail & -avail
            avail ^= low
            i = low.bit_length() - 1
            search(uncovered & ~pi_cols[i], (*chosen, i), excluded, left - 1)
            excluded |= low

    size = max(1, bound(everything, 0))
    while not found and not state["stop"]:
        search(everything, (), 0, size)
        size += 1
    witness: tuple[int, ...] = ()
    if not found:  # the minimum was not settled within the step budget
        witness = _minimum_cover_ilp(columns, len(covers))
        state["steps"], state["stop"] = 0, ""
        search(everything, (), 0, len(witness))
    if not found:
        found.append(witness)
    note = ""
    if state["stop"] == "limit":
        note = f"the search stopped at {limit} tied minimal models; more may exist"
    elif state["stop"] == "steps":
        note = (
            f"the prime implicant chart is too complex to list every tied model within "
            f"{steps} search steps; the models shown are minimal but others may tie"
        )
    return sorted(set(found)), note


def _minimum_cover_ilp(columns: Sequence[int], n_pis: int) -> tuple[int, ...]:
    """One minimum cover found by integer programming (for charts too hard to search)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    matrix = np.zeros((len(columns), n_pis))
    for j, cset in enumerate(columns):
        for i in range(n_pis):
            if cset >> i & 1:
                matrix[j, i] = 1.0
    res = milp(
        c=np.ones(n_pis),
        constraints=LinearConstraint(matrix, lb=1.0, ub=np.inf),
        integrality=np.ones(n_pis),
        bounds=Bounds(0, 1),
        options={"mip_rel_gap": 0.0},
    )
    if res.x is None or res.status != 0:
        raise QcaError(f"the prime implicant chart could not be solved: {res.message}")
    return tuple(int(i) for i in np.flatnonzero(res.x > 0.5))


def _implicant_text(imp: Implicant, names: Sequence[str]) -> str:
    codes = _codes(imp, len(names))
    parts = [("~" if c == 1 else "") + n for c, n in zip(codes, names, strict=True) if c]
    return "*".join(parts) if parts else "1"


def _implicant_membership(x: np.ndarray, imp: Implicant) -> np.ndarray:
    k = x.shape[1]
    codes = _codes(imp, k)
    term = tuple((j, 1 if c == 2 else 0) for j, c in enumerate(codes) if c)
    return _term_membership(x, term)


def _expand(imp: Implicant, k: int) -> list[int]:
    mask, value = imp
    free = ((1 << k) - 1) & ~mask
    out = []
    sub = free
    while True:
        out.append(value | sub)
        if sub == 0:
            break
        sub = (sub - 1) & free
    return out


@dataclass(frozen=True)
class TermFit:
    """One prime implicant of a model with its parameters of fit.

    Attributes
    ----------
    expression : str
        The term in R notation, e.g. ``DEV*~URB*STB``.
    inclS : float
        Consistency of sufficiency.
    PRI : float
        Proportional reduction in inconsistency.
    covS : float
        Raw coverage.
    covU : float or None
        Unique coverage within the model (None when the model has a single term, as R
        prints ``-``).
    cases : tuple of str
        Cases of the positive configurations that the term covers.
    """

    expression: str
    inclS: float
    PRI: float
    covS: float
    covU: float | None
    cases: tuple[str, ...]


@dataclass(frozen=True)
class Model:
    """One minimal model (a disjunction of prime implicants).

    Attributes
    ----------
    name : str
        ``"M1"``, ``"M2"``, ... in R's order.
    expression : str
        The model, essential prime implicants first, e.g. ``A*~B + C``.
    terms : tuple of TermFit
        Its terms, in the order of ``expression``.
    inclS : float
        Consistency of the whole model.
    PRI : float
        PRI of the whole model.
    covS : float
        Coverage of the whole model.
    """

    name: str
    expression: str
    terms: tuple[TermFit, ...]
    inclS: float
    PRI: float
    covS: float


@dataclass(frozen=True)
class Solution:
    """The models of one kind of solution.

    Attributes
    ----------
    kind : str
        ``"complex"``, ``"parsimonious"`` or ``"intermediate"``.
    label : str
        For intermediate solutions ``"C<i>P<j>"``: built from complex model i and
        parsimonious model j. Empty otherwise.
    models : tuple of Model
        Every minimal model (ties are all reported, ``M1``, ``M2``, ...). Empty when
        nothing can be minimised (see ``note``).
    prime_implicants : tuple of str
        The prime implicants that appear in at least one model, in R's order.
    essential : tuple of str
        Prime implicants present in every model.
    simplifying_assumptions : tuple of tuple of int
        Parsimonious solutions: per model, the remainder rows (R row numbers) it uses.
    easy_counterfactuals : tuple of int
        Intermediate solutions: the remainder rows added as easy counterfactuals.
    note : str
        Why there are no models, when there are none.
    """

    kind: str
    label: str
    models: tuple[Model, ...]
    prime_implicants: tuple[str, ...]
    essential: tuple[str, ...]
    simplifying_assumptions: tuple[tuple[int, ...], ...] = ()
    easy_counterfactuals: tuple[int, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class _Minimised:
    primes: list[Implicant]  # in R order
    models: list[tuple[int, ...]]  # indices into primes, lexicographic
    note: str = ""


def _minimise(k: int, explain: Sequence[int], on: set[int], off: set[int] | None) -> _Minimised:
    """Minimise: cover ``explain`` with prime implicants of the function true on ``on``.

    ``off=None`` means that everything outside ``on`` is false (no remainders used).
    """
    if off is None:
        off = set(range(1 << k)) - on
    primes = _prime_implicants(k, explain, off)
    columns = sorted(explain)
    covers = []
    kept = []
    for imp in primes:
        mask, value = imp
        cov = 0
        for pos, cfg in enumerate(columns):
            if cfg & mask == value:
                cov |= 1 << pos
        if cov:
            covers.append(cov)
            kept.append(imp)
    order = _r_order([_codes(p, k) for p in kept])
    kept = [kept[i] for i in order]
    covers = [covers[i] for i in order]
    models, note = _all_minimum_covers(covers, (1 << len(columns)) - 1)
    return _Minimised(kept, models, note)


def _config_rows(tt: TruthTable, out: Iterable[str]) -> list[int]:
    wanted = set(out)
    return [r.number - 1 for r in tt.rows if r.out in wanted]


def _case_rows(tt: TruthTable) -> dict[int, list[str]]:
    rows: dict[int, list[str]] = {}
    for r in tt.rows:
        if r.out == "1":
            rows[r.number - 1] = list(r.cases)
    return rows


def _unique_coverage(mems: np.ndarray, y: np.ndarray) -> np.ndarray:
    """covU of every row of ``mems`` (terms x cases) within their disjunction."""
    inter = np.minimum(mems, y)  # min(term, outcome) per term and case
    top = inter.argmax(axis=0)
    first = inter.max(axis=0)
    rest = inter.copy()
    rest[top, np.arange(inter.shape[1])] = -np.inf
    second = np.maximum(rest.max(axis=0), 0.0)
    others = np.where(np.arange(len(inter))[:, None] == top[None, :], second, first)
    total = float(y.sum())
    if total <= 0:
        return np.full(len(inter), math.nan)
    return (inter - np.minimum(inter, others)).sum(axis=1) / total


def _build_solution(
    tt: TruthTable,
    kind: str,
    label: str,
    result: _Minimised,
    *,
    simplifying: bool = False,
    easy: Sequence[int] = (),
) -> Solution:
    k = len(tt.conditions)
    names = tt.conditions
    positives = _case_rows(tt)
    used = sorted({i for m in result.models for i in m})
    in_all = set.intersection(*(set(m) for m in result.models)) if result.models else set()
    essential = [i for i in used if i in in_all]
    mems = {i: _implicant_membership(tt.x, result.primes[i]) for i in used}
    texts = {i: _implicant_text(result.primes[i], names) for i in used}
    fits = {i: _suf(mems[i], tt.y) for i in used}
    cases = {}
    for i in used:
        mask, value = result.primes[i]
        cases[i] = tuple(
            c for cfg in sorted(positives) if cfg & mask == value for c in positives[cfg]
        )
    remainders = set(_remainders(tt)) if simplifying else set()
    expansions: dict[int, set[int]] = {}
    models: list[Model] = []
    sas: list[tuple[int, ...]] = []
    for number, combo in enumerate(result.models, start=1):
        ordered = [i for i in combo if i in in_all] + [i for i in combo if i not in in_all]
        stack = np.vstack([mems[i] for i in ordered])
        m_incl, m_pri, m_cov = _suf(stack.max(axis=0), tt.y)
        unique = _unique_coverage(stack, tt.y) if len(ordered) > 1 else None
        terms = []
        for pos, i in enumerate(ordered):
            cov_u = None if unique is None else _clean(float(unique[pos]))
            terms.append(TermFit(texts[i], *fits[i], cov_u, cases[i]))
        expression = " + ".join(texts[i] for i in ordered)
        models.append(Model(f"M{number}", expression, tuple(terms), m_incl, m_pri, m_cov))
        if simplifying:
            covered: set[int] = set()
            for i in combo:
                if i not in expansions:
                    expansions[i] = set(_expand(result.primes[i], k)) & remainders
                covered |= expansions[i]
            sas.append(tuple(sorted(r + 1 for r in covered)))
    return Solution(
        kind=kind,
        label=label,
        models=tuple(models),
        prime_implicants=tuple(texts[i] for i in used),
        essential=tuple(texts[i] for i in essential),
        simplifying_assumptions=tuple(sas),
        easy_counterfactuals=tuple(sorted(r + 1 for r in easy)),
        note=result.note,
    )


def _remainders(tt: TruthTable) -> list[int]:
    return [n - 1 for n in tt.remainder_rows]


def _empty(kind: str, note: str, label: str = "") -> Solution:
    return Solution(kind, label, (), (), (), note=note)


_NOTHING = "no configuration has OUT = 1, so there is nothing to explain"


def complex_solution(tt: TruthTable) -> Solution:
    """The complex (conservative) solution: positive configurations only, no remainders.

    Parameters
    ----------
    tt : TruthTable
        The truth table.

    Returns
    -------
    Solution
    """
    positive = _config_rows(tt, "1")
    if not positive:
        return _empty("complex", _NOTHING)
    k = len(tt.conditions)
    if len(positive) == 1 << k:
        return _empty("complex", _ALL_USED)
    return _build_solution(tt, "complex", "", _minimise(k, positive, set(positive), None))


_NO_NEGATIVES = (
    "no configuration has OUT = 0 or C, so with the remainders every configuration counts as "
    "positive and all conditions are minimised away"
)

_ALL_USED = (
    "all configurations are used, so every condition is minimised away (R: 'All truth "
    "table configurations are used, all conditions are minimized')"
)


def _parsimonious(tt: TruthTable) -> _Minimised | None:
    positive = _config_rows(tt, "1")
    negative = _config_rows(tt, ("0", "C"))
    if not positive or not negative:
        return None
    return _minimise(len(tt.conditions), positive, set(positive), set(negative))


def parsimonious_solution(tt: TruthTable) -> Solution:
    """The parsimonious solution: remainders may be used as simplifying assumptions.

    Configurations with ``OUT = 0`` and contradictions ``"C"`` are excluded; every other
    configuration without ``OUT = 1`` is a remainder (don't-care).

    Parameters
    ----------
    tt : TruthTable
        The truth table.

    Returns
    -------
    Solution
        ``simplifying_assumptions`` lists, per model, the remainder rows it relies on.
    """
    if not _config_rows(tt, "1"):
        return _empty("parsimonious", _NOTHING)
    result = _parsimonious(tt)
    if result is None:
        return _empty("parsimonious", _NO_NEGATIVES)
    return _build_solution(tt, "parsimonious", "", result, simplifying=True)


DirExp = Mapping[str, int | str | None] | Sequence[int | str | None] | str


def _dir_exp(spec: DirExp, conditions: Sequence[str]) -> list[int | None]:
    def value(v: int | str | None, cond: str) -> int | None:
        if v is None or (isinstance(v, str) and v.strip() in ("", "-")):
            return None
        if isinstance(v, bool):
            return int(v)
        if v in (1, "1"):
            return 1
        if v in (0, "0"):
            return 0
        raise QcaSpecError(f"directional expectation for {cond!r} must be 1, 0 or '-'; got {v!r}")

    if isinstance(spec, str):
        out: list[int | None] = [None] * len(conditions)
        for raw in spec.split(","):
            token = raw.strip()
            if not token:
                continue
            expect = 1
            while token.startswith("~"):
                expect = 1 - expect
                token = token[1:].strip()
            if token not in conditions:
                raise QcaSpecError(
                    f"directional expectation names {token!r}, which is not a condition "
                    f"({', '.join(conditions)})"
                )
            out[conditions.index(token)] = expect
        return out
    if isinstance(spec, Mapping):
        unknown = [c for c in spec if c not in conditions]
        if unknown:
            raise QcaSpecError(
                f"directional expectations for unknown conditions {unknown}; "
                f"conditions: {', '.join(conditions)}"
            )
        return [value(spec.get(c), c) for c in conditions]
    items = list(spec)
    if len(items) != len(conditions):
        raise QcaSpecError(
            f"{len(items)} directional expectations for {len(conditions)} conditions"
        )
    return [value(v, c) for v, c in zip(items, conditions, strict=True)]


def intermediate_solutions(tt: TruthTable, dir_exp: DirExp) -> tuple[Solution, ...]:
    """Intermediate solutions from directional expectations (easy counterfactuals).

    As R QCA does, for every pair of a complex model ``Ci`` and a parsimonious model
    ``Pj``: each complex term that is a subset of a parsimonious term loses the literals
    (not in that parsimonious term) that contradict a directional expectation; the
    simplifying assumptions of ``Pj`` inside one of these reduced terms are the easy
    counterfactuals. The positive configurations plus the easy counterfactuals are then
    minimised without any other remainder and the minimal covers of the positive
    configurations are reported. Without any expectation the intermediate solution is the
    complex model.

    Parameters
    ----------
    tt : TruthTable
        The truth table.
    dir_exp : Mapping[str, int or str or None] or Sequence or str
        Per condition ``1`` (presence expected to contribute), ``0`` (absence) or ``"-"``
        / None (no expectation). A mapping by condition name, a sequence in condition
        order, or an R-style string such as ``"DEV, URB, ~LIT"``.

    Returns
    -------
    tuple of Solution
        One solution per ``(Ci, Pj)`` pair, labelled ``"C1P1"``, ``"C1P2"``, ...
    """
    expectations = _dir_exp(dir_exp, tt.conditions)
    k = len(tt.conditions)
    positive = _config_rows(tt, "1")
    if not positive:
        return (_empty("intermediate", _NOTHING),)
    if len(positive) == 1 << k:
        return (_empty("intermediate", _ALL_USED),)
    comp = _minimise(k, positive, set(positive), None)
    pars = _parsimonious(tt)
    if pars is None:
        return (_empty("intermediate", _NO_NEGATIVES),)
    remainders = set(_remainders(tt))
    expanded: dict[int, set[int]] = {}
    minimised: dict[tuple[int, ...], _Minimised] = {}
    out: list[Solution] = []
    pairs = [(ci, pi) for ci in range(len(comp.models)) for pi in range(len(pars.models))]
    for ci, pi in pairs[:MAX_INTERMEDIATE_PAIRS]:
        cmodel, pmodel = comp.models[ci], pars.models[pi]
        label = f"C{ci + 1}P{pi + 1}"
        if all(e is None for e in expectations):
            only = _Minimised(comp.primes, [cmodel])
            out.append(_build_solution(tt, "intermediate", label, only))
            continue
        sa: set[int] = set()
        for j in pmodel:
            if j not in expanded:
                expanded[j] = set(_expand(pars.primes[j], k)) & remainders
            sa |= expanded[j]
        selections: list[Implicant] = []
        for i in cmodel:
            cmask, cval = comp.primes[i]
            for j in pmodel:
                pmask, pval = pars.primes[j]
                if pmask & ~cmask or cval & pmask != pval:
                    continue  # the complex term is not a subset of the parsimonious one
                rmask = cmask
                for cond, expect in enumerate(expectations):
                    bit = 1 << (k - 1 - cond)
                    if expect is None or not cmask & bit or pmask & bit:
                        continue
                    if (1 if cval & bit else 0) != expect:
                        rmask &= ~bit  # drop a literal that contradicts the expectation
                selections.append((rmask, cval & rmask))
        sa_arr = np.fromiter(sorted(sa), dtype=np.int64)
        inside = np.zeros(sa_arr.size, dtype=bool)
        for m, v in set(selections):
            inside |= (sa_arr & m) == v
        easy = tuple(sa_arr[inside].tolist())
        if easy not in minimised:
            minimised[easy] = _minimise(k, positive, set(positive) | set(easy), None)
        out.append(_build_solution(tt, "intermediate", label, minimised[easy], easy=easy))
    if len(pairs) > MAX_INTERMEDIATE_PAIRS:
        last = out[-1]
        note = (
            f"only the first {MAX_INTERMEDIATE_PAIRS} of {len(pairs)} complex x parsimonious "
            "model pairs were computed"
        )
        out[-1] = replace(last, note=f"{last.note}; {note}" if last.note else note)
    return tuple(out)


# ---------------------------------------------------------------------------------------
# Whole analysis, report and serialisation
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class QcaResult:
    """Everything :func:`run` computes.

    Attributes
    ----------
    source : str
        The table file.
    outcome : str
        The outcome as displayed (``"~Y"`` when negated).
    conditions : tuple of str
        The conditions.
    options : dict
        ``incl_cut``, ``n_cut``, ``pri_cut``, ``neg_out`` and ``dir_exp`` as used.
    truth_table : TruthTable
        The truth table.
    necessity : tuple of NecessityFit
        Each condition and negated condition as necessary for the outcome.
    sufficiency : tuple of SufficiencyFit
        Each condition and negated condition as sufficient for the outcome.
    complex : Solution
        The complex (conservative) solution.
    parsimonious : Solution
        The parsimonious solution.
    intermediate : tuple of Solution
        Intermediate solutions (one per complex x parsimonious model pair); empty when no
        directional expectations were given.
    """

    source: str
    outcome: str
    conditions: tuple[str, ...]
    options: dict[str, Any]
    truth_table: TruthTable
    necessity: tuple[NecessityFit, ...]
    sufficiency: tuple[SufficiencyFit, ...]
    complex: Solution
    parsimonious: Solution
    intermediate: tuple[Solution, ...]


def run(
    table_path: str | Path | QcaTable,
    outcome: str,
    conditions: Sequence[str] | None = None,
    incl_cut: float | tuple[float, float] = 0.8,
    n_cut: int = 1,
    dir_exp: DirExp | None = None,
    neg_out: bool = False,
    pri_cut: float = 0.0,
) -> QcaResult:
    """Run a complete QCA: truth table, necessity, and the three solutions.

    Parameters
    ----------
    table_path : str or pathlib.Path or QcaTable
        A CSV/TSV file of membership scores (see :func:`load_table`), or a loaded table.
    outcome : str
        The outcome column; a leading ``~`` negates it.
    conditions : Sequence[str] or None, default=None
        The conditions; every other column when None.
    incl_cut : float or (float, float), default=0.8
        ``incl.cut1`` or ``(incl.cut1, incl.cut0)``.
    n_cut : int, default=1
        Frequency threshold of the truth table.
    dir_exp : Mapping, Sequence, str or None, default=None
        Directional expectations for the intermediate solution; none computed when None.
    neg_out : bool, default=False
        Analyse the negated outcome.
    pri_cut : float, default=0.0
        Minimum PRI of positive configurations.

    Returns
    -------
    QcaResult
    """
    table = table_path if isinstance(table_path, QcaTable) else load_table(table_path)
    tt = truth_table(
        table,
        outcome,
        conditions,
        incl_cut=incl_cut,
        n_cut=n_cut,
        pri_cut=pri_cut,
        neg_out=neg_out,
    )
    outcome_column = tt.outcome.lstrip("~")
    intermediate: tuple[Solution, ...] = ()
    de_used: dict[str, str] | None = None
    if dir_exp is not None:
        expectations = _dir_exp(dir_exp, tt.conditions)
        de_used = {
            c: "-" if e is None else str(e)
            for c, e in zip(tt.conditions, expectations, strict=True)
        }
        intermediate = intermediate_solutions(tt, dir_exp)
    return QcaResult(
        source=table.source,
        outcome=tt.outcome,
        conditions=tt.conditions,
        options={
            "incl_cut": list(tt.incl_cut),
            "n_cut": tt.n_cut,
            "pri_cut": tt.pri_cut,
            "neg_out": tt.neg_out,
            "dir_exp": de_used,
        },
        truth_table=tt,
        necessity=necessity_analysis(table, outcome_column, tt.conditions, tt.neg_out),
        sufficiency=sufficiency_analysis(table, outcome_column, tt.conditions, tt.neg_out),
        complex=complex_solution(tt),
        parsimonious=parsimonious_solution(tt),
        intermediate=intermediate,
    )


def _num(v: float | None) -> str:
    if v is None:
        return "  -  "
    if math.isnan(v):
        return "  NA "
    return f"{v:.3f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> list[str]:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]

    def fmt(cells: Sequence[str]) -> str:
        out = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  ".join(out).rstrip()

    rule = "-" * len(fmt(headers))
    return [fmt(headers), rule, *(fmt(r) for r in rows)]


def _solution_lines(sol: Solution, outcome: str) -> list[str]:
    lines: list[str] = []
    if sol.label:
        lines.append(f"From {sol.label}:")
    if not sol.models:
        lines.append(f"  No models: {sol.note}.")
        return lines
    arrow = "->"
    for model in sol.models:
        lines.append(f"{model.name}: {model.expression} {arrow} {outcome}")
    if sol.easy_counterfactuals:
        lines.append(
            "Easy counterfactuals (rows): " + ", ".join(str(r) for r in sol.easy_counterfactuals)
        )
    for model, sa in zip(
        sol.models, sol.simplifying_assumptions or [None] * len(sol.models), strict=True
    ):
        lines.append("")
        rows = [
            [
                str(n),
                t.expression,
                _num(t.inclS),
                _num(t.PRI),
                _num(t.covS),
                _num(t.covU),
                ", ".join(t.cases),
            ]
            for n, t in enumerate(model.terms, start=1)
        ]
        rows.append(["", model.name, _num(model.inclS), _num(model.PRI), _num(model.covS), "", ""])
        lines.extend(
            "  " + s
            for s in _table(
                ["", "term", "inclS", "PRI", "covS", "covU", "cases"], rows, {0, 2, 3, 4, 5}
            )
        )
        if sa is not None:
            shown = ", ".join(str(r) for r in sa) if sa else "none"
            lines.append(f"  Simplifying assumptions of {model.name} (rows): {shown}")
    return lines


def format_report(result: QcaResult) -> str:
    """Plain-text report: truth table, necessity, then the three solutions.

    Parameters
    ----------
    result : QcaResult
        The output of :func:`run`.

    Returns
    -------
    str
    """
    tt = result.truth_table
    opts = result.options
    cut = opts["incl_cut"]
    cut_text = f"{cut[0]:g}" if cut[1] == 1.0 and cut[0] <= 1.0 else f"{cut[0]:g}, {cut[1]:g}"
    lines = [
        f"QCA of {result.outcome} in {result.source} ({len(tt.case_names)} cases)",
        f"Conditions: {', '.join(result.conditions)}",
        f"incl.cut: {cut_text}   n.cut: {opts['n_cut']}   pri.cut: {opts['pri_cut']:g}",
        "",
        "Truth table (OUT: 1 positive, 0 negative, C contradiction, ? remainder)",
    ]
    rows = [
        [
            str(r.number),
            *(str(v) for v in r.values),
            r.out,
            str(r.n),
            _num(r.incl),
            _num(r.PRI),
            ", ".join(r.cases),
        ]
        for r in tt.rows
    ]
    headers = ["row", *tt.conditions, "OUT", "n", "incl", "PRI", "cases"]
    right = set(range(len(headers) - 1))
    lines.extend("  " + s for s in _table(headers, rows, right))
    rem = tt.remainder_rows
    lines.append(f"  Remainders: {len(rem)} of {2 ** len(tt.conditions)} configurations")
    for note in tt.warnings:
        lines.append(f"  Note: {note}")
    lines += ["", f"Necessity (X <- {result.outcome})"]
    nec_rows = [[f.expression, _num(f.inclN), _num(f.RoN), _num(f.covN)] for f in result.necessity]
    lines.extend("  " + s for s in _table(["set", "inclN", "RoN", "covN"], nec_rows, {1, 2, 3}))
    lines += ["", f"Sufficiency (X -> {result.outcome})"]
    suf_rows = [
        [f.expression, _num(f.inclS), _num(f.PRI), _num(f.covS)] for f in result.sufficiency
    ]
    lines.extend("  " + s for s in _table(["set", "inclS", "PRI", "covS"], suf_rows, {1, 2, 3}))
    lines += [
        "",
        "Complex (conservative) solution",
        *_solution_lines(result.complex, result.outcome),
    ]
    lines += ["", "Parsimonious solution", *_solution_lines(result.parsimonious, result.outcome)]
    lines += ["", "Intermediate solution"]
    if opts["dir_exp"] is None:
        lines.append("  Not computed: no directional expectations (dir_exp) were given.")
    else:
        lines.append(
            "Directional expectations: " + ", ".join(f"{c}={v}" for c, v in opts["dir_exp"].items())
        )
        for sol in result.intermediate:
            lines.extend(_solution_lines(sol, result.outcome))
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _json_float(v: float | None) -> float | None:
    if v is None or math.isnan(v):
        return None
    return float(v)


def _solution_dict(sol: Solution) -> dict[str, Any]:
    return {
        "kind": sol.kind,
        "label": sol.label,
        "note": sol.note,
        "prime_implicants": list(sol.prime_implicants),
        "essential": list(sol.essential),
        "models": [
            {
                "name": m.name,
                "expression": m.expression,
                "inclS": _json_float(m.inclS),
                "PRI": _json_float(m.PRI),
                "covS": _json_float(m.covS),
                "terms": [
                    {
                        "expression": t.expression,
                        "inclS": _json_float(t.inclS),
                        "PRI": _json_float(t.PRI),
                        "covS": _json_float(t.covS),
                        "covU": _json_float(t.covU),
                        "cases": list(t.cases),
                    }
                    for t in m.terms
                ],
            }
            for m in sol.models
        ],
        "simplifying_assumptions": [list(s) for s in sol.simplifying_assumptions],
        "easy_counterfactuals": list(sol.easy_counterfactuals),
    }


def result_to_dict(result: QcaResult) -> dict[str, Any]:
    """A JSON-serialisable dictionary of a :class:`QcaResult`, in a fixed key order.

    Undefined parameters of fit (a division by zero) become None.

    Parameters
    ----------
    result : QcaResult
        The output of :func:`run`.

    Returns
    -------
    dict
    """
    tt = result.truth_table
    return {
        "source": result.source,
        "outcome": result.outcome,
        "conditions": list(result.conditions),
        "options": {
            "incl_cut": list(result.options["incl_cut"]),
            "n_cut": result.options["n_cut"],
            "pri_cut": result.options["pri_cut"],
            "neg_out": result.options["neg_out"],
            "dir_exp": (
                dict(result.options["dir_exp"]) if result.options["dir_exp"] is not None else None
            ),
        },
        "truth_table": {
            "rows": [
                {
                    "row": r.number,
                    "values": dict(zip(tt.conditions, r.values, strict=True)),
                    "OUT": r.out,
                    "n": r.n,
                    "incl": _json_float(r.incl),
                    "PRI": _json_float(r.PRI),
                    "cases": list(r.cases),
                }
                for r in tt.rows
            ],
            "remainders": list(tt.remainder_rows),
            "warnings": list(tt.warnings),
        },
        "necessity": [
            {
                "expression": f.expression,
                "inclN": _json_float(f.inclN),
                "RoN": _json_float(f.RoN),
                "covN": _json_float(f.covN),
            }
            for f in result.necessity
        ],
        "sufficiency": [
            {
                "expression": f.expression,
                "inclS": _json_float(f.inclS),
                "PRI": _json_float(f.PRI),
                "covS": _json_float(f.covS),
            }
            for f in result.sufficiency
        ],
        "complex": _solution_dict(result.complex),
        "parsimonious": _solution_dict(result.parsimonious),
        "intermediate": [_solution_dict(s) for s in result.intermediate],
    }
