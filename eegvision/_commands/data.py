"""``eegvision info``, ``simulate``, ``preprocess`` and ``features``: parse, call, print."""

from __future__ import annotations

import re
from pathlib import Path


def preprocess_cli(args):
    """``eegvision preprocess``: raw recordings of one subject -> preprocessed layout."""
    from .._utils import EEGVisionError
    from ..data.builtin import resolve_root
    from ..data.raw import preprocess_subject

    root, _ = resolve_root(args.data_dir)
    preset, seed = getattr(args, "preset", None), getattr(args, "seed", None)
    if preset is not None:
        from ..data.presets import OFFICIAL_SEED, preprocess_preset

        if args.sfreq is not None or args.no_mvnn:
            raise EEGVisionError(f"--preset {preset} fixes the rate and the MVNN; "
                                 "--sfreq / --no-mvnn cannot change them.\n  Fix: drop "
                                 "--sfreq / --no-mvnn, or drop --preset.")
        seed = OFFICIAL_SEED if seed is None else seed
        paths = preprocess_preset(root, args.subject, preset, args.out, seed=seed,
                                  overwrite=args.overwrite)
        print(f"eegvision preprocess: sub-{args.subject:02d} (preset {preset}, seed {seed}) "
              "written to:")
        for path in paths:
            print(f"  {path}")
        return paths
    if seed is not None:
        raise EEGVisionError("--seed is used by --preset only (the default pipeline keeps the "
                             "first repetitions in time).\n  Fix: add --preset or drop --seed.")
    args.sfreq = 250.0 if args.sfreq is None else args.sfreq
    paths = preprocess_subject(root, args.subject, args.out, sfreq=args.sfreq,
                               mvnn=not args.no_mvnn, overwrite=args.overwrite)
    steps = f"epochs {args.sfreq:g} Hz" + ("" if args.no_mvnn else " + MVNN")
    print(f"eegvision preprocess: sub-{args.subject:02d} ({steps}) written to:")
    for path in paths:
        print(f"  {path}")
    return paths


def _parse_range(text, option):
    """``"100-300"`` -> (100.0, 300.0)."""
    try:
        lo, hi = (float(p) for p in str(text).replace(",", "-").split("-"))
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected two numbers like 100-300.") from None
    return lo, hi


def simulate_cli(args):
    """``eegvision simulate DIR``: write a simulated root and print what was planted."""
    from ..data.simulate import simulate_root

    layouts = tuple(x.strip().lower() for x in str(args.layouts or "nice").split(",") if x.strip())
    kwargs = dict(subjects=args.subjects, seed=args.seed, full=args.full, layouts=layouts,
                  raw=args.raw, features_dir=args.features,
                  overwrite=getattr(args, "overwrite", False),
                  eeg_detail=getattr(args, "eeg_detail", None),
                  blur_levels=getattr(args, "blur_levels", None),
                  cortex=getattr(args, "cortex", None))
    if args.region:
        kwargs["region"] = args.region
    if args.window:
        kwargs["window_ms"] = _parse_range(args.window, "--window")
    if args.band:
        kwargs["band_hz"] = _parse_range(args.band, "--band")
    root = simulate_root(args.directory, **kwargs)
    import json

    truth = json.loads((root / "simulation_truth.json").read_text())
    d = truth["dims"]
    print(f"Wrote simulated THINGS-EEG2 root {root} ({d['n_subjects']} subject(s), "
          f"layouts {', '.join(truth['layouts'])}) in {truth['generation_seconds']} s")
    print(f"  training {d['n_train']} x {d['n_train_reps']}, test {d['n_test']} x "
          f"{d['n_test_reps']}, {d['n_channels']} ch, {d['sfreq']:g} Hz, {d['dtype']}; "
          f"features: {truth['features']} (D={d['feature_dim']}), names: {truth['concept_names']}")
    print(f"  planted: region {truth['region']}, window {truth['window_ms'][0]:g}-"
          f"{truth['window_ms'][1]:g} ms, band {truth['band_hz'][0]:g}-{truth['band_hz'][1]:g} Hz, "
          f"SNR {truth['snr']:g}, seed {truth['seed']} (see simulation_truth.json)")
    if cortex := truth.get("cortex"):
        print(f"  planted on the cortex instead: {cortex['hemisphere']} {cortex['lobe']} patch of "
              f"{cortex['area_cm2']:g} cm2 around {tuple(cortex['centre_mm'])} mm (fsaverage)")
    if raw := truth.get("raw"):
        print(f"  raw: {raw if isinstance(raw, str) else f'{len(raw)} session files'}")
    return root


def _floats(text, option):
    from .._utils import data_error

    try:
        return [float(t) for t in str(text).split(",") if t.strip()]
    except ValueError:
        raise data_error(f"{option} {text!r}", "expected numbers separated by commas.",
                         "e.g. --blur 1,2,4,8") from None


def features_cli(args):
    """``eegvision features``: compute a feature set and print where it went."""
    import os

    from .._utils import _check_option, data_error
    from ..data.builtin import resolve_root
    from ..data.paths import DATA_ENV
    from ..images.features import FEATURE_FILES, extract_features, feature_set_dir

    if args.data_dir is None and not os.environ.get(DATA_ENV):
        raise data_error("--data-dir", f"not given (and ${DATA_ENV} is not set); the built-in "
                         "simulated dataset has no images.",
                         "pass the data root that holds image_set/ (training_images/, "
                         "test_images/, image_metadata.npy).")
    root, _ = resolve_root(args.data_dir)
    name = args.name or re.sub(r"[^A-Za-z0-9._-]+", "-", Path(str(args.model)).name).strip("-.")
    sigmas = _floats(args.blur, "--blur") if args.blur else ()
    splits = tuple(s.strip() for s in args.splits.split(","))
    for s in splits:
        _check_option("--splits", s, tuple(FEATURE_FILES))
    man = extract_features(root, name, args.model, blur_sigmas=sigmas,
                           things_images=args.things_images,
                           splits=splits, batch_size=args.batch_size,
                           chunk_size=args.chunk_size, device=args.device, output=args.output,
                           overwrite=args.overwrite)
    state = "up to date" if man["cached"] else "written"
    print(f"feature set {name!r} {state}: {feature_set_dir(root, name)}")
    for fname, shape in man["files"].items():
        print(f"  {fname}: {tuple(shape)}")
    print(f"use it with --features {name}")
    return man


def describe_root(data_dir, subject=1):
    """A text description of a data root and one subject (for ``eegvision info``).

    Parameters
    ----------
    data_dir : str | Path | None
        Data root; None uses ``$EEGVISION_DATA`` or the built-in simulated data.
    subject : int
        Subject to describe.
    """
    from ..data.builtin import resolve_root
    from ..data.things import root_info

    root, builtin = resolve_root(data_dir, subjects=[subject])
    info = root_info(root, subject)
    lines = [f"Data root: {root}" + (" (built-in simulated dataset)" if builtin else "")]
    lines.append(f"Layouts found for subject {subject}: {len(info['layouts']) or 'none'}")
    lines.extend(_layout_line(layout) for layout in info["layouts"])
    sets = info["feature_sets"]
    lines.append(f"Feature sets (--features): {', '.join(sets) if sets else 'none'}")
    data = info["data"]
    lines.append(f"Subject {subject} ({data.meta['layout']} layout):")
    for split in ("train", "test"):
        d = getattr(data, split)
        lines.append(f"  {split}: {d.n_trials} conditions x {d.meta['n_repetitions']} "
                     f"repetitions (averaged), eeg {d.eeg.shape}, features {d.features.shape}")
        lines.append(f"    concepts: {_abbrev(d.concepts[:3], 3)}, ...")
    d = data.train
    lines.append(f"  {d.n_channels} channels: {_abbrev(d.ch_names)}")
    lines.append(f"  {d.sfreq:g} Hz, {d.n_times} samples, {d.times[0]:.3f} to {d.times[-1]:.3f} s")
    if info["truth"] is not None:
        import json

        lines.append("Planted truth (simulation_truth.json):")
        for k, v in info["truth"].items():
            text = v if isinstance(v, str) else json.dumps(v)
            lines.append(f"  {k}: {text if len(text) <= 100 else text[:97] + '...'}")
    return "\n".join(lines)


def _layout_line(layout):
    """One line per layout: name, folder, channels, rate, times (or why it is unreadable)."""
    name, folder = layout["name"], layout["folder"]
    if "error" in layout:
        return f"  {name} ({folder}/): unreadable: {layout['error']}"
    tr, te = layout["train"], layout["test"]
    t = tr["times"]
    return (f"  {name} ({folder}/): {len(tr['ch_names'])} channels, {tr['sfreq']:g} Hz, "
            f"{len(t)} samples {t[0]:.3f} to {t[-1]:.3f} s; training {tr['shape'][0]}x"
            f"{tr['shape'][1]}, test {te['shape'][0]}x{te['shape'][1]} (conditions x "
            f"repetitions), {tr['dtype']}")


def _abbrev(items, n=6):
    items = [str(i) for i in items]
    return ", ".join(items) if len(items) <= 2 * n else (
        ", ".join(items[:n]) + f", ... ({len(items) - 2 * n} more) ..., " + ", ".join(items[-n:]))
