"""Reusable scratch buffers for large per-step CPU tensors.

A training step allocates a few large tensors (the batch, TSConv's
activations: hundreds of MB for a batch of 1000 trials). Allocations that big
bypass the C allocator's free lists: every step maps fresh pages from the
kernel and faults them in, which on a small VM costs as much as the
arithmetic (a 360 MB buffer: about 85 ms to allocate and fill, 12 ms to
refill). :func:`scratch` hands out one buffer per name and owner again and
again, but only while nothing else (an autograd graph that saved it, a
caller that kept the batch) still holds it; otherwise it allocates a new one,
so reuse can never overwrite live data.
"""

from __future__ import annotations

import weakref

import torch

_use_count = getattr(torch._C, "_storage_Use_Count", None)
_BUFFERS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
#: Tensors smaller than this (bytes) come from the allocator as usual.
MIN_BYTES = 16 << 20


def _is_free(buf):
    # one reference is ``buf`` itself, one the temporary storage object below
    return _use_count is not None and _use_count(buf.untyped_storage()._cdata) <= 2


def scratch(owner, name, shape, dtype, device="cpu"):
    """An uninitialised tensor of ``shape``, reusing ``owner``'s buffer ``name`` when it is free.

    Parameters
    ----------
    owner : object
        Whose buffers (weakly referenced: they go with it), e.g. a module.
    name : str
        Which buffer of ``owner``.
    shape : tuple of int
    dtype : torch.dtype
    device : str | torch.device
        Only CPU buffers are reused; other devices allocate as usual.

    Returns
    -------
    torch.Tensor
        A new view (its own tensor object) of the buffer.
    """
    device = torch.device(device)
    numel = 1
    for s in shape:
        numel *= int(s)
    if device.type != "cpu" or numel * torch.empty((), dtype=dtype).element_size() < MIN_BYTES:
        return torch.empty(shape, dtype=dtype, device=device)
    try:
        store = _BUFFERS.setdefault(owner, {})
    except TypeError:  # owner cannot be weakly referenced
        return torch.empty(shape, dtype=dtype)
    buf = store.get(name)
    if buf is None or buf.dtype != dtype or buf.numel() < numel or not _is_free(buf):
        buf = store[name] = torch.empty(numel, dtype=dtype)
    return buf[:numel].view(shape)


def release(owner):
    """Drop the buffers of ``owner`` and, for a module, of all its submodules.

    Buffers still in use stay alive with their users; the rest is freed.
    """
    owners = list(owner.modules()) if hasattr(owner, "modules") else [owner]
    for item in owners:
        try:
            _BUFFERS.pop(item, None)
        except TypeError:  # not weakly referenceable: never had buffers
            pass
