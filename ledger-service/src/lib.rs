//! The ledger's service: the sequencer that appends to NATS JetStream, the
//! command intake for other systems, the HTTP API for admins, and binaries.
//!
//! Arrives with the ledger-service issue.
