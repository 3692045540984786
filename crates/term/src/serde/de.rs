//! Terms to Rust values.

use std::cell::RefCell;
use std::fmt;

use num_traits::ToPrimitive;
use serde::de::{self, Deserialize, DeserializeSeed, IntoDeserializer, Visitor};

use super::{Error, ATOM_TOKEN, TERM_TOKEN};
use crate::atom::Atom;
use crate::term::{Map, Term};

/// Converts a term to a Rust value (see [the mapping](crate::serde)).
///
/// ```
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// struct Msg { id: u32, body: String }
/// let t = nodus_term::text::parse_term("#{id => 7, body => <<\"hi\">>}").unwrap();
/// let m: Msg = nodus_term::from_term(&t).unwrap();
/// assert_eq!(m, Msg { id: 7, body: "hi".into() });
/// ```
pub fn from_term<'de, T: Deserialize<'de>>(term: &'de Term) -> Result<T, Error> {
    T::deserialize(Deserializer(term))
}

thread_local! {
    static PASSTHROUGH: RefCell<Option<Term>> = const { RefCell::new(None) };
}

/// The deserializer behind [`from_term`].
pub struct Deserializer<'de>(pub &'de Term);

fn unexpected(t: &Term, wanted: &str) -> Error {
    let mut text = t.to_string();
    if text.len() > 80 {
        let mut end = 77;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push_str("...");
    }
    Error(format!("expected {wanted}, found {text}"))
}

fn is_nil(t: &Term) -> bool {
    t.is_atom("nil") || t.is_atom("undefined")
}

fn charlist(l: &[Term]) -> Option<String> {
    l.iter()
        .map(|e| match e {
            Term::Int(c) => u32::try_from(*c).ok().and_then(char::from_u32),
            _ => None,
        })
        .collect()
}

impl<'de> de::Deserializer<'de> for Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Term::Atom(a) => match a.as_str() {
                "true" => v.visit_bool(true),
                "false" => v.visit_bool(false),
                "nil" | "undefined" => v.visit_unit(),
                s => v.visit_borrowed_str(s),
            },
            Term::Int(i) => v.visit_i64(*i),
            Term::BigInt(n) => match (n.to_i128(), n.to_u128()) {
                (Some(i), _) => v.visit_i128(i),
                (_, Some(u)) => v.visit_u128(u),
                _ => Err(Error(format!("integer {n} does not fit in 128 bits"))),
            },
            Term::Float(f) => v.visit_f64(*f),
            Term::Binary(b) => match std::str::from_utf8(b) {
                Ok(s) => v.visit_borrowed_str(s),
                Err(_) => v.visit_borrowed_bytes(b),
            },
            Term::List(l) | Term::Tuple(l) => v.visit_seq(Seq(l.iter())),
            Term::Map(m) => v.visit_map(MapAcc::new(m)),
            other => Err(unexpected(other, "a term with a Rust equivalent")),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0.as_atom() {
            Some("true") => v.visit_bool(true),
            Some("false") => v.visit_bool(false),
            _ => Err(unexpected(self.0, "true or false")),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Term::Int(c) => match u32::try_from(*c).ok().and_then(char::from_u32) {
                Some(ch) => v.visit_char(ch),
                None => Err(unexpected(self.0, "a character")),
            },
            _ => self.deserialize_str(v),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Term::Atom(a) => v.visit_borrowed_str(a.as_str()),
            Term::Binary(b) => match std::str::from_utf8(b) {
                Ok(s) => v.visit_borrowed_str(s),
                Err(_) => Err(unexpected(self.0, "a UTF-8 string")),
            },
            Term::List(l) => match charlist(l) {
                Some(s) => v.visit_string(s),
                None => Err(unexpected(self.0, "a string")),
            },
            other => Err(unexpected(other, "a string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Term::Binary(b) => v.visit_borrowed_bytes(b),
            Term::List(l) => {
                let bytes: Option<Vec<u8>> = l
                    .iter()
                    .map(|e| match e {
                        Term::Int(b) => u8::try_from(*b).ok(),
                        _ => None,
                    })
                    .collect();
                match bytes {
                    Some(b) => v.visit_byte_buf(b),
                    None => Err(unexpected(self.0, "a binary")),
                }
            }
            other => Err(unexpected(other, "a binary")),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        if is_nil(self.0) {
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            t if is_nil(t) => v.visit_unit(),
            Term::Tuple(t) if t.is_empty() => v.visit_unit(),
            other => Err(unexpected(other, "nil")),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(v)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        if name == TERM_TOKEN {
            PASSTHROUGH.with(|p| *p.borrow_mut() = Some(self.0.clone()));
            return v.visit_unit();
        }
        if name == ATOM_TOKEN {
            return match self.0 {
                Term::Atom(a) => v.visit_borrowed_str(a.as_str()),
                other => Err(unexpected(other, "an atom")),
            };
        }
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Term::List(l) | Term::Tuple(l) => v.visit_seq(Seq(l.iter())),
            Term::Binary(b) => v.visit_seq(ByteSeq(b.iter())),
            other => Err(unexpected(other, "a list")),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        v: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.0 {
            Term::Map(m) => v.visit_map(MapAcc::new(m)),
            other => Err(unexpected(other, "a map")),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match self.0 {
            // A keyword list, `[{Key, Value}]` with atom keys, reads as
            // a struct too (as an Erlang proplist or Elixir keyword list).
            Term::List(l) if l.iter().all(is_keyword_pair) => v.visit_map(KeywordAcc {
                it: l.iter(),
                value: None,
            }),
            _ => self.deserialize_map(v),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        let result = name == "Result";
        match self.0 {
            Term::Atom(_) | Term::Binary(_) => v.visit_enum(Enum {
                tag: self.0,
                rest: &[],
                result,
            }),
            Term::Tuple(t) if !t.is_empty() => v.visit_enum(Enum {
                tag: &t[0],
                rest: &t[1..],
                result,
            }),
            other => Err(unexpected(other, "an atom or a tagged tuple")),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64
    }
}

struct Seq<'de>(std::slice::Iter<'de, Term>);

impl<'de> de::SeqAccess<'de> for Seq<'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.0.next() {
            Some(t) => seed.deserialize(Deserializer(t)).map(Some),
            None => Ok(None),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.0.len())
    }
}

struct ByteSeq<'de>(std::slice::Iter<'de, u8>);

impl<'de> de::SeqAccess<'de> for ByteSeq<'de> {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.0.next() {
            Some(b) => seed.deserialize((*b).into_deserializer()).map(Some),
            None => Ok(None),
        }
    }
}

struct MapAcc<'de> {
    it: std::slice::Iter<'de, (Term, Term)>,
    value: Option<&'de Term>,
}

impl<'de> MapAcc<'de> {
    fn new(m: &'de Map) -> MapAcc<'de> {
        MapAcc {
            it: m.entries().iter(),
            value: None,
        }
    }
}

impl<'de> de::MapAccess<'de> for MapAcc<'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.it.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(Deserializer(k)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(Deserializer(v)),
            None => Err(Error("map value requested before its key".into())),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.it.len())
    }
}

struct Enum<'de> {
    tag: &'de Term,
    rest: &'de [Term],
    /// A Rust `Result`: `{ok, V}` is `Ok(V)`, `{error, E}` is `Err(E)`.
    result: bool,
}

fn is_keyword_pair(t: &Term) -> bool {
    matches!(t.as_tuple(), Some([Term::Atom(_), _]))
}

/// A keyword list read as a map.
struct KeywordAcc<'de> {
    it: std::slice::Iter<'de, Term>,
    value: Option<&'de Term>,
}

impl<'de> de::MapAccess<'de> for KeywordAcc<'de> {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.it.next().and_then(Term::as_tuple) {
            Some([k, v]) => {
                self.value = Some(v);
                seed.deserialize(Deserializer(k)).map(Some)
            }
            _ => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(Deserializer(v)),
            None => Err(Error("keyword value requested before its key".into())),
        }
    }
}

impl<'de> de::EnumAccess<'de> for Enum<'de> {
    type Error = Error;
    type Variant = Self;
    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        if self.result {
            let name = match self.tag.as_atom() {
                Some("ok") => "Ok",
                Some("error") => "Err",
                _ => return Err(unexpected(self.tag, "ok or error")),
            };
            let v = seed.deserialize(de::value::StrDeserializer::<Error>::new(name))?;
            return Ok((v, self));
        }
        let v = seed.deserialize(Deserializer(self.tag))?;
        Ok((v, self))
    }
}

impl<'de> de::VariantAccess<'de> for Enum<'de> {
    type Error = Error;
    fn unit_variant(self) -> Result<(), Error> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Error(format!("variant {} takes no value", self.tag)))
        }
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.rest {
            [one] => seed.deserialize(Deserializer(one)),
            _ => Err(Error(format!("variant {} takes one value", self.tag))),
        }
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, v: V) -> Result<V::Value, Error> {
        v.visit_seq(Seq(self.rest.iter()))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match self.rest {
            [Term::Map(m)] => v.visit_map(MapAcc::new(m)),
            _ => Err(Error(format!("variant {} takes a map", self.tag))),
        }
    }
}

impl<'de> Deserialize<'de> for Atom {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Atom, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Atom;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an atom")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Atom, E> {
                Atom::try_new(s).map_err(E::custom)
            }
        }
        d.deserialize_newtype_struct(ATOM_TOKEN, V)
    }
}

impl<'de> Deserialize<'de> for Term {
    /// With [`from_term`] the term passes through unchanged; from other
    /// formats a term is built from the data (strings become binaries).
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Term, D::Error> {
        d.deserialize_newtype_struct(TERM_TOKEN, TermVisitor)
    }
}

struct TermVisitor;

impl<'de> Visitor<'de> for TermVisitor {
    type Value = Term;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Term, E> {
        Ok(PASSTHROUGH
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| Term::atom("nil")))
    }
    fn visit_none<E: de::Error>(self) -> Result<Term, E> {
        Ok(Term::atom("nil"))
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Term, D::Error> {
        Term::deserialize(d)
    }
    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<Term, D::Error> {
        d.deserialize_any(TermVisitor)
    }
    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Term, E> {
        Ok(Term::atom(if b { "true" } else { "false" }))
    }
    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Term, E> {
        Ok(Term::Int(i))
    }
    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Term, E> {
        Ok(Term::from(u))
    }
    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Term, E> {
        Ok(Term::Float(f))
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<Term, E> {
        Ok(Term::binary(s))
    }
    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Term, E> {
        Ok(Term::binary(b))
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Term, A::Error> {
        let mut v = Vec::new();
        while let Some(t) = a.next_element::<Term>()? {
            v.push(t);
        }
        Ok(Term::list(v))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, mut a: A) -> Result<Term, A::Error> {
        let mut pairs = Vec::new();
        while let Some((k, v)) = a.next_entry::<Term, Term>()? {
            pairs.push((k, v));
        }
        Ok(Term::Map(Map::from_pairs(pairs)))
    }
}
