"""deepbelief against the ``rbms`` package: the same MNIST RBM, the same clock, the same AIS.

Both libraries train a 784-500 Bernoulli RBM on stochastically binarised MNIST for the same
wall-clock budget (``--budget-minutes`` each, one after the other in this process, never at
once, with the same torch threads and device), and both models are scored by deepbelief's
estimators: AIS (:func:`deepbelief.evaluation.ais_log_partition`, errs high) with the
log-likelihood interval its ±3σ log Z interval gives, and reverse AIS
(:func:`deepbelief.evaluation.raise_log_likelihood`, errs low) on the first
``--raise-images`` test images, on the same test images (one binarisation, seed 1). The
independent-pixel model (each pixel on with its training frequency) is the floor.

- deepbelief, its best recipe (BENCHMARKS.md, "deepbelief against rbms"): PCD-1, batch
  100, learning rate 0.01 decaying linearly to 0, momentum 0.5 -> 0.9, weight decay 2e-4,
  centred gradients (Melchior, Fischer & Wiskott 2016; the offsets' sliding factor 0.01;
  ``--centering 0`` for plain gradients). It is scaled to the budget by the clock: a
  callback sets each epoch's rate to ``0.01 * (1 - t / T)`` (``t`` the training time
  spent, ``T`` the budget) and stops the fit once the budget is spent, so the rate reaches
  0 where the budget ends, whatever the machine's speed. (Planning a number of epochs
  from a timed short fit left a quarter of a 6-minute budget unused on machine A.)
- rbms (``pip install rbms``; see ``benchmarks/requirements-vs-rbms.txt``), the defaults
  of its ``rbms train`` command: PCD with ``--gibbs_steps`` 100, batch 2000 drawn at random
  for every update, 2000 persistent chains, centred gradients scaled to unit norm, SGD at a
  constant learning rate 0.01, no regularisation; and the same with one Gibbs step
  (``--rbms-gibbs-steps 100 1``: one row each; with no value, deepbelief is trained and
  scored alone). Its learning rate is constant, so the budget scales it by its number of
  updates: they run until the budget is spent. The loop
  is rbms' own ``train`` loop (its ``fit_batch_pcd`` step, its initialisation and its
  first ``gibbs_steps`` sweeps of the chains, all inside the budget) without the HDF5
  archive it writes after every update.

With ``--binarisation fresh`` (the default, deepbelief's ``sample_inputs``) every
mini-batch of either library is a new binarisation of the grey-level images; with
``fixed`` both train on one binarisation (seed 0). The trained rbms parameters are copied
into a deepbelief ``RBMModule`` (:func:`to_deepbelief`; both write
``E(v, h) = -a·v - b·h - vᵀ W h`` with ``W`` of shape (n_visible, n_hidden)).

An epoch is ``n_train`` training images seen; the epoch time is the training wall time per
epoch (rbms: seconds per update after its set-up, times ``n_train / batch``).

    python benchmarks/vs_rbms.py [--quick] [--budget-minutes 6] [--threads 2]
        [--rbms-gibbs-steps 100 1] [--binarisation fresh|fixed] [--raise-images 100]
        [--device cuda] [--json FILE]
"""

from __future__ import annotations

import sys
import time
from types import SimpleNamespace

import numpy as np
import torch
from _budget import AnnealToBudget
from _common import (  # $DEEPBELIEF_DATA, else ../shared/data
    REPO_ROOT,
    load_mnist,
    machine_info,
    parse_args,
    print_machine_info,
    print_table,
    quick_banner,
    warm_up,
    write_json,
)
from rbm_likelihood import _conservative, binarise

from deepbelief import RBM
from deepbelief.core.rbm import RBMModule
from deepbelief.core.units import unit_type
from deepbelief.evaluation import (
    ais_log_partition,
    default_betas,
    log_likelihood,
)

REQUIREMENTS = REPO_ROOT / "benchmarks" / "requirements-vs-rbms.txt"
INSTALL = (f"{sys.executable} -m pip install -c {REPO_ROOT / 'constraints.txt'} "
           f"-r {REQUIREMENTS}")
#: deepbelief's recipe (rbm_likelihood.py's recorded best run, scaled by its epochs).
RECIPE = {"method": "pcd", "k": 1, "batch_size": 100, "learning_rate_schedule": "constant",
          "momentum": "classic", "weight_decay": 2e-4}
FULL = {"n_train": None, "n_test": None, "n_hidden": 500, "budget_minutes": 6.0,
        "rbms_batch_size": 2000, "rbms_chains": 2000, "n_betas": None, "raise_images": 100}
#: A smoke test: 100 hidden units, rbms' batch and chains cut to 500, 500 betas. Every model
#: makes at least one update, so rbms' PCD-100 may pass the budget by its set-up and one.
QUICK = {"n_train": 2000, "n_test": 500, "n_hidden": 100, "budget_minutes": 0.1,
         "rbms_batch_size": 500, "rbms_chains": 500, "n_betas": 500, "raise_images": 10}


def _options(parser) -> None:
    parser.add_argument("--budget-minutes", type=float, default=None,
                        help="training time of each model (default: 6; quick: 0.1)")
    parser.add_argument("--binarisation", choices=("fresh", "fixed"), default="fresh",
                        help="fresh: every mini-batch a new binarisation of the grey levels "
                             "(default); fixed: one binarisation (seed 0) for both")
    parser.add_argument("--learning-rate", type=float, default=0.01,
                        help="deepbelief's learning rate, decaying linearly to 0 (0.01)")
    parser.add_argument("--centering", type=float, nargs="?", const=0.01, default=0.01,
                        help="deepbelief's centred gradients (Melchior et al. 2016) with this "
                             "sliding factor of the offsets (default and flag alone: 0.01, "
                             "the best recipe measured; 0: plain gradients)")
    parser.add_argument("--rbms-gibbs-steps", type=int, nargs="*", default=[100, 1],
                        help="one rbms row per value (default: 100, its CLI default, and 1); "
                             "none: deepbelief alone (e.g. a 60-minute likelihood run)")
    parser.add_argument("--rbms-batch-size", type=int, default=None,
                        help="rbms' default 2000 (quick: 500)")
    parser.add_argument("--rbms-chains", type=int, default=None,
                        help="rbms' default 2000 (quick: 500)")
    parser.add_argument("--rbms-learning-rate", type=float, default=0.01, help="rbms' default")
    parser.add_argument("--ais-runs", type=int, default=100)
    parser.add_argument("--raise-images", type=int, default=None,
                        help="test images scored by reverse AIS (default: 100; quick: 10)")
    parser.add_argument("--raise-runs", type=int, default=10,
                        help="reverse-AIS runs per image")
    parser.add_argument("--seed", type=int, default=0, help="seed of both trainings")
    parser.add_argument("--save", metavar="PATH", default=None,
                        help="also write deepbelief's trained RBM to PATH (safetensors), "
                             "e.g. to score it again with more AIS runs")


# -- the rbms side ----------------------------------------------------------------------------
def require_rbms():
    """The ``rbms`` package, or SystemExit with the command that installs it."""
    try:
        import rbms.training.pcd  # noqa: F401
        from rbms.bernoulli_bernoulli.classes import BBRBM
    except ImportError as exc:
        raise SystemExit(
            f"This benchmark needs the rbms package ({exc}); install it with\n    {INSTALL}"
        ) from exc
    return BBRBM


def to_deepbelief(params) -> RBMModule:
    """A deepbelief RBM with the parameters of an rbms Bernoulli-Bernoulli RBM (``BBRBM``).

    rbms writes ``E(v, h) = -vbias·v - hbias·h - vᵀ weight_matrix h`` with ``weight_matrix``
    of shape (n_visible, n_hidden); ``RBMModule`` the same with ``visible_bias``,
    ``hidden_bias`` and ``weight``. Raises TypeError for other rbms models (Potts).
    """
    if getattr(params, "name", None) != "BBRBM":
        raise TypeError(f"expected an rbms BBRBM, got {type(params).__name__}")
    n_visible, n_hidden = params.weight_matrix.shape
    rbm = RBMModule(n_visible, n_hidden, device=params.weight_matrix.device)
    with torch.no_grad():
        rbm.weight.copy_(params.weight_matrix)
        rbm.visible_bias.copy_(params.vbias)
        rbm.hidden_bias.copy_(params.hbias)
    return rbm


def train_rbms(grey: torch.Tensor, fixed: torch.Tensor, args, gibbs_steps: int,
               budget_s: float) -> tuple[RBMModule, dict]:
    """rbms' ``train`` loop (``rbms/training/pcd.py``) run until ``budget_s`` is spent."""
    BBRBM = require_rbms()
    from rbms.training.pcd import fit_batch_pcd

    torch.manual_seed(args.seed)  # rbms draws from the global generator
    fresh = args.binarisation == "fresh"
    n = len(fixed)
    weights = torch.ones(n, device=fixed.device)
    start = time.perf_counter()
    with torch.no_grad():
        params = BBRBM.init_parameters(num_hiddens=args.n_hidden,
                                       dataset=SimpleNamespace(data=fixed),
                                       device=fixed.device, dtype=torch.float32)
        chains = params.init_chains(num_samples=args.rbms_chains)
        chains = params.sample_state(chains=chains, n_steps=gibbs_steps)
        params.init_grad()
        optimizer = torch.optim.SGD(params.parameters(), lr=args.rbms_learning_rate,
                                    maximize=True)
        loop_start, updates = time.perf_counter(), 0
        while updates == 0 or time.perf_counter() - start < budget_s:
            index = torch.randperm(n)[:args.rbms_batch_size]
            batch = torch.bernoulli(grey[index]) if fresh else fixed[index]
            optimizer.zero_grad(set_to_none=False)
            chains, _ = fit_batch_pcd(batch=(batch, weights[index]), parallel_chains=chains,
                                      params=params, gibbs_steps=gibbs_steps, beta=1.0)
            optimizer.step()
            updates += 1
    end = time.perf_counter()
    per_update = (end - loop_start) / updates
    return to_deepbelief(params), {
        "train_s": end - start, "setup_s": loop_start - start, "updates": updates,
        "epochs": updates * args.rbms_batch_size / n,
        "epoch_s": per_update * n / args.rbms_batch_size,
        "batch_size": args.rbms_batch_size, "gibbs_steps": gibbs_steps}


# -- the deepbelief side ----------------------------------------------------------------------
def _model(args, epochs: int, callbacks=None) -> RBM:
    return RBM(n_components=args.n_hidden, n_iter=epochs, learning_rate=args.learning_rate,
               sample_inputs=args.binarisation == "fresh", random_state=args.seed,
               centering=args.centering or False, device=args.device, callbacks=callbacks,
               **RECIPE)


def train_deepbelief(X: np.ndarray, args, budget_s: float) -> tuple[RBMModule, dict]:
    """The recipe, its rate annealed to 0 by the clock over ``budget_s`` seconds."""
    anneal = AnnealToBudget([], args.learning_rate, total=budget_s, floor=0.0,
                            phase="pretrain")
    start = time.perf_counter()
    model = _model(args, 1_000_000, [anneal]).fit(X)
    train_s = time.perf_counter() - start
    if args.save:  # before scoring: a model of an hour is kept whatever happens next
        model.save(args.save)
        print(f"deepbelief's model written to {args.save}", flush=True)
    rates = model.callbacks_[0].rates_
    return model.rbm_, {
        "train_s": train_s, "first_rate": rates[0], "last_rate": rates[-1],
        "epochs": model.n_iter_, "updates": model.n_iter_ * -(-len(X) // RECIPE["batch_size"]),
        "epoch_s": train_s / model.n_iter_, "batch_size": RECIPE["batch_size"],
        "gibbs_steps": RECIPE["k"]}


# -- scoring ----------------------------------------------------------------------------------
def score(rbm: RBMModule, X_test: np.ndarray, X_fixed: np.ndarray, betas, args) -> dict:
    """AIS log Z, the test log-likelihood with its interval over log Z's ±3σ, the train
    log-likelihood, and RAISE beside AIS on the first ``--raise-images`` test images."""
    start = time.perf_counter()
    ais = ais_log_partition(rbm, n_runs=args.ais_runs, betas=betas, data=X_fixed,
                            random_state=0)
    ais_s = time.perf_counter() - start
    neg_f = log_likelihood(rbm, X_test, 0.0).mean()
    result = {"ais_s": ais_s, "log_z": ais.log_z, "log_z_low": ais.log_z_low,
              "log_z_high": ais.log_z_high, "test_ll": float(neg_f - ais.log_z),
              "test_ll_low": float(neg_f - ais.log_z_high),
              "test_ll_high": float(neg_f - ais.log_z_low),
              "train_ll": float(log_likelihood(rbm, X_fixed[:10000], ais).mean())}
    if args.raise_images:
        result.update(_conservative(SimpleNamespace(rbm_=rbm), X_test[:args.raise_images],
                                    X_fixed, ais, betas, args))
    return result


def independent_pixels(X_fixed: np.ndarray, X_test: np.ndarray) -> float:
    """Mean test log-likelihood of independent pixels at their training frequencies (clipped
    as the AIS base-rate model's)."""
    unit = unit_type("bernoulli")
    mean = torch.as_tensor(X_fixed, dtype=torch.float64).mean(0)
    field = unit.bias_for_mean(mean)
    return float(unit.log_conditional(torch.as_tensor(X_test, dtype=torch.float64),
                                      field).mean())


# -- the report -------------------------------------------------------------------------------
def _interval(r: dict) -> str:
    return f"{r['test_ll']:.2f} ({r['test_ll_low']:.2f} .. {r['test_ll_high']:.2f})"


def report(rows: dict[str, dict], baseline: float, n_train: int) -> None:
    ours = rows["deepbelief"]["epoch_s"]
    print_table(
        f"Training ({n_train} images per epoch)",
        ("model", "Gibbs steps", "batch", "updates", "epochs", "train s", "s / epoch",
         "epoch time / deepbelief's"),
        [(name, r["gibbs_steps"], r["batch_size"], r["updates"], round(r["epochs"], 2),
          round(r["train_s"], 1), round(r["epoch_s"], 3), round(r["epoch_s"] / ours, 2))
         for name, r in rows.items()])
    print_table(
        "Test log-likelihood, nats per image (AIS: errs high; reverse AIS: errs low)",
        ("model", "log Z (±3σ)", "test, AIS (over log Z's interval)", "train, AIS",
         "first images: AIS", "reverse AIS"),
        [(name, f"{r['log_z']:.2f} ({r['log_z_low']:.2f} .. {r['log_z_high']:.2f})",
          _interval(r), round(r["train_ll"], 2), round(r.get("ais_test_ll_same_images",
                                                             float("nan")), 2),
          round(r.get("raise_test_ll", float("nan")), 2)) for name, r in rows.items()]
        + [("independent pixels", "", f"{baseline:.2f}", "", "", "")])


def main(argv=None) -> int:
    args = parse_args(__doc__.splitlines()[0], _options, argv)
    if args.rbms_gibbs_steps:
        require_rbms()  # before anything is trained
    size = QUICK if args.quick else FULL
    budget_s = 60.0 * (args.budget_minutes or size["budget_minutes"])
    for key in ("raise_images", "rbms_batch_size", "rbms_chains"):
        if getattr(args, key) is None:
            setattr(args, key, size[key])
    args.n_hidden = size["n_hidden"]
    betas = default_betas() if size["n_betas"] is None else np.linspace(0, 1, size["n_betas"])
    machine = print_machine_info(machine_info())
    quick_banner(args)
    X_train, _ = load_mnist("train", size["n_train"])
    X_test, _ = load_mnist("test", size["n_test"])
    X_fixed, X_test = binarise(X_train, 0), binarise(X_test, 1)
    print(f"\nRBM 784-{args.n_hidden}; {len(X_train)} training / {len(X_test)} test images; "
          f"{args.binarisation} "
          f"binarisation; {budget_s:.0f} s of training per model; AIS {args.ais_runs} runs x "
          f"{len(betas)} betas")
    warm_up()
    rows: dict[str, dict] = {}
    rbm, rows["deepbelief"] = train_deepbelief(
        X_train if args.binarisation == "fresh" else X_fixed, args, budget_s)
    ours = rows["deepbelief"]
    print(f"deepbelief: {ours['epochs']} epochs in {ours['train_s']:.1f} s (learning rate "
          f"{ours['first_rate']:.4g} -> {ours['last_rate']:.4g}, annealed by the clock"
          + (f"; centred gradients, sliding factor {args.centering:g}" if args.centering
             else "") + ")")
    rows["deepbelief"].update(score(rbm, X_test, X_fixed, betas, args))
    print(f"deepbelief: test {_interval(ours)} nats by AIS", flush=True)
    grey = torch.as_tensor(X_train, device=args.device)
    fixed = torch.as_tensor(X_fixed, device=args.device)
    for steps in args.rbms_gibbs_steps:
        name = f"rbms PCD-{steps}"
        rbm, rows[name] = train_rbms(grey, fixed, args, steps, budget_s)
        print(f"{name}: {rows[name]['updates']} updates in {rows[name]['train_s']:.1f} s")
        rows[name].update(score(rbm, X_test, X_fixed, betas, args))
        print(f"{name}: test {_interval(rows[name])} nats by AIS", flush=True)
    baseline = independent_pixels(X_fixed, X_test)
    report(rows, baseline, len(X_train))
    write_json(args.json, "vs_rbms", args, machine,
               {"rows": rows, "independent_pixels": baseline, "budget_s": budget_s})
    return 0


if __name__ == "__main__":
    sys.exit(main())
