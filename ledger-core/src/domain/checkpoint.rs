use serde::{Deserialize, Serialize};

use crate::values::{Digest, Signature};

/// A commitment to every event before it: the Merkle root over their hashes
/// and the tree size, signed by the ledger's key. The audit work defines the
/// tree and the signature; here the ledger only records and orders them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub tree_size: u64,
    pub root: Digest,
    pub signature: Option<Signature>,
}
