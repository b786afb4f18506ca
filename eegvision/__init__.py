"""eegvision: decode natural images from EEG and find where the information lives.

The public API is this package's top level::

    import eegvision as ev
    data = ev.load_subject(root, 1)
    result = ev.fit(data.train, ev.TrainConfig(model="nice", epochs=20))
    scores = ev.evaluate(result.model, data.test)
    df = ev.analyze("temporal", data=data, model="ridge")

Importing the package has no side effects and imports nothing heavy: each
name below is imported from its module on first use (PEP 562), so torch and
mne load only when a function that needs them runs.
"""

from ._version import __version__  # noqa: F401  (the package's one eager import: a leaf)

#: public name -> module that defines it (imported on first access)
_LAZY = {
    "DataError": "eegvision._utils",
    "EEGVisionError": "eegvision._utils",
    "load_subject": "eegvision.data.things",
    "read_epochs_file": "eegvision.data.epochs_file",
    "EEGImageData": "eegvision.data.container",
    "SubjectData": "eegvision.data.container",
    "TrainConfig": "eegvision.training",
    "fit": "eegvision.training",
    "evaluate": "eegvision.evaluate",
    "analyze": "eegvision.pipeline",
    "report": "eegvision.reporting",
    "sources": "eegvision.pipeline",
    "create_encoder": "eegvision.models",
    "list_encoders": "eegvision.models",
    "RidgeDecoder": "eegvision.decoding",
    "ContrastiveDecoder": "eegvision.decoding",
    "retrieval_scorer": "eegvision.decoding",
    "slurm_cluster": "eegvision._dask",
    "set_log_level": "eegvision._utils",
    "use_log_level": "eegvision._utils",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'eegvision' has no attribute {name!r}")
    import importlib

    owner = importlib.import_module(_LAZY[name])
    if name == "evaluate":
        # The submodule eegvision.evaluate owns this attribute (importing it sets it);
        # the module is callable as its evaluate() function, so both spellings agree.
        return owner
    value = globals()[name] = getattr(owner, name)
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
