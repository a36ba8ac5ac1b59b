"""Mutants of 06_distributed.ipynb: one typical mistake of data-parallel training per variant."""

from tests.mutants import Mutant

NOTEBOOK = "06_distributed"

_TRAIN = '''
def train_rank(rank, world_size, model, X, y, init_file, save_path, epochs=2, lr=0.5, batch_size=2, seed=0,
               timeout_s=10.0):
    ddp_setup(rank, world_size, init_file, timeout_s)
    try:
        loader = make_distributed_loader(X, y, rank, world_size, batch_size, seed)
        ddp_model = {wrap}
        optimizer = torch.optim.SGD(ddp_model.parameters(), lr=lr)
        for epoch in range(epochs):
            {set_epoch}
            for features, labels in loader:
                loss = F.cross_entropy(ddp_model(features), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        save_from_rank0(ddp_model, rank, save_path)
        state = model.state_dict() if rank == 0 else None
        del ddp_model, optimizer
        return state
    finally:
        ddp_cleanup()
'''


def _train(*, wrap: str = "DDP(model)", set_epoch: str = "loader.sampler.set_epoch(epoch)") -> str:
    return _TRAIN.format(wrap=wrap, set_epoch=set_epoch)


_LAUNCH = '''
def run_ddp(model, X, y, world_size=2, epochs=2, lr=0.5, batch_size=2, seed=0, timeout_s=10.0, workdir="ddp_run"):
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    init_file, save_path = workdir / "rendezvous", workdir / "rank0_model.pt"
    for stale in (init_file, save_path):
        stale.unlink(missing_ok=True)
    context = mp.start_processes(
        train_rank,
        args=(world_size, model, X, y, str(init_file), str(save_path), epochs, lr, batch_size, seed, timeout_s),
        nprocs={nprocs}, join=False, start_method="fork",
    )
    {wait}
    return torch.load(save_path, weights_only=True)
'''

_WAIT_AND_CLEAN = '''try:
        while not context.join():
            pass
    finally:
        for process in context.processes:
            if process.is_alive():
                process.kill()
            process.join()'''

_WAIT_ONLY = '''while not context.join():
        pass'''

_WAIT_AND_CLEAN_ON_CTRL_C = '''try:
        while not context.join():
            pass
    except KeyboardInterrupt:
        for process in context.processes:
            if process.is_alive():
                process.kill()
            process.join()
        raise'''


def _launch(*, nprocs: str = "world_size", wait: str = _WAIT_AND_CLEAN) -> str:
    return _LAUNCH.format(nprocs=nprocs, wait=wait)


_PLACEHOLDERS = {
    "ddp_backend": "def ddp_backend(gpu_count):\n    pass\n",
    "ddp_setup": "def ddp_setup(rank, world_size, init_file, timeout_s=10.0):\n    pass\n",
    "ddp_cleanup": "def ddp_cleanup():\n    pass\n",
    "make_distributed_loader": "def make_distributed_loader(X, y, rank, world_size, batch_size=2, seed=0):\n    pass\n",
    "save_from_rank0": "def save_from_rank0(model, rank, path):\n    pass\n",
    "train_rank": ("def train_rank(rank, world_size, model, X, y, init_file, save_path, epochs=2, lr=0.5,\n"
                   "               batch_size=2, seed=0, timeout_s=10.0):\n    pass\n"),
    "run_ddp": ("def run_ddp(model, X, y, world_size=2, epochs=2, lr=0.5, batch_size=2, seed=0, timeout_s=10.0,\n"
                "            workdir='ddp_run'):\n    pass\n"),
}

_ALL_CHECKS = frozenset({
    "test_ddp_backend_by_gpu_count", "test_make_distributed_loader_shards",
    "test_make_distributed_loader_uneven_split", "test_make_distributed_loader_set_epoch",
    "test_save_from_rank0_only_rank0_writes", "test_train_rank_gradients_synchronised",
    "test_train_rank_reshuffles_every_epoch", "test_run_ddp_world_size_three",
    "test_run_ddp_stops_its_workers_when_interrupted", "test_ddp_setup_meets_through_init_file",
    "test_ddp_setup_gives_up_when_a_rank_is_missing", "test_ddp_cleanup_destroys_the_group",
    "test_train_rank_leaves_the_group",
})

MUTANTS = [
    Mutant(
        name="distributed_loader_without_sampler",
        defect="make_distributed_loader builds a plain DataLoader, so every rank sees the whole dataset "
               "(train_rank only calls set_epoch when the sampler has it).",
        cells={
            "make_distributed_loader": '''
def make_distributed_loader(X, y, rank, world_size, batch_size=2, seed=0):
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=False)
''',
            "train_rank": _train(set_epoch="getattr(loader.sampler, 'set_epoch', lambda epoch: None)(epoch)"),
        },
        loses=frozenset({"test_make_distributed_loader_shards", "test_make_distributed_loader_uneven_split",
                         "test_make_distributed_loader_set_epoch", "test_train_rank_gradients_synchronised",
                         "test_train_rank_reshuffles_every_epoch", "test_run_ddp_world_size_three"}),
        message_contains="whole dataset",
    ),
    Mutant(
        name="distributed_train_without_set_epoch",
        defect="train_rank never calls loader.sampler.set_epoch(epoch): every epoch repeats the first order.",
        cells={"train_rank": _train(set_epoch="pass")},
        loses=frozenset({"test_train_rank_reshuffles_every_epoch"}),
        message_contains="set_epoch(epoch)",
    ),
    Mutant(
        name="distributed_train_without_ddp",
        defect="train_rank trains the plain model: the ranks never average their gradients.",
        cells={"train_rank": _train(wrap="model")},
        loses=frozenset({"test_train_rank_gradients_synchronised", "test_train_rank_reshuffles_every_epoch",
                         "test_run_ddp_world_size_three"}),
        message_contains="not averaged",
    ),
    Mutant(
        name="distributed_cleanup_without_destroy",
        defect="ddp_cleanup does nothing: the process group is never destroyed.",
        cells={"ddp_cleanup": "def ddp_cleanup():\n    pass\n"},
        loses=frozenset({"test_ddp_cleanup_destroys_the_group", "test_train_rank_leaves_the_group"}),
        message_contains="destroy_process_group",
    ),
    Mutant(
        name="distributed_launch_fixed_world_size",
        defect="run_ddp always starts two processes, whatever world_size says.",
        cells={"run_ddp": _launch(nprocs="2")},
        loses=frozenset({"test_run_ddp_world_size_three"}),
        message_contains="rank 2 never joined the process group",
    ),
    Mutant(
        name="distributed_launch_leaves_workers",
        defect="run_ddp waits for its workers without a finally block: interrupted, it leaves them running.",
        cells={"run_ddp": _launch(wait=_WAIT_ONLY)},
        loses=frozenset({"test_run_ddp_stops_its_workers_when_interrupted"}),
        message_contains="kept running",
    ),
    Mutant(
        name="distributed_launch_cleans_up_on_ctrl_c_only",
        defect="run_ddp stops its workers only on KeyboardInterrupt, not when a time limit interrupts it "
               "(the grader's early interruption is the time limit's, as it would come later).",
        cells={"run_ddp": _launch(wait=_WAIT_AND_CLEAN_ON_CTRL_C)},
        loses=frozenset({"test_run_ddp_stops_its_workers_when_interrupted"}),
        message_contains="kept running",
    ),
    Mutant(
        name="distributed_setup_without_timeout",
        defect="ddp_setup passes no timeout: a rank whose partner never comes waits for half an hour.",
        cells={"ddp_setup": '''
def ddp_setup(rank, world_size, init_file, timeout_s=10.0):
    backend = ddp_backend(torch.cuda.device_count())
    dist.init_process_group(backend=backend, init_method=f"file://{os.path.abspath(init_file)}",
                            rank=rank, world_size=world_size)
    return backend
'''},
        loses=frozenset({"test_ddp_setup_gives_up_when_a_rank_is_missing"}),
        message_contains="rank 1 never joined the process group",
    ),
    Mutant(
        name="distributed_save_on_every_rank",
        defect="save_from_rank0 lacks the rank-0 check: every rank writes the file.",
        cells={"save_from_rank0": '''
def save_from_rank0(model, rank, path):
    plain = model.module if isinstance(model, DDP) else model
    torch.save(plain.state_dict(), path)
    return True
'''},
        loses=frozenset({"test_save_from_rank0_only_rank0_writes"}),
        message_contains="only rank 0 should save",
    ),
    Mutant(
        name="distributed_backend_nccl_from_one_gpu",
        defect="ddp_backend picks nccl for a single GPU.",
        cells={"ddp_backend": "def ddp_backend(gpu_count):\n    return 'nccl' if gpu_count >= 1 else 'gloo'\n"},
        loses=frozenset({"test_ddp_backend_by_gpu_count"}),
        message_contains="two GPUs",
    ),
    Mutant(
        name="distributed_placeholders",
        defect="every function is a placeholder that returns None.",
        cells=_PLACEHOLDERS,
        loses=_ALL_CHECKS,
    ),
]
