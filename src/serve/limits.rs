//! Per-query limits of a server: a cap on queries running at once, a time
//! limit, and a memory pool of its own for every query.
//!
//! A query holds its slot (a semaphore permit) and runs under its deadline
//! until its result stream ends or is dropped (the client went away or
//! cancelled), so a cancelled query frees its slot at once. A client that
//! stops reading without going away loses the slot at the deadline all the
//! same (a watchdog takes it back; its next read gets the time-limit
//! error). A query that waits for a slot longer than the time limit fails
//! with a "server busy" error instead of queueing forever.

use std::future::Future as _;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionContext;
use futures::Stream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// The limits every query of a server runs under.
#[derive(Debug, Clone)]
pub(crate) struct QueryLimits {
    slots: Arc<Semaphore>,
    /// Queries that may run at once.
    pub(crate) max_concurrent: usize,
    /// Wall-clock limit of one query (waiting for a slot included).
    pub(crate) timeout: Duration,
    /// Memory pool of one query, in bytes; `None` leaves the session's pool
    /// (cluster sessions: the executors enforce their own).
    pub(crate) memory_limit: Option<usize>,
}

/// A running query's slot and deadline.
#[derive(Debug)]
pub(crate) struct Admission {
    /// The slot; shared with the watchdog, which empties it at the deadline.
    _permit: Arc<std::sync::Mutex<Option<OwnedSemaphorePermit>>>,
    watchdog: tokio::task::AbortHandle,
    deadline: Instant,
    timeout: Duration,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.watchdog.abort();
    }
}

impl QueryLimits {
    /// Limits with `max_concurrent` slots (at least one).
    pub(crate) fn new(
        max_concurrent: usize,
        timeout: Duration,
        memory_limit: Option<usize>,
    ) -> Self {
        let max_concurrent = max_concurrent.max(1);
        QueryLimits {
            slots: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            timeout,
            memory_limit,
        }
    }

    /// Waits for a free slot, at most the time limit.
    ///
    /// # Errors
    /// "server busy" when no slot frees in time.
    pub(crate) async fn admit(&self) -> Result<Admission, String> {
        let deadline = Instant::now() + self.timeout;
        match tokio::time::timeout_at(deadline, Arc::clone(&self.slots).acquire_owned()).await {
            Ok(Ok(permit)) => {
                let permit = Arc::new(std::sync::Mutex::new(Some(permit)));
                let slot = Arc::downgrade(&permit);
                let watchdog = tokio::spawn(async move {
                    tokio::time::sleep_until(deadline).await;
                    if let Some(slot) = slot.upgrade()
                        && let Ok(mut held) = slot.lock()
                    {
                        held.take();
                    }
                })
                .abort_handle();
                Ok(Admission {
                    _permit: permit,
                    watchdog,
                    deadline,
                    timeout: self.timeout,
                })
            }
            Ok(Err(_)) => Err("the server is shutting down".into()),
            Err(_) => Err(format!(
                "server busy: {} queries are running and none finished within the {}s query \
                 time limit; try again later",
                self.max_concurrent,
                self.timeout.as_secs()
            )),
        }
    }

    /// Queries running now.
    #[cfg(test)]
    pub(crate) fn running(&self) -> usize {
        self.max_concurrent - self.slots.available_permits()
    }

    /// A context for one query: `base`'s catalog, functions and settings with
    /// a fresh memory pool of [`QueryLimits::memory_limit`] bytes, so one
    /// query cannot starve the others.
    ///
    /// # Errors
    /// When the runtime cannot be built.
    pub(crate) fn query_context(
        &self,
        base: &SessionContext,
    ) -> datafusion::error::Result<SessionContext> {
        let state = base.state();
        let Some(limit) = self.memory_limit else {
            return Ok(SessionContext::new_with_state(state));
        };
        let runtime = RuntimeEnvBuilder::from_runtime_env(state.runtime_env())
            .with_memory_pool(Arc::new(gridsql_engine::QueryMemoryPool::new(limit)))
            .build_arc()?;
        let state = SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(runtime)
            .build();
        Ok(SessionContext::new_with_state(state))
    }
}

impl Admission {
    /// The message of a query stopped at its deadline.
    pub(crate) fn timeout_message(&self) -> String {
        format!(
            "query cancelled: it ran longer than the server's {}s query time limit",
            self.timeout.as_secs()
        )
    }

    /// Time left before the deadline.
    pub(crate) fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }
}

/// A result stream that keeps its query's slot, ends with one error at the
/// deadline, and ends with one error if producing a batch panics.
pub(crate) struct Limited<S, E> {
    /// The result stream; dropped (stopping the plan) at the deadline.
    inner: Option<Pin<Box<S>>>,
    sleep: Pin<Box<Sleep>>,
    admission: Option<Admission>,
    on_timeout: fn(String) -> E,
    on_panic: fn(String) -> E,
}

impl<S, E> Limited<S, E> {
    /// Wraps `inner`; `on_timeout` and `on_panic` turn the timeout message and
    /// a panic's message into the stream's error.
    pub(crate) fn new(
        inner: S,
        admission: Admission,
        on_timeout: fn(String) -> E,
        on_panic: fn(String) -> E,
    ) -> Self {
        Limited {
            inner: Some(Box::pin(inner)),
            sleep: Box::pin(tokio::time::sleep_until(admission.deadline)),
            admission: Some(admission),
            on_timeout,
            on_panic,
        }
    }
}

impl<S, T, E> Stream for Limited<S, E>
where
    S: Stream<Item = Result<T, E>>,
{
    type Item = Result<T, E>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.admission.is_none() || self.inner.is_none() {
            return Poll::Ready(None);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            // Dropping the stream stops the plan; dropping the admission frees the slot.
            self.inner = None;
            let message = self
                .admission
                .take()
                .map(|a| a.timeout_message())
                .unwrap_or_default();
            return Poll::Ready(Some(Err((self.on_timeout)(message))));
        }
        let polled = match self.inner.as_mut() {
            Some(inner) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                inner.as_mut().poll_next(cx)
            })),
            None => Ok(Poll::Ready(None)),
        };
        let polled = match polled {
            Ok(p) => p,
            Err(payload) => {
                // The plan is in an unknown state: drop it and free the slot.
                self.inner = None;
                self.admission = None;
                let message = crate::panics::message(payload.as_ref());
                return Poll::Ready(Some(Err((self.on_panic)(message))));
            }
        };
        if let Poll::Ready(None) = polled {
            self.inner = None;
            self.admission = None;
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;

    use super::*;

    #[tokio::test]
    async fn a_panicking_stream_ends_with_one_error_and_frees_its_slot() {
        let limits = QueryLimits::new(1, Duration::from_secs(60), None);
        let a = limits.admit().await.unwrap();
        let boom = futures::stream::poll_fn(|_| -> Poll<Option<Result<u8, String>>> {
            panic!("index out of bounds")
        });
        let mut s = Limited::new(boom, a, |m| m, |m| format!("panic: {m}"));
        let e = s.next().await.unwrap().unwrap_err();
        assert!(
            e.starts_with("panic: internal error") && e.contains("index out of bounds"),
            "{e}"
        );
        assert!(s.next().await.is_none());
        assert_eq!(limits.running(), 0);
        // and a panicking future is an error too
        let e = crate::panics::caught(async {
            if limits.running() == 0 {
                panic!("planning failed")
            }
        })
        .await
        .unwrap_err();
        assert!(e.contains("planning failed") && !e.contains('\n'), "{e}");
    }

    #[tokio::test]
    async fn slots_and_deadline() {
        let limits = QueryLimits::new(1, Duration::from_millis(200), None);
        let a = limits.admit().await.unwrap();
        assert_eq!(limits.running(), 1);
        let busy = limits.admit().await.unwrap_err();
        assert!(busy.contains("server busy"), "{busy}");
        let never = futures::stream::pending::<Result<u8, String>>();
        let mut s = Limited::new(never, a, |m| m, |m| m);
        let e = s.next().await.unwrap().unwrap_err();
        assert!(e.contains("time limit"), "{e}");
        assert!(s.next().await.is_none());
        assert_eq!(limits.running(), 0);
        // a dropped stream frees its slot
        let b = limits.admit().await.unwrap();
        drop(Limited::new(
            futures::stream::pending::<Result<u8, String>>(),
            b,
            |m| m,
            |m| m,
        ));
        assert_eq!(limits.running(), 0);
        // a stream nobody reads loses its slot at the deadline
        let c = limits.admit().await.unwrap();
        let mut stalled = Limited::new(
            futures::stream::pending::<Result<u8, String>>(),
            c,
            |m| m,
            |m| m,
        );
        assert_eq!(limits.running(), 1);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(limits.running(), 0, "a stalled reader kept its slot");
        let e = stalled.next().await.unwrap().unwrap_err();
        assert!(e.contains("time limit"), "{e}");
    }
}
