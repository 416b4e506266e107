//! The gridsql session: a DataFusion `SessionContext` with the grid
//! connectors, the geoscience functions and gridsql's settings, plus the
//! helpers every front end (shell, servers, executors) shares.

pub mod catalog;
pub mod cluster;
pub mod codec;
pub mod copy_to;
pub mod datasets;
pub mod describe;
pub mod grid_aggregate;
pub mod like_escape;
pub mod memory_pool;
pub mod session;
pub mod tag_partitions;
pub mod units;

pub use catalog::Catalog;
pub use cluster::cluster_context;
pub use datasets::{detect_format, register_dataset, table_name_for};
pub use describe::describe_table;
pub use memory_pool::QueryMemoryPool;
pub use session::{SessionOptions, local_config, new_context, session_state};
