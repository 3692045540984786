//! What `nodus start` does for the applications a binary embeds
//! ([`crate::main_with`]): their environment from the configuration's
//! sections of their names, `dist_ac` when the kernel's `distributed` (or
//! `start_dist_ac`) says so, then each application started in order.

use anyhow::Context;
use nodus::application::{self, AppSpec};
use nodus::config::Config;
use nodus::Node;

/// Loads and starts `apps` on `node` as `cfg` says.
pub(crate) async fn boot(node: &Node, cfg: &Config, apps: Vec<AppSpec>) -> anyhow::Result<()> {
    for (app, params) in &cfg.env {
        for (k, v) in params {
            application::set_env(node, app, k, v.clone());
        }
    }
    for a in &apps {
        application::load(node, a.clone())
            .map_err(|e| anyhow::anyhow!("cannot load {}: {e}", a.name()))?;
    }
    let k = &cfg.kernel;
    if !k.distributed.is_empty() || k.start_dist_ac {
        application::start_dist_ac(node, k.distributed.clone(), k.permissions.clone())
            .await
            .map_err(|e| anyhow::anyhow!("cannot start dist_ac: {e}"))?;
    }
    for a in &apps {
        application::start(node, a.name())
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("application {} could not start", a.name()))?;
    }
    Ok(())
}
