"""Channel selection as a data option (``--channels``): a named set, a list or a pattern.

``posterior17`` are the 17 occipital and parietal channels of the official
THINGS-EEG2 release (its preprocessed files hold exactly these: P7 ... P8,
PO7 ... PO8, O1, Oz, O2), the set UBP and the 2026 blur method train on.
The release's code (gifale95/eeg_encoding) selects them with
``mne.pick_channels_regexp(ch_names, '^O *|^P *')``: names that *start*
with O or P, which of the 63 easycap names are exactly these 17 (CP* and
TP* do not start with P). eegvision names the same 17 explicitly, in the
63-channel order; the official files keep the recording's order
(:data:`eegvision.data.montage.OFFICIAL_17_CHANNELS`).
"""

from __future__ import annotations

import fnmatch
import re

from .._utils import data_error

#: The 17 posterior channels of the official release, in the 63-channel order.
POSTERIOR17 = ("P7", "P5", "P3", "P1", "Pz", "P2", "P4", "P6", "P8", "PO7", "PO3", "POz",
               "PO4", "PO8", "O1", "Oz", "O2")
#: Named channel sets accepted by ``--channels``.
CHANNEL_SETS = {"posterior17": POSTERIOR17}


def select_channels(ch_names, spec):
    """Channel names chosen by ``spec``, in the data's order.

    Parameters
    ----------
    ch_names : list of str
        The data's channels.
    spec : str | list of str
        ``'posterior17'`` (the official release's 17), an
        explicit comma list (``'O1,Oz,O2'``), a glob (``'P*,O*'``) or a
        regular expression written ``re:^P|^O``. Names match
        case-insensitively.

    Returns
    -------
    names : list of str
    """
    items = list(spec) if isinstance(spec, (list, tuple)) else None
    text = ",".join(items) if items is not None else str(spec).strip()
    if text in CHANNEL_SETS:
        chosen = _by_names(ch_names, list(CHANNEL_SETS[text]), text)
    elif text.startswith("re:"):
        try:
            pattern = re.compile(text[3:], re.IGNORECASE)
        except re.error as err:
            raise data_error(f"--channels {text!r}", f"not a valid regular expression ({err}).",
                             "e.g. --channels 're:^(P|PO|O)[0-9z]'") from None
        chosen = [c for c in ch_names if pattern.search(c)]
    else:
        chosen = _by_names(ch_names, [t.strip() for t in text.split(",") if t.strip()], text)
    if not chosen:
        raise data_error(f"--channels {text!r}", "selects no channel of the data.",
                         f"the data have: {', '.join(ch_names)}.")
    return chosen


def _by_names(ch_names, parts, text):
    lower = {c.lower(): c for c in ch_names}
    keep, missing = set(), []
    for part in parts:
        if any(ch in part for ch in "*?["):
            hits = [c for c in ch_names if fnmatch.fnmatch(c.lower(), part.lower())]
        else:
            hits = [lower[part.lower()]] if part.lower() in lower else []
        if not hits:
            missing.append(part)
        keep.update(hits)
    if missing:
        raise data_error(f"--channels {text!r}", f"no channel matches {', '.join(missing)}.",
                         f"the data have: {', '.join(ch_names)}.")
    return [c for c in ch_names if c in keep]


def pick(data, spec):
    """``SubjectData`` (train and test) with only the channels ``spec`` selects; None: unchanged."""
    if spec is None:
        return data
    from .container import SubjectData

    names = select_channels(data.train.ch_names, spec)
    reps = data.test_repetitions
    if reps is not None:  # (conditions, repetitions, channels, times), in the test's order
        reps = reps[:, :, [list(data.test.ch_names).index(n) for n in names]]
    # on shallow copies: the containers are the caller's (their methods work in place)
    repeated = None if data.repetitions is None else {
        split: c.copy(deep=False).pick_channels(names) for split, c in data.repetitions.items()}
    return SubjectData(data.subject, data.train.copy(deep=False).pick_channels(names),
                       data.test.copy(deep=False).pick_channels(names),
                       meta=dict(data.meta, channels=",".join(names)), test_repetitions=reps,
                       repetitions=repeated, others=data.others)
