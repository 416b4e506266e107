//! Running an async open from synchronous callers.
//!
//! DataFusion calls some hooks synchronously (table functions at planning,
//! plan codecs when a plan arrives from another process) that must still
//! open a dataset, which is async I/O. These run the future on a thread of
//! its own with a current-thread runtime, which works under any caller: a
//! multi-thread runtime, a current-thread runtime, or none (unlike
//! `block_in_place`, which panics on a current-thread runtime, or
//! `Handle::block_on`, which panics inside a runtime).

use std::future::Future;

use datafusion::error::{DataFusionError, Result};

/// Runs `fut` to completion on a new thread and waits for it; `name` names
/// the thread and the errors.
///
/// # Errors
/// When the thread or its runtime cannot start, or the future panics.
pub fn run_async<T, F>(name: &str, fut: F) -> Result<T>
where
    T: Send,
    F: Future<Output = T> + Send,
{
    std::thread::scope(|s| {
        let handle = std::thread::Builder::new()
            .name(format!("gridsql-{name}"))
            .spawn_scoped(s, move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                Ok::<T, std::io::Error>(rt.block_on(fut))
            })
            .map_err(|e| {
                DataFusionError::Execution(format!("{name}: cannot start a thread: {e}"))
            })?;
        match handle.join() {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(DataFusionError::Execution(format!(
                "{name}: cannot start a runtime: {e}"
            ))),
            Err(_) => Err(DataFusionError::Execution(format!(
                "{name}: opening the dataset panicked"
            ))),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_inside_and_outside_runtimes() {
        assert_eq!(run_async("t", async { 7 }).ok(), Some(7));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let v = rt.block_on(async { run_async("t", async { 8 }) });
        assert_eq!(v.ok(), Some(8));
    }
}
