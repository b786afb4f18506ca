"""Checkpoints: ``model.pt`` written by training, read by evaluation and the API.

Plain tensors and types (``torch.load(..., weights_only=True)`` safe), checked
(:mod:`eegvision._checkpoint_checks`) before any model is built from them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._utils import data_error, resolve_device
from .._version import __version__
from .build import build_model
from .config import TrainConfig

CHECKPOINT_FORMAT = "eegvision-checkpoint-v1"


def save_checkpoint(path, fit_result):
    """Write ``fit_result``'s model as plain tensors and types (``weights_only`` loadable)."""
    import torch

    info = fit_result.data_info
    state = {k: v.detach().cpu() for k, v in fit_result.model.state_dict().items()}
    ckpt = dict(format=CHECKPOINT_FORMAT, eegvision_version=__version__,
                encoder=fit_result.config.model, config=fit_result.config.to_dict(),
                n_outputs=int(info["n_features"]), best_epoch=int(fit_result.best_epoch),
                state_dict=state, **{k: info[k] for k in ("n_chans", "n_times", "n_features",
                                                          "sfreq", "ch_names", "times")})
    from .._utils import atomic_path

    with atomic_path(path) as tmp:
        torch.save(ckpt, tmp)
    return Path(path)


def _read_checkpoint(path):
    import torch

    path = Path(path)
    if not path.is_file():
        raise data_error(path, "no such checkpoint file.",
                         "give the model.pt that `eegvision train` wrote.")
    from ..data._pickle import scan_torch_checkpoint

    scan_torch_checkpoint(path)  # depth and size checks before torch unpickles anything
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file gets the same message
        raise data_error(path, f"cannot be read as a safe (weights-only) checkpoint: {err}",
                         "give a model.pt written by `eegvision train`.") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise data_error(path, "is not an eegvision checkpoint.",
                         "give a model.pt written by `eegvision train`.")
    from .._checkpoint_checks import check_checkpoint_fields

    check_checkpoint_fields(path, ckpt)
    return ckpt


def load_checkpoint(path, *, model=None, data=None, device="cpu", return_info=False):
    """Rebuild the trained model from a checkpoint.

    Parameters
    ----------
    path : path
        A ``model.pt`` from :func:`save_checkpoint`.
    model : str | None
        Expected encoder name; a checkpoint of another encoder is an error.
    data : EEGImageData | None
        If given, its channels and samples must match the checkpoint's.
    device : str
        Where to put the model ('cpu', 'cuda' or 'auto').
    return_info : bool
        Also return the checkpoint's metadata (everything but the weights).

    Returns
    -------
    model : ContrastiveModel | RidgeDecoder
    info : dict
        Only with ``return_info``.
    """
    ckpt = _read_checkpoint(path)
    name = ckpt["encoder"]
    if model is not None and model != name:
        raise data_error(path, f"is a checkpoint of encoder {name!r}, not {model!r}.",
                         f"use --model {name}, or train a {model!r} model first.")
    if data is not None and (list(data.ch_names) != list(ckpt["ch_names"])
                             or data.n_times != ckpt["n_times"]):
        raise data_error(path, f"was trained on {ckpt['n_chans']} channels x {ckpt['n_times']} "
                         f"samples; the data have {data.n_channels} x {data.n_times} (or other "
                         "channel names).", "use data preprocessed like the training data.")
    if data is not None:  # same names and order; now the rate and sample times too
        from ..data.align import align_channels

        align_channels(data, (ckpt["ch_names"], np.asarray(ckpt["times"]), ckpt["sfreq"]),
                       reference_name=f"the checkpoint {path}", reorder=False,
                       fix="use data preprocessed like the training data.")
    net = _rebuild(path, ckpt)
    if name != "ridge":
        net = net.to(resolve_device(device)).eval()
    info = {k: v for k, v in ckpt.items() if k != "state_dict"}
    return (net, info) if return_info else net


def _rebuild(path, ckpt):
    from .._checkpoint_checks import check_shapes_before_building, check_weight_shapes
    from ..models.ridge import RidgeDecoder

    if ckpt["encoder"] == "ridge":
        check_weight_shapes(path, ckpt, RidgeDecoder.state_shapes(
            ckpt["n_chans"] * ckpt["n_times"], ckpt["n_features"]))
        return RidgeDecoder().load_state_dict(ckpt["state_dict"])
    config = TrainConfig.from_dict(ckpt["config"])
    check_shapes_before_building(path, ckpt, lambda: build_model(
        config, n_chans=ckpt["n_chans"], n_times=ckpt["n_times"],
        n_features=ckpt["n_features"], sfreq=ckpt["sfreq"]))
    net = build_model(config, n_chans=ckpt["n_chans"], n_times=ckpt["n_times"],
                      n_features=ckpt["n_features"], sfreq=ckpt["sfreq"])
    # every key and shape was checked above (check_shapes_before_building): this loads
    net.load_state_dict(ckpt["state_dict"])
    return net
