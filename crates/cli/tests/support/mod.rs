//! A private little world for CLI tests: an EPMD port served by `nodus
//! epmd`, a HOME, and the processes started in it, all stopped on drop.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// A child process, killed when dropped.
pub struct Proc {
    pub child: Child,
    pub lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Waits for a stdout line containing `needle`; returns it.
    pub fn wait_line(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        if let Some(l) = self.seen.iter().find(|l| l.contains(needle)) {
            return l.clone();
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => {
                    self.seen.push(l.clone());
                    if l.contains(needle) {
                        return l;
                    }
                }
                Err(_) => panic!(
                    "no line with {needle:?} within {within:?}; got {:?}",
                    self.seen
                ),
            }
        }
    }

    /// Waits (polling) for the process to exit; its status.
    pub fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                return s;
            }
            assert!(Instant::now() < deadline, "still running after {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends a signal (`TERM`, `KILL`, ...).
    pub fn signal(&self, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status();
    }
}

/// A test's world: its EPMD port and HOME.
pub struct World {
    pub epmd: u16,
    pub home: PathBuf,
    _epmd: Proc,
}

/// Starts `cmd` with its stdout and stderr lines collected.
pub fn spawn(mut cmd: Command) -> Proc {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().expect("stdout");
    let err = child.stderr.take().expect("stderr");
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    std::thread::spawn(move || {
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx2.send(format!("stderr: {l}"));
        }
    });
    Proc {
        child,
        lines: rx,
        seen: Vec::new(),
    }
}

impl World {
    /// A new world named after the test.
    pub fn new(tag: &str) -> World {
        let epmd = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let home = std::env::temp_dir().join(format!("nodus-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        std::fs::create_dir_all(&home).expect("home");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nodus"));
        cmd.args(["epmd", "--port", &epmd.to_string()]);
        let p = spawn(cmd);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", epmd)).is_err() {
            assert!(Instant::now() < deadline, "nodus epmd did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        World {
            epmd,
            home,
            _epmd: p,
        }
    }

    /// Writes `text` to a file in HOME; returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let p = self.home.join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    /// A `nodus` command in this world.
    pub fn nodus_cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nodus"));
        cmd.args(args)
            .env("HOME", &self.home)
            .env("ERL_EPMD_PORT", self.epmd.to_string())
            .current_dir(&self.home);
        cmd
    }

    /// Starts `nodus ARGS` in the background.
    pub fn nodus(&self, args: &[&str]) -> Proc {
        spawn(self.nodus_cmd(args))
    }

    /// Runs `nodus ARGS` to completion.
    pub fn run(&self, args: &[&str]) -> Output {
        self.nodus_cmd(args).output().expect("nodus")
    }

    /// `nodus start --name NAME --cookie c --config CONFIG`.
    pub fn start(&self, name: &str, config: &Path) -> Proc {
        self.nodus(&[
            "start",
            "--name",
            name,
            "--cookie",
            "c",
            "--config",
            &config.to_string_lossy(),
        ])
    }

    /// `erl -noshell ARGS` in this world.
    pub fn erl(&self, args: &[&str]) -> Proc {
        let mut cmd = Command::new("erl");
        cmd.arg("-noshell")
            .args(args)
            .env("HOME", &self.home)
            .env("ERL_EPMD_PORT", self.epmd.to_string())
            .env("ERL_CRASH_DUMP_SECONDS", "0")
            .current_dir(&self.home);
        spawn(cmd)
    }

    /// `nodus nodes NODE`: its connected nodes, sorted.
    pub fn nodes_of(&self, node: &str) -> Vec<String> {
        let out = self.run(&["nodes", node, "--cookie", "c"]);
        let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .filter(|l| !l.is_empty())
            .collect();
        v.sort();
        v
    }

    /// Polls `nodus nodes NODE` until it equals `want` (sorted).
    pub fn wait_nodes(&self, node: &str, want: &[&str], within: Duration) {
        let deadline = Instant::now() + within;
        let mut want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
        want.sort();
        loop {
            let got = self.nodes_of(node);
            if got == want {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{node}: nodes {got:?}, want {want:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl World {
    /// `nodus rpc NODE M F ARGS`: the printed result.
    pub fn rpc(&self, node: &str, m: &str, f: &str, args: &str) -> String {
        let out = self.run(&["rpc", node, m, f, args, "--cookie", "c"]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// `global:sync()` on each of `nodes` over rpc: once it returns,
    /// `global` is done with the connections they have (a disconnect
    /// during a sync can be undone by `global` itself, on BEAM as here).
    pub fn global_sync(&self, nodes: &[&str]) {
        for n in nodes {
            assert_eq!(
                self.rpc(n, "global", "sync", "[]"),
                "ok",
                "global:sync() on {n}"
            );
        }
    }

    /// A mixed cluster from one sys.config listing n1..n3: `erl` n1
    /// (running `eval` once booted, which should print `erl booted`
    /// first) and nodus n2 and n3, all booted.
    pub fn mixed_cluster(&self, eval: &str) -> (Proc, Proc, Proc) {
        let all = self.file(
            "sys.config",
            "[{kernel,\n[\n{sync_nodes_optional, ['n1@127.0.0.1', 'n2@127.0.0.1', 'n3@127.0.0.1']},\n{sync_nodes_timeout, 10000}\n]}\n].\n",
        );
        let mut erl = self.erl(&[
            "-name",
            "n1@127.0.0.1",
            "-setcookie",
            "c",
            "-config",
            &all.to_string_lossy(),
            "-eval",
            eval,
        ]);
        let mut n2 = self.start("n2@127.0.0.1", &all);
        let mut n3 = self.start("n3@127.0.0.1", &all);
        let boot = Duration::from_secs(60);
        erl.wait_line("erl booted", boot);
        n2.wait_line("booted", boot);
        n3.wait_line("booted", boot);
        (erl, n2, n3)
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// The seed's `sys.config` (examples/seed/sys.config).
pub fn seed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/seed/sys.config")
}

/// The `dist_app` example beside the `nodus` binary (built by `cargo
/// test`, or `cargo build --release -p nodus-cli --examples`).
pub fn dist_app_example() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_BIN_EXE_nodus"))
        .parent()
        .expect("target dir")
        .join("examples/dist_app");
    assert!(
        p.exists(),
        "{} is missing: cargo build --release -p nodus-cli --examples",
        p.display()
    );
    p
}
