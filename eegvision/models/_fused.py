"""TSConv's temporal block fused for the CPU: moving average, conv, BatchNorm, ELU, spatial conv.

The straightforward TSConv materialises a ``(batch, 40, n_chans, n_steps)``
tensor (90 M numbers for a batch of 1000 trials) several times per step:
conv output, BatchNorm output, ELU output, and as many again in the
backward pass. On a CPU each of those passes runs at memory speed, and
together they, not the arithmetic, set the pace. This module computes the
same map without them:

1. BatchNorm in training mode is an affine map with the batch's mean and
   variance of the conv output ``z = w . p + b`` (``p``: the 25-sample
   windows of the moving-averaged signal). Both follow from the first two
   moments of the windows (for the plain encoder, a function of the data
   alone):
   ``mean(z) = w . E[p] + b`` and ``var(z) = w^T Cov(p) w``. So the
   BatchNorm folds into the conv weights (``w' = w * gamma / sd``) exactly,
   and its gradient reaches ``w``, ``gamma`` and ``beta`` through these small
   formulas (autograd on 25 x 25 matrices).
2. The folded conv, ELU and the spatial conv then run trial chunk by trial
   chunk (a few MB each, so they stay in cache); only the ELU output is kept
   for the backward pass, which also runs chunk by chunk.

It applies on the CPU when nobody hooks the layers (Grad-CAM hooks the
spatial conv); otherwise :class:`~eegvision.models.modules.TSConv` takes
its unfused path. When the input itself needs a gradient (attention in front
of TSConv), the moving average and the window moments are computed with
differentiable torch operations and the fused backward also returns the
input gradient. Tests check every path against the reference layout.

Under CPU bfloat16 autocast (``amp`` on CPUs with native bf16), the averaged
signal, the kept activations and the chunk products are bf16 with float32
accumulation; the window moments, hence BatchNorm's statistics, are still
computed in float64 from the float32 input. bf16 keeps about 3 significant
digits, so, as with any bf16 training, inputs should be roughly centred
(baseline-corrected EEG is); float32 and float64 ignore the flag.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .._workspace import scratch
from ._fused_kernel import (  # noqa: F401  (_elu_, _Windows ...: re-exported for the tests)
    _LOG2E,
    CACHE_MAX_BYTES,
    CHUNK_ELEMENTS,
    PooledBatch,
    _accumulate,
    _average64,
    _batchnorm_fold,
    _compute_dtype,
    _ConvEluSpatial,
    _elu_,
    _Windows,
    chunk_trials,
    plain_tsconv,
    temporal_parts,
)


def _has_hooks(module):
    return bool(module._forward_hooks or module._forward_pre_hooks or module._backward_hooks
                or module._backward_pre_hooks)


def can_fuse(tsconv, x):
    """Whether :func:`fused_tsconv` may replace TSConv's modules for input ``x``."""
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
        return False
    if torch.compiler.is_compiling() or torch.jit.is_scripting():
        return False
    return not any(_has_hooks(m) for m in (tsconv.temporal_conv, tsconv.pool, tsconv.bn1,
                                           tsconv.spatial_conv))


def _window_index(n_steps, kernel, stride):
    """``(n_steps, kernel)`` sample index of every window tap."""
    return stride * torch.arange(n_steps)[:, None] + torch.arange(kernel)


def moving_average(x, width, chunk, n_steps=None, kernel=None, stride=None, owner=None,
                   dtype=None):
    """Moving average (width ``width``, stride 1) of ``x`` ``(B, C, T)``, optionally with window moments.

    The average is a float64 cumulative-sum difference per chunk of trials,
    so a large DC offset costs no precision. With ``n_steps``, ``kernel``
    and ``stride`` also returns the mean ``(kernel,)`` and covariance
    ``(kernel, kernel)`` (float64) of all strided windows of the averaged
    signal over trials, channels and steps, from a per-row centred Gram
    matrix (so offsets do not cancel catastrophically either). With
    ``owner``, the result lives in its reusable scratch buffer. The average
    is returned as ``dtype`` (default ``x.dtype``); the moments always come
    from the float64 average.
    """
    n_trials, n_chans, n_times = x.shape
    n_avg = n_times - width + 1
    m = scratch(owner, "avg", (n_trials, n_chans, n_avg), x.dtype if dtype is None else dtype)
    moments = n_steps is not None
    f64 = torch.float64
    if moments:
        idx = _window_index(n_steps, kernel, stride)
        select = _select(n_avg, idx, x.dtype)
        gram = torch.zeros(n_avg, n_avg, dtype=f64)
        colsum = torch.zeros(n_avg, dtype=f64)
        cross = torch.zeros(kernel, dtype=f64)
        c_sum = torch.zeros((), dtype=f64)
        c_sq = torch.zeros((), dtype=f64)
    for start in range(0, n_trials, chunk):
        avg = _average64(x[start:start + chunk].reshape(-1, n_times), width)
        if moments:
            c = avg.mean(dim=1, keepdim=True)
            centred = (avg - c).to(x.dtype)
            gram += (centred.T @ centred).to(f64)
            colsum += centred.sum(dim=0, dtype=f64)
            cross += c[:, 0] @ (centred @ select).to(f64)
            c_sum += c.sum()
            c_sq += (c * c).sum()
        m[start:start + chunk] = avg.view(-1, n_chans, n_avg)
    if not moments:
        return m
    return (m,) + _window_moments(gram, colsum, cross, c_sum, c_sq, idx, n_trials * n_chans)


def _window_moments(gram, colsum, cross, c_sum, c_sq, idx, n_rows):
    """Mean and covariance of the windows ``idx`` from the sums of per-row centred rows.

    ``gram``/``colsum``: Gram matrix and column sums of the rows minus their
    means ``c``; ``cross``: ``sum_r c_r * (window sums of centred row r)``;
    ``c_sum``/``c_sq``: sums of ``c`` and ``c**2``; ``n_rows`` rows.
    """
    n_steps, kernel = idx.shape
    n_win = n_rows * n_steps
    mean_c = c_sum / n_rows
    var_c = (c_sq / n_rows - mean_c * mean_c).clamp_min(0.0)
    mean_pc = colsum[idx].sum(dim=0) / n_win  # windows of the centred rows
    second = gram[idx[:, :, None], idx[:, None, :]].sum(dim=0) / n_win
    cov_cp = cross / n_win - mean_c * mean_pc  # Cov(row offset, centred window)
    ones = torch.ones(kernel, dtype=gram.dtype)
    cov = (second - torch.outer(mean_pc, mean_pc) + torch.outer(cov_cp, ones)
           + torch.outer(ones, cov_cp) + var_c * torch.outer(ones, ones))
    return mean_pc + mean_c, cov


def _select(n_avg, idx, dtype):
    """``(n_avg, kernel)`` 0/1 matrix: which samples fall on each window tap."""
    n_steps, kernel = idx.shape
    select = torch.zeros(n_avg, kernel, dtype=dtype)
    select[idx, torch.arange(kernel).expand(n_steps, kernel)] = 1.0
    return select


def differentiable_average(x, width, n_steps=None, kernel=None, stride=None):
    """:func:`moving_average` for an input that needs a gradient, differentiable end to end.

    Used when something in front of TSConv (attention) is trained: the
    window moments, hence the BatchNorm statistics, then depend on that
    module's output, and autograd carries their gradient back to it.
    """
    n_trials, n_chans, n_times = x.shape
    m = F.avg_pool1d(x.reshape(n_trials * n_chans, 1, n_times), width, stride=1)
    m = m.reshape(n_trials, n_chans, -1)
    if n_steps is None:
        return m
    idx = _window_index(n_steps, kernel, stride)
    rows = m.reshape(n_trials * n_chans, -1).to(torch.float64)
    c = rows.mean(dim=1, keepdim=True)
    centred = rows - c
    cross = c[:, 0] @ (centred @ _select(rows.shape[1], idx, torch.float64))
    return (m,) + _window_moments(centred.T @ centred, centred.sum(dim=0), cross, c.sum(),
                                  (c * c).sum(), idx, n_trials * n_chans)


class WindowCache:
    """The moving average and per-trial window moments of a whole data set, computed once.

    For an encoder whose TSConv sees the EEG itself (no trained module in
    front), the moving average of each trial and the sums of its windows
    ``p`` and of ``p p^T`` do not change during training, and
    :func:`moving_average` spent about a third of a training step
    recomputing them. :meth:`batch` gathers a batch's averaged signal and
    adds up its trials' sums, so BatchNorm's statistics stay those of the
    batch, exactly as before. The sums are float64, taken about the mean of
    the first trials, so offsets do not cancel catastrophically.

    Parameters
    ----------
    tsconv : TSConv
        Gives the pool width, kernel, stride and number of steps.
    x : torch.Tensor
        ``(n_trials, n_chans, n_times)`` EEG on the CPU.
    dtype : torch.dtype
        Dtype of the stored average (bfloat16 for bf16 training).
    """

    def __init__(self, tsconv, x, dtype):
        n_trials, n_chans, n_times = x.shape
        width, kernel, stride = tsconv.pool_width, tsconv.kernel, tsconv.stride
        self.n_steps, self.n_chans = tsconv.n_steps, n_chans
        self.average = torch.empty(n_trials, n_chans, n_times - width + 1, dtype=dtype)
        self.sums = torch.empty(n_trials, kernel, dtype=torch.float64)
        self.products = torch.empty(n_trials, kernel, kernel, dtype=torch.float64)
        # a reference level near the data's (the first trials' mean), without a float64 copy of x
        self.offset = float(x[:64].to(torch.float64).mean()) if x.numel() else 0.0
        chunk = chunk_trials(self.n_steps, n_chans, tsconv.n_filters)
        for start in range(0, n_trials, chunk):
            part = x[start:start + chunk]
            avg = _average64(part.reshape(-1, n_times), width).view(len(part), n_chans, -1)
            self.average[start:start + len(part)] = avg
            win = avg.unfold(-1, kernel, stride)[:, :, :self.n_steps] - self.offset
            win = win.reshape(len(part), -1, kernel)
            self.sums[start:start + len(part)] = win.sum(dim=1)
            torch.bmm(win.transpose(1, 2), win, out=self.products[start:start + len(part)])

    def batch(self, idx, owner=None):
        """The :class:`PooledBatch` of trials ``idx`` (the average in ``owner``'s reused buffer)."""
        out = scratch(owner, "batch", (len(idx),) + tuple(self.average.shape[1:]),
                      self.average.dtype)
        average = torch.index_select(self.average, 0, idx, out=out)
        n_win = len(idx) * self.n_chans * self.n_steps
        shift = self.sums[idx].sum(dim=0) / n_win
        cov = self.products[idx].sum(dim=0) / n_win - torch.outer(shift, shift)
        return PooledBatch(average, shift + self.offset, cov)


def window_cache(encoder, x, dtype):
    """A :class:`WindowCache` of ``x`` for ``encoder``, or None where it does not apply.

    It applies to a TSConv encoder on the CPU whose TSConv sees the EEG
    directly (``encoder.spatial`` is the identity: no attention in front),
    on the fast layout, when the average takes at most
    :data:`CACHE_MAX_BYTES`. ``dtype`` is the compute dtype (bfloat16 under
    bf16 training, else the encoder's).
    """
    tsconv = plain_tsconv(encoder)
    if (tsconv is None or tsconv.layout != "fast" or x.device.type != "cpu" or x.ndim != 3
            or x.shape[1:] != (tsconv.n_chans, tsconv.n_times)):
        return None
    dtype = dtype or tsconv.temporal_conv.weight.dtype
    n_avg = tsconv.n_times - tsconv.pool_width + 1
    size = x.shape[0] * tsconv.n_chans * n_avg * torch.empty((), dtype=dtype).element_size()
    return WindowCache(tsconv, x, dtype) if size <= CACHE_MAX_BYTES else None


def fused_tsconv(tsconv, x):
    """TSConv's map ``(B, C, T)`` -> ``(B, F, 1, n_steps)`` on the fused path (see module doc)."""
    if getattr(x, "cropped", False):  # a zero-padded input's active steps (models/_cropped.py)
        from ._cropped import cropped_tsconv

        return cropped_tsconv(tsconv, x)
    pooled = isinstance(x, PooledBatch)
    n_trials, n_chans = len(x), tsconv.n_chans
    kernel, stride, n_steps, n_filters = (tsconv.kernel, tsconv.stride, tsconv.n_steps,
                                          tsconv.n_filters)
    chunk = chunk_trials(n_steps, n_chans, n_filters)
    # buffers are reused across training steps; inference allocates and frees as usual
    owner = tsconv if torch.is_grad_enabled() else None
    w, b, bn, batch_stats = temporal_parts(tsconv)
    window = (n_steps, kernel, stride) if batch_stats else ()
    low = _compute_dtype(torch.float32 if pooled else x.dtype)
    if pooled:
        m = x.average.to(low or w.dtype)  # no copy when the cache has the compute dtype
        average = (m, x.mean, x.cov) if batch_stats else m
    elif torch.is_grad_enabled() and x.requires_grad:
        average = differentiable_average(x, tsconv.pool_width, *window)
    else:
        average = moving_average(x, tsconv.pool_width, chunk, *window, owner=owner, dtype=low)
    m, mean_p, cov_p = average if batch_stats else (average, None, None)
    w_fold, b_fold = _batchnorm_fold(bn, w, b, mean_p, cov_p, n_trials * n_chans * n_steps)
    spatial = tsconv.spatial_conv
    v = spatial.weight[..., 0].permute(2, 1, 0).reshape(n_chans * n_filters, -1)
    v_bias = spatial.bias if spatial.bias is not None else v.new_zeros(v.shape[1])
    with torch.autocast("cpu", enabled=False):
        out = _ConvEluSpatial.apply(m, w_fold, b_fold, v, v_bias, stride, n_steps, chunk, owner,
                                    low)
    return out.view(n_trials, n_steps, -1).permute(0, 2, 1).unsqueeze(2)
