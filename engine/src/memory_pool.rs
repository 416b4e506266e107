//! The memory pool of gridsql's sessions: DataFusion's `FairSpillPool`,
//! except that `RepartitionExec` is never refused memory.
//!
//! DataFusion 55's `RepartitionExec` writes a batch to a spill pool when
//! its reservation cannot grow. When two of its input tasks spill at once,
//! that pool holds two open files, its reader waits on the older one while
//! the batch it needs is in the newer one, and the query parks forever with
//! every thread idle (apache/datafusion#24883, fixed upstream by #24891 after
//! 55.2). gridsql hit it in 8 of 40 runs (and 8 of 80 in a second loop) of
//! a grouped hash aggregate on two partitions under a 1 MiB limit; with this
//! pool, in none of 80.
//!
//! Until a DataFusion release carries the fix, a repartition's reservation
//! always grows, so it never takes the spill path. Its bytes still count in
//! the pool: consumers that cannot spill (a grid aggregate's dense states, a
//! sort's merge) are refused sooner, with "Resources exhausted"; those that
//! can keep their fair share, as `FairSpillPool` gives it. What a repartition
//! buffers is
//! held back by its channels' gate (it stops reading its inputs once every
//! output channel holds a batch), as it was before DataFusion gave it a
//! spill path.

use datafusion::common::Result;
use datafusion::execution::memory_pool::{
    FairSpillPool, MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation,
};

/// Name prefix of `RepartitionExec`'s memory consumers
/// (`RepartitionExec[{partition}]`).
const REPARTITION: &str = "RepartitionExec[";

/// [`FairSpillPool`] that never refuses `RepartitionExec` (see the module
/// documentation).
#[derive(Debug)]
pub struct QueryMemoryPool {
    inner: FairSpillPool,
}

impl QueryMemoryPool {
    /// A pool of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        QueryMemoryPool {
            inner: FairSpillPool::new(limit),
        }
    }
}

/// As `FairSpillPool` shows itself in "Resources exhausted" errors.
impl std::fmt::Display for QueryMemoryPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt(f)
    }
}

impl MemoryPool for QueryMemoryPool {
    fn name(&self) -> &str {
        "gridsql"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        self.inner.register(consumer);
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        self.inner.unregister(consumer);
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        self.inner.grow(reservation, additional);
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        self.inner.shrink(reservation, shrink);
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        if reservation.consumer().name().starts_with(REPARTITION) {
            self.inner.grow(reservation, additional);
            return Ok(());
        }
        self.inner.try_grow(reservation, additional)
    }

    fn reserved(&self) -> usize {
        self.inner.reserved()
    }

    fn memory_limit(&self) -> MemoryLimit {
        self.inner.memory_limit()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn repartitions_always_grow_and_count_others_are_refused() {
        let pool: Arc<dyn MemoryPool> = Arc::new(QueryMemoryPool::new(1000));
        let repartition = MemoryConsumer::new("RepartitionExec[0]")
            .with_can_spill(true)
            .register(&pool);
        let sort = MemoryConsumer::new("ExternalSorter[0]")
            .with_can_spill(true)
            .register(&pool);
        let states = MemoryConsumer::new("GridAggregateExec").register(&pool);
        repartition
            .try_grow(1500)
            .expect("a repartition is never refused");
        assert_eq!(pool.reserved(), 1500);
        // a consumer that cannot spill sees the repartition's bytes
        let err = states.try_grow(10).expect_err("the pool is full");
        assert!(err.to_string().contains("Resources exhausted"), "{err}");
        // one that can spill keeps its fair share (half of 1000), no more
        sort.try_grow(500).expect("its fair share");
        sort.try_grow(1).expect_err("beyond its fair share");
        repartition.shrink(1500);
        states.try_grow(10).expect("room again");
        assert_eq!(pool.reserved(), 510);
    }
}
