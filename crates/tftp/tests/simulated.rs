//! Whole transfers through a simulated network with a fake clock (see `sim/mod.rs`): every
//! size, mode, blksize and windowsize combination on a perfect and on a hostile network,
//! block-number rollover, the Sorcerer's Apprentice, intruders and vanished peers.
//!
//! Every run checks the invariants in `sim::run` (no hang; a completed receiver holds exactly
//! the file; a sender never completes alone; every machine ends closed with an outcome).

mod sim;

use std::time::Duration;

use pollux_tftp::{Config, Mode, RequestKind, RequestOptions, TransferError, TransferOptions};
use sim::{run, NetProfile, Report, Rng, Scenario};

fn scenario(
    kind: RequestKind,
    mode: Mode,
    options: RequestOptions,
    file: Vec<u8>,
    net: NetProfile,
    seed: u64,
) -> Scenario {
    Scenario { kind, mode, options, file, client: Config::default(), server: Config::default(), net, seed }
}

/// Sizes around the block boundaries of `blksize`, plus the classic 511/512/513.
fn sizes(blksize: usize) -> Vec<usize> {
    let mut v =
        vec![0, 1, blksize - 1, blksize, blksize + 1, 3 * blksize, 3 * blksize + blksize / 2, 511, 512, 513];
    v.sort_unstable();
    v.dedup();
    v
}

/// Files for one combination: random bytes of each size (full of CR and LF in netascii), and
/// in netascii, text whose *encoded* size is an exact multiple of blksize.
fn files(mode: Mode, blksize: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
    let text = mode == Mode::Netascii;
    let mut v: Vec<Vec<u8>> = sizes(blksize).into_iter().map(|n| rng.bytes(n, text)).collect();
    if text {
        v.push(b"x".repeat(2 * blksize));
        v.push(b"\n".repeat(blksize)); // CR LF pairs straddle blocks when blksize is odd
    }
    v
}

/// Runs the whole matrix on `net`, returning every report.
fn matrix(net: NetProfile, seed: u64) -> Vec<(Scenario, Report)> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for kind in [RequestKind::Read, RequestKind::Write] {
        for mode in [Mode::Octet, Mode::Netascii] {
            for blksize in [None, Some(8u16), Some(9), Some(1024)] {
                for window in [None, Some(2u16), Some(5)] {
                    let bs = usize::from(blksize.unwrap_or(512));
                    for file in files(mode, bs, &mut rng) {
                        let options = RequestOptions { blksize, windowsize: window, ..Default::default() };
                        let s = scenario(kind, mode, options, file, net, rng.next_u64());
                        let report = run(&s);
                        out.push((s, report));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn every_combination_completes_on_a_perfect_network() {
    let runs = matrix(NetProfile::PERFECT, 1);
    assert!(runs.len() > 400, "{} runs", runs.len());
    for (s, r) in &runs {
        assert!(
            r.completed,
            "did not complete: {:?} {} bytes: {:?}",
            s.options,
            s.file.len(),
            r.client_failure
        );
        assert_eq!(r.sorcerer_resends, 0);
        let want = TransferOptions {
            blksize: s.options.blksize.unwrap_or(512),
            windowsize: s.options.windowsize.unwrap_or(1),
            timeout: None,
            tsize: None,
        };
        assert_eq!(r.negotiated, Some(want));
        // A perfect network needs no retransmission: each block exactly once.
        let blksize = usize::from(want.blksize);
        let wire_len = match s.mode {
            Mode::Octet => s.file.len(),
            Mode::Netascii => pollux_tftp::netascii::encoded_len(&s.file),
        };
        assert_eq!(r.data_sends, (wire_len / blksize + 1) as u64, "{:?} {} bytes", s.options, s.file.len());
    }
}

#[test]
fn every_combination_completes_or_fails_cleanly_on_a_hostile_network() {
    let mut completed = 0;
    let mut total = 0;
    let mut duplicate_acks = 0;
    let mut error5 = 0;
    for seed in [2, 3] {
        for (s, r) in matrix(NetProfile::LOSSY, seed) {
            total += 1;
            assert_eq!(r.sorcerer_resends, 0, "DATA resent on a duplicate ACK: {s:?}");
            duplicate_acks += r.duplicate_acks;
            error5 += r.error5_to_intruder;
            if r.completed {
                completed += 1;
            } else {
                // The only acceptable ends: giving up after retries, or the peer's ERROR
                // (e.g. ERROR 5 to a transfer started by a duplicate or intruder's request).
                match &r.client_failure {
                    None | Some(TransferError::TimedOut { .. }) | Some(TransferError::Peer { .. }) => {}
                    Some(other) => panic!("unclean failure {other}: {s:?}"),
                }
            }
        }
    }
    // Eight percent loss with five retries: nearly everything gets through.
    assert!(completed * 100 >= total * 97, "only {completed}/{total} completed");
    assert!(duplicate_acks > 100, "the network should have produced duplicate ACKs ({duplicate_acks})");
    assert!(error5 > 10, "the intruder should have met ERROR 5 ({error5})");
}

#[test]
fn a_brutal_network_never_hangs_or_corrupts() {
    // Nearly half of all packets lost, many duplicated and reordered: plenty of transfers give up.
    // Whatever happens, `run` checks that nothing hangs, no receiver completes with wrong
    // bytes and no sender completes alone; both outcomes must actually occur.
    let net = NetProfile { drop: 0.45, duplicate: 0.2, reorder: 0.3, intrude: 0.05, ..NetProfile::LOSSY };
    let mut rng = Rng::new(33);
    let (mut completed, mut failed) = (0, 0);
    for kind in [RequestKind::Read, RequestKind::Write] {
        for mode in [Mode::Octet, Mode::Netascii] {
            for window in [None, Some(3u16)] {
                for size in [0, 100, 700, 3000] {
                    for _ in 0..4 {
                        let options =
                            RequestOptions { blksize: Some(64), windowsize: window, ..Default::default() };
                        let file = rng.bytes(size, mode == Mode::Netascii);
                        let r = run(&scenario(kind, mode, options, file, net, rng.next_u64()));
                        assert_eq!(r.sorcerer_resends, 0);
                        if r.completed {
                            completed += 1;
                        } else {
                            failed += 1;
                        }
                    }
                }
            }
        }
    }
    assert!(completed > 10 && failed > 10, "{completed} completed, {failed} failed");
}

#[test]
fn more_than_65535_blocks_roll_over_to_zero() {
    // 70,000 blocks of 8 bytes: block numbers wrap past 65535 to 0.
    let net = NetProfile { drop: 0.01, duplicate: 0.01, reorder: 0.01, ..NetProfile::PERFECT };
    let mut rng = Rng::new(70_000);
    for (kind, window) in [(RequestKind::Read, None), (RequestKind::Write, Some(16u16))] {
        let file = rng.bytes(70_000 * 8 + 5, false);
        let options = RequestOptions { blksize: Some(8), windowsize: window, ..Default::default() };
        let mut s = scenario(kind, Mode::Octet, options, file, net, rng.next_u64());
        s.client.max_retries = 10;
        s.server.max_retries = 10;
        let r = run(&s);
        assert!(r.completed, "{kind:?}: {:?}", r.client_failure);
        assert_eq!(r.sorcerer_resends, 0);
        assert!(r.data_sends > 70_000);
    }
}

#[test]
fn duplicated_acks_never_duplicate_data() {
    // Every other packet is duplicated and nothing is lost: with the Sorcerer's Apprentice
    // bug each duplicate ACK would double the DATA from then on. Correct senders send each
    // block exactly once.
    let net = NetProfile { duplicate: 0.5, ..NetProfile::PERFECT };
    let mut rng = Rng::new(1123);
    for kind in [RequestKind::Read, RequestKind::Write] {
        for window in [None, Some(4u16)] {
            let file = rng.bytes(100 * 64 + 10, false);
            let options = RequestOptions { blksize: Some(64), windowsize: window, ..Default::default() };
            let r = run(&scenario(kind, Mode::Octet, options, file, net, rng.next_u64()));
            assert!(r.completed);
            assert!(r.duplicate_acks > 10, "{}", r.duplicate_acks);
            assert_eq!(r.sorcerer_resends, 0);
            assert_eq!(r.data_sends, 101, "{kind:?} window {window:?}");
        }
    }
}

#[test]
fn server_caps_lower_the_options_and_the_client_follows() {
    let mut rng = Rng::new(7);
    for kind in [RequestKind::Read, RequestKind::Write] {
        let file = rng.bytes(50_000, false);
        let options = RequestOptions {
            blksize: Some(4096),
            windowsize: Some(200),
            timeout: Some(3),
            tsize: Some(if kind == RequestKind::Read { 0 } else { 50_000 }),
        };
        let mut s = scenario(kind, Mode::Octet, options, file, NetProfile::LOSSY, rng.next_u64());
        s.server.max_blksize = 1024;
        s.server.max_window = 16;
        let r = run(&s);
        assert!(r.completed, "{:?}", r.client_failure);
        let want = TransferOptions { blksize: 1024, windowsize: 16, timeout: Some(3), tsize: Some(50_000) };
        assert_eq!(r.negotiated, Some(want));
    }
}

#[test]
fn a_vanished_peer_ends_in_a_timeout_not_a_hang() {
    let mut rng = Rng::new(99);
    for kind in [RequestKind::Read, RequestKind::Write] {
        for blackout in [0, 1, 2, 5, 20] {
            let net = NetProfile { blackout_after: Some(blackout), ..NetProfile::PERFECT };
            let file = rng.bytes(10 * 512, false);
            let r = run(&scenario(kind, Mode::Octet, RequestOptions::default(), file, net, rng.next_u64()));
            assert!(!r.completed);
            assert!(
                matches!(r.client_failure, Some(TransferError::TimedOut { retries: 5 })),
                "{:?}",
                r.client_failure
            );
        }
    }
}

#[test]
fn negotiated_timeout_paces_retransmissions() {
    // The request, OACK and ACK 0 get through, then the network dies. Both ends retransmit
    // five times, 7 s apart as negotiated, and give up 6 × 7 s after their last good packet.
    let net = NetProfile { blackout_after: Some(3), ..NetProfile::PERFECT };
    let options = RequestOptions { timeout: Some(7), ..Default::default() };
    let r = run(&scenario(RequestKind::Read, Mode::Octet, options, vec![1; 2000], net, 5));
    assert!(
        matches!(r.client_failure, Some(TransferError::TimedOut { retries: 5 })),
        "{:?}",
        r.client_failure
    );
    assert_eq!(r.negotiated.map(|o| o.timeout), Some(Some(7)));
    assert!(r.elapsed >= Duration::from_secs(42) && r.elapsed < Duration::from_secs(43), "{:?}", r.elapsed);
    // Without the option, the default 1 s applies: the request and five retries, then 1 s more.
    let net = NetProfile { blackout_after: Some(0), ..NetProfile::PERFECT };
    let r = run(&scenario(RequestKind::Read, Mode::Octet, RequestOptions::default(), Vec::new(), net, 6));
    assert_eq!(r.elapsed, Duration::from_secs(6));
}
