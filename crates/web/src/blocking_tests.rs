//! The pool's rules on a simulated clock: times are `t0 + …`, never read from the system, so
//! every deadline is checked to the nanosecond and nothing sleeps. The overload test uses a
//! real pool thread, held and released through channels.

use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use pollux_server::{ConnInfo, Deferred};

use super::{busy, Job, Overdue, Pool, Slot, Watchdog};
use crate::response::IntoResponse;

const LIMIT: Duration = Duration::from_millis(300);
const NS: Duration = Duration::from_nanos(1);

/// A request's slot, and the connection's side that keeps it waiting.
fn request() -> (Arc<Slot>, Deferred) {
    let (later, responder) = ConnInfo::new(([127, 0, 0, 1], 40000).into()).defer();
    (Slot::new(responder), later)
}

#[test]
fn the_deadline_is_arrival_plus_the_limit_to_the_nanosecond() {
    let t0 = Instant::now();
    let mut dog = Watchdog::new(LIMIT);
    let (slot, _conn) = request();
    dog.push(t0, Arc::downgrade(&slot));
    assert_eq!(dog.poll_timeout(), Some(t0 + LIMIT));
    assert_eq!(dog.handle_timeout(t0 + LIMIT - NS), [], "a nanosecond early");
    assert_eq!(dog.poll_timeout(), Some(t0 + LIMIT), "still waiting");
    assert_eq!(dog.handle_timeout(t0 + LIMIT), [Overdue::Queued]);
    assert_eq!(dog.poll_timeout(), None);
    assert!(slot.take().is_none(), "the watchdog answered: the job finds the slot empty");
}

#[test]
fn a_request_never_started_gets_503_and_one_still_running_gets_504() {
    let t0 = Instant::now();
    let mut dog = Watchdog::new(LIMIT);
    let (running, _c1) = request();
    let (queued, _c2) = request();
    dog.push(t0, Arc::downgrade(&running));
    dog.push(t0, Arc::downgrade(&queued));
    assert!(running.start(), "a live request may start");
    assert_eq!(dog.handle_timeout(t0 + LIMIT), [Overdue::Running, Overdue::Queued]);
    // The job that was running ends later: its answer goes nowhere, and it cannot start twice.
    assert!(!running.start(), "answered by the watchdog: the job must not run");
}

#[test]
fn the_503_says_when_to_retry() {
    let r = busy();
    assert_eq!(r.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers().get(http::header::RETRY_AFTER).map(|v| v.as_bytes()), Some(&b"1"[..]));
}

#[test]
fn answered_and_finished_requests_are_left_alone() {
    let t0 = Instant::now();
    let mut dog = Watchdog::new(LIMIT);
    let (answered, _c1) = request();
    let (finished, _c2) = request();
    dog.push(t0, Arc::downgrade(&answered));
    dog.push(t0, Arc::downgrade(&finished));
    answered.answer(http::StatusCode::OK.into_response());
    drop(finished); // the job ran, answered, and dropped the slot
    assert_eq!(dog.handle_timeout(t0 + LIMIT), []);
    assert_eq!(dog.poll_timeout(), None, "both left the queue");
}

#[test]
fn deadlines_follow_arrivals_one_by_one() {
    let t0 = Instant::now();
    let mut dog = Watchdog::new(LIMIT);
    let (a, _ca) = request();
    let (b, _cb) = request();
    let (c, _cc) = request();
    dog.push(t0, Arc::downgrade(&a));
    dog.push(t0 + Duration::from_millis(100), Arc::downgrade(&b));
    dog.push(t0 + Duration::from_millis(250), Arc::downgrade(&c));
    assert_eq!(dog.handle_timeout(t0 + LIMIT), [Overdue::Queued]);
    assert_eq!(dog.poll_timeout(), Some(t0 + Duration::from_millis(100) + LIMIT));
    assert!(b.start());
    // A late wake-up answers everything that came due meanwhile, in order.
    assert_eq!(dog.handle_timeout(t0 + Duration::from_secs(5)), [Overdue::Running, Overdue::Queued]);
    assert!(a.take().is_none() && b.take().is_none() && c.take().is_none());
}

/// A job that says when it starts and returns when released.
fn held(started: &mpsc::Sender<u32>, release: &Arc<std::sync::Mutex<mpsc::Receiver<()>>>, n: u32) -> Job {
    let (started, release) = (started.clone(), release.clone());
    Box::new(move || {
        let _ = started.send(n);
        let _ = release.lock().map(|r| r.recv_timeout(Duration::from_secs(10)));
    })
}

#[test]
fn a_full_queue_gives_the_job_back_and_the_queued_one_runs_later() {
    // One thread, room for one waiting job, no timeout.
    let pool = Pool::start(1, 1, None);
    let (started_tx, started) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
    let now = Instant::now();
    let (s1, _c1) = request();
    let (s2, _c2) = request();
    let (s3, _c3) = request();
    assert!(pool.submit(held(&started_tx, &release_rx, 1), &s1, now).is_ok());
    assert_eq!(started.recv_timeout(Duration::from_secs(10)), Ok(1), "the thread took the first job");
    assert!(pool.submit(held(&started_tx, &release_rx, 2), &s2, now).is_ok(), "one may wait");
    assert!(pool.submit(held(&started_tx, &release_rx, 3), &s3, now).is_err(), "a second may not");
    assert!(started.try_recv().is_err(), "the queued job waits for the thread");
    release.send(()).expect("release 1");
    assert_eq!(started.recv_timeout(Duration::from_secs(10)), Ok(2), "then the queued job runs");
    release.send(()).expect("release 2");
}

#[test]
fn no_queue_means_a_busy_thread_refuses_at_once() {
    let pool = Pool::start(1, 0, None);
    let (started_tx, started) = mpsc::channel();
    let (release, release_rx) = mpsc::channel::<()>();
    let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
    let (s1, _c1) = request();
    let (s2, _c2) = request();
    // A rendezvous channel: the first submit succeeds only once the idle thread takes it.
    let mut first = held(&started_tx, &release_rx, 1);
    loop {
        match pool.submit(first, &s1, Instant::now()) {
            Ok(()) => break,
            // The thread has not reached its receive yet.
            Err(job) => {
                first = job;
                std::thread::yield_now();
            }
        }
    }
    assert_eq!(started.recv_timeout(Duration::from_secs(10)), Ok(1));
    assert!(pool.submit(held(&started_tx, &release_rx, 2), &s2, Instant::now()).is_err());
    release.send(()).expect("release");
}
