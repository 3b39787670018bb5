//! The chat room's rules, with no sockets: bytes from members in, lines for members out.
//!
//! The service feeds each member's bytes to [`Room::handle_bytes`], writes what
//! [`Room::poll_output`] holds and reports it with [`Room::handle_written`], and closes the
//! connections [`Room::take_closed`] names. Which members have new output is told by
//! [`Room::take_touched`], so the service never scans the whole room.
//!
//! Lines the room sends: `[nick] text` for messages, `* …` for announcements and answers,
//! `! …` for errors. A message goes to everyone but its author (whose terminal already shows
//! it); announcements (joined, left, renamed, disconnected) go to everyone.
//!
//! ```
//! use pollux_tools::chat::{Limits, Room};
//!
//! let mut room = Room::new(Limits::default());
//! room.handle_join(1);
//! room.handle_join(2);
//! room.handle_bytes(1, b"/nick ada\nhello\n");
//! room.take_touched(); // the service would now write to members 1 and 2
//! let to_2 = String::from_utf8_lossy(room.poll_output(2)).into_owned();
//! assert!(to_2.ends_with("* guest1 is now ada\n[ada] hello\n"));
//! ```

use std::collections::BTreeMap;

use super::command::Command;
use super::line::LineBuffer;
use super::nick::{self, NickError};

/// A member, named by the service (its connection's token).
pub type ClientId = usize;

/// What one member may cost the room.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest line a member may send, in bytes; longer ones are refused with an error line.
    pub max_line: usize,
    /// Most unsent bytes queued for one member. A member that does not read until this fills
    /// is disconnected: holding more would let one stuck client grow the server without
    /// bound, and waiting for it would stall everyone else.
    pub max_queue: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_line: 4096, max_queue: 64 * 1024 }
    }
}

/// Where a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    /// In the room: reads and is read.
    Here,
    /// Said `/quit`: already announced as gone, gets no more lines, and is closed once its
    /// last lines (the goodbye) are written.
    Leaving,
}

#[derive(Debug)]
struct Member {
    nick: String,
    input: LineBuffer,
    /// Queued output; `out[sent..]` is not written yet.
    out: Vec<u8>,
    sent: usize,
    presence: Presence,
    /// Listed in `Room::touched` already: a flag, so a broadcast to N members costs O(N).
    touched: bool,
}

impl Member {
    fn pending(&self) -> usize {
        self.out.len() - self.sent
    }
}

/// The room: its members and what each of them is owed.
#[derive(Debug, Default)]
pub struct Room {
    members: BTreeMap<ClientId, Member>,
    limits: Limits,
    next_guest: u64,
    touched: Vec<ClientId>,
    closed: Vec<ClientId>,
    /// Members whose queue overflowed during the current operation; dropped at its end.
    overflowed: Vec<ClientId>,
    /// The room's announcements (joins, leaves, renames, drops) since the last
    /// [`Room::take_events`], for the server's log.
    events: Vec<String>,
}

impl Room {
    /// An empty room with these limits.
    pub fn new(limits: Limits) -> Self {
        Room { limits, ..Room::default() }
    }

    /// The announcements made since the last call, oldest first (`guest1 joined`, …).
    pub fn take_events(&mut self) -> Vec<String> {
        std::mem::take(&mut self.events)
    }

    /// A new member: named `guestN` until they pick a nickname, welcomed, and announced.
    pub fn handle_join(&mut self, id: ClientId) {
        let nick = loop {
            self.next_guest += 1;
            let n = format!("guest{}", self.next_guest);
            if self.find(&n).is_none() {
                break n;
            }
        };
        let member = Member {
            nick: nick.clone(),
            input: LineBuffer::new(self.limits.max_line),
            out: Vec::new(),
            sent: 0,
            presence: Presence::Here,
            touched: false,
        };
        self.members.insert(id, member);
        self.push(id, &format!("* welcome, you are {nick}; commands: /nick NAME, /who, /quit, /help"));
        self.broadcast(Some(id), &format!("* {nick} joined"));
        self.settle();
    }

    /// Bytes read from a member's connection.
    pub fn handle_bytes(&mut self, id: ClientId, data: &[u8]) {
        match self.members.get_mut(&id) {
            Some(m) if m.presence == Presence::Here => m.input.handle_bytes(data),
            _ => return,
        }
        loop {
            // The member may have left or been dropped by the previous line.
            let line = match self.members.get_mut(&id) {
                Some(m) if m.presence == Presence::Here => m.input.poll_line(),
                _ => None,
            };
            match line {
                None => break,
                Some(Ok(line)) => self.handle_line(id, &line),
                Some(Err(e)) => self.push(id, &format!("! {e}: not sent")),
            }
            self.settle();
        }
    }

    /// The member's connection closed or failed: gone, and said so if they had not quit.
    pub fn handle_hangup(&mut self, id: ClientId) {
        if let Some(m) = self.members.remove(&id) {
            if m.presence == Presence::Here {
                self.broadcast(None, &format!("* {} left", m.nick));
                self.settle();
            }
        }
    }

    /// The member's unwritten output (empty if none, or if the member is gone).
    pub fn poll_output(&self, id: ClientId) -> &[u8] {
        self.members.get(&id).map_or(&[], |m| &m.out[m.sent..])
    }

    /// `n` bytes of [`poll_output`](Self::poll_output) were written.
    pub fn handle_written(&mut self, id: ClientId, n: usize) {
        let Some(m) = self.members.get_mut(&id) else { return };
        m.sent = (m.sent + n).min(m.out.len());
        if m.sent == m.out.len() {
            m.out.clear();
            m.sent = 0;
        } else if m.sent > m.out.len() / 2 {
            // Keep the queue's memory proportional to what is unsent.
            m.out.drain(..m.sent);
            m.sent = 0;
        }
    }

    /// Whether the member's connection should close now: they quit and got their goodbye.
    pub fn should_close(&self, id: ClientId) -> bool {
        self.members.get(&id).is_some_and(|m| m.presence == Presence::Leaving && m.pending() == 0)
    }

    /// Members with new output (or a new reason to close) since the last call.
    pub fn take_touched(&mut self) -> Vec<ClientId> {
        let touched = std::mem::take(&mut self.touched);
        for id in &touched {
            if let Some(m) = self.members.get_mut(id) {
                m.touched = false;
            }
        }
        touched
    }

    /// Members the room dropped (their queue overflowed): close their connections. They are
    /// already gone from the room.
    pub fn take_closed(&mut self) -> Vec<ClientId> {
        std::mem::take(&mut self.closed)
    }

    /// The member's nickname.
    pub fn nick(&self, id: ClientId) -> Option<&str> {
        self.members.get(&id).map(|m| m.nick.as_str())
    }

    /// Nicknames of the members in the room, sorted.
    pub fn who(&self) -> Vec<&str> {
        let mut v: Vec<&str> =
            self.members.values().filter(|m| m.presence == Presence::Here).map(|m| m.nick.as_str()).collect();
        v.sort_unstable_by_key(|n| n.to_ascii_lowercase());
        v
    }

    /// Tells everyone something (server shutdown, say).
    pub fn announce(&mut self, text: &str) {
        self.broadcast(None, &format!("* {text}"));
        self.settle();
    }

    fn handle_line(&mut self, id: ClientId, line: &str) {
        let Some(me) = self.nick(id).map(str::to_owned) else { return };
        match Command::parse(line) {
            Command::Say(text) => self.broadcast(Some(id), &format!("[{me}] {text}")),
            Command::Blank => {}
            Command::Nick(name) => match self.rename(id, name) {
                Ok(()) if name == me => self.push(id, &format!("* you are {me} already")),
                Ok(()) => self.broadcast(None, &format!("* {me} is now {name}")),
                Err(e) => self.push(id, &format!("! {e}")),
            },
            Command::Who => {
                let who = self.who();
                let line = format!("* online ({}): {}", who.len(), who.join(", "));
                self.push(id, &line);
            }
            Command::Quit => {
                if let Some(m) = self.members.get_mut(&id) {
                    m.presence = Presence::Leaving;
                }
                self.push(id, "* bye");
                self.broadcast(None, &format!("* {me} left"));
            }
            Command::Help => {
                self.push(id, "* /nick NAME  change your nickname (letters, digits, - and _)");
                self.push(id, "* /who        list who is online");
                self.push(id, "* /quit       leave (end of input does the same)");
                self.push(id, "* //text      say a line that starts with /");
            }
            Command::Unknown(c) => self.push(id, &format!("! unknown command /{c}: try /help")),
        }
    }

    fn rename(&mut self, id: ClientId, name: &str) -> Result<(), NickError> {
        nick::validate(name)?;
        if self.find(name).is_some_and(|other| other != id) {
            return Err(NickError::Taken(name.to_owned()));
        }
        if let Some(m) = self.members.get_mut(&id) {
            m.nick = name.to_owned();
        }
        Ok(())
    }

    /// The member with this nickname, case-insensitively (so `Bob` and `bob` are one name).
    fn find(&self, name: &str) -> Option<ClientId> {
        self.members.iter().find(|(_, m)| m.nick.eq_ignore_ascii_case(name)).map(|(&id, _)| id)
    }

    /// Queues one line for a member, or marks the member overflowed.
    fn push(&mut self, id: ClientId, line: &str) {
        let Some(m) = self.members.get_mut(&id) else { return };
        if m.pending() + line.len() + 1 > self.limits.max_queue {
            if !self.overflowed.contains(&id) {
                self.overflowed.push(id);
            }
            return;
        }
        m.out.extend_from_slice(line.as_bytes());
        m.out.push(b'\n');
        if !m.touched {
            m.touched = true;
            self.touched.push(id);
        }
    }

    /// Queues a line for every member in the room except `except`.
    fn broadcast(&mut self, except: Option<ClientId>, line: &str) {
        if let Some(event) = line.strip_prefix("* ") {
            self.events.push(event.to_owned());
        }
        let ids: Vec<ClientId> = self
            .members
            .iter()
            .filter(|&(&id, m)| Some(id) != except && m.presence == Presence::Here)
            .map(|(&id, _)| id)
            .collect();
        for id in ids {
            self.push(id, line);
        }
    }

    /// Drops the members that overflowed, telling the others (which may overflow more).
    fn settle(&mut self) {
        while let Some(id) = self.overflowed.pop() {
            let Some(m) = self.members.remove(&id) else { continue };
            self.closed.push(id);
            if m.presence == Presence::Here {
                let line =
                    format!("* {} was disconnected: not reading ({} bytes unsent)", m.nick, m.pending());
                self.broadcast(None, &line);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(room: &mut Room, id: ClientId) -> String {
        let out = String::from_utf8_lossy(room.poll_output(id)).into_owned();
        let n = room.poll_output(id).len();
        room.handle_written(id, n);
        out
    }

    fn room3() -> Room {
        let mut r = Room::new(Limits::default());
        for id in 0..3 {
            r.handle_join(id);
        }
        for id in 0..3 {
            take(&mut r, id);
        }
        r
    }

    #[test]
    fn join_nick_say_who_quit() {
        let mut r = Room::new(Limits::default());
        r.handle_join(1);
        assert!(take(&mut r, 1).starts_with("* welcome, you are guest1;"));
        r.handle_join(2);
        assert_eq!(take(&mut r, 1), "* guest2 joined\n");
        take(&mut r, 2);
        r.handle_bytes(1, b"/nick alice\nhello\n/who\n");
        assert_eq!(take(&mut r, 1), "* guest1 is now alice\n* online (2): alice, guest2\n");
        assert_eq!(take(&mut r, 2), "* guest1 is now alice\n[alice] hello\n");
        r.handle_bytes(2, b"/nick ALICE\n/nick 9\n/frob\n/quit\nignored\n");
        let got = take(&mut r, 2);
        assert!(
            got.starts_with("! the nickname ALICE is taken\n! a nickname starts with a letter\n"),
            "{got}"
        );
        assert!(got.ends_with("! unknown command /frob: try /help\n* bye\n"), "{got}");
        assert!(r.should_close(2));
        assert_eq!(take(&mut r, 1), "* guest2 left\n");
        r.handle_hangup(2);
        assert_eq!(take(&mut r, 1), "", "a quitter's hang-up is not announced twice");
        assert_eq!(r.who(), vec!["alice"]);
    }

    #[test]
    fn hangup_is_announced() {
        let mut r = room3();
        r.handle_hangup(1);
        assert_eq!(take(&mut r, 0), "* guest2 left\n");
        assert_eq!(take(&mut r, 2), "* guest2 left\n");
    }

    #[test]
    fn long_lines_are_refused() {
        let mut r = Room::new(Limits { max_line: 8, max_queue: 1024 });
        r.handle_join(0);
        r.handle_join(1);
        take(&mut r, 0);
        take(&mut r, 1);
        r.handle_bytes(0, b"0123456789abc\nok\n");
        assert_eq!(take(&mut r, 0), "! line longer than 8 bytes: not sent\n");
        assert_eq!(take(&mut r, 1), "[guest1] ok\n");
    }

    #[test]
    fn a_member_who_does_not_read_is_dropped_and_the_others_told() {
        let mut r = Room::new(Limits { max_line: 100, max_queue: 1000 });
        for id in 0..3 {
            r.handle_join(id);
        }
        take(&mut r, 0);
        take(&mut r, 1);
        // Member 2 never reads; member 1 keeps up.
        let mut dropped = false;
        for i in 0..200 {
            r.handle_bytes(
                0,
                format!("message {i:03} ........................................\n").as_bytes(),
            );
            assert!(take(&mut r, 1).contains(&format!("message {i:03}")));
            if r.take_closed() == vec![2] {
                dropped = true;
                break;
            }
        }
        assert!(dropped, "the stuck member was never dropped");
        assert!(r.poll_output(2).is_empty());
        let notice = take(&mut r, 0);
        assert!(notice.starts_with("* guest3 was disconnected: not reading ("), "{notice}");
        assert_eq!(r.who(), vec!["guest1", "guest2"]);
        r.handle_bytes(0, b"still here\n");
        assert!(take(&mut r, 1).ends_with("[guest1] still here\n"));
    }

    #[test]
    fn guest_names_skip_taken_ones() {
        let mut r = Room::new(Limits::default());
        r.handle_join(0);
        r.handle_bytes(0, b"/nick guest2\n");
        r.handle_join(1);
        assert_eq!(r.nick(1), Some("guest3"));
    }
}
