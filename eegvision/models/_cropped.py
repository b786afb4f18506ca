"""TSConv's fused path for zero-padded inputs: compute only the steps that see data.

A time-window condition sets every sample outside the window to zero (the
temporal analysis, as NICE). TSConv's moving average of such an input is
zero outside a short stretch, so every TSConv step whose 25-tap window lies
entirely in the zeros sees ``p = 0``: its temporal conv output is the bias,
after BatchNorm and ELU a constant, and after the spatial conv the same
vector for every trial. :class:`CropCache` keeps only the samples that are not
zero (a 100-ms window at 250 Hz: 25 of 250 samples) and :func:`cropped_tsconv`
runs the chunked conv-ELU-spatial product (:mod:`._fused`) on the active steps
only, then fills the other steps with that constant, computed by autograd
from the same folded bias, so gradients reach every parameter as before.

BatchNorm's batch statistics still count every window: the zero windows add
nothing to the sums of ``p`` and ``p p^T`` but count in their number, so the
statistics, the running averages and hence the map are those of the full
input, up to float rounding (tests compare both).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._workspace import scratch
from ._fused_kernel import (
    CACHE_MAX_BYTES,
    PooledBatch,
    _average64,
    _batchnorm_fold,
    _compute_dtype,
    _ConvEluSpatial,
    chunk_trials,
    plain_tsconv,
    temporal_parts,
)

#: Use the crop where it applies. Only benchmarks switch it off, to time the uncropped path
#: (``benchmarks/bench_sweep.py``); results with and without it agree to float rounding.
ENABLED = True


def support(x, window=None):
    """``(first, stop)``: the samples of ``x`` ``(trials, chans, times)`` that are non-zero anywhere.

    With ``window`` ``(start, stop)``, of ``x`` with every sample outside it
    taken as zero (only the window's samples are read).
    """
    start = 0
    if window is not None:
        start = window[0]
        x = x[:, :, window[0]:window[1]]
    nonzero = torch.nonzero(torch.linalg.vector_norm(x, ord=float("inf"), dim=(0, 1)))[:, 0]
    if len(nonzero) == 0:
        return 0, 0
    return start + int(nonzero[0]), start + int(nonzero[-1]) + 1


def active_steps(tsconv, first, stop):
    """``(first_step, n_active)``: TSConv steps whose window can see samples ``[first, stop)``."""
    kernel, pool, stride, n_steps = tsconv.kernel, tsconv.pool_width, tsconv.stride, tsconv.n_steps
    if stop <= first:
        return 0, 0
    lo_avg, hi_avg = first - pool + 1, stop - 1  # moving-average entries that can be non-zero
    s0 = max(0, -(-(lo_avg - kernel + 1) // stride))
    s1 = min(n_steps - 1, hi_avg // stride)
    return s0, max(0, s1 - s0 + 1)


def crop_cache(encoder, x, dtype, budget=CACHE_MAX_BYTES, window=None):
    """A :class:`CropCache` of ``x`` for ``encoder`` when the crop saves steps, else None.

    It applies where :func:`~._fused.window_cache` does (a plain TSConv on the
    CPU, fast layout) and when some TSConv steps see only zeros. The moving
    average is stored when it takes at most ``budget`` bytes; otherwise each
    batch recomputes it from the kept samples.

    With ``window`` ``(start, stop)``, ``x`` is the unmasked EEG and the input
    is ``x`` with every sample outside the window taken as zero (a pending
    :meth:`~eegvision.data.EEGImageData.mask_time`): the cache is the one the
    masked copy would give, to the bit, and keeps a view of ``x`` instead of
    a copy of its samples.
    """
    tsconv = plain_tsconv(encoder)
    if (not ENABLED or tsconv is None or tsconv.layout != "fast" or x.device.type != "cpu"
            or x.ndim != 3 or x.shape[1:] != (tsconv.n_chans, tsconv.n_times)):
        return None
    first, stop = support(x, window)
    s0, n_active = active_steps(tsconv, first, stop)
    if n_active == 0 or n_active == tsconv.n_steps:
        return None
    return CropCache(tsconv, x, dtype or tsconv.temporal_conv.weight.dtype, s0, n_active, budget,
                     samples=(first, stop), share=window is not None)


class CroppedBatch(PooledBatch):
    """A :class:`~._fused.PooledBatch` of the active steps only (see :func:`cropped_tsconv`)."""

    cropped = True

    def __init__(self, average, mean, cov, first_step, n_active):
        super().__init__(average, mean, cov)
        self.first_step, self.n_active = first_step, n_active


class CropCache:
    """The non-zero samples of a data set and its per-trial window sums, for :class:`CroppedBatch`.

    Parameters
    ----------
    tsconv : TSConv
    x : torch.Tensor
        ``(n_trials, n_chans, n_times)`` EEG, zero outside a stretch of samples.
    dtype : torch.dtype
        Dtype of the averaged signal handed to the fused product.
    first_step, n_active : int
        The active TSConv steps (:func:`active_steps`).
    budget : int
        Largest size of what is stored besides the kept samples, in bytes:
        first each trial's window sums and products (the BatchNorm moments,
        float64), then the moving average. What does not fit is recomputed
        from the kept samples for each batch, by the same per-trial
        operations, so the results do not depend on the budget.
    samples : (int, int) | None
        ``(first, stop)``: the samples of ``x`` that can be non-zero
        (:func:`support`, computed when None); ``x`` is taken as zero
        outside them.
    share : bool
        Keep a view of ``x``'s samples instead of a copy (``x`` is the
        unmasked EEG, which outlives the cache anyway).
    """

    def __init__(self, tsconv, x, dtype, first_step, n_active, budget=CACHE_MAX_BYTES,
                 samples=None, share=False):
        n_trials, n_chans, _ = x.shape
        kernel, pool, stride = tsconv.kernel, tsconv.pool_width, tsconv.stride
        self.first_step, self.n_active, self.dtype = first_step, n_active, dtype
        self.n_chans, self.n_steps, self.pool = n_chans, tsconv.n_steps, pool
        self.start = stride * first_step  # first input sample the active steps read
        self.length = stride * (n_active - 1) + kernel + pool - 1
        first, stop = support(x) if samples is None else samples
        lo, hi = max(first, self.start), min(stop, self.start + self.length)
        self.kept = x[:, :, lo:hi]  # the only samples that are not zero
        if not share:
            self.kept = self.kept.clone()
        self.offset = lo - self.start
        self.kernel, self.stride = kernel, stride
        n_avg = self.length - pool + 1
        size = n_trials * n_chans * n_avg * torch.empty((), dtype=dtype).element_size()
        moments = n_trials * (kernel + kernel * kernel) * 8
        self.average = self.sums = self.products = None
        if moments <= budget:
            self.sums = torch.empty(n_trials, kernel, dtype=torch.float64)
            self.products = torch.empty(n_trials, kernel, kernel, dtype=torch.float64)
            if moments + size <= budget:
                self.average = torch.empty(n_trials, n_chans, n_avg, dtype=dtype)
        chunk = chunk_trials(n_active, n_chans, tsconv.n_filters)
        for start in range(0, n_trials if self.sums is not None else 0, chunk):
            rows = torch.arange(start, min(n_trials, start + chunk))
            avg = self._average64(rows)
            if self.average is not None:
                self.average[rows] = avg.to(dtype)
            sums, products = self._moments(avg)
            self.sums[rows] = sums
            self.products[start:start + len(rows)] = products

    def stored_bytes(self):
        """Bytes stored besides the kept samples (what counts against the budget)."""
        return sum(t.numel() * t.element_size()
                   for t in (self.average, self.sums, self.products) if t is not None)

    def _moments(self, avg):
        """Per-trial sums and products of the TSConv windows of ``avg`` (float64)."""
        win = avg.unfold(-1, self.kernel, self.stride).reshape(len(avg), -1, self.kernel)
        return win.sum(dim=1), torch.bmm(win.transpose(1, 2), win)

    def _average64(self, rows):
        padded = torch.zeros(len(rows), self.n_chans, self.length, dtype=self.kept.dtype)
        padded[:, :, self.offset:self.offset + self.kept.shape[-1]] = self.kept[rows]
        return _average64(padded.view(-1, self.length), self.pool).view(len(rows), self.n_chans, -1)

    def batch(self, idx, owner=None):
        """The :class:`CroppedBatch` of trials ``idx``; statistics count every step's windows."""
        idx = idx.cpu()
        if self.average is not None:
            out = scratch(owner, "batch", (len(idx),) + tuple(self.average.shape[1:]), self.dtype)
            average = torch.index_select(self.average, 0, idx, out=out)
        else:
            avg = self._average64(idx)
            average = avg.to(self.dtype)
        if self.sums is not None:
            sums, products = self.sums[idx], self.products[idx]
        else:  # not stored: the average is not either, so ``avg`` is this batch's
            sums, products = self._moments(avg)
        n_win = len(idx) * self.n_chans * self.n_steps  # zero windows count, add nothing
        mean = sums.sum(dim=0) / n_win
        cov = products.sum(dim=0) / n_win - torch.outer(mean, mean)
        return CroppedBatch(average, mean, cov, self.first_step, self.n_active)


def cropped_tsconv(tsconv, x):
    """TSConv's fused map for a :class:`CroppedBatch`: ``(B, F, 1, n_steps)`` as :func:`~._fused.fused_tsconv`."""
    n_trials, n_chans, n_filters = len(x), tsconv.n_chans, tsconv.n_filters
    stride, n_steps = tsconv.stride, tsconv.n_steps
    s0, n_active = x.first_step, x.n_active
    chunk = chunk_trials(n_active, n_chans, n_filters)
    owner = tsconv if torch.is_grad_enabled() else None
    w, b, bn, batch_stats = temporal_parts(tsconv)
    low = _compute_dtype(torch.float32)
    m = x.average.to(low or w.dtype)
    mean_p, cov_p = (x.mean, x.cov) if batch_stats else (None, None)
    w_fold, b_fold = _batchnorm_fold(bn, w, b, mean_p, cov_p, n_trials * n_chans * n_steps)
    spatial = tsconv.spatial_conv
    v = spatial.weight[..., 0].permute(2, 1, 0).reshape(n_chans * n_filters, -1)
    v_bias = spatial.bias if spatial.bias is not None else v.new_zeros(v.shape[1])
    with torch.autocast("cpu", enabled=False):
        active = _ConvEluSpatial.apply(m, w_fold, b_fold, v, v_bias, stride, n_active, chunk,
                                       owner, low)
        # a window of zeros: the conv gives the (folded) bias, in the product's dtype
        dt = low or w.dtype
        act = F.elu(b_fold.to(dt).to(w.dtype)).to(dt).repeat(n_chans)
        const = (act[None] @ v.to(dt) + v_bias.to(dt)).to(w.dtype)
    g = v.shape[1]
    out = torch.cat([const.expand(n_trials, s0, g), active.view(n_trials, n_active, g),
                     const.expand(n_trials, n_steps - s0 - n_active, g)], dim=1)
    return out.permute(0, 2, 1).unsqueeze(2)
