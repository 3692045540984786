//! Helpers shared by the interop tests: real `erl` processes with their own
//! EPMD port and HOME, stopped when dropped.

#![allow(dead_code)]

pub mod demo_app;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A child process, killed (and resumed first, if stopped) when dropped.
pub struct Proc(pub Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.id().to_string()])
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A TCP port free right now on 127.0.0.1.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A private directory (HOME, compiled modules) for one test.
pub fn home(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("nodus-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("home");
    d
}

/// Compiles `tests/erl/<module>.erl` files into `dir`.
pub fn compile(dir: &Path, modules: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/erl");
    for m in modules {
        let ok = Command::new("erlc")
            .arg("-o")
            .arg(dir)
            .arg(root.join(format!("{m}.erl")))
            .status()
            .expect("erlc on PATH (apt-get install erlang-nox)");
        assert!(ok.success(), "erlc {m}");
    }
}

/// Starts `erl -noshell ARGS` against EPMD on `epmd` with HOME `home` (and
/// `-pa home`), returning it and a channel of its stdout lines.
pub fn erl(epmd: u16, home: &Path, args: &[&str]) -> (Proc, mpsc::Receiver<String>) {
    erl_with(Path::new("erl"), epmd, home, args)
}

/// The `erl` of a newer OTP from Debian `suite` (`trixie`: OTP 27,
/// `forky`: OTP 29), fetched by `../shared/tools/get-otp.sh` into /tmp
/// (cached there after the first run).
pub fn newer_erl(suite: &str) -> PathBuf {
    let tool = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/get-otp.sh");
    let out = Command::new("sh")
        .arg(&tool)
        .arg(suite)
        .stderr(Stdio::inherit())
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", tool.display()));
    assert!(
        out.status.success(),
        "{} {suite} failed: the OTP of {suite} is needed for this interop test",
        tool.display()
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// As [`erl`], with the `erl` program at `bin`.
pub fn erl_with(
    bin: &Path,
    epmd: u16,
    home: &Path,
    args: &[&str],
) -> (Proc, mpsc::Receiver<String>) {
    let mut child = Command::new(bin)
        .arg("-noshell")
        .arg("-pa")
        .arg(home)
        .args(args)
        .env("ERL_EPMD_PORT", epmd.to_string())
        .env("HOME", home)
        .env("ERL_CRASH_DUMP_SECONDS", "0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("erl on PATH (apt-get install erlang-nox)");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Proc(child), rx)
}

/// The next line from `erl` that starts with `prefix` (others are skipped).
pub fn wait_line(rx: &mpsc::Receiver<String>, prefix: &str) -> String {
    loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(l) if l.starts_with(prefix) => return l,
            Ok(_) => {}
            Err(e) => panic!("erl never printed a line starting with {prefix:?}: {e}"),
        }
    }
}

/// Runs `elixir --name NAME --cookie COOKIE FILE` (the script written to
/// HOME) against EPMD on `epmd`, returning it and its stdout lines.
pub fn elixir(
    epmd: u16,
    home: &Path,
    name: &str,
    cookie: &str,
    script: &str,
) -> (Proc, mpsc::Receiver<String>) {
    let file = home.join(format!(
        "{}.exs",
        name.split('@').next().unwrap_or("script")
    ));
    // Evaluated, not compiled: OTP 25's compiler fails on some receive
    // patterns of a long script (`beam_ssa_recv: unsafe_edge`).
    let body = format!("Code.eval_string(~S\"\"\"\n{script}\n\"\"\")\n");
    std::fs::write(&file, body).expect("write script");
    let mut child = Command::new("elixir")
        .args(["--name", name, "--cookie", cookie])
        .arg(&file)
        .env("ERL_EPMD_PORT", epmd.to_string())
        .env("HOME", home)
        .env("ERL_CRASH_DUMP_SECONDS", "0")
        .stdout(Stdio::piped())
        .stderr(
            std::fs::File::create(file.with_extension("err"))
                .map_or_else(|_| Stdio::null(), Stdio::from),
        )
        .spawn()
        .expect("elixir on PATH (apt-get install elixir)");
    let out = child.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (Proc(child), rx)
}

/// Every line of `rx` until one equals `end`, as `key -> rest of line`.
pub fn collect_until(
    rx: &mpsc::Receiver<String>,
    end: &str,
) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    loop {
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(l) if l == end => return out,
            Ok(l) => {
                let (k, v) = l.split_once(' ').unwrap_or((l.as_str(), ""));
                out.insert(k.to_string(), v.to_string());
            }
            Err(e) => panic!("the script ended before {end:?} ({e}); got {out:?}"),
        }
    }
}
