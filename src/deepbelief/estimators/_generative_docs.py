"""The parameters of :class:`~deepbelief.GenerativeDBN`, for its docstring."""

from __future__ import annotations

__all__ = ["GENERATIVE_PARAMS_DOC", "SAMPLE_WEIGHT_DOC"]

GENERATIVE_PARAMS_DOC = """
    hidden_layer_sizes : tuple of int, default (500, 500, 2000)
        Hidden units per RBM, bottom first; the last entry is the top RBM's hidden layer
        and the one before it the penultimate layer joined with the labels (with a single
        entry, the inputs themselves are joined with the labels).
    visible_units : {'auto', 'bernoulli', 'gaussian'}, default 'auto'
        Input units: Bernoulli for data in [0, 1] (pixel intensities), Gaussian (unit
        variance) for standardized real-valued data. 'auto': Bernoulli when every value of
        the training data lies in [0, 1] (up to float rounding), else Gaussian units on the
        data standardised inside the model to a standard deviation of 3
        (``input_mean_``, ``input_scale_``: each feature's standard deviation / 3), so
        that the units' noise, of variance 1, leaves 8/9 of each feature's variance to the
        hidden units (on data of unit variance they learn next to nothing unless the
        features are strongly correlated; with ``'gaussian'`` the model reads ``X`` as
        given). The choice is ``visible_units_``. Every other layer is Bernoulli.
    pretrain_epochs : int, 'auto' or sequence of int, default 'auto'
        Epochs of RBM training per layer (one value per entry of ``hidden_layer_sizes``).
        'auto': at least 1,000 parameter updates per layer, within 10 to 20 epochs: 10
        epochs on 100 mini-batches or more (e.g. MNIST), up to 20 on smaller data (what a
        layer learns depends on the number of updates, not of epochs: 10 epochs of 300
        rows are 100 updates; :mod:`deepbelief.estimators._generative_recipe`).
    pretrain_learning_rate : float, 'auto' or sequence of them, default 'auto'
        RBM step size, for all layers or one per layer. 'auto' is 0.1 for a Bernoulli
        layer and 0.01 for the first layer when ``visible_units='gaussian'`` (Hinton 2010,
        §13.2; :func:`deepbelief.training.greedy.auto_learning_rate`).
    pretrain_method : {'cd', 'pcd', 'pt'} or sequence of them, default 'cd'
        For all layers or one per layer. A CD-1-trained top RBM classifies well but its
        Gibbs chains fall into a few spurious modes; persistent chains unlearn them, in
        the top RBM's training (e.g. ``('cd', 'cd', 'pcd')``) or in up-down fine-tuning
        (``updown_method='pcd'``). On MNIST the best model of both kinds came from a CD-1
        top RBM followed by up-down with persistent chains (BENCHMARKS.md).
    k : int or sequence of int, default 1
        Gibbs steps of CD-k / PCD-k, for all layers or one per layer.
    pretrain_learning_rate_schedule : {'constant', 'linear'} or sequence of them, default 'constant'
        'linear' decays a layer's learning rate to 0 over its epochs (what PCD needs to
        settle); for all layers or one per layer.
    pretrain_momentum : float or 'classic', default 'classic'
        'classic' is 0.5 for five epochs, then 0.9.
    pretrain_weight_decay : float, default 2e-4
    pretrain_centering : bool or float, default False
        Centred gradients for every RBM, the top one included, as in ``DBNTransformer``.
    pretrain_init : {'random', 'transpose'}, default 'random'
        How each RBM above the first starts. 'random': small random weights. 'transpose':
        as the transpose of the RBM below (Hinton, Osindero & Teh 2006, §4), so that the
        two-layer model starts equal to the RBM below (exactly when the upper RBM has as
        many hidden units as the lower one has visible units, closely otherwise) and
        greedy training raises the
        variational bound on the log-likelihood from there
        (:func:`~deepbelief.evaluation.dbn_log_likelihood_bound`); an RBM with fewer hidden
        units than the one below has visible units keeps those that shape its prior most
        and folds the rest into its visible biases (:mod:`deepbelief.core.warm_start`). It
        needs Bernoulli units throughout; a transposed start learns best at a small
        learning rate (BENCHMARKS.md, "MNIST log-likelihood by AIS").
    batch_size : int, default 32
        Examples per mini-batch of greedy training (and of up-down fine-tuning unless
        ``updown_batch_size`` is given). Small batches mean many updates per epoch: the
        paper used 10; on MNIST 20 gave a 2.09 % greedy error where 100 gave 3.78 %
        (BENCHMARKS.md).
    updown_epochs : int, default 0
        Epochs of up-down fine-tuning after greedy training (0: none; Hinton et al. ran 300).
    updown_learning_rate : float, default 0.01
        Step size of up-down fine-tuning (plain SGD; ``pretrain_weight_decay`` applies).
    updown_k : int or sequence of int, default (3, 6, 10)
        Gibbs steps of the top-level CD during up-down fine-tuning; a sequence splits the
        epochs into equal consecutive parts with growing ``k`` (the paper: CD-3, CD-6, CD-10).
    updown_batch_size : int or None, default None
        Examples per mini-batch of up-down fine-tuning, which is also the number of
        persistent top-level chains with ``updown_method='pcd'``; None: ``batch_size``. On
        MNIST 100 chains generated far better samples than 20 (BENCHMARKS.md).
    updown_method : {'cd', 'pcd'}, default 'pcd'
        The top level's negative chains during up-down: 'cd' restarts them at each wake
        sample (the paper), 'pcd' carries them on between mini-batches (persistent). On
        MNIST 'pcd' gave better samples, completions and classification (BENCHMARKS.md).
    callbacks : list or None, default None
        Functions ``(epoch, record)`` or :class:`deepbelief.training.callbacks.Callback` objects
        called after every epoch (phases ``'pretrain'`` and ``'updown'``); one returning
        True stops that phase. Copied by ``fit`` (see ``callbacks_``), not saved.
    random_state : int, RandomState or None, default None
        Seeds training (a private ``torch.Generator``; no global RNG is used or changed).
    verbose : int, default 0
        Show progress when positive.
    device : str, default 'auto'
        'cpu', 'cuda', 'cuda:N', or 'auto' (CUDA when available).
"""

SAMPLE_WEIGHT_DOC = """
        sample_weight : array-like of shape (n_samples,) or None, default None
            How much each row counts: non-negative and finite, not all 0 (None: every
            row counts 1; weights that are all equal change nothing). A row of weight 0
            is removed before training (the standardisation of real-valued input under
            ``visible_units='auto'`` is still fitted on every row, unweighted); an integer
            weight counts as the row repeated that many times, in expectation: every
            epoch of every RBM, and of up-down fine-tuning, draws its rows with
            replacement in proportion to the weights, and the top RBM's visible biases
            (the labels' prior) start from the weighted mean. Data-parallel training
            (torchrun) refuses weights that differ."""
