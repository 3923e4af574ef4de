//! Links the libsable.a that heapmark's Makefile built: LIBSABLE_DIR names
//! its directory (`make test-sable-rust` sets it); by default the build/sable
//! of the checkout this crate sits in.
use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBSABLE_DIR");
    let dir = match env::var_os("LIBSABLE_DIR") {
        Some(d) => PathBuf::from(d),
        None => {
            let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
            manifest.join("../../../build/sable")
        }
    };
    let lib = dir.join("libsable.a");
    if !lib.is_file() {
        panic!(
            "sable: {} is missing: run `make build/sable/libsable.a` in heapmark's root, \
             or set LIBSABLE_DIR to the directory of a libsable.a",
            lib.display()
        );
    }
    println!("cargo:rerun-if-changed={}", lib.display());
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=static=sable");
    println!("cargo:rustc-link-lib=dylib=pthread");
}
