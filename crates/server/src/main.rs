//! The `kurz` binary: parse the command line and hand over to [`kurz_server::cli`].

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    kurz_server::cli::run(kurz_server::cli::Cli::parse()).await
}
