//! A small web framework — a routing table from paths to handlers, 404 for the rest —
//! on pollux-web. It prints its routes when it starts ([`ROUTES`]); the README's "A web app"
//! is a part of it. Errors under `/api` are JSON, whatever answered them (an extractor's 400,
//! 415 or 422, or the API's own 404). Each request is logged to stderr, as `pollux serve`
//! does (`--access-log off` to stop it).
//!
//! ```text
//! cargo run --release --example framework -- --bind 127.0.0.1:8080
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use http::header::LOCATION;
use http::StatusCode;
use pollux_fs::ServeDir;
use pollux_server::AccessLog;
use pollux_web::cookie::{Cookie, SameSite};
use pollux_web::extract::{Cookies, Form, Json, Path, Query, Rejection, State};
use pollux_web::middleware::from_fn;
use pollux_web::response::{Html, IntoResponse, Redirect, Response};
use pollux_web::{get, post, Options, Router};
use serde::{Deserialize, Serialize};

/// Method, path and what it does: printed at start-up. `main` routes exactly these, and
/// tests/framework_example.rs requests each one.
const ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/", "Hello World"),
    ("GET", "/ctime", "the current time, as the WSGI example's time.ctime() (UTC)"),
    ("POST", "/form", "a urlencoded form (name, message) echoed back as HTML"),
    ("GET", "/api/users", "the users, as JSON"),
    ("POST", "/api/users", "a user from JSON {\"name\": ...}: 201, Location /api/users/{id}"),
    ("GET", "/api/users/{id}", "one user, as JSON (errors under /api are JSON too)"),
    ("GET", "/visits", "counts your visits in a cookie"),
    ("GET", "/old-home", "301 to /"),
    ("GET", "/slow?ms=N", "sleeps N ms on the blocking pool (at most 5000)"),
    ("GET", "/static/", "files from --static (ServeDir); /static redirects here"),
];

#[derive(Debug, Parser)]
struct Args {
    /// Address to listen on (repeatable).
    #[arg(long = "bind", default_value = "127.0.0.1:8080")]
    bind: Vec<SocketAddr>,
    /// Worker threads [default: available cores].
    #[arg(long)]
    workers: Option<usize>,
    /// Directory served under /static.
    #[arg(long = "static", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/static"))]
    static_dir: PathBuf,
    /// Access log in Common Log Format, as `pollux serve`'s: `off`, `-` (stderr) or a file path.
    #[arg(long, default_value = "-")]
    access_log: String,
}

/// The users "table", shared by every worker. Handlers hold the lock for a map operation
/// only: a worker never waits long on it.
type Users = Arc<Mutex<BTreeMap<u64, User>>>;

#[derive(Clone, Serialize, Deserialize)]
struct User {
    #[serde(default)]
    id: u64,
    name: String,
}

fn hello() -> &'static str {
    "Hello World"
}

fn ctime() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("{}\n", format_ctime(secs))
}

/// `time.ctime()`'s layout, `Sun Nov 29 18:23:16 2026`, for a Unix time in UTC.
fn format_ctime(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = pollux_server::civil_from_days(days as i64);
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        year
    )
}

#[derive(Deserialize)]
struct Message {
    name: String,
    message: String,
}

fn form(Form(m): Form<Message>) -> Html<String> {
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>Received</title><p>{} says: {}</p>\n",
        escape(&m.name),
        escape(&m.message)
    ))
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn users(State(users): State<Users>) -> Json<Vec<User>> {
    Json(users.lock().unwrap_or_else(|e| e.into_inner()).values().cloned().collect())
}

fn user(State(users): State<Users>, Path(id): Path<u64>) -> Response {
    match users.lock().unwrap_or_else(|e| e.into_inner()).get(&id) {
        Some(u) => Json(u.clone()).into_response(),
        None => (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": "no such user", "id": id })))
            .into_response(),
    }
}

fn create_user(State(users): State<Users>, Json(mut u): Json<User>) -> Response {
    let mut users = users.lock().unwrap_or_else(|e| e.into_inner());
    u.id = users.last_key_value().map_or(1, |(id, _)| id + 1);
    users.insert(u.id, u.clone());
    let location = format!("/api/users/{}", u.id);
    (StatusCode::CREATED, [(LOCATION, location)], Json(u)).into_response()
}

/// An extractor's rejection (400, 413, 415, 422) as JSON, like the API's own errors: an API
/// client parses every answer the same way.
fn json_errors(req: http::Request<pollux_server::Body>, next: pollux_web::middleware::Next<'_>) -> Response {
    let resp = next.run(req);
    match resp.extensions().get::<Rejection>() {
        Some(r) => (r.status(), Json(serde_json::json!({ "error": r.reason() }))).into_response(),
        None => resp,
    }
}

fn visits(cookies: Cookies) -> (Cookies, String) {
    let n: u64 = cookies.get("visits").and_then(|c| c.value().parse().ok()).unwrap_or(0) + 1;
    let c = Cookie::build(("visits", n.to_string()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .max_age(pollux_web::cookie::time::Duration::days(365));
    (cookies.add(c), format!("visit number {n}\n"))
}

#[derive(Deserialize)]
struct Slow {
    ms: Option<u64>,
}

/// Blocking on purpose: it runs on the blocking pool, never on a worker.
fn slow(Query(q): Query<Slow>) -> String {
    let ms = q.ms.unwrap_or(100).min(5000);
    std::thread::sleep(Duration::from_millis(ms));
    format!("slept {ms} ms\n")
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let files = ServeDir::new(&args.static_dir)?;
    let api = Router::new()
        .route("/users", get(users).post(create_user))
        .route("/users/{id}", get(user))
        .fallback(|| (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": "no such endpoint" }))))
        .layer(from_fn(json_errors));
    let app = Router::new()
        .route("/", get(hello))
        .route("/ctime", get(ctime))
        .route("/form", post(form))
        .route("/visits", get(visits))
        .route("/old-home", get(|| Redirect::moved("/")))
        .route("/slow", get(slow).blocking())
        .nest("/api", api)
        .nest_service("/static", files);
    let first = [(1, "Ada"), (2, "Grace"), (3, "Edsger")];
    let users = first.map(|(id, name)| (id, User { id, name: name.to_owned() }));
    let app = app.with_state(Arc::new(Mutex::new(BTreeMap::from(users))));
    let defaults = Options::default();
    let opts = Options {
        addrs: args.bind,
        workers: args.workers.unwrap_or(defaults.workers),
        access_log: match args.access_log.as_str() {
            "off" => AccessLog::Off,
            "-" => AccessLog::Stderr,
            path => AccessLog::File(path.into()),
        },
        ..defaults
    };
    pollux_web::serve(opts, app, |addrs| {
        for a in addrs {
            println!("framework: listening on http://{a}");
        }
        println!("routes:");
        let width = ROUTES.iter().map(|(_, path, _)| path.len()).max().unwrap_or(0);
        for (method, path, what) in ROUTES {
            println!("  {method:<4} {path:<width$}  {what}");
        }
        println!();
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn ctime_layout() {
        // 2026-11-29 18:23:16 UTC was a Sunday.
        assert_eq!(super::format_ctime(1_795_976_596), "Sun Nov 29 18:23:16 2026");
        assert_eq!(super::format_ctime(0), "Thu Jan  1 00:00:00 1970");
    }
}
