"""``autograder env``: the environment check a student runs first, in a form fit for a forum post."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import sys
from dataclasses import dataclass

from packaging.version import Version

_TORCH_CPU_INSTALL = "pip install torch --index-url https://download.pytorch.org/whl/cpu"
_TORCH_GPU_INSTALL = "pick the command for your GPU at https://pytorch.org/get-started/locally/"
REQUIRED = (("numpy", "1.24"), ("packaging", "23"), ("nbformat", "5.9"), ("pytest", "8.0"))
OPTIONAL = (("nbgrader", "0.9.6"), ("jupyter_client", "8.0"), ("ipykernel", "6.29"), ("matplotlib", "3.7"))


@dataclass(frozen=True)
class EnvLine:
    status: str  # "OK", "FAIL", "INFO"
    text: str


def collect() -> list[EnvLine]:
    lines = [EnvLine("INFO", f"OS: {platform.platform()} ({platform.machine()}), {os.cpu_count() or '?'} CPU cores")]
    try:
        lines.append(EnvLine("INFO", f"autograder {importlib.metadata.version('pytorch-autograder')}"))
    except importlib.metadata.PackageNotFoundError:
        pass
    python = platform.python_version()
    lines.append(EnvLine("OK" if sys.version_info >= (3, 10) else "FAIL",
                         f"Python {python} (needs 3.10 or newer)"
                         + ("" if sys.version_info >= (3, 10) else ": install a newer Python from python.org")))
    lines += _torch_lines()
    for name, minimum in REQUIRED:
        lines.append(_package_line(name, minimum, required=True))
    for name, minimum in OPTIONAL:
        lines.append(_package_line(name, minimum, required=False))
    return lines


def _torch_lines() -> list[EnvLine]:
    try:
        import torch
    except ImportError:
        return [EnvLine("FAIL", f"torch is not installed: {_TORCH_CPU_INSTALL} (or see pytorch.org for GPU builds)")]
    version = torch.__version__
    ok = Version(version) >= Version("2.0")
    if torch.version.cuda:
        build = f"CUDA {torch.version.cuda}"
    elif getattr(torch.version, "hip", None):
        build = f"ROCm {torch.version.hip}"
    else:
        build = "CPU"
    lines = [EnvLine("OK" if ok else "FAIL", f"torch {version} ({build} build; needs 2.0 or newer)"
                     + ("" if ok else f": upgrade with {_TORCH_CPU_INSTALL}"))]
    kind = "ROCm GPU" if build.startswith("ROCm") else "CUDA"
    if torch.cuda.is_available():
        names = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        lines.append(EnvLine("INFO", f"{kind} available: {names}"))
    elif build != "CPU":
        lines.append(EnvLine("INFO", f"{kind} build, but no usable GPU: check the driver (nvidia-smi or rocm-smi); "
                                     "every exercise still runs on the CPU"))
    elif shutil.which("nvidia-smi"):
        lines.append(EnvLine("INFO", "an NVIDIA driver is installed but this torch is a CPU build; for the GPU "
                                     f"exercise (05_device extra credit) {_TORCH_GPU_INSTALL}"))
    else:
        lines.append(EnvLine("INFO", "CUDA not available (fine: every exercise runs on the CPU)"))
    mps = torch.backends.mps.is_available()
    if mps:
        lines.append(EnvLine("INFO", f"MPS (Apple GPU) available: {platform.processor() or platform.machine()}"))
    elif sys.platform == "darwin" and platform.machine() == "arm64":
        lines.append(EnvLine("INFO", "MPS not available on this Apple silicon Mac: it needs macOS 12.3 or newer "
                                     "and torch from pip install -U torch"))
    else:
        lines.append(EnvLine("INFO", "MPS not available (Apple GPUs only)"))
    return lines


def _package_line(name: str, minimum: str, *, required: bool) -> EnvLine:
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        if required:
            return EnvLine("FAIL", f"{name} is not installed: pip install '{name}>={minimum}'")
        return EnvLine("INFO", f"{name} not installed (only instructors need it: pip install '{name}>={minimum}')")
    ok = Version(version) >= Version(minimum)
    if ok:
        return EnvLine("OK", f"{name} {version}")
    return EnvLine("FAIL" if required else "INFO", f"{name} {version} is older than {minimum}: "
                   f"pip install -U '{name}>={minimum}'")


def format_lines(lines: list[EnvLine]) -> str:
    """Plain text (no colours), ready to paste into a forum post; a FAIL line says how to fix it."""
    marks = {"OK": "[OK]", "FAIL": "[FAIL]", "INFO": "[--]"}
    text = "\n".join(f"{marks[line.status]:<6} {line.text}" for line in lines)
    failed = sum(line.status == "FAIL" for line in lines)
    verdict = (f"{failed} problem{'s' if failed > 1 else ''} found: run the suggested commands, then "
               "`autograder env` again" if failed else "everything the exercises need is installed")
    return f"{text}\n{verdict} (paste all of the lines above when asking for help)"
