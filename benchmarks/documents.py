"""Documents: Replicated Softmax against LDA (held-out perplexity), and retrieval by topic
with RSM features, semantic-hashing codes, TF-IDF and LDA topic vectors.

    python benchmarks/documents.py [--quick] [--lee PATH] [--threads N] [--json out.json]

Corpora: a synthetic corpus drawn from a known LDA model (``synthetic_corpus``; labels:
each document's dominant topic), and the Lee background corpus (300 news articles, no
labels: perplexity only) when gensim is installed or ``--lee`` names lee_background.cor.

Estimators, and their bias:

* Replicated Softmax (50 hidden units): ``log p(v) = -F(v) - log Z_D``, ``log Z_D`` by AIS
  (Salakhutdinov & Murray's annealing, per document length). ``log Ẑ`` tends to
  underestimate ``log Z``, so the RSM's perplexity tends to be optimistic (too low).
* LDA (scikit-learn's ``LatentDirichletAllocation``, 50 topics, online variational Bayes):
  its own ``perplexity``, from the variational lower bound on ``log p(v)``: pessimistic
  (too high). Both are per word, ``exp(-Σ log p(v) / Σ D)``, on the same held-out split.
* Unigram: the training word frequencies (with 0.01 pseudo-counts), exact.

Retrieval: each held-out document queries the training documents; precision at k is the
fraction of its k nearest that share its label. RSM features and LDA topic proportions by
cosine similarity, TF-IDF by cosine similarity, hashing codes by Hamming distance (ties in
index order). Query time: per held-out document, all distances to the training set and the
k=10 nearest (TF-IDF: sparse products; hashing: XOR and popcount of packed codes), and a
Hamming-ball look-up of radius 2 (:class:`deepbelief.evaluation.retrieval.HammingIndex`).
"""

from __future__ import annotations

import time

import numpy as np
from _common import parse_args, print_machine_info, print_table, quick_banner, write_json
from sklearn.decomposition import LatentDirichletAllocation
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import normalize

from deepbelief import ReplicatedSoftmaxRBM, SemanticHashing
from deepbelief.datasets.documents import Corpus, load_lee_corpus, synthetic_corpus
from deepbelief.evaluation.retrieval import HammingIndex, hamming_distances, precision_at

KS = (1, 3, 10, 30, 100)
QUICK = {"documents": 1000, "words": 300, "topics": 10, "epochs": 15, "hash_epochs": 10,
         "ais_runs": 16, "ais_betas": 1000, "test_fraction": 0.15, "lda_iter": 10}


def unigram_perplexity(train: Corpus, test: Corpus) -> float:
    freq = np.asarray(train.counts.sum(0), dtype=np.float64).ravel() + 0.01
    freq /= freq.sum()
    return float(np.exp(-(test.counts @ np.log(freq)).sum() / test.counts.sum()))


def perplexities(name: str, train: Corpus, test: Corpus, args) -> dict:
    """Held-out perplexity of the RSM (AIS), LDA (its bound) and the unigram model."""
    start = time.perf_counter()
    rsm = ReplicatedSoftmaxRBM(args.hidden, n_iter=args.epochs, partition="ais",
                               ais_runs=args.ais_runs, ais_betas=args.ais_betas,
                               random_state=0, device=args.device).fit(train.counts)
    rsm_fit = time.perf_counter() - start
    start = time.perf_counter()
    rsm_perplexity = rsm.perplexity(test.counts)
    ais_s = time.perf_counter() - start
    start = time.perf_counter()
    lda = LatentDirichletAllocation(args.hidden, max_iter=args.lda_iter, learning_method="batch",
                                    random_state=0).fit(train.counts)
    lda_fit = time.perf_counter() - start
    return {"corpus": name, "rsm": rsm, "lda": lda,
            "rows": [(name, "Replicated Softmax (AIS)", rsm_perplexity, rsm_fit, ais_s),
                     (name, "LDA (variational bound)", lda.perplexity(test.counts), lda_fit,
                      float("nan")),
                     (name, "unigram (exact)", unigram_perplexity(train, test), float("nan"),
                      float("nan"))]}


def _cosine_distances(queries, database) -> np.ndarray:
    q, d = normalize(queries), normalize(database)
    product = q @ d.T
    return 1.0 - (product.toarray() if hasattr(product, "toarray") else product)


def retrieval(train: Corpus, test: Corpus, models: dict, args) -> tuple[list, list]:
    """Precision at k of four representations, and query times."""
    start = time.perf_counter()
    hashing = SemanticHashing((args.hash_hidden, args.hash_hidden, args.bits),
                              pretrain_epochs=args.hash_epochs, max_iter=args.hash_epochs,
                              random_state=0, device=args.device).fit(train.counts)
    hash_fit = time.perf_counter() - start
    tfidf = TfidfTransformer().fit(train.counts)
    rsm, lda = models["rsm"], models["lda"]
    distances = {
        "RSM features (cosine)": _cosine_distances(rsm.transform(test.counts),
                                                   rsm.transform(train.counts)),
        f"semantic hashing, {args.bits} bits (Hamming)": hamming_distances(
            hashing.transform(test.counts), hashing.transform(train.counts)),
        "TF-IDF (cosine)": _cosine_distances(tfidf.transform(test.counts),
                                             tfidf.transform(train.counts)),
        "LDA topic proportions (cosine)": _cosine_distances(lda.transform(test.counts),
                                                            lda.transform(train.counts)),
    }
    ks = [k for k in KS if k <= len(train)]
    rows = []
    for name, d in distances.items():
        precision = precision_at(d, train.labels, ks, test.labels)
        rows.append((name, *[precision[k] for k in ks]))
    database_codes, query_codes = hashing.transform(train.counts), hashing.transform(
        test.counts)
    index = HammingIndex(database_codes, n_bits=args.bits)
    db_tfidf, q_tfidf = normalize(tfidf.transform(train.counts)), normalize(
        tfidf.transform(test.counts))

    def per_query(fn) -> float:
        start = time.perf_counter()
        for i in range(len(test)):
            fn(i)
        return 1e6 * (time.perf_counter() - start) / len(test)

    times = [
        ("TF-IDF: cosine to every document, top 10",
         per_query(lambda i: np.argpartition(
             -(db_tfidf @ q_tfidf[i].T).toarray().ravel(), 10)[:10])),
        ("hashing: Hamming to every document, top 10",
         per_query(lambda i: np.argpartition(
             hamming_distances(query_codes[i:i + 1], database_codes)[0], 10)[:10])),
        ("hashing: Hamming ball of radius 2 (table look-ups)",
         per_query(lambda i: index.search(query_codes[i], radius=2))),
    ]
    times.append(("(semantic hashing fit, s)", hash_fit))
    return rows, times


def main() -> int:
    def options(parser) -> None:
        parser.add_argument("--documents", type=int, default=6000)
        parser.add_argument("--words", type=int, default=2000)
        parser.add_argument("--topics", type=int, default=20)
        parser.add_argument("--hidden", type=int, default=50,
                            help="RSM hidden units and LDA topics (default: 50)")
        parser.add_argument("--epochs", type=int, default=50)
        parser.add_argument("--hash-epochs", type=int, default=30)
        parser.add_argument("--hash-hidden", type=int, default=500)
        parser.add_argument("--bits", type=int, default=32)
        parser.add_argument("--ais-runs", type=int, default=100)
        parser.add_argument("--ais-betas", type=int, default=10000)
        parser.add_argument("--lda-iter", type=int, default=50)
        parser.add_argument("--test-fraction", type=float, default=0.2)
        parser.add_argument("--lee", metavar="PATH", default=None,
                            help="lee_background.cor (default: gensim's copy, if installed)")

    args = parse_args(__doc__.splitlines()[0], options)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, value)
        args.hash_hidden = 128
    machine = print_machine_info()
    quick_banner(args)
    corpus = synthetic_corpus(args.documents, args.words, args.topics, random_state=0)
    train, test = corpus.split(args.test_fraction, random_state=0)
    print(f"\nsynthetic LDA corpus: {len(train)} training and {len(test)} held-out documents, "
          f"{args.words} words, {args.topics} topics, {corpus.lengths.mean():.0f} words per "
          "document on average")
    synthetic = perplexities("synthetic", train, test, args)
    rows = list(synthetic["rows"])
    try:
        lee = load_lee_corpus(args.lee, max_features=1000)
    except FileNotFoundError as exc:
        print(f"\nLee corpus skipped: {exc}")
    else:
        lee_train, lee_test = lee.split(args.test_fraction, random_state=0)
        print(f"Lee background corpus: {len(lee_train)} training and {len(lee_test)} held-out "
              f"documents, {lee.counts.shape[1]} words")
        rows += perplexities("Lee", lee_train, lee_test, args)["rows"]
    suffix = " [--quick]" if args.quick else ""
    print_table(f"Held-out perplexity per word ({args.hidden} hidden units / topics){suffix}",
                ("corpus", "model", "perplexity", "fit s", "AIS s"), rows)
    precision_rows, times = retrieval(train, test, synthetic, args)
    ks = [k for k in KS if k <= len(train)]
    print_table(f"Retrieval precision at k, synthetic corpus (labels: dominant topic){suffix}",
                ("representation", *[f"P@{k}" for k in ks]), precision_rows)
    print_table(f"Query time per held-out document, {len(train)} documents searched{suffix}",
                ("search", "µs per query"), times)
    write_json(args.json, "documents", args, machine,
               {"perplexity": [list(r) for r in rows], "precision": precision_rows,
                "query_us": times})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
