//! `/metrics`: the counters in the Prometheus text exposition format, version 0.0.4
//! (`# HELP`, `# TYPE`, one sample a line, histograms as cumulative `_bucket{le=…}` with
//! `_sum` and `_count`).
//!
//! Besides the workers' counters it reads, at each scrape, what only the kernel knows: each
//! listener's accept queue and backlog (`TCP_INFO` on the listening socket) and the
//! `TcpExt` ListenOverflows/ListenDrops of `/proc/net/netstat`.

use std::fmt::Write;

use super::AdminView;
use crate::metrics::{ConnState, Load, Totals, BOUNDS_US, CLASSES, METHODS};

/// The content type of format 0.0.4.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The whole page.
pub(crate) fn render(view: &AdminView) -> String {
    let t = view.area.totals();
    let mut o = String::with_capacity(4096);
    requests(&mut o, &t);
    latency(&mut o, &t);
    family(&mut o, "pollux_http_received_bytes_total", "counter", "Bytes of HTTP requests received.");
    sample(&mut o, "pollux_http_received_bytes_total", "", t.bytes_in());
    family(&mut o, "pollux_http_sent_bytes_total", "counter", "Bytes of HTTP responses sent.");
    sample(&mut o, "pollux_http_sent_bytes_total", "", t.bytes_out());
    family(
        &mut o,
        "pollux_connections",
        "gauge",
        "Open client connections by state: reading a request, writing a response, idle between requests, waiting for the handler.",
    );
    for s in ConnState::ALL {
        sample(&mut o, "pollux_connections", &format!("state=\"{}\"", s.name()), t.connections(s));
    }
    family(&mut o, "pollux_connections_accepted_total", "counter", "Client connections accepted.");
    sample(&mut o, "pollux_connections_accepted_total", "", t.accepted());
    family(
        &mut o,
        "pollux_connections_refused_total",
        "counter",
        "Client connections closed unserved right after accept.",
    );
    sample(&mut o, "pollux_connections_refused_total", "", t.refused());
    for (what, name, help) in [
        (
            Load::CgiInFlight,
            "pollux_cgi_in_flight",
            "CGI scripts running (none queue: past --cgi-max the answer is 503).",
        ),
        (Load::WsgiInFlight, "pollux_wsgi_in_flight", "WSGI requests the application is being called for."),
        (Load::WsgiQueued, "pollux_wsgi_queued", "WSGI requests waiting for a Python thread."),
    ] {
        family(&mut o, name, "gauge", help);
        sample(&mut o, name, "", t.load(what));
    }
    listeners(&mut o, view);
    netstat(&mut o);
    family(
        &mut o,
        "pollux_config_generation",
        "gauge",
        "Configuration generation: 1 at start, one more per reload.",
    );
    sample(&mut o, "pollux_config_generation", "", view.lifecycle.generation());
    family(&mut o, "pollux_draining", "gauge", "1 while the server drains before it stops, else 0.");
    sample(&mut o, "pollux_draining", "", u64::from(view.lifecycle.is_draining()));
    family(&mut o, "pollux_uptime_seconds", "gauge", "Seconds since the server started.");
    sample(&mut o, "pollux_uptime_seconds", "", view.started.elapsed().as_secs());
    o
}

fn family(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(o: &mut String, name: &str, labels: &str, v: u64) {
    if labels.is_empty() {
        let _ = writeln!(o, "{name} {v}");
    } else {
        let _ = writeln!(o, "{name}{{{labels}}} {v}");
    }
}

fn requests(o: &mut String, t: &Totals) {
    let name = "pollux_http_requests_total";
    family(o, name, "counter", "HTTP requests answered, by status class and method.");
    for (c, class) in CLASSES.iter().enumerate() {
        for (m, method) in METHODS.iter().enumerate() {
            let n = t.requests(c, m);
            if n > 0 {
                sample(o, name, &format!("code=\"{class}\",method=\"{method}\""), n);
            }
        }
    }
}

fn latency(o: &mut String, t: &Totals) {
    let name = "pollux_http_request_duration_seconds";
    family(
        o,
        name,
        "histogram",
        "Time from a complete request to its answer: encoded (small bodies) or sent (large ones).",
    );
    let mut cum = 0;
    for (i, n) in t.buckets().iter().enumerate() {
        cum += n;
        let le = match BOUNDS_US.get(i) {
            Some(us) => format!("{}", *us as f64 / 1e6),
            None => "+Inf".to_owned(),
        };
        sample(o, &format!("{name}_bucket"), &format!("le=\"{le}\""), cum);
    }
    let _ = writeln!(o, "{name}_sum {}", t.latency_sum().as_secs_f64());
    sample(o, &format!("{name}_count"), "", cum);
}

fn listeners(o: &mut String, view: &AdminView) {
    let ls = view.current_listeners();
    family(
        o,
        "pollux_listener_queue",
        "gauge",
        "Connections waiting in the listener's accept queue (TCP_INFO).",
    );
    let read: Vec<_> =
        ls.iter().map(|(url, l)| (escape(url), pollux_reactor::sys::listen_queue(&**l))).collect();
    for (url, q) in &read {
        if let Some((queue, _)) = q {
            sample(o, "pollux_listener_queue", &format!("listener=\"{url}\""), u64::from(*queue));
        }
    }
    family(
        o,
        "pollux_listener_backlog",
        "gauge",
        "The listener's backlog: the most connections its accept queue holds.",
    );
    for (url, q) in &read {
        if let Some((_, backlog)) = q {
            sample(o, "pollux_listener_backlog", &format!("listener=\"{url}\""), u64::from(*backlog));
        }
    }
}

/// `TcpExt: ListenOverflows ListenDrops` from `/proc/net/netstat` (this network namespace's).
fn netstat(o: &mut String) {
    let Ok(text) = std::fs::read_to_string("/proc/net/netstat") else { return };
    let Some((overflows, drops)) = listen_counters(&text) else { return };
    family(
        o,
        "pollux_tcp_listen_overflows_total",
        "counter",
        "Kernel TcpExt ListenOverflows: accept queues found full.",
    );
    sample(o, "pollux_tcp_listen_overflows_total", "", overflows);
    family(
        o,
        "pollux_tcp_listen_drops_total",
        "counter",
        "Kernel TcpExt ListenDrops: connection requests dropped at listeners.",
    );
    sample(o, "pollux_tcp_listen_drops_total", "", drops);
}

/// The two counters from the `TcpExt:` header line and the value line after it.
fn listen_counters(text: &str) -> Option<(u64, u64)> {
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let names: Vec<&str> = lines.next()?.split_whitespace().collect();
    let values: Vec<&str> = lines.next()?.split_whitespace().collect();
    let get = |key: &str| names.iter().position(|n| *n == key).and_then(|i| values.get(i)?.parse().ok());
    Some((get("ListenOverflows")?, get("ListenDrops")?))
}

/// A label value: backslash, double quote and newline escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tcpext_listen_counters() {
        let text = "TcpExt: SyncookiesSent ListenOverflows ListenDrops TCPHPHits\n\
                    TcpExt: 0 7 9 100\nIpExt: InNoRoutes\nIpExt: 0\n";
        assert_eq!(listen_counters(text), Some((7, 9)));
        assert_eq!(listen_counters("IpExt: a\nIpExt: 1\n"), None);
    }
}
