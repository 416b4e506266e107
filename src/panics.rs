//! A panic is a bug, but it must never take a user's session or a server
//! down with it: the shell and both servers catch panics of a query's
//! planning and execution and turn them into that query's error, one line,
//! without a backtrace. The hook keeps the default report (the location and
//! a backtrace) for `RUST_LOG=debug`.

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures::FutureExt;

/// Replaces the default panic report (several lines on stderr) with a debug log line.
pub(crate) fn install_hook() {
    std::panic::set_hook(Box::new(|info| {
        // Capturing is slow, and some panics are caught on purpose (zarrs on
        // hostile chunks): only when the line is logged.
        if log::log_enabled!(log::Level::Debug) {
            log::debug!(
                "panic: {info}\n{}",
                std::backtrace::Backtrace::force_capture()
            );
        }
    }));
}

/// The message of a caught panic, as a query error.
pub(crate) fn message(payload: &(dyn Any + Send)) -> String {
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown cause".into());
    format!(
        "internal error (a bug in gridsql; please report it): {}",
        crate::report::one_line(&text)
    )
}

/// Runs `fut`, turning a panic into `Err(message)`.
pub(crate) async fn caught<T>(fut: impl Future<Output = T>) -> Result<T, String> {
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .map_err(|p| message(p.as_ref()))
}
