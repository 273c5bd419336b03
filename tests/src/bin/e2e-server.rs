//! The server binary for the end-to-end tests that run it as a child process (killed with
//! SIGKILL, driven by a browser): the same command line as `northstar-server`
//! ([`northstar_server::cli`]), built with this crate so that its tests get its path from cargo.

fn main() -> std::process::ExitCode {
    northstar_server::cli::main()
}
