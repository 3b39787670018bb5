//! The PROXY header's 3 s on a simulated clock, through the reactor's real timer wheel armed
//! as the service arms it (`timer_durations`, the `PROXY` kind): the wheel fires where the
//! header's deadline says, so an expiring connection is closed the first time its timer
//! fires and never re-armed for another three seconds.

use std::time::{Duration, Instant};

use pollux_reactor::Timers;

use crate::proxy::{Pending, HEADER_TIMEOUT};
use crate::service::{timer_durations, PROXY};
use crate::Options;

const MS: Duration = Duration::from_millis(1);

#[test]
fn the_wheel_fires_the_header_timer_when_the_header_is_due() {
    let opts = Options::default();
    let mut timers = Timers::new(&timer_durations(&opts));
    assert_eq!(timers.duration(PROXY), HEADER_TIMEOUT);
    // Accepts at several sub-millisecond offsets: the wheel rounds to whole milliseconds.
    for offset_us in [0u64, 1, 499, 500, 999] {
        let t0 = Instant::now() + Duration::from_micros(offset_us) + Duration::from_secs(1);
        let pending = Pending::new(t0);
        timers.arm(7, PROXY, t0);
        let mut now = t0;
        let fired = loop {
            if let Some((token, kind)) = timers.pop_expired(now) {
                assert_eq!((token, kind), (7, PROXY));
                break now;
            }
            assert!(now < t0 + HEADER_TIMEOUT + 5 * MS, "the header timer never fired");
            now += MS;
        };
        assert!(fired >= t0 + HEADER_TIMEOUT - 2 * MS, "fired {:?} early", t0 + HEADER_TIMEOUT - fired);
        assert!(pending.expired(fired), "fired at {:?} and would be re-armed", fired - t0);
        assert!(!pending.expired(t0 + HEADER_TIMEOUT - 3 * MS), "expired before the wheel's slack");
    }
}
