//! `dist_ac`'s record of a distributed application, `#appl{}`, as it
//! travels between `dist_ac` processes in `dist_ac_new_node`:
//! `{appl, Name, Id, RestartTime, Nodes, Run}`, and the kernel's
//! `distributed` specs it is made from.

use nodus_term::{Atom, Term};

/// Where a distributed application is, as `dist_ac` sees it (`#appl.id`).
#[derive(Debug, Clone, PartialEq)]
pub enum Id {
    /// Not running anywhere this node knows of (`undefined`).
    Undefined,
    /// Running here (`local`).
    Local,
    /// Running on another node (`{distributed, Node}`).
    Distributed(Atom),
    /// Its node went down; waiting for the restart time (`{failover, Node}`).
    Failover(Atom),
    /// A takeover asked for here is in progress (`takeover`).
    Takeover,
    /// Being started here (`run_waiting`).
    RunWaiting,
}

impl Id {
    pub(crate) fn to_term(&self) -> Term {
        let pair = |t: &str, n: &Atom| Term::tuple(vec![Term::atom(t), Term::Atom(n.clone())]);
        match self {
            Id::Undefined => Term::atom("undefined"),
            Id::Local => Term::atom("local"),
            Id::Distributed(n) => pair("distributed", n),
            Id::Failover(n) => pair("failover", n),
            Id::Takeover => Term::atom("takeover"),
            Id::RunWaiting => Term::atom("run_waiting"),
        }
    }

    fn from_term(t: &Term) -> Id {
        match t {
            Term::Atom(a) => match a.as_str() {
                "local" => Id::Local,
                "takeover" => Id::Takeover,
                "run_waiting" => Id::RunWaiting,
                _ => Id::Undefined,
            },
            _ => match t.as_tuple() {
                Some([k, Term::Atom(n)]) if k.is_atom("distributed") => Id::Distributed(n.clone()),
                Some([k, Term::Atom(n)]) if k.is_atom("failover") => Id::Failover(n.clone()),
                _ => Id::Undefined,
            },
        }
    }
}

/// A node's permission to run an application, as `#appl.run` keeps it:
/// `true`, `false`, or `undefined` (it has not loaded it).
pub type Permission = Option<bool>;

pub(crate) fn perm_term(p: Permission) -> Term {
    match p {
        Some(true) => Term::atom("true"),
        Some(false) => Term::atom("false"),
        None => Term::atom("undefined"),
    }
}

pub(crate) fn perm_from(t: &Term) -> Permission {
    if t.is_atom("true") {
        Some(true)
    } else if t.is_atom("false") {
        Some(false)
    } else {
        None
    }
}

/// One entry of a node list: a node, or a tuple of nodes of equal
/// priority.
#[derive(Debug, Clone, PartialEq)]
pub enum Priority {
    /// One node.
    One(Atom),
    /// Nodes of equal priority: the one running the fewest applications
    /// wins.
    Any(Vec<Atom>),
}

/// The restart time of a distributed application: `infinity` never
/// fails over.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RestartTime {
    /// Milliseconds.
    Ms(u64),
    /// Never restarted elsewhere.
    Infinity,
}

/// `#appl{}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Appl {
    pub(crate) name: Atom,
    pub(crate) id: Id,
    pub(crate) restart_time: RestartTime,
    pub(crate) nodes: Vec<Priority>,
    pub(crate) run: Vec<(Atom, Permission)>,
}

/// The node list as a term: `[a@h, {b@h, c@h}]`.
pub(crate) fn nodes_term(nodes: &[Priority]) -> Term {
    Term::List(
        nodes
            .iter()
            .map(|p| match p {
                Priority::One(n) => Term::Atom(n.clone()),
                Priority::Any(v) => Term::Tuple(v.iter().cloned().map(Term::Atom).collect()),
            })
            .collect(),
    )
}

/// Reads a node list; `None` if it is not a list of atoms and tuples of
/// atoms.
pub(crate) fn nodes_from(t: &Term) -> Option<Vec<Priority>> {
    t.as_list()?
        .iter()
        .map(|e| match e {
            Term::Atom(a) => Some(Priority::One(a.clone())),
            Term::Tuple(v) => v
                .iter()
                .map(|x| x.as_atom().map(Atom::new))
                .collect::<Option<Vec<_>>>()
                .map(Priority::Any),
            _ => None,
        })
        .collect()
}

/// `flat_nodes/1`: every node of a list, tuples opened.
pub(crate) fn flat(nodes: &[Priority]) -> Vec<Atom> {
    let mut v = Vec::new();
    for p in nodes {
        match p {
            Priority::One(n) => v.push(n.clone()),
            Priority::Any(ns) => v.extend(ns.iter().cloned()),
        }
    }
    v
}

/// `equal_nodes/2`: the same order, tuples compared as sets.
pub(crate) fn equal_nodes(a: &[Priority], b: &[Priority]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| match (x, y) {
            (Priority::One(m), Priority::One(n)) => m == n,
            (Priority::Any(m), Priority::Any(n)) => {
                m.len() == n.len() && m.iter().all(|x| n.contains(x))
            }
            _ => false,
        })
}

impl Appl {
    /// The record as `dist_ac` sends it.
    pub(crate) fn to_term(&self) -> Term {
        Term::tuple(vec![
            Term::atom("appl"),
            Term::Atom(self.name.clone()),
            self.id.to_term(),
            match self.restart_time {
                RestartTime::Ms(ms) => Term::from(ms as i64),
                RestartTime::Infinity => Term::atom("infinity"),
            },
            nodes_term(&self.nodes),
            Term::List(
                self.run
                    .iter()
                    .map(|(n, p)| Term::tuple(vec![Term::Atom(n.clone()), perm_term(*p)]))
                    .collect(),
            ),
        ])
    }

    /// Reads a record sent by a peer; `None` if it is not one.
    pub(crate) fn from_term(t: &Term) -> Option<Appl> {
        let [tag, Term::Atom(name), id, time, nodes, run] = t.as_tuple()? else {
            return None;
        };
        if !tag.is_atom("appl") {
            return None;
        }
        let restart_time = match time {
            Term::Int(ms) if *ms >= 0 => RestartTime::Ms(*ms as u64),
            t if t.is_atom("infinity") => RestartTime::Infinity,
            _ => RestartTime::Ms(0),
        };
        let run = run
            .as_list()?
            .iter()
            .filter_map(|e| match e.as_tuple() {
                Some([Term::Atom(n), p]) => Some((n.clone(), perm_from(p))),
                _ => None,
            })
            .collect();
        Some(Appl {
            name: name.clone(),
            id: Id::from_term(id),
            restart_time,
            nodes: nodes_from(nodes)?,
            run,
        })
    }
}

/// One entry of the kernel's `distributed` parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct DistSpec {
    /// The application.
    pub app: Atom,
    /// How long to wait after its node went down before starting it
    /// elsewhere.
    pub restart_time: RestartTime,
    /// The nodes, highest priority first.
    pub nodes: Vec<Priority>,
}

impl DistSpec {
    /// Reads `{App, Nodes}`, `{App, Time, Nodes}` or `{App, infinity,
    /// Nodes}`; an error that says what is wrong otherwise.
    pub fn from_term(t: &Term) -> Result<DistSpec, String> {
        let bad = || {
            format!("bad distributed entry {t}: expected {{App, Nodes}} or {{App, Time, Nodes}}")
        };
        let (app, time, nodes) = match t.as_tuple() {
            Some([Term::Atom(a), n]) => (a, RestartTime::Ms(0), n),
            Some([Term::Atom(a), Term::Int(ms), n]) if *ms >= 0 => {
                (a, RestartTime::Ms(*ms as u64), n)
            }
            Some([Term::Atom(a), i, n]) if i.is_atom("infinity") => (a, RestartTime::Infinity, n),
            _ => return Err(bad()),
        };
        let nodes = nodes_from(nodes).ok_or_else(bad)?;
        Ok(DistSpec {
            app: app.clone(),
            restart_time: time,
            nodes,
        })
    }

    /// As a `sys.config` writes it.
    pub fn to_term(&self) -> Term {
        let nodes = nodes_term(&self.nodes);
        match self.restart_time {
            RestartTime::Ms(0) => Term::tuple(vec![Term::Atom(self.app.clone()), nodes]),
            RestartTime::Ms(ms) => Term::tuple(vec![
                Term::Atom(self.app.clone()),
                Term::from(ms as i64),
                nodes,
            ]),
            RestartTime::Infinity => Term::tuple(vec![
                Term::Atom(self.app.clone()),
                Term::atom("infinity"),
                nodes,
            ]),
        }
    }

    /// Reads the whole `distributed` list, written as Erlang text
    /// (`[{demo, 2000, ['a@h', {'b@h', 'c@h'}]}]`).
    pub fn parse_list(text: &str) -> Result<Vec<DistSpec>, String> {
        let t = nodus_term::text::parse_term(text).map_err(|e| format!("distributed: {e}"))?;
        let l = t
            .as_list()
            .ok_or_else(|| format!("distributed: expected a list, got {t}"))?;
        l.iter().map(DistSpec::from_term).collect()
    }
}
