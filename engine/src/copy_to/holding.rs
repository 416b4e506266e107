//! The keyed rows of a COPY to a grid, held until the last one has come,
//! under the session's memory pool: in memory while the pool grants them,
//! else in a spill file of DataFusion's disk manager. Then the size of a
//! slab: the whole grid when the pool grants it, else fewer rows of chunks
//! (down to one), so a result larger than the memory limit is written
//! within it.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::common::Result;
use datafusion::error::DataFusionError;
use datafusion::execution::TaskContext;
use datafusion::execution::disk_manager::DiskManager;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::spill_file::SpillFile;
use gridsql_connectors::write::{Grid, HeldRows, Spill};

/// Rows being held.
pub(super) struct Holding {
    reservation: MemoryReservation,
    disk: Arc<DiskManager>,
    schema: SchemaRef,
    memory: Vec<RecordBatch>,
    spill: Option<(Spill, Arc<dyn SpillFile>)>,
    target: String,
}

/// The held rows, and the memory of one slab.
pub(super) struct Held {
    /// The rows.
    pub rows: HeldRows,
    /// Steps of the first dimension per slab, a whole number of chunks.
    pub slab: u64,
    /// Holds the slab's memory until the write ends.
    _reservation: MemoryReservation,
    /// Keeps the spill file until the write ends.
    _file: Option<Arc<dyn SpillFile>>,
}

impl Holding {
    pub(super) fn new(context: &TaskContext, schema: SchemaRef, target: &str) -> Self {
        let reservation = MemoryConsumer::new(format!("COPY to {target}"))
            .with_can_spill(true)
            .register(context.memory_pool());
        Holding {
            reservation,
            disk: Arc::clone(&context.runtime_env().disk_manager),
            schema,
            memory: Vec::new(),
            spill: None,
            target: target.to_string(),
        }
    }

    /// Holds a keyed batch: in memory if the pool grants it, else on disk
    /// (with every batch held so far).
    pub(super) fn push(&mut self, batch: RecordBatch) -> Result<()> {
        if self.spill.is_none() {
            if self
                .reservation
                .try_grow(batch.get_array_memory_size())
                .is_ok()
            {
                self.memory.push(batch);
                return Ok(());
            }
            self.spill_all()?;
        }
        match &mut self.spill {
            Some((spill, _)) => spill.push(&batch).map_err(DataFusionError::from),
            None => Err(DataFusionError::Internal("COPY: no spill file".into())),
        }
    }

    /// Moves the rows held in memory to a new spill file.
    fn spill_all(&mut self) -> Result<()> {
        if self.spill.is_some() {
            return Ok(());
        }
        let file = self
            .disk
            .create_tmp_file(&format!("COPY to {}", self.target))?;
        let path = file.path().map(std::path::Path::to_path_buf).ok_or_else(|| {
            DataFusionError::ResourcesExhausted(format!(
                "COPY to {}: the result does not fit in the memory limit and the disk manager has no local file to spill it to",
                self.target
            ))
        })?;
        let out = std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&path)
            .map_err(|e| {
                DataFusionError::Execution(format!(
                    "COPY to {}: cannot open the spill file {}: {e}",
                    self.target,
                    path.display()
                ))
            })?;
        let mut spill = Spill::new(out, path, &self.schema)?;
        for batch in self.memory.drain(..) {
            spill.push(&batch)?;
        }
        self.reservation.free();
        self.spill = Some((spill, file));
        Ok(())
    }

    /// The held rows, and the largest slab the pool grants: the whole
    /// grid, else halves of it in rows of chunks along the first dimension
    /// (`chunk` steps each), down to one row of chunks. Rows still in memory
    /// are spilled first when the whole grid does not fit beside them.
    pub(super) fn finish(mut self, grid: &Grid, chunk: u64) -> Result<Held> {
        let steps = grid.shape().first().copied().unwrap_or(0);
        let step_bytes = grid.step_bytes();
        let whole = steps.max(1);
        let whole_fits = self.reservation.try_grow(bytes(whole, step_bytes)).is_ok();
        if !whole_fits {
            self.spill_all()?;
        }
        let (rows, file) = match self.spill.take() {
            Some((spill, file)) => (spill.finish()?, Some(file)),
            None => (HeldRows::Memory(std::mem::take(&mut self.memory)), None),
        };
        let slab = if whole_fits {
            whole
        } else {
            let chunk = chunk.max(1);
            let mut rows_of_chunks = whole.div_ceil(chunk);
            loop {
                let slab = (rows_of_chunks * chunk).min(whole);
                if self.reservation.try_grow(bytes(slab, step_bytes)).is_ok() {
                    break slab;
                }
                if rows_of_chunks == 1 {
                    return Err(DataFusionError::ResourcesExhausted(format!(
                        "COPY to {}: one row of chunks along '{}' ({} steps) takes {} MiB, more than the memory limit grants; write smaller chunks with OPTIONS ('chunks' '...')",
                        self.target,
                        grid.dims.first().map(|d| d.name.as_str()).unwrap_or(""),
                        chunk,
                        bytes(chunk, step_bytes) >> 20
                    )));
                }
                rows_of_chunks = rows_of_chunks.div_ceil(2);
            }
        };
        Ok(Held {
            rows,
            slab,
            _reservation: self.reservation,
            _file: file,
        })
    }
}

fn bytes(steps: u64, step_bytes: u64) -> usize {
    usize::try_from(steps.saturating_mul(step_bytes)).unwrap_or(usize::MAX)
}
