//! Erlang term order and exact equality (`=:=`).
//!
//! Answers to `erts_cmp` in ERTS (`utils.c`). Two comparisons exist on BEAM:
//! the arithmetic one behind `<` and `==`, where `1 == 1.0`, and the exact
//! one behind `=:=` and map keys, where every integer sorts before every
//! float. nodus's [`Ord`] for [`Term`] is the arithmetic order, with ties
//! between terms that are `==` but not `=:=` broken by the exact order, so
//! that it is a total order that agrees with Erlang's `<` and whose
//! equality is `=:=`.
//!
//! The order of classes: number < atom < reference < fun < port < pid <
//! tuple < map < nil < list < bitstring. Within a class, as OTP 25 does:
//! pids by serial, number, node, creation; ports and references by node and
//! creation first; maps by size, then keys (exactly), then values.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

use num_bigint::BigInt;
use num_traits::{FromPrimitive, Signed, Zero};

use crate::term::{BitString, LocalFun, Reference, Term};

/// Compares in Erlang's arithmetic term order (`1 == 1.0`).
pub fn cmp_arith(a: &Term, b: &Term) -> Ordering {
    cmp_terms(a, b, false)
}

/// Compares in the exact order used for `=:=` and for map keys (every
/// integer before every float).
pub fn cmp_exact(a: &Term, b: &Term) -> Ordering {
    cmp_terms(a, b, true)
}

fn class(t: &Term) -> u8 {
    match t {
        Term::Int(_) | Term::BigInt(_) | Term::Float(_) => 0,
        Term::Atom(_) => 1,
        Term::Ref(_) => 2,
        Term::LocalFun(_) | Term::ExternalFun(_) => 3,
        Term::Port(_) => 4,
        Term::Pid(_) => 5,
        Term::Tuple(_) => 6,
        Term::Map(_) => 7,
        Term::List(l) if l.is_empty() => 8,
        Term::List(_) | Term::ImproperList(_) => 9,
        Term::Binary(_) | Term::BitString(_) => 10,
    }
}

fn cmp_terms(a: &Term, b: &Term, exact: bool) -> Ordering {
    let (ca, cb) = (class(a), class(b));
    if ca != cb {
        return ca.cmp(&cb);
    }
    match (a, b) {
        (Term::Atom(x), Term::Atom(y)) => x.cmp(y),
        (Term::Tuple(x), Term::Tuple(y)) if x.ptr_eq(y) => Ordering::Equal,
        (Term::Tuple(x), Term::Tuple(y)) => {
            x.len().cmp(&y.len()).then_with(|| cmp_seq(x, y, exact))
        }
        (Term::Map(x), Term::Map(y)) => x.len().cmp(&y.len()).then_with(|| {
            for ((ka, _), (kb, _)) in x.iter().zip(y.iter()) {
                let o = cmp_terms(ka, kb, true);
                if o.is_ne() {
                    return o;
                }
            }
            for ((_, va), (_, vb)) in x.iter().zip(y.iter()) {
                let o = cmp_terms(va, vb, exact);
                if o.is_ne() {
                    return o;
                }
            }
            Ordering::Equal
        }),
        (Term::Pid(x), Term::Pid(y)) => x
            .serial
            .cmp(&y.serial)
            .then(x.id.cmp(&y.id))
            .then_with(|| x.node.cmp(&y.node))
            .then(x.creation.cmp(&y.creation)),
        (Term::Port(x), Term::Port(y)) => x
            .node
            .as_str()
            .cmp(y.node.as_str())
            .then(x.creation.cmp(&y.creation))
            .then(x.id.cmp(&y.id)),
        (Term::Ref(x), Term::Ref(y)) if std::sync::Arc::ptr_eq(x, y) => Ordering::Equal,
        (Term::Ref(x), Term::Ref(y)) => cmp_refs(x, y, exact),
        (Term::ExternalFun(x), Term::ExternalFun(y)) => x
            .module
            .as_str()
            .cmp(y.module.as_str())
            .then_with(|| x.function.as_str().cmp(y.function.as_str()))
            .then(x.arity.cmp(&y.arity)),
        (Term::LocalFun(_), Term::ExternalFun(_)) => Ordering::Less,
        (Term::ExternalFun(_), Term::LocalFun(_)) => Ordering::Greater,
        (Term::LocalFun(x), Term::LocalFun(y)) => cmp_local_funs(x, y, exact),
        (Term::Binary(_) | Term::BitString(_), Term::Binary(_) | Term::BitString(_)) => {
            cmp_bits(bits_of(a), bits_of(b))
        }
        _ if ca == 0 => cmp_numbers(a, b, exact),
        _ => cmp_lists(a, b, exact),
    }
}

fn cmp_seq(x: &[Term], y: &[Term], exact: bool) -> Ordering {
    for (p, q) in x.iter().zip(y.iter()) {
        let o = cmp_terms(p, q, exact);
        if o.is_ne() {
            return o;
        }
    }
    x.len().cmp(&y.len())
}

/// Lists compare cell by cell, then by their tails, as cons cells do.
fn cmp_lists(a: &Term, b: &Term, exact: bool) -> Ordering {
    fn parts(t: &Term) -> (&[Term], Option<&Term>) {
        match t {
            Term::List(l) => (l, None),
            Term::ImproperList(il) => (&il.elements, Some(&il.tail)),
            _ => (&[], Some(t)),
        }
    }
    let (ea, ta) = parts(a);
    let (eb, tb) = parts(b);
    for (p, q) in ea.iter().zip(eb.iter()) {
        let o = cmp_terms(p, q, exact);
        if o.is_ne() {
            return o;
        }
    }
    let n = ea.len().min(eb.len());
    // What is left of each side: more cells, or the tail.
    match (ea.len() > n, eb.len() > n) {
        // `a` still has cells (a non-empty list), `b` is at its tail.
        (true, false) => rest_vs_tail(tb).reverse(),
        (false, true) => rest_vs_tail(ta),
        _ => match (ta, tb) {
            (None, None) => Ordering::Equal,
            (None, Some(t)) => cmp_terms(&Term::nil_ref(), t, exact),
            (Some(t), None) => cmp_terms(t, &Term::nil_ref(), exact),
            (Some(x), Some(y)) => cmp_terms(x, y, exact),
        },
    }
}

/// Orders a list's tail (`None` for `[]`) against a non-empty list.
fn rest_vs_tail(tail: Option<&Term>) -> Ordering {
    let c = tail.map_or(8, class);
    c.cmp(&9)
}

impl Term {
    fn nil_ref() -> Term {
        Term::list(Vec::new())
    }
}

fn cmp_refs(x: &Reference, y: &Reference, exact: bool) -> Ordering {
    let o = x.node.cmp(&y.node).then(x.creation.cmp(&y.creation));
    if o.is_ne() {
        return o;
    }
    // Extra high words that are zero do not count, as in ERTS.
    let (mut la, mut lb) = (x.ids.len(), y.ids.len());
    while la > lb {
        if x.ids[la - 1] != 0 {
            return Ordering::Greater;
        }
        la -= 1;
    }
    while lb > la {
        if y.ids[lb - 1] != 0 {
            return Ordering::Less;
        }
        lb -= 1;
    }
    for i in (0..la).rev() {
        let o = x.ids[i].cmp(&y.ids[i]);
        if o.is_ne() {
            return o;
        }
    }
    if exact {
        x.ids.len().cmp(&y.ids.len())
    } else {
        Ordering::Equal
    }
}

fn cmp_local_funs(x: &LocalFun, y: &LocalFun, exact: bool) -> Ordering {
    let o = x
        .module
        .as_str()
        .cmp(y.module.as_str())
        .then_with(|| cmp_terms(&x.old_index, &y.old_index, exact))
        .then_with(|| cmp_terms(&x.old_uniq, &y.old_uniq, exact))
        .then(x.free_vars.len().cmp(&y.free_vars.len()))
        .then_with(|| cmp_seq(&x.free_vars, &y.free_vars, exact));
    if o.is_ne() || !exact {
        return o;
    }
    x.index
        .cmp(&y.index)
        .then(x.uniq.cmp(&y.uniq))
        .then(x.arity.cmp(&y.arity))
        .then_with(|| cmp_terms(&x.pid, &y.pid, true))
}

fn bits_of(t: &Term) -> (&[u8], u64) {
    match t {
        Term::Binary(b) => (b, b.len() as u64 * 8),
        Term::BitString(bs) => (&bs.data, BitString::bit_len(bs)),
        _ => (&[], 0),
    }
}

fn cmp_bits((da, la): (&[u8], u64), (db, lb): (&[u8], u64)) -> Ordering {
    let n = la.min(lb);
    let whole = (n / 8) as usize;
    let o = da[..whole].cmp(&db[..whole]);
    if o.is_ne() {
        return o;
    }
    let rem = (n % 8) as u8;
    if rem > 0 {
        let mask = 0xFFu8 << (8 - rem);
        let o = (da[whole] & mask).cmp(&(db[whole] & mask));
        if o.is_ne() {
            return o;
        }
    }
    la.cmp(&lb)
}

fn cmp_floats(x: f64, y: f64) -> Ordering {
    x.partial_cmp(&y).unwrap_or_else(|| x.total_cmp(&y))
}

fn cmp_numbers(a: &Term, b: &Term, exact: bool) -> Ordering {
    match (a, b) {
        (Term::Int(x), Term::Int(y)) => x.cmp(y),
        (Term::BigInt(x), Term::BigInt(y)) => x.cmp(y),
        (Term::Int(_), Term::BigInt(y)) => {
            if y.is_negative() {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Term::BigInt(x), Term::Int(_)) => {
            if x.is_negative() {
                Ordering::Less
            } else {
                Ordering::Greater
            }
        }
        (Term::Float(x), Term::Float(y)) => cmp_floats(*x, *y),
        (Term::Float(_), _) if exact => Ordering::Greater,
        (_, Term::Float(_)) if exact => Ordering::Less,
        (Term::Int(i), Term::Float(f)) => cmp_i64_f64(*i, *f),
        (Term::Float(f), Term::Int(i)) => cmp_i64_f64(*i, *f).reverse(),
        (Term::BigInt(n), Term::Float(f)) => cmp_big_f64(n, *f),
        (Term::Float(f), Term::BigInt(n)) => cmp_big_f64(n, *f).reverse(),
        _ => Ordering::Equal,
    }
}

/// Exact comparison of an integer with a float.
fn cmp_i64_f64(i: i64, f: f64) -> Ordering {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() {
        return Ordering::Less;
    }
    if f >= TWO_63 {
        return Ordering::Less;
    }
    if f < -TWO_63 {
        return Ordering::Greater;
    }
    let t = f.trunc();
    // `t` is in [-2^63, 2^63): the cast is exact.
    let ti = t as i64;
    i.cmp(&ti).then_with(|| cmp_floats(0.0, f - t))
}

fn cmp_big_f64(n: &BigInt, f: f64) -> Ordering {
    let t = f.trunc();
    match BigInt::from_f64(t) {
        Some(tb) => n.cmp(&tb).then_with(|| cmp_floats(0.0, f - t)),
        None if f > 0.0 => Ordering::Less,
        None => Ordering::Greater,
    }
}

impl PartialEq for Term {
    /// `=:=`.
    fn eq(&self, other: &Term) -> bool {
        cmp_exact(self, other).is_eq()
    }
}

impl Eq for Term {}

impl PartialOrd for Term {
    fn partial_cmp(&self, other: &Term) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Term {
    /// Erlang's term order, ties between `==` terms broken by the exact
    /// order (see the module documentation).
    fn cmp(&self, other: &Term) -> Ordering {
        cmp_arith(self, other).then_with(|| cmp_exact(self, other))
    }
}

impl Hash for Term {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Term::Atom(a) => {
                state.write_u8(1);
                a.hash(state);
            }
            Term::Int(i) => {
                // Int and BigInt never hold the same value.
                state.write_u8(0);
                state.write_i64(*i);
            }
            Term::BigInt(n) => {
                state.write_u8(0);
                n.hash(state);
            }
            Term::Float(f) => {
                state.write_u8(11);
                let f = if f.is_zero() { 0.0 } else { *f };
                state.write_u64(f.to_bits());
            }
            Term::Binary(b) => {
                state.write_u8(10);
                b.hash(state);
                state.write_u8(8);
            }
            Term::BitString(bs) => {
                state.write_u8(10);
                bs.data.hash(state);
                state.write_u8(bs.bits);
            }
            Term::List(l) => {
                state.write_u8(9);
                l.hash(state);
            }
            Term::ImproperList(il) => {
                state.write_u8(9);
                il.elements.hash(state);
                il.tail.hash(state);
            }
            Term::Tuple(t) => {
                state.write_u8(6);
                t.hash(state);
            }
            Term::Map(m) => {
                state.write_u8(7);
                for (k, v) in m.iter() {
                    k.hash(state);
                    v.hash(state);
                }
            }
            Term::Pid(p) => p.hash(state),
            Term::Port(p) => p.hash(state),
            Term::Ref(r) => r.hash(state),
            Term::ExternalFun(f) => f.hash(state),
            Term::LocalFun(f) => {
                state.write_u8(3);
                f.module.hash(state);
                f.index.hash(state);
                f.uniq.hash(state);
                f.free_vars.hash(state);
            }
        }
    }
}
