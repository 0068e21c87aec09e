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
    fitted_input_state,
    make_generator,
    output_dtype,
    resolve_device,
    set_fitted_input_state,
    to_numpy,
    training_data,
)
from deepbelief.estimators._decoding import decode
from deepbelief.estimators._input_scaling import InputScaling, check_input, resolved_units
from deepbelief.estimators._rbm_docs import RBM_PARAMS_DOC
from deepbelief.estimators._scaled_generation import ScaledRBMGeneration
from deepbelief.estimators._single_layer import LayerData, fit_one_layer
from deepbelief.evaluation import pseudo_likelihood
from deepbelief.training.greedy import LayerTrainer, RBMConfig, auto_learning_rate
from deepbelief.training.loop import LoopState

_UNITS = StrOptions({"bernoulli", "gaussian", "relu"})


class RBM(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ScaledRBMGeneration,
          SaveLoadMixin, BaseEstimator):
    __doc__ = f"""Restricted Boltzmann Machine trained by CD-k or persistent CD, in PyTorch.

    Accepts every parameter of :class:`sklearn.neural_network.BernoulliRBM` with the same
    meaning and defaults (``n_components, learning_rate, batch_size, n_iter, verbose,
    random_state``; the default ``learning_rate='auto'`` is BernoulliRBM's 0.1 for its
    Bernoulli units), and adds unit types (real-valued data is standardised inside, see
    ``visible_units``), CD-k, momentum, weight decay, sparsity, other ``torch.optim``
    optimizers and GPU training.

    Parameters
    ----------{RBM_PARAMS_DOC}
    Attributes
    ----------
    rbm_ : RBMModule
        The trained PyTorch module.
    components_ : ndarray of shape (n_components, n_features)
        Weight matrix (as in BernoulliRBM).
    intercept_hidden_ : ndarray of shape (n_components,)
    intercept_visible_ : ndarray of shape (n_features,)
    visible_units_ : str or tuple
        The visible units used (``visible_units='auto'`` resolved: 'bernoulli' or
        'gaussian').
    input_mean_, input_scale_ : ndarray of shape (n_features,) or None
        The standardisation of the input: the model reads ``(X - input_mean_) /
        input_scale_`` (``visible_units='auto'`` on data outside [0, 1]); else None.
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
    Input: with ``visible_units='auto'`` on data outside [0, 1], every method reads ``X``
    standardised as the training data was (the first ``partial_fit`` call fits the
    standardisation, later calls keep it), and ``reconstruct``, ``inverse_transform``,
    ``gibbs``, ``sample`` and ``complete`` return values in the data's units;
    ``score_samples`` and ``free_energy`` are then the log-density of ``X`` in the data's
    units (see :meth:`score_samples`). Otherwise (data in [0, 1], or explicit units)
    ``fit`` and ``partial_fit`` refuse values outside the visible units' range
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
        "visible_units": [StrOptions({"auto", *_UNITS.options}), tuple],  # ("potts", q)
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
        learning_rate: float | str = "auto",
        batch_size: int = 10,
        n_iter: int = 10,
        verbose: int = 0,
        random_state=None,
        visible_units: str = "auto",
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
    def _config(self, visible_units: str | tuple | None = None) -> RBMConfig:
        """The layer spec over ``visible_units`` (default: the resolved input units,
        :func:`~deepbelief.estimators._input_scaling.resolved_units`)."""
        visible_units = visible_units or resolved_units(self)
        return RBMConfig(
            n_hidden=self.n_components, visible_units=visible_units,
            hidden_units=self.hidden_units, epochs=self.n_iter,
            learning_rate=(auto_learning_rate(visible_units, self.hidden_units)
                           if self.learning_rate == "auto" else self.learning_rate),
            batch_size=self.batch_size, method=self.method,
            k=self.k, momentum=self.momentum, weight_decay=self.weight_decay,
            learning_rate_schedule=self.learning_rate_schedule, optimizer=self.optimizer,
            sparsity_target=self.sparsity_target, sparsity_cost=self.sparsity_cost,
            sample_inputs=self.sample_inputs, centering=self.centering,
            temperatures=(self.temperatures if isinstance(self.temperatures, Integral)
                          else tuple(self.temperatures)),
        )

    def _prepare(self, X, first: bool, device: torch.device) -> LayerData:
        """``X`` validated; the first call fits the input scaling (the fitted attributes
        are set once training has succeeded), later calls keep it."""
        X, scaling = check_input(self, X, first=first, sparse=True,
                                 stream=True)  # a re-iterable of batches: one pass per epoch
        if first and self.sample_inputs and not unit_type(scaling.visible_units).binary:
            picked = (" ('auto' picked Gaussian units: the data lies outside [0, 1])"
                      if self.visible_units == "auto" else "")
            raise ValueError(
                "sample_inputs=True draws binary inputs, so it needs Bernoulli visible "
                "units: visible_units='bernoulli', or 'auto' on data in [0, 1]; got "
                f"visible_units={self.visible_units!r}{picked}. Scale X into [0, 1] (e.g. "
                "sklearn.preprocessing.MinMaxScaler), or set sample_inputs=False.")
        attributes = {} if not first else {"visible_units_": scaling.visible_units,
                                           "input_mean_": scaling.mean,
                                           "input_scale_": scaling.scale}
        return LayerData(self._config(scaling.visible_units),
                         training_data(scaling.apply(X), device), X, attributes=attributes)

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
        """``X`` checked against the fitted model (``check_X``'s ``usage``) and
        standardised as in training, as a tensor (``chunked``: a sparse matrix stays
        sparse, for ``map_rows``), and the output dtype."""
        check_is_fitted(self, "rbm_")
        X, scaling = check_input(self, X, first=False, usage=usage, sparse=True)
        device = self.rbm_.weight.device
        return (as_input if chunked else as_tensor)(scaling.apply(X), device), output_dtype(X)

    def _scaling(self) -> InputScaling:
        return InputScaling.of(self)

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

        Binary (bool) for Bernoulli visible units, as BernoulliRBM; real for others (in
        the data's units under ``visible_units='auto'``'s standardisation).
        ``random_state`` seeds the sampling (None: fresh entropy; no global RNG is used).
        """
        x = self._tensor(v)
        generator = make_generator(random_state, x.device)
        sample = to_numpy(self.rbm_.gibbs(x, 1, generator))
        return sample.astype(bool) if self.rbm_.visible.binary else self._scaling().invert(
            sample)

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

        Under ``visible_units='auto'``'s standardisation (data outside [0, 1]), the score
        is in the data's units: ``-F(z) - sum(log input_scale_)`` for the standardised row
        ``z = (x - input_mean_) / input_scale_``, whose exponential divided by ``Z`` is the
        model's density of ``x`` itself (the Jacobian of the standardisation included), so
        that scores of models fitted on the same data with different scalings compare.

        Examples
        --------
        >>> import numpy as np
        >>> from deepbelief import RBM
        >>> X = np.random.default_rng(0).normal(50.0, 10.0, size=(200, 3))
        >>> rbm = RBM(n_components=4, n_iter=2, device="cpu", random_state=0).fit(X)
        >>> rbm.visible_units_
        'gaussian'
        >>> jacobian = -np.log(rbm.input_scale_).sum()
        >>> z = ((X - rbm.input_mean_) / rbm.input_scale_).astype(np.float32)
        >>> free = rbm.rbm_.free_energy(torch.as_tensor(z)).detach().double().numpy()
        >>> bool(np.allclose(rbm.score_samples(X), -free + jacobian))
        True
        """
        x = self._validated(X, "likelihood", chunked=True)[0]
        if not self.rbm_.visible.binary:
            return -self.free_energy(X)
        return np.concatenate([pseudo_likelihood(self.rbm_, chunk)  # float64 arrays
                               for chunk in row_chunks(x, device=self.rbm_.weight.device)])

    @torch.no_grad()
    def free_energy(self, X) -> np.ndarray:
        """Free energy ``F(v)`` per sample (lower = more probable under the model).

        In the data's units: under ``visible_units='auto'``'s standardisation it is
        ``F(z) + sum(log input_scale_)`` for the standardised row ``z``, so that
        ``exp(-free_energy(X)) / Z`` is the model's density of ``X`` (see
        :meth:`score_samples`).
        """
        x = self._validated(X, "likelihood", chunked=True)[0]
        free = to_numpy(map_rows(self.rbm_.free_energy, x, device=self.rbm_.weight.device),
                        np.float64)
        jacobian = self._scaling().log_jacobian
        return free - jacobian if jacobian else free

    @torch.no_grad()
    def reconstruct(self, X) -> np.ndarray:
        """Mean-field reconstruction ``E[v | E[h | v]]``, shape (n_samples, n_features), in
        the data's units."""
        x, dtype = self._validated(X)
        return self._scaling().invert(
            to_numpy(self.rbm_.visible_mean(self.rbm_.hidden_mean(x)), dtype))

    def inverse_transform(self, X) -> np.ndarray:
        """Visible means ``E[v | h]`` of hidden values ``X``: from features back to inputs.

        ``X`` (n_samples, n_components), e.g. the output of :meth:`transform`, becomes an
        array of shape (n_samples, n_features_in_) in the input's float dtype (float64
        stays float64, else float32), in the data's units: the deterministic decoder of
        the RBM, so
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
        return self._scaling().invert(decode([self.rbm_], X, type(self).__name__))

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
            **self._scaling().state(),
            "history": self.history_,
            "n_iter": self.n_iter_,
        }
        tensors = {f"rbm.{k}": v for k, v in self.rbm_.state_dict().items()}
        return state, tensors

    def _set_state(self, state: dict, tensors: dict) -> None:
        device = resolve_device(self.device)
        n_visible, n_hidden = tensors["rbm.weight"].shape
        scaling = InputScaling.from_state(state, self.visible_units)
        self.rbm_ = RBMModule(n_visible, n_hidden, scaling.visible_units, self.hidden_units,
                              device=device)
        self.rbm_.load_state_dict({k[4:]: v for k, v in tensors.items()})
        set_fitted_input_state(self, state)
        scaling.set_attributes(self)
        self.history_ = state["history"]
        self.n_iter_ = state["n_iter"]
        self._trainer = LayerTrainer(self.rbm_, self._config(scaling.visible_units),
                                     make_generator(self.random_state, device))
        self._trainer.state = LoopState(epoch=self.n_iter_, history=self.history_)

