//! `Service::next_deadline` / `on_deadline`: a service with deadlines of its own (not one of the
//! fixed-duration timer queues) is woken when they pass, with no socket activity at all.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pollux_reactor::mio::{event::Event, net::TcpStream};
use pollux_reactor::{Ctx, ListenerConfig, RunConfig, Service, Shutdown, TimerKind};

/// Fires at three deadlines of different lengths, reporting how late each call came.
struct Alarms {
    due: Vec<Instant>,
    fired: mpsc::Sender<(Instant, Instant)>,
}

impl Service for Alarms {
    type Message = ();

    fn on_accept(&mut self, _cx: &mut Ctx<'_, ()>, _s: TcpStream, _p: SocketAddr, _l: usize) {
        unreachable!("no listener")
    }
    fn on_ready(&mut self, _cx: &mut Ctx<'_, ()>, _token: usize, _ev: &Event) {}
    fn on_timer(&mut self, _cx: &mut Ctx<'_, ()>, _token: usize, _kind: TimerKind) {}
    fn on_shutdown(&mut self, _cx: &mut Ctx<'_, ()>) {
        self.due.clear();
    }
    fn connections(&self) -> usize {
        self.due.len()
    }
    fn next_deadline(&self) -> Option<Instant> {
        self.due.iter().min().copied()
    }
    fn on_deadline(&mut self, cx: &mut Ctx<'_, ()>) {
        let now = cx.now;
        assert!(self.due.iter().any(|&d| d <= now), "called before any deadline passed");
        for d in self.due.iter().filter(|&&d| d <= now) {
            let _ = self.fired.send((*d, now));
        }
        self.due.retain(|&d| d > now);
    }
}

#[test]
fn service_deadlines_wake_an_idle_worker() {
    let shutdown = Shutdown::new();
    let cfg = RunConfig {
        inherited: Vec::new(),
        addrs: Vec::new(),
        workers: 1,
        listener: ListenerConfig { backlog: 16 },
        max_conns: 16,
        grace: Duration::from_secs(1),
        timers: Vec::new(),
    };
    let start = Instant::now();
    let due: Vec<Instant> = [150u64, 30, 80].iter().map(|&ms| start + Duration::from_millis(ms)).collect();
    let (tx, rx) = mpsc::channel();
    let sd = shutdown.clone();
    let alarms = due.clone();
    let h = std::thread::spawn(move || {
        pollux_reactor::run(cfg, sd, |_| {}, move |_, _| Alarms { due: alarms.clone(), fired: tx.clone() })
    });
    let mut fired = Vec::new();
    for _ in 0..3 {
        fired.push(rx.recv_timeout(Duration::from_secs(5)).unwrap());
    }
    for (deadline, at) in &fired {
        assert!(at >= deadline, "fired early");
        // A missed wake-up leaves the worker asleep in epoll_wait for good (the receive
        // above times out); lateness itself is the machine's load (276 ms seen while four
        // builds shared two cores), so the bound is wide.
        assert!(*at - *deadline < Duration::from_secs(2), "fired {:?} late", *at - *deadline);
    }
    let order: Vec<Instant> = fired.iter().map(|f| f.0).collect();
    let mut sorted = due.clone();
    sorted.sort();
    assert_eq!(order, sorted, "earliest first");
    // All deadlines done: `connections()` is zero, so a shutdown ends the worker at once.
    shutdown.begin();
    h.join().unwrap().unwrap();
}
