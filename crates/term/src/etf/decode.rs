//! Decoding the External Term Format (`binary_to_term/1`).
//!
//! Answers to `dec_term` in ERTS (`external.c`). Every length field is
//! checked against the input that remains before anything is allocated, so
//! the memory a decode takes is bounded by a small multiple of its input.

use std::io::Read;

use bytes::Bytes;
use num_bigint::{BigInt, Sign};

use super::error::{DecodeError, DecodeErrorKind as K};
use super::limits::Limits;
use super::tags;
use crate::atom::{Atom, AtomError, MAX_ATOM_CHARS};
use crate::term::{BitString, ExternalFun, LocalFun, Map, Pid, Port, Reference, Term};

/// Decodes one term that starts with the version byte 131 and fills the
/// whole input, with the default [`Limits`]. Accepts compressed terms.
pub fn decode(input: &[u8]) -> Result<Term, DecodeError> {
    Decoder::new(input).decode_full()
}

/// Like [`decode`], but binaries in the result share `input`'s memory
/// instead of copying it.
pub fn decode_bytes(input: &Bytes) -> Result<Term, DecodeError> {
    Decoder::new(input).with_source(input).decode_full()
}

/// A configurable decoder over one input buffer.
///
/// ```
/// use nodus_term::etf::{Decoder, Limits};
/// let bytes = [131, 100, 0, 2, b'o', b'k'];
/// let term = Decoder::new(&bytes)
///     .with_limits(Limits { max_depth: 10, ..Limits::DEFAULT })
///     .decode_full()
///     .unwrap();
/// assert!(term.is_atom("ok"));
/// ```
pub struct Decoder<'a> {
    buf: &'a [u8],
    pos: usize,
    limits: Limits,
    depth: usize,
    source: Option<Bytes>,
    atom_cache: Option<&'a [Option<Atom>]>,
    /// Added to offsets in errors (for terms inside a larger frame).
    base: usize,
}

type R<T> = Result<T, DecodeError>;

impl<'a> Decoder<'a> {
    /// A decoder over `buf` with the default limits.
    pub fn new(buf: &'a [u8]) -> Decoder<'a> {
        Decoder {
            buf,
            pos: 0,
            limits: Limits::DEFAULT,
            depth: 0,
            source: None,
            atom_cache: None,
            base: 0,
        }
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Lets binaries share memory with `source`, which must hold the same
    /// bytes as the decoder's buffer.
    pub fn with_source(mut self, source: &Bytes) -> Self {
        if source.as_ref() == self.buf {
            self.source = Some(source.clone());
        }
        self
    }

    /// Resolves `ATOM_CACHE_REF` through the atoms that a distribution
    /// header listed (index = the reference's byte).
    pub fn with_atom_cache(mut self, cache: &'a [Option<Atom>]) -> Self {
        self.atom_cache = Some(cache);
        self
    }

    /// Reports error offsets as `base + offset` (the buffer's position in a
    /// larger frame).
    pub fn with_base_offset(mut self, base: usize) -> Self {
        self.base = base;
        self
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Decodes `131`, one term, and checks that nothing follows.
    pub fn decode_full(mut self) -> R<Term> {
        let t = self.decode_versioned()?;
        if self.pos != self.buf.len() {
            return Err(self.err(K::TrailingBytes(self.buf.len() - self.pos)));
        }
        Ok(t)
    }

    /// Decodes `131` and one term (which may be compressed), leaving the
    /// position after it.
    pub fn decode_versioned(&mut self) -> R<Term> {
        if self.buf.len() > self.limits.max_size {
            return Err(self.err(K::TooLarge {
                size: self.buf.len() as u64,
                limit: self.limits.max_size,
            }));
        }
        let v = self.u8()?;
        if v != tags::VERSION {
            self.pos -= 1;
            return Err(self.err(K::BadVersion(v)));
        }
        if self.peek()? == tags::COMPRESSED {
            self.pos += 1;
            return self.decode_compressed();
        }
        self.decode_term()
    }

    /// Decodes one term with no version byte before it (as inside a
    /// distribution header).
    pub fn decode_term(&mut self) -> R<Term> {
        let start = self.pos;
        let tag = self.u8()?;
        match tag {
            tags::SMALL_INTEGER => Ok(Term::Int(i64::from(self.u8()?))),
            tags::INTEGER => Ok(Term::Int(i64::from(self.u32()? as i32))),
            tags::ATOM | tags::SMALL_ATOM | tags::ATOM_UTF8 | tags::SMALL_ATOM_UTF8 => {
                self.pos = start;
                Ok(Term::Atom(self.atom()?))
            }
            tags::ATOM_CACHE_REF => {
                self.pos = start;
                Ok(Term::Atom(self.atom()?))
            }
            tags::NIL => Ok(Term::list(Vec::new())),
            tags::STRING => {
                let n = usize::from(self.u16()?);
                let s = self.take(n)?;
                Ok(Term::List(
                    s.iter().map(|&b| Term::Int(i64::from(b))).collect(),
                ))
            }
            tags::LIST => self.list(),
            tags::SMALL_TUPLE => {
                let n = usize::from(self.u8()?);
                self.tuple(n)
            }
            tags::LARGE_TUPLE => {
                let n = self.u32()? as usize;
                self.tuple(n)
            }
            tags::MAP => self.map(start),
            tags::BINARY => {
                let n = self.u32()? as usize;
                Ok(Term::Binary(self.bytes(n)?))
            }
            tags::BIT_BINARY => self.bit_binary(),
            tags::NEW_FLOAT => {
                let f = f64::from_bits(self.u64()?);
                if !f.is_finite() {
                    self.pos = start;
                    return Err(self.err(K::BadFloat));
                }
                Ok(Term::Float(f))
            }
            tags::FLOAT => self.old_float(start),
            tags::SMALL_BIG => {
                let n = usize::from(self.u8()?);
                self.big(n)
            }
            tags::LARGE_BIG => {
                let n = self.u32()? as usize;
                self.big(n)
            }
            tags::PID | tags::NEW_PID => {
                let node = self.atom()?;
                let id = self.u32()?;
                let serial = self.u32()?;
                let creation = self.creation(tag == tags::NEW_PID)?;
                Ok(Term::Pid(Pid {
                    node,
                    id,
                    serial,
                    creation,
                }))
            }
            tags::PORT | tags::NEW_PORT | tags::V4_PORT => {
                let node = self.atom()?;
                let id = if tag == tags::V4_PORT {
                    self.u64()?
                } else {
                    u64::from(self.u32()?)
                };
                let creation = self.creation(tag != tags::PORT)?;
                Ok(Term::Port(Box::new(Port { node, id, creation })))
            }
            tags::REFERENCE => {
                let node = self.atom()?;
                let id = self.u32()?;
                let creation = self.creation(false)?;
                Ok(Term::Ref(std::sync::Arc::new(Reference {
                    node,
                    creation,
                    ids: vec![id],
                })))
            }
            tags::NEW_REFERENCE | tags::NEWER_REFERENCE => {
                let n = self.u16()?;
                if n == 0 || n > 5 {
                    self.pos = start;
                    return Err(self.err(K::BadReferenceLength(n)));
                }
                let node = self.atom()?;
                let creation = self.creation(tag == tags::NEWER_REFERENCE)?;
                let mut ids = Vec::with_capacity(usize::from(n));
                for _ in 0..n {
                    ids.push(self.u32()?);
                }
                Ok(Term::Ref(std::sync::Arc::new(Reference {
                    node,
                    creation,
                    ids,
                })))
            }
            tags::EXPORT => {
                let module = self.atom()?;
                let function = self.atom()?;
                let at = self.pos;
                if self.u8()? != tags::SMALL_INTEGER {
                    self.pos = at;
                    return Err(self.err(K::BadFun("export arity is not a small integer")));
                }
                let arity = self.u8()?;
                Ok(Term::ExternalFun(Box::new(ExternalFun {
                    module,
                    function,
                    arity,
                })))
            }
            tags::NEW_FUN => self.new_fun(start),
            tags::COMPRESSED => {
                self.pos = start;
                Err(self.err(K::UnsupportedTag(tag, "a compressed term inside a term")))
            }
            tags::FUN => {
                self.pos = start;
                Err(self.err(K::UnsupportedTag(
                    tag,
                    "FUN_EXT is not decoded since OTP 23",
                )))
            }
            tags::LOCAL => {
                self.pos = start;
                Err(self.err(K::UnsupportedTag(
                    tag,
                    "LOCAL_EXT is valid only on the node that made it",
                )))
            }
            _ => {
                self.pos = start;
                Err(self.err(K::UnknownTag(tag)))
            }
        }
    }

    fn err(&self, kind: K) -> DecodeError {
        DecodeError {
            offset: self.base + self.pos,
            kind,
        }
    }

    fn truncated(&self, needed: u64) -> DecodeError {
        DecodeError {
            offset: self.base + self.buf.len(),
            kind: K::Truncated {
                needed: needed - (self.buf.len() - self.pos) as u64,
            },
        }
    }

    fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn peek(&self) -> R<u8> {
        self.buf
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.truncated(1))
    }

    fn take(&mut self, n: usize) -> R<&'a [u8]> {
        if n > self.remaining() {
            return Err(self.truncated(n as u64));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> R<u8> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    fn u16(&mut self) -> R<u16> {
        let s = self.take(2)?;
        Ok(u16::from_be_bytes([s[0], s[1]]))
    }

    fn u32(&mut self) -> R<u32> {
        let s = self.take(4)?;
        Ok(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
    }

    fn u64(&mut self) -> R<u64> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(s);
        Ok(u64::from_be_bytes(a))
    }

    fn creation(&mut self, wide: bool) -> R<u32> {
        if wide {
            self.u32()
        } else {
            Ok(u32::from(self.u8()?))
        }
    }

    fn bytes(&mut self, n: usize) -> R<Bytes> {
        let at = self.pos;
        let s = self.take(n)?;
        Ok(match &self.source {
            Some(src) => src.slice(at..at + n),
            None => Bytes::copy_from_slice(s),
        })
    }

    /// Checks that `n` items of at least `min` bytes each can still follow.
    fn check_count(&self, n: usize, min: usize) -> R<()> {
        let need = (n as u64).saturating_mul(min as u64);
        if need > self.remaining() as u64 {
            return Err(self.truncated(need));
        }
        Ok(())
    }

    fn enter(&mut self) -> R<()> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(self.err(K::TooDeep(self.limits.max_depth)));
        }
        Ok(())
    }

    fn atom(&mut self) -> R<Atom> {
        let start = self.pos;
        let tag = self.u8()?;
        let (len, utf8) = match tag {
            tags::ATOM => (usize::from(self.u16()?), false),
            tags::SMALL_ATOM => (usize::from(self.u8()?), false),
            tags::ATOM_UTF8 => (usize::from(self.u16()?), true),
            tags::SMALL_ATOM_UTF8 => (usize::from(self.u8()?), true),
            tags::ATOM_CACHE_REF => {
                let i = self.u8()?;
                return match self.atom_cache.and_then(|c| c.get(usize::from(i))) {
                    Some(Some(a)) => Ok(a.clone()),
                    _ => {
                        self.pos = start;
                        Err(self.err(K::BadAtomCacheRef(i)))
                    }
                };
            }
            other => {
                self.pos = start;
                return Err(self.err(K::UnknownTag(other)));
            }
        };
        let text_at = self.pos;
        let raw = self.take(len)?;
        if utf8 || raw.is_ascii() {
            let s = match std::str::from_utf8(raw) {
                Ok(s) => s,
                Err(_) => {
                    self.pos = text_at;
                    return Err(self.err(K::InvalidUtf8Atom));
                }
            };
            return match Atom::try_new(s) {
                Ok(a) => Ok(a),
                Err(e) => {
                    self.pos = text_at;
                    Err(self.err(atom_error(e)))
                }
            };
        }
        // Latin-1: every byte is one character.
        if len > MAX_ATOM_CHARS {
            self.pos = text_at;
            return Err(self.err(K::AtomTooLong(len)));
        }
        let s: String = raw.iter().map(|&b| char::from(b)).collect();
        Atom::try_new(&s).map_err(|e| self.err(atom_error(e)))
    }

    fn list(&mut self) -> R<Term> {
        let n = self.u32()? as usize;
        // n elements and a tail, each at least one byte.
        self.check_count(n.saturating_add(1), 1)?;
        self.enter()?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(self.decode_term()?);
        }
        let tail = if self.peek()? == tags::NIL {
            self.pos += 1;
            None
        } else {
            Some(self.decode_term()?)
        };
        self.depth -= 1;
        Ok(match tail {
            None => Term::list(v),
            Some(t) => Term::improper_list(v, t),
        })
    }

    fn tuple(&mut self, n: usize) -> R<Term> {
        self.check_count(n, 1)?;
        self.enter()?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(self.decode_term()?);
        }
        self.depth -= 1;
        Ok(Term::tuple(v))
    }

    fn map(&mut self, start: usize) -> R<Term> {
        let n = self.u32()? as usize;
        self.check_count(n, 2)?;
        self.enter()?;
        let mut pairs = Vec::with_capacity(n);
        for _ in 0..n {
            let k = self.decode_term()?;
            let v = self.decode_term()?;
            pairs.push((k, v));
        }
        self.depth -= 1;
        match Map::try_from_unique(pairs) {
            Ok(m) => Ok(Term::Map(m)),
            Err(key) => {
                self.pos = start;
                Err(self.err(K::DuplicateMapKey(crate::text::to_text(&key))))
            }
        }
    }

    fn bit_binary(&mut self) -> R<Term> {
        let at = self.pos;
        let len = self.u32()?;
        let bits = self.u8()?;
        if bits > 8 || (bits == 0) != (len == 0) {
            self.pos = at;
            return Err(self.err(K::BadBitBinary { len, bits }));
        }
        let data = self.bytes(len as usize)?;
        if bits == 8 || len == 0 {
            return Ok(Term::Binary(data));
        }
        let mask = 0xFFu8 << (8 - bits);
        let last = data[data.len() - 1];
        let data = if last & !mask == 0 {
            data
        } else {
            let mut v = data.to_vec();
            let i = v.len() - 1;
            v[i] &= mask;
            Bytes::from(v)
        };
        Ok(Term::BitString(Box::new(BitString { data, bits })))
    }

    fn old_float(&mut self, start: usize) -> R<Term> {
        let raw = self.take(31)?;
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        let parsed = std::str::from_utf8(&raw[..end])
            .ok()
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|f| f.is_finite());
        match parsed {
            Some(f) => Ok(Term::Float(f)),
            None => {
                self.pos = start;
                Err(self.err(K::BadFloat))
            }
        }
    }

    fn big(&mut self, n: usize) -> R<Term> {
        let sign = self.u8()?;
        let digits = self.take(n)?;
        if n <= 8 {
            let mut a = [0u8; 8];
            a[..n].copy_from_slice(digits);
            let mag = u64::from_le_bytes(a);
            if sign == 0 {
                if let Ok(i) = i64::try_from(mag) {
                    return Ok(Term::Int(i));
                }
            } else if mag <= 1u64 << 63 {
                return Ok(Term::Int((mag as i64).wrapping_neg()));
            }
        }
        let sign = if sign == 0 { Sign::Plus } else { Sign::Minus };
        Ok(Term::integer(BigInt::from_bytes_le(sign, digits)))
    }

    fn new_fun(&mut self, start: usize) -> R<Term> {
        let size = self.u32()? as usize;
        let arity = self.u8()?;
        let mut uniq = [0u8; 16];
        uniq.copy_from_slice(self.take(16)?);
        let index = self.u32()?;
        let num_free = self.u32()? as usize;
        let module = self.atom()?;
        self.enter()?;
        let old_index = self.decode_term()?;
        let old_uniq = self.decode_term()?;
        if !matches!(old_index, Term::Int(_)) || !matches!(old_uniq, Term::Int(_)) {
            self.pos = start;
            return Err(self.err(K::BadFun("old index or old uniq is not an integer")));
        }
        let pid = self.decode_term()?;
        if !matches!(pid, Term::Pid(_)) {
            self.pos = start;
            return Err(self.err(K::BadFun("creator is not a pid")));
        }
        self.check_count(num_free, 1)?;
        let mut free_vars = Vec::with_capacity(num_free);
        for _ in 0..num_free {
            free_vars.push(self.decode_term()?);
        }
        self.depth -= 1;
        if self.pos - start - 1 != size {
            self.pos = start;
            return Err(self.err(K::BadFun("size field does not match the encoding")));
        }
        Ok(Term::LocalFun(Box::new(LocalFun {
            arity,
            uniq,
            index,
            module,
            old_index,
            old_uniq,
            pid,
            free_vars,
        })))
    }

    fn decode_compressed(&mut self) -> R<Term> {
        let at = self.pos;
        let size = self.u32()? as usize;
        if size > self.limits.max_size {
            self.pos = at;
            return Err(self.err(K::TooLarge {
                size: size as u64,
                limit: self.limits.max_size,
            }));
        }
        let z = &self.buf[self.pos..];
        let mut out = Vec::with_capacity(size.min(z.len().saturating_mul(4) + 64));
        let mut rd = flate2::read::ZlibDecoder::new(z).take(size as u64 + 1);
        if let Err(e) = rd.read_to_end(&mut out) {
            return Err(self.err(K::Compressed(e.to_string())));
        }
        if out.len() != size {
            return Err(self.err(K::Compressed(format!(
                "uncompressed size is {}{}, header says {size}",
                out.len(),
                if out.len() > size { " or more" } else { "" }
            ))));
        }
        let consumed = rd.into_inner().total_in() as usize;
        let data = Bytes::from(out);
        let mut inner = Decoder {
            buf: &data,
            pos: 0,
            limits: self.limits,
            depth: self.depth,
            source: Some(data.clone()),
            atom_cache: self.atom_cache,
            base: 0,
        };
        let t = inner.decode_term().map_err(|mut e| {
            e.kind = match e.kind {
                K::Compressed(s) => K::Compressed(s),
                other => K::Compressed(format!(
                    "in the uncompressed data at byte {}: {other}",
                    e.offset
                )),
            };
            e.offset = self.base + at;
            e
        })?;
        if inner.pos != data.len() {
            return Err(self.err(K::Compressed(format!(
                "{} bytes after the term in the uncompressed data",
                data.len() - inner.pos
            ))));
        }
        self.pos += consumed;
        Ok(t)
    }
}

/// The decode error for a text that cannot be an atom.
fn atom_error(e: AtomError) -> K {
    match e {
        AtomError::TooLong { chars } => K::AtomTooLong(chars),
        AtomError::TableFull { limit } => K::AtomTableFull(limit),
    }
}
