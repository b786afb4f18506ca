"""EEGImageData: the one container every layer passes around.

An ``EEGImageData`` pairs EEG epochs with the image features they are aligned
to. It follows MNE's convention: methods that change the data (``crop``,
``filter``, ``pick``, ``pick_channels``, ``drop_channels``, ``mask_time``)
modify the container in place and return it, so ``data.crop(0, .5)`` crops
``data`` and calls chain; ``data.copy()`` first keeps the original. Methods
that make a different object return a new one: indexing (``data[...]``,
``subset``), ``average_repetitions``, ``with_features``, ``average``
(an ``mne.EvokedArray``) and ``to_epochs``.

In-place methods never write into the arrays: they bind new ones. A shallow
``copy(deep=False)`` therefore shares the arrays safely and is what the
analyses derive their conditions from (cached data are read-only memory maps).

``mask_time`` is lazy: it records the window and writes the zeros only when
``eeg`` is first read. Until then the container holds the unmasked array, and
training on a time window reads the samples inside it directly
(:meth:`EEGImageData.window_samples`), so a sweep of windows over a
full-size subject never holds a full masked copy per window.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._docs import fill_doc
from .._utils import check_finite, data_error, logger
from .montage import REGIONS, channel_regions, make_info


def _group_means(eeg, groups, counts, block_bytes=1 << 28):
    """Mean of the trials of each group, ``(n_groups, ...)`` float32, summed in float64.

    ``groups`` is each trial's group index (0..n_groups-1), ``counts`` the
    trials per group. Each group's trials are added in their order in ``eeg``
    (as ``np.add.at`` would), a block of groups at a time so that at most
    ``block_bytes`` of trials are gathered at once; ``np.add.at`` itself is
    about a hundred times slower.
    """
    order = np.argsort(groups, kind="stable")
    grouped = bool(np.all(order == np.arange(len(order))))  # already in group order: no gather
    starts = np.concatenate([[0], np.cumsum(counts)])
    out = np.empty((len(counts),) + eeg.shape[1:], dtype=np.float32)
    per_trial = max(1, eeg[0].size * 8)
    g = 0
    while g < len(counts):
        stop = g + 1  # at least one group, then as many as fit the block
        while stop < len(counts) and (starts[stop + 1] - starts[g]) * per_trial <= block_bytes:
            stop += 1
        block = (eeg[starts[g]:starts[stop]] if grouped
                 else eeg[order[starts[g]:starts[stop]]])
        sums = np.add.reduceat(block, starts[g:stop] - starts[g], axis=0, dtype=np.float64)
        out[g:stop] = sums / counts[g:stop].reshape((-1,) + (1,) * (eeg.ndim - 1))
        g = stop
    return out


class EEGImageData:
    """EEG epochs paired with image features.

    Parameters
    ----------
    eeg : array, shape (n_trials, n_channels, n_times)
        EEG in volts or whitened units; stored as float32.
    features : array, shape (n_trials, n_features)
        The image feature of each trial's image (the retrieval target).
    concepts : array of str, shape (n_trials,)
        Concept name of each trial's image.
    ch_names : list of str
        Channel names, 10-10 system.
    times : array, shape (n_times,)
        Sample times in seconds relative to image onset.
    sfreq : float | None
        Sampling frequency; derived from ``times`` when None.
    conditions : array of int, shape (n_trials,) | None
        Image-condition id of each trial; repetitions of one image share it.
        Defaults to one condition per distinct concept.
    categories : array of str, shape (n_trials,) | None
        A higher-level category per trial (e.g. ``animal``), if known.
    meta : dict | None
        Free provenance (subject, split, source file ...).
    validate : bool
        Check shapes and finiteness (set False only for data already checked).
    """

    def __init__(self, eeg, features, concepts, ch_names, times, sfreq=None, *,
                 conditions=None, categories=None, meta=None, validate=True):
        self.eeg = np.asarray(eeg, dtype=np.float32)
        self.features = np.asarray(features, dtype=np.float32)
        self.concepts = np.asarray(concepts).astype(str)
        self.ch_names = [str(c) for c in ch_names]
        self.times = np.asarray(times, dtype=np.float64)
        if sfreq is None:
            if len(self.times) < 2:
                raise ValueError("sfreq is required when there are fewer than 2 samples.")
            sfreq = 1.0 / np.median(np.diff(self.times))
        self.sfreq = float(sfreq)
        if conditions is None:
            _, conditions = np.unique(self.concepts, return_inverse=True)
        self.conditions = np.asarray(conditions, dtype=np.int64)
        self.categories = None if categories is None else np.asarray(categories).astype(str)
        self.meta = dict(meta or {})
        self._info = None
        self._source_info = None  # an mne.Info the data came with (from_epochs): its positions
        if validate:
            self._validate()

    # ------------------------------------------------------------------ checks
    def _validate(self):
        src = self.meta.get("source", "EEGImageData")
        if self.eeg.ndim != 3:
            raise data_error(src, f"eeg must be (n_trials, n_channels, n_times), got shape {self.eeg.shape}.")
        n, n_ch, n_t = self.eeg.shape
        if self.features.ndim != 2 or self.features.shape[0] != n:
            raise data_error(src, f"features must be ({n}, n_features) to match {n} EEG trials, "
                             f"got {self.features.shape}.",
                             "give one feature vector per trial (or per condition, in trial order).")
        for name, arr in (("concepts", self.concepts), ("conditions", self.conditions)):
            if arr.shape != (n,):
                raise data_error(src, f"{name} must have {n} entries, got {arr.shape}.")
        if self.categories is not None and self.categories.shape != (n,):
            raise data_error(src, f"categories must have {n} entries, got {self.categories.shape}.")
        if len(self.ch_names) != n_ch:
            raise data_error(src, f"{len(self.ch_names)} channel names for {n_ch} channels.")
        if len(set(self.ch_names)) != n_ch:
            raise data_error(src, "duplicate channel names.")
        if self.times.shape != (n_t,):
            raise data_error(src, f"{len(self.times)} time points for {n_t} samples.")
        for name, arr in (("eeg", self.eeg), ("features", self.features)):
            check_finite(arr, src, f"values in {name}",
                         "interpolate or drop the bad trials/channels before building the container.")

    # -------------------------------------------------------------- properties
    @property
    def eeg(self):
        """The EEG ``(n_trials, n_channels, n_times)``, float32 (a pending ``mask_time`` applied)."""
        if self._zero_outside is not None:
            start, stop = self._zero_outside
            eeg = np.zeros_like(self._eeg)
            eeg[:, :, start:stop] = self._eeg[:, :, start:stop]
            self._eeg, self._zero_outside = eeg, None
        return self._eeg

    @eeg.setter
    def eeg(self, value):
        self._eeg, self._zero_outside = value, None

    @property
    def zero_outside(self):
        """``(start, stop)``: a pending :meth:`mask_time` zeroes every sample outside ``[start, stop)``.

        None when there is none (the mask is written, or there never was one).
        """
        return self._zero_outside

    def window_samples(self):
        """The EEG inside the pending :meth:`mask_time` window, ``(n_trials, n_channels, stop - start)``.

        A view of the unmasked array: nothing is copied. The whole EEG when no
        mask is pending.
        """
        if self._zero_outside is None:
            return self._eeg
        start, stop = self._zero_outside
        return self._eeg[:, :, start:stop]

    def unmasked_eeg(self):
        """The array a pending :meth:`mask_time` applies to (``eeg`` itself when none is pending).

        Read-only use: it is shared with the container this one derives from.
        """
        return self._eeg

    @property
    def n_trials(self):
        return self._eeg.shape[0]

    @property
    def n_channels(self):
        return self._eeg.shape[1]

    @property
    def n_times(self):
        return self._eeg.shape[2]

    @property
    def n_features(self):
        return self.features.shape[1]

    @property
    def info(self):
        """``mne.Info`` of the channels (built on first use).

        The digitisation of the epochs the container was made from
        (:meth:`from_epochs`) when they had one, else the easycap-M1 montage.
        """
        if self._info is None:
            self._info = self._own_info() or make_info(self.ch_names, self.sfreq)
        return self._info

    def _own_info(self):
        """The source ``Info`` reduced to this container's channels (None without one)."""
        import mne

        src = self._source_info
        if src is None or not set(self.ch_names) <= set(src["ch_names"]):
            return None
        info = mne.pick_info(src, [src["ch_names"].index(c) for c in self.ch_names],
                             verbose="error")
        if info["sfreq"] != self.sfreq:
            with info._unlock():
                info["sfreq"] = self.sfreq
        return info

    def __len__(self):
        return self.n_trials

    def __repr__(self):
        n_cond = len(np.unique(self.conditions))
        return (f"<EEGImageData | {self.n_trials} trials ({n_cond} conditions), "
                f"{self.n_channels} ch, {self.n_times} samples @ {self.sfreq:g} Hz "
                f"({self.times[0]:.3f}-{self.times[-1]:.3f} s), {self.n_features}-d features>")

    # --------------------------------------------------------------- selection
    def get_data(self, picks=None, *, tmin=None, tmax=None, copy=True):
        """The EEG array ``(n_trials, n_channels, n_times)``, as ``mne.Epochs.get_data``.

        Parameters
        ----------
        picks : str | int | list | None
            Channels, as in :meth:`pick`; None: all.
        tmin, tmax : float | None
            Time span in seconds (inclusive); None: the whole epoch.
        copy : bool
            Return a copy (always, when ``picks`` or a time span select).

        Returns
        -------
        eeg : ndarray of float32
        """
        if picks is None and tmin is None and tmax is None:
            return self.eeg.copy() if copy else self.eeg
        view = self.copy(deep=False)
        if picks is not None:
            view.pick(picks)
        if tmin is not None or tmax is not None:
            view.crop(tmin, tmax)
        return view.eeg

    def __getitem__(self, item):
        """Trials by concept name (``data['00001_aircraft_carrier']``), list of names, or index.

        Parameters
        ----------
        item : str | list of str | int | slice | array of int or bool
            A concept name or a list of them (every trial of those concepts,
            in data order), else anything numpy indexes trials with.

        Returns
        -------
        EEGImageData
            A new container.
        """
        if isinstance(item, str) or (isinstance(item, (list, tuple)) and item
                                     and all(isinstance(i, str) for i in item)):
            names = [item] if isinstance(item, str) else list(item)
            unknown = [n for n in names if n not in set(self.concepts)]
            if unknown:
                raise KeyError(f"Concepts not in the data: {', '.join(unknown[:5])} "
                               f"(e.g. {', '.join(self.concepts[:3])} are).")
            return self.subset(np.isin(self.concepts, names))
        if isinstance(item, (int, np.integer)):
            item = [item]
        index = np.arange(self.n_trials)[item]
        return self.subset(index)

    def average(self):
        """The mean over trials as an ``mne.EvokedArray`` (``nave`` = number of trials).

        Returns
        -------
        evoked : mne.EvokedArray
        """
        import mne

        return mne.EvokedArray(self.eeg.mean(0, dtype=np.float64), self.info,
                               tmin=float(self.times[0]), nave=self.n_trials,
                               comment=str(self.meta.get("split", "EEGImageData")),
                               verbose="error")

    @fill_doc
    def plot_topomap(self, times="auto", *, axes=None, show=False, **kwargs):
        """Scalp maps of the trial average in the package style (:meth:`mne.Evoked.plot_topomap`).

        Parameters
        ----------
        times : float | list of float | 'auto'
            Time points (s) to map.
        axes : list of matplotlib Axes | None
            Where to draw (one per time point, plus one for the colour bar
            when ``colorbar=True``); None makes a new figure.
        %(show)s
        **kwargs
            Passed to :meth:`mne.Evoked.plot_topomap` (``ch_type``, ``vlim`` ...).

        Returns
        -------
        fig : matplotlib.figure.Figure
        """
        from .._style import style

        with style():
            return self.average().plot_topomap(times, axes=axes, show=show, **kwargs)

    @fill_doc
    def plot(self, *, axes=None, show=False, **kwargs):
        """Butterfly plot of the trial average in the package style (:meth:`mne.Evoked.plot`).

        Parameters
        ----------
        axes : matplotlib Axes | None
            Where to draw; None makes a new figure.
        %(show)s
        **kwargs
            Passed to :meth:`mne.Evoked.plot`.

        Returns
        -------
        fig : matplotlib.figure.Figure
        """
        from .._style import style

        with style():
            return self.average().plot(axes=axes, show=show, **kwargs)

    # -------------------------------------------------------------- derivation
    def _replace(self, **changes):
        """New container with some fields replaced (arrays shared unless replaced).

        A pending :meth:`mask_time` carries over when the EEG is not replaced.
        """
        pending = None if "eeg" in changes else self._zero_outside
        fields = dict(eeg=self._eeg, features=self.features,
                      concepts=self.concepts, ch_names=self.ch_names, times=self.times,
                      sfreq=self.sfreq, conditions=self.conditions, categories=self.categories,
                      meta=dict(self.meta))
        fields.update(changes)
        out = EEGImageData(validate=False, **fields)
        out._zero_outside = pending
        out._source_info = self._source_info
        return out

    def copy(self, deep=True):
        """A copy; in-place methods on it leave this container unchanged.

        Parameters
        ----------
        deep : bool
            Copy the arrays too. ``deep=False`` shares them: safe for the
            container's own methods (they bind new arrays), not for writing
            into ``copy.eeg`` yourself.

        Returns
        -------
        EEGImageData
        """
        if not deep:
            return self._replace()
        cats = None if self.categories is None else self.categories.copy()
        return self._replace(eeg=self.eeg.copy(), features=self.features.copy(),
                             concepts=self.concepts.copy(), conditions=self.conditions.copy(),
                             categories=cats, times=self.times.copy())

    def subset(self, index):
        """New container of the trials selected by an integer index or boolean mask."""
        index = np.asarray(index)
        cats = None if self.categories is None else self.categories[index]
        out = self._replace(eeg=self.eeg[index], features=self.features[index],
                            concepts=self.concepts[index], conditions=self.conditions[index],
                            categories=cats)
        if "trial_split" in self.meta:  # per-trial labels follow the trials
            out.meta["trial_split"] = np.asarray(self.meta["trial_split"])[index]
        return out

    def with_features(self, features):
        """Same EEG with other features (e.g. another image model's)."""
        out = self._replace(features=np.asarray(features, dtype=np.float32))
        if out.features.shape[0] != self.n_trials:
            raise ValueError(f"features has {out.features.shape[0]} rows for {self.n_trials} trials.")
        return out

    def _channel_list(self, names=None, region=None):
        if (names is None) == (region is None):
            raise ValueError("Give exactly one of names= or region=.")
        if region is not None:
            regions = [region] if isinstance(region, str) else list(region)
            by_region = channel_regions(self.ch_names)
            unknown = [r for r in regions if r not in REGIONS]
            if unknown:
                raise ValueError(f"Unknown region {unknown}; choose from {', '.join(REGIONS)}.")
            names = [c for r in regions for c in by_region[r]]
        names = [names] if isinstance(names, str) else list(names)
        lower = {c.lower(): c for c in self.ch_names}
        missing = [n for n in names if n.lower() not in lower]
        if missing:
            raise ValueError(f"Channels not in the data: {', '.join(missing)}. "
                             f"Available: {', '.join(self.ch_names)}.")
        return [lower[n.lower()] for n in names]

    def pick_channels(self, names=None, *, region=None):
        """Keep only the given channels (by name) or a region's channels, in place.

        Channels keep their order in the data. Returns ``self``.
        """
        keep = set(self._channel_list(names, region))
        idx = [i for i, c in enumerate(self.ch_names) if c in keep]
        return self._select_channels(idx)

    def pick(self, picks):
        """Keep channels by name, index or region name (``'occipital'``), in place.

        Parameters
        ----------
        picks : str | int | list of str or int
            Channel names, channel indices or region names (mixed freely).

        Returns
        -------
        self : EEGImageData
        """
        picks = [picks] if isinstance(picks, (str, int, np.integer)) else list(picks)
        names = []
        for p in picks:
            if isinstance(p, (int, np.integer)):
                if not -self.n_channels <= p < self.n_channels:
                    raise ValueError(f"Channel index {p} out of range for {self.n_channels} "
                                     "channels.")
                names.append(self.ch_names[p])
            elif p in REGIONS:
                names.extend(self._channel_list(region=p))
            else:
                names.append(p)
        return self.pick_channels(names)

    def drop_channels(self, names=None, *, region=None):
        """Remove the given channels or a region's channels, in place; returns ``self``."""
        drop = set(self._channel_list(names, region))
        idx = [i for i, c in enumerate(self.ch_names) if c not in drop]
        if not idx:
            raise ValueError("Dropping these channels would leave none.")
        return self._select_channels(idx)

    def _select_channels(self, idx):
        self.eeg = self.eeg[:, idx, :]
        self.ch_names = [self.ch_names[i] for i in idx]
        self._info = None
        return self

    def _time_mask(self, tmin, tmax, include_tmax=True):
        tmin = self.times[0] if tmin is None else tmin
        tmax = self.times[-1] if tmax is None else tmax
        half = 0.5 / self.sfreq  # tolerate float rounding of sample times
        upper = (self.times <= tmax + half) if include_tmax else (self.times < tmax - half)
        mask = (self.times >= tmin - half) & upper
        if not mask.any():
            raise ValueError(f"No samples between {tmin} and {tmax} s "
                             f"(data span {self.times[0]:.3f}-{self.times[-1]:.3f} s).")
        return mask

    def crop(self, tmin=None, tmax=None):
        """Keep samples with ``tmin <= t <= tmax`` (seconds, inclusive), in place; returns ``self``."""
        mask = self._time_mask(tmin, tmax)
        self.eeg = np.ascontiguousarray(self.eeg[:, :, mask])
        self.times = self.times[mask]
        return self

    def mask_time(self, tmin=None, tmax=None, *, include_tmax=True):
        """Zero every sample outside ``[tmin, tmax]`` keeping the length (the NICE way), in place.

        With ``include_tmax=False`` the window is half-open, ``[tmin, tmax)``,
        so adjacent windows share no sample. Returns ``self``.

        The zeros are written when ``eeg`` is next read (see
        :attr:`zero_outside`); until then nothing is copied.
        """
        mask = np.flatnonzero(self._time_mask(tmin, tmax, include_tmax))
        start, stop = int(mask[0]), int(mask[-1]) + 1
        if self._zero_outside is not None:  # two masks: zero outside both
            start, stop = max(start, self._zero_outside[0]), min(stop, self._zero_outside[1])
            stop = max(start, stop)
        self._zero_outside = (start, stop)
        return self

    def filter(self, l_freq, h_freq, *, method="iir", iir_params=None, pad=True, chunk=2048,
               **kwargs):
        """Band-pass (or high/low-pass, or band-stop with ``l_freq > h_freq``) through MNE, in place.

        Parameters
        ----------
        l_freq, h_freq : float | None
            Edges in Hz, as in :func:`mne.filter.filter_data`.
        method : 'iir' | 'fir'
            IIR by default: FIR filters longer than a 1-s epoch would ring.
        iir_params : dict | None
            Defaults to a 4th-order Butterworth in second-order sections.
        pad : bool
            Mirror-pad each epoch by its own length on both sides before
            filtering and crop afterwards, so a short epoch does not ring at
            its edges.
        chunk : int
            Trials filtered at a time, to bound memory.
        **kwargs
            Passed to :func:`mne.filter.filter_data` (e.g. ``phase``).

        Returns
        -------
        self : EEGImageData
        """
        import mne

        if method == "iir" and iir_params is None:
            iir_params = dict(order=4, ftype="butter", output="sos")
        out = np.empty_like(self.eeg)
        n_pad = self.n_times - 1 if pad else 0
        for start in range(0, self.n_trials, chunk):
            block = self.eeg[start:start + chunk].astype(np.float64)
            if n_pad:
                block = np.pad(block, ((0, 0), (0, 0), (n_pad, n_pad)), mode="reflect")
            filtered = mne.filter.filter_data(
                block, self.sfreq, l_freq, h_freq, method=method, iir_params=iir_params,
                verbose="error", **kwargs)
            out[start:start + chunk] = filtered[..., n_pad:n_pad + self.n_times]
        self.eeg = out
        return self

    def average_repetitions(self):
        """Average trials that share an image condition (one row per condition).

        Conditions come out sorted by id. ``meta['n_repetitions']`` records how
        many trials went into each average.
        """
        ids, inverse, counts = np.unique(self.conditions, return_inverse=True, return_counts=True)
        if len(ids) == self.n_trials:
            order = np.argsort(self.conditions, kind="stable")
            # already one sorted row per condition: share the arrays (no copy of the EEG)
            sorted_ = bool(np.all(order == np.arange(self.n_trials)))
            out = self._replace() if sorted_ else self.subset(order)
            out.meta["n_repetitions"] = 1
            return out
        eeg = _group_means(self.eeg, inverse, counts)
        first = np.zeros(len(ids), dtype=np.int64)
        first[inverse[::-1]] = np.arange(self.n_trials)[::-1]
        cats = None if self.categories is None else self.categories[first]
        out = self._replace(eeg=eeg, features=self.features[first],
                            concepts=self.concepts[first], conditions=ids, categories=cats)
        out.meta["n_repetitions"] = int(counts.min()) if counts.min() == counts.max() else counts.tolist()
        return out

    # ------------------------------------------------------------------ MNE io
    def to_epochs(self):
        """Return an ``mne.EpochsArray`` with named events and concept/condition metadata.

        Each image condition is one event, named after its concept
        (``'category/concept'`` when categories are known, as MNE's
        hierarchical event names; ``'.../<condition>'`` appended when a
        concept spans several images), coded ``condition + 1``.

        Returns
        -------
        epochs : mne.EpochsArray
        """
        import mne
        import pandas as pd

        events = np.column_stack([np.arange(self.n_trials) * (self.n_times + 1),
                                  np.zeros(self.n_trials, int), self.conditions + 1])
        meta = pd.DataFrame({"concept": self.concepts, "condition": self.conditions})
        if self.categories is not None:
            meta["category"] = self.categories
        return mne.EpochsArray(self.eeg.astype(np.float64), self.info, events=events,
                               event_id=self._event_id(), tmin=float(self.times[0]),
                               metadata=meta, verbose="error")

    def _event_id(self):
        ids, first = np.unique(self.conditions, return_index=True)
        names = [c if self.categories is None else f"{self.categories[i]}/{c}"
                 for c, i in zip(self.concepts[first], first, strict=True)]
        shared = {n for n in names if names.count(n) > 1}
        return {(f"{n}/{c}" if n in shared else n): int(c) + 1
                for n, c in zip(names, ids, strict=True)}

    @classmethod
    def from_epochs(cls, epochs, features, concepts=None, *, categories=None, meta=None):
        """Build a container from any ``mne.Epochs`` and image features.

        Follows MNE: only EEG channels are kept, channels in ``info['bads']``
        are left out (as MNE's default picks do), and the epochs' own channel
        positions stay with the data (:attr:`info`). Epochs that are not
        preloaded are read once, for the picked channels only.

        Parameters
        ----------
        epochs : mne.Epochs
            EEG epochs, preloaded or not.
        features : array, shape (n_epochs, d) | dict of str -> array (d,)
            One feature per epoch, or one per concept name.
        concepts : array of str | None
            Concept of each epoch. Defaults to ``epochs.metadata['concept']``,
            else the event names: a hierarchical name (``'animal/antelope'``)
            gives the concept (its last tag, ``antelope``) and the category
            (its first, ``animal``); tags that are numbers (image ids) are
            skipped.
        categories : array of str | None
            Category of each epoch; default ``metadata['category']``, else
            the first tag of hierarchical event names.
        meta : dict | None
            Provenance kept in ``meta``.

        Returns
        -------
        EEGImageData
            Conditions (repetitions of one image share one) from
            ``metadata['condition']``, else the event codes when concepts come
            from the event names, else one per concept. A ``metadata['split']``
            column (``train`` / ``test`` per epoch) is kept as
            ``meta['trial_split']``, and
            :func:`eegvision.data.inputs.split_images` uses it instead of
            drawing a split.
        """
        import mne

        picks = mne.pick_types(epochs.info, meg=False, eeg=True, exclude="bads")
        if len(picks) == 0:
            raise ValueError("The epochs have no good EEG channels (after leaving out "
                             f"info['bads'] = {epochs.info['bads']}).")
        bads = [c for c in epochs.info["bads"] if c in epochs.ch_names]
        if bads:
            logger.info("Leaving out the bad channels %s (info['bads'])", ", ".join(bads))
        data = epochs.get_data(picks=picks)  # reads non-preloaded epochs from disk
        md = epochs.metadata
        conditions = None
        if concepts is None and md is not None and "concept" in md:
            concepts = md["concept"].to_numpy()
        elif concepts is None:
            id_to_name = {v: k for k, v in epochs.event_id.items()}
            tags = [_event_tags(id_to_name[e]) for e in epochs.events[:, 2]]
            concepts = [t[-1] for t in tags]
            if categories is None and all(len(t) > 1 for t in tags):
                categories = [t[0] for t in tags]
            conditions = np.unique(epochs.events[:, 2], return_inverse=True)[1]
        if md is not None and "condition" in md:
            conditions = md["condition"].to_numpy()
        if categories is None and md is not None and "category" in md:
            categories = md["category"].to_numpy()
        concepts = np.asarray(concepts).astype(str)
        features = _features_per_epoch(features, concepts)
        extra = {} if md is None or "split" not in md else {
            "trial_split": _split_labels(md["split"])}
        out = cls(data, features, concepts, [epochs.ch_names[i] for i in picks], epochs.times,
                  epochs.info["sfreq"], conditions=conditions, categories=categories,
                  meta={"source": "mne.Epochs", **(meta or {}), **extra})
        if epochs.info.get_montage() is not None:  # the recording's own positions
            out._source_info = mne.pick_info(epochs.info, picks, verbose="error")
        logger.debug("Built %r from epochs", out)
        return out


def _event_tags(name):
    """``'animal/antelope/0012'`` -> ``['animal', 'antelope']`` (number tags are image ids)."""
    tags = [t for t in str(name).split("/") if t and not t.isdigit()]
    return tags or [str(name)]


def _features_per_epoch(features, concepts):
    if isinstance(features, dict):
        missing = sorted(set(concepts) - set(features))
        if missing:
            raise ValueError(f"No feature for concepts: {', '.join(missing[:10])}")
        features = np.stack([np.asarray(features[c]) for c in concepts])
    features = np.asarray(features)
    if features.ndim == 3 and features.shape[1] == 1:
        features = features[:, 0]
    return features


def _split_labels(column):
    """``metadata['split']`` as ``'train'`` / ``'test'`` per epoch (``training`` is ``train``)."""
    labels = column.astype(str).str.strip().str.lower().replace({"training": "train"})
    unknown = sorted(set(labels) - {"train", "test"})
    if unknown:
        raise data_error("epochs.metadata['split']", f"values {unknown[:5]} are neither "
                         "'train' nor 'test'.", "label every epoch train or test.")
    return labels.to_numpy()


def n_repetitions(container):
    """The smallest number of trials (repetitions) of any condition in ``container``.

    Parameters
    ----------
    container : EEGImageData

    Returns
    -------
    int
    """
    return int(np.unique(container.conditions, return_counts=True)[1].min())


@dataclass
class SubjectData:
    """One subject's training and test containers.

    Parameters
    ----------
    subject : int
        Subject number.
    train, test : EEGImageData
        Training data and zero-shot test data (images not in ``train``).
    meta : dict
        Free provenance (root, layout, targets ...).
    test_repetitions : array, shape (n_test_conditions, n_repetitions, n_channels, n_times) | None
        The test EEG per repetition, in condition order, for noise ceilings
        when ``test`` holds averages.
    repetitions : dict of str -> EEGImageData | None
        ``'train'`` and / or ``'test'`` with every repetition as its own
        trial, handed over by the entry layer to the analyses that draw
        repetitions (``repetitions``, the split-half noise ceiling); see
        :func:`eegvision.data.inputs.unaveraged`.
    others : dict of int -> SubjectData | None
        The other subjects of a leave-one-subject-out analysis, handed over
        by the entry layer (:class:`eegvision.data.inputs.WithInputs`).
    """

    subject: int
    train: EEGImageData
    test: EEGImageData
    meta: dict = field(default_factory=dict)
    test_repetitions: np.ndarray | None = None
    repetitions: dict | None = None
    others: dict | None = None

    def __post_init__(self):
        # a model trained on one channel order and scored on another is silently wrong
        from .align import align_channels

        self.test = align_channels(self.test, self.train)
