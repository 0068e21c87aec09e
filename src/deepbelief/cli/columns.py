"""The columns of a table (CSV/TSV) as the commands read them: which one holds the labels,
and the feature columns matched to a model's by name, never silently by position.

``train`` keeps the names of the feature columns (``feature_names_in_`` in the model file);
every later command finds those columns by name, in whatever order the table has them, and
a missing or unknown column is a one-line error that names it. A label column the command
had to guess (the last one, whose name is not label/y/target/class) gets a warning naming
``--label-column``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from deepbelief.cli.errors import CommandError

__all__ = ["LABEL_NAMES", "TableOptions", "check_labels", "counts_rows", "feature_order",
           "is_number", "label_index", "not_a_number", "report_label"]

log = logging.getLogger("deepbelief")

#: Column names taken as the label column without --label-column (case-insensitive).
LABEL_NAMES = ("label", "labels", "y", "target", "class")


def _named(path: Path, header: list[str] | None, width: int, label_column: str) -> int | None:
    """The column ``--label-column`` names: a header name, a 0-based index or 'none'."""
    if label_column.lower() == "none":
        return None
    if header is not None and label_column in header:
        return header.index(label_column)
    try:
        index = int(label_column)
    except ValueError:
        where = f"its columns are {', '.join(header)}" if header else "it has no header row"
        raise CommandError(f"{path} has no column {label_column!r} ({where}).") from None
    if not -width <= index < width:
        raise CommandError(f"{path} has {width} columns; --label-column {index} is out of "
                           "range.")
    return index % width


@dataclass(frozen=True)
class TableOptions:
    """What a command knows when it reads a table.

    Attributes
    ----------
    label_column : str, optional
        ``--label-column``: a name, a 0-based index or 'none'.
    n_features : int, optional
        The number of features the model takes.
    want_labels : bool, default False
        Whether the command needs labels.
    features : sequence of str, optional
        The names of the model's feature columns (its ``feature_names_in_``).
    recorded : str, optional
        The label column the model was trained with.
    """

    label_column: str | None = None
    n_features: int | None = None
    want_labels: bool = False
    features: Sequence[str] | None = None
    recorded: str | None = None


def label_index(path: Path, header: list[str] | None, width: int,
                options: TableOptions) -> tuple[int | None, str]:
    """Which column of a table holds the labels, and how it was chosen.

    In this order (see :class:`TableOptions`): ``label_column``; the label column
    ``recorded`` when the model was trained; a column named in :data:`LABEL_NAMES` that is
    not a feature; with the model's ``features`` known, the one column that is not among
    them; else by count: one column more than ``n_features``, or ``want_labels``, makes the
    last column the label.

    Parameters
    ----------
    path : Path
        The table (for messages).
    header : list of str or None
        The header row, None when the table has none.
    width : int
        The number of columns.
    options : TableOptions

    Returns
    -------
    index : int or None
        The label column, or None when the table has none.
    how : str
        'option', 'recorded', 'name', 'extra' (the column the model does not take), 'last'
        (a guess), or '' (no label column).

    Raises
    ------
    CommandError
        When ``label_column`` names no column, or (without a header) the width fits
        neither ``n_features`` nor ``n_features + 1``.

    Examples
    --------
    >>> label_index(Path("t.csv"), ["a", "b", "species"], 3, TableOptions(features=["b", "a"]))
    (2, 'extra')
    >>> label_index(Path("t.csv"), None, 5, TableOptions(want_labels=True))
    (4, 'last')
    """
    features, n_features = options.features, options.n_features
    if options.label_column is not None:
        index = _named(path, header, width, options.label_column)
        return index, "option" if index is not None else ""
    if header is not None:
        if options.recorded is not None and options.recorded in header:
            return header.index(options.recorded), "recorded"
        for i, name in enumerate(header):
            if name.lower() in LABEL_NAMES and (features is None or name not in features):
                return i, "name"
        if features is not None:
            extra = [i for i, name in enumerate(header) if name not in features]
            missing = set(features) - set(header)
            if len(extra) == 1 and not missing:
                return extra[0], "extra"
            return None, ""  # feature_order names what does not match
    if n_features is not None:
        if width == n_features:
            return None, ""
        if width == n_features + 1:
            return width - 1, "last"
        raise CommandError(f"{path} has {width} columns but the model takes {n_features} "
                           "features.")
    return (width - 1, "last") if options.want_labels else (None, "")


def report_label(path: Path, header: list[str] | None, index: int | None, how: str) -> None:
    """Say which column is the label column; warn when it is a guess that looks wrong."""
    if index is None:
        return
    name = f"{header[index]!r} (column {index + 1})" if header else f"column {index + 1}"
    if how == "last" and header is not None and header[index].lower() not in LABEL_NAMES:
        log.warning("%s: took the last column, %s, as the label column (its name is not one "
                    "of %s); give the right one with --label-column NAME, or --label-column "
                    "none when the table has no labels", path, name, "/".join(LABEL_NAMES))
    elif how == "last":
        log.info("%s: label column: the last one, %s (--label-column chooses another)",
                 path, name)
    else:
        log.info("%s: label column: %s", path, name)


def feature_order(path: Path, names: list[str], features: Sequence[str]) -> list[int]:
    """The positions in ``names`` (a table's feature columns) of the model's ``features``,
    in the model's order.

    Raises
    ------
    CommandError
        Naming the columns the model takes that the table lacks, the table's columns the
        model does not take, or a column name the table repeats.

    Examples
    --------
    >>> feature_order(Path("t.csv"), ["b", "a"], ["a", "b"])
    [1, 0]
    """
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise CommandError(f"{path}: the column name(s) {', '.join(map(repr, repeated))} "
                           "appear more than once; rename them.")
    missing = [f for f in features if f not in names]
    extra = [n for n in names if n not in features]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"lacks the column(s) {', '.join(map(repr, missing))} that the "
                         "model was trained on")
        if extra:
            parts.append(f"has the column(s) {', '.join(map(repr, extra))} that the model "
                         "was not trained on (if one is the label column, name it with "
                         "--label-column; otherwise drop the column from the file)")
        raise CommandError(f"{path} {' and '.join(parts)}.")
    order = [names.index(f) for f in features]
    if order != sorted(order):
        log.info("%s: columns taken by name in the model's order (%s)", path,
                 ", ".join(features))
    return order


def check_labels(y: np.ndarray | None, what: str, kind: str) -> None:
    """Refuse labels that cannot be what ``train --kind kind`` learns: continuous values
    for a classifier, text for a regressor; ``what`` names the label column.

    Raises
    ------
    CommandError
        Naming ``--label-column`` (and the kind that would fit).
    """
    if y is None:
        return
    y = np.asarray(y)
    if kind in ("classifier", "generative") and y.dtype.kind == "f" and not np.all(
            y == np.round(y)):
        example = next(v for v in y.ravel() if v != round(v))
        raise CommandError(f"{what} holds continuous values (e.g. {example:g}), not class "
                           "labels: name the label column with --label-column, or use "
                           "--kind regressor.")
    if kind == "regressor" and y.dtype.kind in "USO":
        raise CommandError(f"{what} holds text (e.g. {y.ravel()[0]!r}), not numbers: name the "
                           "target column with --label-column, or use --kind classifier.")


def is_number(text: str) -> bool:
    """Whether ``text`` reads as a number (as ``float`` reads it)."""
    try:
        float(text)
    except ValueError:
        return False
    return True


def counts_rows(rows: list[list[str]]) -> bool:
    """Whether the first cells of ``rows`` read 0, 1, 2, ... (a written row index)."""
    return len(rows) > 1 and all(row[0].strip() == str(i) for i, row in enumerate(rows))


def not_a_number(path: Path, features, names, label: int | None, header: bool) -> str:
    """Where the first cell that is not a number is, and what to do about it."""
    for j, column in enumerate(features):
        for i, value in enumerate(column):
            if not is_number(value):
                where = (repr(names[j]) if names else
                         f"{j + 1 + (label is not None and j >= label)} (counting from 1)")
                what = "an empty cell" if not value.strip() else repr(value.strip())
                return (f"{path}: the feature column {where} holds {what} in data row "
                        f"{i + 1}{' (after the header)' if header else ''}: every feature "
                        "cell must hold a number. Fill in or drop the rows with missing "
                        "values, drop text columns, or, if that column holds the labels, "
                        "name it with --label-column.")
    return f"{path}: the feature columns must hold numbers only."
