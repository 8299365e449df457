"""Which device a job runs on: the one it names when this worker has it, else the best here."""

from __future__ import annotations

import importlib.util
import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


def cuda_device_count() -> int:
    # Without an NVIDIA driver there is no GPU to find: skip importing torch (seconds).
    if not (Path("/proc/driver/nvidia").exists() or shutil.which("nvidia-smi")) \
            or importlib.util.find_spec("torch") is None:
        return 0
    import torch  # imported only where a job runs, never when the web app starts

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def resolve_device(requested: str | None) -> str:
    """``None`` picks ``cuda`` when there is a GPU; a GPU this worker lacks falls back to CPU."""
    if requested == "cpu":
        return "cpu"
    count = cuda_device_count()
    if requested is None:
        return "cuda" if count else "cpu"
    index = int(requested.partition(":")[2] or 0)
    if index < count:
        return requested
    log.warning("device %s requested, but this worker has %d GPU(s); using the CPU", requested, count)
    return "cpu"
