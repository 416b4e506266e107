//! The one thread that calls libnetcdf.
//!
//! libnetcdf (and the netcdf crate around it) serialises every call behind a
//! process-wide lock, so more threads would only wait. One thread also keeps
//! HDF5 quiet: libnetcdf switches HDF5's error printing off only for the
//! thread that initialised it, and HDF5 probes for optional attributes in
//! every file it opens, which other threads would print as `HDF5-DIAG` noise.

use std::sync::OnceLock;
use std::sync::mpsc::{Sender, channel};

use tokio::sync::oneshot;

use crate::error::{ConnectorError, Result};

type Job = Box<dyn FnOnce() + Send>;

fn sender() -> Option<&'static std::sync::Mutex<Sender<Job>>> {
    static SENDER: OnceLock<Option<std::sync::Mutex<Sender<Job>>>> = OnceLock::new();
    SENDER
        .get_or_init(|| {
            let (tx, rx) = channel::<Job>();
            std::thread::Builder::new()
                .name("gridsql-netcdf".into())
                .spawn(move || {
                    while let Ok(job) = rx.recv() {
                        job();
                    }
                })
                .ok()
                .map(|_| std::sync::Mutex::new(tx))
        })
        .as_ref()
}

/// Runs `f` on the libnetcdf thread and waits for its result without
/// blocking the async runtime.
///
/// # Errors
/// The thread could not be started or `f` panicked; errors of `f` itself
/// come back inside `T`.
pub async fn run<T, F>(dataset: &str, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let fail = |reason: &str| ConnectorError::Metadata {
        dataset: dataset.to_string(),
        reason: format!("libnetcdf thread: {reason}"),
    };
    let (tx, rx) = oneshot::channel();
    let job: Job = Box::new(move || {
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ignored = tx.send(out);
    });
    sender()
        .ok_or_else(|| fail("cannot start"))?
        .lock()
        .map_err(|_| fail("poisoned"))?
        .send(job)
        .map_err(|_| fail("stopped"))?;
    match rx.await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(_)) => Err(fail("a call panicked")),
        Err(_) => Err(fail("dropped a call")),
    }
}
