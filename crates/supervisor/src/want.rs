//! A listener as the configuration names it, the key by which sockets are kept across
//! reloads and matched to inherited ones.

use std::net::SocketAddr;

/// One listener the configuration asks for: its kind as the server orders them (`http`,
/// `https`, `redirect`) and the address as written (port 0 included: a reload that asks
/// for `127.0.0.1:0` again keeps the socket it had).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub kind: String,
    pub addr: SocketAddr,
}

impl Want {
    pub fn new(kind: &str, addr: SocketAddr) -> Want {
        Want { kind: kind.to_owned(), addr }
    }

    /// How an upgrade names the socket to its successor: `http:127.0.0.1:8080`.
    pub fn key(&self) -> String {
        format!("{}:{}", self.kind, self.addr)
    }
}
