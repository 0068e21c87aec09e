"""The options of sequence models and super-resolution on the command line: ``train``'s
``--order``, ``--factor``, ... and the ``generate`` and ``fill-in`` commands.

Like :mod:`deepbelief.cli.parser`, this module imports neither torch nor scikit-learn
(``--help`` answers at once); the commands run in :mod:`deepbelief.cli.sequences` and
:mod:`deepbelief.cli.superres`.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from deepbelief.cli.errors import UsageError

__all__ = [
    "SEQUENCE_SOURCES",
    "TRAIN_PARAMS",
    "WHY_NOT",
    "add_sequence_commands",
    "add_train_options",
    "check_kind_options",
    "parse_channels",
]

#: Generated data sets that ``--data`` names for ``--kind sequence``.
SEQUENCE_SOURCES = ("bouncing-balls", "gaits")

EPILOGS = {
    "generate": """examples:
  deepbelief train --kind sequence --data bouncing-balls --layers 100 --order 3 -o balls.st
  deepbelief generate balls.st --steps 100 -o balls.npz --gif balls.gif
  deepbelief train --kind sequence --data mocap/ --order 3 --epochs 50 -o walk.st
  deepbelief generate walk.st --from-data --steps 200 -o walk.bvh --picture walk.png

The seed is the first frames of a sequence: of the model's training data (--from-data, the
default), of other data (--from-data SOURCE) or of a file (--seed-frames FILE). The output
holds the generated frames only: .npz (array 'generated'), .npy, or .bvh (joint angles of a
model trained on BVH files, written with the skeleton of its first file or of --like).""",
    "fill-in": """examples:
  deepbelief fill-in walk.st --data held_out.npz --mask-channels 6-11 -o filled.npz
  deepbelief fill-in walk.st --mask-channels 3,4,5 --picture filled.png

The channels named are treated as missing in every frame. --method offline (the default)
estimates them from the whole sequence: the values whose one-step predictions best match
every frame, so later frames inform earlier ones; --method online goes frame after frame,
from the frames before, as Taylor, Hinton & Roweis (2007) fill in missing markers (it can
drift when the other channels say little about the missing ones). The output holds every
sequence with its missing channels filled in, one array per sequence. When the data holds
their true values, the command prints the error of the estimates and of the channels'
training means. Values the data lacks (NaN) must lie in the channels named.""",
}


def parse_channels(text: str) -> list[int]:
    """``--mask-channels``: 0-based channel indices and ranges, e.g. ``3,4,5`` or ``6-11``.

    Examples
    --------
    >>> parse_channels("0,3-5, 9")
    [0, 3, 4, 5, 9]
    """
    channels: list[int] = []
    for part in text.split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        try:
            first, last = int(low), int(high if dash else low)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected channel numbers and ranges like 3,4,5 or 6-11, got {text!r}"
            ) from None
        if first < 0 or last < first:
            raise argparse.ArgumentTypeError(f"expected 0-based channels, low-high with "
                                             f"low <= high, got {part!r}")
        channels.extend(range(first, last + 1))
    return sorted(set(channels))


def add_train_options(train: argparse.ArgumentParser, positive_int) -> None:
    """``train``'s options for ``--kind sequence`` and ``--kind superres``."""
    group = train.add_argument_group(
        "sequences (--kind sequence) and super-resolution (--kind superres)",
        "--kind sequence: --data is a .npz/.npy file of sequences (2-D arrays of frames x\n"
        "channels, or one 3-D array), a folder of BVH files, bouncing-balls or gaits.\n"
        "--kind superres: --data holds images (digits, mnist, ...), each paired with its\n"
        "downsampled version.")
    group.add_argument("--order", type=positive_int, nargs="+", metavar="N",
                       help="sequence: past frames each layer is conditioned on, one or one "
                            "per layer (default: 3)")
    group.add_argument("--angles", choices=("expmap", "sincos", "degrees"),
                       help="sequence, a folder of BVH files: how joint rotations are coded "
                            "(default: expmap, exponential maps)")
    group.add_argument("--n-sequences", type=positive_int, metavar="N",
                       help="sequence, --data bouncing-balls or gaits: sequences to generate "
                            "(default: 40)")
    group.add_argument("--n-frames", type=positive_int, metavar="N",
                       help="sequence, --data bouncing-balls or gaits: frames per sequence "
                            "(default: 100)")
    group.add_argument("--factor", type=positive_int, metavar="F",
                       help="superres: the high-resolution images are F times the size of "
                            "their low-resolution context (F x F pixel blocks averaged; "
                            "default: 2, e.g. 14x14 -> 28x28)")


def add_sequence_commands(command: Callable, runner: Callable, model_argument: Callable,
                          common: Callable, positive_int) -> None:
    """The ``generate`` and ``fill-in`` commands (``command``: the parser's sub-command
    factory; the others: its shared option helpers)."""
    generate = command("generate", "continue sequences with a sequence model (SequenceCRBM)",
                       runner("sequences", "run_generate"), EPILOGS["generate"])
    model_argument(generate)
    seed = generate.add_mutually_exclusive_group()
    seed.add_argument("--seed-frames", metavar="FILE",
                      help="the seed: a .npy/.npz file of frames (its first sequence) or a "
                           ".bvh file")
    seed.add_argument("--from-data", nargs="?", const="", metavar="SOURCE",
                      help="the seed: a sequence of the model's training data, or of SOURCE "
                           "(a file, a folder of BVH files, bouncing-balls or gaits) "
                           "(the default)")
    generate.add_argument("--sequence", type=int, default=0, metavar="I",
                          help="which sequence of the data seeds (default: 0, the first)")
    generate.add_argument("--seed-length", type=positive_int, metavar="N",
                          help="seed frames (default: the frames the model conditions on)")
    generate.add_argument("--steps", type=positive_int, default=100, metavar="N",
                          help="frames to generate (default: 100)")
    _chain_options(generate, positive_int)
    generate.add_argument("-o", "--output", default="generated.npz", metavar="PATH",
                          help="the generated frames: .npz, .npy or .bvh (default: "
                               "generated.npz)")
    generate.add_argument("--like", metavar="BVH",
                          help="with -o .bvh: the BVH file whose skeleton to write (default: "
                               "the first file the model was trained on)")
    generate.add_argument("--gif", metavar="GIF",
                          help="also write the seed and the generated frames as an animated "
                               "GIF (frames that are square images)")
    generate.add_argument("--fps", type=positive_int, default=10, metavar="N",
                          help="frames per second of --gif (default: 10)")
    generate.add_argument("--picture", metavar="PNG",
                          help="also draw seed and generated frames: a film strip (images) "
                               "or channels over time")
    common(generate)

    fill = command("fill-in", "fill in missing channels of sequences with a sequence model",
                   runner("sequences", "run_fill_in"), EPILOGS["fill-in"])
    model_argument(fill)
    fill.add_argument("--data", metavar="SOURCE",
                      help="the sequences: a .npz/.npy file, a folder of BVH files, "
                           "bouncing-balls or gaits (default: the model's training data)")
    fill.add_argument("--mask-channels", type=parse_channels, required=True, metavar="LIST",
                      help="0-based channels missing in every frame, e.g. 3,4,5 or 6-11")
    fill.add_argument("--limit", type=positive_int, metavar="N",
                      help="fill in only the first N sequences")
    fill.add_argument("--method", choices=("offline", "online"), default="offline",
                      help="offline: from the whole sequence, deterministic; online: frame "
                           "after frame, from the frames before (default: offline)")
    _chain_options(fill, positive_int)
    fill.add_argument("-o", "--output", default="filled.npz", metavar="NPZ",
                      help="the sequences filled in, one array per sequence (default: "
                           "filled.npz)")
    fill.add_argument("--picture", metavar="PNG",
                      help="also draw the missing channels of the first sequence: true and "
                           "filled in")
    common(fill)


def _chain_options(parser: argparse.ArgumentParser, positive_int) -> None:
    parser.add_argument("--n-gibbs", type=positive_int, default=30, metavar="N",
                        help="Gibbs sweeps per frame (default: 30)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")


#: ``train`` option -> estimator parameter for ``--kind sequence`` (SequenceCRBM) and
#: ``--kind superres`` (ConditionalRBM); :mod:`deepbelief.cli.train` adds them to its table.
TRAIN_PARAMS: dict[str, dict[str, str]] = {
    "layers": {"sequence": "hidden_layer_sizes", "superres": "n_components"},
    "visible_units": {"sequence": "visible_units", "superres": "visible_units"},
    "hidden_units": {"superres": "hidden_units"},
    "epochs": {"sequence": "pretrain_epochs", "superres": "n_iter"},
    "learning_rate": {"sequence": "pretrain_learning_rate", "superres": "learning_rate"},
    "batch_size": {"sequence": "batch_size", "superres": "batch_size"},
    "method": {"sequence": "pretrain_method", "superres": "method"},
    "k": {"sequence": "k", "superres": "k"},
    "order": {"sequence": "order"},
    "seed": {"sequence": "random_state", "superres": "random_state"},
    "device": {"sequence": "device", "superres": "device"},
}
#: Why an option does not apply to these kinds.
WHY_NOT: dict[tuple[str, str], str] = {
    ("sequence", "pretrain_epochs"): "use --epochs, the epochs of every layer",
    ("sequence", "pretrain_learning_rate"): "use --learning-rate, that of every layer",
    ("sequence", "hidden_units"): "its hidden units are Bernoulli",
    ("superres", "pretrain_epochs"): "a conditional RBM has one layer; use --epochs",
    ("superres", "pretrain_learning_rate"): "a conditional RBM has one layer; use "
                                            "--learning-rate",
}
#: ``train`` options of these kinds that are not estimator parameters, and their kinds.
DATA_OPTIONS: dict[str, tuple[str, ...]] = {
    "angles": ("sequence",), "n_sequences": ("sequence",), "n_frames": ("sequence",),
    "factor": ("superres",),
}


def check_kind_options(args: argparse.Namespace) -> None:
    """Refuse ``train``'s sequence and super-resolution data options for other kinds.

    Raises
    ------
    UsageError
        ``--factor`` given with ``--kind classifier``, and the like.
    """
    for option, kinds in DATA_OPTIONS.items():
        if getattr(args, option, None) is not None and args.kind not in kinds:
            raise UsageError(f"--{option.replace('_', '-')} applies only to --kind "
                             f"{' or '.join(kinds)}, not to --kind {args.kind}.",
                             "deepbelief train")
