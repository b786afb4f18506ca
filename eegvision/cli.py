"""Command-line interface: a thin shell over the Python API.

``main(argv)`` takes an argument list so tests call it directly. Each
sub-command parses its options, calls one API function and prints where the
results went; no computation lives here.
"""

from __future__ import annotations

import argparse
import logging
import sys

from . import __version__
from ._utils import EEGVisionError

ANALYSES = ("temporal", "spatial", "spectral", "semantic", "saliency")


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _nonneg_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _add_data_options(p, subjects=False):
    p.add_argument("--data-dir", default=None,
                   help="THINGS-EEG2 data root (default: $EEGVISION_DATA, else the built-in "
                        "simulated dataset)")
    if subjects:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--subject", type=_positive_int, default=None, help="one subject (default 1)")
        g.add_argument("--subjects", default=None, help="several subjects: 1-10 or 1,3,5")
    else:
        p.add_argument("--subject", type=_positive_int, default=1, help="subject number (default 1)")


def _add_compute_options(p, default_model="nice", unset_defaults=False):
    # With unset_defaults, options left out stay None so that a --config recipe
    # can fill them and explicit options still win over the recipe.
    p.add_argument("--out", default=None, help="output directory (default ./eegvision-out/<command>)")
    p.add_argument("--seed", type=_nonneg_int, default=None if unset_defaults else 0,
                   help="random seed (default 0)")
    p.add_argument("--epochs", type=_positive_int, default=None,
                   help="training epochs (default: the recipe's)")
    p.add_argument("--model", default=None if unset_defaults else default_model,
                   help=f"encoder name (default {default_model})")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def _add_bin_option(p):
    p.add_argument("--bin-ms", type=float, default=None,
                   help="saliency: width of the topomap time bins in ms (default 100)")


def _add_run_options(p):
    p.add_argument("--seeds", default=None, help="several seeds: 0-4 or 0,1,2")
    p.add_argument("--recipe", default=None, choices=("fast", "nice"),
                   help="training recipe (default fast)")
    p.add_argument("--config", default=None,
                   help="TOML recipe from analyses/ (paper settings; explicit options win)")
    p.add_argument("--quick", action="store_true",
                   help="with --config: first subject, one seed, at most 20 epochs")
    p.add_argument("--jobs", type=_positive_int, default=1, help="parallel local jobs")
    p.add_argument("--backend", default="local", choices=("local", "dask"))
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (backend dask)")
    p.add_argument("--no-batch", action="store_true",
                   help="fit one model at a time instead of a sweep's compatible models together")


def build_parser():
    """Return the ``eegvision`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="eegvision",
        description="Decode natural images from EEG and find where the information lives.")
    parser.add_argument("--version", action="version", version=f"eegvision {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("info", help="check a data root and describe one subject")
    _add_data_options(p)
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("simulate", help="write a simulated THINGS-EEG2 data root with planted truth")
    p.add_argument("directory", help="where to write the data root")
    p.add_argument("--subjects", type=_positive_int, default=1, help="number of subjects (default 1)")
    p.add_argument("--seed", type=_nonneg_int, default=0)
    p.add_argument("--full", action="store_true", help="THINGS-EEG2's real dimensions (large!)")
    p.add_argument("--layouts", default="250hz",
                   help="comma list of preprocessed layouts: 250hz, official (default 250hz)")
    p.add_argument("--raw", action="store_true", help="also write raw recordings (Raw_data/)")
    p.add_argument("--region", default=None, help="region carrying image information")
    p.add_argument("--window", default=None, help="planted window in ms, e.g. 100-300")
    p.add_argument("--band", default=None, help="planted band in Hz, e.g. 4-8")
    p.add_argument("--features", default=None, help="CLIP test features .npy (default: from "
                   "$EEGVISION_SHARED_DATA or ../shared/data when present)")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("preprocess", help="raw THINGS-EEG2 recordings -> preprocessed layout (MNE)")
    _add_data_options(p)
    p.add_argument("--out", default=None, help="output data root (default: the data root)")
    p.add_argument("--sfreq", type=float, default=250.0, help="target sampling rate (default 250)")
    p.add_argument("--no-mvnn", action="store_true", help="skip multivariate noise normalisation")
    p.set_defaults(func=_cmd_preprocess)

    p = sub.add_parser("train", help="train one encoder and score zero-shot retrieval")
    _add_data_options(p, subjects=True)
    _add_compute_options(p)
    p.add_argument("--recipe", default="fast", choices=("fast", "nice"))
    p.add_argument("--amp", default=None, action=argparse.BooleanOptionalAction,
                   help="mixed precision: bf16 on CUDA and on CPUs with native bf16 "
                        "(default: the recipe's, on for fast, off for nice)")
    p.add_argument("--loso", action="store_true", help="leave-one-subject-out over --subjects")
    p.add_argument("--targets", default="centers", choices=("centers", "images"),
                   help="test candidates: concept centres (NICE) or the test images")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="score a saved checkpoint on the test set")
    p.add_argument("checkpoint")
    _add_data_options(p)
    p.add_argument("--out", default=None)
    p.add_argument("--targets", default="centers", choices=("centers", "images"))
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("analyze", help="run one analysis (temporal, spatial, spectral, semantic, saliency)")
    p.add_argument("analysis", choices=ANALYSES)
    _add_data_options(p, subjects=True)
    _add_compute_options(p, unset_defaults=True)
    _add_run_options(p)
    p.add_argument("--windows", default=None, help="temporal: explicit windows in ms, 0-100,100-200")
    p.add_argument("--width", type=float, default=None, help="temporal: window width in ms (100)")
    p.add_argument("--step", type=float, default=None, help="temporal: window step in ms (100)")
    p.add_argument("--mode", default=None,
                   help="temporal: sliding|cumulative; spatial: drop|only|both; spectral: pass|stop")
    p.add_argument("--bands", default=None, help="spectral: delta,theta or name=lo-hi,... (Hz)")
    p.add_argument("--regions", default=None, type=lambda s: s.split(","),
                   help="spatial: comma list of regions (default all five)")
    p.add_argument("--n-permutations", type=_positive_int, default=None,
                   help="semantic: Mantel permutations (default 1000)")
    p.add_argument("--text", action="store_true", default=None,
                   help="semantic: add a text-embedding RDM (needs eegvision[text])")
    _add_bin_option(p)
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("topomap", help="Grad-CAM / attention scalp maps over time")
    _add_data_options(p, subjects=True)
    _add_compute_options(p, unset_defaults=True)
    _add_run_options(p)
    _add_bin_option(p)
    p.set_defaults(func=_cmd_topomap)

    p = sub.add_parser("figures", help="rebuild publication figures and tables from saved results")
    p.add_argument("--results", required=True, help="folder holding analysis / training outputs")
    p.add_argument("--out", required=True, help="where to write the figures and tables")
    p.add_argument("--images", default=None,
                   help="THINGS-EEG2 image_set/test_images, for retrieval thumbnails")
    p.set_defaults(func=_cmd_figures)
    return parser


# ---------------------------------------------------------------- commands
def _cmd_info(args):
    from .data.things import describe_root

    print(describe_root(args.data_dir, args.subject))


def _cmd_simulate(args):
    from .data.simulate import simulate_cli

    simulate_cli(args)


def _cmd_preprocess(args):
    from .data.raw import preprocess_cli

    preprocess_cli(args)


def _cmd_train(args):
    from .train import train_cli

    train_cli(args)


def _cmd_evaluate(args):
    from .evaluate import evaluate_cli

    evaluate_cli(args)


def _cmd_analyze(args):
    from .analysis import analyze_cli

    analyze_cli(args)


def _cmd_topomap(args):
    from .analysis import analyze_cli

    args.analysis = "saliency"
    analyze_cli(args)


def _cmd_figures(args):
    from .viz.figures import figures_cli

    figures_cli(args)


def main(argv=None):
    """Entry point of the ``eegvision`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        args.func(args)
    except EEGVisionError as err:
        print(f"eegvision {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, FileNotFoundError) as err:
        print(f"eegvision {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
