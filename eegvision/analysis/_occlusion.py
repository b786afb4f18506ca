"""Occlusion: which channels and times does retrieval lose when they are hidden?

Model-agnostic and gradient-free: it needs only ``encode_eeg`` and
``encode_image`` (every eegvision encoder, ridge, and any torch module a
user brings). At test time one channel in one time bin (or one whole bin, or
one whole channel) is replaced by its mean over the test trials, the EEG is
embedded again, and the loss of retrieval is the score.

Why the test-set mean and not zero: the mean is the evoked response, which is
identical for every image and so carries no image information; replacing a
segment by it removes exactly the trial's own information while the input
stays where the model was trained (zeros put a large evoked response and
BatchNorm statistics off their range, so the drop would partly measure that).

Scores (per trial, then averaged): the *retrieval margin*, the cosine
similarity of the trial's EEG embedding with its own image minus the mean
similarity with the other test images; its drop is the map, since it is far
less noisy than top-1 on one or two hundred test images. The time-only and
channel-only occlusions also report the drop in top-1 and the rise in the
mean rank of the correct image.
"""

from __future__ import annotations

import numpy as np

#: Maximum number of occluded trials embedded in one call.
CHUNK = 1000


def bin_masks(times, edges_ms):
    """Boolean sample masks ``(n_bins, n_times)`` of the bins ``[lo, hi)``."""
    t_ms = np.asarray(times) * 1000
    return np.stack([(t_ms >= lo - 1e-6) & (t_ms < hi - 1e-6)
                     for lo, hi in zip(edges_ms[:-1], edges_ms[1:], strict=True)])


def retrieval_scores(eeg_emb, img_emb):
    """Per-trial ``(margin, rank)`` of each trial's own image among all test images."""
    from ..evaluate import concept_ranks, cosine_similarity

    sim = cosine_similarity(eeg_emb, img_emb)
    own = np.diag(sim)
    margin = own - (sim.sum(1) - own) / max(len(sim) - 1, 1)
    return margin, np.asarray(concept_ranks(sim), dtype=np.float64)


class _Embedder:
    """Embeddings of occluded copies of the test EEG; exact shortcut for ridge."""

    def __init__(self, model, eeg, features):
        from ..models.ridge import RidgeDecoder

        self.model, self.eeg = model, np.asarray(eeg, dtype=np.float32)
        self.feats = np.asarray(features, dtype=np.float32)
        self.centre = self.eeg.mean(0)
        self.linear = isinstance(model, RidgeDecoder)
        if self.linear:
            # ridge is linear: occluding a block changes the output by -W (x - mean) there
            n, c, t = self.eeg.shape
            self.w = (model.coef_ / model.std_).reshape(-1, c, t)  # (d, C, T)
            self.base = model.predict(self.eeg).astype(np.float64)

    def __call__(self, blocks):
        """Embeddings ``(len(blocks), n, d)``; each block is a (channels, samples) index pair."""
        from ..evaluate import embed

        if self.linear:
            dev = (self.eeg - self.centre).astype(np.float64)
            out = []
            for ch, samp in blocks:
                delta = np.einsum("nct,dct->nd", dev[:, ch][:, :, samp], self.w[:, ch][:, :, samp])
                out.append(self.base - delta)
            return np.stack(out)
        n = len(self.eeg)
        per = max(1, CHUNK // n)
        out = []
        for start in range(0, len(blocks), per):
            group = blocks[start:start + per]
            x = np.repeat(self.eeg[None], len(group), axis=0)
            for k, (ch, samp) in enumerate(group):
                x[k][:, ch[:, None], samp[None, :]] = self.centre[ch[:, None], samp[None, :]]
            emb, _ = embed(self.model, x.reshape(-1, *self.eeg.shape[1:]), self.feats[:1])
            out.append(emb.reshape(len(group), n, -1))
        return np.concatenate(out)


def occlusion_maps(model, test, edges_ms):
    """Occlusion of every (time bin, channel), every bin and every channel.

    Parameters
    ----------
    model : object
        Anything with ``encode_eeg`` and ``encode_image`` (see
        :func:`eegvision.evaluate.embed`).
    test : EEGImageData
        Test data averaged over repetitions.
    edges_ms : array
        Time-bin edges (ms).

    Returns
    -------
    dict
        ``map`` ``(n_bins, n_chans)``: mean drop of the retrieval margin when
        that channel is occluded in that bin; ``per_trial``
        ``(n_trials, n_bins, n_chans)``, the same per trial;
        ``occlusion_time`` ``(n_bins, 3)`` and ``occlusion_channel``
        ``(n_chans, 3)``: drop of the margin, drop of top-1 and rise of the
        mean rank when the whole bin (all channels) / the whole channel (all
        binned samples) is occluded.
    """
    from ..evaluate import embed

    masks = bin_masks(test.times, edges_ms)
    samples = [np.flatnonzero(m) for m in masks]
    all_samples = np.flatnonzero(masks.any(0))
    n_ch = test.n_channels
    emb0, img = embed(model, test.eeg, test.features)
    margin0, rank0 = retrieval_scores(emb0, img)
    embedder = _Embedder(model, test.eeg, test.features)

    def scores(blocks):
        embs = embedder(blocks)
        return [retrieval_scores(e, img) for e in embs]

    cells = [(np.array([c]), s) for s in samples for c in range(n_ch)]
    per_trial = np.stack([margin0 - m for m, _ in scores(cells)])  # (bins * chans, n)
    per_trial = per_trial.reshape(len(samples), n_ch, -1).transpose(2, 0, 1)

    def summary(blocks):
        return np.array([[np.mean(margin0 - m), np.mean(rank0 == 1) - np.mean(r == 1),
                          np.mean(r) - np.mean(rank0)] for m, r in scores(blocks)])

    every = np.arange(n_ch)
    return {"map": per_trial.mean(0), "per_trial": per_trial,
            "occlusion_time": summary([(every, s) for s in samples]),
            "occlusion_channel": summary([(np.array([c]), all_samples) for c in range(n_ch)])}
