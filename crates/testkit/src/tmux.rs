//! A terminal for what needs one: Ctrl-C, a progress bar, an interactive client.

use std::process::Command;

/// A detached tmux session on a private tmux server (its own socket), for what needs a
/// terminal: Ctrl-C, a progress bar, an interactive client. Killed when dropped.
#[derive(Debug)]
pub struct Tmux {
    socket: String,
}

impl Tmux {
    /// Runs `cmd` (a shell command line) in a new session. When it ends, the pane prints
    /// `EXIT=<code>` and signals the tmux channel `done` (see [`Tmux::wait_done`]), then waits
    /// on its terminal so that its output stays readable. Panics if tmux cannot start it (not
    /// installed: scripts/test.sh installs it, as it does curl and socat).
    pub fn start(tag: &str, cmd: &str) -> Tmux {
        let socket = format!("pollux-{tag}-{}", std::process::id());
        // The shell traps SIGINT (so Ctrl-C reaches the command and the shell lives on to
        // report); a trapped signal is reset to its default in the command it starts.
        let script = format!("trap : INT; {cmd}; echo EXIT=$?; tmux -L {socket} wait-for -S done; read _");
        let ok = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "40",
                "sh",
                "-c",
                &script,
            ])
            .env_remove("TMUX")
            .status()
            .expect("run tmux: this test needs tmux (scripts/test.sh installs it)")
            .success();
        assert!(ok, "tmux new-session failed");
        Tmux { socket }
    }

    /// Types `keys` into the pane (tmux key names: `C-c`, `Enter`, or literal text).
    pub fn send_keys(&self, keys: &[&str]) {
        let st =
            Command::new("tmux").args(["-L", &self.socket, "send-keys"]).args(keys).status().expect("tmux");
        assert!(st.success(), "tmux send-keys failed");
    }

    /// Blocks until the command has ended (the `done` channel), 60 s at most.
    pub fn wait_done(&self) {
        let st = Command::new("timeout")
            .args(["60", "tmux", "-L", &self.socket, "wait-for", "done"])
            .status()
            .expect("timeout tmux wait-for");
        assert!(st.success(), "the command in tmux did not end:\n{}", self.capture());
    }

    /// What the pane shows.
    pub fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-J", "-S", "-200"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").args(["-L", &self.socket, "kill-server"]).status();
    }
}
