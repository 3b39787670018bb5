//! `pollux serve --config FILE`, the `POLLUX_*` environment and `pollux check-config`, against
//! the real binary: every flag of `pollux serve --help` round-trips through a file (compared
//! with the same flag on the command line by `--dump-options`), precedence default < file <
//! environment < command line, errors that name the line, the example file in dist/, and a
//! request served from a `[[site]]` of a file.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use pollux_testkit::{pollux_bin, request, run_within, spawn, TempRoot};

const LIMIT: Duration = Duration::from_secs(20);

/// `pollux ARGS` with no POLLUX_* variable from the test's own environment, plus `env`.
fn pollux(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(pollux_bin());
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("POLLUX_") {
            cmd.env_remove(k);
        }
    }
    cmd.envs(env.iter().copied());
    run_within(&mut cmd, LIMIT, "pollux")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The dump without its comments (which say where each value came from).
fn settings(dump: &str) -> Vec<String> {
    dump.lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split("  # ").next().unwrap_or(l).to_owned())
        .collect()
}

/// `pollux serve ARGS --dump-options`, which must succeed.
fn dump(args: &[&str], env: &[(&str, &str)]) -> String {
    let mut all = vec!["serve"];
    all.extend_from_slice(args);
    all.push("--dump-options");
    let o = pollux(&all, env);
    assert!(o.status.success(), "pollux {all:?}: {}", stderr(&o));
    stdout(&o)
}

/// The value of `key` in a dump.
fn value_of(dump: &str, key: &str) -> Option<String> {
    let line =
        dump.lines().map(|l| l.trim_start_matches("# ")).find(|l| l.starts_with(&format!("{key} = ")))?;
    let v = &line[key.len() + 3..];
    Some(v.split("  # ").next().unwrap_or(v).to_owned())
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// A flag of `pollux serve --help`: its long name, and how it takes a value.
#[derive(Debug, Clone)]
struct Flag {
    long: String,
    /// `<VALUE>` after it (None for a switch).
    value_name: Option<String>,
    /// `--flag[=<VALUE>]`.
    optional: bool,
    /// `[possible values: on, off]` in its help.
    possible: Vec<String>,
    repeatable: bool,
}

/// The flag a `--help` line starts with, unless it is about the config file or help.
fn flag_of(t: &str) -> Option<Flag> {
    let i = t.find("--")?;
    let rest = &t[i + 2..];
    let long: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    let after = &rest[long.len()..];
    let optional = after.starts_with("[=");
    let value_name = after
        .split('<')
        .nth(1)
        .and_then(|v| v.split('>').next())
        .filter(|_| after.starts_with(" <") || optional)
        .map(str::to_owned);
    if ["help", "config", "dump-options"].contains(&long.as_str()) {
        return None;
    }
    Some(Flag { long, value_name, optional, possible: Vec::new(), repeatable: false })
}

fn help_flags() -> Vec<Flag> {
    let help = stdout(&pollux(&["serve", "--help"], &[]));
    let mut flags: Vec<Flag> = Vec::new();
    for line in help.lines() {
        let t = line.trim_start();
        if t.starts_with('-') {
            if let Some(f) = flag_of(t) {
                flags.push(f);
            }
        }
        // The description, on the flag's line or the lines after it.
        let Some(f) = flags.last_mut() else { continue };
        if let Some(i) = t.find("[possible values: ") {
            let list = t[i + 18..].split(']').next().unwrap_or("");
            f.possible = list.split(", ").map(str::to_owned).collect();
        }
        if t.contains("(repeatable") {
            f.repeatable = true;
        }
    }
    flags
}

/// Values to try for a flag, most likely first.
fn candidates(f: &Flag) -> Vec<String> {
    let mut out: Vec<String> = f.possible.iter().rev().cloned().collect();
    let name = f.value_name.clone().unwrap_or_default();
    let by_name: &[&str] = match name.as_str() {
        "ADDR" => &["127.0.0.1:1"],
        "PORT" => &["9090"],
        "N" | "N|auto" => &["3"],
        "DURATION" => &["3s"],
        "FILE" => &["f.pem"],
        "DIR" => &["/tmp"],
        "EXT" => &[".py"],
        "NAME=DIR" => &["a.test=/tmp"],
        "NAME=CERT,KEY" => &["a.test=c.pem,k.pem"],
        "PREFIX=DIR" => &["/cgi-bin=/tmp"],
        "URL=DIR" => &["/static=/tmp"],
        "[GLOB=]VALUE" => &["*.html=no-cache"],
        "VALUE" => &["max-age=60"],
        "VERSION" => &["1.3"],
        "MODULE[:CALLABLE]" => &["app:app"],
        "/PREFIX" => &["/app"],
        "NAMES" => &["a.test"],
        "CIDR" => &["10.0.0.0/8"],
        "FORMAT" => &["combined"],
        _ => &[],
    };
    out.extend(by_name.iter().map(|s| (*s).to_owned()));
    out.extend(["3", "3s", "off", "127.0.0.1:1", "/tmp", "a.test", "10.0.0.0/8"].map(str::to_owned));
    out
}

/// The command-line form of a flag with a value.
fn cli(f: &Flag, value: Option<&str>) -> Vec<String> {
    match (value, f.optional) {
        (None, _) => vec![format!("--{}", f.long)],
        (Some(v), true) => vec![format!("--{}={v}", f.long)],
        (Some(v), false) => vec![format!("--{}", f.long), v.to_owned()],
    }
}

/// The flags clap says are missing (`required arguments were not provided: --wsgi <..>`).
fn missing(err: &str) -> Vec<String> {
    if !err.contains("required") {
        return Vec::new();
    }
    err.split("--")
        .skip(1)
        .map(|s| s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect())
        .collect()
}

/// A command line that sets `f` (with companions it requires), and its dump.
fn working(f: &Flag, flags: &[Flag]) -> (Option<String>, Vec<String>, String) {
    let values: Vec<Option<String>> = match &f.value_name {
        None => vec![None],
        Some(_) => candidates(f).into_iter().map(Some).collect(),
    };
    let mut last = String::new();
    for value in values {
        let mut companions: Vec<String> = Vec::new();
        for _ in 0..4 {
            let mut args = companions.clone();
            args.extend(cli(f, value.as_deref()));
            let mut all = vec!["serve".to_owned()];
            all.extend(args.clone());
            all.push("--dump-options".into());
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            let o = pollux(&refs, &[]);
            if o.status.success() {
                return (value, companions, stdout(&o));
            }
            last = stderr(&o);
            let need = missing(&last);
            if need.is_empty() {
                break;
            }
            for n in need {
                let Some(g) = flags.iter().find(|g| g.long == n) else { continue };
                let v = g.value_name.as_ref().map(|_| candidates(g).remove(0));
                companions.extend(cli(g, v.as_deref()));
            }
        }
    }
    panic!("no value of --{} was accepted; last error: {last}", f.long)
}

/// The TOML line for `f` = `value` as an operator writes it.
fn toml_line(f: &Flag, value: Option<&str>) -> String {
    let quoted = |v: &str| format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""));
    match value {
        None => format!("{} = true", f.long),
        Some(v) if f.repeatable => format!("{} = [{}]", f.long, quoted(v)),
        Some(v) if !v.is_empty() && v.len() < 10 && v.bytes().all(|b| b.is_ascii_digit()) => {
            format!("{} = {v}", f.long)
        }
        Some(v) => format!("{} = {}", f.long, quoted(v)),
    }
}

#[test]
fn every_flag_of_serve_help_round_trips_through_a_file() {
    let tmp = TempRoot::empty("cfg-roundtrip");
    let flags = help_flags();
    for must in [
        "bind",
        "port",
        "workers",
        "keepalive-timeout",
        "listing",
        "no-listing",
        "vhost",
        "tls",
        "self-signed",
        "404",
    ] {
        assert!(flags.iter().any(|f| f.long == must), "--{must} not found in --help: {flags:?}");
    }
    let defaults = dump(&[], &[]);
    for f in &flags {
        let (value, companions, on_cli) = working(f, &flags);
        assert_ne!(
            settings(&on_cli),
            settings(&defaults),
            "--{} {value:?} changed nothing in the dump",
            f.long
        );
        let file =
            write(&tmp.0, "flag.toml", &format!("# --{}\n{}\n", f.long, toml_line(f, value.as_deref())));
        let mut args: Vec<&str> = companions.iter().map(String::as_str).collect();
        let file_arg = file.to_string_lossy().into_owned();
        args.extend(["--config", &file_arg]);
        let from_file = dump(&args, &[]);
        assert_eq!(settings(&from_file), settings(&on_cli), "--{} {value:?} as a key", f.long);
        assert!(
            from_file.contains(&format!("  # {}:2", file.display())),
            "--{}: the dump names the line:\n{from_file}",
            f.long
        );
        // The dump itself is a config file that gives the same settings.
        let again = write(&tmp.0, "dump.toml", &on_cli);
        let again_arg = again.to_string_lossy().into_owned();
        let mut args: Vec<&str> = companions.iter().map(String::as_str).collect();
        args.extend(["--config", &again_arg]);
        assert_eq!(settings(&dump(&args, &[])), settings(&on_cli), "--{}: the dump loaded again", f.long);
    }
    // The positional ROOT.
    let file = write(&tmp.0, "root.toml", "root = \"/srv/site\"\n");
    let f = file.to_string_lossy().into_owned();
    assert_eq!(settings(&dump(&["--config", &f], &[])), settings(&dump(&["/srv/site"], &[])));
}

#[test]
fn precedence_is_default_file_environment_command_line() {
    let tmp = TempRoot::empty("cfg-precedence");
    let file = write(
        &tmp.0,
        "p.toml",
        "keepalive-timeout = \"5s\"\nbind = [\"127.0.0.1:1\", \"127.0.0.1:2\"]\nlisting = true\nworkers = 2\n",
    );
    let f = file.to_string_lossy().into_owned();
    let d = dump(&[], &[]);
    assert_eq!(value_of(&d, "keepalive-timeout").as_deref(), Some("\"75s\""), "default");
    let d = dump(&["--config", &f], &[]);
    assert_eq!(value_of(&d, "keepalive-timeout").as_deref(), Some("\"5s\""), "file over default");
    assert_eq!(value_of(&d, "bind").as_deref(), Some("[\"127.0.0.1:1\", \"127.0.0.1:2\"]"));
    let env = [("POLLUX_KEEPALIVE_TIMEOUT", "6s"), ("POLLUX_LISTING", "0")];
    let d = dump(&["--config", &f], &env);
    assert_eq!(value_of(&d, "keepalive-timeout").as_deref(), Some("\"6s\""), "environment over file");
    assert_eq!(value_of(&d, "listing").as_deref(), Some("false"), "POLLUX_LISTING=0 over the file's true");
    assert!(d.contains("# POLLUX_KEEPALIVE_TIMEOUT"), "{d}");
    let d = dump(&["--config", &f, "--keepalive-timeout", "7s", "--bind", "127.0.0.1:3"], &env);
    assert_eq!(value_of(&d, "keepalive-timeout").as_deref(), Some("\"7s\""), "command line over all");
    assert_eq!(
        value_of(&d, "bind").as_deref(),
        Some("[\"127.0.0.1:3\"]"),
        "a list on the command line replaces the file's"
    );
    assert_eq!(value_of(&d, "workers").as_deref(), Some("2"), "the rest still from the file");
    // Without a file, the environment alone.
    let d = dump(&[], &[("POLLUX_WORKERS", "5"), ("POLLUX_BIND", "127.0.0.1:4")]);
    assert_eq!(value_of(&d, "workers").as_deref(), Some("5"));
    assert_eq!(value_of(&d, "bind").as_deref(), Some("[\"127.0.0.1:4\"]"));
    // The supervisor's variables are never settings.
    let d2 = dump(&[], &[("POLLUX_LISTEN_FDS", "3,4"), ("POLLUX_SELF_SIGNED_DIR", "/nonexistent")]);
    assert_eq!(settings(&d2), settings(&dump(&[], &[])));
}

/// `pollux ARGS` must fail with one line on stderr, exit 1.
fn fails(args: &[&str], env: &[(&str, &str)]) -> String {
    let o = pollux(args, env);
    assert_eq!(o.status.code(), Some(1), "pollux {args:?}: {o:?}");
    let e = stderr(&o);
    assert_eq!(e.lines().count(), 1, "one line: {e}");
    e.trim_end().to_owned()
}

#[test]
fn errors_name_the_file_and_line() {
    let tmp = TempRoot::empty("cfg-errors");
    let cases: &[(&str, &str)] = &[
        (
            "workers = 2\n\n# next\nkeepalive_timout = \"5s\"\n",
            ":4: unknown key \"keepalive_timout\" (did you mean \"keepalive-timeout\"?)",
        ),
        ("listing = true\nbacklog = 10\n\nworkers = \"abc\"\n", ":4: workers: 'abc' is not a number"),
        ("backlog = \"lots\"\n", ":1: backlog: \"lots\" is not a number"),
        ("\n\ncompress = \"maybe\"\n", ":3: compress: \"maybe\" is not one of on, off"),
        (
            "workers = 2\nbind = [\"127.0.0.1:1\",\n  \"nonsense address\"]\n",
            ":2: bind: 'nonsense address' is not an address",
        ),
        ("workers = 2\nlisting = \"yes\"\n", ":2: listing: expected true or false, found a string (\"yes\")"),
        ("workers = 2\n\nbind = [\"127.0.0.1:1\"\n", ":3: "),
        (
            "workers = 2\n[[site]]\nname = \"a.test\"\nroot = \"/tmp\"\ncgi = \"/cgi-bin=/tmp\"\n",
            ":5: \"cgi\" cannot be set per site",
        ),
        (
            "[[site]]\nname = \"a.test\"\nrot = \"/tmp\"\n",
            ":3: unknown key \"rot\" in [[site]] (did you mean \"root\"?)",
        ),
        ("x = 1\n[[site]]\nname = \"a.test\"\n", ":1: unknown key \"x\""),
        (
            "workers = 2\n\npythonpath = [\"/tmp\"]\n",
            ":3: pythonpath: the following required arguments were not provided: --wsgi",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        let file = write(&tmp.0, &format!("e{i}.toml"), text);
        let f = file.to_string_lossy().into_owned();
        let want = format!("pollux: {f}{want}");
        let e = fails(&["check-config", &f], &[]);
        assert!(e.starts_with(&want), "{text:?}:\n got  {e}\n want {want}");
        let e = fails(&["serve", "--config", &f], &[]);
        assert!(e.starts_with(&want), "serve {text:?}:\n got  {e}\n want {want}");
    }
    let e = fails(&["serve", "--dump-options"], &[("POLLUX_WORKERS", "abc")]);
    assert_eq!(e, "pollux: POLLUX_WORKERS: workers: 'abc' is not a number");
    let e = fails(&["serve", "--dump-options"], &[("POLLUX_LISTING", "perhaps")]);
    assert!(e.starts_with("pollux: POLLUX_LISTING=perhaps: expected 1 or 0"), "{e}");
    let e = fails(&["check-config", "/nonexistent/pollux.toml"], &[]);
    assert!(e.starts_with("pollux: /nonexistent/pollux.toml: No such file"), "{e}");
}

#[test]
fn check_config_says_ok_with_a_summary() {
    let tmp = TempRoot::new("cfg-check");
    let site = TempRoot::new("cfg-check-site");
    let file = write(
        &tmp.0,
        "ok.toml",
        &format!(
            "root = \"{}\"\nbind = [\"127.0.0.1:8081\"]\n[[site]]\nnames = [\"a.test\", \"b.test\"]\nroot = \"{}\"\n",
            tmp.0.display(),
            site.0.display()
        ),
    );
    let f = file.to_string_lossy().into_owned();
    let o = pollux(&["check-config", &f], &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with(&format!("pollux: {f}: ok (")), "{out}");
    assert!(out.contains("http://127.0.0.1:8081") && out.contains("2 virtual hosts"), "{out}");
    // A site whose directory does not exist is caught before anything is bound.
    let bad = write(&tmp.0, "bad.toml", "[[site]]\nname = \"a.test\"\nroot = \"/nonexistent/site\"\n");
    let e = fails(&["check-config", &bad.to_string_lossy()], &[]);
    assert!(e.contains("/nonexistent/site"), "{e}");
}

#[test]
fn the_example_file_in_dist_loads() {
    let example = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dist/pollux.toml");
    let text = std::fs::read_to_string(&example).unwrap();
    assert!(text.contains("[[site]]"), "the example shows sites");
    let f = example.to_string_lossy().into_owned();
    let d = dump(&["--config", &f], &[]);
    let from_file = d.lines().filter(|l| l.contains(&format!("# {f}:"))).count();
    assert!(from_file >= 10, "most settings from the example:\n{d}");
    assert!(value_of(&d, "vhost").is_some_and(|v| v.contains("example.com=")), "{d}");
    assert!(value_of(&d, "tls").is_some_and(|v| v.contains("example.com=")), "{d}");
}

#[test]
fn a_site_of_the_file_is_served_by_its_name() {
    let main = TempRoot::empty("cfg-serve-main");
    std::fs::write(main.0.join("index.html"), "main site\n").unwrap();
    let other = TempRoot::empty("cfg-serve-other");
    std::fs::write(other.0.join("index.html"), "other site\n").unwrap();
    let file = write(
        &main.0,
        "pollux.toml",
        &format!(
            "# a test server\nroot = \"{}\"\nbind = [\"127.0.0.1:0\"]\nworkers = 1\naccess-log = \"off\"\n\n\
             [[site]]\nname = \"other.test\"\nroot = \"{}\"\n",
            main.0.display(),
            other.0.display()
        ),
    );
    let mut cmd = Command::new(pollux_bin());
    cmd.args(["serve", "--config"]).arg(&file);
    let server = spawn(cmd);
    let get = |host: &str| {
        request(server.addr, &format!("GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"))
    };
    assert_eq!(get("other.test").text(), "other site\n");
    assert_eq!(get("elsewhere.test").text(), "main site\n");
}
