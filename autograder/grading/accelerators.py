"""Trusted observations about accelerators: what the grading machine has, and who used its GPU.

Both facts are established here, in the grader's process, and never read back
from a notebook process: a notebook can say anything about itself (flip
``torch.cuda.is_available``, write a "where did I run" record), but it cannot
change what this process's torch sees or what the NVIDIA driver reports about
its process id.

GPU use is observed from outside: while a call into the notebook runs, a thread
samples the driver's list of compute processes (through NVML when ``pynvml`` is
importable, else ``nvidia-smi --query-compute-apps``) and notes how much GPU
memory the notebook's pid holds.  Evidence that the call ran on the GPU is that
this amount grew, during the call, by at least a given number of bytes over what
the pid held just before it.  A process that set up CUDA in an earlier cell does
not earn the evidence: only new memory counts.

Apple's MPS offers no such outside view to an unprivileged process, so MPS use is
never established (see docs/writing-a-hidden-suite.md).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from dataclasses import dataclass, field
from typing import Callable, Iterator
import contextlib

import torch

# pid -> bytes of GPU memory it holds; None when GPU use cannot be observed on this machine
GpuSampler = Callable[[], "dict[int, int] | None"]


@dataclass(frozen=True)
class GraderAccelerators:
    """The accelerators the grading process itself can use."""

    cuda: bool
    mps: bool


def grader_accelerators() -> GraderAccelerators:
    """Ask this (trusted) process's torch, never a notebook's."""
    mps = getattr(torch.backends, "mps", None)
    return GraderAccelerators(cuda=bool(torch.cuda.is_available()),
                              mps=bool(mps is not None and mps.is_available()))


def gpu_use_unverifiable(machine: GraderAccelerators) -> str | None:
    """What this machine lacks for GPU use to be verified, in words for the student and the instructor;
    None when it has a CUDA device (whether per-process use can be observed there is found out per call)."""
    if machine.cuda:
        return None
    if machine.mps:
        return ("no CUDA device on the grading machine, and training on its Apple MPS backend can never be "
                "verified from outside the notebook's process (macOS shows no other process's GPU use)")
    return "no CUDA device on the grading machine"


# ------------------------------------------------------------------ samplers


def nvml_sampler() -> dict[int, int] | None:
    """Per-process GPU memory from NVML; None if NVML cannot be used here."""
    try:
        import pynvml  # optional: only machines with an NVIDIA driver have it
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception:
        return None
    try:
        used: dict[int, int] = {}
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            for process in pynvml.nvmlDeviceGetComputeRunningProcesses(handle):
                amount = process.usedGpuMemory if isinstance(process.usedGpuMemory, int) else 0
                used[int(process.pid)] = used.get(int(process.pid), 0) + amount
        return used
    except Exception:
        return None
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def nvidia_smi_sampler() -> dict[int, int] | None:
    """Per-process GPU memory from ``nvidia-smi``; None if it is missing or fails."""
    program = shutil.which("nvidia-smi")
    if program is None:
        return None
    try:
        done = subprocess.run([program, "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                              capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return parse_compute_apps(done.stdout)


def parse_compute_apps(text: str) -> dict[int, int]:
    """``nvidia-smi --query-compute-apps=pid,used_memory --format=csv,noheader,nounits`` -> {pid: bytes}."""
    used: dict[int, int] = {}
    for line in text.splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) != 2 or not parts[0].isdigit():
            continue
        try:
            mebibytes = int(float(parts[1]))
        except ValueError:
            mebibytes = 0  # "[N/A]" without per-process accounting
        used[int(parts[0])] = used.get(int(parts[0]), 0) + mebibytes * (1 << 20)
    return used


def default_sampler() -> GpuSampler:
    """NVML when it answers, else ``nvidia-smi``; the chosen one may still answer None."""
    return nvml_sampler if nvml_sampler() is not None else nvidia_smi_sampler


# ------------------------------------------------------------------ watching one call


@dataclass
class GpuUse:
    """What was seen of one process on the GPU around one call."""

    observable: bool = True
    before_bytes: int = 0
    peak_bytes: int = 0
    samples: int = 0
    seen: bool = False             # the process appeared in the driver's report at all
    others_growth_bytes: int = 0   # the largest growth of any other process during the call
    notes: list[str] = field(default_factory=list)

    @property
    def growth_bytes(self) -> int:
        return max(0, self.peak_bytes - self.before_bytes)

    def unattributable(self, *, min_growth_bytes: int) -> bool:
        """GPU memory grew during the call, but never for a process id we know.

        In a container whose process ids the driver does not report (or with other
        notebooks on the same GPU) the call's own use cannot be told apart: such a
        call is neither credited nor charged.
        """
        return not self.seen and self.others_growth_bytes >= min_growth_bytes

    def ran_on_gpu(self, *, min_growth_bytes: int) -> bool:
        """Evidence: the process took at least ``min_growth_bytes`` more GPU memory during the call."""
        return self.observable and self.samples > 0 and self.growth_bytes >= min_growth_bytes


@contextlib.contextmanager
def watching_gpu_use(pid: int, *, sampler: GpuSampler | None = None, interval: float = 0.02) -> Iterator[GpuUse]:
    """Sample ``pid``'s GPU memory before and while the block runs (and once right after it)."""
    sample = sampler or default_sampler()
    use = GpuUse()
    first = sample()
    if first is None:
        use.observable = False
        yield use
        return
    use.before_bytes = first.get(pid, 0)
    use.seen = pid in first
    before_others = {other: amount for other, amount in first.items() if other != pid}
    stop = threading.Event()

    def record() -> None:
        seen = sample()
        if seen is None:
            use.notes.append("a sample failed")
            return
        use.samples += 1
        use.seen = use.seen or pid in seen
        use.peak_bytes = max(use.peak_bytes, seen.get(pid, 0))
        for other, amount in seen.items():
            if other != pid:
                use.others_growth_bytes = max(use.others_growth_bytes, amount - before_others.get(other, 0))

    def loop() -> None:
        while not stop.wait(interval):
            record()

    thread = threading.Thread(target=loop, name="gpu-use-sampler", daemon=True)
    thread.start()
    try:
        yield use
    finally:
        stop.set()
        thread.join(timeout=30)
        record()  # the memory a finished call left behind is still held by the process
