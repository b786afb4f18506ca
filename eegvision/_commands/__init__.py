"""The bodies of the ``eegvision`` sub-commands (the CLI layer, with :mod:`eegvision.cli`).

Each parses what argparse left, calls the library's pure functions and
prints; the library modules return values and print nothing.
"""
