"""Hidden checks for 06_distributed.ipynb: data-parallel training with DistributedDataParallel (A.9.3).

Distribution is proved from data and from the grader's own observation, never from what
the notebook says about itself:

* shards: the rows each rank's loader yields are compared with DistributedSampler's
  shards computed here (every row carries its index, so overlap and coverage show);
* gradient synchronisation and ``set_epoch``: the weights rank 0 trained must equal
  single-process SGD on the combined batches of all ranks; weights that match a
  reference without synchronisation, without ``set_epoch`` or without sharding name
  that defect;
* processes: the grader reads the notebook process's children in ``/proc`` while and
  after the launcher runs (how many workers it started, whether any survive);
* files: whether a rank wrote a file is read through ``/proc/<pid>/cwd``.

The checks that form a process group inside the notebook process itself come last:
a group left behind there would otherwise leak into the workers later checks fork.

Grading stays quick (see docs/writing-a-hidden-suite.md, "Grading 06_distributed quickly"):
the two checks that judge a two-rank training share one run of ``run_ddp`` (``_shared_run``),
the grader interrupts the launcher as soon as it sees the workers running instead of after a
fixed time, a missing rank is given a fraction of a second, and every wait for processes to
end polls and stops as soon as they are gone.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data.distributed import DistributedSampler

from appendix_a_reference import model_from_state, random_state_dict
from autograder.grading.judge import CallTimeout, Ref, SandboxError, StudentError, describe, fail

NOTEBOOK = "06_distributed"

WEIGHT_ATOL = 1e-5
DISTINCT = 1e-3             # alternative references must differ from each other by more than this
RUN_TIMEOUT = 10.0          # seconds ddp_setup is given when every rank should join (bounds collectives too)
THREE_RANKS_TIMEOUT = 2.0   # seconds run_ddp's ranks wait for a third one that a launcher may not start
MISSING_RANK_TIMEOUT = 0.25  # seconds ddp_setup is given when a rank is meant to be missing; torch's file
#                              store counts whole seconds, so a correct ddp_setup still raises after about 1 s
HANG_BUDGET = 3.0           # seconds a check waits for a call that should give up by itself
STOP_AFTER = 3.0            # seconds before the time limit interrupts a launcher whose workers never showed
LEFTOVER_GRACE = 1.0        # seconds a killed worker is given to disappear
POLL_SECONDS = 0.01         # how often the grader looks at the notebook's processes


def _int(rng: torch.Generator, low: int, high: int) -> int:
    """A random int in [low, high]."""
    return int(torch.randint(low, high + 1, (), generator=rng))


# ====================================================================== the grader's own observations


# Without /proc (not Linux) the grader cannot look: process counts and leftovers are then
# not judged, and whether a file exists is asked of the trusted runner in the notebook process.
_PROC = Path("/proc/self/task").is_dir()


def _notebook_path(nb, relative: str) -> Path:
    """``relative`` in the notebook process's working directory, as the grader sees it."""
    return Path(f"/proc/{nb.process_id()}/cwd") / relative


def _exists(nb, relative: str) -> bool:
    """Whether the notebook's working directory holds ``relative``."""
    if _PROC:
        return _notebook_path(nb, relative).exists()
    try:
        nb.read_weights(relative)
    except StudentError as error:
        return error.exc_type != "FileNotFoundError"
    return True


def _state(pid: int, task: int | None = None) -> str:
    """The scheduler state of ``pid`` (of its thread ``task``): "R", "S", "Z", ...; "" if it is gone."""
    where = f"/proc/{pid}/task/{task}/stat" if task is not None else f"/proc/{pid}/stat"
    try:
        return Path(where).read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return ""


def _live_children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` and that still run (zombies left out)."""
    found: set[int] = set()
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                found.update(int(child) for child in (task / "children").read_text().split())
    except OSError:
        return set()
    return {child for child in found if _state(child) not in ("", "Z", "X")}


def _is_running(pid: int) -> bool:
    if not _PROC:
        return True
    return _state(pid) not in ("", "Z", "X")


def _catches(pid: int, signum: int) -> bool:
    """Whether ``pid`` has a handler for ``signum`` (``SigCgt`` in /proc/<pid>/status)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (signum - 1) & 1)
    except (OSError, ValueError, IndexError):
        pass
    return False


class _WorkerWatch:
    """Counts the notebook process's children while a call runs (the most seen at once).

    With ``interrupt_at``, it also plays the time limit early: once that many workers run
    and the notebook's main thread has been waiting for them for two looks in a row, it
    sends the notebook process the signal of its time limit (SIGALRM), so that the call
    ends as the limit would end it, without the grader sitting out the rest of the limit.
    Where the notebook has no handler for it, nothing is sent and the check's deadline
    interrupts the call as before.
    """

    def __init__(self, pid: int, *, interrupt_at: int | None = None) -> None:
        self.pid = pid
        self.most = 0 if _PROC else -1  # -1: not observable here
        self.interrupted = False  # whether the grader sent the time limit's signal
        self._interrupt_at = interrupt_at
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        waiting_looks = 0
        while _PROC and not self._stop.is_set():
            running = len(_live_children(self.pid))
            self.most = max(self.most, running)
            if self._interrupt_at is not None and not self.interrupted:
                ready = running >= self._interrupt_at and _state(self.pid, self.pid) == "S"
                waiting_looks = waiting_looks + 1 if ready else 0
                if waiting_looks >= 2:
                    self.interrupted = self._interrupt()
            self._stop.wait(POLL_SECONDS)

    def _interrupt(self) -> bool:
        if not _catches(self.pid, signal.SIGALRM):
            self._interrupt_at = None  # leave it to the deadline
            return False
        try:
            os.kill(self.pid, signal.SIGALRM)
        except OSError:
            self._interrupt_at = None
            return False
        return True

    def __enter__(self) -> "_WorkerWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()


def _listening_ports(pid: int) -> int | None:
    """TCP sockets listening in the notebook's own network namespace; None if it shares the grader's."""
    try:
        if os.readlink(f"/proc/{pid}/ns/net") == os.readlink("/proc/self/ns/net"):
            return None  # the host's sockets: nothing to attribute to the notebook
        count = 0
        for table in ("tcp", "tcp6"):
            for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                count += line.split()[3] == "0A"  # TCP_LISTEN
        return count
    except (OSError, IndexError):
        return None


def _leftovers(pid: int, *, wait: float = LEFTOVER_GRACE) -> set[int]:
    """Children of ``pid`` still running after at most ``wait`` seconds (time for a kill to land).

    Returns as soon as none is left: a launcher that cleaned up costs no waiting.
    """
    deadline = time.monotonic() + wait
    while True:
        left = _live_children(pid)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(POLL_SECONDS)


# ====================================================================== trusted references


def reference_shards(n: int, world_size: int, seed: int, epoch: int) -> list[list[int]]:
    """The indices ``DistributedSampler(shuffle=True, seed=seed)`` gives each rank in ``epoch``."""
    shards = []
    for rank in range(world_size):
        sampler = DistributedSampler(range(n), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        sampler.set_epoch(epoch)
        shards.append(list(sampler))
    return shards


@dataclass(frozen=True)
class TrainingCase:
    layers: list
    state: dict
    X: torch.Tensor
    y: torch.Tensor
    world_size: int
    epochs: int
    lr: float
    batch_size: int
    seed: int

    def kwargs(self) -> dict:
        return {"world_size": self.world_size, "epochs": self.epochs, "lr": self.lr,
                "batch_size": self.batch_size, "seed": self.seed}


@dataclass(frozen=True)
class Mistake:
    """A usual mistake of data-parallel training: the flags of ``reference_ddp`` that give its result."""

    name: str
    flags: dict
    message: str


_MISTAKES = (
    Mistake("unsynchronised", {"synchronised": False},
            "rank 0's weights are what it would learn alone from its own shard: the gradients were not "
            "averaged across ranks. Wrap the model with DDP(model) before creating the optimizer, and "
            "train the wrapped model"),
    Mistake("same_order", {"set_epoch": False},
            "every epoch used the order of the first one: call loader.sampler.set_epoch(epoch) at the "
            "start of each epoch"),
    Mistake("unsharded", {"sharded": False},
            "every rank trained on the whole dataset instead of its shard: build each rank's loader with "
            "make_distributed_loader(X, y, rank, world_size, batch_size, seed)"),
)


def _mistakes(case: TrainingCase) -> tuple[Mistake, ...]:
    """The mistakes that change the result of ``case``: set_epoch matters only after the first epoch."""
    return tuple(mistake for mistake in _MISTAKES if case.epochs > 1 or "set_epoch" not in mistake.flags)


def reference_ddp(case: TrainingCase, *, synchronised: bool = True, set_epoch: bool = True,
                  sharded: bool = True) -> dict[str, torch.Tensor]:
    """What rank 0 holds after data-parallel SGD, computed in one process.

    With synchronisation, DDP averages the ranks' gradients; every rank's batch has
    the same size (DistributedSampler pads), so that is the gradient of the mean loss
    over the ranks' batches put together.  The other flags give the usual mistakes:
    no DDP (rank 0 alone on its shard), no ``set_epoch`` (epoch 0's order every
    epoch), no sampler (every rank walks the whole dataset in order).
    """
    n = len(case.y)
    model = model_from_state(case.layers, case.state)
    parameters = list(model.parameters())
    ranks = range(case.world_size) if synchronised else range(1)
    for epoch in range(case.epochs):
        if sharded:
            shards = reference_shards(n, case.world_size, case.seed, epoch if set_epoch else 0)
        else:
            shards = [list(range(n))] * case.world_size
        steps = math.ceil(len(shards[0]) / case.batch_size)
        for step in range(steps):
            rows = [index for rank in ranks
                    for index in shards[rank][step * case.batch_size:(step + 1) * case.batch_size]]
            loss = F.cross_entropy(model(case.X[rows]), case.y[rows])
            for parameter in parameters:
                parameter.grad = None
            loss.backward()
            with torch.no_grad():
                for parameter in parameters:
                    parameter.add_(parameter.grad, alpha=-case.lr)
    return {key: value.detach().clone() for key, value in model.state_dict().items()}


@contextlib.contextmanager
def _one_thread():
    """Tiny models train fastest on one thread: a pool of several only waits for busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class ExpectedWeights:
    """Rank 0's weights after the right training of a case, and after each of its mistakes (by name)."""

    right: dict[str, torch.Tensor]
    wrong: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)

    @classmethod
    def of(cls, case: TrainingCase) -> "ExpectedWeights":
        with _one_thread():
            return cls(right=reference_ddp(case),
                       wrong={mistake.name: reference_ddp(case, **mistake.flags) for mistake in _mistakes(case)})

    def separated(self) -> bool:
        """Whether every two of the results differ visibly (so that each mistake can be named)."""
        results = [self.right, *self.wrong.values()]
        return all(_largest_difference(a, b) > DISTINCT
                   for index, a in enumerate(results) for b in results[index + 1:])


def _largest_difference(a: dict, b: dict) -> float:
    return max(float((a[key] - b[key]).abs().max()) for key in a)


def _random_case(rng: torch.Generator, *, world_size: int, epochs: int, sizes: tuple[int, ...] = ()) -> TrainingCase:
    features, classes = _int(rng, 2, 4), _int(rng, 2, 3)
    hidden = _int(rng, 3, 6)
    layers = [("linear", features, hidden), ("relu",), ("linear", hidden, classes)]
    n = sizes[_int(rng, 0, len(sizes) - 1)] if sizes else _int(rng, 2 * world_size + 1, 6 * world_size + 1)
    return TrainingCase(
        layers=layers,
        state=random_state_dict(layers, rng),
        X=torch.randn(n, features, generator=rng),
        y=torch.randint(0, classes, (n,), generator=rng),
        world_size=world_size,
        epochs=epochs,
        lr=round(0.2 + 0.6 * float(torch.rand((), generator=rng)), 3),
        batch_size=_int(rng, 1, 3),
        seed=_int(rng, 0, 10_000),
    )


def _training_case(rng: torch.Generator, *, world_size: int, epochs: int,
                   sizes: tuple[int, ...] = ()) -> tuple[TrainingCase, ExpectedWeights]:
    """A random case in which the right result and every mistake's differ visibly, with those results."""
    for _ in range(50):
        case = _random_case(rng, world_size=world_size, epochs=epochs, sizes=sizes)
        expected = ExpectedWeights.of(case)
        if expected.separated():
            return case, expected
    raise AssertionError("no training case separates the mistakes; widen the ranges")  # a grader bug


# ====================================================================== judging what came back


def _as_state(value, case: TrainingCase, what: str) -> dict[str, torch.Tensor]:
    if not isinstance(value, dict):
        fail(f"{what} should return the state_dict rank 0 saved (a dict of tensors), not {describe(value)}")
    expected = model_from_state(case.layers, case.state).state_dict()
    keys = sorted(str(key) for key in value)
    if keys and all(key.startswith("module.") for key in keys):
        fail(f"the state_dict from {what} has keys starting with 'module.': that is the DDP wrapper's; "
             "save model.module.state_dict(), the plain model's")
    if keys != sorted(expected):
        fail(f"the state_dict from {what} does not have the keys of the model it was given")
    for key, wanted in expected.items():
        got = value[key]
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(wanted.shape) or got.dtype != wanted.dtype:
            fail(f"the state_dict from {what} holds {describe(got)} for {key!r}; expected a "
                 f"{wanted.dtype} tensor of shape {tuple(wanted.shape)}")
    return value


def _judge_training(value, case: TrainingCase, expected: ExpectedWeights, *, what: str,
                    leaving: frozenset[str] = frozenset()) -> None:
    """Fail unless ``value`` holds the right weights; a mistake named in ``leaving`` is another check's
    to judge, so weights that show only that mistake pass here."""
    state = _as_state(value, case, what)
    if _largest_difference(state, expected.right) <= WEIGHT_ATOL:
        return
    for mistake in _mistakes(case):
        if _largest_difference(state, expected.wrong[mistake.name]) <= WEIGHT_ATOL:
            if mistake.name in leaving:
                return
            fail(mistake.message)
    if _largest_difference(state, case.state) == 0.0:
        fail(f"the weights from {what} are the initial ones: rank 0 must save the model after training it")
    fail(f"the weights from {what} differ from data-parallel SGD: each rank should train a DDP-wrapped "
         "model on make_distributed_loader's shard with SGD(lr), calling set_epoch(epoch) each epoch, "
         "and rank 0 should save what it trained")


def _run_ddp(nb, case: TrainingCase, *, workdir: str, timeout_s: float = RUN_TIMEOUT):
    """Call run_ddp on a trusted model; turn a rank that never joined into a message that says so."""
    model = nb.make_model(case.layers, state_dict=case.state)
    pid = nb.process_id()
    started = time.monotonic()
    try:
        with _WorkerWatch(pid) as watch:
            return nb.call("run_ddp", model, case.X, case.y, **case.kwargs(), timeout_s=timeout_s, workdir=workdir)
    except CallTimeout:
        trained = _is_running(pid) and _exists(nb, f"{workdir}/rank0_model.pt")
        _stop_leftovers(nb, pid)
        if trained and watch.most >= case.world_size:
            fail("rank 0 saved its weights, but a worker never exited afterwards: delete the DDP model "
                 "(del ddp_model) before ddp_cleanup(), so that it is not freed after the group is gone")
        fail(f"run_ddp with world_size={case.world_size} did not finish within the time limit: "
             + _hang_cause(watch.most, case.world_size)
             + ". Pass timeout_s on to ddp_setup so that the others give up, and start world_size processes")
    except StudentError as error:
        if error.exc_type != "NotImplementedError" and time.monotonic() - started >= timeout_s:
            fail(f"run_ddp with world_size={case.world_size} failed after waiting for the process group: "
                 + _hang_cause(watch.most, case.world_size)
                 + ". Start world_size processes (nprocs=world_size), each with its own rank and the same "
                 "world_size")
        raise


def _hang_cause(started: int, world_size: int) -> str:
    if 0 < started < world_size:
        missing = ", ".join(str(rank) for rank in range(started, world_size))
        noun = "rank" if world_size - started == 1 else "ranks"
        return (f"it started {started} worker process{'es' if started != 1 else ''}, so {noun} {missing} "
                "never joined the process group")
    return "a rank never joined the process group"


def _limit_check(nb, seconds: float, *, budget: float | None) -> None:
    """Give the check's next calls ``seconds``, never past ``budget`` (the check's own deadline)."""
    limit = time.monotonic() + seconds
    nb.check_deadline = limit if budget is None else min(budget, limit)


def _stop_leftovers(nb, pid: int) -> None:
    """End a notebook process that may still run workers (the next check starts a fresh one)."""
    if _live_children(pid) and nb.process_id() == pid:
        nb.close()


# ====================================================================== one run, judged by several checks


@dataclass
class DdpRun:
    """One call of run_ddp: the case it trained, what it returned, or how it failed.

    Every check that judges the run re-raises its failure, so each of them reports it.
    """

    case: TrainingCase
    expected: ExpectedWeights
    returned: Any = None
    failure: BaseException | None = None

    def result(self) -> Any:
        if self.failure is not None:
            raise self.failure
        return self.returned


# The shared run of each notebook session (the ``nb`` object: one submission's notebook under one
# seed), so that a run is never judged for another student or another seed. Forgotten when the
# session's checks end (a failure's traceback holds the session).
_RUNS: dict[object, DdpRun] = {}


@pytest.fixture(scope="module", autouse=True)
def _forget_shared_run(nb):
    yield
    _RUNS.pop(nb, None)


def _shared_run(nb, rng: torch.Generator) -> DdpRun:
    """The two-rank, three-epoch run of run_ddp that the synchronisation and reshuffling checks both judge.

    The first of them to run makes it, with a case drawn from its own ``rng`` (the synchronisation
    check's when the whole suite runs, in its order); the other judges the same run.
    """
    if nb not in _RUNS:
        case, expected = _training_case(rng, world_size=2, epochs=3)
        run = DdpRun(case=case, expected=expected)
        try:
            run.returned = _run_ddp(nb, case, workdir="ddp_shared")
        except (AssertionError, SandboxError) as failure:  # what the student's code did, for every judge
            run.failure = failure
        _RUNS[nb] = run
    return _RUNS[nb]


# ====================================================================== ddp_backend


@pytest.mark.grade(1, fn="ddp_backend", returns=True)
def test_ddp_backend_by_gpu_count(nb):
    """ddp_backend picks nccl for two or more CUDA GPUs and gloo otherwise."""
    for count in (0, 1, 2, 3, 8):
        found = nb.call("ddp_backend", count)
        if not isinstance(found, str):
            fail(f"ddp_backend should return the backend's name as a string, not {describe(found)}")
        wanted = "nccl" if count >= 2 else "gloo"
        if found != wanted:
            fail(f"ddp_backend({count}) returned {found!r}: nccl needs at least two GPUs; "
                 "otherwise (no GPU or a single one) use gloo")


# ====================================================================== make_distributed_loader


def _indexed_data(rng: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Features whose first column is the row's index (exact in float32), and random labels."""
    X = torch.randn(n, 3, generator=rng)
    X[:, 0] = torch.arange(n, dtype=torch.float32)
    y = torch.randint(0, 3, (n,), generator=rng)
    return X, y


def _loader_batches(nb, X, y, rank: int, world_size: int, batch_size: int, seed: int) -> list[list[int]]:
    loader = nb.call("make_distributed_loader", X, y, rank, world_size, batch_size=batch_size, seed=seed)
    if not isinstance(loader, Ref):
        fail(f"make_distributed_loader should return a DataLoader, not {describe(loader)}")
    return _rows_of(loader, X, y)


def _rows_of(loader: Ref, X: torch.Tensor, y: torch.Tensor) -> list[list[int]]:
    """The batches of ``loader`` as lists of row indices, checking that each row is a row of (X, y)."""
    batches = []
    for batch in loader.items(limit=1000):
        if not (isinstance(batch, (list, tuple)) and len(batch) == 2
                and all(isinstance(part, torch.Tensor) for part in batch)):
            fail("each batch of the loader should be a pair of tensors (features, labels)")
        features, labels = batch
        if features.dim() != 2 or features.shape[1] != X.shape[1] or labels.shape != features.shape[:1]:
            fail(f"the loader yielded features of shape {tuple(features.shape)} with labels of shape "
                 f"{tuple(labels.shape)}: iterate over a TensorDataset(X, y)")
        rows = [int(value) for value in features[:, 0].round()]
        if any(not 0 <= row < len(y) for row in rows) or not (
                torch.equal(features, X[rows]) and torch.equal(labels, y[rows])):
            fail("the loader yielded rows that are not rows of (X, y): build it on TensorDataset(X, y)")
        batches.append(rows)
    return batches


def _judge_shards(found: list[list[list[int]]], n: int, world_size: int, batch_size: int, seed: int,
                  epoch: int = 0) -> None:
    expected = reference_shards(n, world_size, seed, epoch)
    for rank, batches in enumerate(found):
        flat = [row for batch in batches for row in batch]
        if sorted(flat) == list(range(n)) and len(expected[rank]) < n:
            fail(f"rank {rank}'s loader yields the whole dataset: each rank should see only its shard. "
                 "Give the DataLoader sampler=DistributedSampler(dataset, num_replicas=world_size, rank=rank, ...)")
        if any(len(batch) != batch_size for batch in batches[:-1]) or (batches and len(batches[-1]) > batch_size):
            fail("the loader's batches do not have batch_size examples (only the last may be smaller)")
        if len(flat) < len(expected[rank]):
            fail(f"rank {rank}'s loader yields fewer examples than its share: keep drop_last=False on the "
                 "sampler and the DataLoader (the sampler repeats a few examples so every rank gets as many)")
        if len(flat) > len(expected[rank]):
            fail(f"rank {rank}'s loader yields more examples than its share: pass num_replicas=world_size "
                 "and rank=rank to the DistributedSampler")
    together = [row for batches in found for batch in batches for row in batch]
    if set(together) != set(range(n)):
        fail("together the ranks' shards miss some examples: pass num_replicas=world_size and rank=rank "
             "to the DistributedSampler")
    for rank, batches in enumerate(found):
        flat = [row for batch in batches for row in batch]
        if flat == expected[rank]:
            continue
        if sorted(flat) == sorted(expected[rank]):
            fail(f"rank {rank} has the right examples in another order: let the sampler shuffle "
                 "(DistributedSampler(..., shuffle=True, seed=seed)) and keep shuffle=False in the DataLoader")
        fail(f"rank {rank}'s shard is not the one DistributedSampler(dataset, num_replicas=world_size, "
             "rank=rank, shuffle=True, seed=seed) selects")


@pytest.mark.grade(1, fn="make_distributed_loader")
def test_make_distributed_loader_shards(nb, rng):
    """The ranks' loaders yield disjoint shards that together cover the data, in DistributedSampler's order."""
    n, world_size = _int(rng, 4, 13), _int(rng, 2, 3)
    batch_size, seed = _int(rng, 1, 3), _int(rng, 0, 10_000)
    X, y = _indexed_data(rng, n)
    found = [_loader_batches(nb, X, y, rank, world_size, batch_size, seed) for rank in range(world_size)]
    _judge_shards(found, n, world_size, batch_size, seed)


@pytest.mark.grade(1, fn="make_distributed_loader")
def test_make_distributed_loader_uneven_split(nb, rng):
    """When the dataset does not split evenly, every rank still gets the same number of examples (padding)."""
    for n, world_size, batch_size in ((7, 2, 2), (5, 3, 1), (10, 4, 3), (3, 2, 4)):
        seed = _int(rng, 0, 10_000)
        X, y = _indexed_data(rng, n)
        found = [_loader_batches(nb, X, y, rank, world_size, batch_size, seed) for rank in range(world_size)]
        _judge_shards(found, n, world_size, batch_size, seed)


@pytest.mark.grade(1, fn="make_distributed_loader")
def test_make_distributed_loader_set_epoch(nb, rng):
    """The order stays the same from pass to pass, and changes when sampler.set_epoch(epoch) is called."""
    n, world_size, batch_size = 9, 2, 2
    seed = next(s for s in (_int(rng, 0, 10_000) + k for k in range(100))
                if reference_shards(n, world_size, s, 0)[0] != reference_shards(n, world_size, s, 1)[0])
    X, y = _indexed_data(rng, n)
    loader = nb.call("make_distributed_loader", X, y, 0, world_size, batch_size=batch_size, seed=seed)
    if not isinstance(loader, Ref):
        fail(f"make_distributed_loader should return a DataLoader, not {describe(loader)}")
    first, second = _rows_of(loader, X, y), _rows_of(loader, X, y)
    if [row for batch in first for row in batch] != reference_shards(n, world_size, seed, 0)[0]:
        fail("rank 0's shard is not the one DistributedSampler(dataset, num_replicas=world_size, rank=rank, "
             "shuffle=True, seed=seed) selects, so its reshuffling cannot be checked")
    if first != second:
        fail("the order changed between two passes without set_epoch: let the DistributedSampler "
             "shuffle (shuffle=True, seed=seed) and keep shuffle=False in the DataLoader")
    sampler = loader.get("sampler")
    try:
        if not isinstance(sampler, Ref):
            raise StudentError(function="sampler", exc_type="AttributeError", message="")
        sampler.method("set_epoch", 1)
    except StudentError:
        fail("the loader's sampler has no working set_epoch: give the DataLoader a DistributedSampler")
    later = [row for batch in _rows_of(loader, X, y) for row in batch]
    if later == [row for batch in first for row in batch]:
        fail("after loader.sampler.set_epoch(1) the order did not change: shuffle with the "
             "DistributedSampler (shuffle=True), whose order depends on seed + epoch")
    if later != reference_shards(n, world_size, seed, 1)[0]:
        fail("after set_epoch(1) the shard is not DistributedSampler's for that epoch: pass seed=seed "
             "to the DistributedSampler and do not shuffle elsewhere")


# ====================================================================== save_from_rank0


@pytest.mark.grade(1, fn="save_from_rank0", returns=True)
def test_save_from_rank0_only_rank0_writes(nb, rng):
    """Only rank 0 writes the state_dict file (and says so); the other ranks write nothing."""
    layers = [("linear", _int(rng, 2, 5), _int(rng, 2, 5))]
    state = random_state_dict(layers, rng)
    model = nb.make_model(layers, state_dict=state)
    for rank in (1, _int(rng, 2, 7)):
        path = f"saved_by_rank{rank}.pt"
        returned = nb.call("save_from_rank0", model, rank, path)
        if _exists(nb, path):
            fail(f"save_from_rank0 wrote the file on rank {rank}: only rank 0 should save "
                 "(all ranks hold the same weights, and two writers would race)")
        if returned is not False:
            fail(f"save_from_rank0 returned {describe(returned)} on rank {rank}; return False there")
    path = "saved_by_rank0.pt"
    returned = nb.call("save_from_rank0", model, 0, path)
    if not _exists(nb, path):
        fail("save_from_rank0 did not write the file on rank 0: torch.save(model.state_dict(), path)")
    try:
        saved = nb.read_weights(path)
    except StudentError:
        fail("the file rank 0 saved is not a state_dict that torch.load(..., weights_only=True) reads: "
             "save model.state_dict(), not the model object")
    if not isinstance(saved, dict) or sorted(saved) != sorted(state) or not all(
            isinstance(saved[key], torch.Tensor) and saved[key].shape == value.shape and torch.equal(saved[key], value)
            for key, value in state.items()):
        fail("the file rank 0 saved does not hold the model's state_dict (the plain model's keys and weights)")
    if returned is not True:
        fail(f"save_from_rank0 returned {describe(returned)} on rank 0; return True when it saved")


# ====================================================================== training through the launcher


@pytest.mark.grade(2, fn="train_rank")
def test_train_rank_gradients_synchronised(nb, rng):
    """With two workers, rank 0's weights equal SGD on both ranks' batches together (DDP averages gradients)."""
    run = _shared_run(nb, rng)
    # Whether each epoch is reshuffled is the next check's to judge, on the same run.
    _judge_training(run.result(), run.case, run.expected, what="run_ddp", leaving=frozenset({"same_order"}))


@pytest.mark.grade(1, fn="train_rank")
def test_train_rank_reshuffles_every_epoch(nb, rng):
    """Over several epochs the shards are reshuffled every epoch with set_epoch, as in the reference."""
    run = _shared_run(nb, rng)
    _judge_training(run.result(), run.case, run.expected, what="run_ddp")


@pytest.mark.grade(1, fn="run_ddp", returns=True)
def test_run_ddp_world_size_three(nb, rng):
    """Three workers on a dataset that does not split evenly train like the reference; every rank joins."""
    case, expected = _training_case(rng, world_size=3, epochs=1, sizes=(7, 8, 10, 11))
    state = _run_ddp(nb, case, workdir="ddp_three", timeout_s=THREE_RANKS_TIMEOUT)
    _judge_training(state, case, expected, what="run_ddp")


@dataclass(frozen=True)
class Interruption:
    """What the grader saw of a run_ddp call that trains "forever" and was interrupted by its time limit."""

    pid: int
    early: bool             # the grader sent the time limit as soon as the workers ran
    returned: bool          # run_ddp returned instead of being interrupted
    most_workers: int       # -1: not observable here
    still_running: bool     # the notebook process outlived the interruption
    leftovers: int = 0      # workers still running afterwards
    open_ports: int = 0     # listening sockets left in the notebook's network namespace


def _interrupt_training(nb, case: TrainingCase, *, early: bool, budget: float | None) -> Interruption:
    """Call run_ddp on a case with endless epochs and let the time limit interrupt it.

    ``early``: the limit comes as soon as the workers run and the launcher waits for them
    (see ``_WorkerWatch``); otherwise after ``STOP_AFTER`` seconds, as a time limit would.
    """
    _stop_leftovers(nb, nb.process_id())  # workers an earlier check left would count as this run's
    model = nb.make_model(case.layers, state_dict=case.state)
    pid = nb.process_id()
    _limit_check(nb, STOP_AFTER, budget=budget)
    returned = False
    with _WorkerWatch(pid, interrupt_at=case.world_size if early else None) as watch:
        try:
            nb.call("run_ddp", model, case.X, case.y, **case.kwargs(), timeout_s=RUN_TIMEOUT, workdir="ddp_forever")
            returned = True
        except CallTimeout:
            pass
    if returned or not _is_running(pid):
        return Interruption(pid, watch.interrupted, returned, watch.most, _is_running(pid))
    return Interruption(pid, watch.interrupted, returned, watch.most, True, leftovers=len(_leftovers(pid)),
                        open_ports=_listening_ports(pid) or 0)


@pytest.mark.grade(1, fn="run_ddp")
def test_run_ddp_stops_its_workers_when_interrupted(nb, rng):
    """Interrupted by the time limit while its workers train, run_ddp stops them: no process is left running."""
    case = _random_case(rng, world_size=2, epochs=10**7)
    budget = nb.check_deadline
    seen = _interrupt_training(nb, case, early=True, budget=budget)
    if seen.early and (seen.leftovers or seen.open_ports):
        # Interrupted that early, the launcher may not have reached its clean-up yet: what counts is
        # whether it cleans up when the limit comes later, while it waits.
        nb.close()
        seen = _interrupt_training(nb, case, early=False, budget=budget)
    if seen.returned:
        if seen.early:
            nb.close()  # the interruption may have reached the notebook process after run_ddp returned
        fail("run_ddp returned while its workers still had epochs to train: wait for them with "
             "context.join() until it returns True")
    if not seen.still_running:
        fail("run_ddp did not stop when the time limit interrupted it, and the grader had to end the "
             "notebook process: wait with context.join() in Python and clean up in a finally block")
    if seen.leftovers:
        nb.close()
        fail(f"after run_ddp was interrupted, {seen.leftovers} worker process{'es' if seen.leftovers != 1 else ''} "
             "kept running: in a finally block, kill() and join() every process of context.processes "
             "that is_alive()")
    if seen.open_ports:
        nb.close()
        fail("after run_ddp was interrupted, a port of the process group was still open: stop every "
             "worker in a finally block, so that their connections close")
    if 0 <= seen.most_workers < case.world_size:
        fail(f"run_ddp started {seen.most_workers} worker processes for world_size={case.world_size}: "
             "start one per rank (nprocs=world_size)")


# ====================================================================== inside the notebook process


@pytest.mark.grade(1, fn="ddp_setup", returns=True)
def test_ddp_setup_meets_through_init_file(nb):
    """ddp_setup forms a group through the given init_file and returns the backend's name."""
    path = "setup_check_rendezvous"
    try:
        backend = nb.call("ddp_setup", 0, 1, path, timeout_s=RUN_TIMEOUT)
        if not _exists(nb, path):
            fail("ddp_setup did not meet the other processes through init_file: use "
                 "init_method=f\"file://{os.path.abspath(init_file)}\" in init_process_group")
        wanted = "nccl" if torch.cuda.device_count() >= 2 else "gloo"
        if backend != wanted:
            fail(f"ddp_setup returned {describe(backend)} instead of the backend's name "
                 "(return ddp_backend(torch.cuda.device_count()))")
    finally:
        with contextlib.suppress(SandboxError):
            nb.call("ddp_cleanup")
        if _exists(nb, path):  # the group may be alive still: later checks get a fresh process
            nb.close()


@pytest.mark.grade(2, fn="ddp_setup")
def test_ddp_setup_gives_up_when_a_rank_is_missing(nb):
    """When rank 1 never joins, ddp_setup(0, 2, ...) raises after timeout_s instead of hanging."""
    _limit_check(nb, HANG_BUDGET, budget=nb.check_deadline)
    pid = nb.process_id()
    started = time.monotonic()
    try:
        nb.call("ddp_setup", 0, 2, "missing_rank_rendezvous", timeout_s=MISSING_RANK_TIMEOUT)
    except CallTimeout:
        fail("rank 1 never joined the process group, and ddp_setup kept waiting until the time limit "
             "stopped it: pass timeout=datetime.timedelta(seconds=timeout_s) to init_process_group")
    except StudentError as error:
        if error.exc_type == "NotImplementedError" or time.monotonic() - started < 0.8 * MISSING_RANK_TIMEOUT:
            raise
        return
    finally:
        _stop_leftovers(nb, pid)
    fail("ddp_setup(0, 2, ...) returned although rank 1 never joined the process group: call "
         "init_process_group, which waits for every rank")


@pytest.mark.grade(1, fn="ddp_cleanup")
def test_ddp_cleanup_destroys_the_group(nb):
    """After ddp_cleanup the process has left its group: it can join a new one."""
    first, second = "cleanup_check_a", "cleanup_check_b"
    try:
        nb.call("ddp_setup", 0, 1, first, timeout_s=RUN_TIMEOUT)
    except StudentError as error:
        fail(f"ddp_cleanup could not be checked: ddp_setup(0, 1, ...) raised {error.exc_type}; fix ddp_setup first")
    if not _exists(nb, first):
        fail("ddp_cleanup could not be checked: ddp_setup did not form a group through init_file")
    nb.call("ddp_cleanup")
    try:
        nb.call("ddp_setup", 0, 1, second, timeout_s=RUN_TIMEOUT)
    except StudentError:
        nb.close()
        fail("after ddp_cleanup() the process could not join a new process group: it was still in the "
             "old one. Call dist.destroy_process_group() in ddp_cleanup")
    with contextlib.suppress(SandboxError):
        nb.call("ddp_cleanup")


@pytest.mark.grade(1, fn="train_rank", returns=True)
def test_train_rank_leaves_the_group(nb, rng):
    """train_rank returns rank 0's state_dict and leaves the process group, so the process can train again."""
    case = _random_case(rng, world_size=1, epochs=1)
    arguments = {"epochs": 1, "lr": case.lr, "batch_size": case.batch_size, "seed": case.seed,
                 "timeout_s": RUN_TIMEOUT}
    for attempt in ("a", "b"):
        model = nb.make_model(case.layers, state_dict=case.state)
        try:
            state = nb.call("train_rank", 0, 1, model, case.X, case.y, f"train_check_{attempt}",
                            f"train_check_{attempt}.pt", **arguments)
        except StudentError:
            if attempt == "a":
                raise
            nb.close()
            fail("train_rank could not run a second time in the same process: the first run stayed in "
                 "the process group. Call ddp_cleanup() at the end, in a finally block")
        _as_state(state, case, "train_rank on rank 0")
