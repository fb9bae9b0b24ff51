//! Tracing set-up: JSON lines in Lambda, filtered by `RUST_LOG` (default `info`).

/// Installs the global subscriber once; later calls are ignored, so tests and
/// the demo may call it freely.
pub fn init() {
    init_with(false);
}

/// Installs the global subscriber writing to standard error, for command-line
/// tools whose standard output is their report.
pub fn init_stderr() {
    init_with(true);
}

fn init_with(stderr: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));

    let builder = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .with_target(false);

    let _ = if stderr {
        builder.with_writer(std::io::stderr).try_init()
    } else {
        builder.try_init()
    };
}
