//! The keyed rows of a result being written, held until the coordinates are
//! known: in memory while they fit, else in an Arrow IPC file that each slab
//! of the grid reads again ([`super::slab`]).

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::PathBuf;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

use crate::error::{ConnectorError, Result};

fn spill_error(file: &std::path::Path, e: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Metadata {
        dataset: file.display().to_string(),
        reason: format!("the spill file of a COPY: {e}"),
    }
}

/// Where the keyed rows are.
#[derive(Debug)]
pub enum HeldRows {
    /// In memory.
    Memory(Vec<RecordBatch>),
    /// In an Arrow IPC stream file (whose owner deletes it).
    File(PathBuf),
}

impl HeldRows {
    /// Calls `f` on every keyed batch, in the order they came.
    ///
    /// # Errors
    /// What `f` returns; a spill file that cannot be read.
    pub fn for_each(&self, mut f: impl FnMut(&RecordBatch) -> Result<()>) -> Result<()> {
        match self {
            HeldRows::Memory(batches) => batches.iter().try_for_each(f),
            HeldRows::File(path) => {
                let file = File::open(path).map_err(|e| spill_error(path, e))?;
                let reader = StreamReader::try_new(BufReader::new(file), None)
                    .map_err(|e| spill_error(path, e))?;
                for batch in reader {
                    f(&batch.map_err(|e| spill_error(path, e))?)?;
                }
                Ok(())
            }
        }
    }
}

/// Keyed rows being written to a spill file.
pub struct Spill {
    path: PathBuf,
    writer: StreamWriter<BufWriter<File>>,
    bytes: u64,
}

impl Spill {
    /// Starts a spill into `file` (opened for writing) at `path`.
    ///
    /// # Errors
    /// The stream header cannot be written.
    pub fn new(file: File, path: PathBuf, schema: &SchemaRef) -> Result<Self> {
        let writer = StreamWriter::try_new(BufWriter::new(file), schema)
            .map_err(|e| spill_error(&path, e))?;
        Ok(Spill {
            path,
            writer,
            bytes: 0,
        })
    }

    /// Appends a batch.
    ///
    /// # Errors
    /// A failed write (a full disk).
    pub fn push(&mut self, batch: &RecordBatch) -> Result<()> {
        self.bytes += batch.get_array_memory_size() as u64;
        self.writer
            .write(batch)
            .map_err(|e| spill_error(&self.path, e))
    }

    /// About how many bytes were spilled.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Ends the stream; the rows, to read back.
    ///
    /// # Errors
    /// A failed write.
    pub fn finish(mut self) -> Result<HeldRows> {
        self.writer
            .finish()
            .map_err(|e| spill_error(&self.path, e))?;
        Ok(HeldRows::File(self.path))
    }
}
