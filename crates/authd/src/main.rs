//! The authd binary: `serve` by default; see `authd --help`.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    authd::cli::main()
}
