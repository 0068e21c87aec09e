"""The commands that run a model on data (``evaluate``, ``transform``, ``plot embedding``)
given a :class:`~deepbelief.SequenceCRBM`: they read sequences, not a table of samples, and
its features belong to frames."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from deepbelief.cli.errors import CommandError, UsageError
from deepbelief.cli.io import write_table
from deepbelief.cli.sequence_data import SequenceData, load_sequence_data, recorded_sequence_data

__all__ = ["command_sequences", "write_frame_features"]

log = logging.getLogger("deepbelief")

#: The data options of images and tables, which sequences do not have.
_TABLE_OPTIONS = ("split", "data_dir", "label_column")


def command_sequences(args, model) -> SequenceData:
    """The sequences of a command on a sequence model: ``--data SOURCE`` (a .npz/.npy file,
    a folder of BVH files, ``bouncing-balls`` or ``gaits``), else those the model file
    records (generated data is generated again), ``--limit`` of them.

    Raises
    ------
    UsageError
        ``--split``, ``--data-dir`` or ``--label-column``, which apply to images and tables.
    CommandError
        The data cannot be read, or its frames are not the model's width.
    """
    for option in _TABLE_OPTIONS:
        if getattr(args, option, None) is not None:
            raise UsageError(f"--{option.replace('_', '-')} does not apply to sequence models: "
                             "they read whole sequences from --data (a .npz/.npy file, a "
                             "folder of BVH files, bouncing-balls or gaits) or, without it, "
                             "those they were trained on.")
    from deepbelief.io.modelfile import describe

    record = describe(args.model)["config"].get("metadata") or {}
    if args.data is None:
        data = recorded_sequence_data(record, args.model, limit=args.limit)
    else:  # BVH files are read with the rotation code the model was trained on
        angles = ((record.get("sequence") or {}).get("angles")
                  if Path(args.data).is_dir() else None)
        data = load_sequence_data(args.data, angles=angles, limit=args.limit)
    width = data.sequences[0].shape[1] if data.sequences else 0
    if width != model.n_features_in_:
        raise CommandError(f"{data.name} has frames of {width} channels, but the model's frames "
                           f"have {model.n_features_in_}: give --data frames of the kind the "
                           "model was trained on.")
    short = [i for i, s in enumerate(data.sequences) if len(s) <= model.receptive_field_]
    if short:
        raise CommandError(f"sequence {short[0]} of {data.name} has {len(data.sequences[short[0]])}"
                           f" frames; the model needs at least {model.receptive_field_ + 1} (its "
                           f"{model.receptive_field_} frames of past and one more): give "
                           "longer sequences.")
    log.info("data: %s, %d sequences, %d frames", data.name, len(data.sequences),
             data.n_frames)
    return data


def write_frame_features(path: str | None, features: list[np.ndarray], first: int) -> None:
    """Each sequence's features per frame (row ``i`` belongs to frame ``first + i``):
    ``.npz`` one array per sequence (``sequence_0``, ...), ``.npy`` one 3-D array (sequences
    of one length), else CSV with the sequence and frame of each row.

    Raises
    ------
    CommandError
        ``.npy`` for sequences of different lengths.

    Examples
    --------
    >>> import numpy as np
    >>> write_frame_features(None, [np.full((2, 2), 0.5), np.zeros((1, 2))], first=3)
    sequence,frame,feature_0,feature_1
    0,3,0.5,0.5
    0,4,0.5,0.5
    1,3,0,0
    """
    suffix = Path(path).suffix.lower() if path not in (None, "-") else ""
    if suffix == ".npz":
        with open(path, "wb") as handle:  # numpy would add .npz to 'F.NPZ'
            np.savez(handle, **{f"sequence_{i}": f for i, f in enumerate(features)})
    elif suffix == ".npy":
        if len({len(f) for f in features}) > 1:
            raise CommandError(f"-o {path}: the sequences have different lengths, so their "
                               "features do not make one array: write .npz (one array per "
                               "sequence) or .csv.")
        with open(path, "wb") as handle:
            np.save(handle, np.stack(features))
    else:
        header = ["sequence", "frame", *(f"feature_{j}" for j in range(features[0].shape[1]))]
        write_table(path, header, [[i, first + t, *(f"{v:.6g}" for v in row)]
                                   for i, f in enumerate(features) for t, row in enumerate(f)])
        return
    log.info("wrote %s", path)
