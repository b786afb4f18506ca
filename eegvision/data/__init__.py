"""Files to arrays: downloads, readers, preprocessing, montage, simulator."""

from .._utils import lazy_attributes

#: public name -> module that defines it (imported on first access: importing the
#: package runs none of its modules, so no module depends on its siblings through it)
_LAZY = {
    "EEGImageData": "eegvision.data.container",
    "SubjectData": "eegvision.data.container",
    "fetch_things_eeg2": "eegvision.data.download",
    "read_sources": "eegvision.data.download",
    "OFFICIAL_17_CHANNELS": "eegvision.data.montage",
    "REGIONS": "eegvision.data.montage",
    "THINGS_EEG2_CHANNELS": "eegvision.data.montage",
    "channel_regions": "eegvision.data.montage",
    "make_info": "eegvision.data.montage",
    "region_channels": "eegvision.data.montage",
}

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
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
