//! Property: whatever arrives, from the peer or from strangers, in whatever state, the
//! machines never panic, everything they emit parses as a TFTP packet, and they only ever
//! address the peer (or the server's port 69 before it answers) and strangers who wrote first.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use pollux_tftp::{emit, Config, Mode, Packet, Receiver, RequestOptions, Sender};
use proptest::prelude::*;

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("address literal")
}

/// One thing that happens to a machine.
#[derive(Debug, Clone)]
enum Input {
    /// A datagram from the peer (`true`) or a stranger.
    Datagram(bool, Vec<u8>),
    /// Time passes by this many milliseconds and any timer fires.
    Wait(u64),
    /// The caller writes file bytes (senders) or drains data (receivers).
    Data(usize),
    Finish,
}

fn datagram() -> impl Strategy<Value = Vec<u8>> {
    let block = any::<u16>().prop_map(|b| b % 8);
    prop_oneof![
        (block.clone(), proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(b, p)| {
            let mut buf = Vec::new();
            emit::encode_data(&mut buf, b, &p);
            buf
        }),
        block.prop_map(|b| {
            let mut buf = Vec::new();
            emit::encode_ack(&mut buf, b);
            buf
        }),
        Just(b"\x00\x06blksize\x0016\0windowsize\x002\0".to_vec()),
        Just(b"\x00\x06blksize\x0099999\0".to_vec()),
        Just(b"\x00\x06".to_vec()),
        Just(b"\x00\x05\x00\x01gone\0".to_vec()),
        Just(b"\x00\x01f\0octet\0".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..20),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        6 => (proptest::bool::weighted(0.8), datagram()).prop_map(|(p, d)| Input::Datagram(p, d)),
        2 => (0u64..3000).prop_map(Input::Wait),
        2 => (0usize..100).prop_map(Input::Data),
        1 => Just(Input::Finish),
    ]
}

const PEER: &str = "10.0.0.1:4000";
const STRANGER: &str = "10.0.0.9:9";
const SERVER_69: &str = "10.0.0.1:69";

/// Checks one emitted datagram.
fn check(to: SocketAddr, bytes: &[u8], allowed: &[SocketAddr]) -> Result<(), TestCaseError> {
    prop_assert!(Packet::parse(bytes).is_ok(), "emitted garbage {bytes:?}");
    prop_assert!(allowed.contains(&to), "sent to {to}");
    Ok(())
}

fn options() -> impl Strategy<Value = RequestOptions> {
    (proptest::option::of(8u16..40), proptest::option::of(1u16..4))
        .prop_map(|(blksize, windowsize)| RequestOptions { blksize, windowsize, ..Default::default() })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn client_sender_survives_anything(opts in options(), inputs in proptest::collection::vec(input(), 0..60)) {
        let mut now = Instant::now();
        let mut s = Sender::put("f", Mode::Netascii, opts, addr(SERVER_69), &Config::default(), now)
            .expect("valid request");
        let allowed = [addr(SERVER_69), addr(PEER), addr(STRANGER)];
        let mut buf = Vec::new();
        for input in inputs {
            match input {
                Input::Datagram(peer, d) => s.handle_datagram(now, addr(if peer { PEER } else { STRANGER }), &d),
                Input::Wait(ms) => {
                    now += Duration::from_millis(ms);
                    s.handle_timeout(now);
                }
                Input::Data(n) => s.write_data(&vec![b'\n'; n]),
                Input::Finish => s.finish_data(),
            }
            while let Some(to) = s.poll_transmit(now, &mut buf) {
                check(to, &buf, &allowed)?;
            }
            while s.poll_event().is_some() {}
            // Without a timer, a sender may only be waiting for the caller's file bytes.
            prop_assert!(s.poll_timeout().is_some() || s.is_closed() || s.data_wanted() > 0, "stuck");
        }
    }

    #[test]
    fn client_receiver_survives_anything(opts in options(), inputs in proptest::collection::vec(input(), 0..60)) {
        let mut now = Instant::now();
        let mut r = Receiver::get("f", Mode::Netascii, opts, addr(SERVER_69), &Config::default(), now)
            .expect("valid request");
        let allowed = [addr(SERVER_69), addr(PEER), addr(STRANGER)];
        let mut buf = Vec::new();
        for input in inputs {
            match input {
                Input::Datagram(peer, d) => r.handle_datagram(now, addr(if peer { PEER } else { STRANGER }), &d),
                Input::Wait(ms) => {
                    now += Duration::from_millis(ms);
                    r.handle_timeout(now);
                }
                Input::Data(n) => r.consume_data(n),
                Input::Finish => {}
            }
            while let Some(to) = r.poll_transmit(&mut buf) {
                check(to, &buf, &allowed)?;
            }
            while r.poll_event().is_some() {}
            prop_assert!(r.poll_timeout().is_some() || r.is_closed(), "open with no timer");
        }
    }

    #[test]
    fn server_machines_survive_anything(
        blksize in 8u16..40,
        inputs in proptest::collection::vec(input(), 0..60),
    ) {
        let mut now = Instant::now();
        let mut rrq = Vec::new();
        emit::encode_request(&mut rrq, pollux_tftp::RequestKind::Read, "f", Mode::Octet,
            &[(pollux_tftp::OptionName::Blksize, u64::from(blksize))]).expect("valid");
        let Ok(Packet::Request(request)) = Packet::parse(&rrq) else { panic!("request parses") };
        let config = Config::default();
        let mut s = Sender::accept(&request, addr(PEER), &config, None, now).expect("acceptable");
        let mut r = Receiver::accept(&request, addr(PEER), &config, now).expect("acceptable");
        let allowed = [addr(PEER), addr(STRANGER)];
        let mut buf = Vec::new();
        for input in inputs {
            match input {
                Input::Datagram(peer, d) => {
                    let from = addr(if peer { PEER } else { STRANGER });
                    s.handle_datagram(now, from, &d);
                    r.handle_datagram(now, from, &d);
                }
                Input::Wait(ms) => {
                    now += Duration::from_millis(ms);
                    s.handle_timeout(now);
                    r.handle_timeout(now);
                }
                Input::Data(n) => {
                    s.write_data(&vec![7; n]);
                    r.consume_data(n);
                }
                Input::Finish => s.finish_data(),
            }
            while let Some(to) = s.poll_transmit(now, &mut buf) {
                check(to, &buf, &allowed)?;
            }
            while let Some(to) = r.poll_transmit(&mut buf) {
                check(to, &buf, &allowed)?;
            }
            while s.poll_event().is_some() || r.poll_event().is_some() {}
            prop_assert!(s.poll_timeout().is_some() || s.is_closed() || s.data_wanted() > 0, "sender stuck");
            prop_assert!(r.poll_timeout().is_some() || r.is_closed(), "receiver open with no timer");
        }
    }
}
