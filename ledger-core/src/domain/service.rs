//! Attendance sessions and the two long-running service forms of the
//! notices: micro-wishes and one-to-one pairings.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;
use crate::values::{
    ActivityId, ActorId, ExternalRef, PairingId, SessionId, Text, UnitId, VolunteerId, WishId,
};

/// Who reported an attendance: the submitting system and, if it says, its
/// device and its own record id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Source {
    pub system: ActorId,
    pub device: Option<ExternalRef>,
    pub external_id: Option<ExternalRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub id: SessionId,
    pub volunteer: VolunteerId,
    pub activity: ActivityId,
    pub check_in: Timestamp,
    pub check_out: Option<Timestamp>,
}

/// 微心愿 (notice 001): a small wish posted for someone in need, claimed and
/// fulfilled by a volunteer. The beneficiary is named by an alias only.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Wish {
    pub id: WishId,
    pub unit: UnitId,
    pub title: Text,
    pub beneficiary_alias: Text,
    pub status: WishStatus,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WishStatus {
    Open,
    Claimed(VolunteerId),
    Fulfilled(VolunteerId),
    Withdrawn,
}

/// 一助一 (notice 004): a volunteer paired long-term with one hardship worker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pairing {
    pub id: PairingId,
    pub volunteer: VolunteerId,
    pub unit: UnitId,
    pub beneficiary_alias: Text,
    pub started: Timestamp,
    pub ended: Option<Timestamp>,
}
