"""``eegvision report``: parse, call, print."""

from __future__ import annotations


def report_cli(args):
    """Body of ``eegvision report``: write the page, print where it went and its warnings."""
    from ..reporting import report

    result = report(args.results, args.out, overwrite=args.overwrite)
    for title, text in result.warnings:
        print(f"warning: {title}: {text}")
    kinds = [s.kind for s in result.sections]
    print(f"\nreport ({kinds.count('analysis')} analysis folder(s), {kinds.count('training')} "
          f"training folder(s), {len(result.warnings)} warning(s)) -> {result.path}")
