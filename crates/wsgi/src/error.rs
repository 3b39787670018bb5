//! Why an application could not be loaded.

/// Loading failed; each message names what was being loaded and why it failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Not `MODULE[:CALLABLE]`.
    #[error("{0:?} is not MODULE[:CALLABLE] (a dotted module name, then optionally a colon and a name)")]
    Spec(String),
    /// The virtualenv is not one, or not for this interpreter.
    #[error("virtualenv {path}: {why}")]
    Venv {
        /// The venv's directory.
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// Importing the module raised; `traceback` is Python's own report.
    #[error("importing {module} failed:\n{traceback}")]
    Import {
        /// The module.
        module: String,
        /// The formatted traceback.
        traceback: String,
    },
    /// The module has no such attribute, or it is not callable.
    #[error("{0}")]
    Callable(String),
    /// Something else Python refused while setting up.
    #[error("python: {0}")]
    Python(String),
}
