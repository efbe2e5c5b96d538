//! The build script of every function crate (and of `habit-tests`, whose `hello-lambda` baseline
//! must be linked the same way): the binaries are linked as position-dependent executables.
//!
//! A position-independent executable is relocated by the dynamic loader at every start: each
//! pointer in its read-only data (vtables, string tables, the SDK's and chrono-tz's static tables)
//! is patched, and every page patched is copied. `habits` had 52,000 such relocations over 1.3 MB;
//! linked at a fixed address they are resolved by the linker and the pages are read from the file
//! as they are needed (docs/PERFORMANCE.md, "Cold start"). Libraries, heap and stack are still
//! placed at random addresses; only the executable's own image is not.
//!
//! The code stays position-independent (rustc's default): only the link changes, so proc macros
//! and build scripts, which this does not reach, are unaffected.
fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
