"""``eegvision download``: parse, call, print."""

from __future__ import annotations

import os


def download_cli(args):
    """``eegvision download``: fetch THINGS-EEG2 into ``--data-dir`` (or ``$EEGVISION_DATA``)."""
    from .._utils import option_error
    from ..data.download import fetch_things_eeg2
    from ..data.paths import DATA_ENV

    data_dir = args.data_dir or os.environ.get(DATA_ENV)
    if not data_dir:
        raise option_error("--data-dir", None, "no folder to download into",
                           f"give --data-dir DIR (or set {DATA_ENV}=DIR)")
    report = fetch_things_eeg2(data_dir, args.subjects, args.what, source=args.source,
                               sessions=args.sessions, overwrite=args.overwrite,
                               dry_run=args.dry_run, timeout=args.timeout, retries=args.retries,
                               keep_archives=args.keep_archives, progress=not args.no_progress)
    if not args.dry_run:
        print(f"eegvision download: {_next_step(args, data_dir, report)}")
    return report


def _next_step(args, data_dir, report):
    """What to run next on what was fetched."""
    if args.source == "nemar":
        return f"{data_dir} holds NEMAR's BIDS tree (nm000232) as published."
    fetched = set(report["what"])
    if "preprocessed" in fetched:
        return f"check the data root with `eegvision info --data-dir {data_dir}`."
    if "raw" in fetched:
        return (f"preprocess the raw EEG with `eegvision preprocess --data-dir {data_dir} "
                "--subject N --preset official`.")
    return f"files are in {data_dir}."
