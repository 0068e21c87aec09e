"""Progress display: :class:`ProgressBar`, a tqdm bar per phase or one line per epoch."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from deepbelief.training.hooks import Callback, context_info
from deepbelief.training.loop import TrainingContext

__all__ = ["ProgressBar"]


def _in_ci() -> bool:
    value = os.environ.get("CI", "").strip().lower()
    return value not in ("", "0", "false", "no")


def _format_metrics(record: dict, skip=("epoch",)) -> str:
    return ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
                     for k, v in record.items() if k not in skip)


class ProgressBar(Callback):
    """Show training progress: a tqdm bar per phase, or one line per epoch.

    With ``verbose > 0``, a `tqdm <https://tqdm.github.io>`_ bar per phase (each pretrained
    layer, then fine-tuning) shows the epochs done and the last epoch's metrics, updated
    once per epoch, when ``file`` is a terminal and the environment variable ``CI`` is not
    set; otherwise (logs, CI, notebooks' captured output) one line per epoch goes to
    ``sink``. ``verbose=0`` shows nothing. Estimators with ``verbose > 0`` add one
    themselves unless ``callbacks`` already holds one.

    Parameters
    ----------
    verbose : int, default 1
        0: silent; > 0: bars or lines.
    bar : bool or None, default None
        True: always a bar; False: always lines; None: decide as above.
    file : file-like or None, default None
        Where bars go (``sys.stderr`` when None).
    sink : callable or None, default None
        Receives each line (a str) when there is no bar; ``print`` to ``sys.stdout`` when
        None. ``logging.getLogger("deepbelief").info`` sends them to logging.

    Examples
    --------
    >>> from deepbelief import RBM
    >>> from deepbelief.training.callbacks import ProgressBar
    >>> from deepbelief.datasets import load_digits
    >>> X, _ = load_digits()
    >>> _ = RBM(n_components=8, n_iter=2, device="cpu", random_state=0,
    ...         callbacks=[ProgressBar(bar=False)]).fit(X)  # doctest: +ELLIPSIS
    [RBM] epoch 1, reconstruction_error = ..., time = ...
    [RBM] epoch 2, reconstruction_error = ..., time = ...
    """

    def __init__(self, verbose: int = 1, *, bar: bool | None = None, file=None,
                 sink: Callable[[str], Any] | None = None) -> None:
        self.verbose = verbose
        self.bar = bar
        self.file = file
        self.sink = sink

    def _use_bar(self, stream) -> bool:
        if self.bar is not None:
            return bool(self.bar)
        isatty = getattr(stream, "isatty", None)
        return (bool(isatty and isatty()) and not _in_ci()
                and os.environ.get("TERM", "") != "dumb")

    def on_train_begin(self, context: TrainingContext) -> None:
        self._bar = None
        if not self.verbose or context.n_epochs <= 0:
            return
        stream = self.file if self.file is not None else sys.stderr
        if self._use_bar(stream):
            from tqdm.auto import tqdm

            desc = context_info(context, "label") or context.name
            layer = context_info(context, "layer")
            if layer is not None:
                desc += f" layer {layer + 1}"
                if context_info(context, "n_layers"):
                    desc += f"/{context_info(context, 'n_layers')}"
            self._bar = tqdm(total=context.n_epochs, desc=desc, unit="epoch", file=stream,
                             leave=True, dynamic_ncols=True)

    def on_epoch_end(self, context: TrainingContext) -> None:
        if not self.verbose:
            return
        record = context.record
        if self._bar is not None:
            self._bar.set_postfix_str(_format_metrics(record, ("epoch", "time"))
                                      .replace(" = ", "="), refresh=False)
            self._bar.update(1)
            return
        label = context_info(context, "label") or context.name
        layer = context_info(context, "layer")
        where = f"layer {layer + 1}, " if layer is not None else ""
        line = f"[{label}] {where}epoch {record['epoch']}, {_format_metrics(record)}"
        if self.sink is not None:
            self.sink(line)
        else:
            print(line, file=sys.stdout, flush=True)

    def on_train_end(self, context: TrainingContext) -> None:
        if getattr(self, "_bar", None) is not None:
            self._bar.close()
        self._bar = None

    def __deepcopy__(self, memo):  # streams and sinks are shared, never copied
        return ProgressBar(self.verbose, bar=self.bar, file=self.file, sink=self.sink)
