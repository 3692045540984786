//! Nearest known names, for warnings about misspelt parameters and
//! applications.

/// The kernel parameters nodus implements.
pub(crate) const KERNEL_IMPLEMENTED: &[&str] = &[
    "sync_nodes_optional",
    "sync_nodes_mandatory",
    "sync_nodes_timeout",
    "net_ticktime",
    "net_setuptime",
    "connect_all",
    "prevent_overlapping_partitions",
    "dist_auto_connect",
    "inet_dist_listen_min",
    "inet_dist_listen_max",
    "inet_dist_use_interface",
    "distributed",
    "start_dist_ac",
    "permissions",
    "start_pg",
];

/// Other kernel parameters of OTP 25 (`kernel_app(7)`), which nodus
/// accepts and ignores.
pub(crate) const KERNEL_OTHER: &[&str] = &[
    "start_boot_server",
    "start_disk_log",
    "start_timer",
    "logger",
    "logger_level",
    "logger_sasl_compatible",
    "logger_metadata",
    "error_logger",
    "error_logger_format_depth",
    "global_groups",
    "global_multi_maps",
    "inet_dist_listen_options",
    "inet_dist_connect_options",
    "inet_parameters",
    "inetrc",
    "inet_default_connect_options",
    "inet_default_listen_options",
    "net_tickintensity",
    "dist_listen",
    "epmd_module",
    "shutdown_timeout",
    "shell_history",
    "shell_history_path",
    "source_search_rules",
    "standard_io_encoding",
    "code_path_choice",
    "os_cmd_shell",
    "rpc_timeout",
    "boot_server_slaves",
];

/// Applications a `sys.config` names often; a near miss of one is a typo.
pub(crate) const APPLICATIONS: &[&str] = &["kernel", "stdlib", "sasl", "logger"];

fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The known name within two edits of `name` (not `name` itself).
pub(crate) fn nearest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    if name.chars().count() > 64 {
        return None;
    }
    known
        .iter()
        .filter(|k| **k != name)
        .map(|k| (distance(name, k), *k))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_misses() {
        assert_eq!(
            nearest("sync_nodes_timout", KERNEL_IMPLEMENTED),
            Some("sync_nodes_timeout")
        );
        assert_eq!(nearest("kernal", APPLICATIONS), Some("kernel"));
        assert_eq!(nearest("kernel", APPLICATIONS), None);
        assert_eq!(nearest("my_app", APPLICATIONS), None);
    }
}
