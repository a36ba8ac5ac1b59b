"""A correct 06_distributed.ipynb written in other styles than the reference solution."""

NOTEBOOK = "06_distributed"

_PROCESSES = {
    "ddp_backend": '''
def ddp_backend(gpu_count):
    return ("gloo", "nccl")[int(gpu_count) >= 2]
''',
    "ddp_setup": '''
def ddp_setup(rank, world_size, init_file, timeout_s=10.0):
    name = ddp_backend(torch.cuda.device_count() if torch.cuda.is_available() else 0)
    if name == "nccl":
        torch.cuda.set_device(rank)
    dist.init_process_group(name, init_method=Path(init_file).resolve().as_uri(), world_size=world_size,
                            rank=rank, timeout=datetime.timedelta(seconds=float(timeout_s)))
    return name
''',
    "ddp_cleanup": '''
def ddp_cleanup():
    if dist.is_initialized():
        dist.destroy_process_group()
''',
    "make_distributed_loader": '''
def make_distributed_loader(X, y, rank, world_size, batch_size=2, seed=0):
    data = TensorDataset(X, y)
    return DataLoader(
        dataset=data,
        batch_size=batch_size,
        sampler=DistributedSampler(data, world_size, rank, True, seed, False),
        drop_last=False,
    )
''',
    "save_from_rank0": '''
def save_from_rank0(model, rank, path):
    if rank:
        return False
    torch.save(getattr(model, "module", model).state_dict(), str(path))
    return True
''',
    # The DDP wrapper lives only inside _fit, so it is gone before the group is destroyed.
    "train_rank": '''
def train_rank(rank, world_size, model, X, y, init_file, save_path, epochs=2, lr=0.5, batch_size=2, seed=0,
               timeout_s=10.0):
    def _fit():
        loader = make_distributed_loader(X, y, rank, world_size, batch_size=batch_size, seed=seed)
        wrapped = DDP(model)
        optimizer = torch.optim.SGD(params=wrapped.parameters(), lr=lr)
        for epoch in range(epochs):
            loader.sampler.set_epoch(epoch)
            for batch in loader:
                features, labels = batch
                optimizer.zero_grad(set_to_none=True)
                F.cross_entropy(input=wrapped(features), target=labels).backward()
                optimizer.step()
        save_from_rank0(wrapped, rank, save_path)
        return {key: value.detach().clone() for key, value in wrapped.module.state_dict().items()}

    ddp_setup(rank, world_size, init_file, timeout_s=timeout_s)
    try:
        trained = _fit()
        return trained if rank == 0 else None
    finally:
        ddp_cleanup()
''',
    # One multiprocessing.Process per rank instead of torch's start_processes.
    "run_ddp": '''
def run_ddp(model, X, y, world_size=2, epochs=2, lr=0.5, batch_size=2, seed=0, timeout_s=10.0, workdir="ddp_run"):
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    rendezvous, weights = folder / "rendezvous", folder / "rank0_model.pt"
    for path in (rendezvous, weights):
        if path.exists():
            path.unlink()
    fork = mp.get_context("fork")
    workers = [fork.Process(target=train_rank, args=(rank, world_size, model, X, y, str(rendezvous), str(weights)),
                            kwargs={"epochs": epochs, "lr": lr, "batch_size": batch_size, "seed": seed,
                                    "timeout_s": timeout_s})
               for rank in range(world_size)]
    try:
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        failed = [rank for rank, worker in enumerate(workers) if worker.exitcode != 0]
        if failed:
            raise RuntimeError(f"ranks {failed} failed")
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
                worker.join()
    return torch.load(weights, weights_only=True)
''',
}

# The launcher waits by polling, asleep between looks, and stops its workers with terminate().
_POLLING = {
    "run_ddp": '''
def run_ddp(model, X, y, world_size=2, epochs=2, lr=0.5, batch_size=2, seed=0, timeout_s=10.0, workdir="ddp_run"):
    import time
    os.makedirs(workdir, exist_ok=True)
    init_file = os.path.join(workdir, "rendezvous")
    save_path = os.path.join(workdir, "rank0_model.pt")
    for stale in (init_file, save_path):
        if os.path.exists(stale):
            os.remove(stale)
    context = mp.start_processes(
        train_rank,
        args=(world_size, model, X, y, init_file, save_path, epochs, lr, batch_size, seed, timeout_s),
        nprocs=world_size, join=False, start_method="fork",
    )
    try:
        while any(process.is_alive() for process in context.processes):
            time.sleep(0.02)
        context.join()
    finally:
        for process in context.processes:
            if process.is_alive():
                process.terminate()
                process.join()
    return torch.load(save_path, weights_only=True)
''',
}

ALTERNATIVES = {"processes": _PROCESSES, "polling": _POLLING}
