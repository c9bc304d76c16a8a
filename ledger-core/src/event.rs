//! Events: the facts on the chain. Once appended they are never changed;
//! corrections are further events that name what they correct.
//!
//! The order of [`Event`]'s variants is part of the encoding (postcard writes
//! the variant's index): new kinds are only ever added at the end, and a
//! change to an existing kind's fields is a new schema version.

use serde::{Deserialize, Serialize};

use crate::command::ReviewOutcome;
use crate::domain::{
    ApprovalLevel, AutoCheckOut, AwardBasis, Campaign, Category, Checkpoint, CreditSource,
    DisputeKind, EntryRef, Group, IdentityCommitment, ManualEntry, Membership, PointsRule,
    Proposer, Report, Reward, Source, Unit, VolunteerNumber,
};
use crate::signing::PublicKey;
use crate::time::{Day, Timestamp, UtcOffset, Window};
use crate::values::{
    ActivityId, ActorId, AwardId, CampaignId, CreditId, ExternalRef, LedgerId, PairingId,
    ProjectId, RedemptionId, RequestId, RewardId, SessionId, Signature, SubmissionKey, Text,
    UnitId, VolunteerId, WishId,
};

/// What the frame's body holds: the event, who caused it, under which
/// submission, and when the sequencer recorded it. Facts reported by other
/// systems carry their own time inside the event (e.g. [`CheckedIn::at`]).
///
/// The submission key is on the chain so that the idempotency index can be
/// rebuilt from the stream alone, and so an auditor can trace a kiosk's
/// record to the event it became.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRecord {
    pub recorded_at: Timestamp,
    pub actor: ActorId,
    pub submission: Option<SubmissionKey>,
    pub event: Event,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    LedgerOpened(LedgerOpened),
    UnitRegistered(UnitRegistered),
    QuotaSet(QuotaSet),
    VolunteerRegistered(Box<VolunteerRegistered>),
    VolunteerApproved(VolunteerApproved),
    VolunteerRejected(VolunteerRejected),
    ProjectProposed(ProjectProposed),
    ProjectApproved(ProjectApproved),
    ProjectRejected(ProjectRejected),
    ProjectUndertaken(ProjectUndertaken),
    ActivityPublished(Box<ActivityPublished>),
    ActivityCancelled(ActivityCancelled),
    SignedUp(SignedUp),
    SignUpCancelled(SignUpCancelled),
    InsuranceRecorded(InsuranceRecorded),
    CheckedIn(CheckedIn),
    CheckedOut(CheckedOut),
    HoursCredited(HoursCredited),
    CreditDisputed(CreditDisputed),
    CreditReviewed(CreditReviewed),
    CreditConfirmed(CreditConfirmed),
    PointsAwarded(PointsAwarded),
    RewardListed(RewardListed),
    RewardRestocked(RewardRestocked),
    RewardRedeemed(RewardRedeemed),
    EntryReversed(EntryReversed),
    WishPosted(WishPosted),
    WishClaimed(WishClaimed),
    WishFulfilled(WishFulfilled),
    WishWithdrawn(WishWithdrawn),
    PairingStarted(PairingStarted),
    PairingEnded(PairingEnded),
    CampaignDeclared(CampaignDeclared),
    ReportFiled(ReportFiled),
    CheckpointRecorded(CheckpointRecorded),
    LedgerKeyPublished(LedgerKeyPublished),
    EntryRequested(Box<EntryRequested>),
    RequestApproved(RequestApproved),
    RequestDeclined(RequestDeclined),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerOpened {
    pub ledger: LedgerId,
    pub name: Text,
    pub objection_window_days: u16,
    pub utc_offset_minutes: UtcOffset,
    pub number_prefix: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRegistered {
    pub unit: Unit,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaSet {
    pub unit: UnitId,
    pub quota: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolunteerRegistered {
    pub volunteer: VolunteerId,
    pub number: VolunteerNumber,
    pub home_unit: UnitId,
    pub membership: Membership,
    pub groups: Vec<Group>,
    pub specialties: Vec<Text>,
    pub identity: IdentityCommitment,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolunteerApproved {
    pub volunteer: VolunteerId,
    pub level: ApprovalLevel,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolunteerRejected {
    pub volunteer: VolunteerId,
    pub level: ApprovalLevel,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectProposed {
    pub project: ProjectId,
    pub title: Text,
    pub category: Category,
    pub proposer: Proposer,
    pub filed_by: UnitId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectApproved {
    pub project: ProjectId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectRejected {
    pub project: ProjectId,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectUndertaken {
    pub project: ProjectId,
    pub unit: UnitId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityPublished {
    pub activity: ActivityId,
    pub project: Option<ProjectId>,
    pub campaign: Option<CampaignId>,
    pub organiser: UnitId,
    pub co_organisers: Vec<UnitId>,
    pub category: Category,
    pub title: Text,
    pub place: Text,
    pub window: Window,
    pub capacity: Option<u32>,
    pub featured: bool,
    pub points_rule: PointsRule,
    pub auto_check_out: AutoCheckOut,
    pub insurance_required: bool,
    pub walk_ins: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityCancelled {
    pub activity: ActivityId,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedUp {
    pub activity: ActivityId,
    pub volunteer: VolunteerId,
    /// Signed up by checking in at an activity that takes walk-ins.
    pub walk_in: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignUpCancelled {
    pub activity: ActivityId,
    pub volunteer: VolunteerId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsuranceRecorded {
    pub activity: ActivityId,
    pub volunteer: VolunteerId,
    pub policy: ExternalRef,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedIn {
    pub session: SessionId,
    pub activity: ActivityId,
    pub volunteer: VolunteerId,
    pub at: Timestamp,
    pub source: Source,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedOut {
    pub session: SessionId,
    pub at: Timestamp,
    /// `None` when the ledger closed a forgotten check-out by the activity's rule.
    pub source: Option<Source>,
}

/// Minutes credited to a volunteer, pending until the objection window
/// closes. Carries the points rule that will price it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoursCredited {
    pub credit: CreditId,
    pub volunteer: VolunteerId,
    pub activity: ActivityId,
    pub minutes: u32,
    pub day: Day,
    pub source: CreditSource,
    pub objection_deadline: Timestamp,
    pub points_rule: PointsRule,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditDisputed {
    pub credit: CreditId,
    pub kind: DisputeKind,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditReviewed {
    pub credit: CreditId,
    pub outcome: ReviewOutcome,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditConfirmed {
    pub credit: CreditId,
    pub minutes: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsAwarded {
    pub award: AwardId,
    pub volunteer: VolunteerId,
    pub points: u64,
    pub basis: AwardBasis,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardListed {
    pub reward: Reward,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardRestocked {
    pub reward: RewardId,
    pub quantity: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardRedeemed {
    pub redemption: RedemptionId,
    pub volunteer: VolunteerId,
    pub reward: RewardId,
    pub quantity: u32,
    pub points: u64,
}

/// A compensating entry. Its effect on balances and stock is that of the
/// entry it names, undone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryReversed {
    pub target: EntryRef,
    pub approver: ActorId,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WishPosted {
    pub wish: WishId,
    pub unit: UnitId,
    pub title: Text,
    pub beneficiary_alias: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WishClaimed {
    pub wish: WishId,
    pub volunteer: VolunteerId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WishFulfilled {
    pub wish: WishId,
    pub volunteer: VolunteerId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WishWithdrawn {
    pub wish: WishId,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingStarted {
    pub pairing: PairingId,
    pub volunteer: VolunteerId,
    pub unit: UnitId,
    pub beneficiary_alias: Text,
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingEnded {
    pub pairing: PairingId,
    pub at: Timestamp,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignDeclared {
    pub campaign: Campaign,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportFiled {
    pub report: Report,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointRecorded {
    pub checkpoint: Checkpoint,
}

/// The ledger's public key from now on. The first needs no endorsement;
/// every later one (a rotation) is endorsed by the key before it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerKeyPublished {
    pub public_key: PublicKey,
    pub endorsement: Option<Signature>,
}

/// An admin asks for a hand-made entry. The requester is named in the
/// event as well as in its record, so that the state, which folds events
/// alone, knows whose approval would be his own.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRequested {
    pub request: RequestId,
    pub entry: ManualEntry,
    pub reason: Text,
    pub requested_by: ActorId,
}

/// Another admin approved the request. The entry's own events follow in
/// the same command, naming the record's actor as their approver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestApproved {
    pub request: RequestId,
}

/// The request is declined (or withdrawn by its own admin); nothing is
/// entered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestDeclined {
    pub request: RequestId,
    pub reason: Text,
}

impl Event {
    /// Every kind [`Event::kind`] names, in the order the variants are
    /// declared: what a tool that picks events by kind accepts.
    pub const KINDS: [&'static str; 39] = [
        "ledger_opened",
        "unit_registered",
        "quota_set",
        "volunteer_registered",
        "volunteer_approved",
        "volunteer_rejected",
        "project_proposed",
        "project_approved",
        "project_rejected",
        "project_undertaken",
        "activity_published",
        "activity_cancelled",
        "signed_up",
        "sign_up_cancelled",
        "insurance_recorded",
        "checked_in",
        "checked_out",
        "hours_credited",
        "credit_disputed",
        "credit_reviewed",
        "credit_confirmed",
        "points_awarded",
        "reward_listed",
        "reward_restocked",
        "reward_redeemed",
        "entry_reversed",
        "wish_posted",
        "wish_claimed",
        "wish_fulfilled",
        "wish_withdrawn",
        "pairing_started",
        "pairing_ended",
        "campaign_declared",
        "report_filed",
        "checkpoint_recorded",
        "ledger_key_published",
        "entry_requested",
        "request_approved",
        "request_declined",
    ];

    /// The stable snake_case name of the event's kind, used in subjects and docs.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::LedgerOpened(_) => "ledger_opened",
            Event::UnitRegistered(_) => "unit_registered",
            Event::QuotaSet(_) => "quota_set",
            Event::VolunteerRegistered(_) => "volunteer_registered",
            Event::VolunteerApproved(_) => "volunteer_approved",
            Event::VolunteerRejected(_) => "volunteer_rejected",
            Event::ProjectProposed(_) => "project_proposed",
            Event::ProjectApproved(_) => "project_approved",
            Event::ProjectRejected(_) => "project_rejected",
            Event::ProjectUndertaken(_) => "project_undertaken",
            Event::ActivityPublished(_) => "activity_published",
            Event::ActivityCancelled(_) => "activity_cancelled",
            Event::SignedUp(_) => "signed_up",
            Event::SignUpCancelled(_) => "sign_up_cancelled",
            Event::InsuranceRecorded(_) => "insurance_recorded",
            Event::CheckedIn(_) => "checked_in",
            Event::CheckedOut(_) => "checked_out",
            Event::HoursCredited(_) => "hours_credited",
            Event::CreditDisputed(_) => "credit_disputed",
            Event::CreditReviewed(_) => "credit_reviewed",
            Event::CreditConfirmed(_) => "credit_confirmed",
            Event::PointsAwarded(_) => "points_awarded",
            Event::RewardListed(_) => "reward_listed",
            Event::RewardRestocked(_) => "reward_restocked",
            Event::RewardRedeemed(_) => "reward_redeemed",
            Event::EntryReversed(_) => "entry_reversed",
            Event::WishPosted(_) => "wish_posted",
            Event::WishClaimed(_) => "wish_claimed",
            Event::WishFulfilled(_) => "wish_fulfilled",
            Event::WishWithdrawn(_) => "wish_withdrawn",
            Event::PairingStarted(_) => "pairing_started",
            Event::PairingEnded(_) => "pairing_ended",
            Event::CampaignDeclared(_) => "campaign_declared",
            Event::ReportFiled(_) => "report_filed",
            Event::CheckpointRecorded(_) => "checkpoint_recorded",
            Event::LedgerKeyPublished(_) => "ledger_key_published",
            Event::EntryRequested(_) => "entry_requested",
            Event::RequestApproved(_) => "request_approved",
            Event::RequestDeclined(_) => "request_declined",
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::collection;
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;

    use super::Event;
    use crate::testing::random;

    /// `KINDS` names each kind once, and every event the test world and a
    /// random season record is of a kind it names.
    #[test]
    fn kinds_names_each_kind_once_and_every_kind_recorded() {
        let mut names = Event::KINDS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Event::KINDS.len());
        let mut runner = TestRunner::deterministic();
        let steps = collection::vec((random::step(), 0i64..120), 3_000)
            .new_tree(&mut runner)
            .map(|tree| tree.current())
            .unwrap_or_default();
        let (_, records) = random::play(&steps);
        let world = crate::testing::world();
        let seen: BTreeSet<&str> = records
            .iter()
            .map(|r| &r.event)
            .chain(&world.events)
            .map(Event::kind)
            .collect();
        for kind in &seen {
            assert!(Event::KINDS.contains(kind), "{kind} is not in KINDS");
        }
        assert!(seen.len() >= 20, "a season records only {seen:?}");
    }
}
