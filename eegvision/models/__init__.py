"""EEG encoders by name, the image projector, the CLIP loss and the ridge baseline.

Encoders map float EEG ``(batch, n_chans, n_times)`` to ``(batch, n_outputs)``
embeddings and are built by name::

    from eegvision.models import create_encoder, list_encoders
    enc = create_encoder("nice", n_chans=63, n_times=250, n_outputs=768)

Torch is imported only when an encoder is built. Bring your own encoder with
:func:`register_encoder`, or from an installed package through the entry-point
group ``eegvision.encoders`` (each entry point names a factory)::

    # pyproject.toml of your package
    [project.entry-points."eegvision.encoders"]
    my-net = "my_package.models:build_my_net"
"""

from __future__ import annotations

import importlib

from .._utils import option_error

#: name -> (module, class, fixed keyword arguments)
_ENCODERS = {
    "nice": ("nice", "NICE", {}),
    "nice-sa": ("nice", "NICE", {"spatial": "sa"}),
    "nice-ga": ("nice", "NICE", {"spatial": "ga"}),
    # what NICE's public spatial modules compute (eegvision/models/published.py)
    "nice-sa-published": ("nice", "NICE", {"spatial": "sa-published"}),
    "nice-ga-published": ("nice", "NICE", {"spatial": "ga-published"}),
    "atm": ("atm", "ATMS", {}),
    "mlp": ("mlp", "MLPEncoder", {}),
    "eegnet": ("eegnet", "EEGNet", {}),
}
#: Entry-point group of plugin encoders.
ENTRY_POINT_GROUP = "eegvision.encoders"
#: name -> factory, from register_encoder (and, once loaded, the entry points)
_USER = {}
#: name -> where a user encoder came from (named in its errors)
_SOURCES = {}
#: (name, sizes, kwargs) of user encoders whose output was checked (once per process)
_CHECKED = set()
_PLUGINS_LOADED = []


def register_encoder(name, factory, *, overwrite=False):
    """Make ``factory`` an encoder called ``name`` for training, every analysis and the CLI.

    Parameters
    ----------
    name : str
        The ``--model`` name; a built-in name cannot be taken.
    factory : callable
        Called as ``factory(n_chans, n_times, n_outputs, sfreq, **kwargs)``;
        returns a ``torch.nn.Module`` mapping ``(batch, n_chans, n_times)``
        to ``(batch, n_outputs)``. A module with a ``spatial_conv`` Conv2d
        across channels also gets Grad-CAM.
    overwrite : bool
        Replace an earlier registration of ``name``.

    Notes
    -----
    Registration lives in this process: with ``jobs > 1`` or Dask workers,
    install the encoder as an entry point so that workers find it too.
    """
    if not callable(factory):
        raise TypeError(f"factory of encoder {name!r} must be callable, got {type(factory).__name__}.")
    if not isinstance(name, str) or not name or name == "ridge" or name in _ENCODERS:
        raise ValueError(f"Encoder name {name!r} is taken by a built-in model (or empty); "
                         "choose another name.")
    if name in _USER and not overwrite and _USER[name] is not factory:
        raise ValueError(f"Encoder {name!r} is already registered; pass overwrite=True.")
    _USER[name] = factory
    _SOURCES[name] = (f"registered factory "
                      f"{getattr(factory, '__module__', '?')}.{getattr(factory, '__qualname__', '?')}")
    _CHECKED.difference_update({k for k in _CHECKED if k[0] == name})


def unregister_encoder(name):
    """Remove a user encoder registered with :func:`register_encoder` (no error if absent)."""
    _USER.pop(name, None)


def _load_plugins():
    """Register the entry points of group ``eegvision.encoders`` once (lazily, on first use)."""
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED.append(True)
    from importlib.metadata import entry_points

    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in _ENCODERS or ep.name in _USER:
            continue
        try:
            _USER[ep.name] = ep.load()
            _SOURCES[ep.name] = f"entry point {ep.value}"
        except Exception as err:  # noqa: BLE001 - a broken plugin must not break the package
            import logging

            logging.getLogger("eegvision").warning(
                "Encoder plugin %r (%s) could not be loaded: %s", ep.name, ep.value, err)


def list_encoders():
    """Names accepted by :func:`create_encoder`, sorted.

    Returns
    -------
    names : list of str
    """
    _load_plugins()
    return sorted(set(_ENCODERS) | set(_USER))


def create_encoder(name, *, n_chans, n_times, n_outputs, sfreq=None, **kwargs):
    """Build the EEG encoder called ``name``.

    Parameters
    ----------
    name : str
        One of :func:`list_encoders`: ``'nice'`` (TSConv + projection),
        ``'nice-sa'`` / ``'nice-ga'`` (channel self-attention / graph
        attention in front), ``'nice-sa-published'`` / ``'nice-ga-published'``
        (what NICE's public spatial modules compute), ``'atm'`` (ATM-S style
        channel transformer), ``'mlp'`` (UBP's flatten-and-project),
        ``'eegnet'`` (EEGNet v4), or a user encoder (:func:`register_encoder`,
        entry points).
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
        if name in list_encoders():
            return _build_user(name, int(n_chans), int(n_times), int(n_outputs), sfreq, kwargs)
        raise ValueError(f"Unknown encoder name {name!r}. Available: {', '.join(list_encoders())}.")
    module, cls, fixed = _ENCODERS[name]
    clash = sorted(set(fixed) & set(kwargs))
    if clash:
        raise ValueError(f"Encoder {name!r} fixes {', '.join(clash)}; do not pass it.")
    klass = getattr(importlib.import_module(f"{__name__}.{module}"), cls)
    return klass(int(n_chans), int(n_times), int(n_outputs), sfreq, **fixed, **kwargs)


def _build_user(name, n_chans, n_times, n_outputs, sfreq, kwargs):
    """Build a user encoder; check once, with a dummy batch, that it is what eegvision expects.

    A plugin's mistake (a factory that raises, something that is not an
    ``nn.Module``, an output of the wrong shape or a tuple) is one error
    naming the plugin, what it returned and what was expected, instead of a
    torch traceback deep inside training.
    """
    import torch

    def fail(problem):
        return option_error("--model", name, f"encoder plugin ({_SOURCES.get(name, '?')}) "
                            f"{problem}", "fix the plugin, or choose another --model "
                            "(eegvision.list_encoders()).")

    try:
        encoder = _USER[name](n_chans, n_times, n_outputs, sfreq, **kwargs)
    except Exception as err:  # noqa: BLE001 - any failure of user code is reported as the plugin's
        raise fail(f"raised {type(err).__name__} when built for n_chans={n_chans}, "
                   f"n_times={n_times}, n_outputs={n_outputs}: {err}") from None
    if not isinstance(encoder, torch.nn.Module):
        raise fail(f"returned a {type(encoder).__name__}, expected a torch.nn.Module.")
    key = (name, n_chans, n_times, n_outputs, repr(sorted(kwargs.items())))
    if key not in _CHECKED:
        _check_output(encoder, n_chans, n_times, n_outputs, fail)
        _CHECKED.add(key)
    return encoder


def _check_output(encoder, n_chans, n_times, n_outputs, fail):
    """Run a dummy batch of 2 through ``encoder`` (eval mode, no grad) and check its output."""
    import torch

    was_training = encoder.training
    encoder.eval()  # no BatchNorm statistics or dropout draws change
    try:
        with torch.no_grad():
            out = encoder(torch.zeros(2, n_chans, n_times))
    except Exception as err:  # noqa: BLE001
        raise fail(f"failed on a batch of shape (2, {n_chans}, {n_times}): "
                   f"{type(err).__name__}: {err}") from None
    finally:
        encoder.train(was_training)
    found = (f"a tensor of shape {tuple(out.shape)}" if isinstance(out, torch.Tensor)
             else f"a {type(out).__name__}")
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, n_outputs):
        raise fail(f"returned {found} for a batch of shape (2, {n_chans}, {n_times}), expected "
                   f"a tensor of shape (2, {n_outputs}): (batch, n_outputs).")


__all__ = ["create_encoder", "list_encoders", "register_encoder", "unregister_encoder"]
