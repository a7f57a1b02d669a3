"""Python's side of poolscope's benchmarks: concurrent.futures and multiprocessing.

The Rust runner (src/main.rs) starts this script once per workload, pool and round:

    python3 peers.py WORKLOAD POOL SIZE...

POOL is `threads` (ThreadPoolExecutor), `processes` (ProcessPoolExecutor) or
`multiprocessing` (multiprocessing.Pool, whose tasks go through `apply_async`). The script
times only the work, never the interpreter's start or the imports, checks the results, and
prints one line `RESULT v1 [v2 ...]` in the units of the runner's table: tasks per second,
milliseconds, or microseconds. Only the standard library is used. Pools use the platform's
default start method (fork on Linux before Python 3.14).
"""

import contextlib
import math
import multiprocessing
import multiprocessing.pool
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor

# Workers of the throughput and latency pools.
WORKERS = 2


def inc(x):
    return x + 1


def double(x):
    return 2 * x


def byte_sum(data):
    return sum(data)


# A 64-bit word, for the busy loop to wrap at as the Rust one does.
MASK = (1 << 64) - 1


def burn(iterations):
    """The Rust side's busy loop: `iterations` steps of a 64-bit xorshift generator."""
    state = iterations | 1
    for _ in range(iterations):
        state ^= (state << 13) & MASK
        state ^= state >> 7
        state ^= (state << 17) & MASK
    return state


def calibrate(millis):
    """How many steps of `burn` take about `millis` ms here: the fastest of five timings."""
    probe = 1 << 16
    fastest = min(timed(burn, probe) for _ in range(5))
    return max(1, int(millis / 1e3 / (fastest / probe)))


def timed(function, argument):
    start = time.perf_counter()
    function(argument)
    return time.perf_counter() - start


def check(what, got, expected):
    if got != expected:
        raise SystemExit(f"{what}: results summed to {got}, expected {expected}")


def percentile(values, quantile):
    """Nearest-rank percentile, as the Rust side computes it."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(quantile * len(ordered))))
    return ordered[rank - 1]


# How to wait for what multiprocessing.Pool.apply_async returns.
ASYNC_RESULT = multiprocessing.pool.AsyncResult.get


@contextlib.contextmanager
def open_pool(kind, workers):
    """A pool of `kind`, as the pair (submit, result).

    `submit(function, x)` queues one call and returns what `result` waits on. Leaving the
    block shuts the pool down and waits for its workers, as the Rust systems do.
    """
    if kind == "multiprocessing":
        pool = multiprocessing.Pool(workers)
        try:
            yield (lambda function, x: pool.apply_async(function, (x,))), ASYNC_RESULT
        except BaseException:
            pool.terminate()
            raise
        pool.close()
        pool.join()
        return
    executor = ThreadPoolExecutor if kind == "threads" else ProcessPoolExecutor
    with executor(workers) as pool:
        yield pool.submit, Future.result



def tiny(kind, function, n):
    """Tasks per second of n calls of `function`, one submit each, pool start included."""
    start = time.perf_counter()
    with open_pool(kind, WORKERS) as (submit, result):
        pending = [submit(function, x) for x in range(n)]
        total = sum(result(call) for call in pending)
    elapsed = time.perf_counter() - start
    return total, n / elapsed


def tiny_thread(kind, n):
    total, figure = tiny(kind, inc, n)
    check("tiny-thread", total, n * (n + 1) // 2)
    return [figure]


def tiny_process(kind, n):
    total, figure = tiny(kind, double, n)
    check("tiny-process", total, n * (n - 1))
    return [figure]


def tiny_process_chunked(kind, n):
    start = time.perf_counter()
    pool = multiprocessing.Pool(WORKERS)
    total = sum(pool.imap(double, range(n), chunksize=64))
    pool.close()
    pool.join()
    elapsed = time.perf_counter() - start
    check("tiny-process-chunked", total, n * (n - 1))
    return [n / elapsed]


def payload_process(kind, n, size):
    start = time.perf_counter()
    with open_pool(kind, WORKERS) as (submit, result):
        pending = [submit(byte_sum, bytes([i % 256]) * size) for i in range(n)]
        total = sum(result(call) for call in pending)
    elapsed = time.perf_counter() - start
    check("payload-process", total, sum((i % 256) * size for i in range(n)))
    return [n / elapsed]


def startup_process(kind, repetitions):
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        with open_pool(kind, 4) as (submit, result):
            check("startup-process", result(submit(inc, 1)), 2)
        times.append((time.perf_counter() - start) * 1e3)
    return [statistics.median(times)]


def cpu_process(kind, tasks, millis):
    """Tasks per second of `tasks` busy loops of about `millis` ms each, pool start included.

    The loop runs in Python, calibrated in Python: each task takes as long as the Rust
    side's, not as many steps.
    """
    iterations = calibrate(millis)
    expected = burn(iterations)
    start = time.perf_counter()
    with open_pool(kind, WORKERS) as (submit, result):
        pending = [submit(burn, iterations) for _ in range(tasks)]
        for call in pending:
            check("cpu-process", result(call), expected)
    return [tasks / (time.perf_counter() - start)]


def latency(kind, samples):
    with open_pool(kind, WORKERS) as (submit, result):
        for x in range(samples // 10 + 1):
            result(submit(inc, x))
        times = []
        for x in range(samples):
            start = time.perf_counter()
            check("latency", result(submit(inc, x)), x + 1)
            times.append((time.perf_counter() - start) * 1e6)
    return [statistics.median(times), percentile(times, 0.99)]


def resident():
    """(VmRSS, VmHWM) of this process in bytes: resident now, and the most ever resident."""
    fields = {}
    with open("/proc/self/status") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0]) * 1024
    return fields["VmRSS"], fields["VmHWM"]


def hold(gate):
    """A holding task: says which worker runs it, then waits for the file `open` in `gate`.

    A file, not an event, so that one gate serves threads and processes alike, as the Rust
    process probe's does.
    """
    worker = f"{os.getpid()}-{threading.get_native_id()}"
    with open(os.path.join(gate, f"held-{worker}"), "w"):
        pass
    while not os.path.exists(os.path.join(gate, "open")):
        time.sleep(0.001)
    return worker


def hold_workers(submit, gate):
    """Submits holding tasks, one every 20 ms, until every worker runs one."""
    deadline = time.monotonic() + 20
    holders = []
    while sum(name.startswith("held-") for name in os.listdir(gate)) < WORKERS:
        if time.monotonic() > deadline:
            raise SystemExit("memory: the workers were not all held in time")
        holders.append(submit(hold, gate))
        time.sleep(0.02)
    return holders


def check_holders(kind, holders):
    """Every holder that ran did so on a worker: a thread of this process, or another one."""
    ours = os.getpid()
    for holder in holders:
        if holder.cancelled():
            continue
        pid = int(holder.result().split("-")[0])
        if (pid == ours) != (kind == "threads"):
            raise SystemExit(f"memory: a holding task ran in process {pid}")


def memory(kind, tasks):
    """Bytes of the parent's memory per task queued behind blocked workers.

    Measured as the Rust probes measure it: every worker is held in a first task, then
    (peak resident after queueing `tasks` tasks - resident before) / tasks, the futures and
    the list of them included. Running what was queued would take minutes on a process pool
    at its rate, so the queued tasks are cancelled once measured; every task that still ran,
    and every holder, is checked.
    """
    executor = ThreadPoolExecutor(WORKERS) if kind == "threads" else ProcessPoolExecutor(WORKERS)
    with tempfile.TemporaryDirectory(prefix="poolscope-bench-") as gate:
        try:
            holders = hold_workers(executor.submit, gate)
            before, _ = resident()
            pending = [executor.submit(inc, x) for x in range(tasks)]
            _, peak = resident()
        finally:
            with open(os.path.join(gate, "open"), "w"):
                pass
            executor.shutdown(wait=True, cancel_futures=True)
    check_holders(kind, holders)
    for x, future in enumerate(pending):
        if not future.cancelled():
            check("memory", future.result(), x + 1)
    return [(peak - before) / tasks]


# Each workload, and the pools it runs on.
WORKLOADS = {
    "tiny-thread": (tiny_thread, ["threads"]),
    "tiny-process": (tiny_process, ["processes", "multiprocessing"]),
    "tiny-process-chunked": (tiny_process_chunked, ["multiprocessing"]),
    "payload-process": (payload_process, ["processes"]),
    "startup-process": (startup_process, ["processes"]),
    "cpu-process": (cpu_process, ["processes", "multiprocessing"]),
    "latency-thread": (latency, ["threads"]),
    "latency-process": (latency, ["processes", "multiprocessing"]),
    "memory-thread": (memory, ["threads"]),
    "memory-process": (memory, ["processes"]),
}


def main():
    workload = WORKLOADS.get(sys.argv[1]) if len(sys.argv) > 2 else None
    if workload is None or sys.argv[2] not in workload[1]:
        choices = "; ".join(f"{name} {'|'.join(pools)}" for name, (_, pools) in WORKLOADS.items())
        raise SystemExit(f"usage: peers.py WORKLOAD POOL SIZE..., one of: {choices}")
    function, _ = workload
    sizes = [int(arg) for arg in sys.argv[3:]]
    figures = function(sys.argv[2], *sizes)
    print("RESULT " + " ".join(repr(float(figure)) for figure in figures))


if __name__ == "__main__":
    main()
