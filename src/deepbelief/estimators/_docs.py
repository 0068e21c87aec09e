"""Docstring parts shared by the DBN estimators (parameters, ``fit``'s checkpoint arguments)."""

from __future__ import annotations

PRETRAIN_DOC = """
    hidden_layer_sizes : tuple of int, default (256, 256)
        Units per hidden layer, bottom first.
    visible_units : {'auto', 'bernoulli', 'gaussian', 'replicated_softmax'}, default 'auto'
        Unit type of the input layer. 'auto': Bernoulli units when every value of the
        training data lies in [0, 1] (up to float rounding), else Gaussian units on the
        data standardised per feature inside the model (``input_mean_``,
        ``input_scale_``), so that any real-valued table trains without a scaler; the
        choice is ``visible_units_``. 'bernoulli': data in [0, 1] only (other values are
        refused). 'gaussian': real-valued data that you have standardized yourself.
        'replicated_softmax': word counts (a document-term matrix of whole numbers, e.g.
        CountVectorizer's sparse output, read one mini-batch at a time) under a
        replicated-softmax bottom layer, the layer of :class:`~deepbelief.ReplicatedSoftmaxRBM`
        (Salakhutdinov & Hinton, 2009): binary hidden units whose biases are scaled by each
        document's length ``D``, trained by CD or PCD, its 'auto' step size 0.1 over the
        mean document length; the layers above train on its hidden probabilities, and
        ``transform``, ``predict`` and fine-tuning pass counts up as it does. Its
        ``inverse_transform`` and ``sample`` give word distributions, ``reconstruct``
        expected counts at each document's length.
    hidden_units : {'bernoulli', 'relu', 'gaussian'} or sequence, default 'bernoulli'
        Hidden unit type, for all layers or one per layer.
    pretrain_epochs : int or sequence of int, default 10
        Epochs of greedy RBM training per layer (0 skips pretraining of that layer).
    pretrain_learning_rate : float, 'auto' or sequence of them, default 'auto'
        RBM step size, for all layers or one per layer. 'auto' picks it per layer from the
        layer's unit types: 0.1 when its visible and hidden units are both Bernoulli, 0.01
        when either side is Gaussian or rectified linear, which diverge at 0.1 (Hinton
        2010, §13.2; :func:`deepbelief.training.greedy.auto_learning_rate`). 'auto' gives
        the former default 0.1 to every Bernoulli layer.
    pretrain_method : {'cd', 'pcd', 'pt'}, default 'cd'
        'pt': PT-PCD, persistent chains at 10 temperatures that swap states (parallel
        tempering; :class:`~deepbelief.learning.tempering.ParallelTemperingPCD`).
    k : int, default 1
        Gibbs steps of CD-k / PCD-k (tempering steps of PT-PCD).
    pretrain_momentum : float or 'classic', default 'classic'
        'classic' is 0.5 for five epochs, then 0.9.
    pretrain_weight_decay : float, default 2e-4
        L2 penalty on RBM weights during pretraining.
    pretrain_centering : bool or float, default False
        Centred gradients for the RBM layers (Melchior, Fischer & Wiskott, 2016): True
        averages the units' means with the sliding factor 0.01, a number in (0, 1] is that
        factor. It changes pretraining only; the layers are ordinary RBMs (see
        ``RBM(centering=...)`` and :mod:`deepbelief.learning.centering`).
    layer_type : {'rbm', 'autoencoder', 'denoising'} or sequence, default 'rbm'
        The building block of each layer, for all layers or one per layer: an RBM, an
        autoencoder layer (:class:`~deepbelief.core.autoencoder.AutoencoderLayer`: code
        ``act(x W + b)``, reconstruction trained by backpropagation with cross-entropy for
        Bernoulli inputs, squared error otherwise; Bengio et al. 2007) or a denoising one,
        which reconstructs each input from a corrupted copy (Vincent et al. 2008, 2010).
        Autoencoder layers train greedily with the same settings as RBMs (epochs, batch
        size, momentum, weight decay; ``pretrain_method`` and ``k`` do not apply), and
        ``pretrain_learning_rate='auto'`` gives them
        :data:`deepbelief.training.autoencoder_spec.AUTO_RATES` (0.01 for their SGD).
    corruption : {'masking', 'gaussian'}, default 'masking'
        The noise of 'denoising' layers: 'masking' sets each input to 0 with probability
        ``corruption_level``; 'gaussian' adds noise of standard deviation
        ``corruption_level``.
    corruption_level : float, default 0.25
        Masking probability (in [0, 1)) or noise standard deviation.
    tied_weights : bool, default True
        Autoencoder layers decode with their encoder's weights transposed; False gives
        each decoder its own weights.
    batch_size : int, default 32
        Mini-batch size of pretraining and fine-tuning.
    random_state : int, RandomState or None, default None
        Seeds everything (a private ``torch.Generator``; no global RNG is used or changed).
    verbose : int, default 0
        Show progress when positive: a progress bar per phase on a terminal, else one line
        per epoch on stdout (see :class:`deepbelief.training.callbacks.ProgressBar`).
    device : str, default 'auto'
        'cpu', 'cuda', 'cuda:N', or 'auto' (CUDA when available).
    callbacks : list or None, default None
        Functions ``(epoch, record)`` or :class:`deepbelief.training.callbacks.Callback` objects
        called after every epoch of every phase (each pretrained layer, then fine-tuning);
        one returning True stops that phase. They are copied by ``fit`` (see
        ``callbacks_``) and not saved with the model.
"""

INPUT_ATTRIBUTES_DOC = """    visible_units_ : str
        The input units used: 'bernoulli' or 'gaussian' (``visible_units='auto'``
        resolved on the training data), or 'replicated_softmax' (word counts).
    input_mean_, input_scale_ : ndarray of shape (n_features_in_,) or None
        The standardisation of the input: the network reads ``(X - input_mean_) /
        input_scale_`` (``visible_units='auto'`` on data outside [0, 1]); else None."""

FIT_DOC = """
        Optionally saves checkpoints during training, or resumes from one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.{y}
        checkpoint : str, path-like or None, default None
            A file to which the whole training state is written, atomically: the trained
            layers and the state of the phase in progress (weights, optimizer, persistent
            chains, random stream, epoch, history, the callbacks' states such as early
            stopping's).{extra}
            It is saved every ``checkpoint_every`` epochs of each phase and at the end of
            each phase; its folder must exist. None: no checkpoints (and no overhead).
        checkpoint_every : int, default 1
            Epochs between two checkpoints, in every phase.
        resume : bool, default False
            Continue from ``checkpoint`` when the file exists, without redoing the layers
            already trained (training starts from the beginning when there is no file, so
            the same call serves the first run and every restart). With the same data,
            parameters and ``random_state``, a run resumed on the CPU ends with exactly
            the weights of an uninterrupted run. A checkpoint of a finished fit just
            rebuilds the model, without training. False: start afresh, overwriting
            ``checkpoint``. See ``docs/checkpoints.md``.

        Returns
        -------
        {name}
            ``self``.

        Raises
        ------
        ModelFileError
            With ``resume``: the file is not a checkpoint of a ``{name}``, or is
            corrupted.
        ValueError
            With ``resume``: the checkpoint was written with other parameters (named in
            the message; ``verbose`` and ``callbacks`` may differ) or on other data.
"""


def fit_doc(summary: str, name: str, y: str = "", extra: str = "") -> str:
    """The docstring of ``fit``: ``summary``, then the shared parameters (``y`` and
    ``extra`` are inserted), returns and errors."""
    return f"""{summary}
{FIT_DOC.format(name=name, y=y, extra=extra)}"""


Y_IGNORED = """
        y : ignored"""

FINETUNE_DOC = """
    max_iter : int, default 100
        Epochs of backpropagation fine-tuning (0 keeps the pretrained weights and an
        untrained output layer).
    solver : {'adam', 'sgd'} or callable, default 'adam'
        ``torch.optim`` optimizer; a callable receives ``(param_groups, learning_rate)``.
    learning_rate_init : float, default 1e-3
        Fine-tuning step size.
    momentum : float, default 0.9
        Momentum for ``solver='sgd'``.
    alpha : float, default 1e-4
        L2 penalty (weight decay) on the weights during fine-tuning.
    dropout : float, default 0.2
        Dropout probability on the inputs of every layer above the first.
    input_dropout : float, default 0.0
        Dropout probability of the input units (Srivastava et al., JMLR 2014, drop 20 % of
        MNIST's pixels with ``dropout=0.5`` on the hidden units).
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the training data, stop when its score has not
        improved by ``tol`` for ``n_iter_no_change`` epochs, and keep the best weights.
        Without it, training stops when the training loss stalls the same way. On small
        regression tables it guards against overfitting: on scikit-learn's diabetes data
        (331 training rows) ``DBNRegressor(early_stopping=True)`` reached a test R² of 0.42
        against 0.21 without it (BENCHMARKS.md, 'Default recipe search').
    validation_fraction : float, default 0.1
    n_iter_no_change : int, default 10
    tol : float, default 1e-4
"""

#: PRETRAIN_DOC of the supervised estimators, whose hidden units are rectified by default.
SUPERVISED_PRETRAIN_DOC = PRETRAIN_DOC.replace(
    """    hidden_units : {'bernoulli', 'relu', 'gaussian'} or sequence, default 'bernoulli'
        Hidden unit type, for all layers or one per layer.""",
    """    hidden_units : {'auto', 'bernoulli', 'relu', 'gaussian'} or sequence, default 'auto'
        Hidden unit type, for all layers or one per layer. 'auto': rectified linear units
        (noisy rectified units while pretraining, Nair & Hinton 2010) in RBM layers, the
        recipe chosen with ``dropout=0.2`` and Adam by the defaults search of
        BENCHMARKS.md ('Default recipe search'); Bernoulli units in autoencoder layers
        and in the layer over a replicated softmax. 'bernoulli' everywhere is the classic
        sigmoid DBN.""")
assert SUPERVISED_PRETRAIN_DOC != PRETRAIN_DOC
