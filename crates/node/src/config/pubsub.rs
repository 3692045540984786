//! The PubSub servers a configuration names: the `pubsub` parameter of
//! the `nodus` application — `{nodus, [{pubsub, [{'Demo.PubSub',
//! [{pool_size, 3}]}]}]}` in a `sys.config`, `[pubsub."Demo.PubSub"]`
//! with `pool_size = 3` in a `nodus.toml`.

use nodus_term::Term;

use super::Config;
use crate::pubsub::Options;

/// The application and key that hold them.
pub(crate) const APP: &str = "nodus";
/// The key.
pub(crate) const KEY: &str = "pubsub";

/// One `{Name, [Option]}` entry checked: its name and options.
pub(crate) fn entry(name: &str, opts: &Term) -> Result<(String, Options), String> {
    let mut o = Options::default();
    let Some(items) = opts.as_list() else {
        return Err(format!(
            "pubsub {name}: options must be a list such as [{{pool_size, 3}}], got {opts:?}"
        ));
    };
    for it in items {
        let (k, v) = match it.as_tuple() {
            Some([Term::Atom(k), v]) => (k.as_str(), v),
            _ => {
                return Err(format!(
                    "pubsub {name}: expected {{Key, Value}}, got {it:?}"
                ))
            }
        };
        let n = match v {
            Term::Int(n) if (1..=1024).contains(n) => *n as usize,
            _ => {
                return Err(format!(
                    "pubsub {name}: {k} must be an integer from 1 to 1024, got {v:?}"
                ))
            }
        };
        match k {
            "pool_size" => o.pool_size = n,
            "broadcast_pool_size" => o.broadcast_pool_size = Some(n),
            other => {
                return Err(format!(
                    "pubsub {name}: unknown option {other} (known: pool_size, broadcast_pool_size)"
                ))
            }
        }
    }
    if o.broadcast_pool_size.is_some_and(|b| b > o.pool_size) {
        return Err(format!(
            "pubsub {name}: broadcast_pool_size must not exceed pool_size ({})",
            o.pool_size
        ));
    }
    Ok((name.to_string(), o))
}

impl Config {
    /// The PubSub servers to start, with their options.
    pub fn pubsub(&self) -> Result<Vec<(String, Options)>, String> {
        let Some((_, params)) = self.env.iter().find(|(a, _)| a == APP) else {
            return Ok(Vec::new());
        };
        let Some((_, list)) = params.iter().find(|(k, _)| k == KEY) else {
            return Ok(Vec::new());
        };
        let Some(items) = list.as_list() else {
            return Err(format!(
                "nodus pubsub must be a list such as [{{'Demo.PubSub', [{{pool_size, 3}}]}}], got {list:?}"
            ));
        };
        items
            .iter()
            .map(|it| match it.as_tuple() {
                Some([Term::Atom(name), opts]) => entry(name.as_str(), opts),
                _ => Err(format!(
                    "nodus pubsub: expected {{Name, [Option]}}, got {it:?}"
                )),
            })
            .collect()
    }
}
