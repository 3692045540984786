//! `nodus term encode|decode` as a user runs it, checked against real `erl`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn nodus(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_nodus"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nodus");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

fn erl_eval(expr: &str) -> Vec<u8> {
    let out = Command::new("erl")
        .args(["-noshell", "-eval", expr, "-s", "init", "stop"])
        .env("ERL_CRASH_DUMP_SECONDS", "0")
        .output()
        .expect("erl on PATH (apt-get install erlang-nox)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

const TERM: &str = "{ok, [1, 2.5, \"é\"], #{<<\"k\">> => 'Elixir.Foo', -7 => 123456789012345678901234567890}, <<1:3>>}.";

#[test]
fn encode_matches_term_to_binary_and_decode_prints_text() {
    let out = nodus(&["term", "encode"], TERM.as_bytes());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = std::env::temp_dir().join(format!("nodus-cli-term-{}.txt", std::process::id()));
    std::fs::write(&file, TERM).expect("write term file");
    let etf_file = file.with_extension("etf");
    erl_eval(&format!(
        "{{ok, [T]}} = file:consult(\"{}\"), ok = file:write_file(\"{}\", term_to_binary(T)).",
        file.display(),
        etf_file.display()
    ));
    let erl = std::fs::read(&etf_file).expect("erl wrote the encoding");
    let _ = std::fs::remove_file(&file);
    let _ = std::fs::remove_file(&etf_file);
    assert_eq!(out.stdout, erl);

    let dec = nodus(&["term", "decode"], &out.stdout);
    assert!(dec.status.success());
    let text = String::from_utf8(dec.stdout).expect("utf-8");
    assert!(text.ends_with(".\n"), "{text}");
    let again = nodus(&["term", "encode"], text.as_bytes());
    assert_eq!(again.stdout, out.stdout);
}

#[test]
fn compressed_output_is_read_by_erl() {
    let big = format!("{{{}}}.", vec!["hello"; 200].join(","));
    let out = nodus(&["term", "encode", "--compressed"], big.as_bytes());
    assert!(out.status.success());
    assert_eq!(&out.stdout[..2], &[131, 80]);
    let hex: String = out.stdout.iter().map(|b| format!("{b},")).collect();
    let erl = erl_eval(&format!(
        "T = binary_to_term(<<{}>>), io:format(\"~p\", [tuple_size(T) =:= 200 andalso lists:all(fun(X) -> X =:= hello end, tuple_to_list(T))]).",
        hex.trim_end_matches(',')
    ));
    assert_eq!(erl, b"true");
}

#[test]
fn bad_input_fails_with_a_message_on_stderr() {
    let out = nodus(&["term", "encode"], b"{ok, [1, 2}.");
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 1, column 11"), "{err}");

    let out = nodus(&["term", "decode"], &[131, 108, 255, 255, 255, 255, 106]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at byte"), "{err}");
}
