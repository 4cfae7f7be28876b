use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rehearse::cli::Cli::parse();
    let code = rehearse::cli::main(cli);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
