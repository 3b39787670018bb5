//! Several processes for one application (`--processes`), because the GIL lets one process
//! run Python on one core at a time: a supervisor that never runs Python holds the
//! listening sockets and keeps N copies of the server running on them.
//!
//! ```text
//!  supervisor: bind (shared, not SO_REUSEPORT) ─► spawn N children ─► all say "serving"
//!              ─► print the addresses ─► loop on events:
//!    child exited unexpectedly ─► start another (after a back-off if it died young)
//!    child says "retiring" (--max-requests) ─► start its replacement; once that one
//!       serves, SIGTERM the old one, which drains and exits
//!    SIGHUP, or a .py file changed (--reload) ─► replace every child the same way
//!    SIGTERM/SIGINT ─► pass it on; exit once every child has
//!  child: the same binary started again with POLLUX_LISTEN_FDS; it adopts the sockets,
//!         imports the app, serves, and prints its "serving" line when ready
//! ```
//!
//! The sockets stay open in the supervisor while children come and go, so a connection
//! queued when a child exits waits for the others instead of being reset, and a recycled
//! child's replacement is serving before the old one stops: no request fails.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant, SystemTime};

/// The variable that tells a child which descriptors are its listening sockets.
pub const LISTEN_FDS: &str = "POLLUX_LISTEN_FDS";
/// What a child prints (on stdout) once it serves, in the URL of each of its listeners
/// (`http://…` or `https://…`): the supervisor waits for it.
pub const READY_MARK: &str = "://";
/// What a child prints when it has served its `--max-requests`.
pub const RETIRE_LINE: &str = "pollux: retiring";

/// How to run the children.
#[derive(Debug)]
#[non_exhaustive]
pub struct Supervisor {
    /// The program and arguments of a child (this binary, the same command line).
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Children to keep running.
    pub processes: usize,
    /// Directories whose `.py` files restart the children when they change (`--reload`).
    pub watch: Vec<PathBuf>,
    /// Shared counters (`--admin`): each child gets a slot of its own (`POLLUX_METRICS_FD`,
    /// `POLLUX_METRICS_SLOT`), folded into the retired totals when the child is gone.
    pub metrics: Option<std::sync::Arc<pollux_server::metrics::Area>>,
    /// Told when SIGTERM/SIGINT arrives, so the admin listener's `/healthz` says draining.
    pub lifecycle: Option<std::sync::Arc<pollux_server::Lifecycle>>,
}

impl Supervisor {
    pub fn new(program: PathBuf, args: Vec<OsString>, processes: usize) -> Supervisor {
        Supervisor {
            program,
            args,
            processes: processes.max(1),
            watch: Vec::new(),
            metrics: None,
            lifecycle: None,
        }
    }
}

enum Event {
    Ready(u64),
    Retire(u64),
    Exited(u64, io::Result<ExitStatus>),
    Signal(i32),
    Changed(PathBuf),
}

struct Proc {
    pid: u32,
    slot: usize,
    /// Its slot in the shared counters, if it has one.
    metrics: Option<usize>,
    started: Instant,
    ready: bool,
}

/// A slot keeps one child running; while it is replaced it has two.
#[derive(Default)]
struct Slot {
    current: Option<u64>,
    replacement: Option<u64>,
    /// How long to wait before starting a child again after one died young.
    backoff: Duration,
    /// When to start the slot's child again (it died).
    restart_at: Option<Instant>,
    /// When to try the replacement again (it died before serving).
    replace_at: Option<Instant>,
}

/// Takes the listening sockets and the children's command; returns when the children have
/// all exited after SIGTERM or SIGINT (`Ok(code)`: the exit code to use), or when the first
/// children could not start (their error is on stderr).
pub fn supervise(
    cfg: Supervisor,
    listeners: &[TcpListener],
    on_ready: impl FnOnce(&[SocketAddr]),
) -> io::Result<i32> {
    let mut fds = Vec::new();
    for l in listeners {
        // Inherited by every child at the same number.
        rustix::io::fcntl_setfd(l.as_fd(), rustix::io::FdFlags::empty())?;
        fds.push(std::os::fd::AsRawFd::as_raw_fd(l).to_string());
    }
    let fds = fds.join(",");
    if let Some(area) = &cfg.metrics {
        // Inherited by every child at the same number, like the listeners.
        rustix::io::fcntl_setfd(area.fd(), rustix::io::FdFlags::empty())?;
    }
    let (tx, rx) = mpsc::channel();
    signals(tx.clone())?;
    if !cfg.watch.is_empty() {
        watch(cfg.watch.clone(), tx.clone())?;
    }
    let mut s = State {
        cfg,
        fds,
        tx,
        procs: HashMap::new(),
        slots: Vec::new(),
        next_id: 0,
        children: HashMap::new(),
    };
    for slot in 0..s.cfg.processes {
        s.slots.push(Slot::default());
        let id = s.spawn(slot)?;
        s.slots[slot].current = Some(id);
    }
    // The first generation must come up, or the start fails (an import error, say).
    while s.procs.values().any(|p| !p.ready) {
        match rx.recv() {
            Ok(Event::Ready(id)) => {
                if let Some(p) = s.procs.get_mut(&id) {
                    p.ready = true;
                }
            }
            Ok(Event::Exited(id, status)) => {
                s.forget(id);
                s.stop_all(libc::SIGTERM);
                s.wait_all(&rx);
                let code = status.ok().and_then(|st| st.code()).filter(|&c| c != 0).unwrap_or(1);
                return Ok(code);
            }
            Ok(Event::Signal(sig)) => {
                s.draining();
                s.stop_all(sig);
                s.wait_all(&rx);
                return Ok(130);
            }
            Ok(_) => {}
            Err(_) => return Err(io::Error::other("supervisor channel closed")),
        }
    }
    let addrs: Vec<SocketAddr> = listeners.iter().filter_map(|l| l.local_addr().ok()).collect();
    on_ready(&addrs);
    s.run(&rx)
}

struct State {
    cfg: Supervisor,
    fds: String,
    tx: Sender<Event>,
    procs: HashMap<u64, Proc>,
    slots: Vec<Slot>,
    next_id: u64,
    children: HashMap<u64, u32>,
}

impl State {
    fn spawn(&mut self, slot: usize) -> io::Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let mut cmd = Command::new(&self.cfg.program);
        cmd.args(&self.cfg.args).env(LISTEN_FDS, &self.fds).stdin(Stdio::null()).stdout(Stdio::piped());
        let metrics = self.cfg.metrics.as_ref().and_then(|area| {
            let m = area.claim()?;
            cmd.env(pollux_server::metrics::METRICS_FD, area.raw_fd().to_string())
                .env(pollux_server::metrics::METRICS_SLOT, m.to_string());
            Some(m)
        });
        let mut child: Child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                if let (Some(area), Some(m)) = (&self.cfg.metrics, metrics) {
                    area.retire(m);
                }
                return Err(e);
            }
        };
        let pid = child.id();
        let stdout = child.stdout.take();
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            if let Some(out) = stdout {
                for line in BufReader::new(out).lines() {
                    let Ok(line) = line else { break };
                    let event = if line.contains(READY_MARK) {
                        Event::Ready(id)
                    } else if line.starts_with(RETIRE_LINE) {
                        Event::Retire(id)
                    } else {
                        continue;
                    };
                    let _ = tx.send(event);
                }
            }
            let status = child.wait();
            let _ = tx.send(Event::Exited(id, status));
        });
        self.procs.insert(id, Proc { pid, slot, metrics, started: Instant::now(), ready: false });
        self.children.insert(id, pid);
        Ok(id)
    }

    fn forget(&mut self, id: u64) -> Option<Proc> {
        self.children.remove(&id);
        let p = self.procs.remove(&id);
        // The child has exited: what it counted joins the retired totals.
        if let (Some(area), Some(m)) = (&self.cfg.metrics, p.as_ref().and_then(|p| p.metrics)) {
            area.retire(m);
        }
        p
    }

    /// SIGTERM/SIGINT: health checks fail from now on.
    fn draining(&self) {
        if let Some(l) = &self.cfg.lifecycle {
            l.begin_draining();
        }
    }

    fn kill(&self, id: u64, sig: i32) {
        if let Some(pid) = self.children.get(&id) {
            if let Some(pid) = rustix::process::Pid::from_raw(*pid as i32) {
                if let Some(sig) = signal_of(sig) {
                    let _ = rustix::process::kill_process(pid, sig);
                }
            }
        }
    }

    fn stop_all(&self, sig: i32) {
        for &id in self.children.keys() {
            self.kill(id, sig);
        }
    }

    /// Waits for every child to exit (after `stop_all`); a second signal is passed on.
    fn wait_all(&mut self, rx: &mpsc::Receiver<Event>) {
        while !self.children.is_empty() {
            match rx.recv() {
                Ok(Event::Exited(id, _)) => {
                    self.forget(id);
                }
                Ok(Event::Signal(sig)) => self.stop_all(sig),
                Ok(_) => {}
                Err(_) => return,
            }
        }
    }

    /// Starts a replacement for the slot's child; the old one is stopped once it serves.
    fn replace(&mut self, slot: usize) {
        if self.slots[slot].replacement.is_some() {
            return;
        }
        match self.spawn(slot) {
            Ok(id) => self.slots[slot].replacement = Some(id),
            Err(e) => eprintln!("pollux: cannot start a worker process: {e}"),
        }
    }

    fn run(mut self, rx: &mpsc::Receiver<Event>) -> io::Result<i32> {
        loop {
            let next = self.slots.iter().flat_map(|s| [s.restart_at, s.replace_at]).flatten().min();
            let event = match next {
                Some(at) => match rx.recv_timeout(at.saturating_duration_since(Instant::now())) {
                    Ok(e) => Some(e),
                    Err(RecvTimeoutError::Timeout) => None,
                    Err(RecvTimeoutError::Disconnected) => {
                        return Err(io::Error::other("supervisor channel closed"))
                    }
                },
                None => Some(rx.recv().map_err(|_| io::Error::other("supervisor channel closed"))?),
            };
            let now = Instant::now();
            for slot in 0..self.slots.len() {
                if self.slots[slot].restart_at.is_some_and(|t| t <= now) {
                    self.slots[slot].restart_at = None;
                    match self.spawn(slot) {
                        Ok(id) => self.slots[slot].current = Some(id),
                        Err(e) => {
                            eprintln!("pollux: cannot start a worker process: {e}");
                            self.slots[slot].restart_at = Some(now + Duration::from_secs(1));
                        }
                    }
                }
                if self.slots[slot].replace_at.is_some_and(|t| t <= now) {
                    self.slots[slot].replace_at = None;
                    self.replace(slot);
                }
            }
            match event {
                None => {}
                Some(Event::Signal(sig)) if sig == libc::SIGHUP => {
                    eprintln!("pollux: SIGHUP: replacing the worker processes");
                    (0..self.slots.len()).for_each(|s| self.replace(s));
                }
                Some(Event::Signal(sig)) => {
                    self.draining();
                    self.stop_all(sig);
                    self.wait_all(rx);
                    return Ok(if sig == libc::SIGTERM { 0 } else { 130 });
                }
                Some(Event::Changed(path)) => {
                    eprintln!("pollux: {} changed: restarting the application", path.display());
                    (0..self.slots.len()).for_each(|s| self.replace(s));
                }
                Some(Event::Retire(id)) => {
                    if let Some(slot) = self.procs.get(&id).map(|p| p.slot) {
                        if self.slots[slot].current == Some(id) {
                            self.replace(slot);
                        }
                    }
                }
                Some(Event::Ready(id)) => {
                    let Some(p) = self.procs.get_mut(&id) else { continue };
                    p.ready = true;
                    let slot = p.slot;
                    if self.slots[slot].replacement == Some(id) {
                        self.slots[slot].replacement = None;
                        if let Some(old) = self.slots[slot].current.replace(id) {
                            self.kill(old, libc::SIGTERM);
                        }
                    }
                }
                Some(Event::Exited(id, status)) => {
                    let Some(p) = self.forget(id) else { continue };
                    let slot = &mut self.slots[p.slot];
                    let replaced = slot.current != Some(id) && slot.replacement != Some(id);
                    if replaced {
                        continue; // an old child that was told to go
                    }
                    let how = match status {
                        Ok(st) => match (st.code(), std::os::unix::process::ExitStatusExt::signal(&st)) {
                            (Some(code), _) => format!("exited with code {code}"),
                            (None, Some(sig)) => format!("was killed by signal {sig}"),
                            _ => "ended".to_owned(),
                        },
                        Err(e) => format!("could not be waited for ({e})"),
                    };
                    // A child that dies young is restarted with a growing pause, so a broken
                    // app does not spin; one that lived a while is replaced at once.
                    slot.backoff = if p.started.elapsed() < Duration::from_secs(5) {
                        (slot.backoff * 2).clamp(Duration::from_millis(250), Duration::from_secs(10))
                    } else {
                        Duration::ZERO
                    };
                    eprintln!(
                        "pollux: worker process {} {how}; starting another{}",
                        p.pid,
                        if slot.backoff.is_zero() {
                            String::new()
                        } else {
                            format!(" in {:?}", slot.backoff)
                        }
                    );
                    let at = Instant::now() + slot.backoff;
                    if slot.replacement == Some(id) {
                        // The replacement died before serving: the current child serves on.
                        slot.replacement = None;
                        slot.replace_at = Some(at);
                    } else {
                        slot.current = None;
                        slot.restart_at = Some(at);
                    }
                }
            }
        }
    }
}

fn signal_of(sig: i32) -> Option<rustix::process::Signal> {
    use rustix::process::Signal;
    match sig {
        libc::SIGTERM => Some(Signal::TERM),
        libc::SIGINT => Some(Signal::INT),
        libc::SIGKILL => Some(Signal::KILL),
        libc::SIGHUP => Some(Signal::HUP),
        _ => None,
    }
}

fn signals(tx: Sender<Event>) -> io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([libc::SIGTERM, libc::SIGINT, libc::SIGHUP])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for sig in signals.forever() {
            if tx.send(Event::Signal(sig)).is_err() {
                return;
            }
        }
    })?;
    Ok(())
}

/// Files to skip while looking for changed sources: caches, VCS data, installed packages.
fn skipped(name: &str) -> bool {
    matches!(name, "__pycache__" | ".git" | ".hg" | "node_modules" | "site-packages" | ".tox" | ".mypy_cache")
}

/// The newest modification time and the number of `.py` files under `dirs` (bounded walk).
fn snapshot(dirs: &[PathBuf]) -> (Option<SystemTime>, usize, Option<PathBuf>) {
    let mut newest: Option<(SystemTime, PathBuf)> = None;
    let mut count = 0;
    let mut stack: Vec<(PathBuf, usize)> = dirs.iter().map(|d| (d.clone(), 0)).collect();
    let mut seen = 0;
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        // A virtualenv inside the project is the packages', not the app's.
        if dir.join("pyvenv.cfg").exists() {
            continue;
        }
        for e in entries.flatten() {
            seen += 1;
            if seen > 20_000 {
                break;
            }
            let path = e.path();
            let name = e.file_name();
            let name = name.to_string_lossy();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                if depth < 12 && !skipped(&name) && !name.starts_with('.') {
                    stack.push((path, depth + 1));
                }
            } else if name.ends_with(".py") {
                count += 1;
                if let Ok(m) = e.metadata().and_then(|m| m.modified()) {
                    if newest.as_ref().is_none_or(|(t, _)| m > *t) {
                        newest = Some((m, path));
                    }
                }
            }
        }
    }
    let (t, p) = newest.map_or((None, None), |(t, p)| (Some(t), Some(p)));
    (t, count, p)
}

/// `--reload`: looks at the sources once a second (no inotify: the bounded walk costs
/// milliseconds for a project, and works on every file system).
fn watch(dirs: Vec<PathBuf>, tx: Sender<Event>) -> io::Result<()> {
    std::thread::Builder::new().name("reload".into()).spawn(move || {
        let (mut time, mut count, _) = snapshot(&dirs);
        loop {
            std::thread::sleep(Duration::from_secs(1));
            let (t, c, p) = snapshot(&dirs);
            if t != time || c != count {
                time = t;
                count = c;
                let which = p.unwrap_or_else(|| dirs[0].clone());
                if tx.send(Event::Changed(which)).is_err() {
                    return;
                }
            }
        }
    })?;
    Ok(())
}
