"""Fresh virtual environments for install-layout tests, without downloading torch again.

A venv made here has no packages of its own (no pip either); a path line in its site-packages adds the
test environment's packages after its own. Path lines in an added directory are not processed, so the
test environment's editable grader is not found there: whatever a test installs into the fresh venv
(editable or not) is the grader it runs.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path


def fresh_venv(path: Path) -> Path:
    """A fresh venv at ``path`` borrowing the test environment's packages; returns its ``bin`` folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True, timeout=120)
    site = subprocess.run([str(path / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return path / "bin"


def pip_install(bin_dir: Path, *args: str) -> None:
    """``python -m pip install -q ARGS`` in that venv; fails with pip's own output."""
    done = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", *args], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
