"""Device and precision: native-bf16 CPUs, autocast dtypes, deterministic kernels, RNG streams.

The device resolver itself is :func:`eegvision._utils.resolve_device` (one for
the whole package).
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

from .._utils import resolve_device  # noqa: F401  (training's public name too)


@functools.lru_cache(maxsize=None)
def cpu_has_native_bf16(cpuinfo="/proc/cpuinfo"):
    """Whether this CPU does bfloat16 arithmetic in hardware (x86 AVX512-BF16 or AMX-BF16).

    Read from the CPU flags in ``cpuinfo`` (Linux); False where there is no
    such file. Without these instructions bf16 is emulated and slower than
    float32, so ``amp`` leaves such CPUs in float32.
    """
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool({"avx512_bf16", "amx_bf16"} & set(line.partition(":")[2].split()))
    return False


def _amp_dtype(device, amp):
    import torch

    if not amp:
        return None
    if device.type == "cpu":
        return torch.bfloat16 if cpu_has_native_bf16() else None
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def _precision_name(amp_dtype):
    """'float32', or 'bfloat16-mixed' / 'float16-mixed' under autocast."""
    return "float32" if amp_dtype is None else str(amp_dtype).replace("torch.", "") + "-mixed"


@contextlib.contextmanager
def deterministic(device):
    """Deterministic kernels on CPU (cheap there), restoring the previous setting.

    Parameters
    ----------
    device : torch.device
        Where the training runs (on CUDA the settings are left as they are).
    """
    import torch

    before = torch.are_deterministic_algorithms_enabled()
    fill = torch.utils.deterministic.fill_uninitialized_memory
    if device.type == "cpu":
        torch.use_deterministic_algorithms(True, warn_only=True)
        # deterministic mode also fills every torch.empty with NaN, a debugging aid that cost
        # 5-7 % of a CPU epoch; nothing here reads memory it has not written
        torch.utils.deterministic.fill_uninitialized_memory = False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)
        torch.utils.deterministic.fill_uninitialized_memory = fill


def rng_state(device):
    """The global random streams a model's dropout draws from: CPU, and CUDA on a GPU.

    Parameters
    ----------
    device : torch.device

    Returns
    -------
    tuple
        An opaque state for :func:`set_rng_state`.
    """
    import torch

    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), device, cuda


def set_rng_state(state):
    """Put back the streams :func:`rng_state` read."""
    import torch

    cpu, device, cuda = state
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state(cuda, device)
