//! [`Term`] and its parts: every value a BEAM peer can send.

use bytes::Bytes;
use num_bigint::BigInt;
use num_traits::ToPrimitive;

use crate::atom::Atom;
pub use crate::seq::Seq;

/// An Erlang term.
///
/// Invariants kept by every constructor in this crate (and expected of
/// hand-built values): an [`Term::Int`] holds every integer that fits in
/// `i64` and a [`Term::BigInt`] only those that do not; a
/// [`Term::BitString`] has 1 to 7 bits in its last byte (a whole number of
/// bytes is a [`Term::Binary`]); an [`Term::ImproperList`] has at least one
/// element and a tail that is not a list; a [`Map`] has sorted, unique keys.
/// Use [`Term::integer`], [`Term::bitstring`] and [`Term::improper_list`] to
/// have them kept for you.
///
/// Equality is Erlang's `=:=` and ordering is Erlang's term order, refined
/// so that terms that are `==` but not `=:=` (such as `1` and `1.0`) still
/// have a fixed order (see [`crate::order`]).
pub enum Term {
    /// An atom, such as `ok`.
    Atom(Atom),
    /// An integer that fits in 64 bits.
    Int(i64),
    /// An integer that does not fit in 64 bits.
    BigInt(Box<BigInt>),
    /// A finite double.
    Float(f64),
    /// A binary: a whole number of bytes.
    Binary(Bytes),
    /// A bitstring whose length is not a whole number of bytes.
    BitString(Box<BitString>),
    /// A proper list; the empty sequence is `[]` (nil). Shared: a clone
    /// does not copy the elements (see [`Seq`]).
    List(Seq),
    /// An improper list such as `[a, b | c]`.
    ImproperList(Box<ImproperList>),
    /// A tuple. Shared: a clone does not copy the elements (see [`Seq`]).
    Tuple(Seq),
    /// A map.
    Map(Map),
    /// A process identifier.
    Pid(Pid),
    /// A port identifier.
    Port(Box<Port>),
    /// A reference.
    Ref(std::sync::Arc<Reference>),
    /// An external fun, `fun Module:Function/Arity`.
    ExternalFun(Box<ExternalFun>),
    /// A local fun (a closure): kept byte for byte, never callable here.
    LocalFun(Box<LocalFun>),
}

impl Clone for Term {
    /// Inlined where it is called. The common kinds (atoms, small
    /// integers, floats, pids, tuples and lists) are copied whole, bit for
    /// bit, with the count of a shared sequence bumped: copied that way,
    /// the clone is written in the same pattern of stores as a move of it
    /// reads, so moving the clone on (into a mailbox, as a send does)
    /// does not stall the processor waiting for the stores, as a clone
    /// written field by field does.
    #[inline]
    fn clone(&self) -> Self {
        match self {
            Term::Atom(_) | Term::Int(_) | Term::Float(_) | Term::Pid(_) => {}
            Term::Tuple(s) | Term::List(s) => s.add_holder(),
            other => return other.clone_boxed(),
        }
        // SAFETY: the kinds above hold only plain data (an atom is a
        // `&'static str`; a pid an atom and integers), which a bitwise
        // copy clones, or a shared sequence, whose count of holders was
        // bumped just above for the copy to be one.
        unsafe { std::ptr::read(self) }
    }
}

impl Term {
    /// The clone of the kinds [`Clone::clone`] does not inline.
    #[inline(never)]
    fn clone_boxed(&self) -> Self {
        match self {
            Term::Atom(a) => Term::Atom(a.clone()),
            Term::Int(i) => Term::Int(*i),
            Term::BigInt(b) => Term::BigInt(b.clone()),
            Term::Float(f) => Term::Float(*f),
            Term::Binary(b) => Term::Binary(b.clone()),
            Term::BitString(b) => Term::BitString(b.clone()),
            Term::List(l) => Term::List(l.clone()),
            Term::ImproperList(l) => Term::ImproperList(l.clone()),
            Term::Tuple(t) => Term::Tuple(t.clone()),
            Term::Map(m) => Term::Map(m.clone()),
            Term::Pid(p) => Term::Pid(p.clone()),
            Term::Port(p) => Term::Port(p.clone()),
            Term::Ref(r) => Term::Ref(r.clone()),
            Term::ExternalFun(f) => Term::ExternalFun(f.clone()),
            Term::LocalFun(f) => Term::LocalFun(f.clone()),
        }
    }
}

/// A bitstring: `data` holds the bits, `bits` (1..=7) says how many bits of
/// the last byte are used, most significant first. Unused bits are zero.
#[derive(Clone, Debug)]
pub struct BitString {
    /// The bytes; the last one is partly used.
    pub data: Bytes,
    /// Used bits in the last byte, 1..=7.
    pub bits: u8,
}

impl BitString {
    /// The length in bits.
    pub fn bit_len(&self) -> u64 {
        (self.data.len() as u64 - 1) * 8 + u64::from(self.bits)
    }
}

/// An improper list: `[e1, ..., en | tail]` with n ≥ 1 and a non-list tail.
#[derive(Clone, Debug)]
pub struct ImproperList {
    /// The elements before the `|`.
    pub elements: Vec<Term>,
    /// The tail after the `|`; never a list.
    pub tail: Term,
}

/// A map: key-value pairs sorted by key in map-key order (see
/// [`crate::order::cmp_exact`]), with no key twice.
///
/// For maps of at most 32 keys this is the order in which BEAM stores and
/// encodes them, so that encoding matches `term_to_binary/1` byte for byte.
#[derive(Clone, Debug, Default)]
pub struct Map {
    entries: Vec<(Term, Term)>,
}

impl Map {
    /// The empty map.
    pub fn new() -> Map {
        Map::default()
    }

    /// Builds a map from pairs; a key given twice keeps its last value, as in
    /// `maps:from_list/1`.
    pub fn from_pairs(mut pairs: Vec<(Term, Term)>) -> Map {
        // A stable sort keeps the later of equal keys last.
        pairs.sort_by(|a, b| crate::order::cmp_exact(&a.0, &b.0));
        let mut entries: Vec<(Term, Term)> = Vec::with_capacity(pairs.len());
        for (k, v) in pairs {
            match entries.last_mut() {
                Some(last) if crate::order::cmp_exact(&last.0, &k).is_eq() => *last = (k, v),
                _ => entries.push((k, v)),
            }
        }
        Map { entries }
    }

    /// Builds a map from pairs, or hands back the first key given twice.
    pub fn try_from_unique(mut pairs: Vec<(Term, Term)>) -> Result<Map, Term> {
        let sorted = pairs
            .windows(2)
            .all(|w| crate::order::cmp_exact(&w[0].0, &w[1].0).is_lt());
        if !sorted {
            pairs.sort_by(|a, b| crate::order::cmp_exact(&a.0, &b.0));
            for w in pairs.windows(2) {
                if crate::order::cmp_exact(&w[0].0, &w[1].0).is_eq() {
                    return Err(w[0].0.clone());
                }
            }
        }
        Ok(Map { entries: pairs })
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True for `#{}`.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value under `key` (matched with `=:=`).
    pub fn get(&self, key: &Term) -> Option<&Term> {
        self.entries
            .binary_search_by(|(k, _)| crate::order::cmp_exact(k, key))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// Sets `key` to `value`, returning the old value.
    pub fn insert(&mut self, key: Term, value: Term) -> Option<Term> {
        match self
            .entries
            .binary_search_by(|(k, _)| crate::order::cmp_exact(k, &key))
        {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &Term) -> Option<Term> {
        match self
            .entries
            .binary_search_by(|(k, _)| crate::order::cmp_exact(k, key))
        {
            Ok(i) => Some(self.entries.remove(i).1),
            Err(_) => None,
        }
    }

    /// The pairs in key order.
    pub fn iter(&self) -> std::slice::Iter<'_, (Term, Term)> {
        self.entries.iter()
    }

    /// The pairs in key order, as a slice.
    pub fn entries(&self) -> &[(Term, Term)] {
        &self.entries
    }

    /// Takes the pairs out, in key order.
    pub fn into_entries(self) -> Vec<(Term, Term)> {
        self.entries
    }
}

impl<'a> IntoIterator for &'a Map {
    type Item = &'a (Term, Term);
    type IntoIter = std::slice::Iter<'a, (Term, Term)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.iter()
    }
}

/// A process identifier.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pid {
    /// The node the process lives on.
    pub node: Atom,
    /// The process number.
    pub id: u32,
    /// The serial (wraps of the number space).
    pub serial: u32,
    /// The node incarnation (from EPMD).
    pub creation: u32,
}

/// A port identifier.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Port {
    /// The node the port lives on.
    pub node: Atom,
    /// The port number (up to 64 bits with `V4_PORT_EXT`).
    pub id: u64,
    /// The node incarnation.
    pub creation: u32,
}

/// A reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    /// The node that made the reference.
    pub node: Atom,
    /// The node incarnation.
    pub creation: u32,
    /// The reference words (1 to 5), as on the wire.
    pub ids: Vec<u32>,
}

/// An external fun, `fun Module:Function/Arity`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExternalFun {
    /// The module.
    pub module: Atom,
    /// The function.
    pub function: Atom,
    /// The arity.
    pub arity: u8,
}

/// A local fun (closure) as `NEW_FUN_EXT` carries it. nodus cannot call it,
/// but keeps every field so that it goes back out byte for byte.
#[derive(Clone, Debug)]
pub struct LocalFun {
    /// The arity.
    pub arity: u8,
    /// The MD5 of the module's code.
    pub uniq: [u8; 16],
    /// The index in the module's fun table.
    pub index: u32,
    /// The module that defines the fun.
    pub module: Atom,
    /// The old index (an integer term).
    pub old_index: Term,
    /// The old uniq (an integer term).
    pub old_uniq: Term,
    /// The creator process (a pid term).
    pub pid: Term,
    /// The captured free variables.
    pub free_vars: Vec<Term>,
}

impl Term {
    /// The atom with text `name`.
    ///
    /// # Panics
    /// If `name` has more than 255 characters; see [`Atom::try_new`].
    pub fn atom(name: &str) -> Term {
        Term::Atom(Atom::new(name))
    }

    /// The atom `name`, or why it cannot be one (more than 255
    /// characters, or the atom table full): the constructor for names
    /// that come from input.
    pub fn try_atom(name: &str) -> Result<Term, crate::atom::AtomError> {
        Atom::try_new(name).map(Term::Atom)
    }

    /// `[]`.
    pub fn nil() -> Term {
        Term::List(Seq::new())
    }

    /// A charlist (Erlang's `"text"`): the code points of `s`.
    pub fn charlist(s: &str) -> Term {
        Term::List(
            s.chars()
                .map(|c| Term::Int(i64::from(u32::from(c))))
                .collect(),
        )
    }

    /// The text of a charlist (`[]` is `""`); `None` for anything else.
    pub fn as_charlist(&self) -> Option<String> {
        match self {
            Term::List(l) => l
                .iter()
                .map(|e| match e {
                    Term::Int(c) => u32::try_from(*c).ok().and_then(char::from_u32),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }

    /// A binary holding a copy of `data`.
    pub fn binary(data: impl AsRef<[u8]>) -> Term {
        Term::Binary(Bytes::copy_from_slice(data.as_ref()))
    }

    /// A tuple.
    pub fn tuple(elements: Vec<Term>) -> Term {
        Term::Tuple(Seq::from(elements))
    }

    /// A proper list.
    pub fn list(elements: Vec<Term>) -> Term {
        Term::List(Seq::from(elements))
    }

    /// An integer, stored as [`Term::Int`] when it fits in 64 bits.
    pub fn integer(n: BigInt) -> Term {
        match n.to_i64() {
            Some(i) => Term::Int(i),
            None => Term::BigInt(Box::new(n)),
        }
    }

    /// A bitstring of `bit_len` bits taken from `data` (extra bits are
    /// cleared); a whole number of bytes gives a [`Term::Binary`].
    /// Returns `None` when `data` holds fewer than `bit_len` bits.
    pub fn bitstring(data: &[u8], bit_len: u64) -> Option<Term> {
        let bytes = usize::try_from(bit_len.div_ceil(8)).ok()?;
        if bytes > data.len() {
            return None;
        }
        let rem = (bit_len % 8) as u8;
        if rem == 0 {
            return Some(Term::binary(&data[..bytes]));
        }
        let mut v = data[..bytes].to_vec();
        if let Some(last) = v.last_mut() {
            *last &= 0xFFu8 << (8 - rem);
        }
        Some(Term::BitString(Box::new(BitString {
            data: Bytes::from(v),
            bits: rem,
        })))
    }

    /// A list of `elements` ending in `tail`, normalised: a list tail is
    /// spliced in, and a `[]` tail gives a proper list.
    pub fn improper_list(mut elements: Vec<Term>, tail: Term) -> Term {
        match tail {
            Term::List(rest) => {
                elements.extend(rest);
                Term::list(elements)
            }
            Term::ImproperList(il) => {
                let ImproperList {
                    elements: rest,
                    tail,
                } = *il;
                elements.extend(rest);
                Term::ImproperList(Box::new(ImproperList { elements, tail }))
            }
            tail if elements.is_empty() => tail,
            tail => Term::ImproperList(Box::new(ImproperList { elements, tail })),
        }
    }

    /// The atom's text, if this is an atom.
    pub fn as_atom(&self) -> Option<&str> {
        match self {
            Term::Atom(a) => Some(a.as_str()),
            _ => None,
        }
    }

    /// True when the term is this atom.
    pub fn is_atom(&self, name: &str) -> bool {
        matches!(self, Term::Atom(a) if a.as_str() == name)
    }

    /// The integer value, if this is an integer that fits in `i64`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Term::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The tuple's elements, if this is a tuple.
    pub fn as_tuple(&self) -> Option<&[Term]> {
        match self {
            Term::Tuple(t) => Some(t),
            _ => None,
        }
    }

    /// The elements of a proper list (the empty slice for `[]`).
    pub fn as_list(&self) -> Option<&[Term]> {
        match self {
            Term::List(l) => Some(l),
            _ => None,
        }
    }

    /// The bytes of a binary.
    pub fn as_binary(&self) -> Option<&[u8]> {
        match self {
            Term::Binary(b) => Some(b),
            _ => None,
        }
    }

    /// The map, if this is a map.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Term::Map(m) => Some(m),
            _ => None,
        }
    }
}

impl From<Atom> for Term {
    fn from(a: Atom) -> Term {
        Term::Atom(a)
    }
}

impl From<i64> for Term {
    fn from(i: i64) -> Term {
        Term::Int(i)
    }
}

impl From<i32> for Term {
    fn from(i: i32) -> Term {
        Term::Int(i64::from(i))
    }
}

impl From<u64> for Term {
    fn from(u: u64) -> Term {
        match i64::try_from(u) {
            Ok(i) => Term::Int(i),
            Err(_) => Term::BigInt(Box::new(BigInt::from(u))),
        }
    }
}

impl From<BigInt> for Term {
    fn from(n: BigInt) -> Term {
        Term::integer(n)
    }
}

impl From<f64> for Term {
    fn from(f: f64) -> Term {
        Term::Float(f)
    }
}

impl From<Bytes> for Term {
    fn from(b: Bytes) -> Term {
        Term::Binary(b)
    }
}

impl From<Map> for Term {
    fn from(m: Map) -> Term {
        Term::Map(m)
    }
}

impl From<Pid> for Term {
    fn from(p: Pid) -> Term {
        Term::Pid(p)
    }
}

impl From<Reference> for Term {
    fn from(r: Reference) -> Term {
        Term::Ref(std::sync::Arc::new(r))
    }
}

impl<T: Into<Term>> From<Vec<T>> for Term {
    /// A proper list.
    fn from(v: Vec<T>) -> Term {
        Term::List(v.into_iter().map(Into::into).collect())
    }
}

impl From<&str> for Term {
    /// A UTF-8 binary (an Elixir string), as serde writes a `&str`.
    fn from(s: &str) -> Term {
        Term::binary(s.as_bytes())
    }
}

impl From<String> for Term {
    /// A UTF-8 binary (an Elixir string).
    fn from(s: String) -> Term {
        Term::binary(s.into_bytes())
    }
}

impl From<bool> for Term {
    /// The atom `true` or `false`.
    fn from(b: bool) -> Term {
        Term::atom(if b { "true" } else { "false" })
    }
}

impl From<&Atom> for Term {
    fn from(a: &Atom) -> Term {
        Term::Atom(a.clone())
    }
}

impl From<&Pid> for Term {
    fn from(p: &Pid) -> Term {
        Term::Pid(p.clone())
    }
}

macro_rules! tuple_from {
    ($($t:ident),+) => {
        impl<$($t: Into<Term>),+> From<($($t,)+)> for Term {
            /// A tuple of the converted elements.
            #[allow(non_snake_case)]
            fn from(($($t,)+): ($($t,)+)) -> Term {
                Term::tuple(vec![$($t.into()),+])
            }
        }
    };
}
tuple_from!(A);
tuple_from!(A, B);
tuple_from!(A, B, C);
tuple_from!(A, B, C, D);
tuple_from!(A, B, C, D, E);
tuple_from!(A, B, C, D, E, F);

/// The atom `name` as a term, for literals (`atom("ok")`); it panics on a
/// name longer than 255 characters, so build atoms from input with
/// [`Atom::try_new`].
pub fn atom(name: &str) -> Term {
    Term::atom(name)
}

impl std::fmt::Debug for Term {
    /// Erlang syntax, as `Display` (`{ok,<<"Ada">>}`), so that test
    /// failures and logs read as a BEAM shell would print the term.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}
