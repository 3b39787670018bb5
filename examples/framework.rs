//! A small web framework — a routing table from paths to handlers, 404 for the rest —
//! on pollux-web.
//!
//! | route                    | what it does                                             |
//! |--------------------------|----------------------------------------------------------|
//! | `GET /`                  | `Hello World`                                            |
//! | `GET /ctime`             | the current time, as the WSGI example's (`time.ctime()`, UTC) |
//! | `POST /form`             | a urlencoded form (`name`, `message`) echoed back as HTML |
//! | `GET /api/users/{id}`    | a user as JSON (ids 1–3), 404 JSON otherwise             |
//! | `POST /api/users`        | a JSON user created, `201` with `Location`               |
//! | `GET /visits`            | counts your visits in a cookie                           |
//! | `GET /old-home`          | `301` to `/`                                             |
//! | `GET /slow?ms=N`         | sleeps N ms on the blocking pool (at most 5000)          |
//! | `GET /static/…`          | files from `--static` (ServeDir: ranges, conditionals, compression) |
//!
//! ```text
//! cargo build --release --examples && target/release/examples/framework --bind 127.0.0.1:8080
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::Parser;
use http::header::LOCATION;
use http::StatusCode;
use pollux_fs::ServeDir;
use pollux_server::AccessLog;
use pollux_web::cookie::{Cookie, SameSite};
use pollux_web::extract::{Cookies, Form, Json, Path, Query, State};
use pollux_web::response::{Html, IntoResponse, Redirect, Response};
use pollux_web::{get, post, Options, Router};
use serde::{Deserialize, Serialize};

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
    /// Log each request to stderr.
    #[arg(long)]
    log: bool,
}

/// Shared by every worker: the users "table" and the next id.
struct Db {
    next_id: AtomicU64,
}

#[derive(Serialize, Deserialize)]
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
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
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

fn user(Path(id): Path<u64>) -> Response {
    let name = match id {
        1 => "Ada",
        2 => "Grace",
        3 => "Edsger",
        _ => {
            return (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": "no such user", "id": id })))
                .into_response()
        }
    };
    Json(User { id, name: name.to_owned() }).into_response()
}

fn create_user(State(db): State<Arc<Db>>, Json(mut u): Json<User>) -> Response {
    u.id = db.next_id.fetch_add(1, Ordering::Relaxed);
    let location = format!("/api/users/{}", u.id);
    (StatusCode::CREATED, [(LOCATION, location)], Json(u)).into_response()
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
        .route("/users", post(create_user))
        .route("/users/{id}", get(user))
        .fallback(|| (StatusCode::NOT_FOUND, Json(serde_json::json!({ "error": "no such endpoint" }))));
    let mut router = Router::new()
        .route("/", get(hello))
        .route("/ctime", get(ctime))
        .route("/form", post(form))
        .route("/visits", get(visits))
        .route("/old-home", get(|| Redirect::moved("/")))
        .route("/slow", get(slow).blocking())
        .nest("/api", api)
        .nest_service("/static", files);
    if args.log {
        router = router.layer(pollux_web::middleware::AccessLog::new());
    }
    let app = router.with_state(Arc::new(Db { next_id: AtomicU64::new(4) }));
    let defaults = Options::default();
    let opts = Options {
        addrs: args.bind,
        workers: args.workers.unwrap_or(defaults.workers),
        access_log: AccessLog::Off,
        ..defaults
    };
    pollux_web::serve(opts, app, |addrs| {
        for a in addrs {
            println!("framework: listening on http://{a}");
        }
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
