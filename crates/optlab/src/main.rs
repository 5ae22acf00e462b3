use clap::Parser;

/// mimalloc keeps freed blocks in per-thread caches: burn allocates a fresh buffer for every
/// tensor of every step, and with the system allocator those large blocks go back to the kernel
/// and fault in again each step (see docs/speed.md, "Networks"). With purging off
/// ([`optlab::alloc::keep_freed_memory`]) mimalloc keeps them for the next step too.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    optlab::alloc::keep_freed_memory();
    let cli = optlab::cli::Cli::parse();
    if let Err(e) = optlab::cli::main_with(cli) {
        eprintln!("optlab: error: {e}");
        std::process::exit(1);
    }
}
