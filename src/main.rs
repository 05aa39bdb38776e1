use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = tcpack::Cli::parse();
    match tcpack::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(tcpack::exit_status(&error).code())
        }
    }
}
