//! Tokens of Erlang term text, as `erl_scan` reads them.

use num_bigint::BigInt;
use num_traits::Num;

use super::ParseError;

/// A token and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: Tok,
    pub line: u32,
    pub column: u32,
}

/// The kinds of token a term can hold.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Atom(String),
    /// A quoted atom: never a reserved word.
    QAtom(String),
    Var(String),
    Int(BigInt),
    Float(f64),
    /// A `$c` character literal.
    Char(u32),
    /// A string literal's characters.
    Str(Vec<u32>),
    /// nodus's own `#Pid<'node'.Id.Serial.Creation>` and friends: the kind
    /// ("Pid", "Port", "Ref"), the node, and the numbers.
    Opaque(String, String, Vec<u64>),
    Punct(&'static str),
    /// The `.` that ends a term.
    Dot,
    Eof,
}

/// Reserved words of Erlang: not atoms unless quoted.
pub(crate) const RESERVED: &[&str] = &[
    "after", "and", "andalso", "band", "begin", "bnot", "bor", "bsl", "bsr", "bxor", "case",
    "catch", "cond", "div", "end", "fun", "if", "let", "not", "of", "or", "orelse", "receive",
    "rem", "try", "when", "xor", "maybe", "else",
];

pub(crate) struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: u32,
    column: u32,
}

/// Characters that may start an unquoted atom: lowercase ASCII and the
/// lowercase Latin-1 letters, as in `erl_scan`.
pub(crate) fn is_atom_start(c: char) -> bool {
    c.is_ascii_lowercase() || (('\u{df}'..='\u{ff}').contains(&c) && c != '\u{f7}')
}

/// Characters that may follow in an unquoted atom.
pub(crate) fn is_atom_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || c == '_'
        || c == '@'
        || (('\u{c0}'..='\u{ff}').contains(&c) && c != '\u{d7}' && c != '\u{f7}')
}

impl<'a> Lexer<'a> {
    pub fn new(src: &'a str) -> Lexer<'a> {
        Lexer {
            chars: src.chars().peekable(),
            line: 1,
            column: 1,
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn peek(&mut self) -> Option<char> {
        self.chars.peek().copied()
    }

    fn peek2(&self) -> Option<char> {
        let mut it = self.chars.clone();
        it.next();
        it.next()
    }

    fn error(&self, line: u32, column: u32, msg: impl Into<String>) -> ParseError {
        ParseError {
            line,
            column,
            message: msg.into(),
        }
    }

    fn skip_blank(&mut self) {
        while let Some(c) = self.peek() {
            if c.is_whitespace() {
                self.bump();
            } else if c == '%' {
                while let Some(c) = self.peek() {
                    if c == '\n' {
                        break;
                    }
                    self.bump();
                }
            } else {
                break;
            }
        }
    }

    /// The next token.
    pub fn next_token(&mut self) -> Result<Token, ParseError> {
        self.skip_blank();
        let (line, column) = (self.line, self.column);
        let tok = |kind| Ok(Token { kind, line, column });
        let Some(c) = self.peek() else {
            return tok(Tok::Eof);
        };
        if c.is_ascii_digit() {
            let kind = self.number(line, column)?;
            return tok(kind);
        }
        if is_atom_start(c) {
            let mut s = String::new();
            while let Some(c) = self.peek().filter(|&c| is_atom_char(c)) {
                s.push(c);
                self.bump();
            }
            return tok(Tok::Atom(s));
        }
        if c.is_uppercase() || c == '_' {
            let mut s = String::new();
            while let Some(c) = self
                .peek()
                .filter(|&c| c.is_alphanumeric() || c == '_' || c == '@')
            {
                s.push(c);
                self.bump();
            }
            return tok(Tok::Var(s));
        }
        self.bump();
        match c {
            '\'' => {
                let chars = self.quoted('\'', line, column)?;
                let s: Option<String> = chars.into_iter().map(char::from_u32).collect();
                match s {
                    Some(s) => tok(Tok::QAtom(s)),
                    None => Err(self.error(line, column, "atom holds an invalid character")),
                }
            }
            '"' => {
                let chars = self.quoted('"', line, column)?;
                tok(Tok::Str(chars))
            }
            '$' => {
                let Some(c) = self.bump() else {
                    return Err(self.error(line, column, "`$` at the end of the input"));
                };
                let v = if c == '\\' {
                    self.escape(line, column)?
                } else {
                    c as u32
                };
                tok(Tok::Char(v))
            }
            '.' => match self.peek() {
                None => tok(Tok::Dot),
                Some(n) if n.is_whitespace() || n == '%' => tok(Tok::Dot),
                _ => Err(self.error(line, column, "unexpected `.`")),
            },
            '<' if self.peek() == Some('<') => {
                self.bump();
                tok(Tok::Punct("<<"))
            }
            '>' if self.peek() == Some('>') => {
                self.bump();
                tok(Tok::Punct(">>"))
            }
            '=' if self.peek() == Some('>') => {
                self.bump();
                tok(Tok::Punct("=>"))
            }
            ':' if self.peek() == Some('=') => {
                self.bump();
                tok(Tok::Punct(":="))
            }
            '#' if self.peek().is_some_and(|c| c.is_ascii_uppercase()) => {
                let kind = self.opaque(line, column)?;
                tok(kind)
            }
            '{' => tok(Tok::Punct("{")),
            '}' => tok(Tok::Punct("}")),
            '[' => tok(Tok::Punct("[")),
            ']' => tok(Tok::Punct("]")),
            '(' => tok(Tok::Punct("(")),
            ')' => tok(Tok::Punct(")")),
            ',' => tok(Tok::Punct(",")),
            '|' => tok(Tok::Punct("|")),
            '#' => tok(Tok::Punct("#")),
            ':' => tok(Tok::Punct(":")),
            '/' => tok(Tok::Punct("/")),
            '-' => tok(Tok::Punct("-")),
            '+' => tok(Tok::Punct("+")),
            '*' => tok(Tok::Punct("*")),
            other => Err(self.error(line, column, format!("unexpected character {other:?}"))),
        }
    }

    /// Digits with `_` between them, in `radix`.
    fn digits(&mut self, radix: u32, line: u32, column: u32) -> Result<String, ParseError> {
        let mut s = String::new();
        let mut last_underscore = false;
        while let Some(c) = self.peek() {
            if c.is_digit(radix) {
                s.push(c);
                last_underscore = false;
            } else if c == '_'
                && !s.is_empty()
                && !last_underscore
                && self.peek2().is_some_and(|d| d.is_digit(radix))
            {
                last_underscore = true;
            } else {
                break;
            }
            self.bump();
        }
        if s.is_empty() {
            return Err(self.error(line, column, format!("expected digits in base {radix}")));
        }
        Ok(s)
    }

    fn number(&mut self, line: u32, column: u32) -> Result<Tok, ParseError> {
        let int = self.digits(10, line, column)?;
        if self.peek() == Some('#') {
            let base: u32 = int.parse().unwrap_or(0);
            if !(2..=36).contains(&base) {
                return Err(self.error(
                    line,
                    column,
                    format!("base {int} is not between 2 and 36"),
                ));
            }
            self.bump();
            let d = self.digits(base, line, column)?;
            return BigInt::from_str_radix(&d, base)
                .map(Tok::Int)
                .map_err(|e| self.error(line, column, e.to_string()));
        }
        if self.peek() == Some('.') && self.peek2().is_some_and(|c| c.is_ascii_digit()) {
            self.bump();
            let frac = self.digits(10, line, column)?;
            let mut text = format!("{int}.{frac}");
            if matches!(self.peek(), Some('e' | 'E')) {
                let mut exp = String::from("e");
                let mut it = self.chars.clone();
                it.next();
                let mut sign = None;
                let mut nx = it.next();
                if matches!(nx, Some('+' | '-')) {
                    sign = nx;
                    nx = it.next();
                }
                if nx.is_some_and(|c| c.is_ascii_digit()) {
                    self.bump();
                    if let Some(s) = sign {
                        exp.push(s);
                        self.bump();
                    }
                    exp.push_str(&self.digits(10, line, column)?);
                    text.push_str(&exp);
                }
            }
            return match text.parse::<f64>() {
                Ok(f) if f.is_finite() => Ok(Tok::Float(f)),
                _ => Err(self.error(line, column, format!("float {text} is out of range"))),
            };
        }
        BigInt::from_str_radix(&int, 10)
            .map(Tok::Int)
            .map_err(|e| self.error(line, column, e.to_string()))
    }

    fn quoted(&mut self, q: char, line: u32, column: u32) -> Result<Vec<u32>, ParseError> {
        let mut out = Vec::new();
        loop {
            match self.bump() {
                None => {
                    let what = if q == '"' { "string" } else { "quoted atom" };
                    return Err(self.error(line, column, format!("unterminated {what}")));
                }
                Some(c) if c == q => return Ok(out),
                Some('\\') => out.push(self.escape(line, column)?),
                Some(c) => out.push(c as u32),
            }
        }
    }

    /// The character after a backslash.
    fn escape(&mut self, line: u32, column: u32) -> Result<u32, ParseError> {
        let (el, ec) = (self.line, self.column);
        let Some(c) = self.bump() else {
            return Err(self.error(line, column, "escape at the end of the input"));
        };
        Ok(match c {
            'b' => 8,
            'd' => 127,
            'e' => 27,
            'f' => 12,
            'n' => 10,
            'r' => 13,
            's' => 32,
            't' => 9,
            'v' => 11,
            '0'..='7' => {
                let mut v = c as u32 - '0' as u32;
                for _ in 0..2 {
                    match self.peek() {
                        Some(d @ '0'..='7') => {
                            v = v * 8 + (d as u32 - '0' as u32);
                            self.bump();
                        }
                        _ => break,
                    }
                }
                v
            }
            'x' => {
                if self.peek() == Some('{') {
                    self.bump();
                    let mut s = String::new();
                    while let Some(d) = self.peek().filter(|d| d.is_ascii_hexdigit()) {
                        s.push(d);
                        self.bump();
                    }
                    if self.bump() != Some('}') || s.is_empty() || s.len() > 8 {
                        return Err(self.error(el, ec, "bad \\x{...} escape"));
                    }
                    let v = u32::from_str_radix(&s, 16).unwrap_or(u32::MAX);
                    if char::from_u32(v).is_none() {
                        return Err(self.error(el, ec, format!("\\x{{{s}}} is not a character")));
                    }
                    v
                } else {
                    let mut v = 0;
                    for _ in 0..2 {
                        match self.bump().and_then(|d| d.to_digit(16)) {
                            Some(d) => v = v * 16 + d,
                            None => {
                                return Err(self.error(
                                    el,
                                    ec,
                                    "bad \\x escape: two hex digits expected",
                                ))
                            }
                        }
                    }
                    v
                }
            }
            '^' => match self.bump() {
                Some(c) if c.is_ascii() => (c as u32) & 31,
                _ => return Err(self.error(el, ec, "bad \\^ escape")),
            },
            other => other as u32,
        })
    }

    /// `#Pid<'node'.1.2.3>`, `#Port<'node'.1.2>`, `#Ref<'node'.1.2.3.4>`.
    fn opaque(&mut self, line: u32, column: u32) -> Result<Tok, ParseError> {
        let mut kind = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_ascii_alphabetic()) {
            kind.push(c);
            self.bump();
        }
        if !matches!(kind.as_str(), "Pid" | "Port" | "Ref") || self.bump() != Some('<') {
            return Err(self.error(line, column, format!("`#{kind}` is not a term")));
        }
        let node = match self.bump() {
            Some('\'') => {
                let chars = self.quoted('\'', line, column)?;
                chars.into_iter().filter_map(char::from_u32).collect()
            }
            Some(c) if is_atom_start(c) => {
                let mut s = String::from(c);
                while let Some(c) = self.peek().filter(|&c| is_atom_char(c)) {
                    s.push(c);
                    self.bump();
                }
                s
            }
            _ => {
                return Err(self.error(
                    line,
                    column,
                    format!("#{kind}<...> must start with a node name"),
                ))
            }
        };
        let mut nums = Vec::new();
        loop {
            match self.bump() {
                Some('.') => {
                    let d = self.digits(10, line, column)?;
                    let n = d.parse::<u64>().map_err(|_| {
                        self.error(line, column, format!("{d} is too large in #{kind}<...>"))
                    })?;
                    nums.push(n);
                }
                Some('>') => break,
                _ => return Err(self.error(line, column, format!("malformed #{kind}<...>"))),
            }
        }
        Ok(Tok::Opaque(kind, node, nums))
    }
}
