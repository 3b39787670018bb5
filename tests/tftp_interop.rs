//! Interop: `pollux tftp serve` against tftp-hpa's `tftp`, `atftp` and `curl tftp://`, and
//! `pollux tftp get|put` against tftpd-hpa's `in.tftpd`, downloads and uploads, netascii, and a
//! 100 MiB file each way (which also rolls the 16-bit block number over).
#![allow(clippy::unwrap_used)]

use std::fs;

use pollux_testkit::tftp::*;
use pollux_testkit::{assert_same_file, check, curl, random_bytes, recv_from, TempRoot};

const SMALL: usize = 300_000 + 123;
const HUNDRED_MIB: usize = 100 * 1024 * 1024;

/// A served directory with `small.bin` (not a multiple of 512) and `text.txt`.
fn served(tag: &str) -> TempRoot {
    let dir = TempRoot::empty(tag);
    fs::write(dir.path("small.bin"), random_bytes(SMALL, 7)).unwrap();
    fs::write(dir.path("text.txt"), TEXT).unwrap();
    dir
}

/// Lines ending in LF, a bare CR, a CR LF pair and a trailing line without an end.
const TEXT: &[u8] = b"first line\nsecond\rwith a bare CR\nthird\r\n\nlast";

#[test]
fn tftp_hpa_client_downloads_and_uploads() {
    let dir = served("hpa");
    let out = TempRoot::empty("hpa-out");
    let server = serve(&dir.0, &["--allow-write", "--create"]);
    let got = out.path("small.bin");
    check(&hpa(server.addr, "octet", &["get", "small.bin", got.to_str().unwrap()]), "tftp get");
    assert_same_file(&got, &dir.path("small.bin"));
    check(&hpa(server.addr, "octet", &["put", got.to_str().unwrap(), "up.bin"]), "tftp put");
    assert_same_file(&dir.path("up.bin"), &got);
    let log = server.wait_log("WRQ \"up.bin\"", 5);
    assert!(log.contains(&format!("RRQ \"small.bin\" octet {SMALL} bytes")), "{log}");
    assert!(log.contains(&format!("WRQ \"up.bin\" octet {SMALL} bytes")), "{log}");
}

#[test]
fn atftp_downloads_and_uploads_with_options() {
    let dir = served("atftp");
    let out = TempRoot::empty("atftp-out");
    let server = serve(&dir.0, &["--allow-write", "--create"]);
    for (i, opts) in [&[][..], &["--option", "blksize 1428", "--option", "windowsize 8"]].iter().enumerate() {
        let got = out.path(&format!("got{i}"));
        let mut args = opts.to_vec();
        args.extend(["-g", "-r", "small.bin", "-l", got.to_str().unwrap()]);
        check(&atftp(server.addr, &args), "atftp get");
        assert_same_file(&got, &dir.path("small.bin"));
        let remote = format!("up{i}.bin");
        let mut args = opts.to_vec();
        args.extend(["-p", "-l", got.to_str().unwrap(), "-r", &remote]);
        check(&atftp(server.addr, &args), "atftp put");
        assert_same_file(&dir.path(&remote), &got);
    }
}

#[test]
fn curl_downloads_and_uploads() {
    let dir = served("curl");
    let out = TempRoot::empty("curl-out");
    let server = serve(&dir.0, &["--allow-write", "--create"]);
    let got = out.path("small.bin");
    let url = format!("tftp://{}/small.bin", server.addr);
    check(&curl(&["-o", got.to_str().unwrap(), &url]), "curl get");
    assert_same_file(&got, &dir.path("small.bin"));
    // curl asks for blksize 512 and tsize by default; ask for a larger block too.
    let got2 = out.path("small2.bin");
    check(&curl(&["--tftp-blksize", "1024", "-o", got2.to_str().unwrap(), &url]), "curl get blksize");
    assert_same_file(&got2, &dir.path("small.bin"));
    let up = format!("tftp://{}/from-curl.bin", server.addr);
    check(&curl(&["-T", got.to_str().unwrap(), &up]), "curl put");
    assert_same_file(&dir.path("from-curl.bin"), &got);
    // A missing file is an error curl reports.
    let missing = curl(&["-o", out.path("x").to_str().unwrap(), &format!("tftp://{}/missing", server.addr)]);
    assert!(!missing.status.success());
}

#[test]
fn our_client_against_in_tftpd() {
    let dir = served("in-tftpd");
    let out = TempRoot::empty("in-tftpd-out");
    let server = in_tftpd(&dir.0, 1468);
    let addr = server.addr.to_string();
    for (i, opts) in [&[][..], &["--blksize", "1428"], &["--blksize", "8"]].iter().enumerate() {
        let got = out.path(&format!("got{i}"));
        let mut args = vec!["get", &addr, "small.bin", got.to_str().unwrap()];
        args.extend_from_slice(opts);
        check(&pollux(&args), "pollux tftp get");
        assert_same_file(&got, &dir.path("small.bin"));
        let remote = format!("up{i}.bin");
        let mut args = vec!["put", &addr, got.to_str().unwrap(), &remote];
        args.extend_from_slice(opts);
        check(&pollux(&args), "pollux tftp put");
        assert_same_file(&dir.path(&remote), &got);
    }
    // tftpd-hpa has no windowsize (RFC 7440): it leaves the option out of its OACK and we
    // fall back to lock-step.
    let got = out.path("windowed");
    check(&pollux(&["get", &addr, "small.bin", got.to_str().unwrap(), "--windowsize", "16"]), "windowed");
    assert_same_file(&got, &dir.path("small.bin"));
    // A missing file: exit code 4, and no local file created.
    let missing = out.path("missing");
    let r = pollux(&["get", &addr, "no-such-file", missing.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(4), "{}", String::from_utf8_lossy(&r.stderr));
    assert!(!missing.exists());
}

#[test]
fn netascii_is_converted_both_ways() {
    let dir = served("netascii");
    let out = TempRoot::empty("netascii-out");
    let ours = serve(&dir.0, &["--allow-write", "--create"]);
    let theirs = in_tftpd(&dir.0, 1468);

    // On the wire, our server sends CR LF for LF and CR NUL for a bare CR (RFC 1350 / 764).
    let wire = raw_rrq(ours.addr, "text.txt", "netascii");
    assert_eq!(wire, b"first line\r\nsecond\r\0with a bare CR\r\nthird\r\0\r\n\r\nlast");

    // tftp-hpa's client (ascii) from our server, and our client (netascii) from in.tftpd, both
    // give back the original text; octet from in.tftpd's netascii is what our server sent.
    let a = out.path("hpa.txt");
    check(&hpa(ours.addr, "netascii", &["get", "text.txt", a.to_str().unwrap()]), "tftp ascii get");
    assert_eq!(fs::read(&a).unwrap(), TEXT);
    let b = out.path("ours.txt");
    let theirs_addr = theirs.addr.to_string();
    check(&pollux(&["get", &theirs_addr, "text.txt", b.to_str().unwrap(), "--mode", "netascii"]), "get");
    assert_eq!(fs::read(&b).unwrap(), TEXT);
    assert_eq!(raw_rrq(theirs.addr, "text.txt", "netascii"), wire, "same encoding as tftpd-hpa");

    // Uploads in netascii are stored with local line ends: from tftp-hpa to us, from us to
    // in.tftpd, and our client's CR LF on the wire is what our server decodes.
    check(&hpa(ours.addr, "netascii", &["put", a.to_str().unwrap(), "up-hpa.txt"]), "tftp ascii put");
    assert_eq!(fs::read(dir.path("up-hpa.txt")).unwrap(), TEXT);
    check(&pollux(&["put", &theirs_addr, b.to_str().unwrap(), "up-ours.txt", "--mode", "netascii"]), "put");
    assert_eq!(fs::read(dir.path("up-ours.txt")).unwrap(), TEXT);
    let ours_addr = ours.addr.to_string();
    check(&pollux(&["put", &ours_addr, b.to_str().unwrap(), "up-self.txt", "--mode", "netascii"]), "put");
    assert_eq!(fs::read(dir.path("up-self.txt")).unwrap(), TEXT);
}

/// The raw payload bytes of a lock-step RRQ (no options), acknowledged by hand.
fn raw_rrq(server: std::net::SocketAddr, name: &str, mode: &str) -> Vec<u8> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    let mut rrq = b"\x00\x01".to_vec();
    rrq.extend_from_slice(name.as_bytes());
    rrq.push(0);
    rrq.extend_from_slice(mode.as_bytes());
    rrq.push(0);
    s.send_to(&rrq, server).unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 600];
    loop {
        let (n, from) = recv_from(&s, &mut buf).unwrap();
        assert_eq!(&buf[..2], b"\x00\x03", "expected DATA, got {:?}", &buf[..n]);
        data.extend_from_slice(&buf[4..n]);
        s.send_to(&[0, 4, buf[2], buf[3]], from).unwrap();
        if n - 4 < 512 {
            return data;
        }
    }
}

/// 100 MiB each way, byte-identical: from our server to atftp and from atftp to our server
/// (blksize 1428, windowsize 16: 73,431 blocks, past the 16-bit rollover), and from in.tftpd
/// to our client and back (blksize 1428, lock-step).
#[test]
fn hundred_mib_each_way() {
    let dir = TempRoot::empty("100m");
    let out = TempRoot::empty("100m-out");
    let big = dir.path("big.bin");
    fs::write(&big, random_bytes(HUNDRED_MIB, 42)).unwrap();
    let ours = serve(&dir.0, &["--allow-write", "--create"]);
    let theirs = in_tftpd(&dir.0, 1468);
    let fast = ["--option", "blksize 1428", "--option", "windowsize 16"];

    let got = out.path("from-pollux.bin");
    let mut args = fast.to_vec();
    args.extend(["-g", "-r", "big.bin", "-l", got.to_str().unwrap()]);
    check(&atftp(ours.addr, &args), "atftp get 100 MiB");
    assert_same_file(&got, &big);
    let mut args = fast.to_vec();
    args.extend(["-p", "-l", got.to_str().unwrap(), "-r", "up-atftp.bin"]);
    check(&atftp(ours.addr, &args), "atftp put 100 MiB");
    assert_same_file(&dir.path("up-atftp.bin"), &big);
    fs::remove_file(&got).unwrap();
    fs::remove_file(dir.path("up-atftp.bin")).unwrap();

    let theirs_addr = theirs.addr.to_string();
    let got = out.path("from-in-tftpd.bin");
    check(
        &pollux(&["get", &theirs_addr, "big.bin", got.to_str().unwrap(), "--blksize", "1428"]),
        "get 100 MiB",
    );
    assert_same_file(&got, &big);
    check(
        &pollux(&["put", &theirs_addr, got.to_str().unwrap(), "up-ours.bin", "--blksize", "1428"]),
        "put 100 MiB",
    );
    assert_same_file(&dir.path("up-ours.bin"), &big);
}
