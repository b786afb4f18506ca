"""Channel names, the paper's scalp regions, and the easycap-M1 montage."""

from __future__ import annotations

import re

from .._utils import _check_option, logger

#: The 63 EEG channels of THINGS-EEG2 (easycap-M1, 10-10 names), in file order.
THINGS_EEG2_CHANNELS = (
    "Fp1 Fp2 AF7 AF3 AFz AF4 AF8 F7 F5 F3 F1 F2 F4 F6 F8 FT9 FT7 FC5 FC3 FC1 FCz "
    "FC2 FC4 FC6 FT8 FT10 T7 C5 C3 C1 Cz C2 C4 C6 T8 TP9 TP7 CP5 CP3 CP1 CPz CP2 "
    "CP4 CP6 TP8 TP10 P7 P5 P3 P1 Pz P2 P4 P6 P8 PO7 PO3 POz PO4 PO8 O1 Oz O2"
).split()

#: The 17 occipito-parietal channels of the official OSF preprocessed release.
OFFICIAL_17_CHANNELS = (
    "Pz P3 P7 O1 Oz O2 P4 P8 P1 P5 PO7 PO3 POz PO4 PO8 P6 P2"
).split()

#: The scalp regions :func:`channel_regions` assigns channels to.
REGIONS = ("frontal", "central", "parietal", "temporal", "occipital")

# Index ranges into THINGS_EEG2_CHANNELS, exactly as in the NICE code.
_PAPER_REGION_INDICES = {
    "frontal": [range(0, 15)],
    "central": [range(18, 23), range(28, 33)],
    "parietal": [range(37, 44), range(46, 55)],
    "occipital": [range(55, 63)],
    "temporal": [range(15, 18), range(23, 28), range(33, 37), range(44, 46)],
}

#: Region of each of the 63 channels, as the NICE paper assigns them.
PAPER_REGION_OF_CHANNEL = {
    THINGS_EEG2_CHANNELS[i]: region
    for region, ranges in _PAPER_REGION_INDICES.items()
    for rng in ranges
    for i in rng
}


def _region_from_name(name):
    """Fallback for 10-05 names outside the 63: classify by electrode prefix."""
    n = name.upper()
    if re.match(r"^(FT|T|TP)\d", n) or re.match(r"^(FT|T|TP)(7|8|9|10)", n):
        return "temporal"
    if n.startswith(("PO", "O", "I")):
        return "occipital"
    if n.startswith(("CP", "P")):
        return "parietal"
    if n.startswith(("FC", "C")):
        return "central"
    if n.startswith(("FP", "AF", "F")):
        return "frontal"
    return None


def channel_region(name):
    """Return the paper's region of one channel name (None if unknown)."""
    for known, region in PAPER_REGION_OF_CHANNEL.items():
        if known.lower() == name.lower():
            return region
    return _region_from_name(name)


def channel_regions(ch_names):
    """Map each region to the channels of ``ch_names`` that lie in it.

    Parameters
    ----------
    ch_names : list of str
        10-10 channel names.

    Returns
    -------
    dict of str -> list of str
        Every region in :data:`REGIONS`, in order, possibly empty.
    """
    out = {r: [] for r in REGIONS}
    for ch in ch_names:
        region = channel_region(ch)
        if region is not None:
            out[region].append(ch)
    return out


def region_channels(ch_names, region):
    """Channels of ``ch_names`` inside ``region`` (one of :data:`REGIONS`)."""
    _check_option("region", region, REGIONS)
    return channel_regions(ch_names)[region]


def make_info(ch_names, sfreq, montage="easycap-M1"):
    """Build an ``mne.Info`` of EEG channels with the easycap-M1 positions.

    Channels the montage does not know keep no position (a warning names them).
    """
    import mne

    info = mne.create_info(list(ch_names), float(sfreq), ch_types="eeg")
    if montage is None:
        return info
    mont = mne.channels.make_standard_montage(montage)
    known = {n.lower() for n in mont.ch_names}
    missing = [c for c in ch_names if c.lower() not in known]
    if missing:
        logger.warning("Montage %s has no position for %s", montage, ", ".join(missing))
    info.set_montage(mont, on_missing="ignore", match_case=False, verbose="error")
    return info


def positioned_channels(ch_names, montage="easycap-M1"):
    """``(known, missing)``: the channels the montage has a scalp position for, and the rest."""
    import mne

    known = {n.lower() for n in mne.channels.make_standard_montage(montage).ch_names}
    return ([c for c in ch_names if c.lower() in known],
            [c for c in ch_names if c.lower() not in known])
