"""The :class:`TensorBoard` callback: training watched the way PyTorch users watch theirs,
with ``torch.utils.tensorboard`` (the optional ``tensorboard`` package:
``pip install 'deepbelief[tensorboard]'``).

The summaries are built by ``torch.utils.tensorboard.summary``, as ``SummaryWriter``
builds them, and appended to one event file per fit by :class:`EventFile`, opened and
closed at each write. A ``SummaryWriter`` keeps its file (and a thread) open until it is
closed, and a callback never learns which phase of a fit is the last one: closing one at
the end of every phase would start a new file per phase (per layer, per ``partial_fit``
call), and those names, made in the same second, sort out of order once its counter passes
9 (it is not zero-padded), so that TensorBoard read ``partial_fit``'s epochs as 3, 1, 2.
"""

from __future__ import annotations

import functools
import itertools
import numbers
import os
import socket
import time
from collections.abc import Sequence

from deepbelief.training.distributed import is_writer
from deepbelief.training.hooks import Callback, context_info
from deepbelief.training.loop import TrainingContext
from deepbelief.training.snapshots import (
    as_images,
    first_layer_filters,
    generated,
    hidden_activations,
    parameters,
    training_rows,
)

__all__ = ["INSTALL_ADVICE", "EventFile", "TensorBoard", "tensorboard_modules"]

#: How to install what :class:`TensorBoard` needs.
INSTALL_ADVICE = "pip install 'deepbelief[tensorboard]'"

_FILES = itertools.count()  # event files of this process: unique names within a microsecond


def tensorboard_modules() -> tuple:
    """``(summary, Event, RecordWriter)``: ``torch.utils.tensorboard.summary``, the event
    protocol buffer and tensorboard's record writer, or an ImportError that says how to
    install the ``tensorboard`` package they need."""
    try:
        from tensorboard.compat.proto.event_pb2 import Event
        from tensorboard.summary.writer.record_writer import RecordWriter
        from torch.utils.tensorboard import summary
    except ImportError as error:
        raise ImportError("the TensorBoard callback needs the tensorboard package: "
                          f"{INSTALL_ADVICE}") from error
    return summary, Event, RecordWriter


class EventFile:
    """An event file in ``log_dir`` that each :meth:`write` opens, appends to and closes.

    Its name is TensorBoard's, with the time to the microsecond and a counter, so that the
    files of later fits sort after it. Nothing stays open between writes.

    Parameters
    ----------
    log_dir : str or os.PathLike
        Created if needed.
    """

    def __init__(self, log_dir: str | os.PathLike) -> None:
        _, event, _ = tensorboard_modules()
        os.makedirs(log_dir, exist_ok=True)
        now = time.time()
        self.path = os.path.join(os.fspath(log_dir), f"events.out.tfevents.{now:017.6f}."
                                 f"{socket.gethostname()}.{os.getpid()}.{next(_FILES)}")
        self._append([event(wall_time=now, file_version="brain.Event:2")], mode="wb")

    def _append(self, events: list, mode: str = "ab") -> None:
        _, _, record_writer = tensorboard_modules()
        with open(self.path, mode) as file:
            writer = record_writer(file)
            for event in events:
                writer.write(event.SerializeToString())

    def write(self, summaries: Sequence, step: int) -> None:
        """Append ``summaries`` (``Summary`` protocol buffers) as events of ``step``."""
        _, event, _ = tensorboard_modules()
        now = time.time()
        self._append([event(wall_time=now, step=int(step), summary=s) for s in summaries])


@functools.cache
def _histogram_bins() -> list[float]:
    """``SummaryWriter.add_histogram``'s default bucket edges (TensorFlow's): 0 and
    ±1e-12 · 1.1^k up to 1e20."""
    edges, v = [], 1e-12
    while v < 1e20:
        edges.append(v)
        v *= 1.1
    return [-e for e in reversed(edges)] + [0.0] + edges


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


class TensorBoard(Callback):
    """Log every phase of training to TensorBoard: per-epoch metrics, histograms of the
    weights and hidden activations, the first layer's filters and samples as images.

    Works with every estimator that takes ``callbacks=`` (and with ``deepbelief train
    --tensorboard DIR``); watch with ``tensorboard --logdir DIR``. Put it last in
    ``callbacks`` so that it sees the metrics the callbacks before it add to the records.

    What is logged, under tags named by phase (``pretrain``, ``finetune``, ``updown``;
    ``finetune`` also for a :class:`~deepbelief.DBNAutoencoder`) and, in a stack, layer
    (``pretrain/layer1``; a lone :class:`~deepbelief.RBM`: ``pretrain``):

    * ``{phase}/{metric}``: every number of each epoch's record, as in ``history_``
      (``pretrain/layer1/reconstruction_error``, ``finetune/loss``,
      ``finetune/validation_score``, ``.../time``), and ``{phase}/learning_rate``;
    * ``{phase}/parameters/{name}``: histograms of the module's parameters (an RBM's
      ``weight``, ``visible_bias``, ``hidden_bias``; a network's ``body.0.weight``, ...;
      up-down: ``recognition1.weight``, ``generative1.weight``, ..., ``top.weight``);
    * ``{phase}/activations/{name}``: histograms of the hidden activations of the first
      ``max_samples`` training rows (a layer's ``hidden``; a network's activation modules,
      ``body.1``, ...; up-down: the recognition layers, ``layer1``, ...);
    * ``{phase}/filters``: the first layer's weights, one image per unit (the first
      ``max_images``), in the phases whose module reads the input (the bottom layer's
      pretraining, fine-tuning, up-down), when the input is an image (``image_shape``);
    * ``{phase}/samples`` (RBMs, up-down: ``sample_steps`` Gibbs steps from training rows) or
      ``{phase}/reconstructions`` (autoencoder layers, deep autoencoders), in those phases.

    Steps are the records' epochs (``record["epoch"]``, 1 after the first epoch of each
    phase and layer): each tag is one phase's curve, and TensorBoard's *relative* or *wall*
    horizontal axis shows the phases one after the other. A fit resumed from a checkpoint and
    ``partial_fit`` continue the epochs, so their points extend the same curves (epochs
    trained again after the checkpoint are logged again: TensorBoard shows the last; a new
    fit starts at 1 again: give each run its own ``log_dir``).

    Each fit writes one event file in ``log_dir`` (``partial_fit`` appends to the file of
    the fit before it; copies of the callback start their own), opened, appended to and
    closed after every epoch: the file is complete after each epoch, also when training
    fails or the process is killed, and nothing is left open in ``callbacks_``. Nothing is
    drawn from the training run's random stream and the module is not changed: the fitted
    model is the same with or without this callback.

    Parameters
    ----------
    log_dir : str or os.PathLike
        The run's folder (created if needed).
    histogram_every : int, default 5
        Histograms after the first epoch of each phase, then every ``histogram_every``
        epochs, and after its last planned epoch.
    image_every : int, default 5
        The same for images.
    weights, activations, filters, samples : bool, default True
        Log the parameter histograms, the activation histograms, the filters, the samples
        or reconstructions; False switches each off.
    image_shape : (int, int) or None, default None
        (height, width) of an input image; None takes square inputs as square images
        (64: 8 x 8, 784: 28 x 28) and logs no images of other inputs. Phases whose input
        has another width (e.g. a top RBM joined with labels) log none.
    max_images : int, default 64
        Filters and samples per image tag.
    max_samples : int, default 256
        Training rows for the activation histograms (and the first ``max_images`` of them
        for samples).
    sample_steps : int, default 10
        Gibbs steps of the samples.
    random_state : int, default 0
        Seed of the samples' own random stream (the training run's is never drawn from).

    Raises
    ------
    ImportError
        If the tensorboard package is not installed (``pip install
        'deepbelief[tensorboard]'``).
    ValueError
        For a count that is not a positive integer, or an ``image_shape`` that is not two
        positive integers.

    Examples
    --------
    >>> import tempfile
    >>> import numpy as np
    >>> from deepbelief import DBNClassifier
    >>> from deepbelief.callbacks import TensorBoard
    >>> from deepbelief.datasets import load_digits
    >>> from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    >>> X, y = load_digits()
    >>> log_dir = tempfile.mkdtemp()
    >>> clf = DBNClassifier((32,), pretrain_epochs=2, max_iter=3, device="cpu",
    ...                     random_state=0, callbacks=[TensorBoard(log_dir)]).fit(X, y)
    >>> run = EventAccumulator(log_dir).Reload()
    >>> loss = run.Scalars("finetune/loss")
    >>> [e.step for e in loss]
    [1, 2, 3]
    >>> np.allclose([e.value for e in loss], [r["loss"] for r in clf.history_["finetune"]])
    True
    >>> sorted(run.Tags()["images"])
    ['finetune/filters', 'pretrain/layer1/filters', 'pretrain/layer1/samples']
    """

    def __init__(self, log_dir: str | os.PathLike, *, histogram_every: int = 5,
                 image_every: int = 5, weights: bool = True, activations: bool = True,
                 filters: bool = True, samples: bool = True,
                 image_shape: Sequence[int] | None = None, max_images: int = 64,
                 max_samples: int = 256, sample_steps: int = 10,
                 random_state: int = 0) -> None:
        tensorboard_modules()  # fail now, not at the first epoch
        if not isinstance(log_dir, (str, os.PathLike)):
            raise ValueError(f"log_dir must be a folder path, got {log_dir!r}.")
        if image_shape is not None:
            if len(image_shape) != 2:
                raise ValueError(f"image_shape must be (height, width), got {image_shape!r}.")
            image_shape = tuple(_positive_int("image_shape", n) for n in image_shape)
        self.log_dir = log_dir
        self.histogram_every = _positive_int("histogram_every", histogram_every)
        self.image_every = _positive_int("image_every", image_every)
        self.weights, self.activations = bool(weights), bool(activations)
        self.filters, self.samples = bool(filters), bool(samples)
        self.image_shape = image_shape
        self.max_images = _positive_int("max_images", max_images)
        self.max_samples = _positive_int("max_samples", max_samples)
        self.sample_steps = _positive_int("sample_steps", sample_steps)
        self.random_state = int(random_state)
        self._file: EventFile | None = None

    def __getstate__(self) -> dict:  # a copy (a new fit, a pickle) starts its own file
        return {**self.__dict__, "_file": None}

    # -- hooks ---------------------------------------------------------------------------------
    def on_train_begin(self, context: TrainingContext) -> None:
        if not is_writer():  # data-parallel training: rank 0 alone writes
            return
        if self._file is None:
            self._file = EventFile(self.log_dir)
        phase, layer = context_info(context, "phase"), context_info(context, "layer")
        self._prefix = (phase or "train") + ("" if layer is None else f"/layer{layer + 1}")
        self._reads_input = layer in (None, 0)  # the module's bottom layer reads the input
        self._last_epoch = context.epoch + context.n_epochs

    def _due(self, epoch: int, every: int) -> bool:
        return (epoch - 1) % every == 0 or epoch == self._last_epoch

    def on_epoch_end(self, context: TrainingContext) -> None:
        if not is_writer():
            return
        summary, _, _ = tensorboard_modules()
        step, tag = int(context.record["epoch"]), f"{self._prefix}/{{}}".format
        metrics = {k: float(v) for k, v in context.record.items()
                   if k != "epoch" and isinstance(v, numbers.Real)}
        metrics["learning_rate"] = float(context.optimizer.param_groups[0]["lr"])
        written = [summary.scalar(tag(k), v) for k, v in metrics.items()]
        histograms = (self.weights or self.activations) and self._due(step, self.histogram_every)
        images = (self._reads_input and (self.filters or self.samples)
                  and self._due(step, self.image_every))
        rows = (training_rows(context.data, self.max_samples)
                if (histograms and self.activations) or (images and self.samples) else None)
        if histograms:
            written += [summary.histogram(tag(name), values.float().cpu(), _histogram_bins())
                        for name, values in self._histograms(context, rows).items()]
        if images:
            written += [summary.image(tag(name), values, dataformats="NCHW")
                        for name, values in self._images(context, rows).items()]
        self._file.write(written, step)

    def _histograms(self, context: TrainingContext, rows) -> dict:
        """The histograms' values by name."""
        named = {}
        if self.weights:
            named.update({f"parameters/{n}": p for n, p in parameters(
                context.module, context.objective).items()})
        if self.activations:
            named.update({f"activations/{n}": a for n, a in hidden_activations(
                context.module, rows, context.objective).items()})
        return named

    def _images(self, context: TrainingContext, rows) -> dict:
        """The images (n, 1, height, width) by name."""
        shown = []
        if self.filters:
            weights = first_layer_filters(context.module)
            if weights is not None:
                shown.append(("filters", weights))
        if self.samples:
            made = generated(context.module, tuple(r[: self.max_images] for r in rows),
                             context.objective, steps=self.sample_steps,
                             seed=self.random_state)
            if made is not None:
                shown.append(made)
        images = {name: as_images(values[: self.max_images], self.image_shape)
                  for name, values in shown}
        return {name: values for name, values in images.items() if values is not None}
