"""The CPU corpus: a notebook that tries to take more than its share of the machine's CPU.

:func:`cpu_hog` is cell source that starts as many processes as the notebook may, each trying
to put itself in a session of its own (with the kernel's autogroup scheduling, one scheduler
group each, so one CPU share each) and to raise its priority, then spinning until a deadline,
while the cell holds the notebook busy.  ``tests/test_cpu_fairness.py`` grades it next to classmates;
``benchmarks/cpu_fairness.py`` measures how much it slows them down.
"""

from __future__ import annotations

HOG_NAME = "cpuhog"  # the process name of every spinner (at most 15 characters), so a test can look for them


def cpu_hog(*, spin_seconds: float, hold_seconds: float, processes: int = 4096, name: str = HOG_NAME) -> str:
    """Cell source: fork until refused (or ``processes``); each child tries ``setsid`` and ``nice(-5)``, then spins.

    The cell itself sleeps ``hold_seconds`` (keep it under the cell limit), so the notebook
    process, and with it the spinners, lives on while classmates are graded.
    """
    return f"""
import ctypes, os, time
_until = time.time() + {spin_seconds}
for _ in range({processes}):
    try:
        _pid = os.fork()
    except OSError:
        break
    if _pid == 0:
        ctypes.CDLL(None).prctl(15, {name.encode()!r}, 0, 0, 0)
        for _escape in (os.setsid, lambda: os.nice(-5)):  # a scheduler group of its own; a higher priority
            try:
                _escape()
            except OSError:
                pass
        while time.time() < _until:
            pass
        os._exit(0)
time.sleep({hold_seconds})
"""
