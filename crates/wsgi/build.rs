//! Points the crate's own test binaries at the libpython they were built against (see the
//! binary's build.rs for why).
fn main() {
    let config = pyo3_build_config::get();
    if let Some(dir) = config.lib_dir() {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
