"""``RBM``: a single-layer transformer, a drop-in upgrade of sklearn's BernoulliRBM."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from deepbelief.core.plain import Stage, dense_stages, layer_dense
from deepbelief.core.rbm import RBMModule
from deepbelief.core.stack import map_rows, row_chunks
from deepbelief.core.units import unit_type
from deepbelief.estimators._base import (
    SaveLoadMixin,
    as_input,
    as_tensor,
    check_X,
    fitted_input_state,
    make_generator,
    output_dtype,
    resolve_device,
    set_fitted_input_state,
    to_numpy,
    training_data,
)
from deepbelief.estimators._decoding import decode
from deepbelief.estimators._generation import RBMGenerationMixin
from deepbelief.estimators._single_layer import LayerData, fit_one_layer
from deepbelief.evaluation import pseudo_likelihood
from deepbelief.training.greedy import LayerTrainer, RBMConfig, auto_learning_rate
from deepbelief.training.loop import LoopState

_UNITS = StrOptions({"bernoulli", "gaussian", "relu"})


class RBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, RBMGenerationMixin,
          SaveLoadMixin, BaseEstimator):
    """Restricted Boltzmann Machine trained by CD-k or persistent CD, in PyTorch.

    Accepts every parameter of :class:`sklearn.neural_network.BernoulliRBM` with the same
    meaning and defaults (``n_components, learning_rate, batch_size, n_iter, verbose,
    random_state``), and adds unit types, CD-k, momentum, weight decay, sparsity,
    other ``torch.optim`` optimizers and GPU training.

    Parameters
    ----------
    n_components : int, default 256
        Number of hidden units.
    learning_rate : float or 'auto', default 0.1
        Step size of the (mean mini-batch) likelihood gradient; 0.1 as in
        ``BernoulliRBM``. With Gaussian or rectified linear units use 'auto' (0.01 when
        either side is Gaussian or rectified linear, 0.1 when both are Bernoulli) or
        about 0.01: they diverge at 0.1 (Hinton 2010, §13.2;
        :func:`deepbelief.training.greedy.auto_learning_rate`).
    batch_size : int, default 10
        Examples per mini-batch.
    n_iter : int, default 10
        Epochs over the training data.
    verbose : int, default 0
        Show progress when positive: a progress bar on a terminal, else one line per epoch
        on stdout (see :class:`deepbelief.training.callbacks.ProgressBar`).
    random_state : int, RandomState or None, default None
        Seeds weights, shuffling and sampling (a private ``torch.Generator``; no global RNG).
    visible_units, hidden_units : {'bernoulli', 'gaussian', 'relu'}, default 'bernoulli'
        Unit types. Gaussian visible units expect standardized data; Bernoulli visible units
        expect values in [0, 1]. ``visible_units=('potts', q)``: categorical variables of
        ``q`` states (:class:`~deepbelief.core.potts.Potts`), each given as ``q`` one-hot
        columns (:func:`deepbelief.core.potts.one_hot` encodes a table of integer codes;
        ``sample``, ``gibbs`` and ``reconstruct`` return the same blocks, which
        :func:`deepbelief.core.potts.codes` decodes).
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
        less. Needs ``visible_units='bernoulli'``.
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

    Attributes
    ----------
    rbm_ : RBMModule
        The trained PyTorch module.
    components_ : ndarray of shape (n_components, n_features)
        Weight matrix (as in BernoulliRBM).
    intercept_hidden_ : ndarray of shape (n_components,)
    intercept_visible_ : ndarray of shape (n_features,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has feature names that are all strings.
    history_ : list of dict
        One record per epoch: ``epoch`` (1-based), ``reconstruction_error``, ``time``
        (seconds), and what callbacks add (e.g. ``free_energy_gap``).
    callbacks_ : list
        The callbacks used by the last fit, with their state (copies of ``callbacks``).
    n_iter_ : int
        Epochs trained so far.
    fit_time_ : float
        Seconds spent in the last call to ``fit`` or ``partial_fit``.

    Notes
    -----
    Input: ``fit`` and ``partial_fit`` refuse values outside the visible units' range
    ([0, 1] for Bernoulli units; float rounding within 1e-4 of it is clipped);
    ``transform``, ``reconstruct``, ``gibbs`` and ``complete`` clip such values, with a
    :class:`~deepbelief.exceptions.DataRangeWarning`; ``score_samples`` and ``free_energy``
    refuse them (a likelihood of values outside the units' states is not defined).
    Gaussian visible units warn (:class:`~deepbelief.exceptions.DataScaleWarning`) about
    training data far from standardized. ``X`` may be a SciPy CSR or CSC matrix: ``fit``,
    ``partial_fit`` and ``transform`` read it one mini-batch or chunk of rows at a time, and the
    ``score_samples`` and ``free_energy`` too; the other methods, whose output is as large
    as ``X``, densify it.

    ``partial_fit`` keeps the optimizer state and the persistent chains between calls, and
    so do pickled copies; a model written by :meth:`save` keeps its weights and history but
    restarts them. ``fit(X, checkpoint=path)`` saves all of the training state while it
    trains, and ``fit(X, checkpoint=path, resume=True)`` continues an interrupted fit
    exactly (see ``docs/checkpoints.md``). If training diverges,
    :class:`~deepbelief.DivergenceError` is raised and the estimator keeps its state from
    before the call.

    References
    ----------
    Hinton (2002); Tieleman (2008); Hinton (2010), A practical guide to training RBMs.

    Examples
    --------
    >>> import numpy as np
    >>> from deepbelief import RBM
    >>> X = np.array([[0, 0, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.float32)
    >>> model = RBM(n_components=2, n_iter=5, random_state=0, device="cpu").fit(X)
    >>> model.transform(X).shape
    (4, 2)
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "visible_units": [_UNITS, tuple],  # a tuple: ("potts", q)
        "hidden_units": [_UNITS],
        "method": [StrOptions({"cd", "pcd", "pt"})],
        "k": [Interval(Integral, 1, None, closed="left")],
        "temperatures": [Interval(Integral, 1, None, closed="left"), list, tuple],
        "momentum": [Interval(Real, 0, 1, closed="left"), StrOptions({"classic"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "learning_rate_schedule": [StrOptions({"constant", "linear", "inverse"})],
        "optimizer": [StrOptions({"sgd", "adam"}), callable],
        "sparsity_target": [Interval(Real, 0, 1, closed="neither"), None],
        "sparsity_cost": [Interval(Real, 0, None, closed="left")],
        "sample_inputs": ["boolean"],
        "centering": ["boolean", Interval(Real, 0, 1, closed="right")],
        "device": [str, torch.device],
        "callbacks": [list, tuple, None],
    }

    def __init__(
        self,
        n_components: int = 256,
        *,
        learning_rate: float | str = 0.1,
        batch_size: int = 10,
        n_iter: int = 10,
        verbose: int = 0,
        random_state=None,
        visible_units: str = "bernoulli",
        hidden_units: str = "bernoulli",
        method: str = "pcd",
        k: int = 1,
        temperatures: int | list = 10,
        momentum: float | str = 0.0,
        weight_decay: float = 0.0,
        learning_rate_schedule: str = "constant",
        optimizer="sgd",
        sparsity_target: float | None = None,
        sparsity_cost: float = 0.0,
        sample_inputs: bool = False,
        centering: bool | float = False,
        device: str = "auto",
        callbacks: list | None = None,
    ) -> None:
        self.n_components = n_components
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.verbose = verbose
        self.random_state = random_state
        self.visible_units = visible_units
        self.hidden_units = hidden_units
        self.method = method
        self.k = k
        self.temperatures = temperatures
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.learning_rate_schedule = learning_rate_schedule
        self.optimizer = optimizer
        self.sparsity_target = sparsity_target
        self.sparsity_cost = sparsity_cost
        self.sample_inputs = sample_inputs
        self.centering = centering
        self.device = device
        self.callbacks = callbacks

    # -- training ----------------------------------------------------------------------
    def _config(self) -> RBMConfig:
        return RBMConfig(
            n_hidden=self.n_components, visible_units=self.visible_units,
            hidden_units=self.hidden_units, epochs=self.n_iter,
            learning_rate=(auto_learning_rate(self.visible_units, self.hidden_units)
                           if self.learning_rate == "auto" else self.learning_rate),
            batch_size=self.batch_size, method=self.method,
            k=self.k, momentum=self.momentum, weight_decay=self.weight_decay,
            learning_rate_schedule=self.learning_rate_schedule, optimizer=self.optimizer,
            sparsity_target=self.sparsity_target, sparsity_cost=self.sparsity_cost,
            sample_inputs=self.sample_inputs, centering=self.centering,
            temperatures=(self.temperatures if isinstance(self.temperatures, Integral)
                          else tuple(self.temperatures)),
        )

    def _new_trainer(self, rbm: RBMModule, generator: torch.Generator) -> LayerTrainer:
        return LayerTrainer(rbm, self._config(), generator)

    def _prepare(self, X, first: bool, device: torch.device) -> LayerData:
        if first and self.sample_inputs and not unit_type(self.visible_units).binary:
            raise ValueError("sample_inputs=True draws binary inputs, so it needs visible_units="
                             f"'bernoulli', got visible_units={self.visible_units!r}.")
        X = check_X(self, X, reset=first, units=self.visible_units, sparse=True,
                    stream=True)  # a re-iterable of batches: one pass per epoch
        return LayerData(self._config(), training_data(X, device), X)

    def _fit(self, X, incremental: bool, checkpoint=None, checkpoint_every: int = 1,
             resume: bool = False):
        return fit_one_layer(self, lambda first, device: self._prepare(X, first, device),
                             incremental=incremental, checkpoint=checkpoint,
                             checkpoint_every=checkpoint_every, resume=resume)

    def fit(self, X, y=None, *, checkpoint=None, checkpoint_every: int = 1,
            resume: bool = False) -> RBM:
        """Fit the model to ``X``; optionally save checkpoints, or resume from one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : ignored
        checkpoint : str, path-like or None, default None
            A file to which the whole training state (weights, optimizer, persistent
            chains, random stream, epoch, history, callbacks' states) is written,
            atomically, every ``checkpoint_every`` epochs and at the end of training. Its
            folder must exist. None: no checkpoints (and no overhead).
        checkpoint_every : int, default 1
            Epochs between two checkpoints.
        resume : bool, default False
            Continue from ``checkpoint`` when the file exists (training starts from the
            beginning when it does not, so the same call serves the first run and every
            restart). With the same data, parameters and ``random_state``, a run resumed
            on the CPU ends with exactly the weights of an uninterrupted run. A checkpoint
            of a finished fit just rebuilds the model, without training. False: start
            afresh, overwriting ``checkpoint``. See ``docs/checkpoints.md``.

        Returns
        -------
        RBM
            ``self``.

        Raises
        ------
        ModelFileError
            With ``resume``: the file is not a checkpoint of an ``RBM``, or is corrupted.
        ValueError
            With ``resume``: the checkpoint was written with other parameters (named in
            the message; ``verbose`` and ``callbacks`` may differ) or on other data.
        """
        return self._fit(X, incremental=False, checkpoint=checkpoint,
                         checkpoint_every=checkpoint_every, resume=resume)

    def partial_fit(self, X, y=None) -> RBM:
        """One epoch over ``X``, continuing from the current state (weights, optimizer,
        persistent chains); the first call initialises the model. Returns ``self``."""
        return self._fit(X, incremental=True)

    # -- inference -----------------------------------------------------------------------
    def _tensor(self, X) -> torch.Tensor:
        return self._validated(X)[0]

    def _validated(self, X, usage: str = "forward", chunked: bool = False) -> tuple:
        """``X`` checked against the fitted model (``check_X``'s ``usage``), as a tensor
        (``chunked``: a sparse matrix stays sparse, for ``map_rows``), and the output dtype."""
        check_is_fitted(self, "rbm_")
        X = check_X(self, X, reset=False, units=self.visible_units, usage=usage, sparse=True)
        device = self.rbm_.weight.device
        return (as_input if chunked else as_tensor)(X, device), output_dtype(X)

    @torch.no_grad()
    def transform(self, X) -> np.ndarray:
        """Hidden-unit means ``E[h | v]``, shape (n_samples, n_components).

        The output keeps the input's float dtype (float64 stays float64, else float32).
        """
        x, dtype = self._validated(X, chunked=True)
        return to_numpy(map_rows(self.rbm_.hidden_mean, x, device=self.rbm_.weight.device), dtype)

    def _torch_parts(self) -> Stage:
        """``to_torch``: the hidden means of :meth:`transform`."""
        return dense_stages(layer_dense([self.rbm_]))

    @torch.no_grad()
    def gibbs(self, v, random_state=None) -> np.ndarray:
        """One Gibbs step ``v -> h -> v``; returns the visible sample, shape of ``v``.

        Binary (bool) for Bernoulli visible units, as BernoulliRBM; real for others.
        ``random_state`` seeds the sampling (None: fresh entropy; no global RNG is used).
        """
        x = self._tensor(v)
        generator = make_generator(random_state, x.device)
        sample = to_numpy(self.rbm_.gibbs(x, 1, generator))
        return sample.astype(bool) if self.rbm_.visible.binary else sample

    @torch.no_grad()
    def score_samples(self, X) -> np.ndarray:
        """Log-likelihood proxy of each sample, shape (n_samples,); higher is more probable.

        With Bernoulli visible units, the exact pseudo-log-likelihood
        ``sum_i log p(v_i | v_-i)`` over all features (Besag, 1975): BernoulliRBM estimates
        it from one random feature scaled by n_features, we sum every term, so the score is
        exact, deterministic and ``<= 0``. As in BernoulliRBM, data in [0, 1] that is not
        binary is scored by flipping ``v_i`` to ``1 - v_i``. With other visible units the
        pseudo-likelihood has no closed form, and the score is the negative free energy
        ``-F(v)``, the log-likelihood up to the constant ``log Z``.
        """
        x = self._validated(X, "likelihood", chunked=True)[0]
        if not self.rbm_.visible.binary:
            return -self.free_energy(X)
        return np.concatenate([pseudo_likelihood(self.rbm_, chunk)  # float64 arrays
                               for chunk in row_chunks(x, device=self.rbm_.weight.device)])

    @torch.no_grad()
    def free_energy(self, X) -> np.ndarray:
        """Free energy ``F(v)`` per sample (lower = more probable under the model)."""
        x = self._validated(X, "likelihood", chunked=True)[0]
        return to_numpy(map_rows(self.rbm_.free_energy, x, device=self.rbm_.weight.device),
                        np.float64)

    @torch.no_grad()
    def reconstruct(self, X) -> np.ndarray:
        """Mean-field reconstruction ``E[v | E[h | v]]``, shape (n_samples, n_features)."""
        x, dtype = self._validated(X)
        return to_numpy(self.rbm_.visible_mean(self.rbm_.hidden_mean(x)), dtype)

    def inverse_transform(self, X) -> np.ndarray:
        """Visible means ``E[v | h]`` of hidden values ``X``: from features back to inputs.

        ``X`` (n_samples, n_components), e.g. the output of :meth:`transform`, becomes an
        array of shape (n_samples, n_features_in_) in the input's float dtype (float64
        stays float64, else float32): the deterministic decoder of the RBM, so
        ``inverse_transform(transform(X))`` is :meth:`reconstruct`. A ``ValueError`` names
        a wrong number of columns, NaN or infinity.

        Examples
        --------
        >>> import numpy as np
        >>> from deepbelief import RBM
        >>> X = np.array([[0, 0, 1], [1, 1, 0], [1, 0, 1]], dtype=np.float32)
        >>> rbm = RBM(n_components=2, n_iter=3, random_state=0, device="cpu").fit(X)
        >>> np.array_equal(rbm.inverse_transform(rbm.transform(X)), rbm.reconstruct(X))
        True
        """
        check_is_fitted(self, "rbm_")
        return decode([self.rbm_], X, type(self).__name__)

    # -- scikit-learn conventions ------------------------------------------------------------
    @property
    def components_(self) -> np.ndarray:
        check_is_fitted(self, "rbm_")
        return to_numpy(self.rbm_.weight.t())

    @property
    def intercept_hidden_(self) -> np.ndarray:
        check_is_fitted(self, "rbm_")
        return to_numpy(self.rbm_.hidden_bias)

    @property
    def intercept_visible_(self) -> np.ndarray:
        check_is_fitted(self, "rbm_")
        return to_numpy(self.rbm_.visible_bias)

    @property
    def _n_features_out(self) -> int:
        return self.n_components

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        tags.input_tags.sparse = True
        return tags

    # -- saving ---------------------------------------------------------------------------------
    def _get_state(self):
        state = {
            **fitted_input_state(self),
            "history": self.history_,
            "n_iter": self.n_iter_,
        }
        tensors = {f"rbm.{k}": v for k, v in self.rbm_.state_dict().items()}
        return state, tensors

    def _set_state(self, state: dict, tensors: dict) -> None:
        device = resolve_device(self.device)
        n_visible, n_hidden = tensors["rbm.weight"].shape
        self.rbm_ = RBMModule(n_visible, n_hidden, self.visible_units, self.hidden_units,
                              device=device)
        self.rbm_.load_state_dict({k[4:]: v for k, v in tensors.items()})
        set_fitted_input_state(self, state)
        self.history_ = state["history"]
        self.n_iter_ = state["n_iter"]
        self._trainer = self._new_trainer(self.rbm_, make_generator(self.random_state, device))
        self._trainer.state = LoopState(epoch=self.n_iter_, history=self.history_)

