//! Ballista extension codecs: how gridsql's tables and plans cross process
//! boundaries on a cluster.
//!
//! A grid table travels as its [`TableSpec`](gridsql_connectors::TableSpec)
//! (format, location, options), never as a handle: each process re-opens it
//! with its own credentials ([`gridsql_connectors::reopen`]). The logical
//! codec carries table providers from the client to the scheduler; the
//! physical codec carries [`GridScanExec`](gridsql_connectors::scan::GridScanExec)
//! and [`GridAggregateExec`](gridsql_connectors::aggregate::GridAggregateExec)
//! from the scheduler to the executors. Everything else (shuffle nodes, file
//! formats, functions) is handed to Ballista's own codecs.

mod logical;
mod physical;
pub(crate) mod wire;

pub use logical::GridLogicalCodec;
pub use physical::GridPhysicalCodec;
