"""``ConditionalRBM``: a conditional RBM as a scikit-learn regressor of ``y`` given ``X``."""

from __future__ import annotations

from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_array, check_is_fitted

from deepbelief.core.conditional import gibbs_mean, gibbs_sample, mean_field
from deepbelief.core.rbm import RBMModule
from deepbelief.core.units import DOMAIN_TOLERANCE, unit_type
from deepbelief.estimators._base import (
    SaveLoadMixin,
    as_tensor,
    check_X,
    fitted_input_state,
    make_generator,
    resolve_device,
    set_fitted_input_state,
    to_numpy,
)
from deepbelief.estimators._finite import refuse_non_finite
from deepbelief.estimators._single_layer import LayerData, fit_one_layer
from deepbelief.training.greedy import LayerTrainer, RBMConfig, auto_learning_rate
from deepbelief.training.loop import LoopState

__all__ = ["ConditionalRBM"]

#: What to do about NaN or infinity: in ``fit``'s X, in its y, in the X of a fitted model.
_NON_FINITE = {
    "fit X": "drop those rows of X and y (keep = numpy.isfinite(X).all(axis=1); "
             "fit(X[keep], y[keep])), or impute NaN, e.g. "
             "make_pipeline(SimpleImputer(), ConditionalRBM()) (sklearn.pipeline, "
             "sklearn.impute).",
    "y": "drop those rows of X and y (keep = numpy.isfinite(y).reshape(len(y), -1)"
         ".all(axis=1)).",
    "X": "the model reads every column of X: impute them as the training data was (e.g. "
         "with the SimpleImputer of a pipeline), or leave those rows out "
         "(X[numpy.isfinite(X).all(axis=1)]).",
}


def _moments(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and scale (the standard deviation; 1 for a constant column)."""
    a = a.astype(np.float64)
    std = a.std(0)
    return a.mean(0), np.where(std > 0, std, 1.0)


class ConditionalRBM(RegressorMixin, SaveLoadMixin, BaseEstimator):
    """Conditional RBM: a model of ``p(y | X)`` whose biases are affine in the context ``X``.

    The energy of the visible vector ``v`` (``y``, standardised inside for Gaussian units)
    and the hidden vector ``h`` given the context ``c`` (``X``, standardised inside) is::

        E(v, h | c) = phi(v) - (a + c A)·v - (b + c B)·h - vᵀ W h

    ``A`` maps the context to the visible units directly (the autoregressive part), ``B``
    gives the hidden units dynamic biases. Trained by CD-k (or persistent CD) through the
    library's one training loop, with the same contexts in the positive and negative phase
    (Taylor, Hinton & Roweis, 2007). Typical uses: a high-resolution image given its
    low-resolution version (super-resolution, ``benchmarks/superres.py``), a clean image
    given a noisy one (denoising), a frame given the previous frames (see ``SequenceCRBM``
    for sequences).

    It is a scikit-learn regressor (it works in pipelines, grid searches and
    cross-validation): ``fit(X, y)`` with ``X`` the given input and ``y`` the modelled vector,
    ``predict(X)`` estimates ``E[y | X]`` and ``score`` is R².

    Parameters
    ----------
    n_components : int, default 256
        Number of hidden units.
    visible_units : {'auto', 'bernoulli', 'gaussian'}, default 'auto'
        Unit type of ``y``. 'auto': Bernoulli when every value of ``y`` lies in [0, 1]
        (binary or grey-level pixels, read as probabilities), else Gaussian. Gaussian units
        model ``y`` standardised per column inside the estimator (``y_mean_``,
        ``y_scale_``), so no scaler is needed.
    hidden_units : {'bernoulli', 'gaussian', 'relu'}, default 'bernoulli'
    learning_rate : float or 'auto', default 'auto'
        'auto': 0.1 when both layers are Bernoulli, 0.01 otherwise
        (:func:`deepbelief.training.greedy.auto_learning_rate`).
    batch_size : int, default 10
    n_iter : int, default 10
        Epochs over the training data.
    method : {'cd', 'pcd'}, default 'cd'
        CD-k, as Taylor et al.; or persistent CD, whose chain ``i`` runs at the context of
        the ``i``-th row of each (shuffled) mini-batch.
    k : int, default 1
        Gibbs steps per update.
    momentum : float or 'classic', default 0.0
        SGD momentum; 'classic' is 0.5 for five epochs then 0.9.
    weight_decay : float, default 0.0
        L2 penalty on the weights ``W``, ``A`` and ``B`` (not the biases).
    optimizer : {'sgd', 'adam'} or callable, default 'sgd'
        As in :class:`~deepbelief.RBM`.
    prediction : {'mean_field', 'gibbs'}, default 'mean_field'
        How :meth:`predict` estimates ``E[y | X]``; both start from the context's
        autoregressive part ``E[v | h = 0, c]``. 'mean_field': ``n_gibbs`` deterministic
        iterations ``v <- E[v | E[h | v, c], c]``. 'gibbs': the visible means averaged over
        the last half of ``n_gibbs`` block Gibbs sweeps (the first half is burn-in),
        sampled with a generator seeded by ``random_state``.
    n_gibbs : int, default 10
        Iterations or sweeps of :meth:`predict` (0: the autoregressive part alone, a linear
        function of ``X``) and the default of :meth:`sample`.
    context_clip : float or None, default 5.0
        Bound on the standardised context: the model reads ``(X - x_mean_) / x_scale_``
        clipped to ``[-context_clip, context_clip]``, in ``fit`` and in every method that
        reads ``X`` (set it before fitting). None: unclipped. A column that is almost
        constant in training (the border pixels of digits) turns a rare value into tens of
        standard deviations: the few training rows that have one jerk its context weights,
        and at prediction such a value saturates the visible units (a speckled
        super-resolved image). 5 is a good bound for pixels (see Notes).
    random_state : int, RandomState or None, default None
        Seeds the weights, the shuffling, CD's sampling and the 'gibbs' prediction.
    verbose : int, default 0
        Show progress when positive.
    device : str, default 'auto'
        'cpu', 'cuda', 'cuda:N', or 'auto' (CUDA when available).
    callbacks : list or None, default None
        As in :class:`~deepbelief.RBM` (phase ``'pretrain'``).

    Attributes
    ----------
    rbm_ : RBMModule
        The trained module (``n_context = n_features_in_``).
    visible_units_ : str
        The unit type of ``y`` ('auto' resolved).
    x_mean_, x_scale_ : ndarray of shape (n_features_in_,)
        The context's standardisation: the model reads ``(X - x_mean_) / x_scale_``
        (clipped to ``context_clip``).
    y_mean_, y_scale_ : ndarray of shape (n_outputs_,)
        The standardisation of ``y`` for Gaussian units (zeros and ones for Bernoulli).
    n_outputs_ : int
        Width of ``y`` (the visible units).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when X has feature names that are all strings.
    history_ : list of dict
        One record per epoch (``reconstruction_error`` of ``y`` given ``X``, ``time``).
    callbacks_ : list
    n_iter_ : int
    fit_time_ : float

    Notes
    -----
    The standardisations are fitted by ``fit`` (by the first ``partial_fit`` call) and saved
    with the model. Input with NaN or infinity, a wrong number of columns, or (Bernoulli
    units) ``y`` outside [0, 1] raises a ``ValueError`` that names the fix.

    ``context_clip``: MNIST 14×14 → 28×28 (15,000 training images) reads contexts up to
    122 standard deviations unclipped; with ``context_clip=5`` its validation MSE per pixel
    fell from 0.0047 to 0.0035, with any bound from 3 to 8 (``benchmarks/superres.py``), hence
    the default.
    Contexts that stay within the bound give the weights and predictions of an unclipped
    model.

    References
    ----------
    G. W. Taylor, G. E. Hinton and S. Roweis, "Modeling human motion using binary latent
    variables", NIPS 2007 (the conditional RBM and its training).
    R. Memisevic and G. E. Hinton, "Unsupervised learning of image transformations",
    CVPR 2007 (conditional RBMs of one image given another).

    Examples
    --------
    >>> import numpy as np
    >>> from deepbelief import ConditionalRBM
    >>> rng = np.random.default_rng(0)
    >>> X = rng.integers(0, 2, size=(200, 1)).astype(float)    # which pattern
    >>> y = np.where(X == 1, [[1, 1, 0, 0]], [[0, 0, 1, 1]])    # the pattern it selects
    >>> model = ConditionalRBM(8, n_iter=20, random_state=0, device="cpu").fit(X, y)
    >>> model.predict([[1.0], [0.0]]).round(1)
    array([[1., 1., 0., 0.],
           [0., 0., 1., 1.]])
    """

    _parameter_constraints: ClassVar[dict] = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "visible_units": [StrOptions({"auto", "bernoulli", "gaussian"})],
        "hidden_units": [StrOptions({"bernoulli", "gaussian", "relu"})],
        "learning_rate": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "n_iter": [Interval(Integral, 0, None, closed="left")],
        "method": [StrOptions({"cd", "pcd"})],
        "k": [Interval(Integral, 1, None, closed="left")],
        "momentum": [Interval(Real, 0, 1, closed="left"), StrOptions({"classic"})],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "optimizer": [StrOptions({"sgd", "adam"}), callable],
        "prediction": [StrOptions({"mean_field", "gibbs"})],
        "n_gibbs": [Interval(Integral, 0, None, closed="left")],
        "context_clip": [Interval(Real, 0, None, closed="neither"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "device": [str, torch.device],
        "callbacks": [list, tuple, None],
    }

    def __init__(
        self,
        n_components: int = 256,
        *,
        visible_units: str = "auto",
        hidden_units: str = "bernoulli",
        learning_rate: float | str = "auto",
        batch_size: int = 10,
        n_iter: int = 10,
        method: str = "cd",
        k: int = 1,
        momentum: float | str = 0.0,
        weight_decay: float = 0.0,
        optimizer="sgd",
        prediction: str = "mean_field",
        n_gibbs: int = 10,
        context_clip: float | None = 5.0,
        random_state=None,
        verbose: int = 0,
        device: str = "auto",
        callbacks: list | None = None,
    ) -> None:
        self.n_components = n_components
        self.visible_units = visible_units
        self.hidden_units = hidden_units
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.n_iter = n_iter
        self.method = method
        self.k = k
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.optimizer = optimizer
        self.prediction = prediction
        self.n_gibbs = n_gibbs
        self.context_clip = context_clip
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.callbacks = callbacks

    # -- training ------------------------------------------------------------------------
    def _config(self, visible_units: str, n_context: int) -> RBMConfig:
        rate = self.learning_rate
        if rate == "auto":
            rate = auto_learning_rate(visible_units, self.hidden_units)
        return RBMConfig(
            n_hidden=self.n_components, visible_units=visible_units,
            hidden_units=self.hidden_units, epochs=self.n_iter, learning_rate=rate,
            batch_size=self.batch_size, method=self.method, k=self.k, momentum=self.momentum,
            weight_decay=self.weight_decay, optimizer=self.optimizer, n_context=n_context)

    def _prepare(self, X, y, first: bool, device: torch.device) -> LayerData:
        """Validate ``(X, y)``, fit (``first``) or apply the standardisations."""
        refuse_non_finite(X, "X", _NON_FINITE["fit X"])
        refuse_non_finite(y, "y", _NON_FINITE["y"])
        X, y = check_X(self, X, reset=first, y=y, multi_output=True, y_numeric=True)
        y2 = y.reshape(len(y), -1)
        attributes = {}
        if first:
            units = self.visible_units
            if units == "auto":
                inside = y2.size == 0 or (y2.min() >= 0.0 and y2.max() <= 1.0)
                units = "bernoulli" if inside else "gaussian"
            x_mean, x_scale = _moments(X)
            if units == "gaussian":
                y_mean, y_scale = _moments(y2)
            else:
                y_mean, y_scale = np.zeros(y2.shape[1]), np.ones(y2.shape[1])
            attributes = {"visible_units_": units, "x_mean_": x_mean, "x_scale_": x_scale,
                          "y_mean_": y_mean, "y_scale_": y_scale, "n_outputs_": y2.shape[1],
                          "_y_1d": y.ndim == 1}
            scales = attributes
        else:
            self._check_width(y2)
            scales = vars(self)
        v = self._visible_tensor(y2, scales, device)
        c = self._standardised(X, scales, device)
        return LayerData(self._config(scales["visible_units_"], X.shape[1]), (v, c), X, y,
                         attributes)

    def _visible_tensor(self, y2: np.ndarray, scales: dict, device) -> torch.Tensor:
        """``y`` (2-D) as the model's visible tensor: standardised for Gaussian units; for
        Bernoulli units checked against [0, 1] (rounding within 1e-4 of it clipped)."""
        v = torch.from_numpy(np.ascontiguousarray(
            (y2 - scales["y_mean_"]) / scales["y_scale_"], dtype=np.float32))
        unit = unit_type(scales["visible_units_"])
        message = unit.check_domain(v, tolerance=DOMAIN_TOLERANCE)
        if message:
            raise ValueError(
                f"y does not fit the visible units: {message}. Scale y into [0, 1] (e.g. "
                "with sklearn.preprocessing.MinMaxScaler), or model real-valued y with "
                "visible_units='gaussian' (or 'auto', which picks Gaussian units for y "
                "outside [0, 1]).")
        return unit.clip(v).to(device)

    def _check_width(self, y2: np.ndarray) -> None:
        if y2.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {y2.shape[1]} columns, but {type(self).__name__} was "
                             f"fitted with {self.n_outputs_}: give y as in fit.")

    def fit(self, X, y, *, checkpoint=None, checkpoint_every: int = 1,
            resume: bool = False) -> ConditionalRBM:
        """Fit ``p(y | X)``; optionally save checkpoints, or resume from one.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The context (the given input).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            The modelled vector (1-D: one visible unit).
        checkpoint, checkpoint_every, resume :
            As in :meth:`deepbelief.RBM.fit`: the whole training state is saved every
            ``checkpoint_every`` epochs, and ``resume=True`` continues an interrupted fit
            exactly (the checkpoint records a digest of ``X`` and ``y``).

        Returns
        -------
        ConditionalRBM
            ``self``.
        """
        return fit_one_layer(self, lambda first, device: self._prepare(X, y, first, device),
                             incremental=False, checkpoint=checkpoint,
                             checkpoint_every=checkpoint_every, resume=resume)

    def partial_fit(self, X, y) -> ConditionalRBM:
        """One epoch over ``(X, y)``, continuing from the current state (weights, optimizer,
        persistent chains); the first call initialises the model and fits the
        standardisations. Returns ``self``."""
        return fit_one_layer(self, lambda first, device: self._prepare(X, y, first, device),
                             incremental=True)

    # -- inference -----------------------------------------------------------------------
    def _standardised(self, X: np.ndarray, scales: dict, device) -> torch.Tensor:
        """The context as the model reads it: standardised, clipped to ``context_clip``."""
        z = (X - scales["x_mean_"]) / scales["x_scale_"]
        if self.context_clip is not None:
            z = np.clip(z, -self.context_clip, self.context_clip)
        return as_tensor(z, device)

    def _context(self, X) -> torch.Tensor:
        check_is_fitted(self, "rbm_")
        refuse_non_finite(X, "X", _NON_FINITE["X"])
        X = check_X(self, X, reset=False)
        return self._standardised(X, vars(self), self.rbm_.weight.device)

    def _visible(self, y) -> torch.Tensor:
        refuse_non_finite(y, "y", _NON_FINITE["y"])
        y = check_array(y, ensure_2d=False, dtype=[np.float64, np.float32], input_name="y")
        y2 = y.reshape(len(y), -1)
        self._check_width(y2)
        return self._visible_tensor(y2, vars(self), self.rbm_.weight.device)

    def _aligned(self, X, y) -> tuple[torch.Tensor, torch.Tensor]:
        c, v = self._context(X), self._visible(y)
        if len(c) != len(v):
            raise ValueError(f"X has {len(c)} rows but y has {len(v)}: give one y per row.")
        return c, v

    def _output(self, v: torch.Tensor) -> np.ndarray:
        """Visible values in the units of ``y``, shaped as ``y`` was in ``fit``."""
        out = to_numpy(v, np.float64) * self.y_scale_ + self.y_mean_
        return out.ravel() if self._y_1d else out

    def predict(self, X) -> np.ndarray:
        """``E[y | X]`` estimated as ``prediction`` says, in the units of ``y``.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs_)
            Float64, shaped as ``y`` was in ``fit``.
        """
        c = self._context(X)
        if self.prediction == "mean_field":
            v = mean_field(self.rbm_, c, self.n_gibbs)
        else:
            v = gibbs_mean(self.rbm_, c, self.n_gibbs,
                           make_generator(self.random_state, c.device))
        return self._output(v)

    def sample(self, X, n_gibbs: int | None = None, random_state=None) -> np.ndarray:
        """One draw of ``y`` given each row of ``X``: the last visible sample of a Gibbs
        chain of ``n_gibbs`` sweeps (default: the ``n_gibbs`` parameter, at least one)
        from the autoregressive start; ``random_state`` seeds it (None: fresh entropy).

        Returns
        -------
        ndarray shaped as :meth:`predict`'s
            Binary values (0. or 1.) for Bernoulli units.
        """
        n_gibbs = max(self.n_gibbs, 1) if n_gibbs is None else n_gibbs
        if isinstance(n_gibbs, bool) or not isinstance(n_gibbs, Integral) or n_gibbs < 1:
            raise ValueError(f"n_gibbs must be a positive integer (Gibbs sweeps), got "
                             f"{n_gibbs!r}.")
        c = self._context(X)
        v = gibbs_sample(self.rbm_, c, int(n_gibbs), make_generator(random_state, c.device))
        return self._output(v)

    @torch.no_grad()
    def hidden_features(self, X, y=None) -> np.ndarray:
        """Hidden means ``E[h | y, X]``, shape (n_samples, n_components): features of the
        pair. With ``y=None`` the model's own estimate :meth:`predict` stands in for
        ``y``, so the features depend on ``X`` alone (e.g. for a classifier on new input).
        """
        if y is None:
            c = self._context(X)
            v = self._visible(self.predict(X))
        else:
            c, v = self._aligned(X, y)
        return to_numpy(self.rbm_.hidden_mean(v, c))

    @torch.no_grad()
    def free_energy(self, X, y) -> np.ndarray:
        """Free energy ``F(v | c)`` of each pair, shape (n_samples,), with ``v`` and ``c``
        the standardised ``y`` and ``X``.

        Lower is more probable, but only among values of ``y`` at the same ``X``:
        ``log p(y | X) = -F - log Z(X)``, and the partition function depends on ``X``.
        """
        c, v = self._aligned(X, y)
        return to_numpy(self.rbm_.free_energy(v, c), np.float64)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.target_tags.single_output = True
        return tags

    # -- saving -------------------------------------------------------------------------
    def _get_state(self):
        state = {
            **fitted_input_state(self),
            "history": self.history_, "n_iter": self.n_iter_,
            "visible_units": self.visible_units_, "y_1d": bool(self._y_1d),
            **{name: getattr(self, f"{name}_").tolist()
               for name in ("x_mean", "x_scale", "y_mean", "y_scale")},
        }
        return state, {f"rbm.{k}": v for k, v in self.rbm_.state_dict().items()}

    def _set_state(self, state: dict, tensors: dict) -> None:
        device = resolve_device(self.device)
        n_visible, n_hidden = tensors["rbm.weight"].shape
        n_context = tensors["rbm.context_visible"].shape[0]
        self.visible_units_ = state["visible_units"]
        self.rbm_ = RBMModule(n_visible, n_hidden, self.visible_units_, self.hidden_units,
                              n_context=n_context, device=device)
        self.rbm_.load_state_dict({k[4:]: v for k, v in tensors.items()})
        set_fitted_input_state(self, state)
        for name in ("x_mean", "x_scale", "y_mean", "y_scale"):
            setattr(self, f"{name}_", np.asarray(state[name], dtype=np.float64))
        self.n_outputs_, self._y_1d = n_visible, bool(state["y_1d"])
        self.history_, self.n_iter_ = state["history"], state["n_iter"]
        config = self._config(self.visible_units_, n_context)
        self._trainer = LayerTrainer(self.rbm_, config, make_generator(self.random_state, device))
        self._trainer.state = LoopState(epoch=self.n_iter_, history=self.history_)
