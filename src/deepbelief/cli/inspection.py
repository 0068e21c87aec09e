"""``deepbelief inspect``: what a model file holds (type, format, layers, parameters,
training settings and history).
"""

from __future__ import annotations

import json
from typing import Any

from deepbelief.cli.autoencoder import autoencoder_summary
from deepbelief.cli.checkpoints import checkpoint_position, checkpoint_state
from deepbelief.cli.io import EXIT_OK
from deepbelief.cli.metrics import STANDARDISED_HISTORY, format_value, history_units
from deepbelief.cli.models import architecture, load_model, n_parameters
from deepbelief.cli.provenance import training_summary
from deepbelief.estimators import ConditionalRBM, DBNAutoencoder, SequenceCRBM
from deepbelief.io.modelfile import describe


def _print_json(info: dict) -> int:
    print(json.dumps(info, indent=1, default=str))
    return EXIT_OK


def _print_settings(params: dict) -> None:
    print("  training settings:")
    for key, value in params.items():
        print(f"    {key} = {value!r}")


def _inspect_checkpoint(args, estimator: str, state: dict) -> int:
    params = state.get("params") or {}
    info = {"file": args.model, "checkpoint_of": estimator, "layout": state.get("layout"),
            "stage": state.get("stage"), "position": checkpoint_position(state, estimator),
            "params": params, "data_sha256": state.get("data_sha256")}
    if args.json:
        return _print_json(info)
    print(f"{args.model}: training checkpoint of {'an' if estimator == 'RBM' else 'a'} "
          f"{estimator} (layout {info['layout']})")
    print(f"  saved {info['position']}")
    _print_settings(params)
    print(f"  data sha256: {info['data_sha256']}")
    print("  resume it with the same 'deepbelief train' command and --resume")
    return EXIT_OK


def _last(records: list[dict]) -> dict[str, Any]:
    """The metrics of the last epoch of ``records`` ({} for none)."""
    return {k: v for k, v in (records[-1] if records else {}).items()
            if k not in ("epoch", "time")}


def _history_summary(history) -> dict[str, Any]:
    if history and all(isinstance(layer, list) for layer in history):  # a SequenceCRBM's
        return {"layer_epochs": [len(layer) for layer in history], "final": _last(history[-1])}
    if isinstance(history, dict):
        out: dict[str, Any] = {"pretrain_epochs": [len(h) for h in history.get("pretrain", [])]}
        if history.get("updown"):
            out["updown_epochs"] = len(history["updown"])
            out["final"] = _last(history["updown"])
        if "finetune" in history:
            out["finetune_epochs"] = len(history["finetune"])
            if history["finetune"]:
                out["final"] = _last(history["finetune"])
        return out
    return {"epochs": len(history), "final": _last(history)}


def _sequences_summary(metadata: dict | None) -> str | None:
    """``gaits (40 sequences of 100 frames, seed 0), 4000 frames``: a sequence model's
    training data in words (None when not recorded)."""
    data = (metadata or {}).get("data")
    if not data:
        return None
    sizes = (f" ({data['n_sequences']} sequences of {data['n_frames']} frames, seed "
             f"{data.get('seed', 0)})" if data.get("n_frames") else "")
    limit = f" (--limit {data['limit']})" if data.get("limit") else ""
    return f"{data['source']}{sizes}, {data.get('n_samples')} frames{limit}"


def run_inspect(args) -> int:
    header = describe(args.model)
    saved = checkpoint_state(args.model)
    if saved is not None:
        return _inspect_checkpoint(args, *saved)
    model = load_model(args.model, "cpu")
    params = {k: v for k, v in model.get_params().items() if k != "callbacks"}
    info: dict[str, Any] = {
        "file": args.model,
        "model_type": header["model_type"],
        "format_version": header["format_version"],
        "library_version": header["library_version"],
        "architecture": architecture(model),
        "n_parameters": n_parameters(model),
        "n_features_in": int(model.n_features_in_),
        "feature_names": (header["config"].get("state") or {}).get("feature_names_in"),
        "trained_on": training_summary(header["config"].get("metadata")),
    }
    if hasattr(model, "classes_"):
        info["classes"] = [c.item() if hasattr(c, "item") else c for c in model.classes_]
    if hasattr(model, "n_outputs_"):
        info["n_outputs"] = int(model.n_outputs_)
    if hasattr(model, "input_mean_"):  # the input units visible_units='auto' picked
        info.update(visible_units=model.visible_units_,
                    standardised=model.input_mean_ is not None)
    if isinstance(model, DBNAutoencoder):
        info.update(autoencoder_summary(model))
    if isinstance(model, SequenceCRBM):
        metadata = header["config"].get("metadata") or {}
        info.update(orders=list(model.orders_), receptive_field=int(model.receptive_field_),
                    trained_on=_sequences_summary(metadata),
                    feature_names=(metadata.get("sequence") or {}).get("channels"))
    superres = (header["config"].get("metadata") or {}).get("superres")
    if isinstance(model, ConditionalRBM) and superres:
        info["superres"] = superres
    info["params"] = {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}
    info["history"] = {**_history_summary(model.history_), "units": history_units(model)}
    info["tensors"] = {k: v["shape"] for k, v in header["tensors"].items()}
    if args.json:
        return _print_json(info)
    print(f"{info['file']}: {info['model_type']} (deepbelief model file, format "
          f"{info['format_version']}, written by deepbelief {info['library_version']})")
    print(f"  layers: {info['architecture']}")
    print(f"  parameters: {info['n_parameters']:,}")
    names = f" ({', '.join(info['feature_names'])})" if info["feature_names"] else ""
    if "receptive_field" in info:
        print(f"  input: frames of {info['n_features_in']} channels{names}, each frame given "
              f"the {info['receptive_field']} frames before it")
    else:
        print(f"  input: {info['n_features_in']} features{names}")
    if "standardised" in info and "code_size" not in info:
        inside = ", on the data standardised inside the model" if info["standardised"] else ""
        print(f"  input units: {info['visible_units']}{inside}")
    if "superres" in info:
        side, factor = info["superres"]["image_shape"][0], info["superres"]["factor"]
        print(f"  super-resolution: {side // factor}x{side // factor} -> {side}x{side} images "
              f"(factor {factor})")
    print(f"  trained on: {info['trained_on'] or 'not recorded'}")
    if "classes" in info:
        print(f"  classes: {' '.join(str(c) for c in info['classes'])}")
    if "code_size" in info:
        print(f"  code: {info['code_size']} units; input units: {info['visible_units']}; "
              f"fine-tuning loss: {info['loss']}")
    _print_settings(info["params"])
    summary = info["history"]
    print("  history: " + ", ".join(
        f"{k.replace('_', ' ')} {format_value(v) if not isinstance(v, dict) else ''}".strip()
        for k, v in summary.items() if k not in ("final", "units")))
    for key, value in summary.get("final", {}).items():
        print(f"    last {key.replace('_', ' ')}: {format_value(value)}")
    if summary["units"] == "standardised" and summary.get("final"):
        print(f"    units: {STANDARDISED_HISTORY}; 'deepbelief evaluate' reports the data's "
              "units")
    return EXIT_OK
