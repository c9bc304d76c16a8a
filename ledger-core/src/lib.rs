//! The pure core of the union volunteer-service ledger.
//!
//! - [`domain`]: units, volunteers, activities, credits, rewards… as types;
//! - [`command`] and [`event`]: what is asked, and what is recorded;
//! - [`decide()`]: the rules, `decide(state, context, command) -> events | rejection`;
//! - [`state::Ledger::apply`]: folds an event into the state, totally and deterministically;
//! - [`frame`] and [`chain`]: the canonical stored form, the hash chain and its verification.
//!
//! No I/O, no async, no clock: time comes in with each command.

pub mod chain;
pub mod command;
pub mod decide;
pub mod domain;
pub mod event;
pub mod frame;
pub mod hashing;
mod lanes;
pub mod merkle;
pub mod numbered;
pub mod owners;
pub mod paged;
pub mod rejection;
pub mod rights;
pub mod signing;
pub mod state;
pub mod time;
pub mod values;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use chain::{verify, Chain, ChainError, Fault, Head, Verifier};
pub use command::Command;
pub use decide::{decide, Context};
pub use event::{Event, EventRecord};
pub use lanes::vectors_in_use;
pub use rejection::Rejection;
pub use state::Ledger;
