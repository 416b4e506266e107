//! What a gridsql scheduler knows of its executors beyond Ballista's own
//! bookkeeping: the task slots of the live ones, which size the tasks of the
//! next queries, and a bound on how long a query waits when there are none.
//!
//! Ballista 55 fails running jobs when the last executor is lost, but a job
//! submitted to a scheduler that never had an executor waits forever (its
//! client polls the job's status every 50 ms). The watch cancels such a job
//! once no executor has been live for `--wait-for-executors` seconds since
//! it was queued, and the scheduler's log says why.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ballista_core::serde::protobuf::job_status;
use ballista_scheduler::scheduler_server::SchedulerServer;
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};

/// The scheduler as gridsql runs it.
pub(crate) type Scheduler = SchedulerServer<LogicalPlanNode, PhysicalPlanNode>;

/// Task slots of the executors that sent a heartbeat recently.
#[derive(Debug, Default)]
pub(crate) struct LiveSlots(AtomicUsize);

impl LiveSlots {
    /// The last count (0 before the first executor registers).
    pub(crate) fn get(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Watches `scheduler` once a second until the process ends: counts the
/// live executors' slots into `slots` (an executor is live when its last
/// heartbeat is younger than `heartbeat_timeout`), and fails the jobs
/// queued at least `wait` ago while no executor is live.
pub(crate) fn spawn(
    scheduler: Scheduler,
    slots: Arc<LiveSlots>,
    heartbeat_timeout: Duration,
    wait: Duration,
) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            let now = now_secs();
            let live: usize = match scheduler.state.executor_manager.get_executors_state().await {
                Ok(executors) => executors
                    .iter()
                    .filter(|(_, beat, _)| {
                        beat.is_some_and(|b| {
                            now.saturating_sub(b.as_secs()) < heartbeat_timeout.as_secs()
                        })
                    })
                    .map(|(m, _, _)| m.specification.vcores.max(1) as usize)
                    .sum(),
                Err(e) => {
                    log::warn!("cannot read the executors' state: {e}");
                    continue;
                }
            };
            slots.0.store(live, Ordering::Relaxed);
            if live == 0 {
                fail_waiting_jobs(&scheduler, wait).await;
            }
        }
    });
}

/// Cancels the running jobs queued at least `wait` ago, logging why.
///
/// The client sees Ballista's "failed: Cancelled": setting the job's
/// status to a failure of our own was tried and never reached the client
/// (its status poll kept answering "running").
async fn fail_waiting_jobs(scheduler: &Scheduler, wait: Duration) {
    let now_ms = u128::from(now_secs()) * 1000;
    let jobs = scheduler.state.task_manager.get_running_job_cache();
    for (job_id, info) in jobs.iter() {
        let queued_at = match &info.execution_graph.read().await.status().status {
            Some(job_status::Status::Running(r)) => r.queued_at,
            Some(job_status::Status::Queued(q)) => q.queued_at,
            _ => continue,
        };
        if now_ms.saturating_sub(u128::from(queued_at)) < wait.as_millis() {
            continue;
        }
        log::error!(
            "cancelling job {job_id}: no executor has been connected to the scheduler for {} s; \
             start executors with `gridsql executor --scheduler HOST:PORT`",
            wait.as_secs()
        );
        if let Err(e) = scheduler.cancel_job(job_id.clone()).await {
            log::warn!("cannot cancel job {job_id}: {e}");
        }
    }
}
