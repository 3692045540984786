//! [`Seq`]: the elements of a tuple or of a proper list, shared.
//!
//! Terms are immutable, so a tuple or a list need not be copied to be
//! sent: a clone of a [`Seq`] is a reference count bumped, not a copy of
//! its elements. This is what a BEAM literal or a shared off-heap binary
//! gives: a message sent to many processes (a PubSub broadcast, a send
//! in a loop) is built once and read by all. The empty sequence (`[]`,
//! `{}`) allocates nothing.
//!
//! Reading goes through [`std::ops::Deref`] to `[Term]` (`len`, `iter`,
//! indexing, slice patterns on [`Seq::as_slice`]). Changing a sequence
//! copies it first when it is shared ([`Seq::make_mut`]), and
//! [`Seq::into_vec`] takes the elements out without a copy when it is
//! not.

use std::ops::Deref;
use std::sync::Arc;

use crate::term::Term;

/// The elements of a tuple or proper list; cheap to clone (shared).
#[derive(Clone, Default)]
pub struct Seq(Option<Arc<Vec<Term>>>);

impl Seq {
    /// The empty sequence.
    pub const fn new() -> Seq {
        Seq(None)
    }

    /// The elements.
    pub fn as_slice(&self) -> &[Term] {
        match &self.0 {
            Some(v) => v,
            None => &[],
        }
    }

    /// The elements, to change: copied first if another term shares them.
    pub fn make_mut(&mut self) -> &mut Vec<Term> {
        Arc::make_mut(self.0.get_or_insert_with(Default::default))
    }

    /// The elements as a vector: moved out when this is their only
    /// holder, copied when they are shared.
    pub fn into_vec(self) -> Vec<Term> {
        match self.0 {
            Some(v) => Arc::unwrap_or_clone(v),
            None => Vec::new(),
        }
    }

    /// Counts one more holder of the elements, for a bitwise copy of this
    /// sequence that becomes that holder ([`Term`]'s clone).
    #[inline]
    pub(crate) fn add_holder(&self) {
        if let Some(v) = &self.0 {
            std::mem::forget(Arc::clone(v));
        }
    }

    /// True when both hold the very same elements (not a copy).
    pub fn ptr_eq(&self, other: &Seq) -> bool {
        match (&self.0, &other.0) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl Deref for Seq {
    type Target = [Term];
    fn deref(&self) -> &[Term] {
        self.as_slice()
    }
}

impl AsRef<[Term]> for Seq {
    fn as_ref(&self) -> &[Term] {
        self.as_slice()
    }
}

impl From<Vec<Term>> for Seq {
    fn from(v: Vec<Term>) -> Seq {
        if v.is_empty() {
            Seq(None)
        } else {
            Seq(Some(Arc::new(v)))
        }
    }
}

impl From<&[Term]> for Seq {
    fn from(v: &[Term]) -> Seq {
        Seq::from(v.to_vec())
    }
}

impl<const N: usize> From<[Term; N]> for Seq {
    fn from(v: [Term; N]) -> Seq {
        Seq::from(Vec::from(v))
    }
}

impl From<Seq> for Vec<Term> {
    fn from(s: Seq) -> Vec<Term> {
        s.into_vec()
    }
}

impl FromIterator<Term> for Seq {
    fn from_iter<I: IntoIterator<Item = Term>>(iter: I) -> Seq {
        Seq::from(iter.into_iter().collect::<Vec<Term>>())
    }
}

impl IntoIterator for Seq {
    type Item = Term;
    type IntoIter = std::vec::IntoIter<Term>;
    fn into_iter(self) -> Self::IntoIter {
        self.into_vec().into_iter()
    }
}

impl<'a> IntoIterator for &'a Seq {
    type Item = &'a Term;
    type IntoIter = std::slice::Iter<'a, Term>;
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl PartialEq for Seq {
    /// Element by element, with [`Term`]'s `=:=`.
    fn eq(&self, other: &Seq) -> bool {
        self.ptr_eq(other) || self.as_slice() == other.as_slice()
    }
}

impl Eq for Seq {}

impl std::fmt::Debug for Seq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clone_shares_and_a_change_copies() {
        let a = Seq::from(vec![Term::Int(1), Term::Int(2)]);
        let mut b = a.clone();
        assert!(a.ptr_eq(&b));
        b.make_mut().push(Term::Int(3));
        assert!(!a.ptr_eq(&b));
        assert_eq!(a.len(), 2);
        assert_eq!(b.as_slice(), &[Term::Int(1), Term::Int(2), Term::Int(3)]);
    }

    #[test]
    fn the_empty_sequence_is_empty_whichever_way_it_is_made() {
        let a = Seq::new();
        let b = Seq::from(Vec::new());
        let mut c = Seq::from(vec![Term::Int(1)]);
        c.make_mut().clear();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert!(a.is_empty() && c.is_empty());
        assert!(a.into_vec().is_empty());
    }

    #[test]
    fn a_cloned_term_holds_its_tuple_and_list_as_long_as_it_lives() {
        // Term's clone copies a tuple or list bit for bit and counts the
        // copy as a holder: dropping the original (or the clone) first
        // leaves the other whole, and the last one frees the elements.
        let held = Term::Binary(bytes::Bytes::from_static(b"b"));
        let elems = vec![
            Term::atom("a"),
            held,
            Term::Ref(Arc::new(crate::Reference {
                node: crate::Atom::new("n@h"),
                creation: 1,
                ids: vec![1],
            })),
        ];
        for make in [Term::tuple as fn(Vec<Term>) -> Term, Term::list] {
            let original = make(elems.clone());
            let copies: Vec<Term> = (0..3).map(|_| original.clone()).collect();
            let (Term::Tuple(s) | Term::List(s)) = &original else {
                panic!("not a sequence")
            };
            let counted = s.0.as_ref().map(Arc::strong_count);
            assert_eq!(counted, Some(4), "the original and three clones");
            drop(original);
            for c in &copies {
                let (Term::Tuple(s) | Term::List(s)) = c else {
                    panic!("not a sequence")
                };
                assert_eq!(s.as_slice(), elems.as_slice());
                assert_eq!(s.0.as_ref().map(Arc::strong_count), Some(3));
            }
            let weak = match &copies[0] {
                Term::Tuple(s) | Term::List(s) => s.0.as_ref().map(Arc::downgrade),
                _ => None,
            };
            drop(copies);
            assert!(
                weak.is_some_and(|w| w.upgrade().is_none()),
                "freed with the last"
            );
        }
        // The kinds copied whole without a count.
        let p = crate::Pid {
            node: crate::Atom::new("n@h"),
            id: 1,
            serial: 2,
            creation: 3,
        };
        for t in [
            Term::atom("x"),
            Term::Int(-7),
            Term::Float(1.5),
            Term::Pid(p),
            Term::tuple(vec![]),
        ] {
            assert_eq!(t.clone(), t);
        }
    }

    #[test]
    fn into_vec_moves_the_only_holder_out_and_copies_a_shared_one() {
        let a = Seq::from(vec![Term::atom("x")]);
        let b = a.clone();
        assert_eq!(a.into_vec(), vec![Term::atom("x")]);
        assert_eq!(b.into_vec(), vec![Term::atom("x")]);
    }
}
