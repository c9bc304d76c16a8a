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
    /// Boxed: the state keeps every credit, nearly all of them from
    /// attendance, and inline an approver and a reason would make each
    /// credit 40 bytes larger.
    Backfill(Box<Approval>),
}

/// An entry made by hand, approved by a second person: who approved it,
/// and why it was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    pub approver: ActorId,
    pub reason: Text,
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
    /// Points given by hand, approved by a second person. Boxed, as a
    /// backfilled credit's approval is.
    Manual(Box<Approval>),
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

/// As people read it in a message: `credit C290`, `redemption R3071`; the
/// id in the same form the console shows it.
impl std::fmt::Display for EntryRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntryRef::Credit(id) => write!(f, "credit {id}"),
            EntryRef::Award(id) => write!(f, "award {id}"),
            EntryRef::Redemption(id) => write!(f, "redemption {id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Serialize;

    use super::*;
    use crate::testing::{actor, text};

    /// The shape the two hand-made variants had before their approval was
    /// boxed; chains written then must read the same now.
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Inline {
        #[allow(dead_code)]
        First,
        Second {
            approver: ActorId,
            reason: Text,
        },
    }

    fn approval() -> Box<Approval> {
        Box::new(Approval {
            approver: actor("admin-haizhou"),
            reason: text("补录：纸质签到表"),
        })
    }

    fn inline() -> Inline {
        Inline::Second {
            approver: actor("admin-haizhou"),
            reason: text("补录：纸质签到表"),
        }
    }

    fn same_encoding(boxed: impl Serialize, name: &str) {
        let postcard_inline = postcard::to_allocvec(&inline()).unwrap();
        assert_eq!(postcard::to_allocvec(&boxed).unwrap(), postcard_inline);
        let json_inline = serde_json::to_value(inline()).unwrap();
        let json = serde_json::to_value(&boxed).unwrap();
        assert_eq!(json[name], json_inline["second"], "{json}");
    }

    #[test]
    fn a_boxed_approval_encodes_as_the_fields_inline_did() {
        same_encoding(CreditSource::Backfill(approval()), "backfill");
        same_encoding(AwardBasis::Manual(approval()), "manual");
        let decoded: CreditSource =
            postcard::from_bytes(&postcard::to_allocvec(&inline()).unwrap()).unwrap();
        assert_eq!(decoded, CreditSource::Backfill(approval()));
    }
}
