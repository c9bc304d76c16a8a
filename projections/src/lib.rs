//! Read models of the ledger, applied from the verified chain.
//!
//! This crate knows nothing of NATS or HTTP: it is fed blocks of frames,
//! verifies each link as it applies it, and refuses to go past a broken one.
//! [`Follower`] keeps the core state in memory (for the writer and the
//! auditor's tools); [`Projector`] keeps the read models admins query
//! (balances, histories, unit roll-ups, leaderboards) in sled, and
//! [`query`] answers from them.

pub mod board;
pub mod fold;
mod follower;
pub mod keys;
pub mod period;
pub mod projector;
pub mod query;
pub mod redo;
pub mod rows;
pub mod staged;
pub mod store;
pub mod tallies;

pub use follower::Follower;
pub use period::Period;
pub use projector::{
    Emptied, Projection, ProjectionError, ProjectionReader, Projector, Until, LAYOUT,
};
pub use rows::Metric;

#[cfg(test)]
mod tests;
