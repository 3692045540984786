//! Distribution capability flags, from OTP 25's `kernel/include/dist.hrl`
//! (the authoritative values; the protocol guide has `MANDATORY_25_DIGEST`
//! wrong).

/// The node is visible: it appears in `nodes()`.
pub const PUBLISHED: u64 = 0x01;
/// Obsolete atom cache.
pub const ATOM_CACHE: u64 = 0x02;
/// Extended references (mandatory).
pub const EXTENDED_REFERENCES: u64 = 0x04;
/// Remote process monitors.
pub const DIST_MONITOR: u64 = 0x08;
/// `FUN_EXT` tags (mandatory).
pub const FUN_TAGS: u64 = 0x10;
/// Monitors of registered names.
pub const DIST_MONITOR_NAME: u64 = 0x20;
/// Obsolete hidden atom cache.
pub const HIDDEN_ATOM_CACHE: u64 = 0x40;
/// `NEW_FUN_EXT` (mandatory).
pub const NEW_FUN_TAGS: u64 = 0x80;
/// Extended pids and ports (mandatory).
pub const EXTENDED_PIDS_PORTS: u64 = 0x100;
/// `EXPORT_EXT` (mandatory in OTP 25).
pub const EXPORT_PTR_TAG: u64 = 0x200;
/// Bitstrings (mandatory in OTP 25).
pub const BIT_BINARIES: u64 = 0x400;
/// `NEW_FLOAT_EXT` (mandatory in OTP 25).
pub const NEW_FLOATS: u64 = 0x800;
/// Unicode I/O.
pub const UNICODE_IO: u64 = 0x1000;
/// The distribution header with the atom cache.
pub const DIST_HDR_ATOM_CACHE: u64 = 0x2000;
/// `SMALL_ATOM_EXT`.
pub const SMALL_ATOM_TAGS: u64 = 0x4000;
/// UTF-8 atoms (mandatory).
pub const UTF8_ATOMS: u64 = 0x10000;
/// Maps (mandatory in OTP 25).
pub const MAP_TAG: u64 = 0x20000;
/// 32-bit creation (mandatory).
pub const BIG_CREATION: u64 = 0x40000;
/// `SEND_SENDER`.
pub const SEND_SENDER: u64 = 0x80000;
/// Any term as a seq_trace label.
pub const BIG_SEQTRACE_LABELS: u64 = 0x100000;
/// `PAYLOAD_*` exit and monitor-exit messages.
pub const EXIT_PAYLOAD: u64 = 0x400000;
/// Fragmented messages.
pub const FRAGMENTS: u64 = 0x800000;
/// The version 6 handshake (mandatory from OTP 25).
pub const HANDSHAKE_23: u64 = 0x1000000;
/// The new link protocol (mandatory from OTP 26).
pub const UNLINK_ID: u64 = 0x2000000;
/// Shorthand for every flag mandatory in OTP 25.
pub const MANDATORY_25_DIGEST: u64 = 0x4000000;
/// `SPAWN_REQUEST` and `SPAWN_REPLY`.
pub const SPAWN: u64 = 1 << 32;
/// Ask the peer for a dynamic name.
pub const NAME_ME: u64 = 2 << 32;
/// Big pid, port and reference fields (mandatory from OTP 26).
pub const V4_NC: u64 = 4 << 32;
/// Process aliases.
pub const ALIAS: u64 = 8 << 32;

/// What OTP 25 requires of every peer (`MANDATORY_DFLAGS_25`).
pub const MANDATORY_25: u64 = EXTENDED_REFERENCES
    | FUN_TAGS
    | EXTENDED_PIDS_PORTS
    | NEW_FUN_TAGS
    | EXPORT_PTR_TAG
    | BIT_BINARIES
    | NEW_FLOATS
    | UTF8_ATOMS
    | MAP_TAG
    | BIG_CREATION
    | HANDSHAKE_23;

/// What OTP 26 requires on top of [`MANDATORY_25`].
pub const MANDATORY_26: u64 = MANDATORY_25 | V4_NC | UNLINK_ID;

/// The flags nodus offers by default: everything OTP 25 and 26 require,
/// monitors, and pass-through framing (no atom cache, no fragments). Add
/// [`PUBLISHED`] for a visible node.
pub const NODUS_DEFAULT: u64 =
    MANDATORY_26 | MANDATORY_25_DIGEST | DIST_MONITOR | DIST_MONITOR_NAME;

/// True when `flags` carry every OTP 25 mandatory capability, spelled out
/// or through [`MANDATORY_25_DIGEST`].
pub fn has_mandatory_25(flags: u64) -> bool {
    flags & MANDATORY_25_DIGEST != 0 || flags & MANDATORY_25 == MANDATORY_25
}

/// The flags of [`MANDATORY_25`] that `flags` lacks (none when the digest
/// bit is set).
pub fn missing_mandatory(flags: u64) -> u64 {
    if flags & MANDATORY_25_DIGEST != 0 {
        0
    } else {
        MANDATORY_25 & !flags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mandatory_sets_match_the_fact_sheet() {
        assert_eq!(MANDATORY_25, 0x0107_0F94);
        assert_eq!(MANDATORY_26, 0x4_0307_0F94);
        assert_eq!(NODUS_DEFAULT, 0x4_0707_0FBC);
        assert!(has_mandatory_25(MANDATORY_25_DIGEST));
        assert_eq!(missing_mandatory(MANDATORY_25 & !MAP_TAG), MAP_TAG);
    }
}
