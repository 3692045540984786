//! The serde bridge: Rust values to terms and back.
//!
//! | Rust | Erlang term |
//! |---|---|
//! | `bool` | the atoms `true` / `false` |
//! | integers | integers (`u128`/`i128` as bignums when needed) |
//! | `f32`, `f64` | floats |
//! | `char` | an integer (its code point), like `$a` |
//! | `String`, `&str` | a UTF-8 binary (an Elixir string) |
//! | bytes (`serde_bytes`) | a binary |
//! | `None`, `()` | the atom `nil` (Elixir's); `undefined` and `nil` both read as `None` |
//! | `Some(x)` | `x` |
//! | unit struct `S` | the atom `nil` |
//! | newtype struct `S(x)` | `x` |
//! | tuple, tuple struct | a tuple |
//! | `Vec<T>`, sequences | a proper list |
//! | maps | a map (keys may be any term) |
//! | struct `S { a, b }` | a map with atom keys: `#{a => .., b => ..}` |
//! | unit variant `E::A` | the atom `'A'` (use `#[serde(rename_all = "snake_case")]` for `a`) |
//! | newtype variant `E::A(x)` | `{'A', x}` |
//! | tuple variant `E::A(x, y)` | `{'A', x, y}` |
//! | struct variant `E::A { x }` | `{'A', #{x => ..}}` |
//! | [`Atom`](crate::Atom) | an atom |
//! | [`Term`](crate::Term) | itself, unchanged (pids, refs and all) |
//!
//! When reading, a string also accepts an atom or a charlist, a sequence
//! accepts a list or a tuple, and a struct ignores keys it does not know.
//!
//! **Elixir structs** are maps with a `__struct__` key: `%MyApp.User{name:
//! "x"}` is `#{'__struct__' => 'Elixir.MyApp.User', name => <<"x">>}`. A
//! Rust struct reads it as it is (the `__struct__` key is ignored); to write
//! one, add a field `#[serde(rename = "__struct__")] r#struct: Atom` holding
//! `Atom::new("Elixir.MyApp.User")`.

mod de;
mod ser;

use std::fmt;

pub use de::from_term;
pub use ser::to_term;

/// Name of the newtype that carries an [`Atom`](crate::Atom) through serde.
pub(crate) const ATOM_TOKEN: &str = "$nodus_term::Atom";
/// Name of the newtype that carries a raw [`Term`](crate::Term) through serde.
pub(crate) const TERM_TOKEN: &str = "$nodus_term::Term";

/// A serde conversion error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(pub String);

impl ::serde::ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error(msg.to_string())
    }
}

impl ::serde::de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Error {
        Error(msg.to_string())
    }
}
