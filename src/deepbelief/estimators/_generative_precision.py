"""Generative classification in float64: a row's label probabilities that do not depend on
the rows computed with it.

``GenerativeDBN.predict_proba`` reads each row's free energy of every label in the top
RBM, a sum over its 2,000 hidden units of values computed from float32 products. Those
products round differently for one row and for many (the BLAS picks other kernels), by
about 1e-7 of the free energy; once the model separates the classes that is 5e-7 on a
probability, more than scikit-learn's ``check_methods_subset_invariance`` allows (1e-7).
In float64 the difference is below 1e-12. The model's weights stay float32: only the
classification's copy is float64.
"""

from __future__ import annotations

import copy

import torch

from deepbelief.core.generative import GenerativeStack

__all__ = ["FIELD_VALUES", "float64_stack", "label_chunk", "label_free_energies"]

#: The most values of the (rows, labels, hidden units) field one chunk of rows computes
#: (2**25 float64 values: 256 MiB).
FIELD_VALUES = 2**25


def float64_stack(stack: GenerativeStack) -> GenerativeStack:
    """A float64 copy of ``stack`` (tied layers stay tied).

    Examples
    --------
    >>> from deepbelief.core.rbm import RBMModule
    >>> float64_stack(GenerativeStack([RBMModule(3, 2)])).top.weight.dtype
    torch.float64
    """
    copied = copy.deepcopy(stack)
    for module in {id(m): m for m in [*copied.lower, *copied.recognition, copied.top]}.values():
        module.double()
    return copied


def label_chunk(stack: GenerativeStack) -> int:
    """Rows per chunk of the label free energies: at most :data:`FIELD_VALUES` values of
    the field, at least one row.

    Examples
    --------
    >>> from deepbelief.core.generative import joined_with_labels
    >>> from deepbelief.core.rbm import RBMModule
    >>> label_chunk(GenerativeStack([RBMModule(13, 2000, joined_with_labels("bernoulli", 3, 10))]))
    1677
    """
    return max(1, FIELD_VALUES // max(1, stack.n_classes * stack.top.n_hidden))


def label_free_energies(stack: GenerativeStack, x: torch.Tensor) -> torch.Tensor:
    """``stack.label_free_energies(stack.up_pass(x))`` for a float64 ``stack`` (from
    :func:`float64_stack`) and float32 or float64 rows ``x``: shape (n, n_classes), float64.

    Examples
    --------
    >>> from deepbelief.core.generative import joined_with_labels
    >>> from deepbelief.core.rbm import RBMModule
    >>> rbms = [RBMModule(6, 4), RBMModule(4 + 3, 5, joined_with_labels("bernoulli", 4, 3))]
    >>> label_free_energies(float64_stack(GenerativeStack(rbms)), torch.ones(2, 6)).dtype
    torch.float64
    """
    return stack.label_free_energies(stack.up_pass(x.double()))
