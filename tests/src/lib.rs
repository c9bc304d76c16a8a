//! End-to-end tests of the ledger live in `tests/tests/`; this library holds
//! the harness they share (starting a real nats-server, the service, clients).
