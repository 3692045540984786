//! Erlang term text: the syntax of `sys.config` and of `file:consult/1`.

mod lexer;
mod parse;
pub(crate) mod print;

use std::fmt;

use crate::term::Term;

pub use parse::MAX_DEPTH;
pub use print::{write_atom, write_float, write_term};

/// A syntax error in term text, with its 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, in characters.
    pub column: u32,
    /// What is wrong.
    pub message: String,
}

/// Parses exactly one term; a final `.` is optional.
///
/// ```
/// use nodus_term::{text, Term};
/// let t = text::parse_term("{ok, [1, 2 | tail], #{<<\"k\">> => 16#FF}}.").unwrap();
/// assert_eq!(text::to_text(&t), "{ok,[1,2|tail],#{<<\"k\">> => 255}}");
/// ```
pub fn parse_term(src: &str) -> Result<Term, ParseError> {
    parse::Parser::new(src).only_term()
}

/// Parses every term of a file in `file:consult/1` syntax: terms, each
/// followed by `.`.
pub fn parse_terms(src: &str) -> Result<Vec<Term>, ParseError> {
    let mut p = parse::Parser::new(src);
    let mut out = Vec::new();
    while !p.at_eof()? {
        out.push(p.dotted_term()?);
    }
    Ok(out)
}

/// The term as Erlang text, on one line.
pub fn to_text(term: &Term) -> String {
    let mut s = String::new();
    write_term(&mut s, term);
    s
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&to_text(self))
    }
}
