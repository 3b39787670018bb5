//! Byte-level tests of the sender: handshakes, windows, duplicates, timeouts, TIDs, rollover.

use std::time::Duration;

use super::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address literal")
}

const CLIENT: &str = "10.0.0.2:3000";
const SERVER_69: &str = "10.0.0.1:69";
const SERVER_TID: &str = "10.0.0.1:4000";

/// All datagrams the sender wants to send now, as (destination, bytes).
fn drain(s: &mut Sender, now: Instant) -> Vec<(SocketAddr, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = Vec::new();
    while let Some(to) = s.poll_transmit(now, &mut buf) {
        out.push((to, buf.clone()));
    }
    out
}

/// Just the DATA block numbers and payload lengths sent now.
fn data_sent(s: &mut Sender, now: Instant) -> Vec<(u16, usize)> {
    drain(s, now)
        .iter()
        .map(|(_, bytes)| match Packet::parse(bytes) {
            Ok(Packet::Data { block, payload }) => (block, payload.len()),
            other => panic!("expected DATA, got {other:?}"),
        })
        .collect()
}

fn ack(block: u16) -> Vec<u8> {
    let mut buf = Vec::new();
    emit::encode_ack(&mut buf, block);
    buf
}

fn server(rrq: &[u8], now: Instant) -> Sender {
    let config = Config::default();
    match Packet::parse(rrq) {
        Ok(Packet::Request(r)) => {
            Sender::accept(&r, addr(CLIENT), &config, Some(1000), now).expect("acceptable")
        }
        other => panic!("{other:?}"),
    }
}

fn events(s: &mut Sender) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

#[test]
fn lock_step_transfer_without_options() {
    let now = Instant::now();
    let mut s = server(b"\x00\x01f\0octet\0", now);
    assert_eq!(events(&mut s), [Event::Negotiated(TransferOptions::default())]);
    assert_eq!(drain(&mut s, now), [], "nothing to send before data is written");
    assert_eq!(s.data_wanted(), 512);
    s.write_data(&[7; 600]);
    s.finish_data();
    assert_eq!(s.data_wanted(), 0);
    let sent = drain(&mut s, now);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, addr(CLIENT));
    assert_eq!(&sent[0].1[..4], b"\x00\x03\x00\x01");
    s.handle_datagram(now, addr(CLIENT), &ack(1));
    assert_eq!(data_sent(&mut s, now), [(2, 88)]);
    assert!(!s.is_complete());
    s.handle_datagram(now, addr(CLIENT), &ack(2));
    assert!(s.is_complete() && s.is_closed());
    assert_eq!(events(&mut s), [Event::Complete]);
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn oack_first_then_data_after_ack_0() {
    let now = Instant::now();
    let mut s = server(b"\x00\x01f\0octet\0blksize\x001024\0windowsize\x004\0tsize\x000\0", now);
    let sent = drain(&mut s, now);
    assert_eq!(sent, [(addr(CLIENT), b"\x00\x06blksize\x001024\0windowsize\x004\0tsize\x001000\0".to_vec())]);
    s.write_data(&[1; 1000]);
    s.finish_data();
    assert_eq!(drain(&mut s, now), [], "no DATA before the OACK is acknowledged");
    // The OACK is retransmitted on timeout.
    let later = s.poll_timeout().expect("armed");
    assert_eq!(later, now + Duration::from_secs(1));
    s.handle_timeout(later);
    assert_eq!(drain(&mut s, later)[0].1[..2], [0, 6]);
    s.handle_datagram(later, addr(CLIENT), &ack(0));
    assert_eq!(data_sent(&mut s, later), [(1, 1000)]);
    s.handle_datagram(later, addr(CLIENT), &ack(1));
    assert!(s.is_complete());
}

#[test]
fn duplicate_ack_never_resends_data() {
    // RFC 1123 §4.2.3.1, the Sorcerer's Apprentice.
    let now = Instant::now();
    let mut s = server(b"\x00\x01f\0octet\0", now);
    s.write_data(&[0; 2000]);
    assert_eq!(data_sent(&mut s, now), [(1, 512)]);
    s.handle_datagram(now, addr(CLIENT), &ack(1));
    assert_eq!(data_sent(&mut s, now), [(2, 512)]);
    for _ in 0..3 {
        s.handle_datagram(now, addr(CLIENT), &ack(1));
        s.handle_datagram(now, addr(CLIENT), &ack(0));
        assert_eq!(data_sent(&mut s, now), []);
    }
    // Only the timer retransmits.
    let deadline = s.poll_timeout().expect("armed");
    s.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(data_sent(&mut s, deadline), []);
    s.handle_timeout(deadline);
    assert_eq!(data_sent(&mut s, deadline), [(2, 512)]);
}

#[test]
fn window_resumes_after_the_acknowledged_block() {
    let now = Instant::now();
    let mut s = server(b"\x00\x01f\0octet\0blksize\x008\0windowsize\x004\0", now);
    s.handle_datagram(now, addr(CLIENT), &ack(0));
    s.write_data(&[0; 8 * 10]);
    assert_eq!(s.data_wanted(), 0, "a window's worth is buffered");
    assert_eq!(data_sent(&mut s, now), [(1, 8), (2, 8), (3, 8), (4, 8)]);
    // The receiver saw a gap after block 2 (RFC 7440 §4).
    s.handle_datagram(now, addr(CLIENT), &ack(2));
    assert_eq!(data_sent(&mut s, now), [(3, 8), (4, 8), (5, 8), (6, 8)]);
    s.handle_datagram(now, addr(CLIENT), &ack(6));
    assert_eq!(data_sent(&mut s, now), [(7, 8), (8, 8), (9, 8), (10, 8)]);
    s.finish_data();
    s.handle_datagram(now, addr(CLIENT), &ack(10));
    assert_eq!(data_sent(&mut s, now), [(11, 0)], "a multiple of blksize ends with an empty block");
    // A stale ACK from an older window changes nothing.
    s.handle_datagram(now, addr(CLIENT), &ack(3));
    assert_eq!(data_sent(&mut s, now), []);
    s.handle_datagram(now, addr(CLIENT), &ack(11));
    assert!(s.is_complete());
}

#[test]
fn timeout_resends_the_whole_window() {
    let now = Instant::now();
    let mut s = server(b"\x00\x01f\0octet\0blksize\x008\0windowsize\x003\0", now);
    s.handle_datagram(now, addr(CLIENT), &ack(0));
    s.write_data(&[0; 20]);
    s.finish_data();
    assert_eq!(data_sent(&mut s, now), [(1, 8), (2, 8), (3, 4)]);
    let t = s.poll_timeout().expect("armed");
    s.handle_timeout(t);
    assert_eq!(data_sent(&mut s, t), [(1, 8), (2, 8), (3, 4)]);
}

#[test]
fn empty_file_is_one_empty_block() {
    let now = Instant::now();
    let mut s = server(b"\x00\x01f\0octet\0", now);
    s.finish_data();
    assert_eq!(data_sent(&mut s, now), [(1, 0)]);
    s.handle_datagram(now, addr(CLIENT), &ack(1));
    assert!(s.is_complete());
}

#[test]
fn gives_up_after_max_retries() {
    let now = Instant::now();
    let mut s = server(b"\x00\x01f\0octet\0", now);
    s.write_data(b"x");
    s.finish_data();
    let mut sends = data_sent(&mut s, now).len();
    while let Some(t) = s.poll_timeout() {
        s.handle_timeout(t);
        sends += data_sent(&mut s, t).len();
    }
    assert_eq!(sends, 1 + 5);
    assert_eq!(events(&mut s).pop(), Some(Event::Failed(TransferError::TimedOut { retries: 5 })));
    assert!(s.is_closed());
    assert_eq!(drain(&mut s, now), [], "no ERROR to a peer presumed gone");
}

#[test]
fn stranger_gets_error_5_and_transfer_goes_on() {
    let now = Instant::now();
    let mut s = server(b"\x00\x01f\0octet\0", now);
    s.write_data(&[0; 1024]);
    drain(&mut s, now);
    let stranger = addr("10.0.0.2:3001");
    s.handle_datagram(now, stranger, &ack(1));
    assert_eq!(drain(&mut s, now), [(stranger, b"\x00\x05\x00\x05Unknown transfer ID\0".to_vec())]);
    // A stranger's ERROR is not answered (no volleys), and does not end our transfer.
    s.handle_datagram(now, stranger, b"\x00\x05\x00\x05go away\0");
    assert_eq!(drain(&mut s, now), []);
    s.handle_datagram(now, addr(CLIENT), &ack(1));
    assert_eq!(data_sent(&mut s, now), [(2, 512)]);
}

#[test]
fn peer_error_ends_the_transfer_silently() {
    let now = Instant::now();
    let mut s = server(b"\x00\x01f\0octet\0", now);
    s.handle_datagram(now, addr(CLIENT), b"\x00\x05\x00\x03disk full\0");
    assert!(s.is_closed());
    assert_eq!(drain(&mut s, now), []);
    let failed =
        Event::Failed(TransferError::Peer { code: ErrorCode::DiskFull, message: "disk full".into() });
    assert_eq!(events(&mut s).pop(), Some(failed));
}

#[test]
fn data_sent_to_the_sender_is_illegal() {
    let now = Instant::now();
    let mut s = server(b"\x00\x01f\0octet\0", now);
    s.handle_datagram(now, addr(CLIENT), b"\x00\x03\x00\x01hi");
    let sent = drain(&mut s, now);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].1.starts_with(b"\x00\x05\x00\x04"));
    assert!(s.is_closed());
}

#[test]
fn malformed_packet_from_peer_is_answered_and_fails() {
    let now = Instant::now();
    let mut s = server(b"\x00\x01f\0octet\0", now);
    s.handle_datagram(now, addr(CLIENT), b"\x00\x04\x00");
    assert!(drain(&mut s, now)[0].1.starts_with(b"\x00\x05\x00\x04"));
    assert_eq!(
        events(&mut s).pop(),
        Some(Event::Failed(TransferError::Malformed(crate::PacketError::Truncated)))
    );
}

#[test]
fn client_put_locks_onto_the_first_reply() {
    let now = Instant::now();
    let config = Config::default();
    let mut s = Sender::put("up.bin", Mode::Octet, RequestOptions::default(), addr(SERVER_69), &config, now)
        .expect("valid request");
    assert_eq!(drain(&mut s, now), [(addr(SERVER_69), b"\x00\x02up.bin\0octet\0".to_vec())]);
    // A reply from another host is a stranger.
    s.handle_datagram(now, addr("10.9.9.9:4000"), &ack(0));
    assert_eq!(drain(&mut s, now)[0].0, addr("10.9.9.9:4000"));
    assert_eq!(s.peer(), None);
    s.handle_datagram(now, addr(SERVER_TID), &ack(0));
    assert_eq!(s.peer(), Some(addr(SERVER_TID)));
    s.write_data(b"abc");
    s.finish_data();
    let sent = drain(&mut s, now);
    assert_eq!(sent, [(addr(SERVER_TID), b"\x00\x03\x00\x01abc".to_vec())]);
    // A second server TID (answering a retransmitted WRQ) gets ERROR 5.
    s.handle_datagram(now, addr("10.0.0.1:4001"), &ack(0));
    assert_eq!(
        drain(&mut s, now)[0],
        (addr("10.0.0.1:4001"), b"\x00\x05\x00\x05Unknown transfer ID\0".to_vec())
    );
    s.handle_datagram(now, addr(SERVER_TID), &ack(1));
    assert!(s.is_complete());
}

#[test]
fn client_put_refuses_an_oack_larger_than_asked() {
    let now = Instant::now();
    let options = RequestOptions { blksize: Some(1024), ..Default::default() };
    let mut s = Sender::put("f", Mode::Octet, options, addr(SERVER_69), &Config::default(), now)
        .expect("valid request");
    drain(&mut s, now);
    s.handle_datagram(now, addr(SERVER_TID), b"\x00\x06blksize\x002048\0");
    let sent = drain(&mut s, now);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, addr(SERVER_TID));
    assert!(sent[0].1.starts_with(b"\x00\x05\x00\x08"));
    let failed = TransferError::Options(OptionError::LargerThanRequested(crate::OptionName::Blksize));
    assert_eq!(events(&mut s).pop(), Some(Event::Failed(failed)));
}

#[test]
fn client_put_with_oack_uses_negotiated_blksize() {
    let now = Instant::now();
    let options = RequestOptions { blksize: Some(1024), tsize: Some(100), ..Default::default() };
    let mut s = Sender::put("f", Mode::Octet, options, addr(SERVER_69), &Config::default(), now)
        .expect("valid request");
    assert_eq!(s.data_wanted(), 1024, "prefetches for the blksize asked for");
    drain(&mut s, now);
    s.write_data(&[0; 100]);
    s.handle_datagram(now, addr(SERVER_TID), b"\x00\x06blksize\x0064\0tsize\x00100\0");
    let want = TransferOptions { blksize: 64, windowsize: 1, timeout: None, tsize: Some(100) };
    assert_eq!(events(&mut s), [Event::Negotiated(want)]);
    assert_eq!(data_sent(&mut s, now), [(1, 64)]);
}

#[test]
fn request_errors() {
    let now = Instant::now();
    let config = Config::default();
    let bad_name = Sender::put("", Mode::Octet, RequestOptions::default(), addr(SERVER_69), &config, now);
    assert_eq!(bad_name.err(), Some(RequestError::Filename(crate::PacketError::EmptyFilename)));
    let bad_opt = RequestOptions { windowsize: Some(0), ..Default::default() };
    let bad = Sender::put("f", Mode::Octet, bad_opt, addr(SERVER_69), &config, now);
    assert!(matches!(bad.err(), Some(RequestError::Options(_))));
}

#[test]
fn netascii_is_encoded_before_cutting_blocks() {
    let now = Instant::now();
    let mut s = server(b"\x00\x01f\0netascii\0blksize\x008\0", now);
    s.handle_datagram(now, addr(CLIENT), &ack(0));
    s.write_data(b"abcdef\ng\r");
    s.finish_data();
    let sent = drain(&mut s, now);
    assert_eq!(sent[0].1, b"\x00\x03\x00\x01abcdef\r\n");
    s.handle_datagram(now, addr(CLIENT), &ack(1));
    assert_eq!(drain(&mut s, now)[0].1, b"\x00\x03\x00\x02g\r\0");
}

#[test]
fn abort_sends_the_callers_error() {
    let now = Instant::now();
    let mut s = server(b"\x00\x01f\0octet\0", now);
    s.abort(ErrorCode::AccessViolation, "read failed");
    assert_eq!(drain(&mut s, now), [(addr(CLIENT), b"\x00\x05\x00\x02read failed\0".to_vec())]);
    assert!(s.is_closed());
    assert_eq!(events(&mut s).pop(), Some(Event::Failed(TransferError::Aborted(ErrorCode::AccessViolation))));
}

#[test]
fn block_numbers_roll_over_to_zero() {
    let now = Instant::now();
    let mut s = server(b"\x00\x01f\0octet\0blksize\x008\0windowsize\x0064\0", now);
    s.handle_datagram(now, addr(CLIENT), &ack(0));
    let mut last = 0u16;
    let mut blocks = Vec::new();
    while s.blocks_acked() < 65_600 {
        let wanted = s.data_wanted();
        s.write_data(&vec![0; wanted]);
        for (block, len) in data_sent(&mut s, now) {
            assert_eq!(len, 8);
            blocks.push(block);
            last = block;
        }
        s.handle_datagram(now, addr(CLIENT), &ack(last));
    }
    let at = blocks.iter().position(|&b| b == 65535).expect("reached 65535");
    assert_eq!(&blocks[at..at + 3], [65535, 0, 1]);
}
