"""Checks on a loaded checkpoint before any model is built from it.

A checkpoint is input like any data file: its metadata (keys, channel names,
sizes) and its tensors are checked here so that a missing key, a tensor that
claims more bytes than it stores, or an absurd model size ends in one
:class:`~eegvision.DataError` instead of a ``KeyError`` or a many-gigabyte
allocation.
"""

from __future__ import annotations

import math

from ._utils import check_finite, data_error

_FIX = "give a model.pt written by `eegvision train` (or retrain: eegvision train ...)."
_REQUIRED = {"encoder": str, "config": dict, "state_dict": dict, "n_chans": int,
             "n_times": int, "n_features": int, "sfreq": (int, float), "ch_names": list,
             "times": list}


def check_checkpoint_fields(path, ckpt):
    """Every key :func:`eegvision.training.load_checkpoint` reads exists with a sane type/size."""
    missing = [k for k in _REQUIRED if k not in ckpt]
    if missing:
        raise data_error(path, f"checkpoint lacks the keys {missing}.", _FIX)
    for key, types in _REQUIRED.items():
        value = ckpt[key]
        if not isinstance(value, types) or isinstance(value, bool):
            raise data_error(path, f"checkpoint key {key!r} is a {type(value).__name__}.", _FIX)
    for key in ("n_chans", "n_times", "n_features"):
        if not 1 <= ckpt[key] <= 10**6:
            raise data_error(path, f"checkpoint key {key!r} = {ckpt[key]} is not a plausible "
                                   "size (1 to 10**6).", _FIX)
    if len(ckpt["ch_names"]) != ckpt["n_chans"] or not all(
            isinstance(c, str) for c in ckpt["ch_names"]):
        raise data_error(path, f"checkpoint lists {len(ckpt['ch_names'])} channel names for "
                               f"{ckpt['n_chans']} channels (or names that are not text).", _FIX)
    times = ckpt["times"]
    if len(times) != ckpt["n_times"] or not all(
            isinstance(t, float) and math.isfinite(t) for t in times):
        raise data_error(path, f"checkpoint lists {len(times)} sample times for "
                               f"{ckpt['n_times']} samples (or non-finite times).", _FIX)
    if not (math.isfinite(ckpt["sfreq"]) and ckpt["sfreq"] > 0):
        raise data_error(path, f"checkpoint sampling rate {ckpt['sfreq']} is not positive.",
                         _FIX)
    check_tensors(path, ckpt["state_dict"])


def check_tensors(path, state):
    """Each weight is a finite tensor that owns the bytes its shape needs (no 0-stride giants)."""
    import torch

    for name, tensor in state.items():
        if not isinstance(tensor, torch.Tensor):
            raise data_error(path, f"weight {name!r} is a {type(tensor).__name__}, not a tensor.",
                             _FIX)
        needed = tensor.numel() * tensor.element_size()
        if needed > tensor.untyped_storage().nbytes() or (
                tensor.numel() > 1 and 0 in tensor.stride()):
            raise data_error(path, f"weight {name!r} of shape {tuple(tensor.shape)} claims "
                                   f"{needed} bytes over a storage of "
                                   f"{tensor.untyped_storage().nbytes()} (a crafted or corrupt "
                                   "checkpoint).", _FIX)
        if tensor.is_floating_point():
            check_finite(tensor, path, f"values in weight {name!r}",
                         "retrain the model (eegvision train ...), e.g. with a lower --lr.",
                         why=" (training diverged, or the file is corrupt)")


def check_shapes_before_building(path, ckpt, build):
    """Build the model on torch's ``meta`` device (no memory) and compare every weight's shape.

    ``build()`` must return the module; a config that asks for a huge model is
    refused here, before a real build would allocate it.
    """
    import torch

    try:
        with torch.device("meta"):
            skeleton = build()
    except Exception as err:  # noqa: BLE001 - any config the builder rejects is the same problem
        raise data_error(path, f"its config does not build a model ({type(err).__name__}: "
                               f"{str(err)[:200]}).", _FIX) from None
    check_weight_shapes(path, ckpt, {k: tuple(v.shape) for k, v in skeleton.state_dict().items()},
                        "as its config describes it")


def check_weight_shapes(path, ckpt, expected, described="as its sizes describe it"):
    """The checkpoint's weights are exactly ``expected`` (name -> shape): the one shape check.

    Every checkpoint goes through it before its weights are loaded (a
    contrastive model's shapes from a skeleton built on the ``meta`` device,
    the ridge decoder's from its sizes), so a missing, extra or misshapen
    weight is one :class:`~eegvision.DataError`, never a failure deep inside
    ``load_state_dict`` or the first prediction.
    """
    found = {k: tuple(v.shape) for k, v in ckpt["state_dict"].items()}
    if expected != found:
        wrong = sorted(set(expected) ^ set(found)) or sorted(
            k for k in expected if expected[k] != found[k])
        n_params = sum(math.prod(s) for s in expected.values())
        raise data_error(path, f"its weights do not fit encoder {ckpt['encoder']!r} {described} "
                               f"({n_params} parameters; mismatched: {', '.join(wrong[:4])}).",
                         "the checkpoint comes from another encoder or version: retrain it.")
