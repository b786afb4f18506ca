"""Files to arrays: downloads, readers, preprocessing, montage, simulator."""

from .container import EEGImageData, SubjectData
from .download import fetch_things_eeg2, read_sources
from .montage import (
    OFFICIAL_17_CHANNELS,
    REGIONS,
    THINGS_EEG2_CHANNELS,
    channel_regions,
    make_info,
    region_channels,
)

__all__ = [
    "EEGImageData",
    "SubjectData",
    "fetch_things_eeg2",
    "read_sources",
    "OFFICIAL_17_CHANNELS",
    "REGIONS",
    "THINGS_EEG2_CHANNELS",
    "channel_regions",
    "make_info",
    "region_channels",
]
