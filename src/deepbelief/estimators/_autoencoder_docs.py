"""Docstring parts of :class:`~deepbelief.estimators.DBNAutoencoder`: the shared
pretraining parameters with its own entries, and its fine-tuning parameters."""

from __future__ import annotations

import re

from deepbelief.estimators._docs import PRETRAIN_DOC

__all__ = ["FINETUNE_DOC", "PARAMS_DOC"]


def _param_doc(doc: str, name: str, text: str) -> str:
    """``doc`` (numpydoc parameters) with the entry of ``name`` replaced by ``text``
    (appended when ``doc`` has no such entry)."""
    pattern = rf"\n    {name} :.*?(?=\n    \S)"
    if not re.search(pattern, doc, flags=re.S):
        return doc.rstrip("\n") + text
    return re.sub(pattern, lambda _: "\n" + text.rstrip("\n"), doc, count=1, flags=re.S)


PARAMS_DOC = _param_doc(_param_doc(_param_doc(PRETRAIN_DOC, "hidden_layer_sizes", """
    hidden_layer_sizes : tuple of int, default (256, 64, 2)
        Units per layer of the encoder, bottom first; the last is the code size (2 to
        draw the data, 30 for the 784-1000-500-250-30 network of the paper). The decoder
        mirrors them."""), "visible_units", """
    visible_units : {'auto', 'bernoulli', 'gaussian'}, default 'auto'
        Unit type of the input layer (or 'replicated_softmax', below). 'auto': Bernoulli
        when every value of the training data lies in [0, 1], else Gaussian units on data
        standardised inside the model (``input_mean_``, ``input_scale_``; outputs are in
        the data's units). 'gaussian' expects standardized data, as the other estimators
        do. 'replicated_softmax': word counts (whole numbers, sparse or dense) under a
        replicated-softmax bottom layer (as :class:`~deepbelief.ReplicatedSoftmaxRBM`'s,
        Salakhutdinov & Hinton, 2009); the reconstruction is then a softmax over the
        words, fine-tuned on the words' cross-entropy (``loss='auto'``, ``loss_``
        'word_cross_entropy'), and ``reconstruct`` and ``score`` scale it to each
        document's length (expected counts; ``inverse_transform`` gives the word
        distribution)."""), "hidden_units", """
    hidden_units : {'bernoulli', 'relu', 'gaussian'} or sequence, default 'bernoulli'
        Hidden unit type, for all layers or one per layer (``code_units`` overrides the
        code layer's).
    code_units : {'gaussian', 'bernoulli', 'relu'} or None, default 'gaussian'
        Unit type of the code layer: 'gaussian' gives linear codes (Hinton &
        Salakhutdinov's code layer, pretrained as an RBM with Gaussian hidden units);
        None takes the code layer's entry of ``hidden_units``.""")

FINETUNE_DOC = """
    max_iter : int, default 100
        Epochs of fine-tuning (0 keeps the unrolled pretrained weights).
    solver : {'adam', 'sgd', 'lbfgs'} or callable, default 'adam'
        ``torch.optim`` optimizer of the fine-tuning; a callable receives
        ``(param_groups, learning_rate)``. 'lbfgs' runs a few L-BFGS iterations with a
        strong-Wolfe line search on each mini-batch
        (:func:`deepbelief.training.loop.make_optimizer`), as the paper ran three line
        searches of conjugate gradients on each mini-batch of 1000: give it large batches
        (``finetune_batch_size``).
    learning_rate_init : float or 'auto', default 'auto'
        Fine-tuning step size; 'auto' is 1e-3 for 'adam', 0.01 for 'sgd' (the loss is
        summed over the features: 0.1 fails on MNIST) and 1.0 for 'lbfgs' (its line
        search scales the step).
    momentum : float, default 0.9
        Momentum for ``solver='sgd'``.
    alpha : float, default 1e-4
        L2 penalty ``alpha / 2 · Σ‖W‖²`` on the weights during fine-tuning, part of the
        training loss.
    loss : {'auto', 'cross_entropy', 'squared_error'}, default 'auto'
        Fine-tuning loss, summed over the features and averaged over the rows: the
        cross-entropy of data in [0, 1] and its reconstruction (the paper's), or the
        squared error. 'auto': the cross-entropy with Bernoulli visible units, else the
        squared error.
    finetune_batch_size : int or 'auto', default 'auto'
        Mini-batch size of the fine-tuning; 'auto': ``batch_size``, or 1000 rows with
        'lbfgs'.
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data, stop when its score (the
        negative squared reconstruction error) has not improved by ``tol`` for
        ``n_iter_no_change`` epochs, and keep the best weights. Without it, training
        stops when the training loss stalls the same way.
    validation_fraction : float, default 0.1
    n_iter_no_change : int, default 10
    tol : float, default 1e-4
"""
