//! Graceful shutdown, the same for every binary of the workspace.

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (what systemd and Kubernetes send).
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight work");
}
