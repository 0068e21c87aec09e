"""Progress display: :class:`ProgressBar`, a tqdm bar per phase, or lines on stderr for
every few epochs (at most about ten a phase) and the last."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from typing import Any

from deepbelief.training.distributed import is_writer
from deepbelief.training.hooks import Callback, context_info
from deepbelief.training.loop import TrainingContext

__all__ = ["ProgressBar"]


def _in_ci() -> bool:
    value = os.environ.get("CI", "").strip().lower()
    return value not in ("", "0", "false", "no")


def _format_metrics(record: dict, skip=("epoch",)) -> str:
    return ", ".join(f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
                     for k, v in record.items() if k not in skip)


def _label_and_layer(context: TrainingContext) -> tuple[str, str]:
    """The phase's label and ``'layer N'`` ('' outside a stack), named once: a label that
    ends with its layer (``'SequenceCRBM layer 1'``) leaves it to the second part."""
    label = context_info(context, "label") or context.name
    index = context_info(context, "layer")
    if index is None:
        return label, ""
    layer = f"layer {index + 1}"
    if label.endswith(f" {layer}"):
        label = label[: -len(layer) - 1]
    return label, layer


#: Without a terminal, a phase prints at most about this many lines (``every=None``).
LINES_PER_PHASE = 10


class ProgressBar(Callback):
    """Show training progress: a tqdm bar per phase, or a line every few epochs.

    With ``verbose > 0``, a `tqdm <https://tqdm.github.io>`_ bar per phase (each pretrained
    layer, then fine-tuning) shows the epochs done and the last epoch's metrics, updated
    once per epoch, when ``file`` is a terminal and the environment variable ``CI`` is not
    set; otherwise (logs, CI, notebooks' captured output) a line goes to ``sink`` (default:
    stderr, like the bars) after every ``every``-th epoch of a phase and after its last
    epoch (also when early stopping ends it). ``verbose=0`` shows nothing, and neither do
    the processes of a ``torch.distributed`` group other than rank 0. Estimators with
    ``verbose > 0`` add one themselves unless ``callbacks`` already holds one.

    Parameters
    ----------
    verbose : int, default 1
        0: silent; > 0: bars or lines.
    bar : bool or None, default None
        True: always a bar; False: always lines; None: decide as above.
    file : file-like or None, default None
        Where bars and lines go (``sys.stderr`` when None).
    sink : callable or None, default None
        Receives each line (a str) when there is no bar, instead of ``file``;
        ``logging.getLogger("deepbelief").info`` sends them to logging.
    every : int or None, default None
        Without a bar, a line after every ``every``-th epoch of a phase (counted in this
        call) and after its last; None: ``ceil(epochs / 10)``, at most about
        :data:`LINES_PER_PHASE` lines a phase; 1: every epoch.

    Examples
    --------
    >>> from deepbelief import RBM
    >>> from deepbelief.training.callbacks import ProgressBar
    >>> from deepbelief.datasets import load_digits
    >>> X, _ = load_digits()
    >>> _ = RBM(n_components=8, n_iter=30, device="cpu", random_state=0,
    ...         callbacks=[ProgressBar(bar=False, sink=print)]).fit(X)  # doctest: +ELLIPSIS
    [RBM] epoch 3, reconstruction_error = ..., time = ...
    [RBM] epoch 6, reconstruction_error = ..., time = ...
    ...
    [RBM] epoch 30, reconstruction_error = ..., time = ...
    """

    def __init__(self, verbose: int = 1, *, bar: bool | None = None, file=None,
                 sink: Callable[[str], Any] | None = None, every: int | None = None) -> None:
        if every is not None and (isinstance(every, bool) or not isinstance(every, int)
                                  or every < 1):
            raise ValueError(f"every must be a positive integer or None, got {every!r}.")
        self.verbose = verbose
        self.bar = bar
        self.file = file
        self.sink = sink
        self.every = every

    def _use_bar(self, stream) -> bool:
        if self.bar is not None:
            return bool(self.bar)
        isatty = getattr(stream, "isatty", None)
        return (bool(isatty and isatty()) and not _in_ci()
                and os.environ.get("TERM", "") != "dumb")

    def on_train_begin(self, context: TrainingContext) -> None:
        self._bar = None
        self._done, self._shown = 0, None
        self._every = self.every or max(1, math.ceil(context.n_epochs / LINES_PER_PHASE))
        self._shows = bool(self.verbose) and is_writer()  # rank 0 alone in a process group
        if not self._shows or context.n_epochs <= 0:
            return
        stream = self.file if self.file is not None else sys.stderr
        if self._use_bar(stream):
            from tqdm.auto import tqdm

            desc, layer = _label_and_layer(context)
            if layer:
                desc += f" {layer}"
                if context_info(context, "n_layers"):
                    desc += f"/{context_info(context, 'n_layers')}"
            self._bar = tqdm(total=context.n_epochs, desc=desc, unit="epoch", file=stream,
                             leave=True, dynamic_ncols=True)

    def on_epoch_end(self, context: TrainingContext) -> None:
        if not getattr(self, "_shows", self.verbose):
            return
        record = context.record
        if self._bar is not None:
            self._bar.set_postfix_str(_format_metrics(record, ("epoch", "time"))
                                      .replace(" = ", "="), refresh=False)
            self._bar.update(1)
            return
        self._done += 1
        if self._done % self._every == 0 or self._done == context.n_epochs:
            self._line(context, record)

    def _line(self, context: TrainingContext, record: dict) -> None:
        label, layer = _label_and_layer(context)
        where = f"{layer}, " if layer else ""
        line = f"[{label}] {where}epoch {record['epoch']}, {_format_metrics(record)}"
        self._shown = record
        if self.sink is not None:
            self.sink(line)
        else:
            print(line, file=self.file if self.file is not None else sys.stderr, flush=True)

    def on_train_end(self, context: TrainingContext) -> None:
        if getattr(self, "_bar", None) is not None:
            self._bar.close()
        elif (getattr(self, "_shows", self.verbose) and getattr(self, "_done", 0)
              and context.record is not None
              and context.record is not self._shown):  # stopped early: show the last epoch
            self._line(context, context.record)
        self._bar = None

    def __deepcopy__(self, memo):  # streams and sinks are shared, never copied
        return ProgressBar(self.verbose, bar=self.bar, file=self.file, sink=self.sink,
                           every=self.every)
