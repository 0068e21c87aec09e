"""``deepbelief export``: a model's network written for use without deepbelief, as ONNX
(``.onnx``, through ``torch.onnx``'s exporter, which needs the packages ``onnx`` and
``onnxscript``: ``pip install 'deepbelief[onnx]'``) or as a ``torch.export`` program
(``.pt2``, read back by ``torch.export.load(path).module()``).

The network is the estimator's ``to_torch()`` (:mod:`deepbelief.estimators._export`),
preceded by the scaling that ``train --scale`` fitted and the model file keeps (stage
``scale``, and for ``minmax`` the clipping to [0, 1], stage ``scale_clip``), so that it takes
the same raw data as every other command. Its input, named ``input``, is float32 of shape
(batch, n_features) with any batch size; its output is named ``output``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from deepbelief.cli.errors import EXIT_OK, CommandError, UsageError
from deepbelief.cli.io import prepare_outputs
from deepbelief.cli.models import KINDS, load_model
from deepbelief.core.plain import affine_stage, clip_stage, plain_sequential
from deepbelief.estimators._export import unsupported
from deepbelief.io.atomic import atomic_write
from deepbelief.io.modelfile import describe

__all__ = ["FORMATS", "ONNX_INSTALL", "export_module", "run_export"]

log = logging.getLogger("deepbelief")

PROG = "deepbelief export"

#: ``-o`` suffix -> what is written.
FORMATS = {".onnx": "ONNX", ".pt2": "a torch.export program"}

#: How to get what ONNX export needs.
ONNX_INSTALL = "pip install 'deepbelief[onnx]' (or: pip install onnx onnxscript)"


def _check_onnx() -> None:
    """Raise :class:`CommandError` with the pip command when ONNX export cannot run."""
    missing = []
    for package in ("onnx", "onnxscript"):
        try:
            __import__(package)
        except ImportError:
            missing.append(package)
    if missing:
        raise CommandError(f"writing ONNX needs the package{'s' * (len(missing) > 1)} "
                           f"{' and '.join(missing)}, which {'are' if len(missing) > 1 else 'is'}"
                           f" not installed: {ONNX_INSTALL}. Or write a torch.export program "
                           "instead, with -o model.pt2.")


def _check_supported(model, path: str) -> None:
    why = unsupported(model)
    if why is None:
        return
    name = type(model).__name__
    kinds = [kind for kind, cls in KINDS.items() if unsupported(cls) is None]
    raise CommandError(
        f"{path} holds {'an' if name[0] in 'AEIOU' else 'a'} {name} model, which has no "
        f"network to export: {why[0]}. 'export' writes the models of train --kind "
        f"{', '.join(kinds[:-1])} and {kinds[-1]}.")


def export_module(model, metadata: dict | None = None) -> torch.nn.Module:
    """``model.to_torch()``, preceded by the scaling ``metadata["scale"]`` that ``train
    --scale`` recorded in the model file (none without it)."""
    module = model.to_torch()
    scale = (metadata or {}).get("scale")
    if scale is None:
        return module
    offset, spread = np.asarray(scale["offset"]), np.asarray(scale["scale"], dtype=np.float64)
    clip = clip_stage((0.0, 1.0), "scale_clip") if scale["kind"] == "minmax" else []
    return plain_sequential(affine_stage("scale", 1.0 / spread, -offset / spread), clip,
                            module.named_children())


@contextlib.contextmanager
def _quiet_exporter() -> Iterator[None]:
    """torch's exporters warn about their own internals (deprecations, optional packages
    such as torchvision): nothing a user of this command can act on."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        logger.setLevel(level)


def _write(module: torch.nn.Module, n_features: int, output: Path) -> None:
    """``module`` as ONNX or a torch.export program (by ``output``'s suffix), atomically,
    with a dynamic batch dimension."""
    example = (torch.zeros(2, n_features),)  # a batch of 2: a batch of 1 would be fixed
    batch = torch.export.Dim("batch")
    with _quiet_exporter():
        if output.suffix.lower() == ".onnx":
            program = torch.onnx.export(
                module, example, dynamo=True, input_names=["input"], output_names=["output"],
                dynamic_shapes=({0: batch},), external_data=False, verbose=False)
            atomic_write(output, program.model_proto.SerializeToString())
        else:
            program = torch.export.export(module, example, dynamic_shapes=({0: batch},))
            buffer = io.BytesIO()  # torch.export.save takes a .pt2 path or a buffer
            torch.export.save(program, buffer)
            atomic_write(output, buffer.getvalue())


def run_export(args) -> int:
    """``deepbelief export MODEL -o PATH``."""
    output = Path(args.output)
    if output.suffix.lower() not in FORMATS:
        raise UsageError(f"-o {output}: give a file ending in .onnx (ONNX) or .pt2 (a "
                         "torch.export program).", PROG)
    if output.suffix.lower() == ".onnx":
        _check_onnx()
    prepare_outputs(PROG, {"-o": output})
    model = load_model(args.model, "cpu")
    _check_supported(model, args.model)
    metadata = describe(args.model)["config"].get("metadata")
    module = export_module(model, metadata)
    _write(module, model.n_features_in_, output)
    log.info("wrote %s (%s): %s", output, FORMATS[output.suffix.lower()],
             ", ".join(name for name, _ in module.named_children()))
    return EXIT_OK
