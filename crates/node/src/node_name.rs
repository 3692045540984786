//! Node names as `erl` accepts them: `Alive@Host`, the alive part of
//! letters, digits, `_` and `-`, the host without spaces or `@`; a long
//! name's host has a dot or is an IP address. Answers to the checks of
//! `net_kernel` and `erl`'s `-name`/`-sname` handling.

use crate::error::Error;

/// Checks `name@host`; the error says what is wrong.
pub fn check(name: &str) -> Result<(), Error> {
    let Some((alive, host)) = name.split_once('@') else {
        return Err(Error::bad_name(name, "expected name@host"));
    };
    if alive.is_empty() {
        return Err(Error::bad_name(name, "the part before @ is empty"));
    }
    if host.is_empty() {
        return Err(Error::bad_name(name, "the host after @ is empty"));
    }
    if let Some(c) = alive
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '_' || *c == '-'))
    {
        return Err(Error::bad_name(
            name,
            format!("{c:?} is not allowed before @ (letters, digits, _ and - are)"),
        ));
    }
    if let Some(c) = host
        .chars()
        .find(|c| c.is_whitespace() || *c == '@' || c.is_control())
    {
        return Err(Error::bad_name(
            name,
            format!("{c:?} is not allowed in the host"),
        ));
    }
    if name.chars().count() > 255 {
        return Err(Error::bad_name(name, "longer than 255 characters"));
    }
    Ok(())
}

/// Checks a long name (`-name`): as [`check`], and the host must have a
/// dot or be an IP address, as `erl -name` requires.
pub fn check_long(name: &str) -> Result<(), Error> {
    check(name)?;
    let host = name.split_once('@').map_or("", |(_, h)| h);
    if !host.contains('.') && host.parse::<std::net::IpAddr>().is_err() {
        return Err(Error::bad_name(
            name,
            "a long name needs a host with a dot or an IP address (erl refuses it too); use a short name (--sname) or name@host.domain",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_erl_takes_them() {
        assert!(check("n1@127.0.0.1").is_ok());
        assert!(check("n_1-x@vm").is_ok());
        assert!(check("n1@").is_err());
        assert!(check("@h").is_err());
        assert!(check("n 1@h").is_err());
        assert!(check("n1@my host").is_err());
        assert!(check("n1").is_err());
        assert!(check_long("n1@vm").is_err());
        assert!(check_long("n1@vm.local").is_ok());
        assert!(check_long("n1@::1").is_ok());
    }
}
