"""Where on the scalp, when: Grad-CAM, attention and linear activation patterns.

One condition (``full``): train on all channels and samples, score, then ask
the trained model which channels and times drive it on the test set.

- TSConv encoders (``nice``, ``nice-sa``, ``nice-ga``): Grad-CAM at the input
  of ``spatial_conv`` (activations ``(B, F, n_chans, T')`` after the temporal
  block). The target of each test trial is the cosine similarity of its EEG
  embedding with its own image embedding (projected as the model does).
  ``CAM = ReLU(sum_F mean(dTarget/dA_F) * A_F)``; each of the ``T'`` positions
  is placed at the centre of its receptive field in the input and the CAM is
  interpolated onto the sample times.
- ``nice-sa`` / ``nice-ga``: also the attention each channel receives (the
  column mean of the channel-attention matrix), averaged over test trials.
- ``ridge``: the activation pattern of Haufe et al. (2014),
  ``A = cov(X) W^T = X_c^T Y_hat / (n - 1)`` on the training EEG, reduced to
  one non-negative value per channel and sample by the norm over the feature
  dimensions (the ``cov(Y_hat)^-1`` factor is left out: with hundreds of
  outputs it is ill-conditioned and it only mixes output dimensions).

Maps are averaged in time bins (default 100 ms from 0 ms) and returned as
``(n_bins, n_chans)`` arrays: the mean EEG, the saliency (``cam``), and their
product (``eeg_x_cam``), as the NICE paper shows them.
"""

from __future__ import annotations

import numpy as np

from .._utils import _check_option, data_error
from ._base import fit_and_score

NAME = "saliency"
REFERENCE = None
DEFAULTS = {"bin_ms": 100.0, "tmin_ms": 0.0, "tmax_ms": None}
#: Where the "mean EEG" maps come from (option ``mean_eeg``): the test data, or the
#: training data as NICE's draw_pic/topo.py (the mean over all training conditions).
MEAN_EEG = ("test", "train")
#: Names of the maps, in figure row order.
MAPS = ("eeg", "cam", "eeg_x_cam", "attention")
MAP_LABELS = {
    "gradcam": {"eeg": "mean EEG", "cam": "Grad-CAM", "eeg_x_cam": "EEG \u00d7 CAM",
                "attention": "attention"},
    "haufe": {"eeg": "mean EEG", "cam": "pattern", "eeg_x_cam": "EEG \u00d7 pattern"},
}


# ------------------------------------------------------------------ protocol
def conditions(options, ref):
    """One condition, ``full``, carrying the binning options."""
    opts = {**DEFAULTS, **{k: v for k, v in options.items() if k in DEFAULTS and v is not None}}
    if float(opts["bin_ms"]) <= 0:
        raise ValueError(f"bin_ms={opts['bin_ms']}: the time bins must be positive (ms).")
    time_bins(ref.times, ref.sfreq, opts["bin_ms"], opts["tmin_ms"], opts["tmax_ms"])  # check early
    params = {k: (None if v is None else float(v)) for k, v in opts.items()}
    mean_eeg = options.get("mean_eeg") or "test"
    _check_option("mean_eeg", mean_eeg, MEAN_EEG)
    if mean_eeg != "test":  # the default keeps its cache keys
        params["mean_eeg"] = mean_eeg
    return [("full", params)]


def derive(data, params):
    """The data unchanged: saliency looks at the full-data model."""
    return data


def run_condition(data, job):
    """Fit and score on all data, then compute the saliency maps on the test set."""
    derived = derive(data, job.params)
    row, result = fit_and_score(derived, job)
    maps = compute_saliency(result.model, derived.test, train=derived.train,
                            bin_ms=job.params["bin_ms"], tmin_ms=job.params["tmin_ms"],
                            tmax_ms=job.params["tmax_ms"],
                            mean_eeg=job.params.get("mean_eeg", "test"))
    row.update(method=maps.pop("method"), n_bins=int(len(maps["bin_edges_ms"]) - 1),
               bin_ms=job.params["bin_ms"])
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in maps.items()}
    return {"row": row, "arrays": arrays}


# ------------------------------------------------------------------ binning
def time_bins(times, sfreq, bin_ms=100.0, tmin_ms=0.0, tmax_ms=None):
    """Edges (ms) of consecutive ``bin_ms`` bins from ``tmin_ms`` that fit in the data."""
    end_ms = float(times[-1] * 1000 + 1000 / sfreq) if tmax_ms is None else float(tmax_ms)
    start = float(times[0] * 1000) if tmin_ms is None else float(tmin_ms)
    n = int(np.floor((end_ms - start) / float(bin_ms) + 1e-6))
    if n < 1:
        raise ValueError(f"No {bin_ms:g}-ms bin fits in {start:g}-{end_ms:g} ms "
                         f"(data span {times[0] * 1000:g}-{times[-1] * 1000:g} ms).")
    return start + float(bin_ms) * np.arange(n + 1)


def bin_average(values, times, edges_ms):
    """Average ``values (..., n_times)`` in the bins ``[lo, hi)`` -> ``(n_bins, ...)``."""
    t_ms = np.asarray(times) * 1000
    half = 1e-6
    out = []
    for lo, hi in zip(edges_ms[:-1], edges_ms[1:], strict=True):
        mask = (t_ms >= lo - half) & (t_ms < hi - half)
        if not mask.any():
            raise ValueError(f"The bin {lo:g}-{hi:g} ms holds no sample.")
        out.append(values[..., mask].mean(-1))
    return np.stack(out)


def zscore_bins(maps, axis=-1):
    """Z-score each bin across channels (constant bins become zeros)."""
    maps = np.asarray(maps, dtype=np.float64)
    sd = maps.std(axis=axis, keepdims=True)
    return (maps - maps.mean(axis=axis, keepdims=True)) / np.where(sd > 0, sd, 1.0)


# ------------------------------------------------------------------ computing
def compute_saliency(model, test, *, train=None, bin_ms=100.0, tmin_ms=0.0, tmax_ms=None,
                     batch_size=100, mean_eeg="test"):
    """Saliency maps of a trained model on test data, in time bins.

    Parameters
    ----------
    model : ContrastiveModel | RidgeDecoder
        From :func:`eegvision.train.fit`. Torch models need an encoder with a
        ``spatial_conv`` layer (the TSConv family).
    test : EEGImageData
        Test data (averaged over repetitions here).
    train : EEGImageData | None
        Training data; required for a ridge model (the pattern is computed on it).
    bin_ms, tmin_ms, tmax_ms : float
        Time bins (ms): ``bin_ms`` wide from ``tmin_ms`` to ``tmax_ms`` (end of data).
    batch_size : int
        Test trials per backward pass.
    mean_eeg : 'test' | 'train'
        Data of the ``eeg`` maps: the test set, or (as NICE's topo.py) the
        mean of the training data (needs ``train``). ``eeg_x_cam`` always
        multiplies the test trials by their CAM.

    Returns
    -------
    dict
        ``method`` ('gradcam' or 'haufe'); ``eeg``, ``cam``, ``eeg_x_cam`` of
        shape ``(n_bins, n_chans)``; ``cam_time`` ``(n_chans, n_times)``;
        ``bin_edges_ms`` ``(n_bins + 1,)``; and for attention encoders
        ``attention`` ``(n_chans,)``.
    """
    from ..models.ridge import RidgeDecoder

    test = test.average_repetitions()
    edges = time_bins(test.times, test.sfreq, bin_ms, tmin_ms, tmax_ms)
    if isinstance(model, RidgeDecoder):
        if train is None:
            raise ValueError("A ridge model's pattern is computed on its training data: pass train=.")
        cam, prod, extra = _haufe(model, train, test), None, {}
        method = "haufe"
    else:
        cam, prod, extra = _gradcam(model, test, batch_size)
        method = "gradcam"
    if prod is None:
        prod = test.eeg.mean(0) * cam
    _check_option("mean_eeg", mean_eeg, MEAN_EEG)
    source = test
    if mean_eeg == "train":
        if train is None:
            raise ValueError("mean_eeg='train' needs the training data: pass train=.")
        source = train.average_repetitions()
    out = {"method": method, "eeg": bin_average(source.eeg.mean(0), source.times, edges),
           "cam": bin_average(cam, test.times, edges),
           "eeg_x_cam": bin_average(prod, test.times, edges),
           "cam_time": cam, "bin_edges_ms": edges}
    out.update(extra)
    return out


def haufe_pattern(model, train):
    """Activation pattern ``cov(X) W^T`` of a fitted RidgeDecoder, ``(n_chans, n_times, d)``.

    Computed as ``X_c^T Y_hat_c / (n - 1)`` on the training EEG, so the
    ``p x p`` covariance is never formed.
    """
    data = train.average_repetitions()
    x = data.eeg.reshape(data.n_trials, -1).astype(np.float64)
    x -= x.mean(0)
    y = model.predict(data.eeg).astype(np.float64)
    y -= y.mean(0)
    pattern = x.T @ y / max(1, len(x) - 1)
    return pattern.reshape(data.n_channels, data.n_times, -1)


def _haufe(model, train, test):
    if (train.n_channels, train.n_times) != (test.n_channels, test.n_times):
        raise data_error(train.meta.get("source", "training data"),
                         f"training EEG is {train.n_channels} x {train.n_times} but test EEG is "
                         f"{test.n_channels} x {test.n_times}.", "use the same channels and samples.")
    return np.linalg.norm(haufe_pattern(model, train), axis=-1)


# ------------------------------------------------------------------ Grad-CAM
def find_spatial_conv(encoder):
    """The ``spatial_conv`` layer of a TSConv encoder (the conv across channels)."""
    layer = getattr(encoder, "spatial_conv", None)
    if layer is None:
        layer = next((m for name, m in encoder.named_modules()
                      if name.split(".")[-1] == "spatial_conv"), None)
    if layer is None:
        name = getattr(encoder, "name", type(encoder).__name__)
        raise data_error(None, f"Grad-CAM needs an encoder with a `spatial_conv` layer; "
                         f"{name!r} has none.",
                         "use --model nice, nice-sa or nice-ga (or ridge for linear patterns).")
    return layer


def _capture_input(layer):
    """Forward pre-hook that stores the layer's input; returns (store, handle)."""
    store = {}

    def hook(module, args):
        store["act"] = args[0]

    return store, layer.register_forward_pre_hook(hook)


def _parent_of(root, layer):
    """The module that holds ``layer`` as a direct child (``root`` if none)."""
    return next((m for m in root.modules() if any(c is layer for c in m.children())), root)


def receptive_centres(encoder, n_chans, n_times):
    """Input sample (fractional index) at the centre of each ``spatial_conv`` input position.

    Each of the ``T'`` positions is back-propagated to the input of the block
    that holds ``spatial_conv`` (so attention in front of it, which mixes
    time, does not blur the answer), one batch copy per position; the centre
    is the midpoint of the samples with a non-zero gradient. This holds for
    any kernel, stride or pooling.
    """
    import torch

    layer = find_spatial_conv(encoder)
    act_store, act_handle = _capture_input(layer)
    block_store, block_handle = _capture_input(_parent_of(encoder, layer))
    try:
        with torch.no_grad():
            encoder(torch.zeros(1, n_chans, n_times))
        n_pos = act_store["act"].shape[-1]
        x = torch.randn(n_pos, n_chans, n_times, generator=torch.Generator().manual_seed(0))
        encoder(x.requires_grad_(True))
        act, block_in = act_store["act"], block_store["act"]
        picked = act[torch.arange(n_pos), ..., torch.arange(n_pos)]  # (n_pos, F, n_chans)
        (grad,) = torch.autograd.grad(picked.sum(), block_in)
    finally:
        act_handle.remove()
        block_handle.remove()
    weight = grad.abs().reshape(n_pos, -1, grad.shape[-1]).sum(1).double().numpy()
    n_in = weight.shape[-1]
    centres = np.empty(n_pos)
    for j, w in enumerate(weight):
        nz = np.flatnonzero(w > 1e-12 * max(w.max(), 1e-300))
        centres[j] = (nz[0] + nz[-1]) / 2 if len(nz) else np.nan
    centres *= (n_times - 1) / max(n_in - 1, 1)  # the block may see another length
    if n_pos > 1 and not np.all(np.diff(centres) > 0):
        # a dead position: fall back to spreading the positions evenly over the input
        centres = np.linspace(0, n_times - 1, n_pos)
    return centres


def grad_cam(model, eeg, features, *, batch_size=100):
    """Per-trial Grad-CAM of a TSConv contrastive model at the input of ``spatial_conv``.

    Parameters
    ----------
    model : ContrastiveModel
        ``encode_eeg`` / ``encode_image`` and an encoder with ``spatial_conv``.
    eeg : array, shape (n_trials, n_chans, n_times)
    features : array, shape (n_trials, d)
        Each trial's own image feature (the target is the cosine similarity).

    Returns
    -------
    cam : array, shape (n_trials, n_chans, n_times)
        Non-negative CAM interpolated onto the samples.
    attention : array, shape (n_trials, n_chans) | None
        Attention received per channel, for encoders that expose
        ``attention_weights``.
    """
    import torch

    encoder = model.encoder
    n_trials, n_chans, n_times = eeg.shape
    was_training = model.training
    model.eval()
    centres = receptive_centres(encoder, n_chans, n_times)
    store, handle = _capture_input(find_spatial_conv(encoder))
    cams, attn = [], []
    try:
        for start in range(0, n_trials, batch_size):
            x = torch.as_tensor(eeg[start:start + batch_size], dtype=torch.float32)
            with torch.no_grad():
                img = torch.nn.functional.normalize(
                    model.encode_image(torch.as_tensor(features[start:start + batch_size])).float(),
                    dim=-1)
            emb = torch.nn.functional.normalize(model.encode_eeg(x).float(), dim=-1)
            act = store["act"]
            (grad,) = torch.autograd.grad((emb * img).sum(), act)
            weights = grad.mean(dim=(2, 3), keepdim=True)  # one weight per feature map
            cam = torch.relu((weights * act).sum(1)).detach().double().numpy()  # (B, C, T')
            cams.append(_to_samples(cam, centres, n_times))
            a = _attention_received(encoder)
            if a is not None:
                attn.append(a)
    finally:
        handle.remove()
        model.train(was_training)
    return np.concatenate(cams), (np.concatenate(attn) if attn else None)


def _to_samples(cam, centres, n_times):
    """Interpolate ``(B, C, T')`` at sample positions ``centres`` onto every sample."""
    if cam.shape[-1] == 1:
        return np.repeat(cam, n_times, axis=-1)
    grid = np.arange(n_times)
    flat = cam.reshape(-1, cam.shape[-1])
    out = np.stack([np.interp(grid, centres, row) for row in flat])
    return out.reshape(cam.shape[:-1] + (n_times,))


def _attention_received(encoder):
    """Column mean of the last channel-attention matrix ``(B, C, C)`` -> ``(B, C)``."""
    weights = getattr(encoder, "attention_weights", None)
    if weights is None:
        weights = next((m.attention_weights for m in encoder.modules()
                        if getattr(m, "attention_weights", None) is not None), None)
    if weights is None:
        return None
    w = weights.detach().double().cpu().numpy()
    if w.ndim == 4:  # (B, heads, C, C): average the heads
        w = w.mean(1)
    return w.mean(axis=-2)


def _gradcam(model, test, batch_size):
    cam, attn = grad_cam(model, test.eeg, test.features, batch_size=batch_size)
    extra = {} if attn is None else {"attention": attn.mean(0)}
    return cam.mean(0), (test.eeg * cam).mean(0), extra


# ------------------------------------------------------------------ outputs
def saliency_evoked(maps, info, *, kind="cam", bin_edges_ms=None, zscore=False):
    """One map as an ``mne.EvokedArray``: channels x time bins.

    Parameters
    ----------
    maps : dict | array, shape (n_bins, n_chans)
        The dict of :func:`compute_saliency` (``kind`` picks the map) or one map.
    info : mne.Info | EEGImageData
        Channels and positions of the data (e.g. ``data.test.info``).
    kind : 'eeg' | 'cam' | 'eeg_x_cam'
        Which map of ``maps`` (when a dict).
    bin_edges_ms : array | None
        Bin edges; taken from ``maps['bin_edges_ms']`` when a dict.
    zscore : bool
        Z-score each bin across channels (as the figure shows them).

    Returns
    -------
    mne.EvokedArray
        ``sfreq = 1000 / bin width``, ``tmin`` = centre of the first bin,
        ``comment = kind``.
    """
    import mne

    from ..data.montage import make_info

    if isinstance(maps, dict):
        bin_edges_ms = maps["bin_edges_ms"] if bin_edges_ms is None else bin_edges_ms
        data = np.asarray(maps[kind], dtype=np.float64)
    else:
        data = np.asarray(maps, dtype=np.float64)
    if bin_edges_ms is None:
        raise ValueError("bin_edges_ms is required when maps is an array.")
    if hasattr(info, "info") and not isinstance(info, mne.Info):
        info = info.info
    edges = np.asarray(bin_edges_ms, dtype=np.float64)
    if data.shape != (len(edges) - 1, len(info["ch_names"])):
        raise ValueError(f"map shape {data.shape} does not match {len(edges) - 1} bins x "
                         f"{len(info['ch_names'])} channels.")
    if zscore:
        data = zscore_bins(data)
    width = float(np.median(np.diff(edges)))
    new_info = make_info(info["ch_names"], 1000.0 / width)
    evoked = mne.EvokedArray(data.T, new_info, tmin=edges[0] / 1000, comment=kind, nave=1,
                             verbose="error")
    # bin centres fall half a sample after the grid MNE rounds tmin to: shift exactly
    return evoked.shift_time(width / 2000, relative=True)


def saliency_table(arrays, ch_names, *, subject=None, seed=None, method="gradcam"):
    """Tidy table of one result's maps: one row per (map, bin, channel).

    Columns: ``subject, seed, method, map, bin_start_ms, bin_stop_ms, channel,
    region, value, value_z`` (``value_z``: z-scored across channels per bin).
    Attention has one bin spanning all the binned time.
    """
    import pandas as pd

    from ..data.montage import channel_region

    edges = np.asarray(arrays["bin_edges_ms"])
    regions = [channel_region(c) or "other" for c in ch_names]
    frames = []
    for kind in MAPS:
        if kind not in arrays:
            continue
        values = np.atleast_2d(np.asarray(arrays[kind], dtype=np.float64))
        lo, hi = ((edges[:-1], edges[1:]) if kind != "attention" else (edges[:1], edges[-1:]))
        if values.shape != (len(lo), len(ch_names)):
            raise ValueError(f"{kind} map has shape {values.shape}; expected "
                             f"({len(lo)}, {len(ch_names)}).")
        z = zscore_bins(values)
        n_b, n_c = values.shape
        frames.append(pd.DataFrame({
            "subject": subject, "seed": seed, "method": method, "map": kind,
            "bin_start_ms": np.repeat(lo, n_c), "bin_stop_ms": np.repeat(hi, n_c),
            "channel": np.tile(ch_names, n_b), "region": np.tile(regions, n_b),
            "value": values.ravel(), "value_z": z.ravel()}))
    return pd.concat(frames, ignore_index=True)


def region_summary(table):
    """Mean ``value_z`` per (map, bin, region), averaged over subjects and seeds."""
    keys = ["map", "bin_start_ms", "bin_stop_ms", "region"]
    return table.groupby(keys, sort=False)["value_z"].mean().reset_index()


def postprocess(df, results, options, context):
    """Tables ``saliency`` (per channel) and ``saliency_regions`` (per region)."""
    import pandas as pd

    from ..data.things import load_subject

    tables = []
    for (_, row), res in zip(df.iterrows(), results, strict=True):
        arrays = res.get("arrays") or {}
        if "cam" not in arrays:
            continue
        ch_names = load_subject(context["root"], int(row["subject"]), layout=context["layout"],
                                targets=context["targets"]).test.ch_names
        tables.append(saliency_table(arrays, ch_names, subject=int(row["subject"]),
                                     seed=int(row["seed"]), method=row.get("method", "gradcam")))
    if not tables:
        return {}
    table = pd.concat(tables, ignore_index=True)
    return {"saliency": table, "saliency_regions": region_summary(table)}
