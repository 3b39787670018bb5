//! What the gateway is told: which application, where its modules are, how many threads.

use std::path::PathBuf;
use std::str::FromStr;

use crate::LoadError;

/// `MODULE[:CALLABLE]`, as `pollux serve --wsgi` takes it (gunicorn's `APP_MODULE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    /// The dotted module name (`mysite.wsgi`).
    pub module: String,
    /// The attribute to call; `None` tries `application`, then `app` (Flask's usual name).
    pub callable: Option<String>,
}

impl FromStr for AppSpec {
    type Err = LoadError;

    /// ```
    /// use pollux_wsgi::AppSpec;
    /// let spec: AppSpec = "mysite.wsgi:application".parse().unwrap();
    /// assert_eq!((spec.module.as_str(), spec.callable.as_deref()), ("mysite.wsgi", Some("application")));
    /// assert_eq!("app".parse::<AppSpec>().unwrap().callable, None);
    /// assert!("my site".parse::<AppSpec>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<AppSpec, LoadError> {
        let (module, callable) = match s.split_once(':') {
            Some((m, c)) => (m, Some(c)),
            None => (s, None),
        };
        let ident = |p: &str| {
            !p.is_empty()
                && !p.starts_with(|c: char| c.is_ascii_digit())
                && p.chars().all(|c| c.is_alphanumeric() || c == '_')
        };
        if !module.split('.').all(ident) || callable.is_some_and(|c| !c.split('.').all(ident)) {
            return Err(LoadError::Spec(s.to_owned()));
        }
        Ok(AppSpec { module: module.to_owned(), callable: callable.map(str::to_owned) })
    }
}

/// How to load and run an application.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// The application.
    pub app: AppSpec,
    /// Directories put first on `sys.path`, in order (the current directory when empty).
    pub pythonpath: Vec<PathBuf>,
    /// A virtualenv whose packages (and interpreter, as `sys.executable`) the app uses.
    pub venv: Option<PathBuf>,
    /// Python threads calling the application.
    pub threads: usize,
    /// Requests that may wait for a thread; beyond them the answer is 503.
    pub queue: usize,
    /// Where the app is mounted (`SCRIPT_NAME`): empty, or `/prefix` without a trailing slash.
    pub mount: String,
    /// `wsgi.multiprocess`: other processes serve the same app.
    pub multiprocess: bool,
}

/// Python threads by default. Typical WSGI apps wait on a database or another service for
/// most of a request, and a thread that waits holds no GIL; 16 keeps a process busy through
/// waits of a few milliseconds without the GIL hand-offs that hundreds of threads cost a
/// CPU-bound app (gunicorn's gthread and waitress pick 1 and 4; uWSGI users commonly 8–32).
pub const DEFAULT_THREADS: usize = 16;

impl Config {
    /// The defaults for `app`: the current directory on the path, [`DEFAULT_THREADS`]
    /// threads, a queue of 1,024 requests, mounted at the root.
    pub fn new(app: AppSpec) -> Config {
        Config {
            app,
            pythonpath: Vec::new(),
            venv: None,
            threads: DEFAULT_THREADS,
            queue: 1024,
            mount: String::new(),
            multiprocess: false,
        }
    }
}
