//! The supervisor's event loop: children started, ready, retiring and exited; signals;
//! reloads by generation; the binary upgrade. Every event arrives on one channel, from a
//! thread per child (its stdout and its exit), the signal thread and the watchers.

use std::collections::HashMap;
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use crate::event::Event;
use crate::{
    Notify, Sockets, Want, GENERATION, LISTEN_FDS, READY_MARK, RETIRE_LINE, UPGRADE_FDS, UPGRADE_NOTIFY,
};

/// How long a new supervisor (SIGUSR2) gets to report that it serves.
const UPGRADE_WITHIN: Duration = Duration::from_secs(60);

/// How to run the children.
#[derive(Debug)]
#[non_exhaustive]
pub struct Supervisor {
    /// The program and arguments of a child (this binary, the same command line). The
    /// program is also what SIGUSR2 starts as the next supervisor, with the same arguments.
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// Children to keep running.
    pub processes: usize,
    /// Directories whose `.py` files restart the children when they change (`--reload`).
    pub watch: Vec<PathBuf>,
    /// The configuration generation of the first children (an upgraded supervisor continues
    /// its predecessor's count).
    pub generation: u64,
}

impl Supervisor {
    pub fn new(program: PathBuf, args: Vec<OsString>, processes: usize) -> Supervisor {
        Supervisor { program, args, processes: processes.max(1), watch: Vec::new(), generation: 1 }
    }
}

/// Reload: the new children's arguments and listeners, or the one-line reason there are none.
pub type Reload = Box<dyn FnMut() -> Result<(Vec<OsString>, Vec<Want>), String>>;

/// Before a child starts: the command to add to, and the tag to give back when it is gone.
pub type ChildStart = Box<dyn FnMut(&mut Command) -> Option<usize>>;

/// What the binary does at the supervisor's turning points.
pub struct Hooks {
    /// SIGHUP: reads the configuration again. `None`: the same arguments and listeners (the
    /// children are replaced, as `--reload` does).
    pub reload: Option<Reload>,
    /// A generation serves (at start and after each reload).
    pub on_generation: Box<dyn FnMut(u64)>,
    /// A graceful stop began (SIGTERM, SIGINT).
    pub on_drain: Box<dyn FnMut()>,
    /// Before each child starts: what it needs besides the listeners (the environment of a
    /// shared counters slot, say). The tag returned comes back to `child_gone` once the child
    /// has exited or failed to start.
    pub child_start: ChildStart,
    /// A child started with a tag from `child_start` is gone (its slot may be reused).
    pub child_gone: Box<dyn FnMut(usize)>,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks").field("reload", &self.reload.is_some()).finish_non_exhaustive()
    }
}

impl Default for Hooks {
    fn default() -> Self {
        Hooks {
            reload: None,
            on_generation: Box::new(|_| {}),
            on_drain: Box::new(|| {}),
            child_start: Box::new(|_| None),
            child_gone: Box::new(|_| {}),
        }
    }
}

struct Proc {
    pid: u32,
    slot: usize,
    started: Instant,
    ready: bool,
    generation: u64,
    /// What `Hooks::child_start` returned for it.
    tag: Option<usize>,
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

/// Runs the children on `sockets`; returns when they have all exited after SIGTERM or SIGINT
/// (`Ok(code)`: the exit code to use), after a binary upgrade handed over, or when the first
/// children could not start (their error is on stderr).
pub fn supervise(
    cfg: Supervisor,
    sockets: Sockets,
    hooks: Hooks,
    on_ready: impl FnOnce(&[SocketAddr]),
) -> io::Result<i32> {
    let fds = sockets.child_fds()?;
    let (tx, rx) = mpsc::channel();
    signals(tx.clone())?;
    if !cfg.watch.is_empty() {
        crate::watch::watch(cfg.watch.clone(), tx.clone())?;
    }
    let generation = cfg.generation;
    let mut s = State {
        cfg,
        fds,
        sockets,
        hooks,
        tx,
        procs: HashMap::new(),
        slots: Vec::new(),
        next_id: 0,
        generation,
        reloading: false,
        retiring: Vec::new(),
        upgrading: false,
        notify: Notify::from_env("NOTIFY_SOCKET"),
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
            Ok(Event::Signal(sig)) if sig == libc::SIGTERM || sig == libc::SIGINT => {
                s.stop_all(sig);
                s.wait_all(&rx);
                return Ok(130);
            }
            Ok(_) => {}
            Err(_) => return Err(io::Error::other("supervisor channel closed")),
        }
    }
    on_ready(&s.sockets.local_addrs());
    (s.hooks.on_generation)(s.generation);
    s.notify.send("READY=1");
    // Started by an upgrade: the old supervisor may go now.
    Notify::from_env(UPGRADE_NOTIFY).send("READY=1");
    s.run(&rx)
}

struct State {
    cfg: Supervisor,
    /// The current generation's descriptors (`POLLUX_LISTEN_FDS`).
    fds: String,
    sockets: Sockets,
    hooks: Hooks,
    tx: Sender<Event>,
    procs: HashMap<u64, Proc>,
    slots: Vec<Slot>,
    next_id: u64,
    generation: u64,
    /// A reload's children are on their way: `READY=1` once they all serve.
    reloading: bool,
    /// Sockets removed by a reload, with the generation that no longer uses them: closed
    /// once no child of an older generation is left.
    retiring: Vec<(u64, std::net::TcpListener)>,
    upgrading: bool,
    notify: Notify,
}

impl State {
    fn spawn(&mut self, slot: usize) -> io::Result<u64> {
        let id = self.next_id;
        self.next_id += 1;
        let mut cmd = Command::new(&self.cfg.program);
        cmd.args(&self.cfg.args)
            .env(LISTEN_FDS, &self.fds)
            .env(GENERATION, self.generation.to_string())
            // Ours, not the children's.
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES")
            .env_remove("NOTIFY_SOCKET")
            .env_remove(UPGRADE_FDS)
            .env_remove(UPGRADE_NOTIFY)
            .stdin(Stdio::null())
            .stdout(Stdio::piped());
        let tag = (self.hooks.child_start)(&mut cmd);
        let mut child: Child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) => {
                if let Some(t) = tag {
                    (self.hooks.child_gone)(t);
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
        let generation = self.generation;
        self.procs.insert(id, Proc { pid, slot, started: Instant::now(), ready: false, generation, tag });
        Ok(id)
    }

    /// A child has exited: no longer ours to signal, and its tag is given back.
    fn forget(&mut self, id: u64) -> Option<Proc> {
        let p = self.procs.remove(&id)?;
        if let Some(t) = p.tag {
            (self.hooks.child_gone)(t);
        }
        Some(p)
    }

    fn kill(&self, id: u64, sig: i32) {
        let Some(p) = self.procs.get(&id) else { return };
        if let (Some(pid), Some(sig)) = (rustix::process::Pid::from_raw(p.pid as i32), signal_of(sig)) {
            let _ = rustix::process::kill_process(pid, sig);
        }
    }

    fn stop_all(&self, sig: i32) {
        for &id in self.procs.keys() {
            self.kill(id, sig);
        }
    }

    /// Waits for every child to exit (after `stop_all`); a second SIGTERM or SIGINT is
    /// passed on (it ends the children's drain delay, a third their wait).
    fn wait_all(&mut self, rx: &mpsc::Receiver<Event>) {
        while !self.procs.is_empty() {
            match rx.recv() {
                Ok(Event::Exited(id, _)) => {
                    self.forget(id);
                }
                Ok(Event::Signal(sig)) if sig == libc::SIGTERM || sig == libc::SIGINT => self.stop_all(sig),
                Ok(_) => {}
                Err(_) => return,
            }
        }
    }

    /// Starts a replacement for the slot's child; the old one is stopped once it serves.
    /// A replacement of an older generation still on its way is stopped first.
    fn replace(&mut self, slot: usize) {
        if let Some(r) = self.slots[slot].replacement {
            if self.procs.get(&r).is_some_and(|p| p.generation == self.generation) {
                return;
            }
            self.kill(r, libc::SIGTERM);
            self.slots[slot].replacement = None;
        }
        match self.spawn(slot) {
            Ok(id) => self.slots[slot].replacement = Some(id),
            Err(e) => eprintln!("pollux: cannot start a worker process: {e}"),
        }
    }

    /// SIGHUP: the configuration again, a new generation on the sockets it asks for.
    fn reload(&mut self) {
        self.notify.reloading();
        let next = match self.hooks.reload.as_mut() {
            None => None,
            Some(reload) => match reload() {
                Ok(next) => Some(next),
                Err(line) => {
                    eprintln!("pollux: reload failed: {line}");
                    self.notify.send("READY=1");
                    return;
                }
            },
        };
        if let Some((args, wants)) = next {
            let removed = match self.sockets.apply(&wants).and_then(|r| Ok((r, self.sockets.child_fds()?))) {
                Ok((removed, fds)) => {
                    self.fds = fds;
                    removed
                }
                Err(e) => {
                    eprintln!("pollux: reload failed: {e}");
                    self.notify.send("READY=1");
                    return;
                }
            };
            self.cfg.args = args;
            self.retiring.extend(removed.into_iter().map(|s| (self.generation + 1, s)));
        }
        self.generation += 1;
        self.reloading = true;
        eprintln!("pollux: SIGHUP: starting generation {}", self.generation);
        (0..self.slots.len()).for_each(|s| self.replace(s));
    }

    /// SIGUSR2: the binary at the same path started as the next supervisor on our sockets.
    fn upgrade(&mut self) {
        if self.upgrading {
            eprintln!("pollux: SIGUSR2: an upgrade is already under way");
            return;
        }
        match self.start_successor() {
            Ok(pid) => {
                self.upgrading = true;
                eprintln!("pollux: SIGUSR2: started {} as process {pid}", self.cfg.program.display());
            }
            Err(e) => eprintln!("pollux: upgrade failed: {e}"),
        }
    }

    fn start_successor(&mut self) -> io::Result<u32> {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("pollux-upgrade-{}-{}", std::process::id(), self.next_id);
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
        let inbox = std::os::unix::net::UnixDatagram::bind_addr(&addr)?;
        // Short waits, so that a new binary that exits at once fails the upgrade at once.
        inbox.set_read_timeout(Some(Duration::from_millis(100)))?;
        let mut child = Command::new(&self.cfg.program)
            .args(&self.cfg.args)
            .env(UPGRADE_FDS, self.sockets.upgrade_fds()?)
            .env(UPGRADE_NOTIFY, format!("@{name}"))
            .env(GENERATION, (self.generation + 1).to_string())
            .env_remove(LISTEN_FDS)
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDNAMES")
            .stdin(Stdio::null())
            .spawn()?;
        let pid = child.id();
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 256];
            let deadline = Instant::now() + UPGRADE_WITHIN;
            let ready = loop {
                match inbox.recv(&mut buf) {
                    Ok(n) if buf[..n].starts_with(b"READY=1") => break true,
                    _ if Instant::now() >= deadline => break false,
                    _ if child.try_wait().is_ok_and(|st| st.is_some()) => break false,
                    _ => {}
                }
            };
            let _ = tx.send(Event::Upgraded(ready.then_some(pid)));
            if !ready {
                let _ = child.kill();
            }
            // Reaped if it ends while we still run; afterwards it is init's.
            let _ = child.wait();
        });
        Ok(pid)
    }

    /// A reload is done once every slot's child is of the current generation and serves.
    fn check_reloaded(&mut self) {
        if !self.reloading {
            return;
        }
        let done = self.slots.iter().all(|s| {
            s.replacement.is_none()
                && s.current
                    .and_then(|c| self.procs.get(&c))
                    .is_some_and(|p| p.ready && p.generation == self.generation)
        });
        if done {
            self.reloading = false;
            eprintln!("pollux: generation {} serving", self.generation);
            (self.hooks.on_generation)(self.generation);
            self.notify.send("READY=1");
        }
    }

    /// Closes the sockets a reload removed once no child that accepts on them is left.
    fn close_retired(&mut self) {
        let procs = &self.procs;
        self.retiring.retain(|(g, _)| procs.values().any(|p| p.generation < *g));
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
                Some(Event::Signal(libc::SIGHUP)) => self.reload(),
                Some(Event::Signal(libc::SIGUSR2)) => self.upgrade(),
                Some(Event::Signal(sig)) => {
                    (self.hooks.on_drain)();
                    self.notify.send("STOPPING=1");
                    self.stop_all(sig);
                    // The children's copies keep the sockets listening while they drain;
                    // once they stop accepting, connecting is refused.
                    self.sockets.close_all();
                    self.retiring.clear();
                    self.wait_all(rx);
                    return Ok(if sig == libc::SIGTERM { 0 } else { 130 });
                }
                Some(Event::Upgraded(None)) => {
                    self.upgrading = false;
                    eprintln!(
                        "pollux: upgrade failed: {} did not come up; serving on",
                        self.cfg.program.display()
                    );
                }
                Some(Event::Upgraded(Some(pid))) => {
                    eprintln!("pollux: upgraded: process {pid} serves; draining this one");
                    self.notify.send(&format!("MAINPID={pid}"));
                    self.stop_all(libc::SIGTERM);
                    self.sockets.close_all();
                    self.retiring.clear();
                    self.wait_all(rx);
                    return Ok(0);
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
                    self.check_reloaded();
                }
                Some(Event::Exited(id, status)) => {
                    let Some(p) = self.forget(id) else { continue };
                    self.close_retired();
                    self.exited(id, p, status);
                }
            }
        }
    }

    /// A child exited: an old one told to go, or one to start again.
    fn exited(&mut self, id: u64, p: Proc, status: io::Result<ExitStatus>) {
        let slot = &mut self.slots[p.slot];
        if slot.current != Some(id) && slot.replacement != Some(id) {
            return; // an old child that was told to go
        }
        let how = match status {
            Ok(st) => match (st.code(), std::os::unix::process::ExitStatusExt::signal(&st)) {
                (Some(code), _) => format!("exited with code {code}"),
                (None, Some(sig)) => format!("was killed by signal {sig}"),
                _ => "ended".to_owned(),
            },
            Err(e) => format!("could not be waited for ({e})"),
        };
        // A child that dies young is restarted with a growing pause, so a broken app does
        // not spin; one that lived a while is replaced at once.
        slot.backoff = if p.started.elapsed() < Duration::from_secs(5) {
            (slot.backoff * 2).clamp(Duration::from_millis(250), Duration::from_secs(10))
        } else {
            Duration::ZERO
        };
        eprintln!(
            "pollux: worker process {} {how}; starting another{}",
            p.pid,
            if slot.backoff.is_zero() { String::new() } else { format!(" in {:?}", slot.backoff) }
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

fn signal_of(sig: i32) -> Option<rustix::process::Signal> {
    use rustix::process::Signal;
    match sig {
        libc::SIGTERM => Some(Signal::TERM),
        libc::SIGINT => Some(Signal::INT),
        libc::SIGKILL => Some(Signal::KILL),
        _ => None,
    }
}

fn signals(tx: Sender<Event>) -> io::Result<()> {
    let mut signals =
        signal_hook::iterator::Signals::new([libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGUSR2])?;
    std::thread::Builder::new().name("signals".into()).spawn(move || {
        for sig in signals.forever() {
            if tx.send(Event::Signal(sig)).is_err() {
                return;
            }
        }
    })?;
    Ok(())
}
