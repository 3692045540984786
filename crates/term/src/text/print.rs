//! Printing terms as Erlang text, like `io_lib:format("~p", [T])` without
//! line breaks: deterministic, and read back by `erl_parse:parse_term/1` to
//! an `=:=` term for every term that has a source syntax.
//!
//! Pids, ports and references have none in Erlang; nodus prints them as
//! `#Pid<'node'.Id.Serial.Creation>`, `#Port<'node'.Id.Creation>` and
//! `#Ref<'node'.Creation.Id1.Id2...>`, which nodus reads back. Local funs
//! print as `erl` shows them (`#Fun<Module.OldIndex.OldUniq>`) and cannot
//! be read back.

use std::fmt::Write;

use super::lexer::{is_atom_char, RESERVED};
use crate::term::Term;

/// Appends `term` as Erlang text to `out`.
pub fn write_term(out: &mut String, term: &Term) {
    match term {
        Term::Atom(a) => write_atom(out, a.as_str()),
        Term::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Term::BigInt(n) => {
            let _ = write!(out, "{n}");
        }
        Term::Float(f) => write_float(out, *f),
        Term::Binary(b) => write_binary(out, b, None),
        Term::BitString(bs) => write_binary(out, &bs.data, Some(bs.bits)),
        Term::List(l) => {
            if is_printable_string(l) {
                out.push('"');
                for e in l {
                    if let Term::Int(c) = e {
                        push_char(out, *c as u32, '"');
                    }
                }
                out.push('"');
            } else {
                write_list(out, l, None);
            }
        }
        Term::ImproperList(il) => write_list(out, &il.elements, Some(&il.tail)),
        Term::Tuple(v) => {
            out.push('{');
            write_seq(out, v);
            out.push('}');
        }
        Term::Map(m) => {
            out.push_str("#{");
            for (i, (k, v)) in m.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_term(out, k);
                out.push_str(" => ");
                write_term(out, v);
            }
            out.push('}');
        }
        Term::Pid(p) => write_pid(out, p),
        Term::Port(p) => {
            out.push_str("#Port<");
            write_quoted_atom(out, p.node.as_str());
            let _ = write!(out, ".{}.{}>", p.id, p.creation);
        }
        Term::Ref(r) => {
            out.push_str("#Ref<");
            write_quoted_atom(out, r.node.as_str());
            let _ = write!(out, ".{}", r.creation);
            for id in &r.ids {
                let _ = write!(out, ".{id}");
            }
            out.push('>');
        }
        Term::ExternalFun(f) => {
            out.push_str("fun ");
            write_atom(out, f.module.as_str());
            out.push(':');
            write_atom(out, f.function.as_str());
            let _ = write!(out, "/{}", f.arity);
        }
        Term::LocalFun(f) => {
            out.push_str("#Fun<");
            out.push_str(f.module.as_str());
            out.push('.');
            write_term(out, &f.old_index);
            out.push('.');
            write_term(out, &f.old_uniq);
            out.push('>');
        }
    }
}

fn write_seq(out: &mut String, v: &[Term]) {
    for (i, e) in v.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_term(out, e);
    }
}

fn write_list(out: &mut String, l: &[Term], tail: Option<&Term>) {
    out.push('[');
    write_seq(out, l);
    if let Some(t) = tail {
        out.push('|');
        write_term(out, t);
    }
    out.push(']');
}

/// Characters that `io_lib:printable_latin1_list/1` accepts.
fn is_printable_latin1(c: u32) -> bool {
    matches!(c, 32..=126 | 160..=255 | 8..=13 | 27)
}

fn is_printable_string(l: &[Term]) -> bool {
    !l.is_empty()
        && l.iter()
            .all(|e| matches!(e, Term::Int(c) if is_printable_latin1(*c as u32)))
}

/// Writes one character inside quotes `q`, escaped where needed.
fn push_char(out: &mut String, c: u32, q: char) {
    match c {
        8 => out.push_str("\\b"),
        9 => out.push_str("\\t"),
        10 => out.push_str("\\n"),
        11 => out.push_str("\\v"),
        12 => out.push_str("\\f"),
        13 => out.push_str("\\r"),
        27 => out.push_str("\\e"),
        92 => out.push_str("\\\\"),
        _ if c == q as u32 => {
            out.push('\\');
            out.push(q);
        }
        32..=126 | 160..=255 => out.push(char::from_u32(c).unwrap_or('?')),
        _ => match char::from_u32(c) {
            Some(ch) if c > 255 && !ch.is_control() && !ch.is_whitespace() => out.push(ch),
            _ => {
                let _ = write!(out, "\\x{{{c:X}}}");
            }
        },
    }
}

fn write_binary(out: &mut String, data: &[u8], bits: Option<u8>) {
    out.push_str("<<");
    let whole = match bits {
        Some(_) => &data[..data.len().saturating_sub(1)],
        None => data,
    };
    let text = !whole.is_empty() && whole.iter().all(|&b| is_printable_latin1(u32::from(b)));
    let utf8 = match (bits, std::str::from_utf8(whole)) {
        (None, Ok(s)) if !s.is_ascii() => s
            .chars()
            .all(|c| is_printable_latin1(c as u32) || (c as u32 > 255 && !c.is_control())),
        _ => false,
    };
    if utf8 {
        out.push('"');
        for c in std::str::from_utf8(whole).unwrap_or_default().chars() {
            push_char(out, c as u32, '"');
        }
        out.push_str("\"/utf8");
    } else if text {
        out.push('"');
        for &b in whole {
            push_char(out, u32::from(b), '"');
        }
        out.push('"');
    } else {
        for (i, b) in whole.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{b}");
        }
    }
    if let (Some(n), Some(last)) = (bits, data.last()) {
        if !whole.is_empty() {
            out.push(',');
        }
        let _ = write!(out, "{}:{n}", last >> (8 - n));
    }
    out.push_str(">>");
}

/// Writes a float in the shortest form that reads back exactly, in Erlang
/// syntax (`1.0`, `1.5e-7`, `1.0e100`).
pub fn write_float(out: &mut String, f: f64) {
    let s = format!("{f:?}");
    match s.split_once('e') {
        Some((mant, exp)) => {
            out.push_str(mant);
            if !mant.contains('.') {
                out.push_str(".0");
            }
            out.push('e');
            out.push_str(exp);
        }
        None => {
            out.push_str(&s);
            if !s.contains('.') {
                out.push_str(".0");
            }
        }
    }
}

fn needs_quotes(s: &str) -> bool {
    let mut cs = s.chars();
    match cs.next() {
        Some(c) if c.is_ascii_lowercase() => {}
        _ => return true,
    }
    !s.chars().all(|c| c.is_ascii() && is_atom_char(c)) || RESERVED.contains(&s)
}

/// Writes an atom, quoted when Erlang needs quotes.
pub fn write_atom(out: &mut String, s: &str) {
    if needs_quotes(s) {
        write_quoted_atom(out, s);
    } else {
        out.push_str(s);
    }
}

fn write_quoted_atom(out: &mut String, s: &str) {
    out.push('\'');
    for c in s.chars() {
        push_char(out, c as u32, '\'');
    }
    out.push('\'');
}

fn write_pid(out: &mut String, p: &crate::Pid) {
    out.push_str("#Pid<");
    write_quoted_atom(out, p.node.as_str());
    let _ = write!(out, ".{}.{}.{}>", p.id, p.serial, p.creation);
}

impl std::fmt::Display for crate::Pid {
    /// `#Pid<'node'.Id.Serial.Creation>`, as a pid term prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        write_pid(&mut s, self);
        f.write_str(&s)
    }
}
