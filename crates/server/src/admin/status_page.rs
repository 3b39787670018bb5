//! `/status`: the metrics at a glance, as one HTML page (no JavaScript; it reloads itself
//! every 5 seconds with a `refresh` meta tag).

use std::fmt::Write;
use std::time::Duration;

use super::AdminView;
use crate::metrics::{ConnState, Load, CLASSES, METHODS};

pub(crate) fn render(view: &AdminView) -> String {
    let t = view.area.totals();
    let draining = view.lifecycle.is_draining();
    let mut o = String::with_capacity(4096);
    o.push_str(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"refresh\" content=\"5\"><title>pollux status</title>\
         <style>body{font:15px system-ui,sans-serif;margin:2em;color:#222}\
         table{border-collapse:collapse;margin:0 0 1.5em}td,th{border:1px solid #ccc;padding:.3em .8em;text-align:right}\
         th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}\
         .ok{color:#176d2c}.draining{color:#b00020;font-weight:bold}</style></head><body>\n<h1>pollux status</h1>\n",
    );
    let _ = write!(
        o,
        "<table id=\"server\"><tr><th>uptime</th><td id=\"uptime\">{}</td></tr>\
         <tr><th>configuration generation</th><td id=\"generation\">{}</td></tr>\
         <tr><th>state</th><td id=\"state\" class=\"{}\">{}</td></tr></table>",
        uptime(view.started.elapsed()),
        view.lifecycle.generation(),
        if draining { "draining" } else { "ok" },
        if draining { "draining" } else { "serving" },
    );
    o.push('\n');
    o.push_str("<h2>Connections</h2>\n<table id=\"connections\"><tr>");
    for s in ConnState::ALL {
        let _ = write!(o, "<th>{}</th>", s.name());
    }
    o.push_str("<th>accepted</th><th>refused</th></tr><tr>");
    for s in ConnState::ALL {
        let _ = write!(o, "<td id=\"conn-{}\">{}</td>", s.name(), t.connections(s));
    }
    let _ = write!(
        o,
        "<td id=\"accepted\">{}</td><td id=\"refused\">{}</td></tr></table>",
        t.accepted(),
        t.refused()
    );
    o.push('\n');
    o.push_str("<h2>Requests</h2>\n<table id=\"requests\"><tr><th>method</th>");
    for c in CLASSES {
        let _ = write!(o, "<th>{c}</th>");
    }
    o.push_str("</tr>");
    let mut total = [0u64; CLASSES.len()];
    for (m, method) in METHODS.iter().enumerate() {
        if (0..CLASSES.len()).all(|c| t.requests(c, m) == 0) {
            continue;
        }
        let _ = write!(o, "<tr><td>{method}</td>");
        for (c, sum) in total.iter_mut().enumerate() {
            let n = t.requests(c, m);
            *sum += n;
            let _ = write!(o, "<td>{n}</td>");
        }
        o.push_str("</tr>");
    }
    o.push_str("<tr><th>all</th>");
    for (c, n) in total.iter().enumerate() {
        let _ = write!(o, "<th id=\"class-{}\">{n}</th>", CLASSES[c]);
    }
    let _ = write!(
        o,
        "</tr></table>\n<p>bytes received <span id=\"bytes-in\">{}</span>, sent <span id=\"bytes-out\">{}</span></p>\n",
        t.bytes_in(),
        t.bytes_out()
    );
    let _ = writeln!(
        o,
        "<p>CGI scripts running <span id=\"cgi-in-flight\">{}</span>; WSGI requests in the application \
         <span id=\"wsgi-in-flight\">{}</span>, waiting <span id=\"wsgi-queued\">{}</span></p>",
        t.load(Load::CgiInFlight),
        t.load(Load::WsgiInFlight),
        t.load(Load::WsgiQueued)
    );
    o.push_str("<h2>Latency</h2>\n<table id=\"latency\"><tr><th>quantile</th><th>estimate</th></tr>");
    for q in [0.5, 0.9, 0.99] {
        let v = t.quantile(q).map_or_else(|| "–".to_owned(), ms);
        let _ = write!(o, "<tr><td>p{}</td><td>{v}</td></tr>", (q * 100.0) as u32);
    }
    o.push_str("</table>\n<h2>Listeners</h2>\n<table id=\"listeners\"><tr><th>listener</th><th>accept queue</th><th>backlog</th></tr>");
    for (url, l) in view.current_listeners() {
        let (q, b) = pollux_reactor::sys::listen_queue(&*l)
            .map_or(("?".into(), "?".into()), |(q, b)| (q.to_string(), b.to_string()));
        let _ = write!(o, "<tr><td>{}</td><td>{q}</td><td>{b}</td></tr>", html(&url));
    }
    o.push_str("</table>\n<p><a href=\"/metrics\">/metrics</a> · <a href=\"/healthz\">/healthz</a></p>\n</body></html>\n");
    o
}

fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {}s", s / 60, s % 60),
        86400.. => format!("{}d {}h", s / 86400, s % 86400 / 3600),
        _ => format!("{}h {}m", s / 3600, s % 3600 / 60),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}
