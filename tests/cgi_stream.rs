//! Streaming through a CGI script with the real binary: a 100 MiB upload hashed by the script
//! while the server's memory stays small, and a slowly writing script whose output reaches
//! the client as it is written.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use pollux_testkit::{assert_no_zombies, parse_responses, rss_kib, write_scripts, ReadRetry, TempRoot};

#[test]
fn a_100_mib_upload_streams_through_a_script_in_bounded_memory() {
    const SIZE: usize = 100 * 1024 * 1024;
    let root = TempRoot::new("cgi-up-www");
    let bin = TempRoot::new("cgi-up-bin");
    write_scripts(&bin.0, &[("hash.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nsha256sum\n")]);
    let spec = format!("/cgi-bin={}", bin.0.display());
    let server = pollux_testkit::serve(&root.0, &["--cgi", &spec, "--max-body", "200000000"]);
    let pid = server.child.id();

    let mut block = pollux_testkit::upload_block();
    let blocks = SIZE / block.len();
    let expected = pollux_testkit::upload_sha256(&mut block, blocks);

    let mut c = pollux_testkit::connect(server.addr);
    c.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let head = format!(
        "POST /cgi-bin/hash.sh HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {SIZE}\r\nConnection: close\r\n\r\n"
    );
    c.write_all(head.as_bytes()).expect("head");
    let writer = {
        let mut c = c.try_clone().expect("clone");
        let mut block = block.clone();
        std::thread::spawn(move || {
            for i in 0..SIZE / block.len() {
                block[0] = i as u8;
                c.write_all(&block).expect("body");
            }
        })
    };
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        let mut samples = 0;
        let t = Instant::now();
        while !writer.is_finished() && t.elapsed() < Duration::from_secs(120) {
            peak = peak.max(rss_kib(pid));
            samples += 1;
            std::thread::sleep(Duration::from_millis(20));
        }
        writer.join().expect("writer");
        (peak, samples)
    });
    let mut data = Vec::new();
    c.read_to_end(&mut data).expect("response");
    let (peak, samples) = sampler.join().expect("sampler");
    let (rs, _) = parse_responses(&data, &[false]);
    assert_eq!(rs.len(), 1, "{}", String::from_utf8_lossy(&data));
    assert_eq!(rs[0].status, 200);
    assert_eq!(rs[0].text(), format!("{expected}  -\n"));
    eprintln!("server RSS peak during the upload: {peak} KiB ({samples} samples)");
    assert!(samples > 0 && peak > 0, "no RSS samples");
    assert!(peak < 64 * 1024, "server RSS peaked at {peak} KiB during the upload");
    assert_no_zombies(pid);
}

#[test]
fn a_slow_script_streams_to_the_client_as_it_writes() {
    let root = TempRoot::new("cgi-slow-www");
    let bin = TempRoot::new("cgi-slow-bin");
    let slow = "#!/bin/sh\nprintf 'Content-Type: text/plain\\n\\n'\nfor i in 1 2 3 4; do echo \"line $i\"; sleep 0.5; done\n";
    write_scripts(&bin.0, &[("slow.sh", slow)]);
    let spec = format!("/cgi-bin={}", bin.0.display());
    let server = pollux_testkit::serve(&root.0, &["--cgi", &spec]);
    let mut c = pollux_testkit::connect(server.addr);
    let t = Instant::now();
    c.write_all(b"GET /cgi-bin/slow.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").expect("write");
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let mut first = None;
    loop {
        let n = c.read_retry(&mut buf).expect("read");
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
        if first.is_none() && pollux_testkit::find(&data, b"line 1\n").is_some() {
            first = Some(t.elapsed());
        }
    }
    let total = t.elapsed();
    let first = first.expect("line 1 arrived");
    // The script takes 2 s; its first line must not wait for the rest.
    assert!(total >= Duration::from_millis(1900), "{total:?}");
    assert!(first < Duration::from_millis(1000), "first line after {first:?} of {total:?}");
    let (rs, _) = parse_responses(&data, &[false]);
    assert_eq!(rs[0].header("transfer-encoding"), Some("chunked"));
    assert_eq!(rs[0].text(), "line 1\nline 2\nline 3\nline 4\n");
    assert_no_zombies(server.child.id());
}

#[test]
fn a_scripts_content_length_frames_the_response() {
    let root = TempRoot::new("cgi-len-www");
    let bin = TempRoot::new("cgi-len-bin");
    write_scripts(
        &bin.0,
        &[
            ("len.sh", "#!/bin/sh\nprintf 'Content-Type: text/plain\\nContent-Length: 6\\n\\nhello\\n'\n"),
            (
                "short.sh",
                "#!/bin/sh\nprintf 'Content-Type: text/plain\\nContent-Length: 100\\n\\nhello\\n'\n",
            ),
        ],
    );
    let spec = format!("/cgi-bin={}", bin.0.display());
    let server = pollux_testkit::serve(&root.0, &["--cgi", &spec]);
    // Two requests on one connection: the first is framed by the script's length.
    let mut c = pollux_testkit::connect(server.addr);
    c.write_all(b"GET /cgi-bin/len.sh HTTP/1.1\r\nHost: x\r\n\r\nGET /cgi-bin/len.sh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let data = pollux_testkit::read_all(&mut c, Duration::from_secs(10));
    let (rs, _) = parse_responses(&data, &[false, false]);
    assert_eq!(rs.len(), 2, "{}", String::from_utf8_lossy(&data));
    for r in &rs {
        assert_eq!((r.header("content-length"), r.text().as_str()), (Some("6"), "hello\n"));
    }
    // A script that promises more than it writes: the connection closes, so the client sees
    // the response is short.
    let mut c = pollux_testkit::connect(server.addr);
    c.write_all(b"GET /cgi-bin/short.sh HTTP/1.1\r\nHost: x\r\n\r\n").expect("write");
    let data = pollux_testkit::read_all(&mut c, Duration::from_secs(10));
    let text = String::from_utf8_lossy(&data);
    assert!(text.contains("Content-Length: 100\r\n") && text.ends_with("\r\n\r\nhello\n"), "{text}");
    assert_no_zombies(server.child.id());
}
