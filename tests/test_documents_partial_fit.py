"""A stream of ``partial_fit`` calls whose first batch misses words of the vocabulary warns,
and the advice (``fit`` a covering sample first, then ``partial_fit``) gives a model as good
as ``fit``."""

import warnings

import pytest

from deepbelief import ReplicatedSoftmaxRBM
from deepbelief.datasets.documents import synthetic_corpus


@pytest.fixture(scope="module")
def corpus():
    counts = synthetic_corpus(300, 80, 4, random_state=0).counts.tocsr()
    first = counts[:20].toarray()
    first[:, :10] = 0  # ten words absent from the first batch
    return counts, first


def test_a_first_batch_missing_words_warns(corpus):
    _, first = corpus
    with pytest.warns(UserWarning, match=r"never holds \d+ of the 80 words"):
        ReplicatedSoftmaxRBM(4, device="cpu", random_state=0).partial_fit(first)


def test_the_advice_fit_then_partial_fit_is_silent_and_beats_the_naive_stream(corpus):
    counts, _ = corpus
    train, test = counts[:250], counts[250:]
    fitted = ReplicatedSoftmaxRBM(4, n_iter=5, device="cpu", random_state=0).fit(train)
    advised = ReplicatedSoftmaxRBM(4, n_iter=1, device="cpu", random_state=0).fit(train[:100])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for start in range(100, 250, 50):
            advised.partial_fit(train[start:start + 50])
    naive = ReplicatedSoftmaxRBM(4, device="cpu", random_state=0)
    with pytest.warns(UserWarning, match="never holds"):
        naive.partial_fit(train[:20])
    for start in range(20, 250, 50):
        naive.partial_fit(train[start:start + 50])
    assert advised.perplexity(test) < naive.perplexity(test)
    assert advised.perplexity(test) < 1.15 * fitted.perplexity(test)
