"""Where on the scalp, when: gradients, Grad-CAM, attention, occlusion, linear patterns.

One condition (``full``): train on all channels and samples, score, then ask
the trained model which channels and times carry the *image information* it
uses on the test set. ``method`` picks the map (``auto``: ``gradient`` for
torch encoders, ``haufe`` for ridge):

- ``gradient`` (any torch encoder): gradient x input relative to the trial
  mean. The target of trial ``i`` is its retrieval margin, the cosine
  similarity of its EEG embedding with its own image minus the mean
  similarity with the other test images; the map is
  ``mean_i dMargin_i/dx_i * (x_i - mean_j x_j)``. Subtracting the trial mean
  removes the evoked response, identical for every image and so carrying no
  image information, and the margin (not the matched similarity alone) makes
  the part of the gradient shared by all images cancel. Without both, the
  map follows where the evoked response is large (measured in
  docs/analyses.md, "Why not the classic Grad-CAM").
- ``gradcam`` (TSConv encoders ``nice``, ``nice-sa``, ``nice-ga``): a
  class-activation map at the input of ``spatial_conv`` with the same
  target, on activations relative to their trial mean, signed and with
  element-wise gradient weights:
  ``CAM_i = sum_F dMargin_i/dA_{i,F} * (A_{i,F} - mean_j A_{j,F})``. Classic
  Grad-CAM (one gradient weight per feature map, pooled over channels and
  time, then a ReLU per trial) was nearly flat over time on planted data
  and its top region was where the evoked response is: the pooled weight
  multiplies every activation alike, and the ReLU turns every activation
  that varies, the large evoked one included, into positive saliency.
  Each of the ``T'`` positions' values is divided among the input samples
  of its receptive field; the time resolution is that receptive field (75
  samples, 300 ms, for NICE at 250 Hz), so the map blurs the planted window
  by up to +-150 ms; ``gradient`` has the samples' own resolution.
- ``occlusion`` (any model, ridge and user encoders included, no
  gradients): each channel in each time bin is replaced by its test-set mean
  (again the evoked response: the input stays on the data's distribution
  while the trial's own information goes) and the drop of the retrieval
  margin is the map; see :mod:`eegvision.analysis._occlusion`.
- ``haufe`` (``ridge``): the activation pattern of Haufe et al. (2014),
  ``A = cov(X) W^T = X_c^T Y_hat / (n - 1)`` on the training EEG, reduced to
  one non-negative value per channel and sample by the norm over the feature
  dimensions (the ``cov(Y_hat)^-1`` factor is left out: with hundreds of
  outputs it is ill-conditioned and it only mixes output dimensions).
- ``attention`` (encoders with channel attention, ``nice-sa``, ``nice-ga``):
  gradient-weighted attention (Chefer et al. 2021), per trial: each edge
  ``i <- j`` of the attention matrix weighted by what it is worth to the
  margin, ``A_ij dMargin_i/dA_ij`` with the value input relative to the
  trial mean, its positive part summed over the attending channels ``i``
  and spread over the samples of channel ``j`` (see
  :func:`attention_x_gradient`). The raw attention, the column mean of the
  attention matrix, is also returned as ``attention_received`` (for every
  method run on an attention encoder), but it is no importance map: in a
  trained ``nice-sa`` the scores ``q k^T / sqrt(d_key)`` of the whole raw
  time series, with projections that start at N(0, 0.02), differ by a few
  tenths within a row, so the softmax stays close to uniform, its column
  means differ across channels by about 2 % of ``1/n_chans`` and barely
  change from one image to the next: they say how the layer mixes
  channels, not where the image information is (docs/analyses.md).

Maps are averaged in time bins (default 100 ms from 0 ms) and returned as
``(n_bins, n_chans)`` arrays: the mean EEG, the saliency (``cam``), and their
product (``eeg_x_cam``), as the NICE paper shows them. Methods with one map
per test trial (``gradient``, ``gradcam``, ``occlusion``) are also tested
against zero, channel by channel and bin by bin, with spatio-temporal cluster
correction (:mod:`eegvision.analysis._saliency_stats`).
"""

from __future__ import annotations

import sys

import numpy as np

from .._docs import fill_doc
from .._utils import _check_option, data_error
from ._base import fit_and_score
from .spec import PERMUTATIONS, POSITIVE_MS, TIME_MS, AnalysisSpec, Option

NAME = "saliency"
REFERENCE = None
DEFAULTS = {"bin_ms": 100.0, "tmin_ms": 0.0, "tmax_ms": None, "method": "auto",
            "n_permutations": 1000}
#: Saliency methods (``auto``: ``gradient`` for torch models, ``haufe`` for ridge).
METHODS = ("auto", "gradient", "gradcam", "attention", "occlusion", "haufe")
#: Where the "mean EEG" maps come from (option ``mean_eeg``): the test data, or the
#: training data as NICE's draw_pic/topo.py (the mean over all training conditions).
MEAN_EEG = ("test", "train")
#: Names of the maps, in figure row order.
#: The default training recipe (``analyze`` / ``topomap`` without ``--recipe``): one model per
#: subject, not a sweep, and the recipe the maps were checked against planted truth with.
RECIPE = "fast"

MAPS = ("eeg", "cam", "eeg_x_cam", "attention_received")
MAP_LABELS = {
    "gradcam": {"eeg": "mean EEG", "cam": "Grad-CAM", "eeg_x_cam": "EEG \u00d7 CAM",
                "attention_received": "raw attention received"},
    "gradient": {"eeg": "mean EEG", "cam": "gradient \u00d7 input", "eeg_x_cam": "EEG \u00d7 map",
                 "attention_received": "raw attention received"},
    "attention": {"eeg": "mean EEG", "cam": "attention \u00d7 gradient",
                  "eeg_x_cam": "EEG \u00d7 map", "attention_received": "raw attention received"},
    "occlusion": {"eeg": "mean EEG", "cam": "occlusion", "eeg_x_cam": "EEG \u00d7 map",
                  "attention_received": "raw attention received"},
    "haufe": {"eeg": "mean EEG", "cam": "pattern", "eeg_x_cam": "EEG \u00d7 pattern"},
}


# ------------------------------------------------------------------ protocol
def conditions(options, ref):
    """One condition, ``full``, carrying the binning, method and test options."""

    opts = {**DEFAULTS, **{k: v for k, v in options.items() if k in DEFAULTS and v is not None}}
    if float(opts["bin_ms"]) <= 0:
        raise ValueError(f"bin_ms={opts['bin_ms']}: the time bins must be positive (ms).")
    _check_option("--method", opts["method"], METHODS)
    if int(opts["n_permutations"]) < 1:
        raise ValueError(f"--n-permutations {opts['n_permutations']}: need at least 1.")
    time_bins(ref.times, ref.sfreq, opts["bin_ms"], opts["tmin_ms"], opts["tmax_ms"])  # check early
    params = {k: (None if opts[k] is None else float(opts[k])) for k in ("bin_ms", "tmin_ms",
                                                                         "tmax_ms")}
    params.update(method=str(opts["method"]), n_permutations=int(opts["n_permutations"]))
    mean_eeg = options.get("mean_eeg") or "test"
    _check_option("mean_eeg", mean_eeg, MEAN_EEG)
    if mean_eeg != "test":  # the default keeps its cache keys
        params["mean_eeg"] = mean_eeg
    return [("full", params)]


def derive(data, params):
    """The data unchanged: saliency looks at the full-data model."""
    return data


def run_condition(data, job, derived, fitted=None):
    """Fit and score on all data, then compute the saliency maps on the test set.

    Methods with per-trial maps also get a within-subject cluster test
    (``p_cluster``, sign-flips across test trials); :func:`postprocess`
    replaces it by the test across subjects when there are five or more.
    """
    from ._saliency_stats import cluster_test

    row, result = fit_and_score(derived, job, fitted)
    p = job.params
    maps = compute_saliency(result.model, derived.test, train=derived.train,
                            method=p.get("method", "auto"), bin_ms=p["bin_ms"],
                            tmin_ms=p["tmin_ms"], tmax_ms=p["tmax_ms"],
                            mean_eeg=p.get("mean_eeg", "test"))
    trials = maps.pop("per_trial", None)
    if trials is not None:
        maps["p_cluster"] = cluster_test(trials, derived.test.ch_names,
                                         n_permutations=p.get("n_permutations", 1000),
                                         seed=job.seed)
    row.update(method=maps.pop("method"), n_bins=int(len(maps["bin_edges_ms"]) - 1),
               bin_ms=p["bin_ms"])
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in maps.items()}
    return {"row": row, "arrays": arrays}


# ------------------------------------------------------------------ binning
def time_bins(times, sfreq, bin_ms=100.0, tmin_ms=0.0, tmax_ms=None):
    """Edges (ms) of consecutive ``bin_ms`` bins from ``tmin_ms`` that fit in the data."""
    end_ms = float(times[-1] * 1000 + 1000 / sfreq) if tmax_ms is None else float(tmax_ms)
    start = float(times[0] * 1000) if tmin_ms is None else float(tmin_ms)
    n = int(np.floor((end_ms - start) / float(bin_ms) + 1e-6))
    if n > len(times):  # before np.arange: a tiny bin_ms would allocate without bound
        from .._utils import option_error

        raise option_error("--bin-ms", bin_ms, f"makes {n} bins for {len(times)} samples: a bin "
                           "holds at least one sample.", f"use --bin-ms {1000 / sfreq:g} or more.")
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
def compute_saliency(model, test, *, train=None, method="auto", bin_ms=100.0, tmin_ms=0.0,
                     tmax_ms=None, batch_size=100, mean_eeg="test"):
    """Saliency maps of a trained model on test data, in time bins.

    Parameters
    ----------
    model : ContrastiveModel | RidgeDecoder | object
        From :func:`eegvision.training.fit`, or anything with ``encode_eeg`` and
        ``encode_image`` (``occlusion``). ``gradcam`` needs an encoder with a
        ``spatial_conv`` layer (the TSConv family); ``gradient`` any torch model.
    test : EEGImageData
        Test data (averaged over repetitions here).
    train : EEGImageData | None
        Training data; required for ``haufe`` (the pattern is computed on it).
    method : 'auto' | 'gradient' | 'gradcam' | 'attention' | 'occlusion' | 'haufe'
        ``auto``: ``haufe`` for a RidgeDecoder, else ``gradient``.
        ``attention`` needs an encoder with channel attention (``nice-sa``,
        ``nice-ga``: :func:`attention_x_gradient`).
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
        ``method``; ``eeg``, ``cam``, ``eeg_x_cam`` of shape ``(n_bins, n_chans)``;
        ``cam_time`` ``(n_chans, n_times)`` (binned for occlusion);
        ``bin_edges_ms`` ``(n_bins + 1,)``; ``per_trial``
        ``(n_trials, n_bins, n_chans)`` for the methods tested against zero
        (``gradient``, ``gradcam``, ``occlusion``; None otherwise); for
        attention encoders ``attention_received`` ``(n_chans,)``, the raw
        column mean of the attention weights (:func:`attention_received`);
        for occlusion ``occlusion_time`` / ``occlusion_channel`` (see
        :func:`eegvision.analysis._occlusion.occlusion_maps`).
    """
    from ..models.ridge import RidgeDecoder

    _check_option("--method", method, METHODS)
    is_ridge = isinstance(model, RidgeDecoder)
    if method == "auto":
        method = "haufe" if is_ridge else "gradient"
    if method in ("gradient", "gradcam", "attention") and is_ridge:
        raise ValueError(f"--method {method} needs a torch model; a ridge model has linear "
                         "patterns: use --method haufe or occlusion.")
    if method == "haufe" and not is_ridge:
        raise ValueError("--method haufe is the activation pattern of a linear (ridge) model: "
                         "use --model ridge, or --method gradient / gradcam / occlusion.")
    test = test.average_repetitions()
    edges = time_bins(test.times, test.sfreq, bin_ms, tmin_ms, tmax_ms)
    _check_option("mean_eeg", mean_eeg, MEAN_EEG)
    source = test
    if mean_eeg == "train":
        if train is None:
            raise ValueError("mean_eeg='train' needs the training data: pass train=.")
        source = train.average_repetitions()
    eeg_map = bin_average(source.eeg.mean(0), source.times, edges)
    if method == "occlusion":
        from ._occlusion import occlusion_maps

        occ = occlusion_maps(model, test, edges)
        cam = occ.pop("map")
        return {"method": method, "eeg": eeg_map, "cam": cam, "eeg_x_cam": eeg_map * cam,
                "cam_time": cam.T, "bin_edges_ms": edges, **occ}
    extra, trials = {}, None
    if method == "haufe":
        if train is None:
            raise ValueError("A ridge model's pattern is computed on its training data: pass train=.")
        cam = _haufe(model, train, test)
        prod = test.eeg.mean(0) * cam
    else:
        fn = {"gradient": gradient_x_input, "gradcam": grad_cam,
              "attention": attention_x_gradient}[method]
        per, attn = fn(model, test.eeg, test.features, batch_size=batch_size)
        cam, prod = per.mean(0), (test.eeg * per).mean(0)
        if method != "attention":  # kept edges are positive: zero is not attention's null
            trials = np.moveaxis(bin_average(per, test.times, edges), 0, 1)  # (n, bins, chans)
        if attn is not None:
            extra["attention_received"] = attn.mean(0)
    out = {"method": method, "eeg": eeg_map, "cam": bin_average(cam, test.times, edges),
           "eeg_x_cam": bin_average(prod, test.times, edges),
           "cam_time": cam, "bin_edges_ms": edges, "per_trial": trials}
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
        raise _no_layer(encoder, "Grad-CAM needs an encoder with a `spatial_conv` layer",
                        "use --model nice, nice-sa or nice-ga (or ridge for linear patterns).")
    return layer


def _no_layer(encoder, need, fix):
    """The error for an encoder that lacks the layer a saliency method needs."""
    name = getattr(encoder, "name", type(encoder).__name__)
    return data_error(None, f"{need}; {name!r} has none.", fix)


def _capture_input(layer):
    """Forward pre-hook that stores the layer's input; returns (store, handle)."""
    store = {}

    def hook(module, args):
        store["act"] = args[0]

    return store, layer.register_forward_pre_hook(hook)


def _device_of(net):
    """The device of ``net``'s parameters (the CPU for a module without any)."""
    import torch

    param = next(net.parameters(), None) if hasattr(net, "parameters") else None
    return torch.device("cpu") if param is None else param.device


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
    first, last = _receptive_spans(encoder, n_chans, n_times)
    centres = (first + last) / 2
    if len(centres) > 1 and not np.all(np.diff(centres) > 0):
        # a dead position: fall back to spreading the positions evenly over the input
        centres = np.linspace(0, n_times - 1, len(centres))
    return centres


def receptive_fields(encoder, n_chans, n_times):
    """Share of each input sample in each ``spatial_conv`` input position, ``(T', n_times)``.

    Row ``j`` is uniform over the samples of position ``j``'s receptive field
    (:func:`receptive_centres` finds them) and sums to one, so
    ``cam @ fields`` divides each position's CAM among the samples it saw:
    the total is kept, and samples near the epoch's edges, seen by fewer
    positions, are not given the edge positions' whole value.
    """
    first, last = _receptive_spans(encoder, n_chans, n_times)
    grid = np.arange(n_times)
    fields = ((grid >= np.floor(first)[:, None]) & (grid <= np.ceil(last)[:, None])).astype(float)
    fields[~np.isfinite(first)] = 0.0
    return fields / np.maximum(fields.sum(1, keepdims=True), 1.0)


def _receptive_spans(encoder, n_chans, n_times):
    """First and last input sample (fractional, on the ``n_times`` grid) of each position."""
    import torch

    layer = find_spatial_conv(encoder)
    device = _device_of(encoder)
    act_store, act_handle = _capture_input(layer)
    block_store, block_handle = _capture_input(_parent_of(encoder, layer))
    try:
        with torch.no_grad():
            encoder(torch.zeros(1, n_chans, n_times, device=device))
        n_pos = act_store["act"].shape[-1]
        # drawn on the CPU, so a model on a GPU probes with the same inputs
        x = torch.randn(n_pos, n_chans, n_times, generator=torch.Generator().manual_seed(0))
        encoder(x.to(device).requires_grad_(True))
        act, block_in = act_store["act"], block_store["act"]
        pos = torch.arange(n_pos, device=device)
        picked = act[pos, ..., pos]  # (n_pos, F, n_chans)
        (grad,) = torch.autograd.grad(picked.sum(), block_in)
    finally:
        act_handle.remove()
        block_handle.remove()
    weight = grad.abs().reshape(n_pos, -1, grad.shape[-1]).sum(1).double().cpu().numpy()
    n_in = weight.shape[-1]
    first, last = np.full(n_pos, np.nan), np.full(n_pos, np.nan)
    for j, w in enumerate(weight):
        nz = np.flatnonzero(w > 1e-12 * max(w.max(), 1e-300))
        if len(nz):
            first[j], last[j] = nz[0], nz[-1]
    scale = (n_times - 1) / max(n_in - 1, 1)  # the block may see another length
    return first * scale, last * scale


def retrieval_margin(eeg_emb, img_emb, index):
    """Cosine similarity of each trial with its own image minus the mean over the others.

    ``eeg_emb`` ``(B, d)`` embeddings of trials ``index`` (positions in
    ``img_emb`` ``(n, d)``, the embeddings of all test images).
    """
    import torch

    sim = torch.nn.functional.normalize(eeg_emb.float(), dim=-1) @ img_emb.T
    own = sim[torch.arange(len(index), device=sim.device), index.to(sim.device)]
    return own - (sim.sum(1) - own) / max(img_emb.shape[0] - 1, 1)


def _image_embeddings(model, features):
    import torch

    with torch.no_grad():
        img = model.encode_image(torch.as_tensor(np.asarray(features, dtype=np.float32),
                                                 device=_device_of(model)))
    return torch.nn.functional.normalize(img.float(), dim=-1)


@fill_doc
def gradient_x_input(model, eeg, features, *, batch_size=100):
    """Per-trial gradient of the retrieval margin times the input relative to the trial mean.

    Works for any torch model with ``encode_eeg`` / ``encode_image``.

    Parameters
    ----------
    model : torch.nn.Module
    %(trial_eeg)s
    %(trial_features)s

    Returns
    -------
    maps : array, shape (n_trials, n_chans, n_times)
        ``dMargin_i/dx_i * (x_i - mean_j x_j)`` (signed).
    attention : array, shape (n_trials, n_chans) | None
        Attention received per channel, for encoders that expose ``attention_weights``.
    """
    import torch

    was_training = model.training
    model.eval()
    img = _image_embeddings(model, features)
    eeg = np.asarray(eeg, dtype=np.float32)
    centre = eeg.mean(0)
    maps, attn = [], []
    try:
        for start in range(0, len(eeg), batch_size):
            x = torch.tensor(eeg[start:start + batch_size], device=img.device, requires_grad=True)
            index = torch.arange(start, start + len(x))
            margin = retrieval_margin(model.encode_eeg(x), img, index)
            (grad,) = torch.autograd.grad(margin.sum(), x)
            maps.append(grad.double().cpu().numpy() * (eeg[start:start + len(x)] - centre))
            a = _attention_received(model.encoder) if hasattr(model, "encoder") else None
            if a is not None:
                attn.append(a)
    finally:
        model.train(was_training)
    return np.concatenate(maps), (np.concatenate(attn) if attn else None)


@fill_doc
def grad_cam(model, eeg, features, *, batch_size=100):
    """Per-trial Grad-CAM of a TSConv contrastive model at the input of ``spatial_conv``.

    The target is each trial's retrieval margin (:func:`retrieval_margin`);
    the activations are taken relative to their mean over the test trials,
    weighted element-wise by the gradient, summed over feature maps, and the
    map is signed (see the module docstring for why).

    Parameters
    ----------
    model : ContrastiveModel
        ``encode_eeg`` / ``encode_image`` and an encoder with ``spatial_conv``.
    %(trial_eeg)s
    %(trial_features)s

    Returns
    -------
    cam : array, shape (n_trials, n_chans, n_times)
        Signed CAM, each position's value divided among the samples of its
        receptive field (:func:`receptive_fields`).
    attention : array, shape (n_trials, n_chans) | None
        Attention received per channel, for encoders that expose
        ``attention_weights``.
    """
    import torch

    encoder = model.encoder
    n_trials, n_chans, n_times = eeg.shape
    was_training = model.training
    model.eval()
    fields = receptive_fields(encoder, n_chans, n_times)
    img = _image_embeddings(model, features)
    store, handle = _capture_input(find_spatial_conv(encoder))
    cams, attn = [], []
    try:
        batches = [torch.as_tensor(eeg[s:s + batch_size], dtype=torch.float32, device=img.device)
                   for s in range(0, n_trials, batch_size)]
        with torch.no_grad():  # the trial-mean activation, the reference of every trial
            mean_act = sum(_act_sum(model, store, x) for x in batches) / n_trials
        start = 0
        for x in batches:
            index = torch.arange(start, start + len(x))
            start += len(x)
            margin = retrieval_margin(model.encode_eeg(x), img, index)
            act = store["act"]
            (grad,) = torch.autograd.grad(margin.sum(), act)
            # element-wise weights: a gradient pooled over channels and time (classic
            # Grad-CAM) weights every activation alike, uninformative ones included
            cam = (grad * (act - mean_act)).sum(1).detach().double().cpu().numpy()  # (B, C, T')
            cams.append(cam @ fields)  # each position's share to the samples it saw
            a = _attention_received(encoder)
            if a is not None:
                attn.append(a)
    finally:
        handle.remove()
        model.train(was_training)
    return np.concatenate(cams), (np.concatenate(attn) if attn else None)


def _act_sum(model, store, x):
    model.encode_eeg(x)
    return store["act"].sum(0, keepdim=True)


# ------------------------------------------------------------------ attention
def find_attention(encoder):
    """The channel-attention layer of an encoder: ``attention_weights`` and ``value(x)``.

    The layer computes ``x + A value(x)`` with ``A`` ``(batch, n_chans,
    n_chans)`` (rows: the channel that attends) and stores ``A`` in
    ``attention_weights`` after each forward (as
    :class:`~eegvision.models.modules.ChannelSelfAttention` and
    :class:`~eegvision.models.modules.GraphAttention` do).
    """
    layer = next((m for m in encoder.modules() if hasattr(m, "attention_weights")
                  and callable(getattr(m, "value", None))), None)
    if layer is None:
        raise _no_layer(encoder, "--method attention needs an encoder with channel attention",
                        "use --model nice-sa or nice-ga, or --method gradient / occlusion.")
    return layer


@fill_doc
def attention_x_gradient(model, eeg, features, *, batch_size=100):
    """Per-trial gradient-weighted attention (Chefer et al. 2021), spread over the samples.

    ``A`` are the weights of the channel-attention layer (row ``i``: the
    channel that attends), ``V`` its linear value map (the layer computes
    ``x + A V(x)``), ``g_i`` the gradient of the trial's retrieval margin
    (:func:`retrieval_margin`) at the layer's output channel ``i`` and
    ``x~ = x - mean_trials x`` the layer input relative to the trial mean
    (which takes out the evoked response, as in :func:`gradient_x_input`).
    The relevance of edge ``i <- j`` is ``A_ij dMargin/dA_ij = A_ij <g_i,
    V(x~_j)>``, Chefer et al.'s ``A * grad A``; as there, only its positive
    part counts (edges along which the mixing raises the margin). The map of
    channel ``j`` at sample ``t`` spreads each such edge over the samples:
    ``sum_{i: A_ij <g_i, V(x~_j)> > 0} A_ij (V^T g_i)(t) x~_j(t)``, so that
    its sum over ``t`` is exactly ``sum_i (A_ij dMargin/dA_ij)^+``, the
    attention channel ``j`` receives weighted by what it is worth to the
    margin.

    Parameters
    ----------
    model : ContrastiveModel
        ``encode_eeg`` / ``encode_image`` and an encoder with channel
        attention (:func:`find_attention`: ``nice-sa``, ``nice-ga``).
    %(trial_eeg)s
    %(trial_features)s
    batch_size : int
        Trials per backward pass.

    Returns
    -------
    maps : array, shape (n_trials, n_chans, n_times)
        Gradient-weighted attention per trial (each edge kept only where it
        is positive, so the map is not centred on zero: it is not tested
        against zero).
    attention : array, shape (n_trials, n_chans)
        The raw attention each channel receives (:func:`attention_received`).
    """
    import torch

    layer = find_attention(getattr(model, "encoder", model))
    was_training = model.training
    model.eval()
    img = _image_embeddings(model, features)
    store = {}

    def hook(module, args, output):
        store["in"], store["out"] = args[0], output

    handle = layer.register_forward_hook(hook)
    maps, attn = [], []
    try:
        eeg = np.array(eeg, dtype=np.float32)  # a writable copy: torch shares its memory
        batches = [torch.from_numpy(eeg[s:s + batch_size]).to(img.device)
                   for s in range(0, len(eeg), batch_size)]
        with torch.no_grad():  # the trial-mean input of the layer, the reference of every trial
            centre = sum(_layer_input_sum(model, store, x) for x in batches) / len(eeg)
        start = 0
        for x in batches:
            index = torch.arange(start, start + len(x))
            start += len(x)
            margin = retrieval_margin(model.encode_eeg(x), img, index)
            (grad,) = torch.autograd.grad(margin.sum(), store["out"])
            weights = layer.attention_weights
            maps.append(_edge_relevance(layer, weights, grad, store["in"].detach() - centre))
            attn.append(attention_received(weights))
    finally:
        handle.remove()
        model.train(was_training)
    return np.concatenate(maps), np.concatenate(attn)


def _edge_relevance(layer, weights, grad, centred):
    """``sum_{i: A_ij <g_i, V(x~_j)> > 0} A_ij (V^T g_i)(t) x~_j(t)`` as a numpy array."""
    import torch

    with torch.no_grad():  # dMargin/dA_ij on centred values; A > 0, so the sign is the edge's
        keep = torch.einsum("bit,bjt->bij", grad, layer.value(centred)) > 0
    v = centred.clone().requires_grad_(True)
    # the margin's gradient at the value input along the kept edges only (A fixed), not
    # through the residual nor through the queries and keys
    (through,) = torch.autograd.grad(((weights * keep) @ layer.value(v) * grad).sum(), v)
    return (through * centred).double().cpu().numpy()


def _layer_input_sum(model, store, x):
    model.encode_eeg(x)
    return store["in"].sum(0, keepdim=True)


def attention_received(weights):
    """Raw attention each channel receives: the column mean of ``A`` ``(B, C, C)`` -> ``(B, C)``.

    Kept for comparison with the NICE paper's attention maps; it is not an
    importance map (see docs/analyses.md, "Attention"): the softmax weights
    of a trained ``nice-sa`` stay close to uniform and to their random
    initialisation, and say how the layer mixes channels, not where the
    image information is. ``(B, heads, C, C)`` weights are averaged over heads.
    """
    w = weights.detach().double().cpu().numpy() if hasattr(weights, "detach") else \
        np.asarray(weights, dtype=np.float64)
    if w.ndim == 4:
        w = w.mean(1)
    return w.mean(axis=-2)


def _attention_received(encoder):
    """:func:`attention_received` of the encoder's last attention weights, or None."""
    weights = getattr(encoder, "attention_weights", None)
    if weights is None:
        weights = next((m.attention_weights for m in encoder.modules()
                        if getattr(m, "attention_weights", None) is not None), None)
    return None if weights is None else attention_received(weights)


# ------------------------------------------------------------------ outputs
def saliency_evoked(maps, info, *, kind="cam", bin_edges_ms=None, zscore=False, comment=None):
    """One map as an ``mne.EvokedArray``: channels x time bins.

    Parameters
    ----------
    maps : dict | array, shape (n_bins, n_chans)
        The dict of :func:`compute_saliency` (``kind`` picks the map) or one map.
    info : mne.Info | EEGImageData
        Channels and positions of the data (e.g. ``data.test.info``): kept,
        with the sampling rate of the bins.
    kind : 'eeg' | 'cam' | 'eeg_x_cam' | 'attention_received'
        Which map of ``maps`` (when a dict); ``attention_received`` is one
        bin over all the binned time.
    bin_edges_ms : array | None
        Bin edges; taken from ``maps['bin_edges_ms']`` when a dict.
    zscore : bool
        Z-score each bin across channels (as the figure shows them).
    comment : str | None
        The Evoked's comment (None: ``kind``).

    Returns
    -------
    mne.EvokedArray
        ``sfreq = 1000 / bin width``, ``tmin`` = centre of the first bin,
        ``comment = kind``. The values are the map's own (not volts): plot
        them with ``evoked.plot_topomap(scalings=1, units="a.u.")``.
    """
    import mne

    if isinstance(maps, dict):
        bin_edges_ms = maps["bin_edges_ms"] if bin_edges_ms is None else bin_edges_ms
        data = np.atleast_2d(np.asarray(maps[kind], dtype=np.float64))
    else:
        data = np.asarray(maps, dtype=np.float64)
    if bin_edges_ms is None:
        raise ValueError("bin_edges_ms is required when maps is an array.")
    if hasattr(info, "info") and not isinstance(info, mne.Info):
        info = info.info
    edges = np.asarray(bin_edges_ms, dtype=np.float64)
    if kind == "attention_received" and len(data) == 1:  # one span over every bin
        edges = edges[[0, -1]]
    if data.shape != (len(edges) - 1, len(info["ch_names"])):
        raise ValueError(f"map shape {data.shape} does not match {len(edges) - 1} bins x "
                         f"{len(info['ch_names'])} channels.")
    if zscore:
        data = zscore_bins(data)
    width = float(np.median(np.diff(edges)))
    evoked = mne.EvokedArray(data.T, _binned_info(info, 1000.0 / width), tmin=edges[0] / 1000,
                             comment=kind if comment is None else comment, nave=1,
                             verbose="error")
    # bin centres fall half a sample after the grid MNE rounds tmin to: shift exactly
    return evoked.shift_time(width / 2000, relative=True)


def _binned_info(info, sfreq):
    """A copy of the data's ``info`` (channels, positions) at the bins' sampling rate."""
    info = info.copy()
    with info._unlock():  # as EEGImageData.info: MNE has no public setter of sfreq
        info["sfreq"] = float(sfreq)
        info["lowpass"] = min(float(info["lowpass"]), sfreq / 2)
        info["highpass"] = min(float(info["highpass"]), info["lowpass"])
    return info


def map_evokeds(arrays, info, *, subject, seed, method):
    """``{map: Evoked}``: every map of one result, named ``map=... method=... subject=... seed=...``."""
    return {kind: saliency_evoked(arrays, info, kind=kind, comment=(
        f"map={kind} method={method} subject={subject} seed={seed}"))
        for kind in MAPS if kind in arrays}


def saliency_table(arrays, ch_names, *, subject=None, seed=None, method="gradcam"):
    """Tidy table of one result's maps: one row per (map, bin, channel).

    Columns: ``subject, seed, method, map, bin_start_ms, bin_stop_ms, channel,
    region, value, value_z`` (``value_z``: z-scored across channels per bin)
    and ``p_cluster`` (the ``cam`` map's cluster-corrected p-value, from
    ``arrays['p_cluster']``; NaN for other maps or when not tested).
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
        lo, hi = ((edges[:-1], edges[1:]) if kind != "attention_received"
                  else (edges[:1], edges[-1:]))
        if values.shape != (len(lo), len(ch_names)):
            raise ValueError(f"{kind} map has shape {values.shape}; expected "
                             f"({len(lo)}, {len(ch_names)}).")
        z = zscore_bins(values)
        n_b, n_c = values.shape
        frames.append(pd.DataFrame({
            "subject": subject, "seed": seed, "method": method, "map": kind,
            "bin_start_ms": np.repeat(lo, n_c), "bin_stop_ms": np.repeat(hi, n_c),
            "channel": np.tile(ch_names, n_b), "region": np.tile(regions, n_b),
            "value": values.ravel(), "value_z": z.ravel(),
            "p_cluster": (np.asarray(arrays["p_cluster"], dtype=np.float64).ravel()
                          if kind == "cam" and "p_cluster" in arrays else np.nan)}))
    return pd.concat(frames, ignore_index=True)


def region_summary(table):
    """Mean ``value`` and ``value_z`` per (map, bin, region), over subjects and seeds."""
    keys = ["map", "bin_start_ms", "bin_stop_ms", "region"]
    return table.groupby(keys, sort=False)[["value", "value_z"]].mean().reset_index()


def postprocess(df, results, options, context):
    """Tables ``saliency`` (per channel), ``saliency_regions`` (per region), ``occlusion``;
    the maps as MNE objects, ``saliency_<map>``: one ``mne.Evoked`` per result
    (written as ``saliency_<map>-ave.fif``).

    With five or more subjects the ``cam`` map's ``p_cluster`` is the group
    test (sign flips of the subjects' maps, each averaged over seeds) and
    column ``test`` says ``subjects``; otherwise it is each result's test
    over its test trials (``trials``), and the figure marks a sensor only
    where every result is significant.
    """
    import pandas as pd

    from ._saliency_stats import cluster_test

    tables, occlusion, names, infos, evokeds = [], [], {}, {}, {}
    for (_, row), res in zip(df.iterrows(), results, strict=True):
        arrays = res.get("arrays") or {}
        if "cam" not in arrays:
            continue
        subject = int(row["subject"])
        if subject not in names:
            test = context["data"](subject).test
            names[subject], infos[subject] = test.ch_names, test.info
        method = row.get("method", "gradcam")
        tables.append(saliency_table(arrays, names[subject], subject=subject,
                                     seed=int(row["seed"]), method=method))
        for kind, evoked in map_evokeds(arrays, infos[subject], subject=subject,
                                        seed=int(row["seed"]), method=method).items():
            evokeds.setdefault(f"saliency_{kind}", []).append(evoked)
        if "occlusion_time" in arrays:
            occlusion.append(occlusion_table(arrays, names[subject], subject, int(row["seed"])))
    if not tables:
        return {}
    table = pd.concat(tables, ignore_index=True)
    table["test"] = np.where(table["p_cluster"].notna(), "trials", "")
    cam = table[table["map"] == "cam"]
    # five subjects at least: with n, the smallest sign-flip p is 2 ** -n (1/16 for four)
    if cam["subject"].nunique() >= 5 and len(set(map(tuple, names.values()))) == 1:
        wide = cam.groupby(["subject", "bin_start_ms", "channel"], sort=False)["value"].mean()
        ch_names = list(next(iter(names.values())))
        subjects = sorted(cam["subject"].unique())
        maps = np.stack([wide.loc[s].unstack("channel").reindex(columns=ch_names).to_numpy()
                         for s in subjects])
        p = cluster_test(maps, ch_names, n_permutations=int(options.get("n_permutations") or 1000),
                         seed=0)
        bins = sorted(cam["bin_start_ms"].unique())
        lookup = {(b, c): p[i, j] for i, b in enumerate(bins) for j, c in enumerate(ch_names)}
        idx = cam.index
        table.loc[idx, "p_cluster"] = [lookup[(b, c)] for b, c in
                                       zip(cam["bin_start_ms"], cam["channel"], strict=True)]
        table.loc[idx, "test"] = "subjects"
    out = {"saliency": table, "saliency_regions": region_summary(table), **evokeds}
    if occlusion:
        out["occlusion"] = pd.concat(occlusion, ignore_index=True)
    return out


def occlusion_table(arrays, ch_names, subject, seed):
    """Tidy table of the bin-only and channel-only occlusions of one result.

    Columns ``subject, seed, occluded ('bin' or 'channel'), bin_start_ms,
    bin_stop_ms, channel, margin_drop, top1_drop, mean_rank_rise``.
    """
    import pandas as pd

    edges = np.asarray(arrays["bin_edges_ms"])
    t, c = np.asarray(arrays["occlusion_time"]), np.asarray(arrays["occlusion_channel"])
    cols = ["margin_drop", "top1_drop", "mean_rank_rise"]
    by_bin = pd.DataFrame(t, columns=cols).assign(occluded="bin", bin_start_ms=edges[:-1],
                                                  bin_stop_ms=edges[1:], channel="all")
    by_ch = pd.DataFrame(c, columns=cols).assign(occluded="channel", bin_start_ms=edges[0],
                                                 bin_stop_ms=edges[-1], channel=list(ch_names))
    out = pd.concat([by_bin, by_ch], ignore_index=True).assign(subject=subject, seed=seed)
    return out[["subject", "seed", "occluded", "bin_start_ms", "bin_stop_ms", "channel", *cols]]


# ------------------------------------------------------------------ spec
#: The options of a map's time bins and method, shared with the sources analysis.
MAP_OPTIONS = (
    Option("bin_ms", "float", DEFAULTS["bin_ms"], "width of the topomap time bins in ms",
           POSITIVE_MS, cli=True),
    Option("tmin_ms", "float", DEFAULTS["tmin_ms"], "start of the first bin (ms)", TIME_MS),
    Option("tmax_ms", "float", DEFAULTS["tmax_ms"], "end of the last bin (ms)", TIME_MS),
    Option("method", "str", DEFAULTS["method"], "map (auto: gradient for torch models, "
           "haufe for ridge)", cli=True, choices=METHODS),
)

SPEC = AnalysisSpec(
    "saliency", sys.modules[__name__], recipe=RECIPE,
    summary="Where on the scalp and when the model looks: saliency topomaps over time.",
    figure="eegvision.viz.analysis_figures:saliency",
    options=(
        *MAP_OPTIONS,
        Option("n_permutations", "int", DEFAULTS["n_permutations"], "cluster-test sign flips",
               PERMUTATIONS, cli=True),
        Option("mean_eeg", "str", "test", "where the mean-EEG maps come from (test|train)"),
    ))
