//! Commands: what somebody asks the ledger to record. A command is a request
//! and may be refused; an [`crate::event::Event`] is a fact and never is.
//! Who asks and when comes beside the command in a [`crate::decide::Context`].
//!
//! Commands arrive as JSON (`{"type": "check_in", …}`); unknown fields are
//! refused rather than ignored, so a typo never silently drops data.

use serde::{Deserialize, Serialize};

use crate::domain::{
    ApprovalLevel, Attachment, AutoCheckOut, Category, Checkpoint, Deadline, DisputeKind, EntryRef,
    Group, IdentityCommitment, ManualEntry, Membership, Phase, PointsRule, Proposer, UnitKind,
};
use crate::signing::PublicKey;
use crate::time::{Timestamp, UtcOffset, Window};
use crate::values::{
    ActivityId, ActorId, CampaignId, CreditId, ExternalRef, LedgerId, PairingId, ProjectId,
    ReportId, RequestId, RewardId, Signature, Text, UnitId, VolunteerId, WishId,
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Command {
    OpenLedger(OpenLedger),
    RegisterUnit(RegisterUnit),
    SetQuota(SetQuota),
    RegisterVolunteer(RegisterVolunteer),
    ApproveVolunteer(ApproveVolunteer),
    RejectVolunteer(RejectVolunteer),
    ProposeProject(ProposeProject),
    ApproveProject(ApproveProject),
    RejectProject(RejectProject),
    UndertakeProject(UndertakeProject),
    PublishActivity(PublishActivity),
    CancelActivity(CancelActivity),
    SignUp(SignUp),
    CancelSignUp(CancelSignUp),
    RecordInsurance(RecordInsurance),
    CheckIn(CheckIn),
    CheckOut(CheckOut),
    CloseForgottenCheckOuts(CloseForgottenCheckOuts),
    BackfillHours(BackfillHours),
    DisputeCredit(DisputeCredit),
    ReviewCredit(ReviewCredit),
    ConfirmCredit(ConfirmCredit),
    ConfirmDueCredits(ConfirmDueCredits),
    AwardPoints(AwardPoints),
    ListReward(ListReward),
    RestockReward(RestockReward),
    Redeem(Redeem),
    Reverse(Reverse),
    PostWish(PostWish),
    ClaimWish(ClaimWish),
    FulfilWish(FulfilWish),
    WithdrawWish(WithdrawWish),
    StartPairing(StartPairing),
    EndPairing(EndPairing),
    DeclareCampaign(DeclareCampaign),
    FileReport(FileReport),
    RecordCheckpoint(RecordCheckpoint),
    PublishLedgerKey(PublishLedgerKey),
    RequestEntry(RequestEntry),
    ApproveRequest(ApproveRequest),
    DeclineRequest(DeclineRequest),
}

/// The genesis: names the shard and fixes the rules that must never change
/// under replay (the objection window, the local day, the number prefix).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenLedger {
    pub ledger: LedgerId,
    pub name: Text,
    pub objection_window_days: u16,
    pub utc_offset_minutes: UtcOffset,
    /// Prefix of unified volunteer numbers, 2–8 capital letters or digits.
    pub number_prefix: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterUnit {
    pub unit: UnitId,
    pub name: Text,
    pub kind: UnitKind,
    pub parent: Option<UnitId>,
    pub quota: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetQuota {
    pub unit: UnitId,
    pub quota: Option<u32>,
}

/// The registration form's non-personal part. Name, ID number, phone and the
/// rest stay in the personal-data store; only the commitment comes here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterVolunteer {
    pub volunteer: VolunteerId,
    pub home_unit: UnitId,
    pub membership: Membership,
    #[serde(default)]
    pub groups: Vec<Group>,
    #[serde(default)]
    pub specialties: Vec<Text>,
    pub identity: IdentityCommitment,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveVolunteer {
    pub volunteer: VolunteerId,
    pub level: ApprovalLevel,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectVolunteer {
    pub volunteer: VolunteerId,
    pub level: ApprovalLevel,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProposeProject {
    pub project: ProjectId,
    pub title: Text,
    pub category: Category,
    pub proposer: Proposer,
    pub filed_by: UnitId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveProject {
    pub project: ProjectId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectProject {
    pub project: ProjectId,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UndertakeProject {
    pub project: ProjectId,
    pub unit: UnitId,
}

/// What an activity promises; the same terms travel in the event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishActivity {
    pub activity: ActivityId,
    pub project: Option<ProjectId>,
    pub campaign: Option<CampaignId>,
    pub organiser: UnitId,
    #[serde(default)]
    pub co_organisers: Vec<UnitId>,
    pub category: Category,
    pub title: Text,
    pub place: Text,
    pub window: Window,
    pub capacity: Option<u32>,
    #[serde(default)]
    pub featured: bool,
    pub points_rule: PointsRule,
    pub auto_check_out: AutoCheckOut,
    #[serde(default)]
    pub insurance_required: bool,
    #[serde(default)]
    pub walk_ins: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelActivity {
    pub activity: ActivityId,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    pub activity: ActivityId,
    pub volunteer: VolunteerId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelSignUp {
    pub activity: ActivityId,
    pub volunteer: VolunteerId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordInsurance {
    pub activity: ActivityId,
    pub volunteer: VolunteerId,
    /// The policy's number at the insurer (not personal data).
    pub policy: ExternalRef,
}

/// A fact reported by a kiosk, a QR scanner or an admin: volunteer X arrived
/// at activity Y at this time. `at` is when it happened, which may be long
/// before the ledger hears of it (an offline kiosk syncing later).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckIn {
    pub activity: ActivityId,
    pub volunteer: VolunteerId,
    pub at: Timestamp,
    pub device: Option<ExternalRef>,
    pub external_id: Option<ExternalRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckOut {
    pub activity: ActivityId,
    pub volunteer: VolunteerId,
    pub at: Timestamp,
    pub device: Option<ExternalRef>,
    pub external_id: Option<ExternalRef>,
}

/// Closes every session still open after the activity ended, by the
/// activity's auto check-out rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseForgottenCheckOuts {
    pub activity: ActivityId,
}

/// Hours entered for service the system did not record, capped at the
/// activity's length, under the name of whoever approved them elsewhere.
/// Admins of the ledger ask for the same through [`RequestEntry`], which
/// another admin approves in the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackfillHours {
    pub volunteer: VolunteerId,
    pub activity: ActivityId,
    pub minutes: u32,
    pub approver: ActorId,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputeCredit {
    pub credit: CreditId,
    pub kind: DisputeKind,
    pub reason: Text,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOutcome {
    /// The credit stands as recorded and is confirmed.
    Uphold,
    /// The credit is confirmed with these minutes instead.
    Amend { minutes: u32 },
    /// The credit is void: it never counts.
    Void,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewCredit {
    pub credit: CreditId,
    pub outcome: ReviewOutcome,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmCredit {
    pub credit: CreditId,
}

/// Confirms, oldest deadline first, up to `limit` pending credits whose
/// objection window has passed without objection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmDueCredits {
    pub limit: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwardPoints {
    pub volunteer: VolunteerId,
    pub points: u64,
    pub approver: ActorId,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListReward {
    pub reward: RewardId,
    pub unit: UnitId,
    pub name: Text,
    pub cost_points: u64,
    pub stock: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestockReward {
    pub reward: RewardId,
    pub quantity: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redeem {
    pub volunteer: VolunteerId,
    pub reward: RewardId,
    pub quantity: u32,
}

/// Undo a credit, an award or a redemption by a new, compensating event;
/// nothing is ever edited or deleted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reverse {
    pub target: EntryRef,
    pub approver: ActorId,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostWish {
    pub wish: WishId,
    pub unit: UnitId,
    pub title: Text,
    pub beneficiary_alias: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimWish {
    pub wish: WishId,
    pub volunteer: VolunteerId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FulfilWish {
    pub wish: WishId,
    pub volunteer: VolunteerId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawWish {
    pub wish: WishId,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartPairing {
    pub pairing: PairingId,
    pub volunteer: VolunteerId,
    pub unit: UnitId,
    pub beneficiary_alias: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndPairing {
    pub pairing: PairingId,
    pub reason: Text,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclareCampaign {
    pub campaign: CampaignId,
    pub organiser: UnitId,
    pub name: Text,
    pub phases: Vec<Phase>,
    pub deadlines: Vec<Deadline>,
}

/// A unit's report to a campaign: the index of the deadline it answers, and
/// the BLAKE3 hashes of its files (the files go to the object store).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileReport {
    pub report: ReportId,
    pub campaign: CampaignId,
    pub unit: UnitId,
    pub deadline: u16,
    pub title: Text,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordCheckpoint {
    pub checkpoint: Checkpoint,
}

/// Publishes the ledger's signing key, or rotates it: a new key is endorsed
/// by the current one (a signature over the rotation message).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishLedgerKey {
    pub public_key: PublicKey,
    pub endorsement: Option<Signature>,
}

impl Command {
    /// The stable snake_case name, as in the JSON `type` field.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::OpenLedger(_) => "open_ledger",
            Command::RegisterUnit(_) => "register_unit",
            Command::SetQuota(_) => "set_quota",
            Command::RegisterVolunteer(_) => "register_volunteer",
            Command::ApproveVolunteer(_) => "approve_volunteer",
            Command::RejectVolunteer(_) => "reject_volunteer",
            Command::ProposeProject(_) => "propose_project",
            Command::ApproveProject(_) => "approve_project",
            Command::RejectProject(_) => "reject_project",
            Command::UndertakeProject(_) => "undertake_project",
            Command::PublishActivity(_) => "publish_activity",
            Command::CancelActivity(_) => "cancel_activity",
            Command::SignUp(_) => "sign_up",
            Command::CancelSignUp(_) => "cancel_sign_up",
            Command::RecordInsurance(_) => "record_insurance",
            Command::CheckIn(_) => "check_in",
            Command::CheckOut(_) => "check_out",
            Command::CloseForgottenCheckOuts(_) => "close_forgotten_check_outs",
            Command::BackfillHours(_) => "backfill_hours",
            Command::DisputeCredit(_) => "dispute_credit",
            Command::ReviewCredit(_) => "review_credit",
            Command::ConfirmCredit(_) => "confirm_credit",
            Command::ConfirmDueCredits(_) => "confirm_due_credits",
            Command::AwardPoints(_) => "award_points",
            Command::ListReward(_) => "list_reward",
            Command::RestockReward(_) => "restock_reward",
            Command::Redeem(_) => "redeem",
            Command::Reverse(_) => "reverse",
            Command::PostWish(_) => "post_wish",
            Command::ClaimWish(_) => "claim_wish",
            Command::FulfilWish(_) => "fulfil_wish",
            Command::WithdrawWish(_) => "withdraw_wish",
            Command::StartPairing(_) => "start_pairing",
            Command::EndPairing(_) => "end_pairing",
            Command::DeclareCampaign(_) => "declare_campaign",
            Command::FileReport(_) => "file_report",
            Command::RecordCheckpoint(_) => "record_checkpoint",
            Command::PublishLedgerKey(_) => "publish_ledger_key",
            Command::RequestEntry(_) => "request_entry",
            Command::ApproveRequest(_) => "approve_request",
            Command::DeclineRequest(_) => "decline_request",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Command, String> {
        serde_json::from_str::<Command>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn a_check_in_reads_as_integrators_write_it() {
        let c = parse(
            r#"{"type": "check_in", "activity": "a1", "volunteer": "v-7f3a",
                "at": "2026-03-05T09:02:00+08:00", "device": "kiosk-12", "external_id": "rec-991"}"#,
        )
        .unwrap();
        let Command::CheckIn(c) = c else {
            panic!("not a check-in: {c:?}")
        };
        assert_eq!(c.at, Timestamp::parse("2026-03-05T01:02:00Z").unwrap());
        assert_eq!(c.device.unwrap().as_str(), "kiosk-12");
    }

    #[test]
    fn malformed_submissions_are_refused_with_a_reason() {
        let unknown_field = parse(
            r#"{"type": "check_in", "activity": "a1", "volunteer": "v1",
                "at": "2026-03-05T09:02:00+08:00", "device": null, "external_id": null, "hours": 3}"#,
        );
        assert!(unknown_field.unwrap_err().contains("unknown field `hours`"));
        let no_offset = parse(
            r#"{"type": "check_in", "activity": "a1", "volunteer": "v1",
                "at": "2026-03-05T09:02:00", "device": null, "external_id": null}"#,
        );
        assert!(no_offset.unwrap_err().contains("RFC 3339"));
        let id_number = parse(
            r#"{"type": "check_in", "activity": "a1", "volunteer": "320702199001011235",
                "at": "2026-03-05T09:02:00+08:00", "device": null, "external_id": null}"#,
        );
        assert!(id_number
            .unwrap_err()
            .contains("looks like an ID or phone number"));
        assert!(parse(r#"{"type": "check_in", "activity": "a1"}"#)
            .unwrap_err()
            .contains("missing field"));
        assert!(parse(r#"{"type": "teleport"}"#)
            .unwrap_err()
            .contains("unknown variant"));
        let wrong_type =
            parse(r#"{"type": "redeem", "volunteer": "v1", "reward": "r1", "quantity": -1}"#);
        assert!(wrong_type.is_err());
    }

    #[test]
    fn every_command_round_trips_through_json() {
        let commands = [
            crate::testing::open_ledger(3),
            crate::testing::register_volunteer("v9", "g1", 9),
            Command::PublishActivity(crate::testing::publish("a9", "g1")),
            crate::testing::check_out("a1", "v1", "2026-03-05T11:00"),
        ];
        for c in commands {
            let json = serde_json::to_string(&c).unwrap();
            assert!(
                json.starts_with(&format!("{{\"type\":\"{}\"", c.kind())),
                "{json}"
            );
            assert_eq!(parse(&json).unwrap(), c);
        }
    }
}

/// Asks for a hand-made entry, which another admin approves or declines.
/// Refused at once if the entry could not be made now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestEntry {
    pub entry: ManualEntry,
    pub reason: Text,
}

/// Makes the requested entry, with the approving admin as its approver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveRequest {
    pub request: RequestId,
}

/// Declines a request, or withdraws it when its own admin does so.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclineRequest {
    pub request: RequestId,
    pub reason: Text,
}
