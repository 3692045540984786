//! Cross-checks of the term layer against real Erlang (`erl` on PATH).
//!
//! `erl` generates a corpus of random terms (tests/erl/nodus_corpus.erl);
//! nodus decodes and re-encodes each, byte for byte; parses `~p` text;
//! prints text that `erl_parse` reads back; sorts a sample; then `erl`
//! checks nodus's answers with `=:=`.
//!
//! Set `NODUS_CORPUS_SIZE` to change the number of random terms (default
//! 10,000).

use std::path::{Path, PathBuf};
use std::process::Command;

use nodus_term::etf::{self, EncodeOptions};
use nodus_term::{text, Term};

fn records(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut out = Vec::new();
    let mut rest = &data[..];
    while !rest.is_empty() {
        let n = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        out.push(rest[4..4 + n].to_vec());
        rest = &rest[4 + n..];
    }
    out
}

fn write_records(path: &Path, recs: &[Vec<u8>]) {
    let mut out = Vec::new();
    for r in recs {
        out.extend_from_slice(&(r.len() as u32).to_be_bytes());
        out.extend_from_slice(r);
    }
    std::fs::write(path, out).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e} (is Erlang installed? apt-get install erlang-nox)")
    });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

fn show(bytes: &[u8]) -> String {
    let n = bytes.len().min(60);
    format!(
        "{:?}{}",
        &bytes[..n],
        if bytes.len() > n { "..." } else { "" }
    )
}

#[test]
fn corpus_round_trips_with_real_erlang() {
    let size: usize = std::env::var("NODUS_CORPUS_SIZE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let dir = std::env::temp_dir().join(format!("nodus-xcheck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let src = repo_root().join("tests/erl/nodus_corpus.erl");
    run(Command::new("erlc").arg("-o").arg(&dir).arg(&src));
    let erl = |args: &[&str]| {
        let mut c = Command::new("erl");
        c.args(["-noshell", "-pa"])
            .arg(&dir)
            .args(["-run", "nodus_corpus", "main"]);
        c.args(args);
        c
    };
    let d = dir.to_str().expect("utf-8 temp path");
    let seed = std::env::var("NODUS_CORPUS_SEED").unwrap_or_else(|_| "1".into());
    print!("{}", run(&mut erl(&["gen", d, &seed, &size.to_string()])));

    // 1. Decode every term_to_binary/1 output and re-encode it.
    let mut terms = Vec::new();
    let mut mismatches = Vec::new();
    let mut identical = 0;
    let mut nodus_etf = Vec::new();
    let mut nodus_compressed = Vec::new();
    for (i, rec) in records(&dir.join("etf.bin")).iter().enumerate() {
        let (flags, bin) = (rec[0], &rec[1..]);
        let t = etf::decode(bin).unwrap_or_else(|e| panic!("term #{}: {e}", i + 1));
        let again = etf::encode(&t).expect("encode");
        if flags & 1 == 1 {
            identical += 1;
            if again != bin {
                mismatches.push(format!(
                    "#{}: {}\n  erl   {}\n  nodus {}",
                    i + 1,
                    text::to_text(&t).chars().take(200).collect::<String>(),
                    show(bin),
                    show(&again)
                ));
            }
        }
        let compressed = etf::encode_with(
            &t,
            EncodeOptions {
                compressed: Some(6),
                ..Default::default()
            },
        )
        .expect("encode");
        assert_eq!(etf::decode(&compressed).expect("decode own compressed"), t);
        nodus_etf.push(again);
        nodus_compressed.push(compressed);
        terms.push(t);
    }
    assert!(
        mismatches.is_empty(),
        "{} of {identical} re-encodings differ from erl's:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(terms.len() > size, "corpus has {} terms", terms.len());
    write_records(&dir.join("nodus_etf.bin"), &nodus_etf);
    write_records(&dir.join("nodus_compressed.bin"), &nodus_compressed);

    // 2. erl's compressed encodings decode to the same terms.
    let comp = records(&dir.join("compressed.bin"));
    assert_eq!(comp.len(), terms.len());
    for (i, (c, t)) in comp.iter().zip(&terms).enumerate() {
        let d = etf::decode(c).unwrap_or_else(|e| panic!("compressed term #{}: {e}", i + 1));
        assert!(d == *t, "compressed term #{} decodes differently", i + 1);
    }

    // 3. Text: erl's ~p parsed by nodus encodes to term_to_binary(T);
    //    nodus's text goes back to erl.
    let text_recs = records(&dir.join("text.bin"));
    let mut nodus_text = Vec::new();
    let mut text_bad = Vec::new();
    for (i, pair) in text_recs.chunks(2).enumerate() {
        let src = std::str::from_utf8(&pair[0]).expect("erl text is UTF-8");
        let parsed = text::parse_term(src).unwrap_or_else(|e| {
            panic!(
                "text #{}: {e}\n{}",
                i + 1,
                src.chars().take(300).collect::<String>()
            )
        });
        let orig = etf::decode(&pair[1]).expect("decode");
        let enc = etf::encode(&parsed).expect("encode");
        let has_big_map = pair[1] != etf::encode(&orig).expect("encode");
        if (!has_big_map && enc != pair[1]) || parsed != orig {
            text_bad.push(format!(
                "#{}: {}\n  -> {}",
                i + 1,
                src.chars().take(200).collect::<String>(),
                text::to_text(&parsed).chars().take(200).collect::<String>()
            ));
        }
        nodus_text.push(format!("{}.", text::to_text(&orig)).into_bytes());
    }
    assert!(
        text_bad.is_empty(),
        "{} texts parse wrong:\n{}",
        text_bad.len(),
        text_bad
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        nodus_text.len() > size / 3,
        "only {} text terms",
        nodus_text.len()
    );
    write_records(&dir.join("nodus_text.bin"), &nodus_text);

    // 4. Term order.
    let mut sample: Vec<Term> = records(&dir.join("sort.bin"))
        .iter()
        .map(|b| etf::decode(b).expect("decode"))
        .collect();
    assert_eq!(sample.len(), 1000);
    sample.sort();
    write_records(
        &dir.join("nodus_sorted.bin"),
        &sample
            .iter()
            .map(|t| etf::encode(t).expect("encode"))
            .collect::<Vec<_>>(),
    );

    // 5. erl checks nodus's encodings, text and order.
    let report = run(&mut erl(&["check", d]));
    print!("{report}");
    assert_eq!(
        report.matches("\nok ").count() + usize::from(report.starts_with("ok ")),
        4,
        "{report}"
    );
    if std::env::var_os("NODUS_KEEP_CORPUS").is_none() {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
