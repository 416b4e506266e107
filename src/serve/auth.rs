//! Who may connect: one user and password (from `--user`/`--password-env` or
//! the catalog's `[auth]`), checked by the PostgreSQL startup (cleartext
//! password) and by the Flight SQL handshake, which hands out bearer tokens
//! that later calls present.
//!
//! Without credentials every client is accepted, and the server refuses to
//! bind anything but loopback addresses (see [`check_bind`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The user clients log in as.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub(crate) user: String,
    password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

impl Credentials {
    /// The user and the password held in environment variable `password_env`.
    ///
    /// # Errors
    /// The variable is unset or empty.
    pub(crate) fn from_env(user: &str, password_env: &str) -> anyhow::Result<Self> {
        let password = std::env::var(password_env).unwrap_or_default();
        anyhow::ensure!(
            !password.is_empty(),
            "the password variable {password_env} (for user '{user}') is unset or empty"
        );
        anyhow::ensure!(!user.is_empty(), "the auth user name is empty");
        Ok(Credentials {
            user: user.to_string(),
            password,
        })
    }

    /// Whether `user`/`password` match, compared in constant time.
    pub(crate) fn matches(&self, user: &str, password: &str) -> bool {
        let u = constant_time_eq(user.as_bytes(), self.user.as_bytes());
        let p = constant_time_eq(password.as_bytes(), self.password.as_bytes());
        u & p
    }

    /// The password, for the PostgreSQL startup handler's comparison.
    pub(crate) fn password(&self) -> &str {
        &self.password
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i % b.len().max(1)).copied().unwrap_or(0));
    }
    diff == 0
}

/// Bearer tokens handed out by the Flight SQL handshake.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    issued: Mutex<HashMap<String, Instant>>,
}

/// How long a bearer token stays valid.
const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

impl Tokens {
    /// A new random token.
    ///
    /// # Errors
    /// When the system's random source cannot be read.
    pub(crate) fn issue(&self) -> std::io::Result<String> {
        use std::io::Read;
        let mut bytes = [0u8; 24];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
        let token: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let mut issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        issued.retain(|_, t| now.duration_since(*t) < TOKEN_LIFETIME);
        issued.insert(token.clone(), now);
        Ok(token)
    }

    /// Whether `token` was issued and has not expired.
    pub(crate) fn valid(&self, token: &str) -> bool {
        let issued = self.issued.lock().unwrap_or_else(|p| p.into_inner());
        issued
            .get(token)
            .is_some_and(|t| t.elapsed() < TOKEN_LIFETIME)
    }
}

/// Refuses a non-loopback bind address when there are no credentials.
///
/// # Errors
/// A one-line message naming the address and the way out.
pub(crate) fn check_bind(what: &str, addr: &SocketAddr, auth: bool) -> anyhow::Result<()> {
    if auth || addr.ip().is_loopback() {
        return Ok(());
    }
    anyhow::bail!(
        "refusing to serve {what} on {addr} without authentication: without auth only loopback \
         addresses (127.0.0.1, ::1) may be bound; set --user and --password-env (or [auth] in \
         the catalog), or bind 127.0.0.1"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_and_tokens() {
        let c = Credentials {
            user: "u".into(),
            password: "secret".into(),
        };
        assert!(c.matches("u", "secret"));
        assert!(!c.matches("u", "secreT"));
        assert!(!c.matches("u", "secret2"));
        assert!(!c.matches("v", "secret"));
        assert!(!c.matches("u", ""));
        assert!(!format!("{c:?}").contains("secret"));
        let t = Tokens::default();
        let a = t.issue().unwrap();
        assert!(t.valid(&a));
        assert!(!t.valid("nope"));
    }

    #[test]
    fn binds() {
        let lo: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:1".parse().unwrap();
        assert!(check_bind("x", &lo, false).is_ok());
        assert!(check_bind("x", &any, true).is_ok());
        let e = check_bind("Flight SQL", &any, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("0.0.0.0:1") && e.contains("--user"), "{e}");
    }
}
