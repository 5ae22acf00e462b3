use clap::Parser;

fn main() {
    let cli = optlab::cli::Cli::parse();
    if let Err(e) = optlab::cli::main_with(cli) {
        eprintln!("optlab: error: {e}");
        std::process::exit(1);
    }
}
