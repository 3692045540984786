#!/usr/bin/env python3
"""Cluster formation time and idle memory: nodus against BEAM, same run.

For each size N, N nodes n1..nN@127.0.0.1 boot from one sys.config that
lists all of them in sync_nodes_optional (sync_nodes_timeout 60000). The
formation time is from launching the first node until the last one has
booted, which (sync_nodes_optional) is when it is connected to all the
others. Then, with the cluster idle for 2 s, the resident memory (VmRSS)
of each node's OS process is read. Every node runs as its own OS process
(`nodus start` or `erl -noshell`), with a private EPMD (`nodus epmd`) and
HOME.

Usage: bench/cluster.py NODUS_BINARY [SIZES...]
"""
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def run(kind, n, nodus):
    home = tempfile.mkdtemp(prefix=f"nodus-bench-{kind}-")
    epmd = free_port()
    env = dict(os.environ, HOME=home, ERL_EPMD_PORT=str(epmd), ERL_CRASH_DUMP_SECONDS="0")
    names = [f"n{i}@127.0.0.1" for i in range(1, n + 1)]
    cfg = os.path.join(home, "sys.config")
    with open(cfg, "w") as f:
        f.write("[{kernel,\n[\n{sync_nodes_optional, [%s]},\n{sync_nodes_timeout, 60000}\n]}\n].\n"
                % ", ".join(f"'{x}'" for x in names))
    epmd_proc = subprocess.Popen([nodus, "epmd", "--port", str(epmd)], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    procs = []
    booted = {}
    lock = threading.Lock()

    def watch(i, p):
        for line in p.stdout:
            if "booted" in line:
                with lock:
                    booted[i] = time.monotonic()
                break
        for _ in p.stdout:
            pass

    t0 = time.monotonic()
    for i, name in enumerate(names):
        if kind == "nodus":
            cmd = [nodus, "start", "--name", name, "--cookie", "bench", "--config", cfg]
        else:
            cmd = ["erl", "-noshell", "-name", name, "-setcookie", "bench", "-config", cfg[:-7],
                   "-eval", 'io:format("booted ~p~n", [length(nodes())]).']
        p = subprocess.Popen(cmd, env=env, cwd=home, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, text=True)
        procs.append(p)
        threading.Thread(target=watch, args=(i, p), daemon=True).start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with lock:
            if len(booted) == n:
                break
        time.sleep(0.005)
    with lock:
        done = len(booted) == n
        formed = max(booted.values()) - t0 if done else None
    time.sleep(2)
    rss = [r for r in (rss_kib(p.pid) for p in procs) if r]
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    epmd_proc.terminate()
    epmd_proc.wait()
    subprocess.run(["rm", "-rf", home])
    return formed, (statistics.median(rss) / 1024 if rss else None)


def main():
    nodus = sys.argv[1]
    sizes = [int(x) for x in sys.argv[2:]] or [4, 8, 16, 32, 48, 64, 100]
    print("| nodes | nodus formation (s) | BEAM formation (s) | BEAM / nodus | nodus idle RSS (MiB) | beam.smp idle RSS (MiB) |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        nf, nr = run("nodus", n, nodus)
        time.sleep(3)  # let the previous run's processes and sockets go
        bf, br = run("beam", n, nodus)
        time.sleep(3)
        ratio = f"{bf / nf:.1f}x" if nf and bf else "-"
        fmt = lambda x: f"{x:.2f}" if x is not None else "did not form"
        fmr = lambda x: f"{x:.1f}" if x is not None else "-"
        print(f"| {n} | {fmt(nf)} | {fmt(bf)} | {ratio} | {fmr(nr)} | {fmr(br)} |", flush=True)


if __name__ == "__main__":
    main()
