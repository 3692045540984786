//! The magic cookie: `--cookie`, else `~/.erlang.cookie`, created like
//! `erl` does (20 random uppercase letters, mode 0400) when missing.
//! Answers to `auth.erl`.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::Rng;

/// Why the cookie cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum CookieError {
    /// `HOME` is not set.
    #[error("HOME is not set: cannot find ~/.erlang.cookie (pass --cookie)")]
    NoHome,
    /// The cookie file cannot be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The cookie file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is readable by others than its owner (`erl` refuses it too).
    #[error("{0}: cookie file must be accessible by owner only")]
    Permissions(PathBuf),
}

/// The path of `~/.erlang.cookie`.
pub fn cookie_path() -> Result<PathBuf, CookieError> {
    std::env::var_os("HOME")
        .map(|h| Path::new(&h).join(".erlang.cookie"))
        .ok_or(CookieError::NoHome)
}

/// Reads `~/.erlang.cookie`, creating it when missing.
pub fn read_or_create() -> Result<String, CookieError> {
    read_or_create_at(&cookie_path()?)
}

/// Reads the cookie file at `path`, creating it (mode 0400) when missing.
pub fn read_or_create_at(path: &Path) -> Result<String, CookieError> {
    let io = |source| CookieError::Io {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::read(path) {
        Ok(data) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
                if mode & 0o077 != 0 {
                    return Err(CookieError::Permissions(path.to_path_buf()));
                }
            }
            let text = String::from_utf8_lossy(&data);
            Ok(text.split_whitespace().next().unwrap_or("").to_string())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut rng = rand::thread_rng();
            let cookie: String = (0..20)
                .map(|_| char::from(b'A' + rng.gen_range(0..26)))
                .collect();
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o400);
            }
            let mut f = opts.open(path).map_err(io)?;
            f.write_all(cookie.as_bytes()).map_err(io)?;
            Ok(cookie)
        }
        Err(e) => Err(io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_a_private_cookie_once() {
        let dir = std::env::temp_dir().join(format!("nodus-cookie-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".erlang.cookie");
        let _ = std::fs::remove_file(&path);
        let c1 = read_or_create_at(&path).unwrap();
        assert_eq!(c1.len(), 20);
        assert!(c1.chars().all(|c| c.is_ascii_uppercase()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o400
            );
        }
        assert_eq!(read_or_create_at(&path).unwrap(), c1);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
