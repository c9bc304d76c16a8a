//! Why the ledger refuses a command. Every rule has its own variant, a stable
//! code for integrators (`ACTIVITY_FULL`) and the command field at fault.

use thiserror::Error;

use crate::domain::{ApprovalLevel, EntryRef};
use crate::time::Timestamp;
use crate::values::{
    ActivityId, CampaignId, CreditId, PairingId, ProjectId, ReportId, RequestId, RewardId, UnitId,
    VolunteerId, WishId,
};

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Rejection {
    #[error("the ledger has not been opened yet")]
    LedgerNotOpen,
    #[error("the ledger is already open")]
    LedgerAlreadyOpen,
    #[error("{field}: {reason}")]
    InvalidValue { field: &'static str, reason: String },
    #[error("{field} {at} is in the future: the ledger's clock reads {now}, and allows {} minutes' difference", crate::decide::CLOCK_SKEW_MINUTES)]
    FutureTime {
        field: &'static str,
        at: Timestamp,
        now: Timestamp,
    },

    #[error("unit {0} is not registered")]
    UnknownUnit(UnitId),
    #[error("unit {0} is already registered")]
    UnitExists(UnitId),
    #[error("a unit of this kind cannot sit under {parent}")]
    InvalidParent { parent: String },
    #[error("unit {unit} has a quota of {quota} volunteers and no room left")]
    QuotaExceeded { unit: UnitId, quota: u32 },
    #[error("unit {unit} already has {registered} volunteers in its subtree, more than a quota of {quota}")]
    QuotaBelowRegistered {
        unit: UnitId,
        quota: u32,
        registered: u64,
    },

    #[error("unit {unit}'s children are allotted {allotted} places, more than a quota of {quota}")]
    QuotaBelowAllotted {
        unit: UnitId,
        quota: u32,
        allotted: u64,
    },

    #[error("volunteer {0} is not registered")]
    UnknownVolunteer(VolunteerId),
    #[error("volunteer {0} is already registered")]
    VolunteerExists(VolunteerId),
    /// Which volunteer holds the identity is not said: whoever registers
    /// (an admin of any unit) would learn whose the ID number is.
    #[error("this person is already registered in this ledger")]
    DuplicateIdentity,
    #[error("volunteer {0} has not been approved")]
    VolunteerNotApproved(VolunteerId),
    #[error("volunteer {volunteer} awaits the {expected} opinion, not {given}")]
    ApprovalOutOfOrder {
        volunteer: VolunteerId,
        expected: ApprovalLevel,
        given: ApprovalLevel,
    },
    #[error("volunteer {0}'s registration is already decided")]
    RegistrationClosed(VolunteerId),

    #[error("project {0} does not exist")]
    UnknownProject(ProjectId),
    #[error("project {0} already exists")]
    ProjectExists(ProjectId),
    #[error("project {0} is not approved")]
    ProjectNotApproved(ProjectId),
    #[error("project {0} has already been decided")]
    ProjectDecided(ProjectId),
    #[error("unit {unit} already undertakes project {project}")]
    AlreadyUndertaken { project: ProjectId, unit: UnitId },

    #[error("activity {0} does not exist")]
    UnknownActivity(ActivityId),
    #[error("activity {0} already exists")]
    ActivityExists(ActivityId),
    #[error("activity {0} is cancelled")]
    ActivityCancelled(ActivityId),
    #[error("activity {activity} is full ({capacity} places)")]
    ActivityFull { activity: ActivityId, capacity: u32 },
    #[error("sign-up for activity {0} closed when it ended")]
    SignUpClosed(ActivityId),
    #[error("volunteer {volunteer} is already signed up for {activity}")]
    AlreadySignedUp {
        activity: ActivityId,
        volunteer: VolunteerId,
    },
    #[error("volunteer {volunteer} has not signed up for {activity}")]
    NotSignedUp {
        activity: ActivityId,
        volunteer: VolunteerId,
    },
    #[error("volunteer {volunteer} has attendance at {activity} and cannot withdraw")]
    AlreadyAttended {
        activity: ActivityId,
        volunteer: VolunteerId,
    },
    #[error("{at} is outside the check-in period of activity {activity}")]
    OutsideWindow { activity: ActivityId, at: Timestamp },
    #[error("volunteer {volunteer} is not insured for {activity}, which requires it")]
    NotInsured {
        activity: ActivityId,
        volunteer: VolunteerId,
    },
    #[error("volunteer {volunteer} is already checked in at {activity}")]
    DuplicateCheckIn {
        activity: ActivityId,
        volunteer: VolunteerId,
    },
    #[error("volunteer {volunteer} has no open check-in at {activity}")]
    CheckOutWithoutCheckIn {
        activity: ActivityId,
        volunteer: VolunteerId,
    },
    #[error("check-out at {check_out} is before check-in at {check_in}")]
    NegativeDuration {
        check_in: Timestamp,
        check_out: Timestamp,
    },
    #[error("{minutes} minutes is more than one attendance can last ({max})")]
    AbsurdDuration { minutes: i64, max: i64 },
    #[error("volunteer {volunteer} was attending elsewhere at that time")]
    OverlappingAttendance { volunteer: VolunteerId },
    #[error(
        "volunteer {volunteer} would have {minutes} minutes on one day; at most {max} are possible"
    )]
    DailyLimitExceeded {
        volunteer: VolunteerId,
        minutes: u64,
        max: u64,
    },
    #[error("{minutes} minutes exceed what activity {activity} lasted ({max} minutes)")]
    ExceedsActivityLength {
        activity: ActivityId,
        minutes: u64,
        max: u64,
    },
    #[error("activity {0} has not ended yet")]
    ActivityNotEnded(ActivityId),
    /// `field` is the command's `approver`, or for `approve_request` the
    /// `request` whose own admin is approving it.
    #[error("the approver must be someone other than the one who asks")]
    SelfApproval { field: &'static str },
    #[error("request {0} does not exist")]
    UnknownRequest(RequestId),
    #[error("request {0} has already been approved or declined")]
    RequestDecided(RequestId),
    #[error(
        "{target} is already to be reversed by request {request}, which waits for its decision"
    )]
    ReversalRequested {
        target: EntryRef,
        request: RequestId,
    },

    #[error("credit {0} does not exist")]
    UnknownCredit(CreditId),
    #[error("credit {0} is not pending")]
    CreditNotPending(CreditId),
    #[error("credit {0} is not under review")]
    CreditNotInReview(CreditId),
    #[error("credit {credit} is open to objection until {until}")]
    ObjectionWindowOpen { credit: CreditId, until: Timestamp },
    #[error("the objection window of credit {credit} closed at {closed}")]
    ObjectionWindowClosed { credit: CreditId, closed: Timestamp },

    #[error("{0} does not exist")]
    UnknownEntry(EntryRef),
    #[error("{0} is already reversed or void")]
    AlreadyReversed(EntryRef),
    #[error("reversing {entry} would take volunteer {volunteer}'s balance below zero; reverse a redemption first")]
    ReversalWouldOverdraw {
        entry: EntryRef,
        volunteer: VolunteerId,
    },

    #[error("reward {0} does not exist")]
    UnknownReward(RewardId),
    #[error("reward {0} already exists")]
    RewardExists(RewardId),
    #[error("reward {reward} has {stock} left, {requested} requested")]
    OutOfStock {
        reward: RewardId,
        stock: u64,
        requested: u64,
    },
    /// A unit's own rewards are for the volunteers of its subtree; the
    /// city's, for everyone.
    #[error("reward {reward} is listed by unit {unit}, for its own volunteers; volunteer {volunteer} is not one")]
    RewardNotForVolunteer {
        reward: RewardId,
        unit: UnitId,
        volunteer: VolunteerId,
    },
    #[error("volunteer {volunteer} has {balance} points, {required} required")]
    InsufficientBalance {
        volunteer: VolunteerId,
        balance: u64,
        required: u64,
    },

    #[error("wish {0} does not exist")]
    UnknownWish(WishId),
    #[error("wish {0} already exists")]
    WishExists(WishId),
    #[error("wish {0} is not open")]
    WishNotOpen(WishId),
    #[error("wish {wish} is not claimed by volunteer {volunteer}")]
    WishNotClaimedBy {
        wish: WishId,
        volunteer: VolunteerId,
    },

    #[error("pairing {0} does not exist")]
    UnknownPairing(PairingId),
    #[error("pairing {0} already exists")]
    PairingExists(PairingId),
    #[error("volunteer {volunteer} is already paired in {pairing}")]
    AlreadyPaired {
        volunteer: VolunteerId,
        pairing: PairingId,
    },
    #[error("pairing {0} has ended")]
    PairingEnded(PairingId),

    #[error("campaign {0} does not exist")]
    UnknownCampaign(CampaignId),
    #[error("campaign {0} already exists")]
    CampaignExists(CampaignId),
    #[error("report {0} already exists")]
    ReportExists(ReportId),
    #[error("campaign {campaign} has no deadline number {deadline}")]
    UnknownDeadline { campaign: CampaignId, deadline: u16 },

    #[error("the {what} signature does not verify with the ledger's key")]
    BadSignature { what: &'static str },
    #[error("a checkpoint over {tree_size} events, but only {events} are recorded")]
    CheckpointAhead { tree_size: u64, events: u64 },
}

impl Rejection {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Rejection {
        Rejection::InvalidValue {
            field,
            reason: reason.into(),
        }
    }

    /// The stable code integrators match on.
    pub fn code(&self) -> &'static str {
        use Rejection::*;
        match self {
            LedgerNotOpen => "LEDGER_NOT_OPEN",
            LedgerAlreadyOpen => "LEDGER_ALREADY_OPEN",
            InvalidValue { .. } => "INVALID_VALUE",
            FutureTime { .. } => "FUTURE_TIME",
            UnknownUnit(_) => "UNKNOWN_UNIT",
            UnitExists(_) => "UNIT_EXISTS",
            InvalidParent { .. } => "INVALID_PARENT",
            QuotaExceeded { .. } => "QUOTA_EXCEEDED",
            QuotaBelowRegistered { .. } => "QUOTA_BELOW_REGISTERED",
            QuotaBelowAllotted { .. } => "QUOTA_BELOW_ALLOTTED",
            UnknownVolunteer(_) => "UNKNOWN_VOLUNTEER",
            VolunteerExists(_) => "VOLUNTEER_EXISTS",
            DuplicateIdentity => "DUPLICATE_IDENTITY",
            VolunteerNotApproved(_) => "VOLUNTEER_NOT_APPROVED",
            ApprovalOutOfOrder { .. } => "APPROVAL_OUT_OF_ORDER",
            RegistrationClosed(_) => "REGISTRATION_CLOSED",
            UnknownProject(_) => "UNKNOWN_PROJECT",
            ProjectExists(_) => "PROJECT_EXISTS",
            ProjectNotApproved(_) => "PROJECT_NOT_APPROVED",
            ProjectDecided(_) => "PROJECT_DECIDED",
            AlreadyUndertaken { .. } => "ALREADY_UNDERTAKEN",
            UnknownActivity(_) => "UNKNOWN_ACTIVITY",
            ActivityExists(_) => "ACTIVITY_EXISTS",
            ActivityCancelled(_) => "ACTIVITY_CANCELLED",
            ActivityFull { .. } => "ACTIVITY_FULL",
            SignUpClosed(_) => "SIGN_UP_CLOSED",
            AlreadySignedUp { .. } => "ALREADY_SIGNED_UP",
            NotSignedUp { .. } => "NOT_SIGNED_UP",
            AlreadyAttended { .. } => "ALREADY_ATTENDED",
            OutsideWindow { .. } => "OUTSIDE_WINDOW",
            NotInsured { .. } => "NOT_INSURED",
            DuplicateCheckIn { .. } => "DUPLICATE_CHECK_IN",
            CheckOutWithoutCheckIn { .. } => "CHECK_OUT_WITHOUT_CHECK_IN",
            NegativeDuration { .. } => "NEGATIVE_DURATION",
            AbsurdDuration { .. } => "ABSURD_DURATION",
            OverlappingAttendance { .. } => "OVERLAPPING_ATTENDANCE",
            DailyLimitExceeded { .. } => "DAILY_LIMIT_EXCEEDED",
            ExceedsActivityLength { .. } => "EXCEEDS_ACTIVITY_LENGTH",
            ActivityNotEnded(_) => "ACTIVITY_NOT_ENDED",
            SelfApproval { .. } => "SELF_APPROVAL",
            UnknownRequest(_) => "UNKNOWN_REQUEST",
            RequestDecided(_) => "REQUEST_DECIDED",
            ReversalRequested { .. } => "REVERSAL_REQUESTED",
            UnknownCredit(_) => "UNKNOWN_CREDIT",
            CreditNotPending(_) => "CREDIT_NOT_PENDING",
            CreditNotInReview(_) => "CREDIT_NOT_IN_REVIEW",
            ObjectionWindowOpen { .. } => "OBJECTION_WINDOW_OPEN",
            ObjectionWindowClosed { .. } => "OBJECTION_WINDOW_CLOSED",
            UnknownEntry(_) => "UNKNOWN_ENTRY",
            AlreadyReversed(_) => "ALREADY_REVERSED",
            ReversalWouldOverdraw { .. } => "REVERSAL_WOULD_OVERDRAW",
            UnknownReward(_) => "UNKNOWN_REWARD",
            RewardExists(_) => "REWARD_EXISTS",
            OutOfStock { .. } => "OUT_OF_STOCK",
            RewardNotForVolunteer { .. } => "REWARD_NOT_FOR_VOLUNTEER",
            InsufficientBalance { .. } => "INSUFFICIENT_BALANCE",
            UnknownWish(_) => "UNKNOWN_WISH",
            WishExists(_) => "WISH_EXISTS",
            WishNotOpen(_) => "WISH_NOT_OPEN",
            WishNotClaimedBy { .. } => "WISH_NOT_CLAIMED_BY",
            UnknownPairing(_) => "UNKNOWN_PAIRING",
            PairingExists(_) => "PAIRING_EXISTS",
            AlreadyPaired { .. } => "ALREADY_PAIRED",
            PairingEnded(_) => "PAIRING_ENDED",
            UnknownCampaign(_) => "UNKNOWN_CAMPAIGN",
            CampaignExists(_) => "CAMPAIGN_EXISTS",
            ReportExists(_) => "REPORT_EXISTS",
            UnknownDeadline { .. } => "UNKNOWN_DEADLINE",
            CheckpointAhead { .. } => "CHECKPOINT_AHEAD",
            BadSignature { .. } => "BAD_SIGNATURE",
        }
    }

    /// The command field at fault, for integrators' forms and logs.
    pub fn field(&self) -> Option<&'static str> {
        use Rejection::*;
        Some(match self {
            LedgerNotOpen | LedgerAlreadyOpen => return None,
            InvalidValue { field, .. } | FutureTime { field, .. } => field,
            UnknownUnit(_) => "unit",
            UnitExists(_) => "unit",
            InvalidParent { .. } => "parent",
            QuotaExceeded { .. } => "home_unit",
            QuotaBelowRegistered { .. } | QuotaBelowAllotted { .. } => "quota",
            UnknownVolunteer(_) | VolunteerExists(_) | VolunteerNotApproved(_) => "volunteer",
            RegistrationClosed(_) => "volunteer",
            DuplicateIdentity => "identity",
            ApprovalOutOfOrder { .. } => "level",
            UnknownProject(_) | ProjectExists(_) | ProjectNotApproved(_) | ProjectDecided(_) => {
                "project"
            }
            AlreadyUndertaken { .. } => "unit",
            UnknownActivity(_) | ActivityExists(_) | ActivityCancelled(_) | ActivityFull { .. } => {
                "activity"
            }
            SignUpClosed(_) | ActivityNotEnded(_) => "activity",
            AlreadySignedUp { .. } | NotSignedUp { .. } | AlreadyAttended { .. } => "volunteer",
            NotInsured { .. } | DuplicateCheckIn { .. } | CheckOutWithoutCheckIn { .. } => {
                "volunteer"
            }
            OverlappingAttendance { .. } | DailyLimitExceeded { .. } => "at",
            OutsideWindow { .. } | NegativeDuration { .. } | AbsurdDuration { .. } => "at",
            ExceedsActivityLength { .. } => "minutes",
            SelfApproval { field } => field,
            UnknownRequest(_) | RequestDecided(_) => "request",
            ReversalRequested { .. } => "entry",
            UnknownCredit(_) | CreditNotPending(_) | CreditNotInReview(_) => "credit",
            ObjectionWindowOpen { .. } | ObjectionWindowClosed { .. } => "credit",
            UnknownEntry(_) | AlreadyReversed(_) | ReversalWouldOverdraw { .. } => "target",
            UnknownReward(_) | RewardExists(_) => "reward",
            OutOfStock { .. } => "quantity",
            RewardNotForVolunteer { .. } => "reward",
            InsufficientBalance { .. } => "volunteer",
            UnknownWish(_) | WishExists(_) | WishNotOpen(_) => "wish",
            WishNotClaimedBy { .. } => "volunteer",
            UnknownPairing(_) | PairingExists(_) | PairingEnded(_) => "pairing",
            AlreadyPaired { .. } => "volunteer",
            UnknownCampaign(_) | CampaignExists(_) => "campaign",
            ReportExists(_) => "report",
            UnknownDeadline { .. } => "deadline",
            CheckpointAhead { .. } => "checkpoint",
            BadSignature { what } => what,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EntryRef;
    use crate::values::{AwardId, RedemptionId};

    /// Messages are read by people: ids as the console shows them, never
    /// Rust's debug form.
    #[test]
    fn messages_name_entries_as_people_read_them() {
        let volunteer = VolunteerId::new("dl-v0001").expect("an id");
        let cases = [
            (
                Rejection::UnknownEntry(EntryRef::Redemption(RedemptionId(3071))),
                "redemption R3071 does not exist",
            ),
            (
                Rejection::AlreadyReversed(EntryRef::Award(AwardId(4))),
                "award A4 is already reversed or void",
            ),
            (
                Rejection::ReversalWouldOverdraw {
                    entry: EntryRef::Credit(CreditId(290)),
                    volunteer: volunteer.clone(),
                },
                "reversing credit C290 would take volunteer dl-v0001's balance below zero; reverse a redemption first",
            ),
            (
                Rejection::ApprovalOutOfOrder {
                    volunteer,
                    expected: ApprovalLevel::Unit,
                    given: ApprovalLevel::City,
                },
                "volunteer dl-v0001 awaits the unit opinion, not city",
            ),
        ];
        for (rejection, message) in cases {
            assert_eq!(rejection.to_string(), message);
        }
    }
}
