//! The embedded interpreter: started without Python's signal handlers, given the app's
//! import path and virtualenv, then asked to import the app.

use std::path::{Path, PathBuf};

use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use crate::environ::Keys;
use crate::objects::FileWrapper;
use crate::run::{format_exception, App};
use crate::{Config, LoadError};

/// The version of the Python pollux embeds, as `major.minor` (`3.11`).
pub fn python_version() -> String {
    Python::initialize();
    Python::attach(|py| {
        let v = py.version_info();
        format!("{}.{}", v.major, v.minor)
    })
}

fn py_err(py: Python<'_>) -> impl Fn(PyErr) -> LoadError + '_ {
    move |e| LoadError::Python(format_exception(py, &e).trim_end().to_owned())
}

/// What `pyvenv.cfg` says: the venv's Python version and whether it sees the base
/// interpreter's packages.
struct Venv {
    dir: PathBuf,
    version: String,
    system_site: bool,
}

fn read_venv(dir: &Path) -> Result<Venv, LoadError> {
    let bad = |why: String| LoadError::Venv { path: dir.display().to_string(), why };
    let cfg = std::fs::read_to_string(dir.join("pyvenv.cfg"))
        .map_err(|e| bad(format!("no pyvenv.cfg ({e}): not a virtualenv")))?;
    let mut version = None;
    let mut system_site = false;
    for line in cfg.lines() {
        let Some((k, v)) = line.split_once('=') else { continue };
        match k.trim() {
            // `version` (venv) or `version_info` (virtualenv): 3.11.7 → 3.11
            "version" | "version_info" => {
                let mut parts = v.trim().split('.');
                if let (Some(a), Some(b)) = (parts.next(), parts.next()) {
                    version = Some(format!("{a}.{b}"));
                }
            }
            "include-system-site-packages" => system_site = v.trim() == "true",
            _ => {}
        }
    }
    let version = version.ok_or_else(|| bad("pyvenv.cfg names no Python version".into()))?;
    Ok(Venv { dir: dir.to_owned(), version, system_site })
}

/// Starts Python and imports the application. Runs once per process, before any server
/// thread exists.
pub(crate) fn load(config: &Config) -> Result<App, LoadError> {
    let venv = match &config.venv {
        Some(dir) => Some(read_venv(dir)?),
        None => None,
    };
    Python::initialize();
    Python::attach(|py| {
        let err = py_err(py);
        let v = py.version_info();
        let ours = format!("{}.{}", v.major, v.minor);
        if let Some(venv) = &venv {
            if venv.version != ours {
                return Err(LoadError::Venv {
                    path: venv.dir.display().to_string(),
                    why: format!("it is for Python {}, and pollux embeds Python {ours}", venv.version),
                });
            }
        }
        let sys = py.import("sys").map_err(&err)?;
        sys.setattr("argv", PyList::new(py, ["pollux"]).map_err(&err)?).map_err(&err)?;
        if let Some(venv) = &venv {
            use_venv(py, &sys, venv, &ours).map_err(&err)?;
        }
        // The app's directories go first, as `python -m gunicorn` puts its working directory.
        let path = sys.getattr("path").map_err(&err)?;
        let dirs: Vec<PathBuf> = if config.pythonpath.is_empty() {
            vec![std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."))]
        } else {
            config.pythonpath.iter().map(|d| std::path::absolute(d).unwrap_or_else(|_| d.clone())).collect()
        };
        for (i, d) in dirs.iter().enumerate() {
            path.call_method1("insert", (i, d.to_string_lossy())).map_err(&err)?;
        }
        let module = py.import(PyString::new(py, &config.app.module)).map_err(|e| LoadError::Import {
            module: config.app.module.clone(),
            traceback: format_exception(py, &e).trim_end().to_owned(),
        })?;
        let callable = find_callable(&module, config)?;
        let file_wrapper = py.get_type::<FileWrapper>().into_any().unbind();
        let keys = Keys::new(py, &config.mount, config.threads > 1, config.multiprocess, file_wrapper)
            .map_err(&err)?;
        Ok(App { callable: callable.unbind(), keys, mount: config.mount.clone() })
    })
}

/// The venv's `site-packages` as the interpreter of the venv would have it: added with
/// `site.addsitedir` (so its `.pth` files run), the base interpreter's own site-packages
/// removed unless the venv includes them, and `sys.executable` and `sys.prefix` pointing
/// into the venv (what `multiprocessing` and `subprocess` users rely on).
fn use_venv(py: Python<'_>, sys: &Bound<'_, PyModule>, venv: &Venv, version: &str) -> PyResult<()> {
    let site_packages = venv.dir.join(format!("lib/python{version}/site-packages"));
    let site = py.import("site")?;
    if !venv.system_site {
        let base: Vec<String> = site.call_method0("getsitepackages")?.extract()?;
        let path = sys.getattr("path")?;
        for p in base {
            while path.call_method1("__contains__", (&p,))?.is_truthy()? {
                path.call_method1("remove", (&p,))?;
            }
        }
    }
    site.call_method1("addsitedir", (site_packages.to_string_lossy(),))?;
    let dir = std::path::absolute(&venv.dir).unwrap_or_else(|_| venv.dir.clone());
    let exe = dir.join("bin/python");
    sys.setattr("executable", exe.to_string_lossy())?;
    sys.setattr("_base_executable", exe.to_string_lossy())?;
    sys.setattr("prefix", dir.to_string_lossy())?;
    sys.setattr("exec_prefix", dir.to_string_lossy())?;
    Ok(())
}

fn find_callable<'py>(
    module: &Bound<'py, PyModule>,
    config: &Config,
) -> Result<Bound<'py, PyAny>, LoadError> {
    let m = &config.app.module;
    let names: Vec<&str> = match &config.app.callable {
        Some(c) => vec![c.as_str()],
        None => vec!["application", "app"],
    };
    for name in &names {
        // A dotted name reaches into the module (`mysite.wsgi:handlers.app`).
        let mut obj = Some(module.clone().into_any());
        for part in name.split('.') {
            obj = obj.and_then(|o| o.getattr(part).ok());
        }
        if let Some(obj) = obj {
            if !obj.is_callable() {
                return Err(LoadError::Callable(format!("{m}:{name} is not callable")));
            }
            return Ok(obj);
        }
    }
    Err(LoadError::Callable(match &config.app.callable {
        Some(c) => format!("module {m} has no attribute {c}"),
        None => format!("module {m} has neither `application` nor `app`; name the callable as {m}:NAME"),
    }))
}
