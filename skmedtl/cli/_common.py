"""Flags several commands share: the model to load, consent, overwriting, -q.

Only the standard library is imported here: ``skmedtl --help`` stays fast.
"""

from __future__ import annotations

from ._params import REQUIRED, Param, positive_int

__all__ = ["MODEL_PARAMS", "OUTPUT_PARAMS", "QUIET", "load_model_flags"]

#: The model a command loads (``predict``, ``explain``).
MODEL_PARAMS = [
    Param("path", "--model", default=REQUIRED, metavar="DIR",
          help="a saved model folder (skmedtl.save, or a study's DIR/model)"),
    Param("allow_pickle", "--allow-pickle", action="store_true", default=False,
          help="also accept a pickle / joblib file as --model. Unpickling runs any "
          "code its author put in it: only for a file you trust as a program"),
    Param("device", "--device", default=None, metavar="DEVICE",
          help="'cpu', 'cuda', 'auto' (default: auto)"),
    Param("batch_size", "--batch-size", type=positive_int, default=32, metavar="N",
          help="images per batch (default: 32)"),
]

#: Consent to replace an existing output the command did not write.
OUTPUT_PARAMS = [
    Param("overwrite", "--overwrite", action="store_true", default=False,
          help="replace an existing --out that this command did not write "
          "(never an input)"),
]

#: No progress bar.
QUIET = Param("verbose", "--quiet", short="-q", action="store_true", default=False,
              convert=lambda quiet: 0 if quiet else 1, help="no progress bar")


def load_model_flags(args):
    """``(model, metadata)`` of ``--model`` (with ``--allow-pickle``, ``--device``).

    The one loader of the commands: :func:`skmedtl.persistence.load_model`.
    """
    from ..persistence import load_model

    return load_model(
        args.model, allow_pickle=args.allow_pickle, device=args.device,
        name="--model", consent="--allow-pickle",
    )
