//! Rust values to terms.

use std::cell::RefCell;

use bytes::Bytes;
use num_bigint::BigInt;
use serde::ser::{self, Serialize};

use super::{Error, ATOM_TOKEN, TERM_TOKEN};
use crate::atom::Atom;
use crate::term::{Map, Term};

/// Converts a Rust value to a term (see [the mapping](crate::serde)).
///
/// ```
/// #[derive(serde::Serialize)]
/// struct Msg { id: u32, body: String }
/// let t = nodus_term::to_term(&Msg { id: 7, body: "hi".into() }).unwrap();
/// assert_eq!(t.to_string(), "#{body => <<\"hi\">>,id => 7}");
/// ```
pub fn to_term<T: Serialize + ?Sized>(value: &T) -> Result<Term, Error> {
    value.serialize(Serializer)
}

thread_local! {
    /// A raw term on its way through `serialize_newtype_struct(TERM_TOKEN)`.
    pub(crate) static PASSTHROUGH: RefCell<Option<Term>> = const { RefCell::new(None) };
}

impl Serialize for Atom {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(ATOM_TOKEN, self.as_str())
    }
}

impl Serialize for Term {
    /// With [`to_term`] a term passes through unchanged; other serializers
    /// see its Erlang text.
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PASSTHROUGH.with(|p| *p.borrow_mut() = Some(self.clone()));
        // The text is written only by serializers that ask for it: the
        // one of `to_term` takes the term itself and never does.
        let r = s.serialize_newtype_struct(TERM_TOKEN, &AsText(self));
        PASSTHROUGH.with(|p| p.borrow_mut().take());
        r
    }
}

/// A term that serializes as its Erlang text, built only when asked.
struct AsText<'a>(&'a Term);

impl Serialize for AsText<'_> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
    }
}

/// The serializer behind [`to_term`].
pub struct Serializer;

fn atom(name: &str) -> Result<Term, Error> {
    Atom::try_new(name)
        .map(Term::Atom)
        .map_err(|e| Error(e.to_string()))
}

impl ser::Serializer for Serializer {
    type Ok = Term;
    type Error = Error;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = SeqSer;
    type SerializeMap = MapSer;
    type SerializeStruct = MapSer;
    type SerializeStructVariant = MapSer;

    fn serialize_bool(self, v: bool) -> Result<Term, Error> {
        atom(if v { "true" } else { "false" })
    }
    fn serialize_i8(self, v: i8) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Term, Error> {
        Ok(Term::Int(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Term, Error> {
        Ok(Term::integer(BigInt::from(v)))
    }
    fn serialize_u8(self, v: u8) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Term, Error> {
        Ok(Term::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Term, Error> {
        Ok(Term::from(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Term, Error> {
        Ok(Term::integer(BigInt::from(v)))
    }
    fn serialize_f32(self, v: f32) -> Result<Term, Error> {
        self.serialize_f64(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<Term, Error> {
        if !v.is_finite() {
            return Err(Error("Erlang floats cannot be NaN or infinite".into()));
        }
        Ok(Term::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Term, Error> {
        Ok(Term::Int(i64::from(v as u32)))
    }
    fn serialize_str(self, v: &str) -> Result<Term, Error> {
        Ok(Term::Binary(Bytes::copy_from_slice(v.as_bytes())))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Term, Error> {
        Ok(Term::Binary(Bytes::copy_from_slice(v)))
    }
    fn serialize_none(self) -> Result<Term, Error> {
        atom("nil")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Term, Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Term, Error> {
        atom("nil")
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Term, Error> {
        atom("nil")
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Term, Error> {
        atom(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<Term, Error> {
        if name == TERM_TOKEN {
            if let Some(t) = PASSTHROUGH.with(|p| p.borrow_mut().take()) {
                return Ok(t);
            }
        }
        let inner = v.serialize(Serializer)?;
        if name == ATOM_TOKEN {
            if let Term::Binary(b) = &inner {
                let s = std::str::from_utf8(b).map_err(|e| Error(e.to_string()))?;
                return atom(s);
            }
        }
        Ok(inner)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Term, Error> {
        // A Rust `Result` is `{ok, V}` or `{error, E}`, as Erlang says it.
        let tag = match (name, variant) {
            ("Result", "Ok") => "ok",
            ("Result", "Err") => "error",
            _ => variant,
        };
        Ok(Term::tuple(vec![atom(tag)?, v.serialize(Serializer)?]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer, Error> {
        Ok(SeqSer::new(len, None, false))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer, Error> {
        Ok(SeqSer::new(Some(len), None, true))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<SeqSer, Error> {
        Ok(SeqSer::new(Some(len), None, true))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqSer, Error> {
        Ok(SeqSer::new(Some(len + 1), Some(atom(variant)?), true))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<MapSer, Error> {
        Ok(MapSer::default())
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<MapSer, Error> {
        Ok(MapSer::default())
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<MapSer, Error> {
        Ok(MapSer {
            variant: Some(atom(variant)?),
            ..MapSer::default()
        })
    }
}

/// Builds lists and tuples.
pub struct SeqSer {
    items: Vec<Term>,
    tuple: bool,
}

impl SeqSer {
    fn new(len: Option<usize>, first: Option<Term>, tuple: bool) -> SeqSer {
        let mut items = Vec::with_capacity(len.unwrap_or(0).min(4096));
        items.extend(first);
        SeqSer { items, tuple }
    }
    fn push<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.items.push(v.serialize(Serializer)?);
        Ok(())
    }
    fn finish(self) -> Term {
        if self.tuple {
            Term::tuple(self.items)
        } else {
            Term::list(self.items)
        }
    }
}

/// The four sequence traits differ only in their method's name.
macro_rules! seq_impl {
    ($($trait:ident :: $method:ident),*) => {$(
        impl ser::$trait for SeqSer {
            type Ok = Term;
            type Error = Error;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
                self.push(v)
            }
            fn end(self) -> Result<Term, Error> {
                Ok(self.finish())
            }
        }
    )*};
}

seq_impl!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

/// Builds maps (and struct variants).
#[derive(Default)]
pub struct MapSer {
    pairs: Vec<(Term, Term)>,
    key: Option<Term>,
    variant: Option<Term>,
}

impl MapSer {
    fn finish(self) -> Term {
        let m = Term::Map(Map::from_pairs(self.pairs));
        match self.variant {
            Some(v) => Term::tuple(vec![v, m]),
            None => m,
        }
    }
}

impl ser::SerializeMap for MapSer {
    type Ok = Term;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<(), Error> {
        self.key = Some(k.serialize(Serializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let k = self
            .key
            .take()
            .ok_or_else(|| Error("map value before its key".into()))?;
        self.pairs.push((k, v.serialize(Serializer)?));
        Ok(())
    }
    fn end(self) -> Result<Term, Error> {
        Ok(self.finish())
    }
}

/// Struct fields are atom keys, for plain structs and struct variants.
macro_rules! struct_impl {
    ($($trait:ident),*) => {$(
        impl ser::$trait for MapSer {
            type Ok = Term;
            type Error = Error;
            fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<(), Error> {
                self.pairs.push((atom(key)?, v.serialize(Serializer)?));
                Ok(())
            }
            fn end(self) -> Result<Term, Error> {
                Ok(self.finish())
            }
        }
    )*};
}

struct_impl!(SerializeStruct, SerializeStructVariant);
