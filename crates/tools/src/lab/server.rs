//! One echo server under test: `pollux echo [--model M] --bind 127.0.0.1:0` as a child
//! process, so that its CPU time and memory are its own and can be read from `/proc`.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::LabError;

/// A running echo server; killed and reaped on drop.
#[derive(Debug)]
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `exe echo --model MODEL --bind 127.0.0.1:0` (no `--model` for `reactor`) and
    /// waits up to five seconds for its `listening on tcp://ADDR` line.
    pub fn start(exe: &Path, model: &str) -> Result<Server, LabError> {
        let mut cmd = Command::new(exe);
        cmd.arg("echo");
        if model != "reactor" {
            cmd.args(["--model", model]);
        }
        cmd.args(["--bind", "127.0.0.1:0"]).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = cmd.spawn().map_err(LabError::Spawn)?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(LabError::NoAddress(model.to_string()));
        };
        // The line is read on a thread so that a server that never prints cannot hang the lab;
        // the thread then drains stdout so the server never blocks writing to a full pipe.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(a) =
                        line.split("tcp://").nth(1).and_then(|a| a.trim().parse::<SocketAddr>().ok())
                    {
                        let _ = tx.send(a);
                        sent = true;
                    }
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(5)) {
            Ok(addr) => Ok(Server { child, addr }),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(LabError::NoAddress(model.to_string()))
            }
        }
    }

    /// The server's process id, for `/proc`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
