"""The sequences of the sequence commands: read from a file or a folder of BVH files, or
generated (bouncing balls, synthetic gaits); recorded in the model file by ``train`` so that
``generate`` and ``fill-in`` read the same data again."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from deepbelief.cli.errors import CommandError, UsageError
from deepbelief.cli.sequence_parser import SEQUENCE_SOURCES

__all__ = ["SequenceData", "load_sequence_data", "recorded_sequence_data", "sequence_record"]

log = logging.getLogger("deepbelief")

#: The sizes of the generated data sets when ``--n-sequences`` / ``--n-frames`` are not given.
DEFAULT_SEQUENCES, DEFAULT_FRAMES = 40, 100


@dataclass
class SequenceData:
    """Sequences and what the commands say and record about them."""

    sequences: list[np.ndarray]
    name: str
    options: dict[str, Any]  # what reloads them: source, angles, n_sequences, n_frames, ...
    skeleton: str | None = None  # the first BVH file of a folder
    channels: list[str] | None = None
    frame_time: float | None = None
    labels: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_frames(self) -> int:
        return sum(len(s) for s in self.sequences)


def _generated(source: str, n_sequences: int | None, n_frames: int | None, seed: int):
    from deepbelief.datasets import GAIT_CHANNELS, bouncing_balls, synthetic_gaits

    n, t = n_sequences or DEFAULT_SEQUENCES, n_frames or DEFAULT_FRAMES
    if source == "bouncing-balls":
        videos, counts = bouncing_balls(n, t, random_state=seed, return_counts=True)
        return list(videos), counts, None
    sequences, styles = synthetic_gaits(n, t, random_state=seed)
    return sequences, styles, list(GAIT_CHANNELS)


def load_sequence_data(source: str, *, angles: str | None = None, n_sequences: int | None = None,
                       n_frames: int | None = None, seed: int = 0,
                       limit: int | None = None) -> SequenceData:
    """The sequences of ``--data SOURCE``: ``bouncing-balls`` or ``gaits`` (generated with
    ``seed``), a folder of BVH files (``angles``: their rotation code) or a .npz/.npy file.

    Raises
    ------
    UsageError
        An option that does not apply to the source (``--angles`` for a NumPy file,
        ``--n-frames`` for files).
    CommandError
        A missing or unreadable file, or BVH files without the pybvh package.
    """
    generated = source in SEQUENCE_SOURCES
    path = Path(source)
    folder = not generated and path.is_dir()
    if not generated and (n_sequences or n_frames):
        raise UsageError(f"--n-sequences and --n-frames size the generated data "
                         f"({', '.join(SEQUENCE_SOURCES)}), not {source}.")
    if angles is not None and not folder:
        raise UsageError(f"--angles applies to a folder of BVH files, not to {source}.")
    from deepbelief.datasets import load_bvh, load_sequences

    labels = channels = skeleton = frame_time = None
    options: dict[str, Any] = {"source": source if generated else str(path.resolve())}
    if generated:
        sequences, labels, channels = _generated(source, n_sequences, n_frames, seed)
        options.update(n_sequences=n_sequences or DEFAULT_SEQUENCES,
                       n_frames=n_frames or DEFAULT_FRAMES, seed=seed)
        name = (f"{source} ({options['n_sequences']} sequences of {options['n_frames']} "
                f"frames, seed {seed})")
    else:
        if not path.exists():
            raise CommandError(f"data not found: {source} is neither a generated data set "
                               f"({', '.join(SEQUENCE_SOURCES)}) nor an existing file or "
                               "folder.")
        try:
            sequences = load_sequences(path, angles=angles or "expmap")
            if folder:
                skeleton = str(sorted(path.glob("*.bvh"))[0].resolve())
                first = load_bvh(skeleton, angles=angles or "expmap")
                channels, frame_time = list(first.channels), first.frame_time
        except ImportError as exc:
            raise CommandError(str(exc)) from None
        options["angles"] = (angles or "expmap") if folder else None
        name = str(path)
    if limit is not None:
        sequences = sequences[:limit]
        labels = None if labels is None else labels[:limit]
        options["limit"] = limit
    return SequenceData(sequences, name, options, skeleton, channels, frame_time, labels)


def sequence_record(data: SequenceData) -> dict[str, Any]:
    """The metadata ``train --kind sequence`` saves with the model: how to read its data
    again (``data``, as :mod:`deepbelief.cli.provenance` keeps it for every kind) and what
    ``generate`` needs to write BVH files (``sequence``)."""
    return {"data": {**data.options, "split": None, "n_samples": data.n_frames},
            "sequence": {"skeleton": data.skeleton, "channels": data.channels,
                         "frame_time": data.frame_time,
                         "angles": data.options.get("angles")}}


def recorded_sequence_data(record: dict[str, Any], model: str, *,
                           limit: int | None = None) -> SequenceData:
    """The data a model file says it was trained on, read again.

    Raises
    ------
    CommandError
        Nothing recorded, or the recorded file is gone (the message names ``--data``).
    """
    options = dict(record.get("data") or {})
    source = options.get("source")
    if source is None:
        raise CommandError(f"{model} does not record the sequences it was trained on; give "
                           "them with --data.")
    if source not in SEQUENCE_SOURCES and not Path(source).exists():
        raise CommandError(f"{model} was trained on {source}, which no longer exists; give "
                           "the data with --data.")
    log.info("using the data %s was trained on, %s (--data chooses other data)", model, source)
    generated = source in SEQUENCE_SOURCES
    return load_sequence_data(
        source, angles=options.get("angles"),
        n_sequences=options.get("n_sequences") if generated else None,
        n_frames=options.get("n_frames") if generated else None,
        seed=options.get("seed") or 0, limit=limit or options.get("limit"))
