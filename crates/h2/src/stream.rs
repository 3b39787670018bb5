//! Stream states (RFC 9113 §5.1) and the table of live streams.
//!
//! Only streams that are open or half-closed take a slot: at most
//! SETTINGS_MAX_CONCURRENT_STREAMS of them, in a `Vec` searched linearly (a hundred
//! comparisons cost less than hashing, and no allocation happens per stream). Idle and
//! closed are told apart by number (§5.1.1): client streams open in increasing order, so an
//! id above the highest seen is idle and one at or below it that has no slot is closed.
//! To answer closed streams precisely, the last few closed ids are remembered with how they
//! closed ([`Closed`]), in a ring of fixed size: memory stays bounded whatever the peer does.

use std::collections::VecDeque;

use crate::flow::{RecvWindow, SendWindow};
use crate::StreamId;

/// A stream's state, named as in RFC 9113 §5.1 (the reserved states belong to server push,
/// which we never use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum State {
    Idle,
    Open,
    /// We sent END_STREAM; the client may still send.
    HalfClosedLocal,
    /// The client sent END_STREAM; our response is under way.
    HalfClosedRemote,
    Closed,
}

impl State {
    /// The client may still send DATA or trailers (§5.1: open or half-closed (local)).
    pub(crate) fn remote_open(self) -> bool {
        matches!(self, State::Open | State::HalfClosedLocal)
    }

    /// We may still send HEADERS and DATA (open or half-closed (remote)).
    pub(crate) fn local_open(self) -> bool {
        matches!(self, State::Open | State::HalfClosedRemote)
    }
}

/// A live stream.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) id: StreamId,
    pub(crate) state: State,
    pub(crate) send: SendWindow,
    pub(crate) recv: RecvWindow,
    /// Body octets handed to the server in Data events and not yet released; given back to
    /// the connection window if the stream goes away first.
    pub(crate) unreleased: usize,
    /// The request's content-length, checked against the DATA received (§8.1.1).
    pub(crate) content_length: Option<u64>,
    pub(crate) received: u64,
}

impl Stream {
    pub(crate) fn new(id: StreamId, state: State, send: u32, recv: u32) -> Stream {
        Stream {
            id,
            state,
            send: SendWindow::new(send),
            recv: RecvWindow::new(recv),
            unreleased: 0,
            content_length: None,
            received: 0,
        }
    }
}

/// How a stream we no longer keep was closed: decides what a late frame on it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Closed {
    /// Both sides sent END_STREAM, or the peer sent RST_STREAM: any further frame other than
    /// PRIORITY, WINDOW_UPDATE or RST_STREAM is the peer's error (§5.1 "closed").
    Done,
    /// We sent RST_STREAM (or ignored the stream): the peer may not know yet and frames it
    /// sent before are ignored (§5.1 "closed", §6.8).
    ResetByUs,
}

/// Closed streams remembered, most recent last.
const CLOSED_MEMORY: usize = 128;

/// The live streams, and what is known of the others.
#[derive(Debug, Default)]
pub(crate) struct Streams {
    live: Vec<Stream>,
    /// Highest client stream id seen in a HEADERS (opened, refused, malformed or ignored).
    pub(crate) highest: StreamId,
    closed: VecDeque<(StreamId, Closed)>,
}

/// What a stream id refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    Live(usize),
    /// Above every id the client has used (§5.1.1).
    Idle,
    /// Closed, and how, if it is still remembered.
    Closed(Option<Closed>),
}

impl Streams {
    pub(crate) fn lookup(&self, id: StreamId) -> Lookup {
        if id > self.highest {
            return Lookup::Idle;
        }
        if let Some(i) = self.live.iter().position(|s| s.id == id) {
            return Lookup::Live(i);
        }
        Lookup::Closed(self.closed.iter().rev().find(|(c, _)| *c == id).map(|&(_, how)| how))
    }

    pub(crate) fn get(&self, i: usize) -> &Stream {
        &self.live[i]
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> &mut Stream {
        &mut self.live[i]
    }

    pub(crate) fn find_mut(&mut self, id: StreamId) -> Option<&mut Stream> {
        self.live.iter_mut().find(|s| s.id == id)
    }

    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }

    pub(crate) fn iter_mut(&mut self) -> std::slice::IterMut<'_, Stream> {
        self.live.iter_mut()
    }

    pub(crate) fn insert(&mut self, stream: Stream) {
        self.live.push(stream);
    }

    /// Takes stream `i` out of the table and remembers how it closed.
    pub(crate) fn remove(&mut self, i: usize, how: Closed) -> Stream {
        let stream = self.live.swap_remove(i);
        self.remember(stream.id, how);
        stream
    }

    /// Remembers a stream that never took a slot (refused, malformed, ignored).
    pub(crate) fn remember(&mut self, id: StreamId, how: Closed) {
        if self.closed.len() == CLOSED_MEMORY {
            self.closed.pop_front();
        }
        self.closed.push_back((id, how));
    }

    /// The §5.1 state of any stream id.
    pub(crate) fn state(&self, id: StreamId) -> State {
        match self.lookup(id) {
            Lookup::Live(i) => self.live[i].state,
            Lookup::Idle => State::Idle,
            Lookup::Closed(_) => State::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Streams {
        let mut t = Streams { highest: 7, ..Streams::default() };
        t.insert(Stream::new(3, State::Open, 65_535, 65_535));
        t.insert(Stream::new(7, State::HalfClosedRemote, 65_535, 65_535));
        t
    }

    #[test]
    fn ids_above_the_highest_are_idle() {
        let t = table();
        assert_eq!(t.lookup(9), Lookup::Idle);
        assert_eq!(t.state(9), State::Idle);
    }

    #[test]
    fn live_streams_are_found_by_id() {
        let t = table();
        assert_eq!(t.lookup(7), Lookup::Live(1));
        assert_eq!(t.state(3), State::Open);
        assert_eq!(t.state(7), State::HalfClosedRemote);
    }

    #[test]
    fn lower_ids_without_a_slot_are_closed_and_remembered_with_how() {
        let mut t = table();
        // 1 and 5 were skipped: closed by §5.1.1, never seen.
        assert_eq!(t.lookup(1), Lookup::Closed(None));
        let s = t.remove(0, Closed::Done);
        assert_eq!(s.id, 3);
        assert_eq!(t.lookup(3), Lookup::Closed(Some(Closed::Done)));
        assert_eq!(t.lookup(7), Lookup::Live(0), "swap_remove moved the last stream");
        t.remember(5, Closed::ResetByUs);
        assert_eq!(t.lookup(5), Lookup::Closed(Some(Closed::ResetByUs)));
        assert_eq!(t.state(5), State::Closed);
    }

    #[test]
    fn closed_memory_is_bounded() {
        let mut t = Streams { highest: u32::MAX >> 1, ..Streams::default() };
        for id in (1..).step_by(2).take(CLOSED_MEMORY + 10) {
            t.remember(id, Closed::ResetByUs);
        }
        assert_eq!(t.closed.len(), CLOSED_MEMORY);
        assert_eq!(t.lookup(1), Lookup::Closed(None), "the oldest is forgotten");
        assert_eq!(t.lookup(21), Lookup::Closed(Some(Closed::ResetByUs)));
    }

    #[test]
    fn state_predicates() {
        assert!(State::Open.remote_open() && State::Open.local_open());
        assert!(State::HalfClosedLocal.remote_open() && !State::HalfClosedLocal.local_open());
        assert!(!State::HalfClosedRemote.remote_open() && State::HalfClosedRemote.local_open());
        assert!(!State::Closed.remote_open() && !State::Idle.local_open());
    }
}
