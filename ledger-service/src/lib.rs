//! The ledger's service: the sequencer that appends to NATS JetStream, the
//! command intake for other systems, and the `ledger` binary.
//!
//! This is the only crate that talks to NATS (and, later, HTTP).

pub mod accounts;
pub mod allocator;
pub mod answer;
pub mod attachments;
pub mod audit;
pub mod bench;
pub mod bench_append;
pub mod bench_http;
pub mod bench_projections;
pub mod bench_proofs;
pub mod bundle;
pub mod cards;
pub mod chain_events;
pub mod console;
pub mod cpu;
pub mod demo;
pub mod fuzzing;
pub mod health;
pub mod http;
pub mod intake;
pub mod lease;
pub mod local;
pub mod metrics;
pub mod names;
pub mod nats_access;
pub mod personal;
pub mod proofs;
pub mod queries;
pub mod read_models;
pub mod reader;
pub mod rebuild;
pub mod rejections;
mod republish;
pub mod restore;
pub mod seeded;
pub mod sequencer;
pub mod sequences;
pub mod serving;
pub mod shard;
pub mod statement;
pub mod stop;
pub mod store;
pub mod submissions;

pub use answer::{Answer, Reply, Submission};
pub use sequencer::{Sequencer, Writer};
pub use shard::Shard;
pub use store::ChainStore;
