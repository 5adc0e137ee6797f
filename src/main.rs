use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    ctxscope::cli::run(ctxscope::cli::Cli::parse())
}
