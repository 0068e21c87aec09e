"""Document models on the command line: ``train --kind documents``, ``transform``,
``evaluate`` and the pictures ``plot topics`` and ``plot document-map``.

``--data`` names a folder of ``.txt`` files (labelled by subfolder, counted with
scikit-learn's ``CountVectorizer``), a ``.npz`` file of counts (``scipy.sparse.save_npz``,
or arrays ``X``, optionally ``y`` and ``vocabulary``), ``synthetic`` (documents of a known
LDA model) or ``lee`` (the Lee background corpus, from an installed gensim). The model file
keeps the vocabulary, so later commands count new documents over the same words.

One ``--layers`` value trains a :class:`~deepbelief.ReplicatedSoftmaxRBM`; several train
:class:`~deepbelief.SemanticHashing` (the last is the number of bits of the codes).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
from scipy import sparse

from deepbelief.cli.io import EXIT_OK, CommandError, check_suffix, prepare_outputs
from deepbelief.datasets.documents import (
    Corpus,
    load_lee_corpus,
    load_text_folder,
    synthetic_corpus,
)
from deepbelief.estimators import ReplicatedSoftmaxRBM, SemanticHashing, load
from deepbelief.io.modelfile import describe
from deepbelief.plotting import plot_embedding
from deepbelief.plotting.documents import plot_top_words

__all__ = ["read_corpus", "run_documents"]

log = logging.getLogger("deepbelief")

_SOURCES = ("a folder of .txt files, a .cor/.txt file of one document per line, a .npz "
            "file of counts, 'synthetic' or 'lee'")


def _lines_file(source: str) -> bool:
    """A file of one document per line (the Lee corpus's ``.cor`` format, or ``.txt``)."""
    return Path(source).is_file() and Path(source).suffix.lower() in (".cor", ".txt")


def read_corpus(source: str | None, *, vocabulary: list[str] | None = None,
                max_features: int = 2000, seed: int = 0) -> Corpus:
    """The documents of ``--data`` (see the module's docstring), counted over
    ``vocabulary`` when given (a model's).

    Raises
    ------
    CommandError
        For a missing source, or a file whose counts do not match ``vocabulary``.
    """
    if source is None:
        raise CommandError(f"give --data: {_SOURCES}.")
    if source == "synthetic":
        corpus = synthetic_corpus(random_state=seed)
    elif source == "lee" or Path(source).is_dir() or _lines_file(source):
        kwargs = ({"vocabulary": vocabulary} if vocabulary is not None
                  else {"max_features": max_features})
        if Path(source).is_dir():
            return load_text_folder(source, **kwargs)
        try:  # 'lee': gensim's copy; a .cor/.txt file: one document per line
            return load_lee_corpus(None if source == "lee" else source, **kwargs)
        except FileNotFoundError as exc:
            raise CommandError(f"{exc} On the command line, give the file itself: "
                               "--data path/to/lee_background.cor.") from None
    elif source.lower().endswith(".npz") and Path(source).is_file():
        corpus = _read_npz(Path(source))
    elif Path(source).exists():
        raise CommandError(f"--data {source}: not a kind of file this command reads; give "
                           f"{_SOURCES}, or a .cor/.txt file of one document per line.")
    else:
        raise CommandError(f"--data {source}: not found; give {_SOURCES}.")
    if vocabulary is not None and corpus.counts.shape[1] != len(vocabulary):
        raise CommandError(f"--data {source} counts {corpus.counts.shape[1]} words, but the "
                           f"model's vocabulary has {len(vocabulary)}.")
    return corpus


def _read_npz(path: Path) -> Corpus:
    with np.load(path, allow_pickle=False) as arrays:
        names = set(arrays.files)
        if {"indptr", "indices", "data", "shape"} <= names:
            counts = sparse.load_npz(path).tocsr()
            y = vocabulary = None
        elif "X" in names:
            counts = sparse.csr_matrix(arrays["X"])
            y = arrays["y"] if "y" in names else None
            vocabulary = [str(w) for w in arrays["vocabulary"]] if "vocabulary" in names else None
        else:
            raise CommandError(f"{path}: expected a scipy.sparse.save_npz file or arrays X "
                               "(counts), y and vocabulary.")
    vocabulary = vocabulary or [f"w{i}" for i in range(counts.shape[1])]
    return Corpus(counts.astype(np.float32), vocabulary, labels=y)


def _model_and_vocabulary(args):
    model = load(args.model, device=args.device)
    metadata = describe(args.model).get("config", {}).get("metadata") or {}
    return model, metadata.get("vocabulary"), metadata.get("data")


def _train(args) -> int:
    layers = args.layers or [50]
    prepare_outputs("deepbelief train", {"-o": args.output})
    seed = 0 if args.seed is None else args.seed
    corpus = read_corpus(args.data, max_features=args.max_features, seed=seed)
    common = {"random_state": seed, "device": args.device or "auto",
              "verbose": int(not args.quiet), **dict(args.set or [])}
    if args.batch_size:
        common["batch_size"] = args.batch_size
    if len(layers) == 1:
        params = {"n_iter": args.epochs, "learning_rate": args.learning_rate,
                  "method": args.method, "k": args.k}
        model = ReplicatedSoftmaxRBM(layers[0], **common, **{
            k: v for k, v in params.items() if v is not None})
    else:
        params = {"max_iter": args.epochs, "learning_rate_init": args.learning_rate,
                  "pretrain_epochs": args.pretrain_epochs and (
                      args.pretrain_epochs if len(args.pretrain_epochs) > 1
                      else args.pretrain_epochs[0])}
        model = SemanticHashing(tuple(layers), **common, **{
            k: v for k, v in params.items() if v is not None})
    start = time.perf_counter()
    model.fit(corpus.counts)
    seconds = time.perf_counter() - start
    model.save(args.output, metadata={"vocabulary": corpus.vocabulary,
                                      "data": {"source": args.data,
                                               "n_samples": len(corpus)}})
    log.info("saved %s", args.output)
    print(f"model: {type(model).__name__}, {corpus.counts.shape[1]} words -> "
          f"{' -> '.join(map(str, layers))}")
    print(f"documents: {len(corpus)} ({int(corpus.counts.sum())} words) from {args.data}")
    print(f"training time: {seconds:.1f} s")
    last = model.history_[-1] if isinstance(model.history_, list) else (
        model.history_["finetune"] or model.history_["pretrain"][-1] or [{}])[-1]
    for key in ("reconstruction_perplexity", "word_cross_entropy", "binary_codes"):
        if key in last:
            print(f"{key.replace('_', ' ')} (last epoch): {last[key]:.4g}")
    return EXIT_OK


def _transform(args) -> int:
    model, vocabulary, _ = _model_and_vocabulary(args)
    output = args.output or "features.npy"
    prepare_outputs("deepbelief transform", {"-o": output})
    check_suffix("deepbelief transform", "-o", output, (".npy",),
                 f"the features of a {type(model).__name__}")
    corpus = read_corpus(args.data, vocabulary=vocabulary)
    features = model.transform(corpus.counts)
    with open(output, "wb") as handle:  # numpy would add .npy to 'F.NPY'
        np.save(handle, features)
    what = "packed binary codes" if isinstance(model, SemanticHashing) else "topic features"
    print(f"{what} of {features.shape[0]} documents, shape {features.shape}, -> {output}")
    return EXIT_OK


def _evaluate(args) -> int:
    model, vocabulary, recorded = _model_and_vocabulary(args)
    source = args.data or (recorded or {}).get("source")
    corpus = read_corpus(source, vocabulary=vocabulary)
    if isinstance(model, SemanticHashing):
        print(f"word cross-entropy: {-model.score(corpus.counts):.4f}")
        bits = model.encode(corpus.counts)
        print(f"binary codes (within 0.1 of 0 or 1): {np.mean((bits < 0.1) | (bits > 0.9)):.3f}")
        return EXIT_OK
    model.set_params(ais_runs=args.ais_runs, ais_betas=args.ais_betas, random_state=args.seed)
    start = time.perf_counter()
    perplexity = model.perplexity(corpus.counts)
    method = "exact" if model.n_components <= 20 and model.partition != "ais" else "AIS"
    print(f"perplexity per word: {perplexity:.2f} ({method} partition functions, "
          f"{len(corpus)} documents, {time.perf_counter() - start:.1f} s)")
    return EXIT_OK


def _plot(args) -> int:
    output = args.output or f"{args.what}.png"
    prepare_outputs("deepbelief plot", {"-o": output})
    model, vocabulary, recorded = _model_and_vocabulary(args)
    if args.what == "topics":
        if not isinstance(model, ReplicatedSoftmaxRBM):
            raise CommandError(f"{args.model} holds a {type(model).__name__}; 'plot topics' "
                               "draws the hidden units of a ReplicatedSoftmaxRBM "
                               "(train --kind documents with one --layers value).")
        path = plot_top_words(model.components_, vocabulary, output, n_units=args.n or 20,
                              title=args.title)
    else:
        corpus = read_corpus(args.data or (recorded or {}).get("source"), vocabulary=vocabulary)
        features = (model.encode(corpus.counts) if isinstance(model, SemanticHashing)
                    else model.transform(corpus.counts))
        path = plot_embedding(features, corpus.labels, output, method=args.method,
                              title=args.title or f"2-D map of {len(corpus)} documents "
                                                  f"({args.method.upper()})")
    print(path)
    return EXIT_OK


def run_documents(args) -> int:
    """Run a document command line (:func:`deepbelief.cli.document_jobs.is_document_job`)."""
    return {"train": _train, "transform": _transform, "evaluate": _evaluate,
            "plot": _plot}[args.command](args)
