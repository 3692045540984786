//! Parsing Erlang term text, as `erl_parse:parse_term/1` and
//! `file:consult/1` read it.

use bytes::Bytes;
use num_bigint::BigInt;
use num_traits::{One, Signed, ToPrimitive, Zero};

use super::lexer::{Lexer, Tok, Token, RESERVED};
use super::ParseError;
use crate::atom::Atom;
use crate::term::{ExternalFun, Map, Pid, Port, Reference, Term};

/// Default deepest nesting the parser accepts.
pub const MAX_DEPTH: usize = 1_000;

pub(crate) struct Parser<'a> {
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    depth: usize,
}

type R<T> = Result<T, ParseError>;

fn err<T>(t: &Token, msg: impl Into<String>) -> R<T> {
    Err(ParseError {
        line: t.line,
        column: t.column,
        message: msg.into(),
    })
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Atom(a) | Tok::QAtom(a) => format!("atom {a}"),
        Tok::Var(v) => format!("variable {v}"),
        Tok::Int(i) => format!("integer {i}"),
        Tok::Float(f) => format!("float {f}"),
        Tok::Char(_) => "character literal".into(),
        Tok::Str(_) => "string".into(),
        Tok::Opaque(k, _, _) => format!("#{k}<...>"),
        Tok::Punct(p) => format!("`{p}`"),
        Tok::Dot => "`.`".into(),
        Tok::Eof => "end of input".into(),
    }
}

impl<'a> Parser<'a> {
    pub fn new(src: &'a str) -> Parser<'a> {
        Parser {
            lexer: Lexer::new(src),
            peeked: None,
            depth: 0,
        }
    }

    fn next(&mut self) -> R<Token> {
        match self.peeked.take() {
            Some(t) => Ok(t),
            None => self.lexer.next_token(),
        }
    }

    fn peek(&mut self) -> R<&Token> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next_token()?);
        }
        match &self.peeked {
            Some(t) => Ok(t),
            None => unreachable!("peeked was just filled"),
        }
    }

    fn expect(&mut self, p: &'static str) -> R<Token> {
        let t = self.next()?;
        if t.kind == Tok::Punct(p) {
            Ok(t)
        } else {
            err(&t, format!("expected `{p}`, found {}", describe(&t.kind)))
        }
    }

    fn is_punct(&mut self, p: &'static str) -> R<bool> {
        Ok(self.peek()?.kind == Tok::Punct(p))
    }

    pub fn at_eof(&mut self) -> R<bool> {
        Ok(self.peek()?.kind == Tok::Eof)
    }

    /// A term followed by `.`.
    pub fn dotted_term(&mut self) -> R<Term> {
        let t = self.term()?;
        let d = self.next()?;
        if d.kind != Tok::Dot {
            return err(
                &d,
                format!("expected `.` after the term, found {}", describe(&d.kind)),
            );
        }
        Ok(t)
    }

    /// A term, optionally followed by `.`, then the end of input.
    pub fn only_term(&mut self) -> R<Term> {
        let t = self.term()?;
        let mut n = self.next()?;
        if n.kind == Tok::Dot {
            n = self.next()?;
        }
        if n.kind != Tok::Eof {
            return err(
                &n,
                format!("expected the end of the input, found {}", describe(&n.kind)),
            );
        }
        Ok(t)
    }

    pub fn term(&mut self) -> R<Term> {
        let t = self.next()?;
        match t.kind {
            Tok::Atom(ref a) if a == "fun" => self.external_fun(&t),
            Tok::Atom(ref a) if RESERVED.contains(&a.as_str()) => err(
                &t,
                format!("`{a}` is a reserved word: quote it ('{a}') to use it as an atom"),
            ),
            Tok::Atom(ref a) | Tok::QAtom(ref a) => atom(&t, a),
            Tok::Var(ref v) => err(
                &t,
                format!("variables are not allowed in terms (found {v})"),
            ),
            Tok::Int(i) => Ok(Term::integer(i)),
            Tok::Float(f) => Ok(Term::Float(f)),
            Tok::Char(c) => Ok(Term::Int(i64::from(c))),
            Tok::Str(s) => {
                let s = self.more_strings(s)?;
                Ok(Term::List(
                    s.into_iter().map(|c| Term::Int(i64::from(c))).collect(),
                ))
            }
            Tok::Opaque(ref kind, ref node, ref nums) => opaque(&t, kind, node, nums),
            Tok::Punct("-") | Tok::Punct("+") => {
                let neg = t.kind == Tok::Punct("-");
                let n = self.next()?;
                match n.kind {
                    Tok::Int(i) => Ok(Term::integer(if neg { -i } else { i })),
                    Tok::Float(f) => Ok(Term::Float(if neg { -f } else { f })),
                    Tok::Char(c) => Ok(Term::Int(if neg { -i64::from(c) } else { i64::from(c) })),
                    ref other => err(
                        &n,
                        format!(
                            "expected a number after the sign, found {}",
                            describe(other)
                        ),
                    ),
                }
            }
            Tok::Punct("{") => {
                self.enter(&t)?;
                let v = self.seq("}")?;
                self.depth -= 1;
                Ok(Term::tuple(v))
            }
            Tok::Punct("[") => {
                // `[]` is an atom-like constant, not a level of nesting.
                if self.is_punct("]")? {
                    self.next()?;
                    return Ok(Term::nil());
                }
                self.enter(&t)?;
                let l = self.list()?;
                self.depth -= 1;
                Ok(l)
            }
            Tok::Punct("#") => {
                self.expect("{")?;
                self.enter(&t)?;
                let m = self.map()?;
                self.depth -= 1;
                Ok(m)
            }
            Tok::Punct("<<") => {
                self.enter(&t)?;
                let b = self.binary()?;
                self.depth -= 1;
                Ok(b)
            }
            ref other => err(&t, format!("expected a term, found {}", describe(other))),
        }
    }

    fn enter(&mut self, t: &Token) -> R<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(t, format!("nesting deeper than the limit of {MAX_DEPTH}"));
        }
        Ok(())
    }

    /// Adjacent string literals are one string, as in Erlang.
    fn more_strings(&mut self, mut s: Vec<u32>) -> R<Vec<u32>> {
        while let Tok::Str(_) = self.peek()?.kind {
            if let Tok::Str(more) = self.next()?.kind {
                s.extend(more);
            }
        }
        Ok(s)
    }

    /// Comma-separated terms up to `close`.
    fn seq(&mut self, close: &'static str) -> R<Vec<Term>> {
        let mut v = Vec::new();
        if self.is_punct(close)? {
            self.next()?;
            return Ok(v);
        }
        loop {
            v.push(self.term()?);
            let t = self.next()?;
            match t.kind {
                Tok::Punct(",") => {}
                Tok::Punct(p) if p == close => return Ok(v),
                ref other => {
                    return err(
                        &t,
                        format!("expected `,` or `{close}`, found {}", describe(other)),
                    )
                }
            }
        }
    }

    fn list(&mut self) -> R<Term> {
        let mut v = Vec::new();
        if self.is_punct("]")? {
            self.next()?;
            return Ok(Term::list(v));
        }
        loop {
            v.push(self.term()?);
            let t = self.next()?;
            match t.kind {
                Tok::Punct(",") => {}
                Tok::Punct("]") => return Ok(Term::list(v)),
                Tok::Punct("|") => {
                    let tail = self.term()?;
                    self.expect("]")?;
                    return Ok(Term::improper_list(v, tail));
                }
                ref other => {
                    return err(
                        &t,
                        format!("expected `,`, `|` or `]`, found {}", describe(other)),
                    )
                }
            }
        }
    }

    fn map(&mut self) -> R<Term> {
        let mut pairs = Vec::new();
        if self.is_punct("}")? {
            self.next()?;
            return Ok(Term::Map(Map::new()));
        }
        loop {
            let k = self.term()?;
            let arrow = self.next()?;
            if arrow.kind != Tok::Punct("=>") {
                return err(
                    &arrow,
                    format!("expected `=>` in a map, found {}", describe(&arrow.kind)),
                );
            }
            let v = self.term()?;
            pairs.push((k, v));
            let t = self.next()?;
            match t.kind {
                Tok::Punct(",") => {}
                Tok::Punct("}") => return Ok(Term::Map(Map::from_pairs(pairs))),
                ref other => {
                    return err(
                        &t,
                        format!("expected `,` or `}}`, found {}", describe(other)),
                    )
                }
            }
        }
    }

    fn external_fun(&mut self, at: &Token) -> R<Term> {
        let m = self.next()?;
        let (Tok::Atom(module) | Tok::QAtom(module)) = m.kind else {
            return err(&m, "expected a module name after `fun`");
        };
        self.expect(":")?;
        let f = self.next()?;
        let (Tok::Atom(function) | Tok::QAtom(function)) = f.kind else {
            return err(&f, "expected a function name in `fun M:F/A`");
        };
        self.expect("/")?;
        let a = self.next()?;
        let arity = match &a.kind {
            Tok::Int(i) => i.to_u8(),
            _ => None,
        };
        let Some(arity) = arity else {
            return err(&a, "expected an arity from 0 to 255 in `fun M:F/A`");
        };
        let module = atom_of(at, &module)?;
        let function = atom_of(at, &function)?;
        Ok(Term::ExternalFun(Box::new(ExternalFun {
            module,
            function,
            arity,
        })))
    }

    fn binary(&mut self) -> R<Term> {
        let mut w = BitWriter::default();
        if self.is_punct(">>")? {
            self.next()?;
            return Ok(Term::Binary(Bytes::new()));
        }
        loop {
            self.bin_element(&mut w)?;
            let t = self.next()?;
            match t.kind {
                Tok::Punct(",") => {}
                Tok::Punct(">>") => break,
                ref other => {
                    return err(
                        &t,
                        format!("expected `,` or `>>`, found {}", describe(other)),
                    )
                }
            }
        }
        Ok(w.into_term())
    }

    fn bin_element(&mut self, w: &mut BitWriter) -> R<()> {
        let t = self.next()?;
        enum V {
            Int(BigInt),
            Float(f64),
            Str(Vec<u32>),
        }
        let value = match t.kind {
            Tok::Int(ref i) => V::Int(i.clone()),
            Tok::Char(c) => V::Int(BigInt::from(c)),
            Tok::Float(f) => V::Float(f),
            Tok::Str(ref s) => V::Str(self.more_strings(s.clone())?),
            Tok::Punct("-") => {
                let n = self.next()?;
                match n.kind {
                    Tok::Int(i) => V::Int(-i),
                    Tok::Char(c) => V::Int(-BigInt::from(c)),
                    Tok::Float(f) => V::Float(-f),
                    ref other => {
                        return err(
                            &n,
                            format!("expected a number after `-`, found {}", describe(other)),
                        )
                    }
                }
            }
            ref other => {
                return err(
                    &t,
                    format!("{} cannot be a binary segment here", describe(other)),
                )
            }
        };
        let mut size: Option<u64> = None;
        if self.is_punct(":")? {
            self.next()?;
            let s = self.next()?;
            match s.kind {
                Tok::Int(ref i) => match i.to_u64() {
                    Some(n) if n <= 1 << 32 => size = Some(n),
                    _ => return err(&s, "segment size too large"),
                },
                ref other => {
                    return err(
                        &s,
                        format!("segment size must be an integer, found {}", describe(other)),
                    )
                }
            }
        }
        let mut spec = Spec::default();
        if self.is_punct("/")? {
            self.next()?;
            loop {
                let s = self.next()?;
                let Tok::Atom(name) = s.kind.clone() else {
                    return err(&s, "expected a type specifier");
                };
                if name == "unit" {
                    self.expect(":")?;
                    let u = self.next()?;
                    match u.kind {
                        Tok::Int(ref i) if (1..=256).contains(&i.to_u32().unwrap_or(0)) => {
                            spec.unit = i.to_u32();
                        }
                        _ => return err(&u, "unit must be from 1 to 256"),
                    }
                } else if !spec.set(&name) {
                    return err(&s, format!("unknown type specifier {name}"));
                }
                if !self.is_punct("-")? {
                    break;
                }
                self.next()?;
            }
        }
        let r = match value {
            V::Int(i) => w.integer(&i, size, &spec),
            V::Float(f) => w.float(f, size, &spec),
            V::Str(chars) => chars
                .iter()
                .try_for_each(|&c| w.integer(&BigInt::from(c), size, &spec)),
        };
        match r {
            Ok(()) => Ok(()),
            Err(msg) => err(&t, msg),
        }
    }
}

fn atom_of(t: &Token, s: &str) -> R<Atom> {
    match Atom::try_new(s) {
        Ok(a) => Ok(a),
        Err(e) => err(t, e.to_string()),
    }
}

fn atom(t: &Token, s: &str) -> R<Term> {
    atom_of(t, s).map(Term::Atom)
}

fn opaque(t: &Token, kind: &str, node: &str, nums: &[u64]) -> R<Term> {
    let node = atom_of(t, node)?;
    let n32 = |i: usize| u32::try_from(nums[i]).ok();
    match (kind, nums.len()) {
        ("Pid", 3) => match (n32(0), n32(1), n32(2)) {
            (Some(id), Some(serial), Some(creation)) => Ok(Term::Pid(Pid {
                node,
                id,
                serial,
                creation,
            })),
            _ => err(t, "#Pid<...> numbers must fit in 32 bits"),
        },
        ("Port", 2) => match n32(1) {
            Some(creation) => Ok(Term::Port(Box::new(Port {
                node,
                id: nums[0],
                creation,
            }))),
            None => err(t, "#Port<...> creation must fit in 32 bits"),
        },
        ("Ref", 2..=6) => {
            let all: Option<Vec<u32>> = (0..nums.len()).map(n32).collect();
            match all {
                Some(v) => Ok(Term::Ref(std::sync::Arc::new(Reference {
                    node,
                    creation: v[0],
                    ids: v[1..].to_vec(),
                }))),
                None => err(t, "#Ref<...> numbers must fit in 32 bits"),
            }
        }
        _ => err(
            t,
            format!("#{kind}<...> has the wrong number of fields ({}); expected #Pid<Node.Id.Serial.Creation>, #Port<Node.Id.Creation> or #Ref<Node.Creation.Id...>", nums.len()),
        ),
    }
}

/// The type specifiers of one binary segment.
#[derive(Default)]
struct Spec {
    ty: Option<&'static str>,
    signed: bool,
    little: bool,
    unit: Option<u32>,
}

impl Spec {
    fn set(&mut self, name: &str) -> bool {
        match name {
            "integer" => self.ty = Some("integer"),
            "float" => self.ty = Some("float"),
            "binary" | "bytes" => self.ty = Some("binary"),
            "bitstring" | "bits" => self.ty = Some("bitstring"),
            "utf8" => self.ty = Some("utf8"),
            "utf16" => self.ty = Some("utf16"),
            "utf32" => self.ty = Some("utf32"),
            "signed" => self.signed = true,
            "unsigned" => self.signed = false,
            "big" => self.little = false,
            "little" | "native" => self.little = true,
            _ => return false,
        }
        true
    }
}

/// Builds a bitstring one segment at a time, most significant bit first.
#[derive(Default)]
struct BitWriter {
    bytes: Vec<u8>,
    bits: u64,
}

/// Largest integer segment in a binary of term text.
const MAX_INTEGER_SEGMENT_BITS: u64 = 1 << 16;

/// Largest binary that term text may build (1 MiB).
const MAX_TEXT_BINARY_BITS: u64 = 1024 * 1024 * 8;

impl BitWriter {
    fn push_bit(&mut self, bit: bool) {
        let off = (self.bits % 8) as u8;
        if off == 0 {
            self.bytes.push(0);
        }
        if bit {
            if let Some(last) = self.bytes.last_mut() {
                *last |= 0x80 >> off;
            }
        }
        self.bits += 1;
    }

    fn push_bytes(&mut self, data: &[u8]) {
        if self.bits.is_multiple_of(8) {
            self.bytes.extend_from_slice(data);
            self.bits += data.len() as u64 * 8;
        } else {
            for &b in data {
                for i in (0..8).rev() {
                    self.push_bit(b >> i & 1 == 1);
                }
            }
        }
    }

    fn room(&self, n: u64) -> Result<(), String> {
        if self.bits + n > MAX_TEXT_BINARY_BITS {
            return Err("binary too large for term text (1 MiB at most)".into());
        }
        Ok(())
    }

    fn integer(&mut self, v: &BigInt, size: Option<u64>, spec: &Spec) -> Result<(), String> {
        match spec.ty {
            Some("utf8") | Some("utf16") | Some("utf32") => {
                let c = v
                    .to_u32()
                    .and_then(char::from_u32)
                    .ok_or("not a Unicode character")?;
                let ty = spec.ty.unwrap_or("utf8");
                let mut buf = Vec::new();
                match ty {
                    "utf8" => buf.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                    "utf16" => {
                        for u in c.encode_utf16(&mut [0; 2]) {
                            buf.extend_from_slice(&if spec.little {
                                u.to_le_bytes()
                            } else {
                                u.to_be_bytes()
                            });
                        }
                    }
                    _ => buf.extend_from_slice(&if spec.little {
                        (c as u32).to_le_bytes()
                    } else {
                        (c as u32).to_be_bytes()
                    }),
                }
                self.room(buf.len() as u64 * 8)?;
                self.push_bytes(&buf);
                Ok(())
            }
            Some("float") => self.float(v.to_f64().unwrap_or(f64::INFINITY), size, spec),
            Some("binary") | Some("bitstring") => {
                Err("an integer cannot be a binary segment".into())
            }
            _ => {
                let n = size.unwrap_or(8) * u64::from(spec.unit.unwrap_or(1));
                if n > MAX_INTEGER_SEGMENT_BITS {
                    return Err(format!("integer segment of {n} bits (at most {MAX_INTEGER_SEGMENT_BITS} in term text)"));
                }
                self.room(n)?;
                if spec.little && !n.is_multiple_of(8) {
                    return Err(
                        "little-endian segments must be a whole number of bytes here".into(),
                    );
                }
                // Two's complement, modulo 2^n.
                let modulus = BigInt::one() << n;
                let mut x = v % &modulus;
                if x.is_negative() {
                    x += &modulus;
                }
                let (_, mut be) = x.to_bytes_be();
                if x.is_zero() {
                    be.clear();
                }
                let nbytes = n.div_ceil(8) as usize;
                let mut full = vec![0u8; nbytes.saturating_sub(be.len())];
                full.extend_from_slice(&be[be.len().saturating_sub(nbytes)..]);
                if spec.little {
                    full.reverse();
                    self.push_bytes(&full);
                } else {
                    let skip = nbytes as u64 * 8 - n;
                    for i in skip..nbytes as u64 * 8 {
                        let byte = full[(i / 8) as usize];
                        self.push_bit(byte >> (7 - i % 8) & 1 == 1);
                    }
                }
                let _ = spec.signed;
                Ok(())
            }
        }
    }

    fn float(&mut self, f: f64, size: Option<u64>, spec: &Spec) -> Result<(), String> {
        if matches!(spec.ty, Some(t) if t != "float") {
            return Err("a float can only be a float segment".into());
        }
        let n = size.unwrap_or(64) * u64::from(spec.unit.unwrap_or(1));
        let bytes: Vec<u8> = match n {
            64 => f.to_be_bytes().to_vec(),
            32 => {
                let g = f as f32;
                if g.is_infinite() && f.is_finite() {
                    return Err("float does not fit in 32 bits".into());
                }
                g.to_be_bytes().to_vec()
            }
            _ => return Err("float segments must be 32 or 64 bits".into()),
        };
        let mut bytes = bytes;
        if spec.little {
            bytes.reverse();
        }
        self.push_bytes(&bytes);
        Ok(())
    }

    fn into_term(self) -> Term {
        let bits = self.bits;
        Term::bitstring(&self.bytes, bits).unwrap_or_else(|| Term::Binary(Bytes::new()))
    }
}
