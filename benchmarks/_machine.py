"""What a benchmark ran on: its ratios hold for that machine, not for every one."""

from __future__ import annotations

import os
import platform
from pathlib import Path

#: CPU flags that decide which kernels torch's CPU products use here.
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")


def machine_info(cpuinfo="/proc/cpuinfo"):
    """CPU model, cores, the relevant ISA flags, torch version and threads, as a dict."""
    import torch

    from eegvision.training import cpu_has_native_bf16

    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path(cpuinfo).read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    except OSError:
        pass
    return dict(cpu=model, cores=os.cpu_count(), flags=[f for f in FLAGS if f in flags],
                native_bf16=cpu_has_native_bf16(), torch=torch.__version__,
                torch_threads=torch.get_num_threads())


def describe(info):
    """One line for a benchmark's printout."""
    flags = ", ".join(info["flags"]) or "none of " + ", ".join(FLAGS)
    return (f"machine: {info['cpu']}, {info['cores']} cores ({flags}); torch {info['torch']}, "
            f"{info['torch_threads']} threads; bf16 mixed precision: {info['native_bf16']}")
