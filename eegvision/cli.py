"""Command-line interface: a thin shell over the Python API.

``main(argv)`` takes an argument list so tests call it directly. Each
sub-command parses its options, calls one API function and prints where the
results went; no computation lives here.
"""

from __future__ import annotations

import argparse
import contextlib
import sys

from ._utils import EEGVisionError, use_log_level
from ._version import __version__


def _analysis_names():
    """The registered analyses (:mod:`eegvision.analysis.registry`)."""
    from .analysis.registry import names as analysis_names

    return analysis_names()


def _recipes():
    """--recipe choices: the recipes of :mod:`eegvision.training.config` (which imports no torch at import)."""
    from .training.config import RECIPES

    return tuple(RECIPES)


def _int_type(low, high):
    """An argparse type: an integer in ``[low, high]`` (the same check as a recipe's keys)."""
    def parse(text):
        from ._values import check_int

        try:
            return check_int(text, "", low=low, high=high)
        except ValueError as err:
            raise argparse.ArgumentTypeError(_one_line(err).split(": ", 1)[-1]) from None
    parse.__name__ = "integer"
    return parse


def _float_type(low=None, high=None, low_open=False):
    """An argparse type: a finite number within its bounds (NaN and infinity refused)."""
    def parse(text):
        from ._values import check_float

        try:
            return check_float(text, "", low=low, high=high, low_open=low_open)
        except ValueError as err:
            raise argparse.ArgumentTypeError(_one_line(err).split(": ", 1)[-1]) from None
    parse.__name__ = "number"
    return parse


#: Counts are bounded at parse time: an absurd one is refused before anything is allocated.
_nonneg_int = _int_type(0, 2**32 - 1)  # seeds: numpy's and torch's generators take < 2**32
_subject = _int_type(1, 10_000)
_epochs = _int_type(1, 100_000)
_jobs = _int_type(1, 1_024)
_batch = _int_type(1, 1_000_000)
_levels = _int_type(1, 100)


def _add_data_options(p, subjects=False):
    p.add_argument("--data-dir", default=None,
                   help="THINGS-EEG2 data root or BIDS root (default: $EEGVISION_DATA, else "
                        "the built-in simulated dataset)")
    if subjects:
        g = p.add_mutually_exclusive_group()
        g.add_argument("--subject", type=_subject, default=None, help="one subject (default 1)")
        g.add_argument("--subjects", default=None, help="several subjects: 1-10 or 1,3,5")
    else:
        p.add_argument("--subject", type=_subject, default=1, help="subject number (default 1)")


def _add_compute_options(p, default_model="nice", unset_defaults=False):
    # With unset_defaults, options left out stay None so that a --config recipe
    # can fill them and explicit options still win over the recipe.
    p.add_argument("--out", default=None, help="output directory (default ./eegvision-out/<command>)")
    _add_overwrite_option(p)
    p.add_argument("--seed", type=_nonneg_int, default=None if unset_defaults else 0,
                   help="random seed (default 0)")
    p.add_argument("--epochs", type=_epochs, default=None,
                   help="training epochs (default: the recipe's)")
    p.add_argument("--model", default=None if unset_defaults else default_model,
                   help=f"encoder name (default {default_model})")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--epochs-file", default=None, metavar="X-epo.fif",
                   help="epochs already made (MNE -epo.fif) instead of --data-dir; --features "
                        "then gives their image features as a .npy (one row per epoch or per "
                        "image)")


def _add_overwrite_option(p):
    p.add_argument("--overwrite", action="store_true",
                   help="replace another command's outputs in --out, or files of an output's "
                        "name eegvision did not write (default: refuse; see docs/outputs.md)")


def _add_feature_options(p, channels=True):
    p.add_argument("--features", default=None, metavar="NAME",
                   help="named feature set dnn_feature/NAME/ from `eegvision features` "
                        "(default: NICE's files in dnn_feature/); with --epochs-file a .npy")
    if channels:
        p.add_argument("--channels", default=None,
                       help="channel selection: posterior17, a comma list (O1,Oz,O2), a glob "
                            "(P*,O*) or re:REGEX (default: all channels)")


def _add_analysis_options(p, only=None):
    """The flags of every analysis option a spec marks ``cli`` (only those of ``only``)."""
    from .analysis.registry import cli_options

    for opt, used in cli_options():
        used = [(name, text) for name, text in used if only in (None, name)]
        if used:
            p.add_argument(opt.flag, default=None, **_option_argument(opt, used, only))


def _option_argument(opt, used, only):
    """argparse keywords of analysis option ``opt``: its type, choices and help."""
    text = "; ".join(t if only else f"{name}: {t}" for name, t in used)
    text += "" if opt.default is None or not only else f" (default {opt.default})"
    if opt.kind == "bool":
        return {"action": "store_true", "help": text}
    kwargs = {"help": text}
    if opt.kind == "int":
        kwargs["type"] = _int_type(opt.bounds.get("low"), opt.bounds.get("high"))
    elif opt.kind == "float":
        kwargs["type"] = _float_type(**opt.bounds)
    elif opt.kind == "list":
        kwargs["type"] = _comma_list
    if opt.choices:
        kwargs["choices"] = opt.choices
    return kwargs


def _comma_list(text):
    return text.split(",")


def _add_run_options(p):
    p.add_argument("--seeds", default=None, help="several seeds: 0-4 or 0,1,2")
    p.add_argument("--recipe", default=None, choices=_recipes(),
                   help="training recipe (default sweep: fast in 20 epochs, one-cycle; "
                        "fast for topomap)")
    p.add_argument("--config", default=None,
                   help="TOML recipe from analyses/ (paper settings; explicit options win)")
    p.add_argument("--quick", action="store_true",
                   help="with --config: first subject, one seed, at most 20 epochs")
    p.add_argument("--jobs", type=_jobs, default=1, help="parallel local jobs")
    p.add_argument("--backend", default="local", choices=("local", "dask"))
    p.add_argument("--scheduler", default=None, help="Dask scheduler address (backend dask)")
    p.add_argument("--no-noise-ceiling", action="store_true",
                   help="skip the split-half noise ceiling (one ridge fit per subject)")
    p.add_argument("--no-batch", action="store_true",
                   help="fit one model at a time instead of a sweep's compatible models together")


def build_parser():
    """Return the ``eegvision`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="eegvision",
        description="Decode natural images from EEG and find where the information lives.")
    parser.add_argument("--version", action="version", version=f"eegvision {__version__}")
    _add_verbosity_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("info", help="check a data root and describe one subject")
    _add_data_options(p)
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("download", help="fetch THINGS-EEG2 (OSF release or NEMAR's BIDS copy) "
                                         "into a data root, checksummed and resumable")
    p.add_argument("--data-dir", default=None,
                   help="folder to fill (default: $EEGVISION_DATA); with --source nemar, the "
                        "BIDS root")
    p.add_argument("--subjects", default=None, help="subjects 1-10 or 1,3,5 (default all 10)")
    p.add_argument("--what", default=None,
                   help="comma list; osf: preprocessed, images, raw, features (default "
                        "preprocessed,images,features: raw is ~10 GB per subject); nemar: raw, "
                        "images, preprocessed (default raw)")
    p.add_argument("--source", default="osf", choices=("osf", "nemar"),
                   help="osf: the published release (OSF 3jk45, raw on Figshare+); nemar: the "
                        "BIDS copy nm000232 (default osf)")
    p.add_argument("--sessions", default=None, help="--source nemar: sessions 1-4 (default all)")
    p.add_argument("--overwrite", action="store_true",
                   help="fetch again and replace files already there")
    p.add_argument("--dry-run", action="store_true",
                   help="print each address, destination and expected size; download nothing")
    p.add_argument("--timeout", type=float, default=60.0,
                   help="seconds to wait for a host (default 60)")
    p.add_argument("--retries", type=_nonneg_int, default=3,
                   help="retries after a cut connection, each resuming (default 3)")
    p.add_argument("--keep-archives", action="store_true",
                   help="keep the zip archives after unpacking them")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_download)

    p = sub.add_parser("simulate", help="write a simulated THINGS-EEG2 data root with planted truth")
    p.add_argument("directory", help="where to write the data root")
    p.add_argument("--subjects", type=_int_type(1, 100), default=1, help="number of subjects (default 1)")
    p.add_argument("--seed", type=_nonneg_int, default=0)
    p.add_argument("--full", action="store_true", help="THINGS-EEG2's real dimensions (large!)")
    p.add_argument("--layouts", default="nice",
                   help="comma list of preprocessed layouts: nice (Preprocessed_data_250Hz/), "
                        "official (eeg_dataset/preprocessed_data/) (default nice)")
    p.add_argument("--raw", action="store_true", help="also write raw recordings (Raw_data/, "
                   "4 sessions built as THINGS-EEG2's)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the files of an earlier simulation in DIRECTORY")
    p.add_argument("--region", default=None, help="region carrying image information")
    p.add_argument("--window", default=None, help="planted window in ms, e.g. 100-300")
    p.add_argument("--band", default=None, help="planted band in Hz, e.g. 4-8")
    p.add_argument("--features", default=None, help="CLIP test features .npy (default: from "
                   "$EEGVISION_SHARED_DATA or ../shared/data when present)")
    p.add_argument("--eeg-detail", type=_float_type(0, 1), default=None,
                   help="the EEG carries only this fraction (0-1) of the features' fine detail "
                        "(what blur priors exploit; default: all of it)")
    p.add_argument("--blur-levels", type=_levels, default=None,
                   help="also write the feature set dnn_feature/blur/ with this many blur levels")
    p.add_argument("--cortex", default=None,
                   choices=("frontal", "parietal", "temporal", "occipital"),
                   help="plant the information in a ~3 cm2 patch of fsaverage cortex in this "
                        "lobe instead of under --region (docs/sources.md)")
    p.set_defaults(func=_cmd_simulate)

    p = sub.add_parser("preprocess", help="raw THINGS-EEG2 recordings -> preprocessed layout (MNE)")
    _add_data_options(p)
    p.add_argument("--out", default=None, help="output data root (default: the data root)")
    p.add_argument("--sfreq", type=_float_type(0, 100_000, low_open=True), default=None, help="target sampling rate (default 250)")
    p.add_argument("--no-mvnn", action="store_true", help="skip multivariate noise normalisation")
    p.add_argument("--preset", default=None, choices=("official", "nice"),
                   help="reproduce a published preprocessing exactly: official (17 posterior "
                        "channels, 100 Hz, eeg_dataset/preprocessed_data/) or nice (63 channels, "
                        "250 Hz, Preprocessed_data_250Hz/); default: eegvision's own "
                        "(eegvision_preprocessed_250Hz/)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace preprocessed files that exist (otherwise refused)")
    p.add_argument("--seed", type=_nonneg_int, default=None,
                   help="with --preset: repetition selection and shuffling (default 20200220, "
                        "as both public codes)")
    p.set_defaults(func=_cmd_preprocess)

    p = sub.add_parser("train", help="train one encoder and score zero-shot retrieval")
    _add_data_options(p, subjects=True)
    _add_compute_options(p)
    p.add_argument("--recipe", default="fast", choices=_recipes())
    p.set_defaults(model=None)  # the recipe's encoder (nice; mlp for ubp and blur-bank)
    _add_feature_options(p)
    p.add_argument("--amp", default=None, action=argparse.BooleanOptionalAction,
                   help="mixed precision: bf16 on CUDA and on CPUs with native bf16 "
                        "(default: the recipe's, on for fast, off for nice)")
    p.add_argument("--loso", action="store_true", help="leave-one-subject-out over --subjects")
    p.add_argument("--targets", default=None, choices=("centers", "images"),
                   help="test candidates: concept centres (NICE) or the test images "
                        "(default: centers; images for ubp and blur-bank, as their papers)")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="score a saved checkpoint on the test set")
    p.add_argument("checkpoint")
    _add_data_options(p)
    p.add_argument("--out", default=None,
                   help="output directory (default: evaluate-sub-XX-TARGETS/ beside the checkpoint)")
    _add_overwrite_option(p)
    p.add_argument("--targets", default="centers", choices=("centers", "images"))
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    _add_feature_options(p, channels=False)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("analyze", help=f"run one analysis ({', '.join(_analysis_names())})")
    p.add_argument("analysis", choices=_analysis_names())
    _add_data_options(p, subjects=True)
    _add_compute_options(p, unset_defaults=True)
    _add_run_options(p)
    _add_feature_options(p)
    _add_analysis_options(p)  # from the analyses' specs
    p.set_defaults(func=_cmd_analyze)

    p = sub.add_parser("topomap", help="Grad-CAM / attention scalp maps over time")
    _add_data_options(p, subjects=True)
    _add_compute_options(p, unset_defaults=True)
    _add_run_options(p)
    _add_feature_options(p)
    _add_analysis_options(p, only="saliency")
    p.add_argument("--space", default="sensor", choices=("sensor", "source"),
                   help="sensor: scalp maps; source: the same maps on the fsaverage cortex "
                        "(as `eegvision sources`, default inverse sLORETA)")
    p.set_defaults(func=_cmd_topomap)

    p = sub.add_parser("sources", help="saliency maps and patterns on the fsaverage cortex "
                                        "(minimum-norm inverse of a template head)")
    _add_data_options(p, subjects=True)
    _add_compute_options(p, unset_defaults=True)
    _add_run_options(p)
    _add_feature_options(p)
    _add_analysis_options(p, only="sources")
    p.set_defaults(func=_cmd_sources)

    p = sub.add_parser("features", help="image set -> named CLIP feature set (+ blur bank, "
                                         "concept centres)")
    p.add_argument("--data-dir", default=None,
                   help="data root holding image_set/ (default: $EEGVISION_DATA)")
    p.add_argument("--model", required=True,
                   help="Hugging Face CLIP model: local folder, or hub id in the local cache "
                        "(NICE: openai/clip-vit-large-patch14)")
    p.add_argument("--name", default=None,
                   help="feature-set name, written to dnn_feature/NAME/ (default: from --model)")
    p.add_argument("--blur", default=None,
                   help="blur bank: Gaussian sigmas in image pixels, e.g. 1,2,4,8 (sharp "
                        "level 0 always included)")
    p.add_argument("--things-images", default=None,
                   help="THINGS image folder (one sub-folder per concept): also write the "
                        "concept-centre targets center_clip.npy")
    p.add_argument("--splits", default="training,test", help="training,test (default both)")
    p.add_argument("--batch-size", type=_batch, default=32, help="images per pass (32)")
    p.add_argument("--chunk-size", type=_batch, default=256,
                   help="images per saved partial chunk, the unit of resuming (256)")
    p.add_argument("--output", default="image_embeds", choices=("image_embeds", "projected"),
                   help="image_embeds (L2-normalised, as NICE) or the unnormalised projection")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--overwrite", action="store_true",
                   help="recompute a set made with other settings or images (or damaged), "
                        "and replace feature files without a manifest; refused without it")
    p.set_defaults(func=_cmd_features)

    p = sub.add_parser("figures", help="rebuild publication figures and tables from saved results")
    p.add_argument("--results", required=True, help="folder holding analysis / training outputs")
    p.add_argument("--out", required=True, help="where to write the figures and tables")
    _add_overwrite_option(p)
    p.add_argument("--images", default=None,
                   help="THINGS-EEG2 image_set/test_images, for retrieval thumbnails")
    p.set_defaults(func=_cmd_figures)

    p = sub.add_parser("report", help="one self-contained HTML page of every result in a "
                                       "results folder (figures, statistics, settings, warnings)")
    p.add_argument("results", help="results folder: the --out of analyze / train, or a folder "
                                   "above several")
    p.add_argument("--out", default=None,
                   help="folder receiving report.html (default: RESULTS, or RESULTS/report/ "
                        "when RESULTS is one command's output folder)")
    _add_overwrite_option(p)
    p.set_defaults(func=_cmd_report)
    for command in sub.choices.values():  # eegvision --quiet analyze ... = eegvision analyze ... --quiet
        _add_verbosity_options(command)
    return parser


def _add_verbosity_options(p, top=False):
    """-v/--verbose and -q/--quiet, on the top parser and every sub-command.

    A sub-command's flags default to SUPPRESS so that they never overwrite
    the ones given before the sub-command (argparse copies its namespace over).
    """
    default = False if top else argparse.SUPPRESS
    g = p.add_mutually_exclusive_group()
    g.add_argument("-v", "--verbose", action="store_true", default=default,
                   help="also log details (level DEBUG; default INFO: progress lines and bars "
                        "on stderr, or $EEGVISION_LOGGING_LEVEL)")
    g.add_argument("-q", "--quiet", action="store_true", default=default,
                   help="print only the results: no progress lines or bars, only warnings "
                        "and errors on stderr (level WARNING)")


@contextlib.contextmanager
def _logging_level(level):
    """eegvision's level for this command, also in $EEGVISION_LOGGING_LEVEL for the worker
    processes it starts (--jobs, Dask): a quiet run stays quiet in every process."""
    import logging
    import os

    from ._utils import LOG_ENV

    before = os.environ.get(LOG_ENV)
    os.environ[LOG_ENV] = logging.getLevelName(level) if level in _NAMED else str(level)
    try:
        with use_log_level(level):
            yield
    finally:
        if before is None:
            os.environ.pop(LOG_ENV, None)
        else:
            os.environ[LOG_ENV] = before


_NAMED = (10, 20, 30, 40, 50)


def _log_level(parser, args):
    """The level of --verbose / --quiet, else of $EEGVISION_LOGGING_LEVEL (default INFO)."""
    from ._utils import _parse_level

    if args.verbose and args.quiet:
        parser.error("-v/--verbose and -q/--quiet contradict each other: give one of them")
    return _parse_level("DEBUG" if args.verbose else "WARNING" if args.quiet else None)


# ---------------------------------------------------------------- commands
def _cmd_info(args):
    from ._commands.data import describe_root

    print(describe_root(args.data_dir, args.subject))


def _cmd_download(args):
    from ._commands.download import download_cli

    download_cli(args)


def _cmd_simulate(args):
    from ._commands.data import simulate_cli

    simulate_cli(args)


def _cmd_preprocess(args):
    from ._commands.data import preprocess_cli

    preprocess_cli(args)


def _cmd_train(args):
    from ._commands.training import train_cli

    train_cli(args)


def _cmd_evaluate(args):
    from ._commands.training import evaluate_cli

    evaluate_cli(args)


def _cmd_analyze(args):
    from ._commands.analysis import analyze_cli

    analyze_cli(args)


def _cmd_topomap(args):
    from ._commands.analysis import analyze_cli

    if getattr(args, "space", "sensor") == "source":
        return _cmd_sources(args)
    args.analysis = "saliency"
    analyze_cli(args)


def _cmd_sources(args):
    from ._commands.sources import sources_cli

    sources_cli(args)


def _cmd_features(args):
    from ._commands.data import features_cli

    features_cli(args)


def _cmd_figures(args):
    from ._commands.analysis import figures_cli

    figures_cli(args)


def _cmd_report(args):
    from ._commands.report import report_cli

    report_cli(args)


def main(argv=None):
    """Entry point of the ``eegvision`` command; returns the exit status."""
    from ._provenance import set_command

    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    set_command(argv)  # every result row records the command that made it
    args = parser.parse_args(argv)
    previous = _on_sigterm()
    try:
        with _logging_level(_log_level(parser, args)):
            args.func(args)
    except (EEGVisionError, ValueError, FileNotFoundError) as err:
        print(f"eegvision {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except OSError as err:  # permission denied, disk full ... outside eegvision's own checks
        from ._utils import os_error_fix

        where = f"{err.filename}: " if err.filename else ""
        print(f"eegvision {args.command}: error: {where}{err.strerror or err}. Fix: "
              f"{os_error_fix(err)}.", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"eegvision {args.command}: interrupted (Ctrl-C); nothing half-written is left "
              "and finished jobs are kept: rerun the same command to resume.", file=sys.stderr)
        return 130
    except _Terminated:
        print(f"eegvision {args.command}: terminated (SIGTERM); nothing half-written is left "
              "and finished jobs are kept: rerun the same command to resume.", file=sys.stderr)
        return 143
    finally:
        _restore_sigterm(previous)
        set_command(None)  # a later API call in this process must not inherit this command
    return 0


def _one_line(err):
    """The error's message on one line (``problem  Fix: ...`` and listed items joined)."""
    return " ".join(part.strip() for part in str(err).splitlines() if part.strip())


class _Terminated(BaseException):
    """Raised by the SIGTERM handler so that cleanup (temporaries, staging) runs."""


def _raise_terminated(signum, frame):
    raise _Terminated


def _on_sigterm():
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


def _restore_sigterm(previous):
    import signal

    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
