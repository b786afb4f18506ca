"""eegvision: decode natural images from EEG and find where the information lives.

Importing the package has no side effects: heavy dependencies (torch, mne)
are imported by the modules that need them.
"""

__version__ = "0.1.0"

from ._utils import DataError, EEGVisionError  # noqa: E402

__all__ = ["__version__", "DataError", "EEGVisionError"]
