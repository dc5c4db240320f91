//! `rucksack-server`: run the reference server.

use clap::Parser;
use reference_server::config::Config;
use std::io::Write;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUCKSACK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file or a collector gets plain text.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match config.log_format {
        reference_server::config::LogFormat::Text => logs.init(),
        reference_server::config::LogFormat::Json => logs.json().init(),
    }
    if let Some(command) = &config.command {
        return match reference_server::run_command(&config, command).await {
            Ok(out) => {
                println!("{out}");
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("rucksack-server: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let data_dir = config.data_dir.clone();
    let running = match reference_server::start(config).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rucksack-server: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if running.key_generated {
        println!(
            "generated an API key (kept in {}): {}",
            data_dir.join("api_key").display(),
            running.api_key
        );
    }
    if running.admin_key_generated {
        println!(
            "generated an admin key (kept in {}); keep it on the server side",
            data_dir.join("admin_key").display()
        );
    }
    println!("rucksack-server listening on http://{}", running.addr);
    if let Some(addr) = running.softuni_addr {
        println!("rucksack-server serves the SoftUni API (no API key) on http://{addr}");
    }
    let _ = std::io::stdout().flush();
    shutdown_signal().await;
    tracing::info!("shutting down");
    running.stop().await;
    std::process::ExitCode::SUCCESS
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
