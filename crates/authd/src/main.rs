//! The authd binary: `serve` by default; see `authd --help`.

fn main() -> std::process::ExitCode {
    authd::cli::main()
}
