"""mkdocs hooks: the example notebook is shown with its outputs, executed at build time.

``docs/examples/quickstart.ipynb`` is stored without outputs
(``docs/contributing.md``). When the site is built, :func:`on_files` runs a
copy of it with nbclient in a temporary folder (its result files go there,
never into ``docs/``) and hands that executed copy to mkdocs-jupyter, which
renders it. The copy runs on a small simulated root, made in seconds, so the
build stays fast; a cell injected after the parameters cell says so on the
page (as papermill does), and the parameters cell itself is shown as stored.

``EEGVISION_DOCS_EXECUTE=0`` skips the execution (the page then shows the
notebook without outputs): for quick local previews only; CI executes it,
and a cell that fails fails the build.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

NOTEBOOK = "examples/quickstart.ipynb"

INJECTED = '''\
# Injected by the documentation build (docs/_hooks.py): this page ran on a small
# simulated root (one subject, 200 training and 40 test images), made in seconds,
# so that the site builds quickly. With DATA_DIR = None the notebook reads the
# larger built-in simulated dataset (or $EEGVISION_DATA); the steps are the same.
from eegvision.data.simulate import simulate_root

DATA_DIR = str(simulate_root("docs-root", 1, seed=0, n_train=200, n_test=40,
                             n_train_reps=2, n_test_reps=4))
WINDOWS = "0-200,200-400"'''

_tmp = []


def execute_notebook(src, out, timeout=600):
    """Run the notebook ``src`` in the folder of ``out`` and save the executed copy as ``out``."""
    import nbclient
    import nbformat

    nb = nbformat.read(src, as_version=4)
    i = next(i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and "parameters" in c.metadata.get("tags", []))
    cell = nbformat.v4.new_code_cell(INJECTED, metadata={"tags": ["injected-parameters"]})
    nb.cells.insert(i + 1, cell)
    env_backend = os.environ.pop("MPLBACKEND", None)  # let the kernel use the inline backend
    try:
        nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(Path(out).parent)}}).execute()
    finally:
        if env_backend is not None:
            os.environ["MPLBACKEND"] = env_backend
    nbformat.write(nb, out)
    return out


def on_files(files, config):
    """Swap the stored notebook for an executed copy before mkdocs-jupyter reads it."""
    if os.environ.get("EEGVISION_DOCS_EXECUTE", "1") == "0":
        return files
    page = files.get_file_from_path(NOTEBOOK)
    if page is None:
        raise RuntimeError(f"docs/_hooks.py: {NOTEBOOK} is not among the docs' files")
    workdir = tempfile.mkdtemp(prefix="eegvision-docs-")
    _tmp.append(workdir)
    # the same relative path, so that mkdocs-jupyter's ``include`` pattern still matches
    out = Path(workdir, NOTEBOOK)
    out.parent.mkdir(parents=True)
    page.abs_src_path = str(execute_notebook(page.abs_src_path, out))
    return files


def on_post_build(config):
    """Remove the executed copies and what the notebook wrote."""
    while _tmp:
        shutil.rmtree(_tmp.pop(), ignore_errors=True)
