"""Input and output of the command line: its errors, data sources, tables and histories.

Used by :mod:`deepbelief.cli`; :func:`load_data` is public there.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from deepbelief.cli.columns import (
    TableOptions,
    counts_rows,
    feature_order,
    is_number,
    label_index,
    not_a_number,
    report_label,
)
from deepbelief.cli.errors import (  # noqa: F401 (their home before cli.errors: import from here)
    EXIT_FAILURE,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    UsageError,
    one_line,
)

log = logging.getLogger("deepbelief")

DATASETS = ("digits", "mnist", "fashion-mnist")
_DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


# -- data --------------------------------------------------------------------------------------
@dataclass
class Data:
    """Loaded data: features, labels (or None) and a description for messages; a table's
    feature column names (in the order of ``X``'s columns) and label column, and the
    scaling applied (:mod:`deepbelief.cli.provenance`)."""

    X: np.ndarray
    y: np.ndarray | None
    name: str
    columns: list[str] | None = None
    label: str | None = None
    scale: dict | None = None


def _parse_number_or_str(values: list[str]) -> np.ndarray:
    """A column as integers, floats, or (failing both) strings."""
    try:
        numbers = np.asarray([float(v) for v in values])
    except ValueError:
        return np.asarray(values, dtype=str)
    if np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers)):
        return numbers.astype(np.int64)
    return numbers


def _is_header(first: list[str], second: list[str] | None) -> bool:
    """A first row is a header when all its cells are text, or when it has text above a
    number (a label column of names, like ``cat``, is not a header)."""
    if not any(is_number(v) for v in first):
        return True
    return second is not None and any(not is_number(a) and is_number(b)
                                      for a, b in zip(first, second, strict=False))


def _delimiter(path: Path) -> str:
    """The delimiter of a table: what :class:`csv.Sniffer` finds in its first lines among
    comma, semicolon, tab, space and bar, else tab for .tsv and comma for the others."""
    default = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, newline="", encoding="utf-8") as handle:
        sample = "".join(handle.readline() for _ in range(20))
    try:
        found = csv.Sniffer().sniff(sample, delimiters=",;\t| ").delimiter
    except csv.Error:
        return default
    if found != default:
        log.info("%s: columns separated by %r", path, found)
    return found


def _read_table(path: Path, options: TableOptions):
    """A table's features (in the model's column order when it has names), labels, feature
    names and label column name."""
    delimiter = _delimiter(path)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle, delimiter=delimiter) if row]
    if not rows:
        raise CommandError(f"{path} is empty.")
    header = None
    if _is_header(rows[0], rows[1] if len(rows) > 1 else None):
        header, rows = [h.strip() for h in rows[0]], rows[1:]
    if not rows:
        raise CommandError(f"{path} has a header but no data rows.")
    if header is not None and header[0] == "" and counts_rows(rows):
        log.warning("%s: the first column has no name and counts the rows 0, 1, 2, ... (the "
                    "index that pandas' to_csv writes unless index=False): left out of the "
                    "features", path)
        header, rows = header[1:], [row[1:] for row in rows]
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            raise CommandError(f"{path}: row {i + 1 + (header is not None)} has {len(row)} "
                               f"values, the first row {width}.")
    columns = list(zip(*rows, strict=True))
    index, how = label_index(path, header, width, options)
    report_label(path, header, index, how)
    y = None if index is None else _parse_number_or_str(
        [v.strip() for v in columns[index]])
    features = [c for i, c in enumerate(columns) if i != index]
    names = None if header is None else [h for i, h in enumerate(header) if i != index]
    if names is not None and options.features is not None:
        order = feature_order(path, names, options.features)
        features, names = [features[i] for i in order], [names[i] for i in order]
    try:
        X = np.asarray(features, dtype=np.float64).T
    except ValueError:
        raise CommandError(not_a_number(path, features, names, index,
                                         header is not None)) from None
    label = None if index is None else (header[index] if header else str(index))
    return X, y, names, label


def _read_file(path: Path, options: TableOptions):
    """Features, labels (or None), feature names (or None) and label column (or None)."""
    suffix = path.suffix.lower()
    if suffix == ".npz":
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            x_key = next((k for k in ("X", "x", "data") if k in keys), None)
            if x_key is None:
                raise CommandError(f"{path} holds no array named 'X' (it holds "
                                   f"{sorted(keys)}); save it with np.savez(path, X=X, y=y).")
            y_key = next((k for k in ("y", "Y", "labels", "target") if k in keys), None)
            return (archive[x_key], None if y_key is None else archive[y_key], None,
                    y_key)
    if suffix == ".npy":  # memory-mapped: training reads it batch by batch, never whole
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False), None, None, None
        except ValueError as exc:  # object arrays cannot be mapped (nor trained on)
            raise CommandError(f"{path} cannot be memory-mapped ({exc}): save it as a plain "
                               "numeric array, numpy.save(path, X.astype('float32')).") from exc
    if suffix in (".csv", ".tsv", ".txt"):
        return _read_table(path, options)
    raise CommandError(f"cannot read {path}: use a .npz file (arrays X and y), a .npy file "
                       "(X), or a .csv/.tsv file (with a label column).")


def _split(X, y, split: str):
    from sklearn.model_selection import train_test_split

    if split == "all":
        return X, y
    parts = train_test_split(X, y, test_size=0.2, random_state=0)
    return (parts[0], parts[2]) if split == "train" else (parts[1], parts[3])


def _load_idx(source: str, folder: Path | None, split: str):
    from deepbelief.datasets import load_fashion_mnist, load_mnist

    loader = load_fashion_mnist if source == "fashion-mnist" else load_mnist
    if (folder is None and source == "fashion-mnist" and not os.environ.get("DEEPBELIEF_DATA")
            and _DEBIAN_FASHION_MNIST.is_dir()):
        folder = _DEBIAN_FASHION_MNIST
    kinds = ("train", "test") if split == "all" else (split,)
    parts = [loader(folder, kind=kind) for kind in kinds]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def load_data(
    source: str,
    *,
    split: str | None = None,
    data_dir: str | Path | None = None,
    label_column: str | None = None,
    limit: int | None = None,
    n_features: int | None = None,
    want_labels: bool = False,
    feature_names: list[str] | None = None,
    recorded_label: str | None = None,
) -> Data:
    """Load data for a command: a built-in data set or a file.

    Parameters
    ----------
    source : str
        ``'digits'`` (scikit-learn's 8x8 digits scaled to [0, 1]; ``'train'`` and ``'test'``
        are the reference example's 80/20 split with ``random_state=0``), ``'mnist'`` or
        ``'fashion-mnist'`` (IDX files in ``data_dir``, else ``$DEEPBELIEF_DATA``), a folder
        holding such IDX files, or a file: ``.npz`` (arrays ``X`` and optionally ``y``),
        ``.npy`` (``X``, memory-mapped: opened with ``mmap_mode='r'`` and never loaded
        whole by ``train``), ``.csv``/``.tsv`` (features and optionally a label column; comma,
        semicolon, tab, space or bar between columns, detected by :class:`csv.Sniffer`).
    split : {'train', 'test', 'all'}, optional
        The part of a built-in data set (default 'train'); not for files.
    data_dir : path, optional
        Folder of the MNIST or Fashion-MNIST files.
    label_column : str, optional
        Name or 0-based index of a table's label column, or ``'none'``. By default
        ``recorded_label``, else a column named label, y, target or class, else the one
        column not in ``feature_names``, else the last column when ``want_labels`` or when
        the table has one column more than ``n_features``
        (:func:`deepbelief.cli.columns.label_index`).
    limit : int, optional
        Keep the first ``limit`` samples.
    n_features : int, optional
        The number of features the model takes (to tell a label column apart).
    want_labels : bool, default False
        Whether the caller needs labels (then a table's last column is the label).
    feature_names : list of str, optional
        The model's feature columns (``feature_names_in_``): a table with a header has its
        columns matched to them by name and put in their order.
    recorded_label : str, optional
        The label column the model was trained with.

    Returns
    -------
    Data

    Raises
    ------
    CommandError
        When the data cannot be read or does not fit: a missing file, a table whose columns
        do not match ``feature_names`` (naming them), ...
    UsageError
        ``split`` given for a file.

    Examples
    --------
    >>> data = load_data("digits", split="test")
    >>> data.X.shape, data.y.shape, data.name
    ((360, 64), (360,), 'digits (test split)')
    """
    builtin = source in DATASETS
    path = Path(source)
    if not builtin and not path.exists():
        raise CommandError(f"data not found: {source} is neither a built-in data set "
                           f"({', '.join(DATASETS)}) nor an existing file or folder.")
    if split is not None and not (builtin or path.is_dir()):
        raise UsageError("--split applies to the built-in data sets and IDX folders, not "
                         f"to a file like {source}.")
    if label_column is not None and (builtin or path.is_dir()):
        raise UsageError(f"--label-column applies to CSV and TSV tables, not to {source} "
                         "(its labels are its own).")
    split = split or "train"
    columns = label = None
    if source == "digits":
        from deepbelief.datasets import load_digits

        X, y = _split(*load_digits(), split)
        name = f"digits ({split} split)" if split != "all" else "digits"
    elif builtin or path.is_dir():
        try:
            X, y = _load_idx(source if builtin else "mnist",
                             Path(data_dir) if data_dir else (None if builtin else path), split)
        except FileNotFoundError as exc:
            first = str(exc).splitlines()[0]
            raise CommandError(f"{first} Give the folder with --data-dir or set "
                               "DEEPBELIEF_DATA.") from None
        name = f"{source if builtin else path} ({split})"
    else:
        X, y, columns, label = _read_file(path, TableOptions(
            label_column, n_features, want_labels, feature_names, recorded_label))
        name = str(path)
    X = X if isinstance(X, np.memmap) else np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise CommandError(f"{name}: the features must be numbers, got dtype {X.dtype}.")
    if X.ndim != 2:
        raise CommandError(f"{name}: the features must be a 2-D array (samples, features), "
                           f"got shape {X.shape}.")
    if y is not None and len(y) != len(X):
        raise CommandError(f"{name}: {len(X)} samples but {len(y)} labels.")
    if limit is not None:
        X = X[:limit]
        y = None if y is None else y[:limit]
    if len(X) == 0:
        raise CommandError(f"{name} holds no samples.")
    if isinstance(X, np.memmap):  # a .npy file stays on disk (the estimators read memmaps)
        return Data(X, y, name, columns, label)
    return Data(np.ascontiguousarray(X, dtype=np.float32), y, name, columns, label)


def data_from_args(args, *, default_split: str, n_features: int | None = None,
                   want_labels: bool = False) -> Data:
    """:func:`load_data` with a command's data options (``--data``, ``--split``,
    ``--data-dir``, ``--label-column``, ``--limit``; ``train``'s ``--scale``), prepared as
    the model file (``args.model``) records its training data: see
    :func:`deepbelief.cli.provenance.command_data`. ``default_split`` applies to the
    built-in data sets and IDX folders."""
    from deepbelief.cli.provenance import command_data  # it builds on this module

    return command_data(args, default_split=default_split, n_features=n_features,
                        want_labels=want_labels)


# -- output ------------------------------------------------------------------------------------
def _output_folder(option: str, path: Path) -> None:
    """Create the folder of the output file ``path`` (given with ``option``) and check that
    it can be written, or raise :class:`CommandError` saying why not."""
    if path.is_dir():
        raise CommandError(f"{option} {path} is a folder; give the path of a file (in it, "
                           "or elsewhere).")
    folder = path.parent
    above = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if above is not None and not above.is_dir():
        raise CommandError(f"{option} {path}: {above} is a file, not a folder.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CommandError(f"{option} {path}: cannot create the folder {folder} "
                           f"({exc.strerror or exc}).") from None
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists()
                                                     and not os.access(path, os.W_OK)):
        raise CommandError(f"{option} {path}: cannot write there (permission denied).")
    try:  # what the file system really allows (os.access answers yes to root everywhere)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=f".{path.name}.", suffix=".probe")
        probe.close()
    except OSError as exc:
        raise CommandError(f"{option} {path}: cannot write in {folder} "
                           f"({exc.strerror or exc}).") from None


def prepare_outputs(prog: str, outputs: dict[str, str | os.PathLike | None]) -> None:
    """Check every output path of a command before any work starts, creating missing
    folders (one policy for every command): ``outputs`` maps each option (``-o``,
    ``--history``, ...) to its path (None or '-': not written, or stdout).

    Raises
    ------
    CommandError
        A path is a folder, lies under a file, or cannot be written.
    UsageError
        Two options name the same file.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> prepare_outputs("deepbelief train", {"-o": folder / "new" / "model.safetensors"})
    >>> (folder / "new").is_dir()
    True
    >>> prepare_outputs("deepbelief train", {"-o": folder})  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    CommandError: -o /tmp/... is a folder; give the path of a file (in it, or elsewhere).
    """
    seen: dict[Path, str] = {}
    for option, value in outputs.items():
        if value is None or str(value) == "-":
            continue
        path = Path(value)
        key = path.resolve()
        if key in seen:
            other = "train.ckpt" if path.name == "run.ckpt" else "run.ckpt"
            why = (" (saving the model would replace the checkpoint that --resume reads): "
                   f"give --checkpoint another file, e.g. {other}" if "--checkpoint" in
                   (option, seen[key]) else ": give them different files")
            raise UsageError(f"{seen[key]} and {option} both name {path}{why}.", prog)
        seen[key] = option
        _output_folder(option, path)


def check_suffix(prog: str, option: str, path: str | os.PathLike | None,
                 accepted: tuple[str, ...], what: str) -> None:
    """Refuse an output ``path`` whose suffix is none of ``accepted`` (the formats that
    ``what`` is written in, chosen by the suffix), rather than write another format under
    it. None or '-' (stdout) passes.

    Raises
    ------
    UsageError
        Naming the accepted suffixes.

    Examples
    --------
    >>> check_suffix("deepbelief transform", "-o", "codes.NPY", (".npy", ".csv"), "codes")
    >>> check_suffix("deepbelief transform", "-o", "codes.png", (".npy", ".csv"), "codes")
    Traceback (most recent call last):
    deepbelief.cli.errors.UsageError: -o codes.png: codes are written as .npy or .csv (chosen
    by the suffix), not .png: give a path ending in .npy or .csv.
    """
    if path is None or str(path) == "-":
        return
    suffix = Path(path).suffix.lower()
    if suffix not in accepted:
        given = f"not {suffix}" if suffix else "and this path has no suffix"
        formats = " or ".join(filter(None, (", ".join(accepted[:-1]), accepted[-1])))
        raise UsageError(f"{option} {path}: {what} are written as {formats} (chosen by the "
                         f"suffix), {given}: give a path ending in {formats}.", prog)


def write_table(path: str | None, header: list[str], rows) -> None:
    """CSV to ``path``, or to stdout when ``path`` is None or '-'."""
    if path in (None, "-"):
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        sys.stdout.flush()
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    log.info("wrote %s", target)


def csv_number(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.7g}"
    return str(value)


def _history_rows(history) -> tuple[list[str], list[list]]:
    """A history as flat rows: phase, layer, then every metric."""
    entries: list[tuple[str, Any, dict]] = []
    if isinstance(history, dict):
        for i, records in enumerate(history.get("pretrain") or []):
            entries += [("pretrain", i + 1, r) for r in records]
        for phase, records in history.items():  # fine-tuning, up-down, ...: every phase
            if phase != "pretrain":
                entries += [(phase, "", r) for r in records or []]
    else:
        entries = [("pretrain", "", r) for r in history]
    keys = list(dict.fromkeys(k for _, _, r in entries for k in r))
    if "epoch" in keys:
        keys.remove("epoch")
    header = ["phase", "layer", "epoch", *keys]
    rows = [[phase, layer, r.get("epoch", ""), *(csv_number(r.get(k, "")) for k in keys)]
            for phase, layer, r in entries]
    return header, rows


def write_history(model, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".csv":
        header, rows = _history_rows(model.history_)
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
    else:
        path.write_text(json.dumps(model.history_, indent=1) + "\n", encoding="utf-8")


def read_history(path: Path):
    if path.suffix.lower() == ".json":
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CommandError(f"{path} is not a valid JSON history ({exc}).") from None
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    pretrain: dict[int, list] = {}
    phases: dict[str, list] = {"finetune": []}
    flat: list = []
    for row in rows:
        record = {k: float(v) if k != "epoch" else int(v) for k, v in row.items()
                  if k not in ("phase", "layer") and v not in ("", None)}
        if row.get("phase") not in (None, "", "pretrain"):  # finetune, updown, ...
            phases.setdefault(row["phase"], []).append(record)
        elif row.get("layer"):
            pretrain.setdefault(int(row["layer"]), []).append(record)
        else:
            flat.append(record)
    if flat:
        return flat
    if not phases["finetune"] and len(phases) > 1:
        del phases["finetune"]  # a generative DBN's history has no fine-tuning
    return {"pretrain": [pretrain[k] for k in sorted(pretrain)], **phases}
