//! `nodus apps NODE`: the applications of a running node of either kind,
//! from its `application:info/0`: what runs there, what stands by, and
//! where each distributed application runs now.

use clap::Args;
use nodus_term::Term;

use crate::dist_cmd::hidden_node;
use crate::runtime;

/// Arguments of `nodus apps`.
#[derive(Args)]
pub struct AppsArgs {
    /// The node to ask, `name@host` (nodus or BEAM).
    node: String,
    /// The cookie (default: ~/.erlang.cookie).
    #[arg(long)]
    cookie: Option<String>,
    /// The EPMD port (default: ERL_EPMD_PORT or 4369).
    #[arg(long)]
    epmd_port: Option<u16>,
}

fn section<'a>(info: &'a Term, key: &str) -> &'a [Term] {
    info.as_list()
        .and_then(|l| {
            l.iter().find_map(|e| match e.as_tuple() {
                Some([k, v]) if k.is_atom(key) => v.as_list(),
                _ => None,
            })
        })
        .unwrap_or(&[])
}

/// One line per application: `running NAME`, `standby NAME (runs on
/// NODE)`, `standby NAME (runs nowhere)`, or `loaded NAME`.
pub fn lines(info: &Term) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for e in section(info, "running") {
        let Some([Term::Atom(app), how]) = e.as_tuple() else {
            continue;
        };
        seen.push(app.as_str().to_string());
        out.push(match how.as_tuple() {
            Some([k, Term::Atom(n)]) if k.is_atom("distributed") => {
                format!("standby {} (runs on {})", app.as_str(), n.as_str())
            }
            Some([k, _]) if k.is_atom("distributed") => {
                format!("standby {} (runs nowhere)", app.as_str())
            }
            _ => format!("running {}", app.as_str()),
        });
    }
    for e in section(info, "started") {
        if let Some([Term::Atom(app), _]) = e.as_tuple() {
            if !seen.iter().any(|s| s == app.as_str()) {
                seen.push(app.as_str().to_string());
                out.push(format!("standby {} (runs nowhere)", app.as_str()));
            }
        }
    }
    for e in section(info, "loaded") {
        if let Some([Term::Atom(app), ..]) = e.as_tuple() {
            if !seen.iter().any(|s| s == app.as_str()) {
                out.push(format!("loaded {}", app.as_str()));
            }
        }
    }
    out
}

/// Runs `nodus apps`.
pub fn apps(args: AppsArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let node = hidden_node(&args.node, args.cookie, args.epmd_port).await?;
        let r = node
            .rpc(
                &args.node,
                "application",
                "info",
                vec![],
                std::time::Duration::from_secs(30),
            )
            .await;
        node.shutdown();
        let info = r?;
        if info.as_list().is_none() {
            anyhow::bail!("{}: application:info() returned {info}", args.node);
        }
        for l in lines(&info) {
            say!("{l}");
        }
        Ok(())
    })
}
