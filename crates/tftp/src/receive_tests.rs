//! Byte-level tests of the receiver: handshakes, windows, gaps, dallying, TIDs, rollover.

use std::time::Duration;

use super::*;
use crate::emit;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address literal")
}

const CLIENT: &str = "10.0.0.2:3000";
const SERVER_69: &str = "10.0.0.1:69";
const SERVER_TID: &str = "10.0.0.1:4000";

fn drain(r: &mut Receiver) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while let Some(to) = r.poll_transmit(&mut buf) {
        out.push((to, buf.clone()));
    }
    out
}

/// The ACK block numbers sent now.
fn acks(r: &mut Receiver) -> Vec<u16> {
    drain(r)
        .iter()
        .map(|(_, bytes)| match Packet::parse(bytes) {
            Ok(Packet::Ack { block }) => block,
            other => panic!("expected ACK, got {other:?}"),
        })
        .collect()
}

fn data(block: u16, payload: &[u8]) -> Vec<u8> {
    let mut buf = Vec::new();
    emit::encode_data(&mut buf, block, payload);
    buf
}

fn server(wrq: &[u8], now: Instant) -> Receiver {
    match Packet::parse(wrq) {
        Ok(Packet::Request(r)) => {
            Receiver::accept(&r, addr(CLIENT), &Config::default(), now).expect("acceptable")
        }
        other => panic!("{other:?}"),
    }
}

fn events(r: &mut Receiver) -> Vec<Event> {
    std::iter::from_fn(|| r.poll_event()).collect()
}

fn take(r: &mut Receiver) -> Vec<u8> {
    let out = r.pending_data().to_vec();
    r.consume_data(out.len());
    out
}

#[test]
fn lock_step_transfer_and_dally() {
    let now = Instant::now();
    let mut r = server(b"\x00\x02f\0octet\0", now);
    assert_eq!(drain(&mut r), [(addr(CLIENT), b"\x00\x04\x00\x00".to_vec())]);
    r.handle_datagram(now, addr(CLIENT), &data(1, &[1; 512]));
    assert_eq!(acks(&mut r), [1]);
    r.handle_datagram(now, addr(CLIENT), &data(2, b"end"));
    assert_eq!(acks(&mut r), [2]);
    assert!(r.is_complete() && !r.is_closed());
    assert_eq!(events(&mut r), [Event::Negotiated(TransferOptions::default()), Event::Complete]);
    let got = take(&mut r);
    assert_eq!((got.len(), &got[512..]), (515, &b"end"[..]));
    // Dallying: a retransmitted final DATA (our ACK was lost) is acknowledged again.
    let later = now + Duration::from_millis(1500);
    r.handle_datagram(later, addr(CLIENT), &data(2, b"end"));
    assert_eq!(acks(&mut r), [2]);
    assert_eq!(take(&mut r), b"", "no data twice");
    let close = r.poll_timeout().expect("dallying");
    assert_eq!(close, later + Duration::from_secs(4));
    r.handle_timeout(close);
    assert!(r.is_closed());
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn oack_stands_for_ack_0_and_is_retransmitted() {
    let now = Instant::now();
    let mut r = server(b"\x00\x02f\0octet\0blksize\x0016\0windowsize\x004\0tsize\x0040\0", now);
    let oack = b"\x00\x06blksize\x0016\0windowsize\x004\0tsize\x0040\0".to_vec();
    assert_eq!(drain(&mut r), [(addr(CLIENT), oack.clone())]);
    let t = r.poll_timeout().expect("armed");
    r.handle_timeout(t);
    assert_eq!(drain(&mut r), [(addr(CLIENT), oack)]);
    r.handle_datagram(t, addr(CLIENT), &data(1, &[0; 16]));
    r.handle_datagram(t, addr(CLIENT), &data(2, &[0; 16]));
    assert_eq!(acks(&mut r), [], "mid-window: no ACK");
    r.handle_datagram(t, addr(CLIENT), &data(3, &[0; 8]));
    assert_eq!(acks(&mut r), [3]);
    assert_eq!(take(&mut r).len(), 40);
}

#[test]
fn window_is_acknowledged_once_at_its_end() {
    let now = Instant::now();
    let mut r = server(b"\x00\x02f\0octet\0blksize\x008\0windowsize\x004\0", now);
    drain(&mut r);
    for block in 1..=4 {
        r.handle_datagram(now, addr(CLIENT), &data(block, &[0; 8]));
    }
    assert_eq!(acks(&mut r), [4]);
    for block in 5..=8 {
        r.handle_datagram(now, addr(CLIENT), &data(block, &[0; 8]));
    }
    assert_eq!(acks(&mut r), [8]);
}

#[test]
fn gap_is_reported_once_with_the_last_block_in_order() {
    let now = Instant::now();
    let mut r = server(b"\x00\x02f\0octet\0blksize\x008\0windowsize\x004\0", now);
    drain(&mut r);
    r.handle_datagram(now, addr(CLIENT), &data(1, &[1; 8]));
    r.handle_datagram(now, addr(CLIENT), &data(3, &[3; 8]));
    assert_eq!(acks(&mut r), [1]);
    r.handle_datagram(now, addr(CLIENT), &data(4, &[4; 8]));
    assert_eq!(acks(&mut r), [], "the same gap is not reported twice");
    // The sender resumes after block 1 (RFC 7440).
    for block in 2..=5 {
        r.handle_datagram(now, addr(CLIENT), &data(block, &[block as u8; 8]));
    }
    assert_eq!(acks(&mut r), [5]);
    let got = take(&mut r);
    assert_eq!(got.len(), 40);
    assert!(got.chunks(8).enumerate().all(|(i, c)| c.iter().all(|&b| usize::from(b) == i + 1)));
}

#[test]
fn duplicate_of_the_last_block_is_reacked_once_per_resend() {
    let now = Instant::now();
    let mut r = server(b"\x00\x02f\0octet\0blksize\x008\0windowsize\x003\0", now);
    drain(&mut r);
    for block in 1..=3 {
        r.handle_datagram(now, addr(CLIENT), &data(block, &[0; 8]));
    }
    assert_eq!(acks(&mut r), [3]);
    // Our ACK 3 was lost; the sender resends its window 1..=3.
    for block in 1..=3 {
        r.handle_datagram(now, addr(CLIENT), &data(block, &[0; 8]));
    }
    assert_eq!(acks(&mut r), [3]);
    assert_eq!(take(&mut r).len(), 24);
}

#[test]
fn timeout_reacks_then_gives_up() {
    let now = Instant::now();
    let mut r = server(b"\x00\x02f\0octet\0", now);
    assert_eq!(acks(&mut r), [0]);
    r.handle_datagram(now, addr(CLIENT), &data(1, &[0; 512]));
    assert_eq!(acks(&mut r), [1]);
    let mut reacks = 0;
    while let Some(t) = r.poll_timeout() {
        r.handle_timeout(t);
        for block in acks(&mut r) {
            assert_eq!(block, 1);
            reacks += 1;
        }
    }
    assert_eq!(reacks, 5);
    assert_eq!(events(&mut r).pop(), Some(Event::Failed(TransferError::TimedOut { retries: 5 })));
    assert!(r.is_closed());
}

#[test]
fn oversized_block_is_illegal() {
    let now = Instant::now();
    let mut r = server(b"\x00\x02f\0octet\0", now);
    drain(&mut r);
    r.handle_datagram(now, addr(CLIENT), &data(1, &[0; 513]));
    assert!(drain(&mut r)[0].1.starts_with(b"\x00\x05\x00\x04"));
    assert!(r.is_closed());
}

#[test]
fn client_get_locks_onto_the_servers_new_port() {
    let now = Instant::now();
    let mut r = Receiver::get(
        "f.txt",
        Mode::Octet,
        RequestOptions::default(),
        addr(SERVER_69),
        &Config::default(),
        now,
    )
    .expect("valid request");
    assert_eq!(drain(&mut r), [(addr(SERVER_69), b"\x00\x01f.txt\0octet\0".to_vec())]);
    // The request is retransmitted until someone answers.
    let t = r.poll_timeout().expect("armed");
    r.handle_timeout(t);
    assert_eq!(drain(&mut r)[0].0, addr(SERVER_69));
    r.handle_datagram(t, addr(SERVER_TID), &data(1, &[9; 512]));
    assert_eq!(r.peer(), Some(addr(SERVER_TID)));
    assert_eq!(drain(&mut r), [(addr(SERVER_TID), b"\x00\x04\x00\x01".to_vec())]);
    // A second server TID (from the retransmitted RRQ) and an intruder get ERROR 5 ...
    for stranger in ["10.0.0.1:4001", "10.6.6.6:4000"] {
        r.handle_datagram(t, addr(stranger), &data(2, b"evil"));
        assert_eq!(drain(&mut r), [(addr(stranger), b"\x00\x05\x00\x05Unknown transfer ID\0".to_vec())]);
    }
    // ... and do not disturb the transfer.
    r.handle_datagram(t, addr(SERVER_TID), &data(2, b"ok"));
    assert_eq!(acks(&mut r), [2]);
    assert_eq!(&take(&mut r)[512..], b"ok");
}

#[test]
fn client_get_with_oack_acks_0_and_again_for_a_repeated_oack() {
    let now = Instant::now();
    let options = RequestOptions { blksize: Some(1024), tsize: Some(0), ..Default::default() };
    let mut r = Receiver::get("f", Mode::Octet, options, addr(SERVER_69), &Config::default(), now)
        .expect("valid request");
    assert_eq!(drain(&mut r)[0].1, b"\x00\x01f\0octet\0blksize\x001024\0tsize\x000\0");
    let oack = b"\x00\x06blksize\x00900\0tsize\x005000\0";
    r.handle_datagram(now, addr(SERVER_TID), oack);
    assert_eq!(acks(&mut r), [0]);
    let want = TransferOptions { blksize: 900, windowsize: 1, timeout: None, tsize: Some(5000) };
    assert_eq!(events(&mut r), [Event::Negotiated(want)]);
    r.handle_datagram(now, addr(SERVER_TID), oack);
    assert_eq!(acks(&mut r), [0]);
    r.handle_datagram(now, addr(SERVER_TID), &data(1, &[0; 900]));
    assert_eq!(acks(&mut r), [1]);
    // After data has flowed, a stale OACK is ignored.
    r.handle_datagram(now, addr(SERVER_TID), oack);
    assert_eq!(acks(&mut r), []);
}

#[test]
fn client_get_refuses_an_unrequested_option() {
    let now = Instant::now();
    let mut r =
        Receiver::get("f", Mode::Octet, RequestOptions::default(), addr(SERVER_69), &Config::default(), now)
            .expect("valid request");
    drain(&mut r);
    r.handle_datagram(now, addr(SERVER_TID), b"\x00\x06windowsize\x008\0");
    let sent = drain(&mut r);
    assert_eq!(sent[0].0, addr(SERVER_TID));
    assert!(sent[0].1.starts_with(b"\x00\x05\x00\x08"));
    assert_eq!(events(&mut r).pop(), Some(Event::Failed(TransferError::Options(OptionError::NotRequested))));
}

#[test]
fn client_get_error_reply_fails_without_answer() {
    let now = Instant::now();
    let mut r = Receiver::get(
        "nope",
        Mode::Octet,
        RequestOptions::default(),
        addr(SERVER_69),
        &Config::default(),
        now,
    )
    .expect("valid request");
    drain(&mut r);
    r.handle_datagram(now, addr(SERVER_TID), b"\x00\x05\x00\x01File not found\0");
    assert_eq!(drain(&mut r), []);
    assert!(r.is_closed() && !r.is_complete());
    let failed = TransferError::Peer { code: ErrorCode::FileNotFound, message: "File not found".into() };
    assert_eq!(events(&mut r).pop(), Some(Event::Failed(failed)));
}

#[test]
fn netascii_cr_lf_split_across_blocks() {
    let now = Instant::now();
    let mut r = server(b"\x00\x02f\0netascii\0blksize\x008\0", now);
    drain(&mut r);
    r.handle_datagram(now, addr(CLIENT), &data(1, b"abcdefg\r"));
    assert_eq!(take(&mut r), b"abcdefg", "the CR waits for its partner");
    r.handle_datagram(now, addr(CLIENT), &data(2, b"\nx\r\0y\r"));
    // The final block ends in a bare CR: kept as is.
    assert_eq!(take(&mut r), b"\nx\ry\r");
}

#[test]
fn block_numbers_roll_over() {
    let now = Instant::now();
    let mut r = server(b"\x00\x02f\0octet\0blksize\x008\0windowsize\x00256\0", now);
    drain(&mut r);
    let total: u64 = 65_536 + 300;
    for n in 1..=total {
        r.handle_datagram(now, addr(CLIENT), &data(n as u16, &[0; 8]));
        if n % 256 == 0 {
            assert_eq!(acks(&mut r), [n as u16]);
            take(&mut r);
        }
    }
    assert_eq!(r.blocks_received(), total);
    r.handle_datagram(now, addr(CLIENT), &data((total + 1) as u16, b""));
    assert!(r.is_complete());
}

#[test]
fn network_duplicate_mid_window_does_not_ack() {
    // Regression: re-ACKing any copy of the newest block made a network-duplicated DATA in
    // mid-window look like a gap report, and the sender resent the rest of every window.
    let now = Instant::now();
    let mut r = server(b"\x00\x02f\0octet\0blksize\x008\0windowsize\x004\0", now);
    drain(&mut r);
    r.handle_datagram(now, addr(CLIENT), &data(1, &[0; 8]));
    r.handle_datagram(now, addr(CLIENT), &data(1, &[0; 8]));
    assert_eq!(acks(&mut r), []);
    for block in 2..=4 {
        r.handle_datagram(now, addr(CLIENT), &data(block, &[0; 8]));
    }
    assert_eq!(acks(&mut r), [4]);
}
