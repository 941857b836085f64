//! `fila`: parse the command line, then serve or run an admin command. See `server::cli`.

use clap::Parser;
use server::cli::{Cli, Cmd, run_admin};
use server::startup::Application;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: a join burst or a fan-out allocates and frees small
/// buffers on every request and frame from both worker threads (see docs/BENCHMARKS.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    no_huge_pages();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        None | Some(Cmd::Serve) => serve(cli.config).await,
        Some(cmd) => run_admin(&cli.config, cmd).await.map(|lines| {
            for l in lines {
                println!("{l}");
            }
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Transparent huge pages off for this process. mimalloc asks for them on the memory it
/// reserves, and the kernel then zeroes 2 MiB at the first touch of each: 50 such faults
/// (100 MB zeroed) in a 20,000-join burst against 2 without. Measured: 2-9 % less CPU per
/// join in distributed mode, within the noise in embedded mode, the same memory per watcher
/// (docs/BENCHMARKS.md). On other kernels: nothing.
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE only sets a flag on this process's memory map.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

async fn serve(config: server::config::Config) -> anyhow::Result<()> {
    let app = Application::build(config).await?;
    let url = app.public_url();
    println!(
        "Fila is running at {url}  (listening on {})",
        app.local_addr()
    );
    println!("  Phone (join):     {url}/v/demo");
    println!("  Staff dashboard:  {url}/staff");
    println!("  Venue screen:     {url}/display/demo");
    println!("  API:              {url}/api");
    if let Some(password) = &app.demo_password {
        println!(
            "  Demo owner login: {} / {password}   (shown only now; reset with `fila user reset-password`)",
            server::demo::DEMO_OWNER
        );
    }
    app.run_until_stopped(shutdown_signal()).await
}

/// Ctrl-C or SIGTERM (what `docker stop` and systemd send).
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
