//! The `stackbill` binary. Everything lives in the library so the tests run the same code.

fn main() -> std::process::ExitCode {
    server::cli::main()
}
