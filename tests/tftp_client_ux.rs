//! The TFTP client as a user meets it: Ctrl-C during a download leaves no partial file
//! behind (in a terminal, through tmux), and an upload to a read-only server says how to
//! allow uploads, without saying "Access violation" twice.

use std::process::Command;

use pollux_testkit::{pollux_bin, spawn_bound, TempRoot, Tmux};

fn tftp_server(dir: &std::path::Path, extra: &[&str]) -> pollux_testkit::Server {
    let mut cmd = Command::new(pollux_bin());
    cmd.args(["tftp", "serve"])
        .arg(dir)
        .args(["--bind", "127.0.0.1:0", "--workers", "1", "--quiet"])
        .args(extra);
    spawn_bound(cmd, "tftp://", 1).0
}

fn part_files(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read_dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part-"))
        .collect()
}

#[test]
fn ctrl_c_during_get_removes_the_partial_file() {
    let served = TempRoot::new("tftp-cc-srv");
    std::fs::write(served.0.join("big.bin"), vec![5u8; 16 << 20]).expect("write");
    let server = tftp_server(&served.0, &[]);
    let here = TempRoot::new("tftp-cc-cli");
    // 8-byte blocks in lock-step: minutes for 16 MiB, so the download is surely running.
    let cmd = format!(
        "cd '{}' && '{}' tftp get {} big.bin --blksize 8",
        here.0.display(),
        pollux_bin().display(),
        server.addr
    );
    let tmux = Tmux::start("tftp-cc", &cmd);
    pollux_testkit::wait_until(20, "the partial file", || {
        part_files(&here.0).iter().any(|n| std::fs::metadata(here.0.join(n)).is_ok_and(|m| m.len() > 0))
    });
    tmux.send_keys(&["C-c"]);
    tmux.wait_done();
    let screen = tmux.capture();
    assert!(screen.contains("pollux tftp: interrupted"), "{screen}");
    assert!(screen.contains("EXIT=130"), "{screen}");
    assert_eq!(part_files(&here.0), Vec::<String>::new(), "{screen}");
    assert!(!here.0.join("big.bin").exists());
}

#[test]
fn put_to_a_read_only_server_hints_at_create() {
    let served = TempRoot::new("tftp-ro");
    let server = tftp_server(&served.0, &[]);
    let local = TempRoot::new("tftp-ro-cli");
    let file = local.0.join("notes.txt");
    std::fs::write(&file, "hello\n").expect("write");
    let out = Command::new(pollux_bin())
        .args(["tftp", "put", &server.addr.to_string()])
        .arg(&file)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("peer sent ERROR 2 (Access violation): server is read-only"), "{err}");
    assert!(!err.contains("Access violation: Access violation"), "{err}");
    assert!(err.contains("--create") && err.contains("--allow-write"), "{err}");
}
