//! Entries made by hand wait for a second admin. One admin asks for an
//! entry (the request is on the chain under his name); another approves or
//! declines it. The approval makes the entry, naming the approving admin as
//! its approver, so both people are on the chain as the actors of their
//! own events rather than as a name one of them typed.

use serde::{Deserialize, Serialize};

use super::EntryRef;
use crate::values::{ActivityId, ActorId, RequestId, Text, VolunteerId};

/// What a request asks to record: the hand-made entries.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManualEntry {
    /// Hours the system did not record, capped at the activity's length.
    Backfill {
        volunteer: VolunteerId,
        activity: ActivityId,
        minutes: u32,
    },
    /// Points given by hand.
    Award { volunteer: VolunteerId, points: u64 },
    /// A credit, an award or a redemption undone by a compensating entry.
    Reversal { target: EntryRef },
}

impl ManualEntry {
    pub fn kind(&self) -> &'static str {
        match self {
            ManualEntry::Backfill { .. } => "backfill",
            ManualEntry::Award { .. } => "award",
            ManualEntry::Reversal { .. } => "reversal",
        }
    }
}

/// A request waiting for its decision. Decided ones leave the state: the
/// chain keeps them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub id: RequestId,
    pub entry: ManualEntry,
    pub reason: Text,
    pub requested_by: ActorId,
}
