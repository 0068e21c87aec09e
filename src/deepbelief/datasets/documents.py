"""Document collections as word-count matrices, for topic models and semantic hashing.

Every loader returns a :class:`Corpus`: a SciPy CSR matrix of word counts (documents ×
vocabulary, as scikit-learn's ``CountVectorizer`` returns it), the vocabulary, and labels
where the collection has them.

* :func:`synthetic_corpus` -- documents drawn from a known LDA model (seeded), with each
  document's dominant topic as its label: test and benchmark data whose truth is known;
* :func:`load_text_folder` -- any folder of ``.txt`` files (labelled by their subfolder
  when they are in subfolders) through ``CountVectorizer``;
* :func:`load_lee_corpus` -- the Lee background corpus (Lee, Pincombe & Welsh, 2005):
  300 Australian news articles, no labels, read from the copy that ships inside the
  ``gensim`` package (``pip install gensim``) or from a path;
* :func:`load_20newsgroups` -- the 20 Newsgroups collection through scikit-learn's
  ``fetch_20newsgroups`` (its cache, or a download with ``download=True``).

A test collection must be counted over its training collection's words: pass
``vocabulary=train.vocabulary``.

References
----------
D. M. Blei, A. Y. Ng and M. I. Jordan, "Latent Dirichlet Allocation", JMLR 3, 2003.
M. D. Lee, B. Pincombe and M. Welsh, "An empirical evaluation of models of text document
similarity", Proc. 27th Annual Conference of the Cognitive Science Society, 2005.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, replace
from os import PathLike
from pathlib import Path

import numpy as np
from scipy import sparse

__all__ = ["Corpus", "load_20newsgroups", "load_lee_corpus", "load_text_folder",
           "synthetic_corpus", "vectorize"]

#: Where the Lee background corpus lies inside an installed gensim package.
LEE_IN_GENSIM = ("test", "test_data", "lee_background.cor")


@dataclass(frozen=True, eq=False)
class Corpus:
    """Documents as word counts.

    Attributes
    ----------
    counts : scipy.sparse.csr_matrix of int64, shape (n_documents, n_words)
    vocabulary : list of str
        The word of each column.
    labels : numpy.ndarray of shape (n_documents,) or None
        Integer labels (topic or class), where the collection has them.
    label_names : list of str or None
        The name of each label value.
    names : list of str or None
        Where each document came from (file names), where known.
    doc_topic, topic_word : numpy.ndarray or None
        For a synthetic corpus: each document's topic proportions (n_documents, n_topics)
        and each topic's word distribution (n_topics, n_words).
    """

    counts: sparse.csr_matrix
    vocabulary: list[str]
    labels: np.ndarray | None = None
    label_names: list[str] | None = None
    names: list[str] | None = None
    doc_topic: np.ndarray | None = None
    topic_word: np.ndarray | None = None

    def __len__(self) -> int:
        return self.counts.shape[0]

    @property
    def lengths(self) -> np.ndarray:
        """Words per document (int64, shape (n_documents,))."""
        return np.asarray(self.counts.sum(axis=1), dtype=np.int64).ravel()

    def subset(self, index) -> Corpus:
        """The documents ``index`` (an index array or a boolean mask)."""
        index = np.asarray(index)

        def pick(values):
            if values is None:
                return None
            return values[index] if isinstance(values, np.ndarray) else [
                values[i] for i in np.arange(len(values))[index]]

        return replace(self, counts=self.counts[index], labels=pick(self.labels),
                       names=pick(self.names), doc_topic=pick(self.doc_topic))

    def split(self, test_fraction: float = 0.2, random_state=0) -> tuple[Corpus, Corpus]:
        """A random ``(train, test)`` split of the documents (same vocabulary).

        Raises
        ------
        ValueError
            If either part would be empty.
        """
        n = len(self)
        n_test = round(test_fraction * n)
        if not 0 < n_test < n:
            raise ValueError(f"test_fraction={test_fraction} leaves an empty part of {n} "
                             "documents.")
        order = np.random.default_rng(random_state).permutation(n)
        return self.subset(np.sort(order[n_test:])), self.subset(np.sort(order[:n_test]))


def synthetic_corpus(n_documents: int = 2000, n_words: int = 500, n_topics: int = 20, *,
                     mean_length: float = 80.0, doc_topic_prior: float = 0.1,
                     topic_word_prior: float = 0.05, random_state: int = 0) -> Corpus:
    """Documents drawn from an LDA model (Blei, Ng & Jordan, 2003) with known parameters.

    Each topic's word distribution is drawn from ``Dirichlet(topic_word_prior)``, each
    document's topic proportions ``θ`` from ``Dirichlet(doc_topic_prior)``, its length from
    ``1 + Poisson(mean_length - 1)``, and its words from ``Multinomial(length, θ · topics)``.
    A small ``doc_topic_prior`` makes most documents about one topic: the label of a
    document is its dominant topic, ``argmax θ``.

    Parameters
    ----------
    n_documents, n_words, n_topics : int
    mean_length : float, default 80
        Mean number of words per document (>= 1).
    doc_topic_prior, topic_word_prior : float
        The Dirichlet priors (> 0).
    random_state : int, default 0
        Seeds a ``numpy.random.Generator``: the same seed gives the same corpus.

    Returns
    -------
    Corpus
        With ``labels``, ``doc_topic`` and ``topic_word``; the words are named ``w0``, ...

    Raises
    ------
    ValueError
        For sizes below 1, ``mean_length < 1`` or priors that are not positive.

    Examples
    --------
    >>> corpus = synthetic_corpus(100, 30, 4, mean_length=20, random_state=0)
    >>> corpus.counts.shape, corpus.topic_word.shape, sorted(set(corpus.labels.tolist()))
    ((100, 30), (4, 30), [0, 1, 2, 3])
    """
    if min(n_documents, n_words, n_topics) < 1 or not mean_length >= 1:
        raise ValueError("n_documents, n_words and n_topics must be >= 1 and mean_length "
                         f">= 1, got {n_documents}, {n_words}, {n_topics}, {mean_length}.")
    if not (doc_topic_prior > 0 and topic_word_prior > 0):
        raise ValueError("the Dirichlet priors must be positive.")
    rng = np.random.default_rng(random_state)
    topic_word = rng.dirichlet(np.full(n_words, topic_word_prior), size=n_topics)
    doc_topic = rng.dirichlet(np.full(n_topics, doc_topic_prior), size=n_documents)
    lengths = 1 + rng.poisson(mean_length - 1, size=n_documents)
    word_probs = doc_topic @ topic_word
    word_probs /= word_probs.sum(1, keepdims=True)
    counts = np.stack([rng.multinomial(n, p) for n, p in zip(lengths, word_probs, strict=True)])
    return Corpus(sparse.csr_matrix(counts.astype(np.int64)),
                  [f"w{i}" for i in range(n_words)], labels=doc_topic.argmax(1),
                  label_names=[f"topic {k}" for k in range(n_topics)],
                  doc_topic=doc_topic, topic_word=topic_word)


def vectorize(texts: Sequence[str], *, vocabulary: Sequence[str] | None = None,
              max_features: int | None = 2000, min_df: int | float = 2,
              stop_words: str | list | None = "english", **kwargs) -> Corpus:
    """Count the words of ``texts`` with scikit-learn's ``CountVectorizer``.

    Parameters
    ----------
    texts : sequence of str
    vocabulary : sequence of str, optional
        Count exactly these words (a training corpus's ``vocabulary``, for its test
        documents); ``max_features``, ``min_df`` and ``stop_words`` are then unused.
    max_features : int or None, default 2000
        Keep the most frequent words (the Replicated Softmax paper keeps 2000 for 20
        Newsgroups).
    min_df : int or float, default 2
        Drop words in fewer documents (or a smaller fraction of them).
    stop_words : 'english', list or None, default 'english'
    **kwargs :
        Other ``CountVectorizer`` options (``lowercase``, ``token_pattern``, ...).

    Returns
    -------
    Corpus
        Without labels.

    Examples
    --------
    >>> corpus = vectorize(["the cat sat", "the cat ran", "a dog ran"], min_df=1,
    ...                    stop_words=None)
    >>> corpus.vocabulary, corpus.counts.toarray()[0].tolist()
    (['cat', 'dog', 'ran', 'sat', 'the'], [1, 0, 0, 1, 1])
    """
    from sklearn.feature_extraction.text import CountVectorizer

    if vocabulary is not None:
        vectorizer = CountVectorizer(vocabulary=list(vocabulary), **kwargs)
    else:
        vectorizer = CountVectorizer(max_features=max_features, min_df=min_df,
                                     stop_words=stop_words, **kwargs)
    counts = vectorizer.fit_transform(list(texts))
    return Corpus(sparse.csr_matrix(counts, dtype=np.int64),
                  [str(w) for w in vectorizer.get_feature_names_out()])


def load_text_folder(folder: str | PathLike, *, encoding: str = "utf-8",
                     vocabulary: Sequence[str] | None = None, **kwargs) -> Corpus:
    """The ``.txt`` files under ``folder`` as word counts (:func:`vectorize`).

    Files directly in ``folder`` are unlabelled; when every file lies in a subfolder (one
    level: ``folder/sport/a.txt``, ``folder/politics/b.txt``), the subfolder is its label
    (sorted names, numbered from 0), as scikit-learn's ``load_files`` reads 20 Newsgroups.

    Parameters
    ----------
    folder : str or path-like
    encoding : str, default 'utf-8'
        Undecodable bytes are replaced.
    vocabulary, **kwargs :
        As for :func:`vectorize` (``max_features``, ``min_df``, ``stop_words``, ...).

    Returns
    -------
    Corpus
        ``names`` holds each file's path relative to ``folder``, in sorted order.

    Raises
    ------
    FileNotFoundError
        If ``folder`` is not a folder or holds no ``.txt`` file.
    """
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder; give a folder of .txt files.")
    files = sorted(p for p in root.rglob("*.txt") if p.is_file())
    if not files:
        raise FileNotFoundError(f"{folder}: no .txt file in it (or its subfolders).")
    texts = [p.read_text(encoding=encoding, errors="replace") for p in files]
    corpus = vectorize(texts, vocabulary=vocabulary, **kwargs)
    relative = [p.relative_to(root) for p in files]
    labels = label_names = None
    if all(len(r.parts) == 2 for r in relative):
        label_names = sorted({r.parts[0] for r in relative})
        labels = np.array([label_names.index(r.parts[0]) for r in relative])
    return replace(corpus, labels=labels, label_names=label_names,
                   names=[r.as_posix() for r in relative])


def _lee_path(path: str | PathLike | None) -> Path:
    if path is not None:
        return Path(path)
    spec = importlib.util.find_spec("gensim")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the Lee background corpus ships inside the gensim package, which is not "
            "installed: 'pip install gensim', or pass path= to a copy of "
            "lee_background.cor (one document per line).")
    return Path(next(iter(spec.submodule_search_locations))).joinpath(*LEE_IN_GENSIM)


def load_lee_corpus(path: str | PathLike | None = None, *,
                    vocabulary: Sequence[str] | None = None, **kwargs) -> Corpus:
    """The Lee background corpus: 300 news articles of the Australian Broadcasting
    Corporation (Lee, Pincombe & Welsh, 2005), one per line, without labels.

    It ships in the ``gensim`` package (``gensim/test/test_data/lee_background.cor``,
    360 kB; gensim is licensed LGPL-2.1, and its authors received the corpus from M. D.
    Lee for research use), which this loader reads without importing gensim. deepbelief
    does not depend on gensim: install it to use this loader, or pass ``path``.

    Parameters
    ----------
    path : str or path-like, optional
        A file with one document per line (default: the copy inside gensim).
    vocabulary, **kwargs :
        As for :func:`vectorize`.

    Returns
    -------
    Corpus
        ``names`` are ``'lee 0'``, ``'lee 1'``, ...

    Raises
    ------
    FileNotFoundError
        If gensim is not installed and no ``path`` is given, or the file is missing (the
        message says what to do).
    """
    file = _lee_path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{file}: no such file; pass path= to a copy of "
                                "lee_background.cor (one document per line).")
    lines = [line.strip() for line in file.read_text(encoding="utf-8",
                                                     errors="replace").splitlines()]
    texts = [line for line in lines if line]
    corpus = vectorize(texts, vocabulary=vocabulary, **kwargs)
    return replace(corpus, names=[f"lee {i}" for i in range(len(texts))])


def load_20newsgroups(subset: str = "train", *, data_home: str | PathLike | None = None,
                      download: bool = False, vocabulary: Sequence[str] | None = None,
                      categories: Sequence[str] | None = None,
                      remove: tuple[str, ...] = ("headers", "footers", "quotes"),
                      **kwargs) -> Corpus:
    """The 20 Newsgroups posts as word counts, labelled by newsgroup.

    Read through scikit-learn's ``fetch_20newsgroups`` from its cache (in ``data_home``,
    default ``~/scikit_learn_data``); with ``download=True`` it downloads the 14 MB archive
    once when the cache is missing.

    Parameters
    ----------
    subset : {'train', 'test', 'all'}, default 'train'
        The standard by-date split.
    data_home : str or path-like, optional
    download : bool, default False
    vocabulary : sequence of str, optional
        Count these words: the training corpus's, for the test subset.
    categories : sequence of str, optional
        Only these newsgroups (e.g. ``['sci.space', 'rec.autos']``).
    remove : tuple of str, default ('headers', 'footers', 'quotes')
        Parts of the posts to drop, as ``fetch_20newsgroups`` takes them.
    **kwargs :
        As for :func:`vectorize` (``max_features`` 2000, as in the Replicated Softmax
        paper).

    Returns
    -------
    Corpus
        With ``labels`` and ``label_names`` (the newsgroups) and ``names`` (file names).

    Raises
    ------
    OSError
        When the cache is missing and ``download`` is False (the message says to pass
        ``download=True``), or the download fails.
    """
    from sklearn.datasets import fetch_20newsgroups

    try:
        bunch = fetch_20newsgroups(subset=subset, data_home=data_home, categories=categories,
                                   remove=remove, shuffle=False, download_if_missing=download)
    except OSError as exc:
        if download:
            raise
        raise OSError("20 Newsgroups is not in scikit-learn's cache"
                      f"{f' in {data_home}' if data_home else ''}: pass download=True "
                      "(14 MB, once) to fetch it.") from exc
    corpus = vectorize(bunch.data, vocabulary=vocabulary, **kwargs)
    return replace(corpus, labels=np.asarray(bunch.target), label_names=list(bunch.target_names),
                   names=[str(name) for name in bunch.filenames])
