//! Dates formatted once a second, per worker: the `Date` header and the access-log stamp.

use std::time::UNIX_EPOCH;

/// Cached renderings of the current second.
#[derive(Debug)]
pub(crate) struct Clock {
    second: u64,
    /// IMF-fixdate, as `Date` wants (RFC 9110 §5.6.7).
    http: [u8; 29],
    /// `[10/Oct/2000:13:55:36 +0000]`, as Common Log Format wants.
    clf: [u8; 28],
    /// `Server: NAME\r\nDate: …\r\n`, ready to copy into a response head.
    server_and_date: Vec<u8>,
    server: String,
}

impl Clock {
    /// A clock whose pre-encoded lines name `server` (empty: no `Server` line).
    pub(crate) fn new(server: &str) -> Self {
        let mut c = Clock {
            second: u64::MAX,
            http: [b' '; 29],
            clf: [b' '; 28],
            server_and_date: Vec::new(),
            server: server.to_owned(),
        };
        c.refresh();
        c
    }

    /// Re-renders if the second changed; cheap otherwise: one read of the kernel's tick-time
    /// clock (`CLOCK_REALTIME_COARSE`, no TSC read), which lags the second's turn by at most a
    /// tick — nothing to a field of one-second resolution.
    pub(crate) fn refresh(&mut self) {
        let secs = pollux_reactor::sys::coarse_realtime_secs();
        if secs == self.second {
            return;
        }
        self.second = secs;
        let s = httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(secs));
        if s.len() == 29 {
            self.http.copy_from_slice(s.as_bytes());
        }
        self.clf = clf_stamp(secs);
        let b = &mut self.server_and_date;
        b.clear();
        if !self.server.is_empty() {
            b.extend_from_slice(b"Server: ");
            b.extend_from_slice(self.server.as_bytes());
            b.extend_from_slice(b"\r\n");
        }
        b.extend_from_slice(b"Date: ");
        b.extend_from_slice(&self.http);
        b.extend_from_slice(b"\r\n");
    }

    pub(crate) fn server_and_date(&self) -> &[u8] {
        &self.server_and_date
    }

    pub(crate) fn http(&self) -> &[u8] {
        &self.http
    }

    pub(crate) fn clf(&self) -> &[u8] {
        &self.clf
    }
}

/// Days since 1970-01-01 to (year, month, day): Howard Hinnant's `civil_from_days`, the one
/// copy the workspace keeps (the access log's stamp, the directory listing's dates).
///
/// ```
/// assert_eq!(pollux_server::civil_from_days(0), (1970, 1, 1));
/// assert_eq!(pollux_server::civil_from_days(19_723), (2024, 1, 1));
/// ```
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn clf_stamp(secs: u64) -> [u8; 28] {
    const MONTHS: [&[u8; 3]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let t = secs % 86_400;
    let two = |v: u64| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
    let mut out = [0u8; 28];
    out[0] = b'[';
    out[1..3].copy_from_slice(&two(u64::from(d)));
    out[3] = b'/';
    out[4..7].copy_from_slice(MONTHS[(m - 1) as usize]);
    out[7] = b'/';
    let y = y.clamp(0, 9999) as u64;
    out[8..12].copy_from_slice(&[
        b'0' + (y / 1000) as u8,
        b'0' + (y / 100 % 10) as u8,
        b'0' + (y / 10 % 10) as u8,
        b'0' + (y % 10) as u8,
    ]);
    out[12] = b':';
    out[13..15].copy_from_slice(&two(t / 3600));
    out[15] = b':';
    out[16..18].copy_from_slice(&two(t / 60 % 60));
    out[18] = b':';
    out[19..21].copy_from_slice(&two(t % 60));
    out[21..28].copy_from_slice(b" +0000]");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clf_stamp_matches_known_instants() {
        assert_eq!(&clf_stamp(0), b"[01/Jan/1970:00:00:00 +0000]");
        // 2000-10-10T13:55:36Z, the Apache documentation's example instant.
        assert_eq!(&clf_stamp(971_186_136), b"[10/Oct/2000:13:55:36 +0000]");
        // A leap day.
        assert_eq!(&clf_stamp(951_782_400), b"[29/Feb/2000:00:00:00 +0000]");
    }

    #[test]
    fn http_date_is_imf_fixdate() {
        let c = Clock::new("pollux");
        assert!(c.server_and_date().starts_with(b"Server: pollux\r\nDate: "));
        assert!(c.http().ends_with(b" GMT"));
        assert_eq!(c.http()[3], b',');
    }
}
