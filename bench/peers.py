"""Python's side of poolscope's benchmarks: concurrent.futures and multiprocessing.

The Rust runner (src/main.rs) starts this script once per workload and round:

    python3 peers.py WORKLOAD SIZE...

It times only the work, never the interpreter's start or the imports, checks every result,
and prints one line `RESULT v1 [v2 ...]` in the units of the runner's table: tasks per second,
milliseconds, or microseconds. Only the standard library is used. Pools use the platform's
default start method (fork on Linux before Python 3.14).
"""

import math
import multiprocessing
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor


def inc(x):
    return x + 1


def double(x):
    return 2 * x


def byte_sum(data):
    return sum(data)


def check(what, got, expected):
    if got != expected:
        raise SystemExit(f"{what}: results summed to {got}, expected {expected}")


def percentile(values, quantile):
    """Nearest-rank percentile, as the Rust side computes it."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(quantile * len(ordered))))
    return ordered[rank - 1]


def submit_all(executor, function, n):
    futures = [executor.submit(function, x) for x in range(n)]
    return sum(future.result() for future in futures)


def tiny_thread(n):
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as executor:
        total = submit_all(executor, inc, n)
    elapsed = time.perf_counter() - start
    check("tiny-thread", total, n * (n + 1) // 2)
    return [n / elapsed]


def tiny_process(n):
    start = time.perf_counter()
    with ProcessPoolExecutor(2) as executor:
        total = submit_all(executor, double, n)
    elapsed = time.perf_counter() - start
    check("tiny-process", total, n * (n - 1))
    return [n / elapsed]


def tiny_process_chunked(n):
    start = time.perf_counter()
    pool = multiprocessing.Pool(2)
    total = sum(pool.imap(double, range(n), chunksize=64))
    pool.close()
    pool.join()
    elapsed = time.perf_counter() - start
    check("tiny-process-chunked", total, n * (n - 1))
    return [n / elapsed]


def payload_process(n, size):
    start = time.perf_counter()
    with ProcessPoolExecutor(2) as executor:
        futures = [executor.submit(byte_sum, bytes([i % 256]) * size) for i in range(n)]
        total = sum(future.result() for future in futures)
    elapsed = time.perf_counter() - start
    check("payload-process", total, sum((i % 256) * size for i in range(n)))
    return [n / elapsed]


def startup_process(repetitions):
    times = []
    for _ in range(repetitions):
        start = time.perf_counter()
        with ProcessPoolExecutor(4) as executor:
            check("startup-process", executor.submit(inc, 1).result(), 2)
        times.append((time.perf_counter() - start) * 1e3)
    return [statistics.median(times)]


def latency(executor, samples):
    for x in range(samples // 10 + 1):
        executor.submit(inc, x).result()
    times = []
    for x in range(samples):
        start = time.perf_counter()
        check("latency", executor.submit(inc, x).result(), x + 1)
        times.append((time.perf_counter() - start) * 1e6)
    return [statistics.median(times), percentile(times, 0.99)]


def latency_thread(samples):
    with ThreadPoolExecutor(2) as executor:
        return latency(executor, samples)


def latency_process(samples):
    with ProcessPoolExecutor(2) as executor:
        return latency(executor, samples)


WORKLOADS = {
    "tiny-thread": tiny_thread,
    "tiny-process": tiny_process,
    "tiny-process-chunked": tiny_process_chunked,
    "payload-process": payload_process,
    "startup-process": startup_process,
    "latency-thread": latency_thread,
    "latency-process": latency_process,
}


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in WORKLOADS:
        raise SystemExit(f"usage: peers.py {{{','.join(WORKLOADS)}}} SIZE...")
    sizes = [int(arg) for arg in sys.argv[2:]]
    figures = WORKLOADS[sys.argv[1]](*sizes)
    print("RESULT " + " ".join(repr(float(figure)) for figure in figures))


if __name__ == "__main__":
    main()
