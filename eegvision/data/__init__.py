"""Files to arrays: readers, preprocessing, montage, simulator."""

from .container import EEGImageData, SubjectData
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
    "OFFICIAL_17_CHANNELS",
    "REGIONS",
    "THINGS_EEG2_CHANNELS",
    "channel_regions",
    "make_info",
    "region_channels",
]
