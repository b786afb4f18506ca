"""First results first: the temporal analysis shows its time-resolved curve before the sweep."""

import numpy as np
import pandas as pd

from eegvision import runner
from eegvision.pipeline import analyze


def test_timecourse_is_written_before_the_sweep(tiny_root, tmp_path, monkeypatch):
    out = tmp_path / "t"
    lines, seen = [], {}
    real = runner.run_jobs

    def spy(*args, **kw):
        seen["files"] = sorted(p.name for p in (out / "preview").iterdir())
        seen["top"] = sorted(p.name for p in out.iterdir())
        seen["lines"] = list(lines)
        return real(*args, **kw)

    monkeypatch.setattr(runner, "run_jobs", spy)
    df = analyze("temporal", 1, data_dir=tiny_root, out=out, model="ridge", windows="0-300",
                 progress=False, report=lines.append)
    assert {"timecourse.csv", "temporal-timecourse.png", "temporal-timecourse.pdf"} <= set(
        seen["files"])
    assert "results.csv" not in seen["top"] and "timecourse.csv" not in seen["top"]
    assert seen["lines"][0].startswith("time-resolved curve (1 subject(s)): peak top-1")
    # the final outputs reuse the same curve
    saved = pd.read_csv(out / "timecourse.csv")
    assert np.allclose(saved["top1"], df.attrs["extras"]["timecourse"]["top1"])


def test_no_preview_without_timecourse(tiny_root, tmp_path):
    lines = []
    analyze("temporal", 1, data_dir=tiny_root, out=tmp_path / "t", model="ridge",
            windows="0-300", progress=False, report=lines.append, timecourse=False)
    assert lines == [] and not (tmp_path / "t" / "preview").exists()
