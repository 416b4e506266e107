//! From what a user writes to what gets opened: a location is parsed once
//! into its canonical form ([`Location`]), checked against the session's
//! allowed roots ([`AllowedRoots`], when the session has them) and opened
//! from exactly that form ([`Access::store`]). No opener parses the user's
//! string a second time, so the check and the open cannot disagree.
//!
//! ```text
//! "file:///data/public/%2e%2e/x.zarr" --Location::parse--> Local("/data/x.zarr")
//!        --Access::check--> refused: outside /data/public
//! ```

mod access;
mod canonical;
mod confined;
mod roots;
mod stores;

pub use access::Access;
pub use canonical::{GLOB_CHARS, Location};
pub use roots::{AllowedRoots, WriteRoots};
pub use stores::{StoreLimits, store_for};
