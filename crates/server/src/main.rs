//! The `kurz` binary: parse the command line and hand over to [`kurz_server::cli`].

use clap::Parser;

/// mimalloc gives freed memory back to the system within milliseconds;
/// glibc's malloc kept the argon2 blocks of a password flood (19 MiB each,
/// on many threads) for good. See ADR 0011.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    kurz_server::cli::run(kurz_server::cli::Cli::parse()).await
}
