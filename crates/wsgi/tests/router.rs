//! A WSGI app mounted in a `pollux-web` router beside Rust routes, served on a real socket.

use pollux_testkit::{request, start_app};
use pollux_web::{get, Router};
use pollux_wsgi::{Config, Wsgi};

#[test]
fn a_wsgi_app_answers_below_its_prefix_and_rust_routes_beside_it() {
    let mut config = Config::new("echoapp".parse().expect("spec"));
    config.pythonpath.push(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/apps").into());
    config.threads = 2;
    let wsgi = Wsgi::load(&config).expect("load the app");
    let app = Router::new().route("/rust", get(|| "from rust\n")).nest_service("/py", wsgi).with_state(());
    let server = start_app(app);

    let r = request(server.addr, "GET /rust HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_eq!((r.status, r.text().as_str()), (200, "from rust\n"));
    let r = request(
        server.addr,
        "POST /py/items HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
    assert_eq!((r.status, r.text().as_str()), (200, "POST '' /items hello\n"));
}
