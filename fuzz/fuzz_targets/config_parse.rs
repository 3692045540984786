//! Fuzzes the configuration readers: `sys.config` and `nodus.toml` text
//! either fails with an error or gives a configuration that renders to a
//! `sys.config` and a TOML file which read back to the same settings.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nodus::config::{render_sys_config, render_toml, Config};

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let none = |_: &str| None;
    for cfg in [
        Config::from_sys_config(Path::new("f.config"), s),
        Config::from_toml(Path::new("f.toml"), s, &none),
    ]
    .into_iter()
    .flatten()
    {
        let sys = render_sys_config(&cfg);
        let back = Config::from_sys_config(Path::new("r.config"), &sys).expect("rendered sys.config reads");
        assert!(back.kernel == cfg.kernel, "sys.config round trip: {sys}");
        let toml = render_toml(&cfg);
        let back = Config::from_toml(Path::new("r.toml"), &toml, &none).expect("rendered TOML reads");
        assert!(back.kernel == cfg.kernel, "TOML round trip: {toml}");
    }
});
