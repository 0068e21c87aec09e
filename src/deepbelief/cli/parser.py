"""The argument parser of the ``deepbelief`` command: one sub-parser per command, with
its options, help texts and examples."""

from __future__ import annotations

import argparse
import importlib
import json
import math
from collections.abc import Callable
from typing import Any

from deepbelief._version import __version__
from deepbelief.cli.io import UsageError
from deepbelief.cli.sequence_parser import add_sequence_commands, add_train_options

# The commands' modules import torch and scikit-learn: each is imported only when its command
# runs, so that --help and usage errors answer at once (tests/test_cli_startup.py).
#: ``--kind`` choices: the keys of ``cli.models.KINDS`` (a test checks).
KIND_CHOICES = ("classifier", "regressor", "transformer", "rbm", "generative", "autoencoder",
                "sequence", "superres", "documents")

__all__ = ["build_parser"]


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors raised (one line) rather than printed with the usage."""

    def error(self, message: str):
        raise UsageError(f"{message} (see '{self.prog} --help')", self.prog)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=34, width=100)


def _runner(module: str, name: str) -> Callable[[argparse.Namespace], int]:
    """The command function ``name`` of ``deepbelief.cli.<module>``, imported when called."""

    def run(args: argparse.Namespace) -> int:
        return getattr(importlib.import_module(f"deepbelief.cli.{module}"), name)(args)

    run.__qualname__ = run.__name__ = name
    return run


run_train, run_demo = _runner("train", "run_train"), _runner("train", "run_demo")
run_evaluate = _runner("inference", "run_evaluate")
run_predict = _runner("superres", "run_predict")  # super-resolution, else inference's
run_transform = _runner("inference", "run_transform")
run_sample, run_complete = _runner("pictures", "run_sample"), _runner("pictures", "run_complete")
run_plot = _runner("pictures", "run_plot")
run_inspect = _runner("inspection", "run_inspect")
run_export = _runner("export", "run_export")


# -- option values -----------------------------------------------------------------------------
def _parse_setting(text: str) -> tuple[str, Any]:
    """The value of ``--set NAME=VALUE``: (name, VALUE read as JSON, else as text)."""
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip().replace("-", "_"), value


def _number(convert: Callable[[str], Any], valid: Callable[[Any], bool], expected: str):
    """An argparse ``type=`` that converts with ``convert`` and checks ``valid``."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not valid(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_non_negative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
_positive_float = _number(float, lambda v: v > 0 and math.isfinite(v), "a positive number")
_fraction = _number(float, lambda v: 0 < v < 1, "a number in (0, 1)")


# -- the parser --------------------------------------------------------------------------------
def _common(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("output and diagnostics")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="no progress and no messages, only results and errors")
    group.add_argument("-v", "--verbose", action="count", default=0,
                       help="more messages (-vv: debugging)")
    group.add_argument("--threads", type=_positive_int, metavar="N",
                       help="CPU threads for torch (default: torch's choice)")
    group.add_argument("--traceback", action="store_true",
                       help="show the Python traceback of an error")


def _data_options(parser: argparse.ArgumentParser, *, default: str | None = None,
                  split_default: str = "train") -> None:
    """The data options; ``default`` None: the data the model file records."""
    group = parser.add_argument_group("data")
    trained_on = ("the data the model was trained on, as its file records: the test split "
                  "of a built-in set, else the same file")
    group.add_argument("--data", default=default, metavar="SOURCE",
                       help="digits, mnist, fashion-mnist, a folder of IDX files, or a file: "
                            ".npz (arrays X, y), .npy (X), .csv/.tsv (with a label column; "
                            "columns are matched to the model's by name) "
                            f"(default: {default or trained_on})")
    group.add_argument("--split", choices=("train", "test", "all"),
                       help="part of a built-in data set; digits: the reference 80/20 split "
                            f"with random_state=0 (default: {split_default})")
    group.add_argument("--data-dir", metavar="DIR",
                       help="folder with the MNIST / Fashion-MNIST files (default: "
                            "$DEEPBELIEF_DATA)")
    group.add_argument("--label-column", metavar="COL",
                       help="name or 0-based index of a table's label column, or 'none' "
                            "(default: the one the model was trained with, else a column "
                            "named label/y/target/class, else the column the model does not "
                            "take, else the last one when labels are needed)")
    group.add_argument("--limit", type=_positive_int, metavar="N",
                       help="use only the first N samples")


def _model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a model file written by "
                                                       "'deepbelief train' or .save()")
    parser.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: the saved "
                                         "device, the CPU when CUDA is missing)")


def _picture_options(parser: argparse.ArgumentParser, output: str) -> None:
    parser.add_argument("-o", "--output", default=output, metavar="PNG",
                        help=f"the picture to write (default: {output})")
    parser.add_argument("--image-shape", metavar="HxW",
                        help="image height and width, e.g. 28x28 (default: square)")
    parser.add_argument("--n-cols", type=_positive_int, metavar="N", help="images per row")


def _sampling_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n-gibbs", type=_non_negative_int, default=1000, metavar="N",
                        help="Gibbs steps from noise (default: 1000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--binary", action="store_true",
                        help="draw binary samples, not the last step's means (RBM, "
                             "generative DBN)")


EPILOGS = {
    "train": """examples:
  deepbelief train --data digits
  deepbelief train --data digits --kind rbm --layers 64 --epochs 20 -o rbm.safetensors
  deepbelief train --data mnist --data-dir ../shared/data --layers 500 500 \\
      --hidden-units relu --pretrain-learning-rate 0.01 --epochs 30 -o mnist.safetensors
  deepbelief train --config settings.toml --set pretrain_momentum=0.5

A TOML config file holds long options (layers = [256, 256], hidden-units = "relu", ...) and
a [params] table of estimator parameters; options on the command line take precedence.""",
    "evaluate": """examples:
  deepbelief evaluate model.safetensors --data digits
  deepbelief evaluate rbm.safetensors --data digits --ais-runs 100 --json

Classifiers: accuracy, error rate and log-loss; regressors: R², MSE, MAE; RBMs: the mean
log-likelihood log p(v) = -F(v) - log Z (log Z exact for a small binary layer, else by AIS,
with the conservative reverse-AIS estimate of binary data beside it: the truth lies between),
the pseudo-log-likelihood and the reconstruction error; DBN transformers: the
reconstruction error of the up-down pass. (For data that is not binary, log p(v) of a
Bernoulli RBM is a density value, not a probability.) Sequence models: the one-step
prediction error per frame and that of copying the last frame; super-resolution models:
MSE and PSNR against the high-resolution images (downsampled as input) and bicubic
upsampling's.""",
    "plot": """pictures:
  filters          receptive fields of the first hidden layer
  samples          images drawn from an RBM or DBN transformer
  reconstructions  data above its up-down reconstruction (autoencoder: and PCA's, fitted on
                   the model's training data; --data chooses the images drawn)
  predictions      test images titled with label and prediction (classifiers)
  curves           the training history (MODEL may be a history .json/.csv file)
  embedding        a 2-D map of the model's features (autoencoder: codes; sequence model:
                   one point per sequence), coloured by label

examples:
  deepbelief plot filters model.safetensors -o filters.png
  deepbelief plot curves model.history.json -o curves.png""",
    "export": """examples:
  deepbelief export model.safetensors -o model.onnx
  deepbelief export model.safetensors -o model.pt2

The network takes the raw data the other commands read (the --scale of train, the
standardisation or clipping of the model's input included): float32 'input' of shape
(batch, features), any batch size. Its 'output': a classifier's class probabilities (its
last node is the softmax; the logits come before it), a regressor's predictions, the
features of a transformer or RBM (their top hidden layer), an autoencoder's codes.
Generative, sequence and superres models compute no feed-forward pass and are refused.
ONNX needs the onnx and onnxscript packages: pip install 'deepbelief[onnx]'. A .pt2
file is read back by torch.export.load(path).module(). An existing file is replaced.""",
}


def build_parser() -> argparse.ArgumentParser:
    """The ``deepbelief`` argument parser (one sub-parser per command)."""
    parser = _Parser(prog="deepbelief", formatter_class=_Formatter,
                     description="Deep Belief Networks and RBMs: train, evaluate, predict, "
                                 "sample and draw from the command line.",
                     epilog="Run 'deepbelief COMMAND --help' for a command's options.")
    parser.add_argument("--version", action="version", version=f"deepbelief {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.set_defaults(commands=commands.choices)

    def command(name: str, help: str, run, epilog: str | None = None) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help[0].upper() + help[1:] + ".",
                                  formatter_class=_Formatter, epilog=epilog or EPILOGS.get(name))
        sub.set_defaults(run=run)
        return sub

    # train
    train = command("train", "train a model and save it with its training history",
                    run_train)
    train.add_argument("--config", metavar="TOML", help="settings file (see below)")
    _data_options(train, default="digits")
    train.add_argument("--max-features", type=_positive_int, default=2000, metavar="N",
                       help="--kind documents from text: keep the N most frequent words "
                            "(default: 2000)")
    train.add_argument_group("preprocessing").add_argument(
        "--scale", choices=("none", "minmax", "standard"), default="none",
        help="scale every feature, fitted on the training data and kept in the model file "
             "(every later command applies it): minmax to [0, 1] for bernoulli visible units, "
             "standard (mean 0, variance 1) for gaussian (default: none)")
    model = train.add_argument_group("model")
    model.add_argument("--kind", default="classifier",
                       choices=KIND_CHOICES,
                       help="classifier (DBNClassifier), regressor (DBNRegressor), "
                            "transformer (DBNTransformer), rbm (RBM), generative "
                            "(GenerativeDBN: labels join the top RBM when the data has "
                            "them), autoencoder (DBNAutoencoder: the last of --layers is "
                            "the code size), sequence (SequenceCRBM: frames given the frames "
                            "before), superres (ConditionalRBM: images given their "
                            "low-resolution version), documents (word counts: "
                            "ReplicatedSoftmaxRBM for one --layers value, SemanticHashing "
                            "for several; --data a folder of .txt files, counts.npz, "
                            "synthetic or lee) (default: classifier)")
    model.add_argument("--layers", type=_positive_int, nargs="+", metavar="N",
                       help="hidden units per layer, bottom first (default: 256 256; "
                            "rbm: one value, default 256; autoencoder: 256 64 2, the last "
                            "the code size)")
    model.add_argument("--visible-units", choices=("auto", "bernoulli", "gaussian"),
                       help="input units: auto is bernoulli for data in [0, 1], else "
                            "gaussian on the data standardised inside the model; bernoulli "
                            "refuses data outside [0, 1]; gaussian expects standardized "
                            "data (default: auto)")
    model.add_argument("--hidden-units", nargs="+", choices=("bernoulli", "relu", "gaussian"),
                       metavar="UNITS",
                       help="bernoulli, relu or gaussian; one, or one per layer "
                            "(default: relu for classifier and regressor, else bernoulli; "
                            "autoencoder: the code layer's gaussian, --set code_units)")
    model.add_argument("--layer-type", nargs="+", metavar="TYPE",
                       choices=("rbm", "autoencoder", "denoising"),
                       help="each layer's building block: rbm, autoencoder or denoising "
                            "(autoencoder); one, or one per layer (default: rbm; the noise: "
                            "--set corruption=gaussian, --set corruption_level=0.1)")
    fit = train.add_argument_group("training")
    fit.add_argument("--pretrain-epochs", type=_non_negative_int, nargs="+", metavar="N",
                     help="RBM epochs per layer, one or one per layer (default: 10; "
                          "--kind generative: enough for 1,000 updates per layer, 10 to 20)")
    fit.add_argument("--pretrain-learning-rate", type=_positive_float, nargs="+", metavar="LR",
                     help="RBM learning rate, one or one per layer (default: auto: 0.1 for "
                          "a Bernoulli layer, 0.01 with gaussian or relu units)")
    fit.add_argument("--epochs", type=_non_negative_int, metavar="N",
                     help="fine-tuning epochs (classifier, regressor, autoencoder; "
                          "default: 100; "
                          "generative: up-down epochs, default 0) or training epochs (rbm; "
                          "default: 10)")
    fit.add_argument("--learning-rate", type=_positive_float, metavar="LR",
                     help="fine-tuning learning rate (default: 0.001 with adam; autoencoder: "
                          "auto: 0.001 with adam, 0.01 with sgd, 1 with lbfgs; generative: "
                          "up-down, default 0.01) or the RBM's (rbm; default: auto: 0.1 for "
                          "bernoulli units, 0.01 with gaussian or relu units)")
    fit.add_argument("--batch-size", type=_positive_int, metavar="N",
                     help="mini-batch size (default: 32; rbm: 10)")
    fit.add_argument("--solver", choices=("adam", "sgd", "lbfgs"),
                     help="fine-tuning optimizer; lbfgs (autoencoder): L-BFGS on "
                          "mini-batches of 1000, learning rate 1 (default: adam)")
    fit.add_argument("--dropout", type=float, metavar="P",
                     help="fine-tuning dropout probability (default: 0.2)")
    fit.add_argument("--input-dropout", type=float, metavar="P",
                     help="fine-tuning dropout probability of the input units (default: 0)")
    fit.add_argument("--loss", choices=("auto", "cross_entropy", "squared_error"),
                     help="autoencoder fine-tuning loss; auto: cross_entropy for data in "
                          "[0, 1], else squared_error (default: auto)")
    fit.add_argument("--method", choices=("cd", "pcd", "pt"),
                     help="contrastive divergence, persistent CD, or PCD with parallel "
                          "tempering chains (default: cd; rbm: pcd)")
    fit.add_argument("--k", type=_positive_int, metavar="K", help="Gibbs steps per update "
                                                                  "(default: 1)")
    fit.add_argument("--early-stopping", action=argparse.BooleanOptionalAction, default=None,
                     help="hold out --validation-fraction of the data, stop fine-tuning when "
                          "its score stalls, keep the best weights")
    fit.add_argument("--validation-fraction", type=_fraction, metavar="F",
                     help="held-out fraction for --early-stopping (default: 0.1)")
    fit.add_argument("--class-weight", choices=("balanced",),
                     help="classifier: weight each class inversely to its frequency, so that "
                          "rare classes count as much as common ones (default: none)")
    fit.add_argument("--free-energy-gap", type=_fraction, metavar="F",
                     help="hold out F of the data (not trained on) and record the free-energy "
                          "gap of every RBM epoch (Hinton 2010, §6)")
    fit.add_argument("--set", type=_parse_setting, action="append", metavar="NAME=VALUE",
                     help="any other estimator parameter, e.g. --set pretrain_momentum=0.5 "
                          "(VALUE in JSON: 0.5, true, [1, 2], or plain text)")
    fit.add_argument("--device", help="cpu, cuda, cuda:N or auto (default: auto)")
    fit.add_argument("--seed", type=int, help="random_state (default: 0)")
    out = train.add_argument_group("output")
    out.add_argument("-o", "--output", default="model.safetensors", metavar="PATH",
                     help="the model file (default: model.safetensors)")
    out.add_argument("--history", metavar="PATH",
                     help="training history, .json or .csv (default: the model path with "
                          ".history.json)")
    out.add_argument("--no-history", action="store_true", help="write no history file")
    out.add_argument("--checkpoint", metavar="PATH",
                     help="save the whole training state to PATH while training (see "
                          "docs/checkpoints.md)")
    out.add_argument("--checkpoint-every", type=_positive_int, default=1, metavar="N",
                     help="epochs between checkpoints (default: 1)")
    out.add_argument("--resume", action="store_true",
                     help="continue from --checkpoint if it exists (the same command serves "
                          "the first run and every restart)")
    out.add_argument("--tensorboard", metavar="DIR",
                     help="log every epoch's metrics, histograms and images to DIR for "
                          "'tensorboard --logdir DIR' (needs pip install "
                          "'deepbelief[tensorboard]')")
    add_train_options(train, _positive_int)
    _common(train)

    # evaluate
    evaluate = command("evaluate", "score a model on test data", run_evaluate)
    _model_argument(evaluate)
    _data_options(evaluate, split_default="test")
    evaluate.add_argument("--json", action="store_true", help="print JSON")
    likelihood = evaluate.add_argument_group("RBM log-likelihood")
    likelihood.add_argument("--log-likelihood", choices=("auto", "exact", "ais", "none"),
                            default="auto",
                            help="how to get log Z: exact enumeration when a binary layer has "
                                 "at most --exact-max-units units, else AIS (default: auto)")
    likelihood.add_argument("--exact-max-units", type=_positive_int, default=20, metavar="N",
                            help="largest layer 'auto' enumerates (default: 20)")
    likelihood.add_argument("--ais-runs", type=_positive_int, default=100, metavar="N",
                            help="AIS runs (default: 100)")
    likelihood.add_argument("--ais-betas", type=_positive_int, metavar="N",
                            help="AIS inverse temperatures, evenly spaced (default: the 14,501 "
                                 "of Salakhutdinov & Murray, 2008)")
    likelihood.add_argument("--raise-samples", type=_non_negative_int, default=100, metavar="N",
                            help="with AIS, also the conservative reverse-AIS (RAISE) "
                                 "log-likelihood of the first N samples, which errs low where "
                                 "AIS errs high; 0: none (default: 100)")
    likelihood.add_argument("--raise-runs", type=_positive_int, default=10, metavar="N",
                            help="reverse-AIS runs per sample (default: 10)")
    likelihood.add_argument("--seed", type=int, default=0, help="AIS seed (default: 0)")
    _common(evaluate)

    # predict
    predict = command("predict", "write a classifier's or regressor's predictions as CSV",
                      run_predict)
    _model_argument(predict)
    _data_options(predict, split_default="test")
    predict.add_argument("-o", "--output", metavar="CSV",
                         help="the CSV file (default: stdout); superres models: also "
                              ".npy or .npz")
    predict.add_argument("--proba", action="store_true",
                         help="add a probability column per class")
    predict.add_argument("--picture", metavar="PNG",
                         help="superres: draw inputs, bicubic upsampling, the model's images "
                              "and the truth")
    _common(predict)

    # transform
    transform = command("transform", "write a model's features (top hidden layer)",
                        run_transform)
    _model_argument(transform)
    _data_options(transform, split_default="test")
    transform.add_argument("-o", "--output", metavar="PATH",
                           help="a .npy or .csv file (default: CSV on stdout); sequence "
                                "models: also .npz, one array per sequence")
    _common(transform)

    # sample
    sample = command("sample", "draw images from an RBM, a DBN transformer or a generative DBN",
                     run_sample)
    _model_argument(sample)
    sample.add_argument("-n", "--n-samples", type=_positive_int, default=30, metavar="N",
                        help="number of samples (default: 30)")
    sample.add_argument("--label", metavar="LABEL",
                        help="generative DBN trained with labels: draw this class (default: "
                             "classes drawn by the model)")
    sample.add_argument("--label-warmup", type=_non_negative_int, default=0, metavar="N",
                        help="with --label: the first N of the Gibbs steps pull the chains "
                             "towards the class (label weights x10), the rest sample the "
                             "model; e.g. 200 (default: 0)")
    _sampling_options(sample)
    sample.add_argument("--npy", metavar="PATH", help="also save the samples as .npy")
    _picture_options(sample, "samples.png")
    _common(sample)

    # complete
    complete = command("complete", "fill in hidden parts of images with an RBM or a "
                                   "generative DBN",
                       run_complete)
    _model_argument(complete)
    _data_options(complete, split_default="test")
    complete.add_argument("--n-images", type=_positive_int, default=10, metavar="N",
                          help="images to complete (default: 10)")
    complete.add_argument("--mask", choices=("bottom", "top", "left", "right", "random"),
                          default="bottom", help="which part is hidden (default: bottom)")
    complete.add_argument("--fraction", type=_fraction, default=0.5, metavar="F",
                          help="hidden fraction of rows, columns or pixels (default: 0.5)")
    complete.add_argument("--n-iter", type=_non_negative_int, default=200, metavar="N",
                          help="clamped Gibbs steps (default: 200)")
    complete.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    _picture_options(complete, "completions.png")
    _common(complete)

    # inspect
    inspect = command("inspect", "show what a model file or a training checkpoint holds",
                      run_inspect)
    inspect.add_argument("model", metavar="MODEL", help="a model file, or a checkpoint "
                                                        "written by 'train --checkpoint'")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    _common(inspect)

    # export
    export = command("export", "write a model's network as ONNX or a torch.export program, "
                               "for use without deepbelief", run_export)
    export.add_argument("model", metavar="MODEL", help="a model file written by "
                                                       "'deepbelief train' or .save()")
    export.add_argument("-o", "--output", default="model.onnx", metavar="PATH",
                        help="the file to write: .onnx (ONNX) or .pt2 (a torch.export "
                             "program) (default: model.onnx)")
    _common(export)

    # plot
    plot = command("plot", "draw a picture of a model or its training", run_plot)
    plot.add_argument("what", metavar="PICTURE", choices=("filters", "samples",
                                                          "reconstructions", "predictions",
                                                          "curves", "embedding", "topics",
                                                          "document-map"),
                      help="filters, samples, reconstructions, predictions, curves, "
                           "embedding, or for document models topics (top words per hidden "
                           "unit) and document-map (a 2-D map of --data's documents) (see "
                           "below)")
    _model_argument(plot)
    _data_options(plot, split_default="test")
    plot.add_argument("-o", "--output", metavar="PNG",
                      help="the picture to write (default: PICTURE.png)")
    plot.add_argument("--image-shape", metavar="HxW",
                      help="image height and width, e.g. 28x28 (default: square)")
    plot.add_argument("--n-cols", type=_positive_int, metavar="N", help="images per row")
    plot.add_argument("-n", type=_positive_int, metavar="N",
                      help="filters, samples or images to draw (default: 100 filters, 30 "
                           "samples, 20 reconstructions, 10 predictions)")
    plot.add_argument("--n-points", type=_positive_int, default=2000, metavar="N",
                      help="embedding: points to draw (default: 2000)")
    plot.add_argument("--method", choices=("pca", "tsne"), default="pca",
                      help="embedding: PCA or t-SNE (default: pca)")
    plot.add_argument("--title", help="the picture's title")
    _sampling_options(plot)
    _common(plot)

    add_sequence_commands(command, _runner, _model_argument, _common, _positive_int)

    # demo
    demo = command("demo", "train the reference DBN on the bundled digits", run_demo)
    demo.add_argument("--seed", type=int, default=0, help="random_state of the model")
    demo.add_argument("-o", "--output", default="out", help="folder for the PNG (default: out)")
    demo.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    _common(demo)
    return parser
