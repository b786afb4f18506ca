"""Fuzzing the TOML recipe reader (issue 25): hostile content is one clear error or a valid parse.

Generated recipes mix the keys eegvision knows with unknown ones, and every
TOML type (huge and fractional numbers, NaN and infinity, strings, arrays,
nested tables) in every place; random bytes cover malformed and non-UTF-8
files. :func:`~eegvision.analysis.read_recipe_file` must either raise one
eegvision error naming the file, or return settings that every later step
accepts as they are.
"""

from __future__ import annotations

import math
import string
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eegvision._utils import EEGVisionError

FUZZ = settings(max_examples=150, deadline=timedelta(seconds=5),
                suppress_health_check=[HealthCheck.function_scoped_fixture])

TRAIN_KEYS = ["model", "recipe", "epochs", "device", "lr", "batch_size", "betas", "seed", "amp",
              "dropout", "temperature", "patience", "keep", "val_conditions", "encoder_kwargs",
              "grad_clip", "aug_shift"]
OPTION_KEYS = ["n_permutations", "width", "step", "windows", "mode", "timecourse", "max_k",
               "bin_ms", "tmin_ms"]

scalars = st.one_of(
    st.integers(min_value=-2**63, max_value=2**63 - 1), st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(string.printable, max_size=12), st.sampled_from(["nice", "fast", "cpu", "0-4", "1-10"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=8)
keys = st.one_of(st.sampled_from(TRAIN_KEYS + OPTION_KEYS + ["subjects", "seeds"]),
                 st.text(string.ascii_letters + "_-", min_size=1, max_size=8))


def _toml_value(value):
    """A value as TOML (floats as TOML writes nan and inf; strings as basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") \
            .replace("\r", "\\r").replace("\t", "\\t").replace("\x0b", "\\u000b") \
            .replace("\x0c", "\\f") + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return str(value)


@st.composite
def recipes(draw):
    """TOML text: top-level keys, then optional [train] and [options] tables (or bad scalars)."""
    lines = [f"{k} = {_toml_value(draw(values))}"
             for k in draw(st.lists(st.sampled_from(["subjects", "seeds"]), unique=True))]
    for table, names in (("train", TRAIN_KEYS), ("options", OPTION_KEYS)):
        kind = draw(st.sampled_from(["absent", "table", "scalar"]))
        if kind == "scalar":
            lines.insert(0, f"{table} = {_toml_value(draw(scalars))}")
        elif kind == "table":
            lines.append(f"[{table}]")
            chosen = draw(st.lists(st.one_of(st.sampled_from(names), keys), unique=True,
                                   max_size=5))
            lines += [f"{k} = {_toml_value(draw(values))}" for k in chosen]
    return "\n".join(lines) + "\n"


def _check(path):
    """The one promise: a valid parse, or an eegvision error that names the file."""
    from eegvision.pipeline import read_recipe_file
    from eegvision.training import TrainConfig

    try:
        recipe, options = read_recipe_file(path)
    except EEGVisionError as err:
        assert f"--config {path}" in str(err), str(err)
        return None
    for key in ("subjects", "seeds"):
        assert all(type(v) is int and v >= 0 for v in recipe.get(key, [0]))
    if "epochs" in recipe:
        assert type(recipe["epochs"]) is int and recipe["epochs"] >= 1
    TrainConfig.from_recipe(recipe.get("recipe", "sweep"), **recipe.get("train_options", {}))
    assert isinstance(options, dict)
    return recipe


@FUZZ
@given(text=recipes())
def test_generated_recipes_are_one_error_naming_the_file_or_valid(tmp_path, text):
    path = tmp_path / "recipe.toml"
    path.write_text(text, encoding="utf-8")
    _check(path)


@FUZZ
@given(blob=st.binary(max_size=120), prefix=st.sampled_from([b"", b"seeds = ", b"[train]\n",
                                                               b"[options]\nwidth = "]))
def test_random_bytes_are_one_error_naming_the_file(tmp_path, blob, prefix):
    path = tmp_path / "recipe.toml"
    path.write_bytes(prefix + blob)
    _check(path)


def test_the_fuzzer_reaches_both_outcomes(tmp_path):
    """The generator is not vacuous: hand-picked members of its space parse and fail."""
    path = tmp_path / "recipe.toml"
    path.write_text('seeds = [0, 1]\n[train]\nlr = 0.01\n[options]\nwidth = 50.0\n')
    assert _check(path)["seeds"] == [0, 1]
    path.write_text(f"seeds = [{_toml_value(float('nan'))}]\n")
    with pytest.raises(EEGVisionError, match="seeds nan"):
        from eegvision.pipeline import read_recipe_file

        read_recipe_file(path)
