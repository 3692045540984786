//! Registered names and aliases. Answers to ERTS's `register/2`,
//! `unregister/1`, `whereis/1`, `registered/0` and `alias/0,1`.

use nodus_term::{Atom, Pid, Term};

use crate::error::Error;
use crate::node::{lock, Node};

fn read<T>(l: &std::sync::RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

fn write<T>(l: &std::sync::RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

impl Node {
    /// `register(Name, Pid)`: fails, as BEAM's `badarg`, when the name is
    /// taken, when `pid` already has a name, or when `pid` is not a live
    /// local process.
    pub fn register(&self, name: &str, pid: &Pid) -> Result<(), Error> {
        let a = Atom::try_new(name).map_err(|e| Error::Register {
            name: name.into(),
            reason: e.to_string(),
        })?;
        let fail = |reason: String| Error::Register {
            name: name.into(),
            reason,
        };
        let entry = self
            .local_entry(pid)
            .ok_or_else(|| fail(format!("{pid} is not a live process of this node")))?;
        let mut names = write(&self.0.erts.names);
        if let Some(holder) = names.get(&a) {
            return Err(fail(format!("the name is already registered to {holder}")));
        }
        let mut st = lock(&entry.state);
        if let Some(old) = &st.name {
            return Err(fail(format!("{pid} is already registered as {old}")));
        }
        st.name = Some(a.clone());
        names.insert(a, pid.clone());
        Ok(())
    }

    /// `unregister(Name)`: true when the name was registered.
    pub fn unregister(&self, name: &str) -> bool {
        let pid = write(&self.0.erts.names).remove(name);
        match pid {
            Some(p) => {
                if let Some(e) = self.local_entry(&p) {
                    lock(&e.state).name = None;
                }
                true
            }
            None => false,
        }
    }

    /// Removes `name` if it still belongs to `pid` (the process exited).
    pub(crate) fn unregister_name_of(&self, name: &Atom, pid: &Pid) {
        let mut names = write(&self.0.erts.names);
        if names.get(name) == Some(pid) {
            names.remove(name);
        }
    }

    /// The registered names, sorted (`registered()`).
    pub fn registered(&self) -> Vec<Atom> {
        let mut v: Vec<Atom> = read(&self.0.erts.names).keys().cloned().collect();
        v.sort();
        v
    }

    /// The pid registered as `name` (`whereis/1`).
    pub fn whereis(&self, name: &str) -> Option<Pid> {
        read(&self.0.erts.names).get(name).cloned()
    }

    /// Resolves a pid or registered name to a live local pid.
    pub(crate) fn resolve(&self, to: &Term) -> Option<Pid> {
        match to {
            Term::Pid(p) if self.local_alive(p) => Some(p.clone()),
            Term::Atom(a) => self.whereis(a.as_str()),
            _ => None,
        }
    }

    /// A new alias for local `pid`.
    pub(crate) fn add_alias(&self, pid: &Pid) -> Term {
        let a = self.make_ref();
        if let Some(e) = self.local_entry(pid) {
            lock(&e.state).aliases.push(a.clone());
            lock(&self.0.erts.aliases).insert(a.clone(), pid.clone());
        }
        a
    }

    /// Deactivates `alias` of local `pid`.
    pub(crate) fn remove_alias(&self, pid: &Pid, alias: &Term) -> bool {
        let mut aliases = lock(&self.0.erts.aliases);
        if aliases.get(alias) != Some(pid) {
            return false;
        }
        aliases.remove(alias);
        if let Some(e) = self.local_entry(pid) {
            lock(&e.state).aliases.retain(|a| a != alias);
        }
        true
    }

    /// Delivers to the owner of an active alias.
    pub(crate) fn deliver_alias(&self, alias: &Term, msg: Term) {
        let owner = lock(&self.0.erts.aliases).get(alias).cloned();
        if let Some(pid) = owner {
            self.deliver_local(&pid, msg);
        }
    }
}
