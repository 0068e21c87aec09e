"""The commands that draw: ``deepbelief sample`` (images drawn from a model),
``complete`` (hidden parts of images filled in) and ``plot`` (pictures of a model or its
training).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from deepbelief import plotting
from deepbelief.cli.autoencoder import (
    check_rbm_on_top,
    embedding_codes,
    plot_autoencoder_reconstructions,
)
from deepbelief.cli.conditional_data import conditional_data, conditional_features
from deepbelief.cli.io import (
    EXIT_OK,
    CommandError,
    UsageError,
    data_from_args,
    prepare_outputs,
    read_history,
)
from deepbelief.cli.models import (
    CLASSIFIERS,
    COMPLETERS,
    SAMPLERS,
    image_pixels,
    load_model,
    model_features,
    reconstruct,
    require,
)
from deepbelief.cli.sequence_inference import command_sequences
from deepbelief.estimators import RBM, ConditionalRBM, DBNAutoencoder, GenerativeDBN, SequenceCRBM
from deepbelief.plotting.mosaic import image_shape_of


def image_shape(text: str | None, n_pixels: int, sequence_model: str | None = None
                ) -> tuple[int, int]:
    """The image shape given by ``--image-shape HxW`` (``text``), or square; a usage error
    when it does not fit the model's ``n_pixels`` features (``sequence_model``: the file of
    a sequence model, whose frames ``generate`` draws when they are not images)."""
    if text is None:
        try:
            return image_shape_of(n_pixels, None)
        except ValueError:
            if sequence_model:
                raise UsageError(
                    f"the model's frames of {n_pixels} channels are not images (not square): "
                    "give --image-shape HEIGHTxWIDTH if they are; to see what the model has "
                    "learnt of other channels, draw the frames it generates with "
                    f"'deepbelief generate {sequence_model} -o frames.npz --picture "
                    "frames.png'.") from None
            raise UsageError(f"the model's {n_pixels} features are not a square image; give "
                             "--image-shape HEIGHTxWIDTH.") from None
    try:
        height, width = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--image-shape must look like 28x28, got {text!r}.") from None
    if height * width != n_pixels:
        raise UsageError(f"--image-shape {text} has {height * width} pixels but the model "
                         f"takes {n_pixels} features.")
    return height, width


def draw_samples(model, args) -> np.ndarray:
    """``args.n_samples`` samples from an RBM, DBN transformer or generative DBN (one of
    :data:`SAMPLERS`, which the command checked), drawn as the options of ``sample`` (and
    ``plot samples``) say."""
    label = getattr(args, "label", None)
    if label is not None and not isinstance(model, GenerativeDBN):
        raise UsageError("--label needs a GenerativeDBN (trained with labels).")
    warmup = getattr(args, "label_warmup", 0)
    if warmup and label is None:
        raise UsageError("--label-warmup needs --label.")
    if warmup > args.n_gibbs:
        raise UsageError(f"--label-warmup {warmup} counts within --n-gibbs {args.n_gibbs}: "
                         "it must not exceed it.")
    if isinstance(model, RBM):
        return model.sample(args.n_samples, args.n_gibbs, args.seed, mean=not args.binary)
    if isinstance(model, GenerativeDBN):
        y = None
        if label is not None:
            if not hasattr(model, "classes_"):
                raise CommandError(f"{args.model} was trained without labels: --label does "
                                   "not apply.")
            classes = model.classes_
            try:
                y = (np.asarray([label]).astype(classes.dtype)[0]
                     if classes.dtype.kind in "iuf" else label)
            except ValueError:
                y = label
            if y not in classes.tolist():
                raise UsageError(f"--label {label}: not a class of this model (classes: "
                                 f"{' '.join(str(c) for c in model.classes_)}).")
        return model.sample(args.n_samples, y=y, n_gibbs=args.n_gibbs,
                            random_state=args.seed, binary=args.binary, label_warmup=warmup)
    check_rbm_on_top(model, args.model)  # a DBNTransformer
    return model.sample(args.n_samples, args.n_gibbs, args.seed)


def run_sample(args) -> int:
    prepare_outputs("deepbelief sample", {"-o": args.output, "--npy": args.npy})
    model = load_model(args.model, args.device)
    require(model, args.model, "sample", SAMPLERS)
    shape = image_shape(args.image_shape, model.n_features_in_)
    samples = draw_samples(model, args)
    if args.npy:
        np.save(args.npy, samples)
    of_class = "" if args.label is None else f" of class {args.label}"
    path = plotting.plot_images(samples, args.output, image_shape=shape, n_cols=args.n_cols,
                                title=f"{len(samples)} samples{of_class} after {args.n_gibbs} "
                                      "Gibbs steps")
    print(path)
    return EXIT_OK


def _mask(kind: str, fraction: float, shape: tuple[int, int], n: int, seed: int) -> np.ndarray:
    """True where a pixel is shown to the model."""
    height, width = shape
    rows, cols = np.mgrid[0:height, 0:width]
    hidden_rows = round(height * fraction)
    hidden_cols = round(width * fraction)
    if kind == "bottom":
        known = rows < height - hidden_rows
    elif kind == "top":
        known = rows >= hidden_rows
    elif kind == "left":
        known = cols >= hidden_cols
    elif kind == "right":
        known = cols < width - hidden_cols
    else:
        rng = np.random.default_rng(seed)
        return rng.random((n, height * width)) >= fraction
    return np.broadcast_to(known.ravel(), (n, height * width))


def run_complete(args) -> int:
    prepare_outputs("deepbelief complete", {"-o": args.output})
    model = load_model(args.model, args.device)
    require(model, args.model, "complete", COMPLETERS,
            " (image completion clamps the visible units of a generative model)")
    shape = image_shape(args.image_shape, model.n_features_in_)
    data = data_from_args(args, default_split="test", n_features=model.n_features_in_)
    X = data.X[: args.n_images]
    mask = _mask(args.mask, args.fraction, shape, len(X), args.seed)
    filled = model.complete(X, mask, n_iter=args.n_iter, random_state=args.seed)
    path = plotting.plot_completions(X, mask, filled, args.output, image_shape=shape,
                                     n_cols=args.n_cols,
                                     title=f"{args.mask} {args.fraction:.0%} hidden, "
                                           f"{args.n_iter} Gibbs steps")
    print(path)
    return EXIT_OK


def run_plot(args) -> int:
    what = args.what
    output = args.output or f"{what}.png"
    prepare_outputs("deepbelief plot", {"-o": output})
    if what == "curves":
        source = Path(args.model)
        if source.suffix.lower() in (".json", ".csv"):
            if not source.is_file():
                raise CommandError(f"history file not found: {source}")
            history = read_history(source)
        else:
            history = load_model(args.model).history_
        print(plotting.plot_learning_curves(history, output, title=args.title))
        return EXIT_OK
    model = load_model(args.model, args.device)
    require(model, args.model, f"plot {what}",
            {"samples": SAMPLERS, "predictions": CLASSIFIERS}.get(what))
    args.n = args.n or {"filters": 100, "samples": 30, "reconstructions": 20,
                        "predictions": 10}.get(what)
    shape = None
    if what in ("filters", "samples", "reconstructions", "predictions"):
        shape = image_shape(args.image_shape, image_pixels(model),
                            args.model if isinstance(model, SequenceCRBM) else None)
    if what == "embedding":
        path = _plot_embedding(model, args, output)
    elif what == "filters":  # a sequence model's: the weights from the current frame
        weights = model.layers_[0] if isinstance(model, SequenceCRBM) else model
        path = plotting.plot_filters(weights, output, image_shape=shape, n_units=args.n,
                                     n_cols=args.n_cols, title=args.title or
                                     "receptive fields of the first hidden layer")
    elif what == "samples":
        args.n_samples = args.n
        samples = draw_samples(model, args)
        path = plotting.plot_images(samples, output, image_shape=shape, n_cols=args.n_cols,
                                    title=args.title or f"samples ({args.n_gibbs} Gibbs steps)")
    else:
        data = data_from_args(args, default_split="test", n_features=model.n_features_in_,
                              want_labels=what == "predictions" and
                              isinstance(model, CLASSIFIERS))
        if what == "reconstructions" and isinstance(model, DBNAutoencoder):
            path = plot_autoencoder_reconstructions(model, args, data, output, shape)
        elif what == "reconstructions":
            X = data.X[: args.n]
            recon = reconstruct(model, X)
            path = plotting.plot_reconstructions(X, recon, output, image_shape=shape,
                                                 n_cols=args.n_cols or 10, title=args.title)
        else:  # predictions
            if data.y is None:
                raise CommandError(f"{data.name} has no labels to compare the predictions "
                                   "with.")
            X = data.X[: args.n]
            path = plotting.plot_predictions(X, data.y[: args.n], model.predict(X), output,
                                             image_shape=shape, n_cols=args.n_cols or 5)
    print(path)
    return EXIT_OK


def _embedding_points(model, args) -> tuple[np.ndarray, np.ndarray | None, str]:
    """The points of ``plot embedding`` (``--n-points`` of them), their labels (None when
    the data has none) and what they are, in words."""
    n = args.n_points
    if isinstance(model, SequenceCRBM):  # one point per sequence
        data = command_sequences(args, model)
        labels = None if data.labels is None else data.labels[:n]
        return (model.transform(data.sequences[:n], pool="mean_std"), labels,
                f"sequences of {data.name} (features' mean and spread over time)")
    if isinstance(model, ConditionalRBM):
        pairs = conditional_data(args, model)
        labels = None if pairs.data.y is None else pairs.data.y[:n]
        pairs = replace(pairs, context=pairs.context[:n],
                        truth=None if pairs.truth is None else pairs.truth[:n])
        return conditional_features(model, pairs), labels, f"features of {pairs.data.name}"
    data = data_from_args(args, default_split="test", n_features=model.n_features_in_,
                          want_labels=isinstance(model, CLASSIFIERS))
    X = data.X[:n]
    labels = None if data.y is None else data.y[:n]
    if isinstance(model, DBNAutoencoder):
        return embedding_codes(model, X, args.method), labels, f"codes of {data.name}"
    return model_features(model, X), labels, f"features of {data.name}"


def _plot_embedding(model, args, output: str) -> Path:
    """``plot embedding``: a 2-D map of the model's features (an autoencoder's codes, a
    sequence model's pooled over each sequence), coloured by label."""
    features, labels, what = _embedding_points(model, args)
    return plotting.plot_embedding(features, labels, output, method=args.method,
                                   random_state=args.seed,
                                   feature_name="code" if isinstance(model, DBNAutoencoder)
                                   else "feature",
                                   title=args.title or f"{type(model).__name__} {what}")
