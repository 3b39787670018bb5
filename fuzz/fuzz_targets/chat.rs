//! Drives `pollux_tools::chat::Room` with arbitrary members' bytes, joins, hang-ups and
//! partial writes, and `LineBuffer` with arbitrary bytes cut at an arbitrary point.
//!
//! Oracles besides "no panic": no member's queue ever passes the limit; nicknames in the room
//! are unique (ignoring case); what a member is sent is whole lines; and how the bytes of a
//! line are cut never changes the lines.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pollux_tools::chat::{Limits, LineBuffer, Room};

const MEMBERS: usize = 4;

fn lines(lb: &mut LineBuffer, out: &mut Vec<Result<String, usize>>) {
    while let Some(l) = lb.poll_line() {
        out.push(l.map_err(|e| e.max));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&cfg, mut rest)) = data.split_first() else { return };
    let limits = Limits { max_line: 1 + usize::from(cfg & 63), max_queue: 64 + usize::from(cfg >> 6) * 256 };

    // Line splitting: whole versus cut.
    let at = usize::from(cfg) * rest.len() / 255;
    let (mut whole, mut cut) = (Vec::new(), Vec::new());
    let mut lb = LineBuffer::new(limits.max_line);
    lb.handle_bytes(rest);
    lines(&mut lb, &mut whole);
    let mut lb = LineBuffer::new(limits.max_line);
    lb.handle_bytes(&rest[..at]);
    lines(&mut lb, &mut cut);
    lb.handle_bytes(&rest[at..]);
    lines(&mut lb, &mut cut);
    // A too-long line may be reported before its end arrives, which a cut can move but not
    // multiply: compare the good lines, and that errors happened on both sides or neither.
    let ok =
        |v: &[Result<String, usize>]| v.iter().filter_map(|l| l.as_ref().ok().cloned()).collect::<Vec<_>>();
    assert_eq!(ok(&whole), ok(&cut));
    assert_eq!(whole.iter().any(Result::is_err), cut.iter().any(Result::is_err));

    // The room.
    let mut room = Room::new(limits);
    let mut received: Vec<Vec<u8>> = vec![Vec::new(); MEMBERS];
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let id = usize::from(op >> 2) % MEMBERS;
        match op & 3 {
            0 if room.nick(id).is_none() => {
                room.handle_join(id);
                received[id].clear();
            }
            0 | 1 => room.handle_hangup(id),
            2 => {
                let n = rest.first().map_or(0, |&n| usize::from(n)).min(rest.len().saturating_sub(1));
                let bytes = rest.get(1..1 + n).unwrap_or(&[]);
                room.handle_bytes(id, bytes);
                rest = rest.get(1 + n..).unwrap_or(&[]);
            }
            _ => {
                let want = rest.first().map_or(1, |&n| usize::from(n) * 8 + 1);
                rest = rest.get(1..).unwrap_or(&[]);
                let out = room.poll_output(id);
                let n = want.min(out.len());
                received[id].extend_from_slice(&out[..n]);
                room.handle_written(id, n);
                if room.should_close(id) {
                    room.handle_hangup(id);
                }
            }
        }
        for closed in room.take_closed() {
            assert!(room.nick(closed).is_none(), "a dropped member is still in the room");
        }
        room.take_touched();
        for m in 0..MEMBERS {
            assert!(room.poll_output(m).len() <= limits.max_queue, "queue past its limit");
            // Whatever is queued is whole lines.
            let out = room.poll_output(m);
            assert!(out.is_empty() || out.ends_with(b"\n"));
        }
        let mut who: Vec<String> = room.who().iter().map(|n| n.to_ascii_lowercase()).collect();
        let before = who.len();
        who.dedup();
        assert_eq!(who.len(), before, "two members share a nickname");
    }
});
