use std::process::ExitCode;

fn main() -> ExitCode {
    ctxscope::cli::main(std::env::args_os().collect())
}
