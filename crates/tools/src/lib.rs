//! Small network programs (echo, chat, UDP, seven echo servers by I/O model), made into tools that hold up against real clients.
//!
//! ```text
//!   echo  ── TcpEcho / UdpEcho services ──► pollux_reactor workers (one per core)
//!   chat  ── Room (sans-IO: lines in, queued lines out) ◄── ChatService (one reactor worker)
//!         └─ client: stdin lines ─► socket, socket lines ─► stdout, on two threads
//!   udp   ── send (optionally SO_BROADCAST) / listen: plain blocking std sockets
//!   models ─ seven textbook TCP echo servers (blocking … epoll) on bare syscalls, no reactor
//!   lab   ── runs each model as a child process under idle + active load; table and SVG chart
//! ```
//!
//! Each server is bounded in what a misbehaving peer can make it hold: echo stops reading a
//! connection whose echo is not being read, and the chat room drops a member whose queue of
//! unsent lines passes a limit instead of letting it stall everyone else.
//!
//! The chat room's rules (nicknames, commands, announcements, limits) live in
//! [`chat::Room`], which touches no socket, so they are tested with byte strings.

pub mod chat;
pub mod echo;
pub mod lab;
pub mod models;
pub mod udp;
