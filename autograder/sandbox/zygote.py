"""The sandbox's warm process: isolate once, import torch once, fork a child per notebook.

Started by :class:`autograder.sandbox.client.Sandbox` as a fresh interpreter
(never forked from the grader, so it holds none of the grader's memory: no
hidden suite, reference value or secret).  It isolates itself, imports torch
before any thread pool exists, then answers requests on its control
connections (the first one from the grader that started it; more are
attached through it, one per grading worker, so a pool shares one warm
process):

``fork``     make a notebook process with a socket passed by the grader (as root: PID 1 of a
             PID namespace of its own, with its own user, mounts, scratch and network; always:
             a session of its own it cannot leave, at a nice value it cannot lower; see
             :mod:`isolation`);
``wait``     reap a notebook process and report how it ended;
``release``  kill and reap a notebook process the grader is done with (no reply);
``attach``   take another control connection, passed as a file descriptor; the
             ready message is repeated on it, not on the connection that asked.

The warm process ends when the first connection closes.
"""

from __future__ import annotations

import gc
import os
import resource
import select
import shutil
import signal
import socket
import sys
import tempfile
import time

from autograder.sandbox import isolation
from autograder.sandbox.wire import WireError, recv_message, send_message


def _die_with_parent() -> None:
    isolation.die_with_parent(signal.SIGKILL)


def main(control_fd: int) -> None:
    control = socket.socket(fileno=control_fd)
    header, _ = recv_message(control, deadline=None, max_payload=0)
    plan = isolation.IsolationPlan.from_dict(header["isolation"])
    try:
        isolated = isolation.apply(plan)
    except Exception as error:  # report, never run student code half-isolated
        send_message(control, {"ok": False, "message": f"isolation failed: {error}"})
        return
    _die_with_parent()
    protections = isolated.protections
    forker = isolation.NotebookForker(isolated, plan)
    if protections.unprivileged_user and not protections.process_namespace:
        isolation.become_subreaper()  # without PID namespaces, detached leftovers are found as orphans here
    # Import the heavy modules now, once, so each fork starts warm.
    import numpy  # noqa: F401
    import packaging.version  # noqa: F401
    import torch  # noqa: F401

    from autograder.sandbox import kernel  # noqa: F401

    ready = {"ok": True, "protections": protections.to_dict(), "pid": os.getpid()}
    send_message(control, ready)
    # The grader is busy with its own imports now; use that time for the rest.
    import torch._dynamo  # noqa: F401 - optimizers import it on first step(), about 1 s each time otherwise
    import torch.nn.functional  # noqa: F401
    import torch.optim  # noqa: F401
    import torch.utils.data  # noqa: F401

    # Every object so far is shared with each notebook process until written to; the
    # collector would write to all of them (copying their pages) on its first full pass.
    gc.collect()
    gc.freeze()

    _Server(control, ready=ready, forker=forker).serve()


class _Server:
    """The warm process's request loop and what it keeps track of."""

    def __init__(self, first: socket.socket, *, ready: dict, forker: isolation.NotebookForker) -> None:
        self.first = first
        self.ready = ready
        self.forker = forker
        self.connections = [first]
        self.workdirs: dict[int, str | None] = {}  # live notebook processes and their scratch directories
        self.cpu_limits: dict[int, float] = {}  # their CPU limits, to name the cause when one is killed
        self.owners: dict[int, socket.socket] = {}  # which connection asked for each of them
        self.released: list[int] = []  # killed already; reaped when no request is waiting

    def serve(self) -> None:
        while self.first in self.connections:
            asking, _, _ = select.select(self.connections, [], [], 0 if self.released else None)
            if not asking and self.released:
                self.clean_up(self.released.pop(0))
            for connection in asking:
                try:
                    request, _ = recv_message(connection, deadline=None, max_payload=0)
                    self.answer(request, connection)
                except (WireError, OSError):
                    self.drop(connection)
        for pid in self.workdirs:
            _kill_notebook(pid)
        _kill_orphans(keep=set())
        for pid in list(self.workdirs):
            _wait(pid, 1.0)
        self.forker.close()

    def drop(self, connection: socket.socket) -> None:
        """Forget a connection that closed (its worker ended) and end the notebooks it left running."""
        if connection in self.connections:
            self.connections.remove(connection)
        connection.close()
        for pid, owner in list(self.owners.items()):
            if owner is connection:
                self.release(pid)

    def release(self, pid: int) -> None:
        self.owners.pop(pid, None)
        _kill_notebook(pid)
        self.released.append(pid)

    def answer(self, request: dict, connection: socket.socket) -> None:
        op = request.get("op")
        if op == "fork":
            _, fds, _, _ = socket.recv_fds(connection, 1, 1)
            while self.released:  # gone before the next starts: a worker holds one notebook's memory at a time
                self.clean_up(self.released.pop(0))
            try:
                pid, workdir = _fork_notebook(fds[0], request, self.connections, forker=self.forker)
            except OSError as error:  # out of processes or memory: this notebook fails, the warm process stays
                os.close(fds[0])
                send_message(connection, {"ok": False, "message": f"the notebook process could not start ({error})"})
                return
            self.workdirs[pid] = workdir
            self.cpu_limits[pid] = float(request["limits"]["cpu_seconds"])
            self.owners[pid] = connection
            send_message(connection, {"ok": True, "pid": pid})
        elif op == "wait":
            pid = int(request["pid"])
            send_message(connection, _wait(pid, float(request.get("timeout", 5.0)),
                                           cpu_limit=self.cpu_limits.pop(pid, None)))
            self.owners.pop(pid, None)
            self.clean_up(pid)
        elif op == "release":
            self.release(int(request["pid"]))
        elif op == "attach":
            _, fds, _, _ = socket.recv_fds(connection, 1, 1)
            joined = socket.socket(fileno=fds[0])
            try:
                send_message(joined, self.ready)  # the joining process starts, like the first, by reading this
            except OSError:  # it ended before joining; the connection that asked is fine
                joined.close()
                return
            self.connections.append(joined)
        else:
            send_message(connection, {"ok": False, "message": "unknown request"})

    def clean_up(self, pid: int) -> None:
        """Reap a finished notebook process, remove its scratch directory and kill what it left behind."""
        _kill_notebook(pid)
        if _wait(pid, 5.0)["state"] != "running":
            self.forker.ended(pid)  # its user is free again: none of its processes is left
        self.cpu_limits.pop(pid, None)
        workdir = self.workdirs.pop(pid, None)
        if workdir:  # a private tmpfs instead goes away with the notebook's mount namespace
            shutil.rmtree(workdir, ignore_errors=True)
        _kill_orphans(keep=set(self.workdirs))


def _fork_notebook(fd: int, request: dict, connections: list[socket.socket], *,
                   forker: isolation.NotebookForker) -> tuple[int, str | None]:
    limits = request["limits"]
    identity = forker.next_identity(scratch_bytes=int(limits.get("scratch_bytes", 512 << 20)),
                                    memory_bytes=int(limits["memory_bytes"]), processes=int(limits["processes"]))
    workdir = None if identity.namespaces else tempfile.mkdtemp(prefix="notebook-")
    if workdir is not None and identity.uid is not None:
        os.chown(workdir, identity.uid, identity.uid)
    baseline = _address_space()
    try:
        pid = forker.fork()
    except OSError:
        forker.forget(identity)
        if workdir is not None:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    if pid:
        os.close(fd)
        forker.started(pid, identity)
        return pid, workdir
    # ---- the notebook process; never returns
    try:
        for connection in connections:  # the notebook must never reach the warm process
            connection.close()
        os.setsid()
        _redirect_standard_streams()
        forker.enter(identity)
        _set_limits(limits, baseline=baseline, dedicated_user=identity.uid is not None)
        if identity.uid is not None:
            isolation.drop_privileges(identity.uid)  # before any student code exists in this process
        forker.confine()  # still one thread: the seccomp filter covers every thread and process to come
        _die_with_parent()
        workdir = workdir or identity.workdir
        os.chdir(workdir)
        os.environ.clear()
        os.environ.update({"HOME": workdir, "TMPDIR": workdir, "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin"})
        sys.argv = ["notebook"]
        import torch

        from autograder.sandbox.kernel import serve_notebook

        torch.set_num_threads(int(limits["threads"]))
        sock = socket.socket(fileno=fd)
        serve_notebook(sock, output_limit=int(limits["output_bytes"]), reply_limit=int(limits["reply_bytes"]))
    finally:
        os._exit(0)


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def _set_limits(limits: dict, *, baseline: int, dedicated_user: bool) -> None:
    def cap(kind: int, soft: int, hard: int | None = None) -> None:
        resource.setrlimit(kind, (soft, soft if hard is None else hard))

    # The memory limit counts what student code may add on top of the warm interpreter.
    cap(resource.RLIMIT_AS, baseline + int(limits["memory_bytes"]))
    cpu = int(limits["cpu_seconds"])
    cap(resource.RLIMIT_CPU, cpu, cpu + 5)
    cap(resource.RLIMIT_FSIZE, int(limits["file_bytes"]))
    cap(resource.RLIMIT_CORE, 0)
    if dedicated_user:
        cap(resource.RLIMIT_NPROC, int(limits["processes"]))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # an oversized write fails instead of killing


def _redirect_standard_streams() -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(devnull, target)
    os.close(devnull)


def _wait(pid: int, timeout: float, *, cpu_limit: float | None = None) -> dict:
    try:
        finished = os.pidfd_open(pid)
    except OSError:  # already reaped, or an old kernel: poll instead
        finished = None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                done, status, usage = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                return {"ok": True, "state": "gone"}
            if done:
                _kill_group(pid)  # leftovers the student forked
                if os.WIFSIGNALED(status):
                    number = os.WTERMSIG(status)
                    # PID 1 of a namespace ignores the soft limit's SIGXCPU; the hard limit's SIGKILL ends it.
                    if number == signal.SIGKILL and cpu_limit is not None and \
                            usage.ru_utime + usage.ru_stime >= cpu_limit:
                        number = signal.SIGXCPU
                    return {"ok": True, "state": "signaled", "signal": number}
                return {"ok": True, "state": "exited", "code": os.WEXITSTATUS(status)}
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return {"ok": True, "state": "running"}
            if finished is not None:
                select.select([finished], [], [], remaining)
            else:
                time.sleep(min(0.01, remaining))
    finally:
        if finished is not None:
            os.close(finished)


def _kill_orphans(*, keep: set[int]) -> None:
    """Kill every child of this process that is not a live notebook: detached leftovers adopted here."""
    for pid in _children() - keep:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (OSError, ChildProcessError):
            pass


def _children() -> set[int]:
    me = os.getpid()
    try:
        found = set()
        for task in os.listdir(f"/proc/{me}/task"):
            with open(f"/proc/{me}/task/{task}/children") as listing:
                found.update(int(pid) for pid in listing.read().split())
        return found
    except OSError:  # a kernel without these files: read every process's parent instead
        pass
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                if int(stat.read().rsplit(")", 1)[1].split()[1]) == me:
                    found.add(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return found


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def _kill_notebook(pid: int) -> None:
    """Kill a notebook process and its process group; as PID 1 of its namespace, its death ends all of it."""
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass
    _kill_group(pid)
