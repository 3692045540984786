//! Encoding the External Term Format (`term_to_binary/1,2`).
//!
//! Answers to `enc_term` in ERTS (`external.c`). With the default
//! [`EncodeOptions`] the output is byte for byte what OTP 25's
//! `term_to_binary/1` writes, for every term without a map of more than 32
//! keys (BEAM writes larger maps in hash order; nodus writes them in key
//! order, which decodes to an equal term).

use std::io::Write;

use num_bigint::Sign;

use super::error::EncodeError;
use super::tags;
use crate::atom::Atom;
use crate::term::{LocalFun, Term};

/// How atoms are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AtomEncoding {
    /// OTP 25's `term_to_binary/1` (`minor_version` 1): Latin-1 atoms as
    /// `ATOM_EXT`, others as UTF-8.
    #[default]
    Otp25,
    /// OTP 26's default (`minor_version` 2) and the distribution protocol:
    /// every atom as `SMALL_ATOM_UTF8_EXT` or `ATOM_UTF8_EXT`.
    Utf8,
}

/// Options for [`encode_with`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EncodeOptions {
    /// How atoms are written.
    pub atoms: AtomEncoding,
    /// `Some(level)` (0 to 9) compresses as `term_to_binary(T,
    /// [{compressed, Level}])` does: kept uncompressed when that is not
    /// smaller.
    pub compressed: Option<u32>,
}

impl EncodeOptions {
    /// OTP 26's `term_to_binary/1` defaults.
    pub const OTP26: EncodeOptions = EncodeOptions {
        atoms: AtomEncoding::Utf8,
        compressed: None,
    };
}

/// Encodes `term` as OTP 25's `term_to_binary/1` does.
pub fn encode(term: &Term) -> Result<Vec<u8>, EncodeError> {
    encode_with(term, EncodeOptions::default())
}

/// Encodes `term` with `opts`, starting with the version byte 131.
pub fn encode_with(term: &Term, opts: EncodeOptions) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(64);
    out.push(tags::VERSION);
    encode_term_into(term, opts.atoms, &mut out)?;
    if let Some(level) = opts.compressed {
        return Ok(compress(out, level.min(9)));
    }
    Ok(out)
}

/// Appends `term` (no version byte) to `out`.
pub fn encode_term_into(
    term: &Term,
    atoms: AtomEncoding,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    Encoder { out, atoms }.term(term)
}

fn compress(plain: Vec<u8>, level: u32) -> Vec<u8> {
    let body = &plain[1..];
    let Ok(size) = u32::try_from(body.len()) else {
        return plain;
    };
    let mut out = Vec::with_capacity(body.len() / 2 + 16);
    out.extend_from_slice(&[tags::VERSION, tags::COMPRESSED]);
    out.extend_from_slice(&size.to_be_bytes());
    let mut z = flate2::write::ZlibEncoder::new(out, flate2::Compression::new(level));
    if z.write_all(body).is_err() {
        return plain;
    }
    match z.finish() {
        Ok(out) if out.len() < plain.len() => out,
        _ => plain,
    }
}

struct Encoder<'o> {
    out: &'o mut Vec<u8>,
    atoms: AtomEncoding,
}

fn len32(what: &'static str, len: usize) -> Result<u32, EncodeError> {
    u32::try_from(len).map_err(|_| EncodeError::TooLong { what, len })
}

impl Encoder<'_> {
    fn term(&mut self, t: &Term) -> Result<(), EncodeError> {
        match t {
            Term::Atom(a) => self.atom(a),
            Term::Int(i) => self.int(*i),
            Term::BigInt(n) => {
                let (sign, mag) = n.to_bytes_le();
                self.big(sign == Sign::Minus, &mag)?;
            }
            Term::Float(f) => {
                if !f.is_finite() {
                    return Err(EncodeError::NonFiniteFloat);
                }
                self.out.push(tags::NEW_FLOAT);
                self.out.extend_from_slice(&f.to_bits().to_be_bytes());
            }
            Term::Binary(b) => {
                self.out.push(tags::BINARY);
                self.out
                    .extend_from_slice(&len32("binary", b.len())?.to_be_bytes());
                self.out.extend_from_slice(b);
            }
            Term::BitString(bs) => {
                if bs.bits == 0 || bs.bits >= 8 || bs.data.is_empty() {
                    self.out.push(tags::BINARY);
                    self.out
                        .extend_from_slice(&len32("binary", bs.data.len())?.to_be_bytes());
                } else {
                    self.out.push(tags::BIT_BINARY);
                    self.out
                        .extend_from_slice(&len32("bitstring", bs.data.len())?.to_be_bytes());
                    self.out.push(bs.bits);
                }
                self.out.extend_from_slice(&bs.data);
            }
            Term::List(l) => self.list(l, None)?,
            Term::ImproperList(il) => self.list(&il.elements, Some(&il.tail))?,
            Term::Tuple(v) => {
                if v.len() <= 255 {
                    self.out
                        .extend_from_slice(&[tags::SMALL_TUPLE, v.len() as u8]);
                } else {
                    self.out.push(tags::LARGE_TUPLE);
                    self.out
                        .extend_from_slice(&len32("tuple", v.len())?.to_be_bytes());
                }
                for e in v {
                    self.term(e)?;
                }
            }
            Term::Map(m) => {
                self.out.push(tags::MAP);
                self.out
                    .extend_from_slice(&len32("map", m.len())?.to_be_bytes());
                for (k, v) in m.iter() {
                    self.term(k)?;
                    self.term(v)?;
                }
            }
            Term::Pid(p) => {
                self.out.push(tags::NEW_PID);
                self.atom(&p.node);
                self.out.extend_from_slice(&p.id.to_be_bytes());
                self.out.extend_from_slice(&p.serial.to_be_bytes());
                self.out.extend_from_slice(&p.creation.to_be_bytes());
            }
            Term::Port(p) => {
                match u32::try_from(p.id) {
                    Ok(id) => {
                        self.out.push(tags::NEW_PORT);
                        self.atom(&p.node);
                        self.out.extend_from_slice(&id.to_be_bytes());
                    }
                    Err(_) => {
                        self.out.push(tags::V4_PORT);
                        self.atom(&p.node);
                        self.out.extend_from_slice(&p.id.to_be_bytes());
                    }
                }
                self.out.extend_from_slice(&p.creation.to_be_bytes());
            }
            Term::Ref(r) => {
                if r.ids.is_empty() || r.ids.len() > 5 {
                    return Err(EncodeError::BadReferenceLength(r.ids.len()));
                }
                self.out.push(tags::NEWER_REFERENCE);
                self.out
                    .extend_from_slice(&(r.ids.len() as u16).to_be_bytes());
                self.atom(&r.node);
                self.out.extend_from_slice(&r.creation.to_be_bytes());
                for id in &r.ids {
                    self.out.extend_from_slice(&id.to_be_bytes());
                }
            }
            Term::ExternalFun(f) => {
                self.out.push(tags::EXPORT);
                self.atom(&f.module);
                self.atom(&f.function);
                self.out.extend_from_slice(&[tags::SMALL_INTEGER, f.arity]);
            }
            Term::LocalFun(f) => self.local_fun(f)?,
        }
        Ok(())
    }

    fn atom(&mut self, a: &Atom) {
        let s = a.as_str();
        if self.atoms == AtomEncoding::Otp25 && a.is_latin1() {
            // One byte a character; at most 255 characters.
            self.out.push(tags::ATOM);
            if s.is_ascii() {
                self.out.extend_from_slice(&(s.len() as u16).to_be_bytes());
                self.out.extend_from_slice(s.as_bytes());
            } else {
                let n = s.chars().count();
                self.out.extend_from_slice(&(n as u16).to_be_bytes());
                self.out.extend(s.chars().map(|c| c as u8));
            }
        } else if s.len() <= 255 {
            self.out
                .extend_from_slice(&[tags::SMALL_ATOM_UTF8, s.len() as u8]);
            self.out.extend_from_slice(s.as_bytes());
        } else {
            self.out.push(tags::ATOM_UTF8);
            self.out.extend_from_slice(&(s.len() as u16).to_be_bytes());
            self.out.extend_from_slice(s.as_bytes());
        }
    }

    fn int(&mut self, i: i64) {
        if (0..=255).contains(&i) {
            self.out.extend_from_slice(&[tags::SMALL_INTEGER, i as u8]);
        } else if let Ok(v) = i32::try_from(i) {
            self.out.push(tags::INTEGER);
            self.out.extend_from_slice(&v.to_be_bytes());
        } else {
            let mag = i.unsigned_abs().to_le_bytes();
            let n = 8 - mag.iter().rev().take_while(|&&b| b == 0).count();
            self.out
                .extend_from_slice(&[tags::SMALL_BIG, n as u8, u8::from(i < 0)]);
            self.out.extend_from_slice(&mag[..n]);
        }
    }

    fn big(&mut self, negative: bool, mag: &[u8]) -> Result<(), EncodeError> {
        // A BigInt that fits in 64 bits is written as the smaller forms.
        if mag.len() <= 8 {
            let mut a = [0u8; 8];
            a[..mag.len()].copy_from_slice(mag);
            let m = u64::from_le_bytes(a);
            let fits = if negative { m <= 1 << 63 } else { m < 1 << 63 };
            if fits {
                let i = if negative {
                    (m as i64).wrapping_neg()
                } else {
                    m as i64
                };
                self.int(i);
                return Ok(());
            }
        }
        if mag.len() <= 255 {
            self.out
                .extend_from_slice(&[tags::SMALL_BIG, mag.len() as u8, u8::from(negative)]);
        } else {
            self.out.push(tags::LARGE_BIG);
            self.out
                .extend_from_slice(&len32("integer", mag.len())?.to_be_bytes());
            self.out.push(u8::from(negative));
        }
        self.out.extend_from_slice(mag);
        Ok(())
    }

    fn list(&mut self, l: &[Term], tail: Option<&Term>) -> Result<(), EncodeError> {
        if l.is_empty() {
            return match tail {
                Some(t) => self.term(t),
                None => {
                    self.out.push(tags::NIL);
                    Ok(())
                }
            };
        }
        if tail.is_none() && l.len() <= 65535 && l.iter().all(|e| matches!(e, Term::Int(0..=255))) {
            self.out.push(tags::STRING);
            self.out.extend_from_slice(&(l.len() as u16).to_be_bytes());
            self.out.extend(l.iter().map(|e| match e {
                Term::Int(i) => *i as u8,
                _ => 0,
            }));
            return Ok(());
        }
        self.out.push(tags::LIST);
        self.out
            .extend_from_slice(&len32("list", l.len())?.to_be_bytes());
        for e in l {
            self.term(e)?;
        }
        match tail {
            Some(t) => self.term(t),
            None => {
                self.out.push(tags::NIL);
                Ok(())
            }
        }
    }

    fn local_fun(&mut self, f: &LocalFun) -> Result<(), EncodeError> {
        self.out.push(tags::NEW_FUN);
        let size_at = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        self.out.push(f.arity);
        self.out.extend_from_slice(&f.uniq);
        self.out.extend_from_slice(&f.index.to_be_bytes());
        self.out
            .extend_from_slice(&len32("fun environment", f.free_vars.len())?.to_be_bytes());
        self.atom(&f.module);
        self.term(&f.old_index)?;
        self.term(&f.old_uniq)?;
        self.term(&f.pid)?;
        for v in &f.free_vars {
            self.term(v)?;
        }
        let size = len32("fun", self.out.len() - size_at)?;
        self.out[size_at..size_at + 4].copy_from_slice(&size.to_be_bytes());
        Ok(())
    }
}
