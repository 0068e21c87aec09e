"""Which command lines are about documents (word counts): ``train --kind documents``, and
``transform``, ``evaluate`` and ``plot`` of a model file that holds a document model.

Light (nothing heavy is imported until a model file must be read), so that the command's
``--help`` and usage errors answer at once; :mod:`deepbelief.cli.documents` does the work.
"""

from __future__ import annotations

import argparse

__all__ = ["DOCUMENT_MODELS", "DOCUMENT_PICTURES", "is_document_job"]

#: The model types of word counts (as model files name them).
DOCUMENT_MODELS = ("ReplicatedSoftmaxRBM", "SemanticHashing")
#: ``plot`` pictures of document models: top words per hidden unit, a 2-D map of documents.
DOCUMENT_PICTURES = ("topics", "document-map")


def _model_type(path: str) -> str | None:
    from deepbelief.io.modelfile import describe  # reads the header, not the tensors

    try:
        return describe(path).get("model_type")
    except (OSError, ValueError):  # the command itself reports a bad file
        return None


def is_document_job(args: argparse.Namespace) -> bool:
    """Whether the parsed command line trains, applies or draws a document model."""
    if args.command == "train":
        return getattr(args, "kind", None) == "documents"
    if args.command == "plot" and args.what in DOCUMENT_PICTURES:
        return True
    if args.command in ("transform", "evaluate"):
        return _model_type(args.model) in DOCUMENT_MODELS
    return False
