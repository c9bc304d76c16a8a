//! The rows of the read models, as stored (postcard) and as served (JSON).

use ledger_core::chain::Verifier;
use ledger_core::domain::{
    ApprovalLevel, Campaign, Category, CreditStatus, DisputeKind, Group, ManualEntry, Membership,
    ReportKind, Reward, Unit, VolunteerStatus,
};
use ledger_core::time::{Day, Timestamp, UtcOffset, Window};
use ledger_core::values::{
    ActivityId, ActorId, CampaignId, CreditId, Digest, LedgerId, ProjectId, ReportId, RequestId,
    RewardId, Text, UnitId, VolunteerId,
};
use serde::{Deserialize, Serialize};

use crate::period::Period;
use crate::tallies::Tallies;

/// Where the projection stands: the verifier's state after the last
/// applied frame, and the source's position of the block that held it.
/// Written in the same batch as the rows that frame changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub verifier: Verifier,
    /// The stream sequence of the last applied block (0 before any).
    pub position: u64,
    /// When the last applied event was recorded.
    pub recorded_at: Option<Timestamp>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub ledger: LedgerId,
    pub name: Text,
    pub utc_offset: UtcOffset,
    pub objection_window_days: u16,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRow {
    pub unit: Unit,
    pub children: Vec<UnitId>,
    /// Volunteers registered in the subtree and not rejected.
    pub registered: u64,
}

/// Confirmed minutes (system and backfilled apart) and points earned, of a
/// volunteer or a unit's subtree, in one period and category.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    pub system_minutes: u64,
    pub backfill_minutes: u64,
    pub points: u64,
}

impl Tally {
    pub fn minutes(&self) -> u64 {
        self.system_minutes + self.backfill_minutes
    }

    pub fn score(&self, metric: Metric) -> u64 {
        match metric {
            Metric::Hours => self.minutes(),
            Metric::Points => self.points,
        }
    }

    pub fn is_zero(&self) -> bool {
        *self == Tally::default()
    }
}

/// A change to a tally; minutes and points may fall (reversals).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delta {
    pub system_minutes: i64,
    pub backfill_minutes: i64,
    pub points: i64,
}

impl Delta {
    pub fn minutes(system: bool, minutes: i64) -> Delta {
        if system {
            Delta {
                system_minutes: minutes,
                ..Delta::default()
            }
        } else {
            Delta {
                backfill_minutes: minutes,
                ..Delta::default()
            }
        }
    }

    pub fn points(points: i64) -> Delta {
        Delta {
            points,
            ..Delta::default()
        }
    }

    pub fn applied_to(self, t: Tally) -> Tally {
        let add = |v: u64, d: i64| v.saturating_add_signed(d);
        Tally {
            system_minutes: add(t.system_minutes, self.system_minutes),
            backfill_minutes: add(t.backfill_minutes, self.backfill_minutes),
            points: add(t.points, self.points),
        }
    }
}

/// What a leaderboard orders by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Hours,
    Points,
}

impl Metric {
    pub const ALL: [Metric; 2] = [Metric::Hours, Metric::Points];
}

/// Where a registration stands. The core type is tagged for JSON in a way
/// postcard cannot read back, so rows keep this mirror of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Approval {
    Awaiting(ApprovalLevel),
    Approved,
    Rejected(ApprovalLevel),
}

impl From<Approval> for VolunteerStatus {
    fn from(a: Approval) -> VolunteerStatus {
        match a {
            Approval::Awaiting(l) => VolunteerStatus::AwaitingApproval(l),
            Approval::Approved => VolunteerStatus::Approved,
            Approval::Rejected(l) => VolunteerStatus::Rejected(l),
        }
    }
}

pub type TallyKey = (Period, Option<Category>);

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolunteerRow {
    pub volunteer: VolunteerId,
    pub number: String,
    pub home_unit: UnitId,
    pub membership: Membership,
    pub groups: Vec<Group>,
    /// 特长, as the roster lists them.
    pub specialties: Vec<Text>,
    pub status: Approval,
    pub registered_at: Timestamp,
    pub system_minutes: u64,
    pub backfill_minutes: u64,
    pub pending_minutes: u64,
    pub points_earned: u64,
    pub points_redeemed: u64,
    /// Distinct activities with at least one session.
    pub activities_attended: u64,
    /// Entries in the history so far.
    pub history_len: u64,
    /// Confirmed totals by period and category (`None`: all categories).
    pub tallies: Tallies,
}

/// The front of a [`VolunteerRow`]: all a leaderboard shows of each
/// volunteer it lists. postcard writes a row's fields in order, so these
/// decode from the row's first bytes, without the tallies behind them
/// (which are most of the work of decoding a whole row).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct VolunteerCard {
    pub volunteer: VolunteerId,
    pub number: String,
    pub home_unit: UnitId,
}

impl VolunteerRow {
    pub fn balance(&self) -> u64 {
        self.points_earned.saturating_sub(self.points_redeemed)
    }

    pub fn confirmed_minutes(&self) -> u64 {
        self.system_minutes + self.backfill_minutes
    }
}

/// One line of a volunteer's history: an event about them, where it sits
/// on the chain, and what it did to their totals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub sequence: u64,
    pub hash: Digest,
    pub recorded_at: Timestamp,
    pub kind: String,
    /// The activity, credit, award, wish or pairing it concerns; for a
    /// redemption, its id and the reward (`R12 · ticket`); for a refused
    /// registration, the reason given.
    pub about: Option<String>,
    /// Change to confirmed minutes.
    pub minutes: i64,
    /// Change to pending minutes.
    pub pending_minutes: i64,
    /// Change to the points balance.
    pub points: i64,
    /// The balance after it.
    pub balance: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreditRow {
    pub volunteer: VolunteerId,
    pub activity: ActivityId,
    pub category: Category,
    pub minutes: u32,
    pub day: Day,
    pub system: bool,
    pub status: CreditStatus,
    /// The event that credited it.
    pub credited: Stamp,
    /// The event that confirmed it: when it was verified and by whom.
    pub confirmed: Option<Stamp>,
    /// The last objection or correction request, and who made it when.
    pub dispute: Option<(DisputeKind, Text, Stamp)>,
}

/// A hand-made entry waiting for a second admin's decision, under the
/// unit it concerns (none if that was not known when it was requested).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRow {
    pub id: RequestId,
    pub entry: ManualEntry,
    pub reason: Text,
    pub unit: Option<UnitId>,
    pub requested: Stamp,
}

/// Which event did something, when and by whom.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub sequence: u64,
    pub at: Timestamp,
    pub by: ActorId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionRow {
    pub volunteer: VolunteerId,
    pub activity: ActivityId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AwardRow {
    pub volunteer: VolunteerId,
    pub points: u64,
    /// The credit's day, or the day a manual award was recorded.
    pub day: Day,
    pub category: Option<Category>,
    pub credit: Option<CreditId>,
    pub reversed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedemptionRow {
    pub volunteer: VolunteerId,
    pub reward: RewardId,
    pub quantity: u32,
    pub points: u64,
    pub reversed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRow {
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
    pub cancelled: bool,
    pub sign_ups: u64,
    pub walk_ins: u64,
    /// Distinct volunteers with at least one session.
    pub attended: u64,
    /// Of the volunteers signed up now, those who came.
    pub signed_up_and_came: u64,
    pub sessions: u64,
    /// Check-ins not checked out yet: volunteers there now, or who left
    /// without checking out (closed by `close_forgotten_check_outs`).
    pub open_sessions: u64,
    pub confirmed_minutes: u64,
    pub pending_minutes: u64,
    /// The day the activity counts as held: its first day, once anyone came.
    pub held_on: Option<Day>,
}

impl ActivityRow {
    pub fn no_shows(&self) -> u64 {
        self.sign_ups.saturating_sub(self.signed_up_and_came)
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participation {
    pub signed_up: bool,
    pub walk_in: bool,
    pub sessions: u32,
    /// Of those, checked in and not yet out.
    pub open: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RewardRow {
    pub reward: Reward,
    pub redeemed_quantity: u64,
    pub redemptions: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filing {
    pub report: ReportId,
    pub unit: UnitId,
    pub kind: ReportKind,
    pub deadline: u16,
    pub title: Text,
    pub filed_on: Day,
    pub late: bool,
    pub attachments: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRow {
    pub campaign: Campaign,
    pub filings: Vec<Filing>,
}

/// A unit's subtree in one period and category.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitTally {
    pub tally: Tally,
    /// Volunteers of the subtree with confirmed minutes in the period.
    pub active_volunteers: u64,
    pub activities_held: u64,
    pub featured_held: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::domain::{ApprovalLevel, Group, Membership};

    #[test]
    fn a_card_is_the_front_of_its_row() {
        let mut tallies = Tallies::default();
        for month in 1..=12u8 {
            let tally = Tally {
                system_minutes: u64::from(month),
                backfill_minutes: 0,
                points: 3,
            };
            tallies.insert((Period::Month(2026, month), None), tally);
        }
        let row = VolunteerRow {
            volunteer: VolunteerId::new("v-000042").unwrap(),
            number: "LYG00000042".into(),
            home_unit: UnitId::new("u-district-3").unwrap(),
            membership: Membership::Member,
            groups: vec![Group::ModelWorker],
            specialties: vec![],
            status: Approval::Awaiting(ApprovalLevel::Unit),
            registered_at: Timestamp(7),
            system_minutes: 1,
            backfill_minutes: 2,
            pending_minutes: 3,
            points_earned: 4,
            points_redeemed: 5,
            activities_attended: 6,
            history_len: 7,
            tallies,
        };
        let bytes = postcard::to_allocvec(&row).unwrap();
        let card: VolunteerCard = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(
            card,
            VolunteerCard {
                volunteer: row.volunteer,
                number: row.number,
                home_unit: row.home_unit,
            }
        );
    }
}
