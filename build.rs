//! The binary embeds Python (`pollux serve --wsgi`) and must load the very libpython it was
//! built against. A machine may hold several with the same soname: Debian's
//! `/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0` beside pyenv's or a source build's.
//! Without a run path the dynamic loader takes whichever its cache names first, and the
//! interpreter then looks for its standard library and site-packages under the wrong prefix.
//! The run path (searched before the loader's cache) points at the build's own.
fn main() {
    let config = pyo3_build_config::get();
    if let Some(dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg-bins=-Wl,-rpath,{dir}");
    }
}
