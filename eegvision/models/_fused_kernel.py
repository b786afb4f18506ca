"""The pieces of TSConv's fused CPU path that the full and the cropped paths share.

The chunked conv-ELU-spatial product (:class:`_ConvEluSpatial`) with its
in-place ELU, BatchNorm folded into the conv, the float64 window average,
the compute dtype under autocast, the pooled-batch type and the test for a
TSConv that sees the EEG itself. A leaf: :mod:`._fused` (the full input) and
:mod:`._cropped` (a zero-padded input's active steps) both build on it, so
neither imports the other's module for them. The method is described in
:mod:`eegvision.models._fused`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .._workspace import scratch

#: Elements of the ``(chunk, n_steps, n_chans, n_filters)`` block computed at once
#: (8 MB in float32: fits the L3 cache of current CPUs). On the 2-core development
#: machine, epochs at batch 256 and 1000 were 4-5 % faster than with half of it and
#: than with twice it (A/B in one process).
CHUNK_ELEMENTS = 1 << 21


_LOG2E = 1.0 / math.log(2.0)


def _elu_(z, tmp):
    """ELU in place, as ``max(z, 0) + 2**(min(z, 0) * log2(e)) - 1``.

    The same function as :func:`torch.nn.functional.elu` up to float
    rounding (tested to 2e-7 over [-30, 30]): on CPUs torch's ``exp2`` is
    vectorised and about five times faster than the ``expm1`` inside ``elu``. ``tmp`` is scratch of ``z``'s size.
    """
    torch.clamp(z, max=0, out=tmp)
    tmp.mul_(_LOG2E).exp2_().sub_(1.0)
    return z.clamp_(min=0).add_(tmp)


def chunk_trials(n_steps, n_chans, n_filters):
    """Trials per chunk so that one chunk's activations hold about ``CHUNK_ELEMENTS``."""
    return max(1, CHUNK_ELEMENTS // max(1, n_steps * n_chans * n_filters))


def _average64(rows, width):
    """Moving average (stride 1) of each row of ``rows`` ``(R, T)``, in float64 via a cumulative sum."""
    cs = torch.cumsum(rows.to(torch.float64), dim=1)
    avg = cs[:, width - 1:].clone()
    avg[:, 1:] -= cs[:, :-width]
    return avg.div_(width)


class _ConvEluSpatial(torch.autograd.Function):
    """``out = elu(windows(m) @ w^T + b) @ v + v_bias``, chunk by chunk.

    ``m`` ``(B, C, T')`` is the moving-averaged input, ``w``
    ``(F, K)`` and ``b`` ``(F,)`` the BatchNorm-folded temporal conv, ``v``
    ``(C * F, G)`` the spatial conv as a matrix over (channel, filter);
    the activations kept for the backward pass live in ``owner``'s scratch
    buffer. With ``compute_dtype`` (bfloat16) the windows, activations and
    products use it (the ELU itself is evaluated in float32); gradients and
    the output keep the parameters' dtype.
    Returns ``(B * n_steps, G)``, rows ordered (trial, step).
    """

    @staticmethod
    def forward(ctx, m, w, b, v, v_bias, stride, n_steps, chunk, owner, compute_dtype=None):
        n_trials, n_chans, _ = m.shape
        n_filters, kernel = w.shape
        low = w.dtype if compute_dtype is None else compute_dtype
        act = scratch(owner, "act", (n_trials, n_steps, n_chans, n_filters), low)
        out = w.new_empty(n_trials * n_steps, v.shape[1])
        wb = torch.cat([w.T, b[None]]).to(low)  # the bias acts on the windows' column of ones
        v_l, vb_l = v.to(low), v_bias.to(low)
        windows = _Windows(m, kernel, stride, chunk, n_steps, low)
        # under bf16 the ELU runs in float32 and only its result is rounded: torch's bf16
        # element-wise ops convert every operand, and conv + ELU of a chunk took 0.53 ms in
        # bf16 against 0.41 ms with the float32 ELU and both conversions (scratch timing)
        size = (min(chunk, n_trials) * n_steps * n_chans, n_filters)
        z32 = torch.empty(size) if low in (torch.bfloat16, torch.float16) else None
        tmp = torch.empty(size, dtype=low if z32 is None else torch.float32)
        for start in range(0, n_trials, chunk):
            stop = min(n_trials, start + chunk)
            a = act[start:stop]
            z = torch.mm(windows(start, stop), wb, out=a.view(-1, n_filters))
            if z32 is None:
                _elu_(z, tmp[:len(z)])
            else:
                z.copy_(_elu_(z32[:len(z)].copy_(z), tmp[:len(z)]))
            rows = out[start * n_steps:stop * n_steps]
            if low == out.dtype:
                torch.addmm(vb_l, a.view(-1, n_chans * n_filters), v_l, out=rows)
            else:
                rows.copy_(torch.addmm(vb_l, a.view(-1, n_chans * n_filters), v_l))
        ctx.save_for_backward(m, w, v, act)
        ctx.stride, ctx.n_steps, ctx.chunk, ctx.low = stride, n_steps, chunk, low
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        m, w, v, act = ctx.saved_tensors
        stride, n_steps, chunk, low = ctx.stride, ctx.n_steps, ctx.chunk, ctx.low
        n_trials, n_chans, _ = m.shape
        n_filters, kernel = w.shape
        grad_out = grad_out.contiguous()
        grad_wb = torch.zeros(kernel + 1, n_filters, dtype=w.dtype)
        grad_vt = torch.zeros_like(v.T)
        grad_m = torch.zeros_like(m) if ctx.needs_input_grad[0] else None
        # a frozen temporal conv (and nothing trained in front of it): only the spatial
        # conv's weight gradient is needed, which skips about 60 % of this backward's products
        below = any(ctx.needs_input_grad[:3])
        vt, w_l = v.T.to(low), w.to(low)
        windows = _Windows(m, kernel, stride, chunk, n_steps, low) if below else None
        for start in range(0, n_trials, chunk):
            stop = min(n_trials, start + chunk)
            a = act[start:stop].view(-1, n_filters)
            go = grad_out[start * n_steps:stop * n_steps].to(low)
            _accumulate(grad_vt, go.T, a.view(-1, n_chans * n_filters))
            if not below:
                continue
            grad_a = (go @ vt).view(-1, n_filters)
            grad_z = torch.ops.aten.elu_backward(grad_a, 1.0, 1.0, 1.0, True, a)
            win = windows(start, stop)
            # a product per trial, then their sum: 12 % faster (float32 epoch) than one product
            # whose inner dimension is the whole chunk. Last row: the bias gradient.
            part = torch.bmm(win.view(stop - start, -1, kernel + 1).transpose(1, 2),
                             grad_z.view(stop - start, -1, n_filters))
            grad_wb += part.sum(dim=0, dtype=grad_wb.dtype)
            if grad_m is not None:  # overlap-add the window gradients back onto the samples
                grad_win = (grad_z @ w_l).to(m.dtype).view(stop - start, n_steps, n_chans, kernel)
                cols = grad_win.permute(0, 2, 3, 1).reshape(-1, kernel, n_steps)
                grad_m[start:stop] = F.fold(cols, (1, m.shape[-1]), (1, kernel),
                                            stride=(1, stride)).view(stop - start, n_chans, -1)
        if not below:
            return grad_m, None, None, grad_vt.T, grad_out.sum(dim=0), None, None, None, None, None
        return (grad_m, grad_wb[:kernel].T, grad_wb[kernel], grad_vt.T, grad_out.sum(dim=0),
                None, None, None, None, None)


def _accumulate(acc, a, b):
    """``acc += a @ b``; the product runs in the dtype of ``a`` and ``b``."""
    if a.dtype == acc.dtype:
        acc.addmm_(a, b)
    else:
        acc += a @ b


class _Windows:
    """The strided windows of ``m`` ``(B, C, T')``, a chunk of trials at a time, plus a column of ones.

    ``windows(start, stop)`` is ``(trials * n_steps * C, kernel + 1)`` in
    ``dtype``, rows ordered (trial, step, channel); the last column is 1, so
    one product with ``[w^T; b]`` applies weights and bias. The buffer is
    reused from chunk to chunk.
    """

    def __init__(self, m, kernel, stride, chunk, n_steps, dtype):
        self.m, self.kernel, self.stride = m, kernel, stride
        rows = min(chunk, m.shape[0]) * n_steps * m.shape[1]
        self.buf = torch.empty(rows, kernel + 1, dtype=dtype)
        self.buf[:, kernel] = 1.0

    def __call__(self, start, stop):
        part = self.m[start:stop]
        src = part.unfold(-1, self.kernel, self.stride).transpose(1, 2)
        out = self.buf[:src.shape[0] * src.shape[1] * src.shape[2]]
        out.view(*src.shape[:3], self.kernel + 1)[..., :self.kernel].copy_(src)
        return out


def temporal_parts(tsconv):
    """``(w, b, bn, batch_stats)``: TSConv's temporal conv as ``(F, K)`` weights and a bias, its
    BatchNorm, and whether that normalises with batch statistics (training, or no running ones).
    """
    conv, bn = tsconv.temporal_conv, tsconv.bn1
    w = conv.weight.reshape(tsconv.n_filters, tsconv.kernel)
    b = conv.bias if conv.bias is not None else w.new_zeros(tsconv.n_filters)
    return w, b, bn, bn.training or bn.running_mean is None


def _batchnorm_fold(bn, w, b, mean_p, cov_p, n_win):
    """Scale and shift of ``bn`` applied to ``z = w . p + b``, as ``(w', b')`` with ``bn(z) = w' . p + b'``.

    With ``mean_p``/``cov_p`` (training: batch statistics), the running
    statistics are updated as :class:`torch.nn.BatchNorm2d` does; without
    them the running statistics are used.
    """
    if mean_p is None:
        mean_z, var_z = bn.running_mean, bn.running_var
    else:
        wd = w.to(torch.float64)
        mean_z = wd @ mean_p + b.to(torch.float64)
        var_z = ((wd @ cov_p) * wd).sum(dim=1)  # biased, as BatchNorm normalises
        if bn.training and bn.track_running_stats:
            with torch.no_grad():
                bn.num_batches_tracked += 1
                momentum = (bn.momentum if bn.momentum is not None
                            else 1.0 / float(bn.num_batches_tracked))
                unbiased = var_z * (n_win / max(n_win - 1, 1))
                bn.running_mean.mul_(1 - momentum).add_(momentum * mean_z.to(w.dtype))
                bn.running_var.mul_(1 - momentum).add_(momentum * unbiased.to(w.dtype))
        mean_z, var_z = mean_z.to(w.dtype), var_z.to(w.dtype)
    scale = torch.rsqrt(var_z + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight
    shift = -scale * mean_z
    if bn.bias is not None:
        shift = shift + bn.bias
    return w * scale[:, None], b * scale + shift


def _compute_dtype(dtype):
    """bfloat16 for a float32 input inside a CPU bfloat16 autocast region, else None (the input's dtype)."""
    if (dtype == torch.float32 and torch.is_autocast_enabled("cpu")
            and torch.get_autocast_dtype("cpu") == torch.bfloat16):
        return torch.bfloat16
    return None


#: Largest moving-average cache (bytes) :func:`~eegvision.models._fused.window_cache` builds.
CACHE_MAX_BYTES = 512 << 20


class PooledBatch:
    """A batch for TSConv's fused path whose moving average and window moments are precomputed.

    Made by :meth:`~eegvision.models._fused.WindowCache.batch`; :class:`~eegvision.models.modules.TSConv`
    takes it in place of the EEG tensor. ``mean``/``cov`` are the float64
    moments of the batch's windows (for BatchNorm's batch statistics).
    """

    def __init__(self, average, mean, cov):
        self.average, self.mean, self.cov = average, mean, cov

    def __len__(self):
        return self.average.shape[0]

    @property
    def device(self):
        return self.average.device


def plain_tsconv(encoder):
    """The encoder's TSConv when it sees the input directly (no trained module in front), else None."""
    tsconv = getattr(encoder, "tsconv", None)
    if tsconv is None or not isinstance(getattr(encoder, "spatial", None), torch.nn.Identity):
        return None
    return tsconv
