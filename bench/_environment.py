"""What machine and software produced a result (stored in meta.json, as pytest-benchmark does)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import torch

__all__ = ["cpu_field", "environment"]


def cpu_field(name: str) -> str | None:
    """A field of Linux's /proc/cpuinfo for the first CPU (``"model name"``,
    ``"vendor_id"``), or None where there is none."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(name):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    return cpu_field("model name") or platform.processor() or platform.machine()


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    ).stdout.strip()
    return out.stdout.strip() + ("-dirty" if dirty else "")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment(devices: tuple[str, ...] = ("cpu",)) -> dict[str, object]:
    """Versions, CPU model, the machine's core count, GPU name and CUDA version, git commit.

    ``cpu_count`` is the machine's (`os.cpu_count`); the torch threads each process used are
    recorded by the runner (meta.json's ``torch_threads``).
    """
    uses_cuda = any(d.startswith("cuda") for d in devices)
    return {
        "versions": {
            "optbench": _version("optbench"),
            "torch": torch.__version__,
            "python": sys.version.split()[0],
            "pandas": _version("pandas"),
            "numpy": _version("numpy"),
        },
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if uses_cuda and torch.cuda.is_available() else None,
        "cuda": torch.version.cuda if uses_cuda else None,
        "git_commit": _git_commit(),
    }
