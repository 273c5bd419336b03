//! The `northstar-server` binary: the command line of [`northstar_server::cli`].

fn main() -> std::process::ExitCode {
    northstar_server::cli::main()
}
