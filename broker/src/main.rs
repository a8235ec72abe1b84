//! `trident`: one binary serving AMQP 0-9-1, MQTT and the Kafka protocol over one engine.

mod admin;
mod alarms;
mod cli;
mod http;
mod server;
mod tls;

use anyhow::Context;
use clap::Parser;

/// mimalloc instead of the system allocator: messages are allocated on one thread
/// (a connection or a queue reading its pages back) and freed on another, a pattern
/// that leaves glibc's per-thread arenas fragmented. Under a deep backlog the engine
/// benchmark measured peak RSS 1.7 GiB with glibc and 0.3 GiB with mimalloc, and about
/// twice the throughput (docs/benchmarks.md). Its workers give freed memory back when
/// they go idle (`trident_allocator::on_worker_idle`).
#[global_allocator]
static GLOBAL: trident_allocator::MiMalloc = trident_allocator::MiMalloc;

fn main() -> anyhow::Result<std::process::ExitCode> {
    let cli = cli::Cli::parse();
    let command = cli
        .command
        .unwrap_or(cli::Command::Serve(cli::ServeArgs::default()));
    match command {
        cli::Command::Admin(cmd) => Ok(admin::run(&cli.admin, cmd)),
        cli::Command::Bench { args } => Ok(trident_bench::main(args)),
        cli::Command::Serve(args) => {
            let config = args.load_config()?;
            init_tracing(&config.log);
            for warning in trident_config::unknown_env_warnings(std::env::vars()) {
                tracing::warn!("{warning}");
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .thread_name("trident")
                // Without this, memory a burst freed (10k connections closing) stays
                // resident on workers that go quiet.
                .on_thread_park(trident_allocator::on_worker_idle)
                .build()
                .context("starting the async runtime")?;
            runtime.block_on(server::run(config))?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

fn init_tracing(default_filter: &str) {
    use tracing_subscriber::EnvFilter;
    // RUST_LOG wins over the configured filter, as operators expect.
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(default_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .init();
}
