"""``SequenceCRBM``: conditional RBMs over time (motion capture, video), one or two layers."""

from __future__ import annotations

from dataclasses import replace
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted

from deepbelief.core.layers import layers_state, read_layers
from deepbelief.core.sequence_fill import fill_sequence
from deepbelief.core.temporal import (
    lagged_pairs,
    predict_frames,
    receptive_field,
    recognise,
    run_frames,
)
from deepbelief.estimators._base import (
    FitSession,
    SaveLoadMixin,
    check_per_layer,
    fitted_input_state,
    make_generator,
    per_layer,
    pretrain_configs,
    resolve_device,
    set_fitted_input_state,
    to_numpy,
)
from deepbelief.estimators._dbn import _BaseDBN
from deepbelief.estimators._generation import check_count
from deepbelief.estimators._pooling import pool_over_time
from deepbelief.estimators._sequence_data import (
    FRAME_CLIP,
    OutputBounds,
    Standardiser,
    check_fill_method,
    check_prediction,
    check_sequences,
    fill_start,
    one_or_list,
)
from deepbelief.training.plan import LayerPhase

#: The fitted per-channel arrays, saved under their names without the trailing underscore.
_CHANNEL_ARRAYS = ("mean_", "scale_", "data_min_", "data_max_")


class SequenceCRBM(SaveLoadMixin, BaseEstimator):
    """Conditional RBMs of sequences: each frame given the ``order`` frames before it.

    The model of Taylor, Hinton & Roweis (NIPS 2007, "Modeling human motion using binary
    latent variables"): an RBM over frame ``v_t`` with binary hidden units, whose visible
    biases (autoregressive weights ``A``) and hidden biases (``B``) are linear in the
    previous ``order`` frames. Real-valued channels (joint angles) use Gaussian visible
    units with unit variance on channels standardised inside the model; binary frames
    (the bouncing-balls videos of Sutskever & Hinton, 2007) use Bernoulli visible units
    and are not standardised. Each layer is trained by CD-k (or PCD-k) on every (frame,
    past) pair of the training sequences, never across two sequences.

    With two hidden layers, the second conditional RBM models the first layer's hidden
    means per frame given their own past (the paper's two-layer model): generation runs
    the Gibbs chain in the top layer and comes back down through the first layer with its
    autoregressive input.

    Every method takes a list of (T_i, D) arrays of any lengths, or one (T, D) array (one
    sequence, answered with one array rather than a list), or an (n, T, D) array. Once
    fitted: :meth:`transform` (hidden features per frame; ``pool='mean_std'`` pools them
    over time to classify whole sequences), :meth:`predict_next` and :meth:`score`
    (one-step prediction), :meth:`generate` (continue a seed) and :meth:`fill_in`
    (missing channels).

    Parameters
    ----------
    hidden_layer_sizes : int or tuple of one or two ints, default (100,)
        Hidden units per layer, bottom first.
    order : int or tuple of int, default 3
        Past frames in each layer's context (one value, or one per layer). The model
        needs ``receptive_field_ = sum(order)`` frames of past (e.g. 3 for one layer of
        order 3, 6 for two).
    visible_units : {'gaussian', 'bernoulli'}, default 'gaussian'
        'gaussian' for real-valued channels (standardised inside: ``mean_``, ``scale_``;
        a constant channel keeps scale 1), 'bernoulli' for frames in [0, 1] (pixels).
    frame_clip : float or None, default 5.0
        Bound on the standardised Gaussian frames: the model reads ``(x - mean_) / scale_``
        clipped to ``[-frame_clip, frame_clip]`` in ``fit`` and every method (set it before
        fitting; None: unclipped), as ``ConditionalRBM``'s ``context_clip``: one glitch in a
        channel almost constant in training is tens of standard deviations, which jerk the
        weights (measured in ``_sequence_data.FRAME_CLIP``). Frames within it are unchanged.
    pretrain_epochs : int or sequence of int, default 50
        Epochs of CD training per layer.
    pretrain_learning_rate : float, 'auto' or sequence of them, default 'auto'
        Step size per layer; 'auto' is 0.01 for a Gaussian layer and 0.1 for a Bernoulli
        one (:func:`deepbelief.training.greedy.auto_learning_rate`).
    pretrain_method : {'cd', 'pcd'}, default 'cd'
    k : int, default 1
        Gibbs steps of CD-k / PCD-k.
    pretrain_momentum : float or 'classic', default 'classic'
        'classic' is 0.5 for five epochs, then 0.9.
    pretrain_weight_decay : float, default 0.0
        L2 penalty on the weights (the context weights included). None by default: on
        bouncing balls a decay of 2e-4 raised the one-step error of the model.
    batch_size : int, default 100
        (frame, past) pairs per mini-batch.
    random_state : int, RandomState or None, default None
        Seeds training (the methods that sample take their own ``random_state``).
    verbose : int, default 0
    device : str, default 'auto'
    callbacks : list or None, default None
        Called after every epoch of every layer (see
        :class:`deepbelief.training.callbacks.Callback`).

    Attributes
    ----------
    layers_ : list of RBMModule
        The conditional RBMs, bottom first (``n_context = order * n_visible``).
    orders_ : list of int
    receptive_field_ : int
        ``sum(orders_)``: the frames of past that prediction and generation need.
    mean_, scale_ : ndarray of shape (n_features_in_,)
        The training frames' channel means and standard deviations (1 for a constant
        channel); Gaussian frames are standardised with them.
    data_min_, data_max_ : ndarray of shape (n_features_in_,)
        The training frames' channel ranges (they bound generated and filled-in values).
    n_features_in_ : int
        Channels per frame.
    history_ : list of list of dict
        One epoch history per layer (``reconstruction_error`` of the (frame, past)
        pairs).
    fit_time_ : float
        Seconds of training.
    callbacks_ : list
        The callbacks of the last fit (copies of ``callbacks``, with their state).

    References
    ----------
    G. W. Taylor, G. E. Hinton and S. Roweis, "Modeling human motion using binary latent
    variables", NIPS 2007. I. Sutskever and G. E. Hinton, "Learning multilevel distributed
    representations for high-dimensional sequences", AISTATS 2007.

    Examples
    --------
    >>> import numpy as np
    >>> from deepbelief import SequenceCRBM
    >>> t = np.arange(200)
    >>> walk = np.column_stack([np.sin(t / 4), np.cos(t / 4), np.sin(t / 2)])
    >>> model = SequenceCRBM(16, order=2, pretrain_epochs=5, random_state=0,
    ...                      device="cpu").fit(walk)
    >>> model.generate(walk[:2], n_steps=10, random_state=0).shape
    (10, 3)
    >>> [f.shape for f in model.transform([walk, walk[:50]])]
    [(198, 16), (48, 16)]
    """

    _parameter_constraints: ClassVar[dict] = {  # a DBN's pretraining ones, and the order
        **{name: rule for name, rule in _BaseDBN._parameter_constraints.items()
           if name != "hidden_units"},
        "order": [Interval(Integral, 1, None, closed="left"), list, tuple],
        "visible_units": [StrOptions({"gaussian", "bernoulli"})],
        "frame_clip": [Interval(Real, 0, None, closed="neither"), None],
    }

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        *,
        order=3,
        visible_units: str = "gaussian",
        frame_clip: float | None = FRAME_CLIP,
        pretrain_epochs=50,
        pretrain_learning_rate="auto",
        pretrain_method: str = "cd",
        k: int = 1,
        pretrain_momentum="classic",
        pretrain_weight_decay: float = 0.0,
        batch_size: int = 100,
        random_state=None,
        verbose: int = 0,
        device: str = "auto",
        callbacks: list | None = None,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.order = order
        self.visible_units = visible_units
        self.frame_clip = frame_clip
        self.pretrain_epochs = pretrain_epochs
        self.pretrain_learning_rate = pretrain_learning_rate
        self.pretrain_method = pretrain_method
        self.k = k
        self.pretrain_momentum = pretrain_momentum
        self.pretrain_weight_decay = pretrain_weight_decay
        self.batch_size = batch_size
        self.random_state = random_state
        self.verbose = verbose
        self.device = device
        self.callbacks = callbacks

    # -- training ----------------------------------------------------------------------
    def _configs(self) -> tuple[list, list[int]]:
        """The layers' RBM settings (checked) and orders."""
        configs = pretrain_configs(self, "bernoulli", self.visible_units)
        if len(configs) > 2:
            raise ValueError(f"hidden_layer_sizes={self.hidden_layer_sizes!r} has "
                             f"{len(configs)} layers; a SequenceCRBM has one or two.")
        orders = per_layer(self.order, len(configs), "order")
        check_per_layer(orders, "order", True, 1, closed=True)
        return configs, [int(o) for o in orders]

    def fit(self, sequences, y=None, *, checkpoint=None, checkpoint_every: int = 1,
            resume: bool = False) -> SequenceCRBM:
        """Fit the conditional RBMs to ``sequences``, layer by layer.

        Parameters
        ----------
        sequences : list of arrays of shape (T_i, D), or one array (T, D) or (n, T, D)
            Training sequences of any lengths, each at least ``sum(order) + 1`` frames.
        y : ignored
        checkpoint, checkpoint_every, resume :
            As for every estimator (see :meth:`deepbelief.RBM.fit` and
            ``docs/checkpoints.md``): the training state is saved every
            ``checkpoint_every`` epochs to the file ``checkpoint``, and ``resume=True``
            continues an interrupted fit exactly.

        Returns
        -------
        SequenceCRBM
            ``self``.

        Raises
        ------
        ValueError
            For sequences that are not 2-D, of different widths, holding NaN or
            infinity, or too short for the order; Bernoulli frames outside [0, 1].
        """
        session = FitSession(self, checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                             resume=resume)
        configs, orders = self._configs()
        seqs, _ = check_sequences(self, sequences, reset=True, method="fit",
                                  min_length=receptive_field(orders) + 1)
        frames = np.concatenate(seqs)
        widths = [frames.shape[1], *(c.n_hidden for c in configs[:-1])]
        configs = [replace(config, n_context=order * width)
                   for config, order, width in zip(configs, orders, widths, strict=True)]
        scaler = Standardiser.fit(frames, self.visible_units == "gaussian", self.frame_clip)
        session.open(frames, np.array([len(s) for s in seqs]))
        data = [scaler.forward(s, session.device) for s in seqs]
        phases: list[LayerPhase] = []
        for i, config in enumerate(configs):
            phases.append(LayerPhase(
                "pretrain", f"{type(self).__name__} layer {i + 1}", config,
                self._layer_data(phases, data, orders, i), n_layers=len(configs),
                lower_layers=_trained(phases, i), loop_name=f"layer {i + 1} (CRBM)",
                generator=session.generator))
        session.run(phases)
        self.layers_ = [phase.trainer.layer for phase in phases]
        self.orders_, self.receptive_field_ = orders, receptive_field(orders)
        self.mean_, self.scale_ = scaler.mean, scaler.scale
        self.data_min_, self.data_max_ = frames.min(0).astype(float), frames.max(0).astype(float)
        self.history_ = [phase.history for phase in phases]
        self.fit_time_ = sum(phase.time for phase in phases)
        self.callbacks_ = session.callbacks
        return self

    @staticmethod
    def _layer_data(phases: list, data: list[torch.Tensor], orders: list[int], index: int):
        """Layer ``index``'s (frame, past) pairs: of the data, or (a function of the
        trained layers below, called when the layer starts) of their hidden means."""
        if index == 0:
            return lagged_pairs(data, orders[0])
        below = _trained(phases, index)
        return lambda: lagged_pairs([recognise(below(), orders[:index], seq)[-1]
                                     for seq in data], orders[index])

    # -- inference -----------------------------------------------------------------------
    def _checked(self, sequences, method: str, name: str | None = None) -> tuple[list, bool]:
        """Each sequence needs the receptive field, and a frame after it unless a seed."""
        check_is_fitted(self, "layers_")
        return check_sequences(self, sequences, reset=False, method=method, name=name,
                               min_length=self.receptive_field_ + (method != "generate"))

    @property
    def _scaler(self) -> Standardiser:
        return Standardiser(self.mean_, self.scale_, self.visible_units == "gaussian",
                            self.frame_clip)

    @property
    def _device(self) -> torch.device:
        return self.layers_[0].weight.device

    @torch.no_grad()
    def transform(self, sequences, pool: str | None = None):
        """The top layer's hidden means per frame, from frame ``receptive_field_`` on.

        Frame ``t`` of a sequence is encoded given its past, so the first
        ``receptive_field_`` frames, which have too little past, get no features: row
        ``i`` of a sequence's features belongs to frame ``receptive_field_ + i``.

        Parameters
        ----------
        sequences : list of arrays (T_i, D), or one array (T, D) or (n, T, D)
            Each at least ``receptive_field_ + 1`` frames.
        pool : {None, 'mean_std', 'mean_std_change'}, default None
            'mean_std': one row per sequence, the mean and the standard deviation over
            time of its features (for classifying whole sequences); 'mean_std_change' adds
            their mean absolute change from frame to frame (for classifying dynamics).

        Returns
        -------
        list of float32 arrays (T_i - receptive_field_, n_hidden), or one array for one
        sequence; with a ``pool``, an array (n_sequences, 2 or 3 times n_hidden).
        """
        seqs, single = self._checked(sequences, "transform")
        features = [to_numpy(recognise(self.layers_, self.orders_,
                                       self._scaler.forward(s, self._device))[-1])
                    for s in seqs]
        if pool is None:
            return one_or_list(features, single)
        return pool_over_time(features, pool)

    @torch.no_grad()
    def predict_next(self, sequences, prediction: str = "mean_field", n_gibbs: int = 10,
                     random_state=None):
        """One-step predictions: each frame from ``receptive_field_`` on, predicted from
        the true frames before it.

        Frame ``t`` is inferred as :meth:`generate` infers a frame after the true frames
        ``0 .. t-1``: at that past, from frame ``t - 1``, ``n_gibbs`` sweeps.

        Parameters
        ----------
        sequences : list of arrays (T_i, D), or one array (T, D) or (n, T, D)
            Each at least ``receptive_field_ + 1`` frames.
        prediction : {'mean_field', 'gibbs'}, default 'mean_field'
            'mean_field': the visible means after ``n_gibbs`` mean-field sweeps (hidden
            probabilities instead of samples; deterministic). 'gibbs': the visible means
            averaged over the last half of ``n_gibbs`` Gibbs sweeps (the first half is
            burn-in), an estimate of the expected frame seeded by ``random_state``; give
            it more sweeps (e.g. 100).
        n_gibbs : int, default 10
        random_state : int, RandomState or None
            Seeds the 'gibbs' chains.

        Returns
        -------
        list of float32 arrays (T_i - receptive_field_, D) in the data's units (row ``i``
        predicts frame ``receptive_field_ + i``), or one array for one sequence.
        """
        n_gibbs = check_prediction(prediction, n_gibbs)
        seqs, single = self._checked(sequences, "predict_next")
        generator = make_generator(random_state, self._device)
        scaler = self._scaler
        return one_or_list([scaler.inverse(predict_frames(
            self.layers_, self.orders_, scaler.forward(s, self._device), n_gibbs, generator,
            prediction)) for s in seqs], single)

    def score(self, sequences, y=None, *, prediction: str = "mean_field",
              n_gibbs: int = 10) -> float:
        """Negative mean squared error of the one-step predictions (:meth:`predict_next`,
        whose arguments it takes; 'gibbs' is seeded by ``random_state``), summed over
        channels, in the data's units, averaged over the predicted frames of all
        sequences: higher is better, 0 is perfect.
        """
        seqs, _ = self._checked(sequences, "score")
        predictions = self.predict_next(seqs, prediction, n_gibbs, self.random_state)
        errors = [((p - s[self.receptive_field_:]) ** 2).sum(1)
                  for p, s in zip(predictions, seqs, strict=True)]
        return -float(np.concatenate(errors).mean())

    @torch.no_grad()
    def generate(self, seed_frames, n_steps: int, n_gibbs: int = 30,
                 random_state=None) -> np.ndarray:
        """Continue ``seed_frames`` by ``n_steps`` generated frames, one at a time.

        Each new frame is drawn given the last ``receptive_field_`` frames (seed or
        generated): the Gibbs chain starts at the previous frame, runs ``n_gibbs`` sweeps
        (binary hidden samples, visible means) and the frame is the visible mean after the
        last sweep, as in Taylor et al. (2007). Gaussian values are bounded as in
        :meth:`fill_in`.

        Parameters
        ----------
        seed_frames : array of shape (T0, D), T0 >= ``receptive_field_``
        n_steps : int
        n_gibbs : int, default 30
        random_state : int, RandomState or None
            Seeds the chains: the same seed gives the same frames.

        Returns
        -------
        ndarray of shape (n_steps, D), in the data's units (float64 for a float64 seed).
        """
        n_steps = check_count("n_steps", n_steps)
        n_gibbs = check_count("n_gibbs", n_gibbs, 1)
        (seed,), _ = self._checked([seed_frames], "generate", "the seed")
        first = seed.shape[0]
        scaled = self._scaler.forward(seed, self._device)
        frames = torch.cat([scaled, scaled.new_zeros(n_steps, seed.shape[1])])
        missing = torch.zeros(frames.shape, dtype=torch.bool, device=frames.device)
        missing[first:] = True
        bounds = OutputBounds.of(self.data_min_, self.data_max_, self._scaler, self._device)
        out = run_frames(self.layers_, self.orders_, frames, missing, first, n_gibbs,
                         make_generator(random_state, self._device), limit=bounds)
        bounds.warn("generated values", "the model may need more training")
        return self._scaler.inverse(out[first:], seed.dtype)

    @torch.no_grad()
    def fill_in(self, sequence, mask, prediction: str = "mean_field", n_gibbs: int = 30,
                random_state=None, *, method: str = "offline") -> np.ndarray:
        """Estimate the missing entries of a sequence.

        ``method='offline'`` (default): the missing entries minimise the squared error of
        the one-step mean-field predictions (:meth:`predict_next`) of the whole sequence, so
        the observed channels of the frames *after* a missing value inform it too
        (:mod:`deepbelief.core.sequence_fill`; deterministic). ``method='online'``: frame by
        frame, as Taylor et al. (2007) fill in missing markers; from frame
        ``receptive_field_`` on, each frame's missing entries are inferred as
        :meth:`predict_next` infers a frame, given the filled-in frames before it, with its
        observed channels clamped after every sweep (before: the training mean). Online
        values, fed back as the past of the next frames, drift away when the observed
        channels say little about the missing ones (e.g. both knees of a gait missing).
        Gaussian values stay within the training range (``data_min_``, ``data_max_``) widened
        on each side by half of it, at least a tenth of the median channel's range, with a
        :class:`~deepbelief.exceptions.DataRangeWarning` (``SequenceRangeWarning``) if they
        had to be bounded. A sequence of at most ``receptive_field_`` frames has no frame to
        predict: its missing entries keep the training mean, with a warning.

        Parameters
        ----------
        sequence : array of shape (T, D)
            Missing entries may hold anything, NaN included.
        mask : bool array of shape (T, D), or (D,) for channels missing in every frame
            True where a value is missing.
        prediction : {'mean_field', 'gibbs'}, default 'mean_field'
            Online: as in :meth:`predict_next` ('gibbs' seeded by ``random_state``).
            Offline takes 'mean_field' only.
        n_gibbs : int, default 30
            Sweeps of each frame's inference (offline: of each one-step prediction).
        random_state : int, RandomState or None
        method : {'offline', 'online'}, default 'offline'

        Returns
        -------
        ndarray of shape (T, D)
            ``sequence`` with the missing entries filled in; the observed entries are
            returned exactly as given.

        Raises
        ------
        ValueError
            For a sequence of another width than the model's (give a lacking channel as NaN,
            masked), a mask of another shape or not boolean, NaN or infinity among the
            observed entries (mask them), an unknown ``method``, or ``prediction='gibbs'``
            with ``method='offline'``.
        """
        n_gibbs = check_prediction(prediction, n_gibbs)
        check_fill_method(method, prediction)
        seq, mask = fill_start(self, sequence, mask)
        scaled = self._scaler.forward(seq, self._device)
        missing = torch.from_numpy(mask).to(self._device)
        bounds = OutputBounds.of(self.data_min_, self.data_max_, self._scaler, self._device)
        if method == "offline":
            out = bounds(fill_sequence(self.layers_, self.orders_, scaled, missing, n_gibbs),
                         missing)
        else:
            out = run_frames(self.layers_, self.orders_, scaled, missing,
                             min(self.receptive_field_, seq.shape[0]), n_gibbs,
                             make_generator(random_state, self._device), prediction, bounds)
        bounds.warn("filled-in values", "the model may need more training" if method ==
                    "offline" else "method='offline' uses the frames after the gaps as well")
        return np.where(mask, self._scaler.inverse(out, seq.dtype), seq)

    # -- saving ------------------------------------------------------------------------------
    def _get_state(self) -> tuple[dict, dict]:
        layers, tensors = layers_state(self.layers_)
        config = {"layers": layers, **fitted_input_state(self), "history": self.history_,
                  "orders": self.orders_, "fit_time": self.fit_time_,
                  **{name[:-1]: getattr(self, name).tolist() for name in _CHANNEL_ARRAYS}}
        return config, tensors

    def _set_state(self, config: dict, tensors: dict) -> None:
        self.layers_ = read_layers(config, tensors, resolve_device(self.device))
        set_fitted_input_state(self, config)
        self.history_ = config["history"]
        self.orders_ = [int(o) for o in config["orders"]]
        self.receptive_field_ = receptive_field(self.orders_)
        for name in _CHANNEL_ARRAYS:
            setattr(self, name, np.asarray(config[name[:-1]], dtype=np.float64))
        self.fit_time_ = config["fit_time"]


def _trained(phases: list, index: int):
    """The layers below layer ``index``, once their phases have run."""
    return lambda: [phase.trainer.layer for phase in phases[:index]]
