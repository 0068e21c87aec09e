"""The parameters of :class:`~deepbelief.RBM`, for its docstring."""

from __future__ import annotations

__all__ = ["RBM_PARAMS_DOC"]

RBM_PARAMS_DOC = """
    n_components : int, default 256
        Number of hidden units.
    learning_rate : float or 'auto', default 'auto'
        Step size of the (mean mini-batch) likelihood gradient. 'auto': 0.1 when both
        layers are Bernoulli, as ``BernoulliRBM`` (the default units on data in [0, 1]),
        0.01 when either side is Gaussian or rectified linear, which diverge at 0.1
        (Hinton 2010, §13.2; :func:`deepbelief.training.greedy.auto_learning_rate`): the
        Gaussian units that ``visible_units='auto'`` picks for real-valued data train at
        0.01. Up to version 0.2.0 the default was 0.1 whatever the units.
    batch_size : int, default 10
        Examples per mini-batch.
    n_iter : int, default 10
        Epochs over the training data.
    verbose : int, default 0
        Show progress when positive: a progress bar on a terminal, else one line per epoch
        on stdout (see :class:`deepbelief.training.callbacks.ProgressBar`).
    random_state : int, RandomState or None, default None
        Seeds weights, shuffling and sampling (a private ``torch.Generator``; no global RNG).
    visible_units : {'auto', 'bernoulli', 'gaussian', 'relu'} or tuple, default 'auto'
        Unit type of the visible layer. 'auto': Bernoulli units when every value of the
        training data lies in [0, 1] (up to float rounding), as ``BernoulliRBM``, else
        Gaussian units on the data standardised per feature inside the model
        (``input_mean_``, ``input_scale_``; see Notes); the choice is ``visible_units_``.
        Explicit 'bernoulli' expects values in [0, 1] and refuses others; 'gaussian'
        expects data you have standardized. ``visible_units=('potts', q)``: categorical
        variables of ``q`` states (:class:`~deepbelief.core.potts.Potts`), each given as
        ``q`` one-hot columns (:func:`deepbelief.core.potts.one_hot` encodes a table of
        integer codes; ``sample``, ``gibbs`` and ``reconstruct`` return the same blocks,
        which :func:`deepbelief.core.potts.codes` decodes).
    hidden_units : {'bernoulli', 'gaussian', 'relu'}, default 'bernoulli'
        Unit type of the hidden layer.
    method : {'pcd', 'cd', 'pt'}, default 'pcd'
        Persistent CD (as BernoulliRBM), plain contrastive divergence, or PT-PCD: persistent
        chains at several temperatures that swap states (parallel tempering; Desjardins et
        al. 2010), which mix between modes where PCD's chains stick
        (:class:`~deepbelief.learning.tempering.ParallelTemperingPCD`).
    k : int, default 1
        Gibbs steps per update (tempering steps with 'pt').
    temperatures : int or list of float, default 10
        With ``method='pt'``: the ladder of inverse temperatures, as a count (geometric
        from 1 to 0.5) or the values themselves, ``1 = beta_0 > ... >= 0``
        (:func:`~deepbelief.core.tempering.inverse_temperatures`). Ignored otherwise.
    momentum : float or 'classic', default 0.0
        SGD momentum; 'classic' is 0.5 for five epochs then 0.9.
    weight_decay : float, default 0.0
        L2 penalty on the weights (not the biases).
    learning_rate_schedule : {'constant', 'linear', 'inverse'}, default 'constant'
    optimizer : {'sgd', 'adam'} or callable, default 'sgd'
        A callable receives ``(param_groups, learning_rate)`` and returns a
        ``torch.optim.Optimizer``.
    sparsity_target : float or None, default None
        Target mean activation of the hidden units (Hinton's practical guide, §11).
    sparsity_cost : float, default 0.0
    sample_inputs : bool, default False
        Read ``X`` as probabilities and train every mini-batch on a fresh binary sample of
        it (dynamic binarisation, e.g. of grey-level MNIST): the model fits the
        distribution of binarised data instead of one fixed binarisation and overfits
        less. Needs Bernoulli visible units (``'bernoulli'``, or ``'auto'`` on data in
        [0, 1]).
    centering : bool or float, default False
        Centred gradients (Melchior, Fischer & Wiskott, 2016): the gradient of the
        parameterisation with the units' running means subtracted inside the energy, which
        is better conditioned and works with every ``method``. True averages the means
        with the sliding factor 0.01; a number in (0, 1] is that factor (1: each
        mini-batch's own means). It changes training only: the fitted model is an
        ordinary RBM (see :mod:`deepbelief.learning.centering`).
    device : str, default 'auto'
        'cpu', 'cuda', 'cuda:N', or 'auto' (CUDA when available).
    callbacks : list or None, default None
        Functions ``(epoch, record)`` or :class:`deepbelief.training.callbacks.Callback` objects
        called after every epoch (phase ``'pretrain'``); one returning True stops training.
        They are copied by ``fit`` (see ``callbacks_``) and not saved with the model.
"""
