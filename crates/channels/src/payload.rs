//! What a channel message carries: a JSON value, or raw bytes (a V2
//! binary frame; `{:binary, data}` on the Elixir side), and how a payload
//! becomes an Erlang term and back, as Phoenix's JSON library (Jason)
//! would see it.

use bytes::Bytes;
use nodus_term::{Map, Term};
use serde_json::Value;

/// A message's payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    /// A JSON value (an object for everything Phoenix pushes).
    Json(Value),
    /// Bytes from or for a binary frame.
    Binary(Bytes),
}

impl Payload {
    /// The empty object `{}`.
    pub fn empty() -> Payload {
        Payload::Json(Value::Object(serde_json::Map::new()))
    }

    /// A JSON payload from anything serde can serialize; `{}` is returned
    /// for a value that cannot be JSON (a map with non-string keys).
    pub fn json(value: impl serde::Serialize) -> Payload {
        Payload::Json(
            serde_json::to_value(value).unwrap_or_else(|_| Value::Object(Default::default())),
        )
    }

    /// The JSON value, if it is one.
    pub fn as_json(&self) -> Option<&Value> {
        match self {
            Payload::Json(v) => Some(v),
            Payload::Binary(_) => None,
        }
    }

    /// The bytes, if it is binary.
    pub fn as_binary(&self) -> Option<&Bytes> {
        match self {
            Payload::Binary(b) => Some(b),
            Payload::Json(_) => None,
        }
    }

    /// Reads a JSON payload into `T`.
    pub fn decode<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        match self {
            Payload::Json(v) => T::deserialize(v),
            Payload::Binary(_) => Err(serde::de::Error::custom("a binary payload is not JSON")),
        }
    }

    /// The payload as Phoenix holds it: a JSON value as the term Jason
    /// decodes it to (objects are maps with binary keys, strings are
    /// binaries, `null` is `nil`), bytes as `{binary, Data}`.
    pub fn to_term(&self) -> Term {
        match self {
            Payload::Json(v) => json_to_term(v),
            Payload::Binary(b) => Term::tuple(vec![Term::atom("binary"), Term::Binary(b.clone())]),
        }
    }

    /// The payload of a term, as Phoenix would encode it: `{binary, Data}`
    /// is binary, anything else is encoded as JSON (see [`term_to_json`]).
    pub fn from_term(t: &Term) -> Result<Payload, Unencodable> {
        if let Some([tag, Term::Binary(b)]) = t.as_tuple() {
            if tag.is_atom("binary") {
                return Ok(Payload::Binary(b.clone()));
            }
        }
        term_to_json(t).map(Payload::Json)
    }
}

impl From<Value> for Payload {
    fn from(v: Value) -> Payload {
        Payload::Json(v)
    }
}

impl From<Bytes> for Payload {
    fn from(b: Bytes) -> Payload {
        Payload::Binary(b)
    }
}

/// A term that has no JSON form (a pid, a tuple, a binary that is not
/// UTF-8…), as Jason refuses it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("no JSON form for the term {0}")]
pub struct Unencodable(pub String);

/// A JSON value as the term Jason decodes it to.
pub fn json_to_term(v: &Value) -> Term {
    match v {
        Value::Null => Term::atom("nil"),
        Value::Bool(b) => Term::atom(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Term::Int(i)
            } else if let Some(u) = n.as_u64() {
                Term::integer(u.into())
            } else {
                Term::Float(n.as_f64().unwrap_or(0.0))
            }
        }
        Value::String(s) => Term::binary(s.as_bytes()),
        Value::Array(a) => Term::List(a.iter().map(json_to_term).collect()),
        Value::Object(o) => Term::Map(Map::from_pairs(
            o.iter()
                .map(|(k, v)| (Term::binary(k.as_bytes()), json_to_term(v)))
                .collect(),
        )),
    }
}

/// A term as Jason encodes it: `nil` is `null`, `true`/`false` are
/// booleans, other atoms and UTF-8 binaries are strings, lists are
/// arrays, maps are objects (keys: atoms, binaries or numbers; a struct's
/// `__struct__` key is left out). Tuples, pids, references, funs and
/// non-UTF-8 binaries have no JSON form.
pub fn term_to_json(t: &Term) -> Result<Value, Unencodable> {
    Ok(match t {
        Term::Atom(a) => match a.as_str() {
            "nil" => Value::Null,
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            other => Value::String(other.to_string()),
        },
        Term::Int(i) => Value::from(*i),
        Term::BigInt(b) => {
            let s = b.to_string();
            serde_json::from_str(&s).map_err(|_| Unencodable(s))?
        }
        Term::Float(f) => serde_json::Number::from_f64(*f)
            .map(Value::Number)
            .ok_or_else(|| Unencodable(f.to_string()))?,
        Term::Binary(b) => Value::String(
            std::str::from_utf8(b)
                .map_err(|_| Unencodable("a binary that is not UTF-8".into()))?
                .to_string(),
        ),
        Term::List(l) => Value::Array(l.iter().map(term_to_json).collect::<Result<_, _>>()?),
        Term::Map(m) => {
            let mut o = serde_json::Map::new();
            for (k, v) in m.iter() {
                if k.is_atom("__struct__") {
                    continue;
                }
                let key = match k {
                    Term::Atom(a) => a.as_str().to_string(),
                    Term::Binary(b) => std::str::from_utf8(b)
                        .map_err(|_| Unencodable("a map key that is not UTF-8".into()))?
                        .to_string(),
                    Term::Int(i) => i.to_string(),
                    other => return Err(Unencodable(format!("the map key {other}"))),
                };
                o.insert(key, term_to_json(v)?);
            }
            Value::Object(o)
        }
        other => return Err(Unencodable(other.to_string())),
    })
}
