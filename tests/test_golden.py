"""Every analysis' tables equal the golden ones recorded before the issue-27 refactor.

The cases and the root are in ``tests/golden/make_golden.py`` (which also
rewrites the golden CSVs, only when a change of results is intended). Ridge
cases must match to the bit (as written by ``to_csv``, which keeps every
digit of a float). The torch cases (CPU, one thread, deterministic
algorithms) match to the bit on the machine that recorded them; across
machines the float columns may differ in the last digits, so they are
compared with ``rtol=1e-6`` (their top-k columns are fractions of 20 test
concepts: any real change moves them by 0.05).
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
import make_golden as golden  # noqa: E402

sys.path.pop(0)


@pytest.fixture(scope="module")
def golden_root(tmp_path_factory):
    return golden.make_root(tmp_path_factory.mktemp("golden") / "root")


@pytest.mark.parametrize("name, analysis, options", golden.CASES, ids=[c[0] for c in golden.CASES])
def test_tables_equal_golden(golden_root, name, analysis, options):
    tables = golden.run_case(golden_root, name, analysis, options)
    recorded = sorted(p.name.split("__")[1].removesuffix(".csv")
                      for p in golden.HERE.glob(f"{name}__*.csv"))
    assert sorted(tables) == recorded
    for table, df in tables.items():
        text = df.to_csv(index=False)
        expected = golden.path_of(name, table).read_text()
        if "torch" not in name:
            assert text == expected, f"{name}/{table} differs from its golden table"
            continue
        pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(text)),
                                      pd.read_csv(io.StringIO(expected)), rtol=1e-6)
