#!/usr/bin/env python3
"""The fault suite: nodus and BEAM nodes side by side under faults and
hostile peers. Every check asserts; the suite exits 1 if one fails.

    faults/suite.py [--table FILE] [--only NAME,...]

Needs root (network namespaces, nftables), `ip`, `nft`, `erl`, `erlc`
and a release build (`cargo build --release -p nodus-cli -p nodus
--examples`). Where namespaces or nft are refused, the suite says so and
fails: it never passes silently.

Scenarios (each for a nodus pair and a BEAM pair, same run):
  partition   two nodes in two network namespaces joined by a veth pair,
              net_ticktime 4; an nft rule drops all traffic between them:
              the time until each side reports nodedown, then the time
              until the mesh re-forms once the rule is gone.
  sigstop     a peer SIGSTOPped: the time until the other reports
              nodedown; after SIGCONT, the time until it is back.
  sigkill     a stream of {seq, I} to a sink on another namespace's node,
              every pair of kinds; the sink is SIGKILLed mid-stream: the
              sender's nodedown latency, and the sink got an in-order
              prefix (no gap, duplicate or reordering).
  slow        1,000 handshakes trickled a byte per second from 10 source
              addresses: all closed by net_setuptime (7 s), while `ping`
              keeps answering.
  garbage     1,000 garbage handshakes: log lines written during the
              attack and the 12 s after it.
  descriptors a node started under `ulimit -n 256` flooded with 500 idle
              connections: its established peer stays connected, its CPU
              stays low, its log stays short, and it accepts again after.
  memory      five rounds of the attack series (garbage, slow, huge length
              prefixes, a burst of connects): RSS after round 5 against
              after round 1.

With --table FILE, the comparison table is appended to FILE (e.g.
bench/RESULTS.md) with the command, the machine and the date.
"""
import os
import platform
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NODUS = os.path.join(ROOT, "target", "release", "nodus")
PEER = os.path.join(ROOT, "target", "release", "examples", "fault_peer")
COOKIE = "faults"
EPMD = 4369  # inside each namespace; on loopback a free port

FAILED = []
ROWS = []  # (scenario, metric, nodus, beam, bound)


def now_ms():
    return int(time.time() * 1000)


def check(ok, what):
    print(("  ok   " if ok else "  FAIL ") + what, flush=True)
    if not ok:
        FAILED.append(what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


# --------------------------------------------------------------- processes

class Proc:
    """A started OS process whose stdout and stderr lines are kept with the
    time they arrived; stopped by its pid."""

    ALL = []

    def __init__(self, argv, env, netns=None, nofile=None):
        cmd = list(argv)
        if nofile:
            cmd = ["bash", "-c", f'ulimit -n {nofile} && exec "$@"', "bash"] + cmd
        if netns:
            cmd = ["ip", "netns", "exec", netns] + cmd
        self.p = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, errors="replace")
        self.pid = self.p.pid
        self.out = []  # (arrival ms, line)
        self.err = []
        self.cv = threading.Condition()
        Proc.ALL.append(self)
        for stream, into in ((self.p.stdout, self.out), (self.p.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, into), daemon=True).start()

    def _read(self, stream, into):
        for line in stream:
            with self.cv:
                into.append((now_ms(), line.rstrip("\n")))
                self.cv.notify_all()

    def wait(self, pattern, within, start=0):
        """The first stdout line from index `start` matching `pattern`
        (a regex): (index, line, the time the line gives or its arrival)."""
        rx = re.compile(pattern)
        deadline = time.time() + within
        with self.cv:
            while True:
                for i in range(start, len(self.out)):
                    at, line = self.out[i]
                    if rx.search(line):
                        m = re.search(r" (\d{13})$", line)
                        return i, line, int(m.group(1)) if m else at
                left = deadline - time.time()
                if left <= 0:
                    return None
                self.cv.wait(min(left, 0.2))

    def lines(self, since_ms=0):
        with self.cv:
            return [l for t, l in self.out + self.err if t >= since_ms]

    def signal(self, sig):
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def stop(self):
        if self.p.poll() is None:
            self.signal(signal.SIGCONT)
            self.signal(signal.SIGKILL)
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def cpu_s(self):
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


def stop_all():
    for p in reversed(Proc.ALL):
        p.stop()
    Proc.ALL.clear()


class Env:
    """A private HOME (cookie) and EPMD port."""

    def __init__(self, tag, epmd):
        self.home = tempfile.mkdtemp(prefix=f"nodus-faults-{tag}-")
        self.epmd = epmd
        self.env = dict(os.environ, HOME=self.home, ERL_EPMD_PORT=str(epmd),
                        ERL_CRASH_DUMP_SECONDS="0")
        self.env.pop("RUST_LOG", None)

    def file(self, name, text):
        path = os.path.join(self.home, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def epmd_server(self, netns=None):
        for _ in range(5):
            try:
                return self._epmd_server(netns)
            except RuntimeError as e:
                # A port that free_port() found free can be taken before
                # EPMD binds it (an attack round's thousands of connects
                # use ephemeral ports): on loopback, take another one.
                if netns or "Address already in use" not in str(e):
                    raise
                self.epmd = free_port()
                self.env["ERL_EPMD_PORT"] = str(self.epmd)
        return self._epmd_server(netns)

    def _epmd_server(self, netns=None):
        p = Proc([NODUS, "epmd", "--port", str(self.epmd)], self.env, netns)
        # Ready once it accepts (inside the namespace when there is one).
        probe = ["python3", "-c", "import socket,sys; socket.create_connection"
                 f"(('127.0.0.1', {self.epmd}), 1).close()"]
        if netns:
            probe = ["ip", "netns", "exec", netns] + probe
        deadline = time.time() + 30
        while subprocess.run(probe, capture_output=True).returncode != 0:
            if time.time() > deadline or p.p.poll() is not None:
                raise RuntimeError(f"nodus epmd on port {self.epmd} did not start: {p.lines()}")
            time.sleep(0.05)
        return p

    def peer(self, kind, name, netns=None, ticktime=None, connect=None, stream=None):
        """A fault_peer node of `kind` ("nodus" or "beam")."""
        if kind == "nodus":
            argv = [PEER, name, COOKIE]
            if ticktime:
                argv += ["--ticktime", str(ticktime)]
            if connect:
                argv += ["--connect", connect]
            if stream:
                argv += ["--stream", stream[0], str(stream[1])]
        else:
            argv = ["erl", "-noshell", "-name", name, "-setcookie", COOKIE, "-pa", BEAM_DIR]
            if ticktime:
                argv += ["-kernel", "net_ticktime", str(ticktime)]
            argv += ["-s", "fault_peer", "start", "-extra"]
            if connect:
                argv += ["connect", connect]
            if stream:
                argv += ["stream", stream[0], str(stream[1])]
        p = Proc(argv, self.env, netns)
        if not p.wait(r"^ready ", 30):
            raise RuntimeError(f"{kind} node {name} did not start: {p.lines()}")
        return p

    def target(self, kind, name, setuptime=7, ticktime=60, nofile=None):
        """A plain node of `kind` to attack: `nodus start` or `erl`."""
        if kind == "nodus":
            p = Proc([NODUS, "start", "--name", name, "--cookie", COOKIE,
                      "--kernel", f"net_setuptime={setuptime}",
                      "--kernel", f"net_ticktime={ticktime}",
                      "--epmd-port", str(self.epmd)], self.env, nofile=nofile)
            ready = r"booted"
        else:
            p = Proc(["erl", "-noshell", "-name", name, "-setcookie", COOKIE,
                      "-kernel", "net_setuptime", str(setuptime),
                      "-kernel", "net_ticktime", str(ticktime),
                      "-eval", 'io:format("booted~n")'], self.env, nofile=nofile)
            ready = r"booted"
        if not p.wait(ready, 30):
            raise RuntimeError(f"{kind} target {name} did not start: {p.lines()}")
        return p

    def port_of(self, name):
        """The distribution port EPMD gives for `name` (on loopback)."""
        short = name.split("@")[0]
        s = socket.create_connection(("127.0.0.1", self.epmd), 5)
        s.sendall(b"\x00\x01n")
        raw = b""
        while True:
            b = s.recv(4096)
            if not b:
                break
            raw += b
        s.close()
        m = re.search(rf"name {short} at port (\d+)", raw[4:].decode())
        if not m:
            raise RuntimeError(f"{name} not in EPMD: {raw!r}")
        return int(m.group(1))

    def ping(self, node):
        r = subprocess.run([NODUS, "ping", node, "--cookie", COOKIE, "--epmd-port",
                            str(self.epmd)], env=self.env, capture_output=True, text=True,
                           timeout=30)
        return r.stdout.strip() == "pong"


# --------------------------------------------------------------- netns

class Net:
    """Two network namespaces joined by a veth pair."""

    def __init__(self):
        tag = os.getpid() % 100000
        self.a, self.b = f"nfa{tag}", f"nfb{tag}"
        self.ip = {self.a: "10.213.0.1", self.b: "10.213.0.2"}
        va, vb = f"nfva{tag}", f"nfvb{tag}"
        sh(["ip", "netns", "add", self.a])
        sh(["ip", "netns", "add", self.b])
        sh(["ip", "link", "add", va, "type", "veth", "peer", "name", vb])
        sh(["ip", "link", "set", va, "netns", self.a])
        sh(["ip", "link", "set", vb, "netns", self.b])
        for ns, dev in ((self.a, va), (self.b, vb)):
            sh(["ip", "-n", ns, "addr", "add", self.ip[ns] + "/24", "dev", dev])
            sh(["ip", "-n", ns, "link", "set", dev, "up"])
            sh(["ip", "-n", ns, "link", "set", "lo", "up"])

    def partition(self, ns, other_ip):
        rules = ("table inet nodusfault {\n"
                 " chain in { type filter hook input priority 0; ip saddr %s drop; }\n"
                 " chain out { type filter hook output priority 0; ip daddr %s drop; }\n"
                 "}\n" % (other_ip, other_ip))
        subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", "-"], input=rules,
                       text=True, check=True)

    def heal(self, ns):
        sh(["ip", "netns", "exec", ns, "nft", "delete", "table", "inet", "nodusfault"])

    def close(self):
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def sh(argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")


# --------------------------------------------------------------- attackers

TRICKLE = bytes([0, 40, ord("N")]) + b"x" * 64


def slow_handshakes(port, n, sources, per_second=1.0, within=30.0):
    """`n` connections from `sources` loopback addresses, each sending a
    valid-looking handshake a byte per second. Returns the seconds after
    which each was closed by the node (None: still open at `within`)."""
    sel = selectors.DefaultSelector()
    socks = []
    t0 = time.time()
    for i in range(n):
        s = socket.socket()
        s.bind((f"127.0.0.{1 + i % sources}", 0))
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            socks.append([s, 0, 0.0])
            continue
        s.setblocking(False)
        socks.append([s, 0, None])
        sel.register(s, selectors.EVENT_READ, len(socks) - 1)
    next_byte = time.time()
    while time.time() - t0 < within and any(x[2] is None for x in socks):
        if time.time() >= next_byte:
            for x in socks:
                if x[2] is None and x[1] < len(TRICKLE):
                    try:
                        x[0].send(TRICKLE[x[1]:x[1] + 1])
                        x[1] += 1
                    except OSError:
                        x[2] = time.time() - t0
            next_byte += 1.0 / per_second
        for key, _ in sel.select(0.05):
            x = socks[key.data]
            try:
                data = x[0].recv(64)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data and x[2] is None:
                x[2] = time.time() - t0
                sel.unregister(x[0])
    closed = [x[2] for x in socks]
    for x in socks:
        x[0].close()
    sel.close()
    return closed


def send_and_wait(port, n, payload, batch=100, within=10.0):
    """`n` connections (`batch` at a time) that send `payload` and wait
    until the node closes them (or `within` seconds)."""
    for start in range(0, n, batch):
        sel = selectors.DefaultSelector()
        socks = []
        for _ in range(min(batch, n - start)):
            try:
                s = socket.create_connection(("127.0.0.1", port), 5)
                s.sendall(payload)
                s.setblocking(False)
                sel.register(s, selectors.EVENT_READ)
                socks.append(s)
            except OSError:
                pass
        deadline = time.time() + within
        open_ = len(socks)
        while open_ and time.time() < deadline:
            for key, _ in sel.select(0.1):
                try:
                    data = key.fileobj.recv(4096)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(key.fileobj)
                    open_ -= 1
        for s in socks:
            s.close()
        sel.close()


def garbage(port, n):
    send_and_wait(port, n, b"\x00\x05GET / HTTP/1.1\r\n\r\n")


def huge_prefixes(port, n):
    send_and_wait(port, n, b"\xff\xff" + b"N" * 4096)


def burst(port, n):
    socks = []
    for _ in range(n):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), 5))
        except OSError:
            pass
    for s in socks:
        s.close()


# --------------------------------------------------------------- scenarios

KINDS = ("nodus", "beam")


def ns_pair(net, tag, prefix):
    """A private Env with an EPMD in each namespace, and the names of the
    two nodes (`PREFIXx` in namespace a, `PREFIXy` in b)."""
    env = Env(tag, EPMD)
    env.epmd_server(net.a)
    env.epmd_server(net.b)
    return env, f"{prefix}x@{net.ip[net.a]}", f"{prefix}y@{net.ip[net.b]}"


def scenario_partition(net):
    print("== partition (netns + nft), net_ticktime 4", flush=True)
    res = {}
    for kind in KINDS:
        env, x, y = ns_pair(net, f"part-{kind}", "p")
        px = env.peer(kind, x, net.a, ticktime=4, connect=y)
        py = env.peer(kind, y, net.b, ticktime=4, connect=x)
        ok = px.wait(rf"^up {re.escape(y)} ", 20) and py.wait(rf"^up {re.escape(x)} ", 20)
        check(bool(ok), f"{kind}: the two namespaces' nodes connect")
        mark_x, mark_y = len(px.out), len(py.out)
        t0 = now_ms()
        net.partition(net.a, net.ip[net.b])
        dx = px.wait(rf"^down {re.escape(y)} ", 20, mark_x)
        dy = py.wait(rf"^down {re.escape(x)} ", 20, mark_y)
        check(dx is not None and dy is not None, f"{kind}: both sides see the partition")
        det = [(d[2] - t0) / 1000 for d in (dx, dy) if d]
        check(all(2.0 <= s <= 12.0 for s in det) and len(det) == 2,
              f"{kind}: detected in {det} s (net_ticktime 4: about 3-5 s, bound 12 s)")
        time.sleep(1)
        mark_x, mark_y = len(px.out), len(py.out)
        t1 = now_ms()
        net.heal(net.a)
        ux = px.wait(rf"^up {re.escape(y)} ", 20, mark_x)
        uy = py.wait(rf"^up {re.escape(x)} ", 20, mark_y)
        check(ux is not None and uy is not None, f"{kind}: the mesh re-forms after healing")
        heal = max((u[2] - t1) / 1000 for u in (ux, uy)) if ux and uy else None
        res[kind] = (max(det) if det else None, heal)
        stop_all()
    ROWS.append(("partition", "nodedown after the drop rule (s, slower side)",
                 res["nodus"][0], res["beam"][0], "<= 12"))
    ROWS.append(("partition", "mesh re-formed after healing (s; retry every 200 ms)",
                 res["nodus"][1], res["beam"][1], "<= 20"))


def scenario_sigstop(net):
    print("== SIGSTOP of a peer, net_ticktime 4", flush=True)
    res = {}
    for kind in KINDS:
        env, x, y = ns_pair(net, f"stop-{kind}", "s")
        px = env.peer(kind, x, net.a, ticktime=4, connect=y)
        py = env.peer(kind, y, net.b, ticktime=4)
        check(px.wait(rf"^up {re.escape(y)} ", 20) is not None, f"{kind}: connected")
        mark = len(px.out)
        t0 = now_ms()
        py.signal(signal.SIGSTOP)
        d = px.wait(rf"^down {re.escape(y)} ", 20, mark)
        check(d is not None and (d[2] - t0) / 1000 <= 12,
              f"{kind}: a stopped peer is nodedown in {(d[2] - t0) / 1000 if d else None} s")
        mark = len(px.out)
        t1 = now_ms()
        py.signal(signal.SIGCONT)
        u = px.wait(rf"^up {re.escape(y)} ", 30, mark)
        check(u is not None, f"{kind}: back after SIGCONT")
        res[kind] = ((d[2] - t0) / 1000 if d else None, (u[2] - t1) / 1000 if u else None)
        stop_all()
    ROWS.append(("sigstop", "nodedown after SIGSTOP (s)", res["nodus"][0], res["beam"][0], "<= 12"))
    ROWS.append(("sigstop", "connected again after SIGCONT (s)",
                 res["nodus"][1], res["beam"][1], "<= 30"))


def scenario_sigkill(net):
    print("== SIGKILL of a receiver mid-stream", flush=True)
    res = {}
    for sender in KINDS:
        for receiver in KINDS:
            env, x, y = ns_pair(net, f"kill-{sender}-{receiver}", "k")
            py = env.peer(receiver, y, net.b)
            px = env.peer(sender, x, net.a, stream=(y, 50_000_000))
            got = py.wait(r"^got 200000 ", 60)
            check(got is not None, f"{sender} -> {receiver}: the stream flows")
            t0 = now_ms()
            py.signal(signal.SIGKILL)
            down = px.wait(r"^stream-down ", 20)
            lat = (down[2] - t0) / 1000 if down else None
            check(down is not None and lat <= 5,
                  f"{sender} -> {receiver}: the sender sees nodedown {lat} s after the kill")
            gaps = [l for l in py.lines() if l.startswith("gap ")]
            counts = [int(l.split()[1]) for l in py.lines() if l.startswith("got ")]
            check(not gaps and counts == sorted(counts) and len(set(counts)) == len(counts),
                  f"{sender} -> {receiver}: the sink got an in-order prefix "
                  f"(up to {counts[-1] if counts else 0}, gaps: {gaps[:3]})")
            res[(sender, receiver)] = lat
            stop_all()
    ROWS.append(("sigkill", "sender's nodedown after the receiver's SIGKILL (ms, same kind)",
                 ms(res[("nodus", "nodus")]), ms(res[("beam", "beam")]), "<= 5000"))
    ROWS.append(("sigkill", "... sender of this kind, receiver of the other (ms)",
                 ms(res[("nodus", "beam")]), ms(res[("beam", "nodus")]), "<= 5000"))


def ms(s):
    return None if s is None else round(s * 1000)


def scenario_slow():
    print("== 1,000 handshakes trickled a byte per second", flush=True)
    res = {}
    for kind in KINDS:
        env = Env(f"slow-{kind}", free_port())
        env.epmd_server()
        t = env.target(kind, "slow@127.0.0.1")
        port = env.port_of("slow@127.0.0.1")
        pings = []
        done = threading.Event()

        def pinger():
            while not done.is_set():
                pings.append(env.ping("slow@127.0.0.1"))
                time.sleep(0.5)
        th = threading.Thread(target=pinger)
        th.start()
        closed = slow_handshakes(port, 1000, sources=10, within=20)
        done.set()
        th.join()
        still = sum(1 for c in closed if c is None)
        last = max((c for c in closed if c is not None), default=None)
        check(still == 0, f"{kind}: all 1,000 closed (still open after 20 s: {still}; last at {last} s)")
        if kind == "nodus":
            check(last is not None and 5.0 <= last <= 9.5,
                  f"{kind}: closed by net_setuptime 7 s, not earlier or later (last at {last} s)")
        check(pings and all(pings), f"{kind}: ping answered throughout ({sum(pings)}/{len(pings)})")
        res[kind] = (last, f"{sum(pings)}/{len(pings)}")
        stop_all()
    ROWS.append(("slow", "last of 1,000 trickled handshakes closed (s; net_setuptime 7)",
                 rnd(res["nodus"][0]), rnd(res["beam"][0]), "<= 9.5"))
    ROWS.append(("slow", "pings answered during the attack", res["nodus"][1], res["beam"][1], "all"))


def rnd(x):
    return None if x is None else round(x, 2)


GARBAGE_BOUND = 10


def scenario_garbage():
    print("== 1,000 garbage handshakes: log lines", flush=True)
    res = {}
    for kind in KINDS:
        env = Env(f"garbage-{kind}", free_port())
        env.epmd_server()
        t = env.target(kind, "junk@127.0.0.1")
        port = env.port_of("junk@127.0.0.1")
        t0 = now_ms()
        garbage(port, 1000)
        time.sleep(12)  # the summary of the 10 s interval
        n = len(t.lines(t0))
        if kind == "nodus":
            check(n <= GARBAGE_BOUND, f"{kind}: {n} log lines for 1,000 garbage handshakes "
                  f"(bound {GARBAGE_BOUND})")
        check(env.ping("junk@127.0.0.1"), f"{kind}: answers ping after the attack")
        res[kind] = n
        stop_all()
    ROWS.append(("garbage", "log lines for 1,000 garbage handshakes (+12 s)",
                 res["nodus"], res["beam"], f"<= {GARBAGE_BOUND}"))


FD_LOG_BOUND = 1 + 5 * 2 * 2


def scenario_descriptors():
    print("== ulimit -n 256 and a flood of 500 idle connections", flush=True)
    res = {}
    for kind in KINDS:
        env = Env(f"fd-{kind}", free_port())
        env.epmd_server()
        t = env.target(kind, "fd@127.0.0.1", ticktime=4, nofile=256)
        peer = env.peer(kind, "fdpeer@127.0.0.1", ticktime=4, connect="fd@127.0.0.1")
        check(peer.wait(r"^up fd@", 20) is not None, f"{kind}: the peer connects")
        port = env.port_of("fd@127.0.0.1")
        mark = len(peer.out)
        t0 = now_ms()
        flood, stop = [], threading.Event()

        def keep_flooding():
            # 5 source addresses x 100: under the per-address cap, over
            # the descriptor limit; closed ones are reopened.
            while not stop.is_set():
                alive = []
                for s in flood:
                    try:
                        s.setblocking(False)
                        if s.recv(1) == b"":
                            s.close()
                            continue
                    except BlockingIOError:
                        pass
                    except OSError:
                        s.close()
                        continue
                    alive.append(s)
                flood[:] = alive
                i = 0
                while len(flood) < 500 and not stop.is_set() and i < 600:
                    s = socket.socket()
                    s.bind((f"127.0.0.{1 + len(flood) % 5}", 0))
                    s.settimeout(0.5)
                    try:
                        s.connect(("127.0.0.1", port))
                        flood.append(s)
                    except OSError:
                        s.close()
                    i += 1
                time.sleep(0.2)
        th = threading.Thread(target=keep_flooding)
        th.start()
        time.sleep(4)
        c0 = t.cpu_s()
        time.sleep(6)
        cpu = (t.cpu_s() - c0) / 6
        refused_now = not env.ping("fd@127.0.0.1")
        stop.set()
        th.join()
        for s in flood:
            s.close()
        lost = [l for l in peer.out[mark:] if l[1].startswith("down fd@")]
        log = len(t.lines(t0))
        if os.environ.get("FAULTS_VERBOSE"):
            print(*t.lines(t0), sep="\n")
        check(not lost, f"{kind}: the established peer stays connected through the exhaustion")
        if kind == "nodus":
            check(cpu < 0.25, f"{kind}: no spinning at the descriptor limit ({cpu:.0%} of a core)")
            # One accept-error line, then per source address (5) and 10 s
            # interval at most two (the first refusal, the summary); the
            # count spans up to two intervals.
            check(log <= FD_LOG_BOUND, f"{kind}: {log} log lines during the exhaustion "
                  f"(bound {FD_LOG_BOUND})")
        time.sleep(8)  # the flood's accepted connections time out
        back = any(env.ping("fd@127.0.0.1") for _ in range(5))
        check(back, f"{kind}: accepts new connections once descriptors free up")
        res[kind] = ("yes" if not lost else "no", f"{cpu:.0%}", log,
                     "refused" if refused_now else "answered", "yes" if back else "no")
        stop_all()
    for i, metric in enumerate(["established peer kept", "CPU at the limit (of a core)",
                                "log lines during 10 s of exhaustion",
                                "a new ping at the limit", "accepts again after"]):
        ROWS.append(("descriptors", metric, res["nodus"][i], res["beam"][i],
                     ["yes", "< 25%", f"<= {FD_LOG_BOUND}", "-", "yes"][i]))


def attack_round(port):
    garbage(port, 1000)
    slow_handshakes(port, 300, sources=5, per_second=2, within=6)
    huge_prefixes(port, 100)
    burst(port, 2000)


def scenario_memory():
    print("== RSS over five rounds of the attack series", flush=True)
    res = {}
    for kind in KINDS:
        env = Env(f"mem-{kind}", free_port())
        env.epmd_server()
        t = env.target(kind, "mem@127.0.0.1", setuptime=2)
        port = env.port_of("mem@127.0.0.1")
        before = t.rss_kib()
        rss = []
        for _ in range(5):
            attack_round(port)
            time.sleep(3)
            rss.append(t.rss_kib())
        growth = rss[-1] - rss[0]
        if kind == "nodus":
            check(growth <= 1024, f"{kind}: RSS after round 5 within 1 MB of round 1 "
                  f"({[r // 1024 for r in rss]} MB, growth {growth} KiB)")
        check(env.ping("mem@127.0.0.1"), f"{kind}: answers ping after five rounds")
        res[kind] = (before, rss[0], rss[-1], growth)
        stop_all()
    for i, metric in enumerate(["RSS before (KiB)", "RSS after round 1 (KiB)",
                                "RSS after round 5 (KiB)", "growth round 1 -> 5 (KiB)"]):
        ROWS.append(("memory", metric, res["nodus"][i], res["beam"][i],
                     "<= 1024" if i == 3 else "-"))


# --------------------------------------------------------------- main

BEAM_DIR = None


def table(path, elapsed):
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    otp = subprocess.run(["erl", "-noshell", "-eval",
                          'io:format("~s", [erlang:system_info(otp_release)]), halt().'],
                         capture_output=True, text=True).stdout.strip()
    lines = [
        "",
        f"## Fault suite: nodus and BEAM side by side ({time.strftime('%Y-%m-%d')})",
        "",
        f"Command: `python3 faults/suite.py --table bench/RESULTS.md` (or `bench/faults.sh`); "
        f"machine: {os.cpu_count()} cores, {cpu}, {platform.system()} {platform.release()}; "
        f"BEAM: Erlang/OTP {otp}; run took {elapsed:.0f} s. Same run, same attacks, "
        f"same bounds; nodus is `nodus start` (attacks) or the `fault_peer` example "
        f"(streams, partitions), BEAM is `erl` with `faults/fault_peer.erl`.",
        "",
        "| scenario | measure | nodus | BEAM | nodus bound |",
        "|---|---|---|---|---|",
    ]
    for s, m, a, b, bound in ROWS:
        lines.append(f"| {s} | {m} | {a} | {b} | {bound} |")
    lines.append("")
    lines.append("Failed checks: " + ("; ".join(FAILED) if FAILED else "none") + ".")
    with open(path, "a") as f:
        f.write("\n".join(lines) + "\n")


def main():
    global BEAM_DIR
    args = sys.argv[1:]
    out = None
    only = None
    while args:
        a = args.pop(0)
        if a == "--table":
            out = args.pop(0)
        elif a == "--only":
            only = set(args.pop(0).split(","))
        else:
            sys.exit(f"usage: {sys.argv[0]} [--table FILE] [--only partition,sigstop,...]")
    for tool, why in (("ip", "iproute2"), ("nft", "nftables"), ("erl", "erlang-nox"),
                      ("erlc", "erlang-nox")):
        if not shutil.which(tool):
            sys.exit(f"faults: {tool} is missing (apt-get install {why}); the suite cannot run")
    for binary in (NODUS, PEER):
        if not os.path.exists(binary):
            sys.exit(f"faults: {binary} is missing "
                     "(cargo build --release -p nodus-cli && cargo build --release -p nodus --examples)")
    BEAM_DIR = tempfile.mkdtemp(prefix="nodus-faults-beam-")
    subprocess.run(["erlc", "-o", BEAM_DIR, os.path.join(ROOT, "faults", "fault_peer.erl")],
                   check=True)
    started = time.time()
    net = None
    try:
        want = lambda n: only is None or n in only  # noqa: E731
        if want("partition") or want("sigstop") or want("sigkill"):
            try:
                net = Net()
            except (RuntimeError, OSError) as e:
                sys.exit(f"faults: network namespaces are refused here ({e}); "
                         "the suite needs root and `ip netns` and does not pass without them")
            try:
                subprocess.run(["ip", "netns", "exec", net.a, "nft", "list", "tables"],
                               check=True, capture_output=True)
            except subprocess.CalledProcessError as e:
                sys.exit(f"faults: nft is refused here ({e.stderr.decode().strip()}); "
                         "the suite does not pass without it")
        for name, fn in (("partition", scenario_partition), ("sigstop", scenario_sigstop),
                         ("sigkill", scenario_sigkill), ("slow", scenario_slow),
                         ("garbage", scenario_garbage), ("descriptors", scenario_descriptors),
                         ("memory", scenario_memory)):
            if not want(name):
                continue
            try:
                fn(net) if name in ("partition", "sigstop", "sigkill") else fn()
            except Exception as e:  # a scenario that cannot run fails
                check(False, f"{name}: {type(e).__name__}: {e}")
            finally:
                stop_all()
    finally:
        stop_all()
        if net:
            net.close()
    elapsed = time.time() - started
    print("\n| scenario | measure | nodus | BEAM | nodus bound |")
    for r in ROWS:
        print("| " + " | ".join(str(x) for x in r) + " |")
    if out:
        table(out, elapsed)
    if FAILED:
        print(f"\nfaults: {len(FAILED)} check(s) failed:", *FAILED, sep="\n  ")
        sys.exit(1)
    print(f"\nfaults: all checks passed in {elapsed:.0f} s")


if __name__ == "__main__":
    main()
