//! The `vigil` command line.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    cli::init_logging();
    let args = cli::Cli::parse();
    match cli::dispatch(args) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("vigil: error: {error:#}");
            ExitCode::from(cli::EXIT_FAILURE)
        }
    }
}
