"""Is a saliency map different from zero? Cluster-corrected sign-flip tests.

The maps with one value per test trial (gradient x input, Grad-CAM,
occlusion) have expectation zero where the EEG carries no information about
the image: the target is the retrieval *margin* (own image minus the other
images), and the input (activation) is taken relative to its trial mean, so
a channel whose signal is independent of the image gives terms that are
symmetric around zero. Occlusion's drop is zero in expectation for the same
reason. That is the null of a sign-flip test.

- One subject: the observations are the held-out test images (independent
  draws; the model was fitted on other images), so the test asks whether
  *this* fitted model uses the channel in the bin for new images. It says
  nothing about other subjects.
- Two or more subjects: the observations are the subjects' maps (each the
  mean over its test trials), the usual random-effects group test.

Each (bin, channel) gets a one-sided one-sample t statistic (the map is
positive where information is used); clusters are formed over neighbouring
channels (the montage's adjacency, :func:`mne.channels.find_ch_adjacency`)
and adjacent bins, and their sizes are compared with the sign-flip
distribution of the largest cluster
(:func:`mne.stats.spatio_temporal_cluster_1samp_test`), which controls the
family-wise error over all channels and bins.
"""

from __future__ import annotations

import numpy as np

#: Cluster-forming threshold (one-sided p of the per-cell t test).
CLUSTER_P = 0.05


def channel_adjacency(ch_names):
    """Sparse ``(n_chans, n_chans)`` adjacency of the montage's channels (MNE)."""
    import mne

    from ..data.montage import make_info

    with mne.utils.use_log_level("error"):  # the Delaunay fallback note is not news
        adjacency, names = mne.channels.find_ch_adjacency(make_info(ch_names, 250.0), "eeg")
    if list(names) != list(ch_names):
        raise ValueError("channel adjacency came back in another channel order.")
    return adjacency


def cluster_test(maps, ch_names, *, n_permutations=1000, seed=0):
    """Cluster-corrected p-value of every (bin, channel) of a map against zero.

    Parameters
    ----------
    maps : array, shape (n_obs, n_bins, n_chans)
        One map per observation (test trial or subject).
    ch_names : list of str
        Channel names (positions from the easycap-M1 montage).
    n_permutations : int
        Sign flips (all ``2 ** n_obs`` when fewer).
    seed : int

    Returns
    -------
    array, shape (n_bins, n_chans)
        The p-value of the cluster a cell belongs to (1 outside every
        cluster); NaN everywhere with fewer than 3 observations.
    """
    import mne
    from scipy import stats

    maps = np.asarray(maps, dtype=np.float64)
    n_obs = len(maps)
    if n_obs < 3:
        return np.full(maps.shape[1:], np.nan)
    threshold = stats.t.ppf(1 - CLUSTER_P, n_obs - 1)
    _, clusters, p_values, _ = mne.stats.spatio_temporal_cluster_1samp_test(
        maps, threshold=threshold, n_permutations=int(n_permutations), tail=1,
        adjacency=channel_adjacency(ch_names), out_type="mask", rng=int(seed), verbose="error")
    p = np.ones(maps.shape[1:])
    for mask, pv in zip(clusters, p_values, strict=True):
        p[mask] = np.minimum(p[mask], pv)
    return p


__all__ = ["channel_adjacency", "cluster_test"]
