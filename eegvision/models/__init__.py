"""EEG encoders by name, the image projector, the CLIP loss and the ridge baseline.

Encoders map float EEG ``(batch, n_chans, n_times)`` to ``(batch, n_outputs)``
embeddings and are built by name::

    from eegvision.models import create_encoder, list_encoders
    enc = create_encoder("nice", n_chans=63, n_times=250, n_outputs=768)

Torch is imported only when an encoder is built.
"""

from __future__ import annotations

import importlib

#: name -> (module, class, fixed keyword arguments)
_ENCODERS = {
    "nice": ("nice", "NICE", {}),
    "nice-sa": ("nice", "NICE", {"spatial": "sa"}),
    "nice-ga": ("nice", "NICE", {"spatial": "ga"}),
    # what NICE's public spatial modules compute (eegvision/models/published.py)
    "nice-sa-published": ("nice", "NICE", {"spatial": "sa-published"}),
    "nice-ga-published": ("nice", "NICE", {"spatial": "ga-published"}),
    "atm": ("atm", "ATMS", {}),
}


def list_encoders():
    """Names accepted by :func:`create_encoder`, sorted.

    Returns
    -------
    names : list of str
    """
    return sorted(_ENCODERS)


def create_encoder(name, *, n_chans, n_times, n_outputs, sfreq=None, **kwargs):
    """Build the EEG encoder called ``name``.

    Parameters
    ----------
    name : str
        One of :func:`list_encoders`: ``'nice'`` (TSConv + projection),
        ``'nice-sa'`` / ``'nice-ga'`` (channel self-attention / graph
        attention in front), ``'nice-sa-published'`` / ``'nice-ga-published'``
        (what NICE's public spatial modules compute), ``'atm'`` (ATM-S style channel transformer).
    n_chans, n_times : int
        Input size; any ``n_chans >= 1`` and ``n_times >= 1`` (inputs shorter
        than 75 samples shrink TSConv's pool, then its kernel).
    n_outputs : int
        Embedding size.
    sfreq : float | None
        Sampling frequency (accepted by every encoder; kernel sizes are in
        samples).
    **kwargs
        Passed to the encoder class, e.g. ``layout='reference'``,
        ``dropout=0.25``.

    Returns
    -------
    encoder : torch.nn.Module
        Maps ``(batch, n_chans, n_times)`` to ``(batch, n_outputs)``. TSConv
        encoders expose ``spatial_conv`` (Grad-CAM layer), ``features(x)``
        and a settable ``layout``; SA/GA expose ``attention_weights``
        ``(batch, n_chans, n_chans)`` after a forward.
    """
    if name not in _ENCODERS:
        raise ValueError(f"Unknown encoder name {name!r}. Available: {', '.join(list_encoders())}.")
    module, cls, fixed = _ENCODERS[name]
    clash = sorted(set(fixed) & set(kwargs))
    if clash:
        raise ValueError(f"Encoder {name!r} fixes {', '.join(clash)}; do not pass it.")
    klass = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    return klass(int(n_chans), int(n_times), int(n_outputs), sfreq, **fixed, **kwargs)


__all__ = ["create_encoder", "list_encoders"]
