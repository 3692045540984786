#!/usr/bin/env python3
"""Failover and takeover times of a distributed application: nodus-only
and BEAM-only pairs side by side, same run, same Timeout.

Two nodes a (first in the list) and b share `[{demo, T, [a, b]}]`. Each
round: a runs demo; a is SIGKILLed; failover = from the SIGKILL until b
prints "demo started" (its start has returned). Then a is launched
again: takeover = from that launch until a prints "demo started
{takeover,...}", and handover = until b prints "demo stopped" (the old
instance is gone). nodus nodes are the `dist_app` example (`nodus start`
plus demo), BEAM nodes `erl` with tests/erl/nodus_demo.erl; each with a
private EPMD (`nodus epmd`) and HOME.

Usage: bench/dist_apps.py TARGET_DIR [ROUNDS] [TIMEOUT_MS]
(bench/dist_apps.sh builds and runs it, and appends to RESULTS.md.)
"""
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Proc:
    def __init__(self, argv, env, cwd):
        self.p = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, text=True)
        self.lines = []
        self.cv = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            with self.cv:
                self.lines.append((time.monotonic(), line.rstrip("\n")))
                self.cv.notify_all()

    def wait(self, prefix, start=0, within=60):
        deadline = time.monotonic() + within
        with self.cv:
            while True:
                for t, l in self.lines[start:]:
                    if l.startswith(prefix):
                        return t
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"no {prefix!r} in {self.lines}")
                self.cv.wait(left)

    def kill(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
            self.p.wait()


def run(kind, target, rounds, timeout_ms):
    home = tempfile.mkdtemp(prefix=f"nodus-bench-dac-{kind}-")
    epmd = free_port()
    env = dict(os.environ, HOME=home, ERL_EPMD_PORT=str(epmd), ERL_CRASH_DUMP_SECONDS="0")
    a, b = f"{kind[0]}a@127.0.0.1", f"{kind[0]}b@127.0.0.1"
    cfg = os.path.join(home, "sys.config")
    with open(cfg, "w") as f:
        f.write("[{kernel, [{distributed, [{demo, %d, ['%s', '%s']}]}, "
                "{sync_nodes_optional, ['%s', '%s']}, {sync_nodes_timeout, 3000}]}].\n"
                % (timeout_ms, a, b, a, b))
    subprocess.run(["erlc", "-o", home, os.path.join(ROOT, "tests/erl/nodus_demo.erl")], check=True)
    with open(os.path.join(home, "demo.app"), "w") as f:
        f.write('{application, demo, [{description, "demo"}, {vsn, "1"}, {modules, [nodus_demo]}, '
                '{registered, []}, {applications, [kernel, stdlib]}, {mod, {nodus_demo, []}}]}.\n')
    epmd_p = Proc([os.path.join(target, "nodus"), "epmd", "--port", str(epmd)], env, home)
    time.sleep(0.3)

    def launch(name):
        if kind == "nodus":
            argv = [os.path.join(target, "examples", "dist_app"), "start", "--name", name,
                    "--cookie", "c", "--config", cfg]
        else:
            argv = ["erl", "-noshell", "-name", name, "-setcookie", "c", "-config", cfg, "-pa", home,
                    "-eval", "ok = application:start(demo)"]
        return Proc(argv, env, home)

    fail, take, hand = [], [], []
    pa, pb = launch(a), launch(b)
    try:
        pa.wait("demo started")
        time.sleep(0.5)
        for _ in range(rounds):
            mark = len(pb.lines)
            t0 = time.monotonic()
            pa.kill()
            fail.append(pb.wait("demo started", mark) - t0)
            time.sleep(0.3)
            mark = len(pb.lines)
            t1 = time.monotonic()
            pa = launch(a)
            take.append(pa.wait("demo started {takeover") - t1)
            hand.append(pb.wait("demo stopped", mark) - t1)
            time.sleep(0.5)
    finally:
        for p in (pa, pb, epmd_p):
            p.kill()
    return fail, take, hand


def med(xs):
    return round(statistics.median(xs) * 1000, 1)


def main():
    target = os.path.abspath(sys.argv[1])
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    timeout_ms = int(sys.argv[3]) if len(sys.argv) > 3 else 500
    res = {k: run(k, target, rounds, timeout_ms) for k in ("nodus", "beam")}
    print(f"rounds {rounds}, Timeout {timeout_ms} ms; medians in ms (min-max)")
    print("| measure | nodus | BEAM |")
    print("|---|---:|---:|")
    names = ["failover: SIGKILL of the runner -> next node's start returned",
             "takeover: launch of the first node -> its start {takeover,..} returned",
             "handover: launch of the first node -> old instance stopped"]
    for i, n in enumerate(names):
        row = []
        for k in ("nodus", "beam"):
            xs = res[k][i]
            row.append(f"{med(xs)} ({round(min(xs) * 1000)}-{round(max(xs) * 1000)})")
        print(f"| {n} | {row[0]} | {row[1]} |")


if __name__ == "__main__":
    main()
