use serde::{Deserialize, Serialize};

use super::PointsRule;
use crate::time::{Day, Timestamp};
use crate::values::{
    ActivityId, ActorId, AwardId, CreditId, RedemptionId, SessionId, Text, VolunteerId,
};

/// Where credited minutes come from. System hours (from check-in and
/// check-out) are kept apart from hours an admin backfills.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditSource {
    Attendance {
        session: SessionId,
        auto_closed: bool,
    },
    Backfill {
        approver: ActorId,
        reason: Text,
    },
}

impl CreditSource {
    pub fn is_system(&self) -> bool {
        matches!(self, CreditSource::Attendance { .. })
    }
}

/// Pending (posted, open to objection) → Confirmed; an objection or a
/// correction request sends it to InReview, whose outcome confirms or voids
/// it. A reversal ends any of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreditStatus {
    Pending,
    InReview,
    Confirmed,
    Voided,
    Reversed,
}

impl CreditStatus {
    /// Still holding minutes against the volunteer's day and the activity.
    pub fn holds_minutes(self) -> bool {
        matches!(
            self,
            CreditStatus::Pending | CreditStatus::InReview | CreditStatus::Confirmed
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DisputeKind {
    /// Anyone's objection while the credit is posted.
    Objection,
    /// The volunteer's own request, e.g. after a forgotten check-out was
    /// closed by the default rule.
    CorrectionRequest { proposed_minutes: u32 },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credit {
    pub id: CreditId,
    pub volunteer: VolunteerId,
    pub activity: ActivityId,
    pub minutes: u32,
    /// The local day the minutes count against (the 16-hour daily limit).
    pub day: Day,
    pub source: CreditSource,
    pub objection_deadline: Timestamp,
    pub points_rule: PointsRule,
    pub status: CreditStatus,
    pub award: Option<AwardId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AwardBasis {
    /// Points for a confirmed credit, by the rule carried in the credit.
    Credit { credit: CreditId, rule: PointsRule },
    /// Points given by hand, approved by a second person.
    Manual { approver: ActorId, reason: Text },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Award {
    pub id: AwardId,
    pub volunteer: VolunteerId,
    pub points: u64,
    pub basis: AwardBasis,
    pub reversed: bool,
}

/// What a reversal names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryRef {
    Credit(CreditId),
    Award(AwardId),
    Redemption(RedemptionId),
}
