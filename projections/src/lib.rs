//! Read models of the ledger: per-volunteer balances, per-unit rankings and
//! leaderboards, applied from the verified chain into sled.
//!
//! This crate knows nothing of NATS or HTTP; the service feeds it frames.
//! The read models arrive with the projections issue; until then this crate
//! only re-exports the pure state that the core already keeps.

pub use ledger_core::state::Ledger;
