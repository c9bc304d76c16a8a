//! Who may ask for what. Admin roles are scoped to a subtree of units;
//! auditors read and never write; publishing systems submit attendance for
//! the activities of the units they are bound to. The check reads the state
//! to learn which units a command touches, so it lives beside the rules.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::command::{ApproveRequest, Command, DeclineRequest};
use crate::domain::{ManualEntry, Proposer};
use crate::state::Ledger;
use crate::values::{ActivityId, UnitId, VolunteerId};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// The city federation's admins: everything.
    CityAdmin,
    /// An admin of a unit: acts only inside that unit's subtree.
    UnitAdmin { unit: UnitId },
    /// Reads everything, writes nothing.
    Auditor,
    /// A kiosk, scanner or partner platform bound to some units: submits
    /// sign-ups, insurance and attendance for their activities.
    System { units: Vec<UnitId> },
    /// A volunteer acting for himself through his personal link: he may
    /// ask for a correction of his own credits, nothing else.
    Volunteer { volunteer: VolunteerId },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Forbidden {
    #[error("auditors read; they never write")]
    ReadOnly,
    #[error("{0} is for the city federation's admins")]
    CityOnly(&'static str),
    #[error("a publishing system may submit sign-ups, insurance and attendance only, not {0}")]
    NotForSystems(&'static str),
    #[error("unit {0} is outside the units this account acts for")]
    OutsideScope(UnitId),
    #[error("a volunteer may ask for a correction of his own credits only, not {0}")]
    NotForVolunteers(&'static str),
    #[error("credit {0} is another volunteer's")]
    NotYours(crate::values::CreditId),
}

impl Forbidden {
    pub fn code(&self) -> &'static str {
        "FORBIDDEN"
    }
}

impl Role {
    pub fn permits(&self, state: &Ledger, command: &Command) -> Result<(), Forbidden> {
        let scope: &[UnitId] = match self {
            Role::CityAdmin => return Ok(()),
            Role::Auditor => return Err(Forbidden::ReadOnly),
            Role::Volunteer { volunteer } => return own_request(state, command, volunteer),
            Role::UnitAdmin { unit } => std::slice::from_ref(unit),
            Role::System { units } => {
                if !is_attendance(command) {
                    return Err(Forbidden::NotForSystems(command.kind()));
                }
                units
            }
        };
        if city_only(command) {
            return Err(Forbidden::CityOnly(command.kind()));
        }
        for unit in touched_units(state, command) {
            if !scope.iter().any(|s| state.is_within(&unit, s)) {
                return Err(Forbidden::OutsideScope(unit));
            }
        }
        Ok(())
    }
}

/// A volunteer's correction request on a credit of his own. A credit that
/// does not exist is left to the rules, which refuse it for what it is.
fn own_request(state: &Ledger, command: &Command, me: &VolunteerId) -> Result<(), Forbidden> {
    match command {
        Command::DisputeCredit(c)
            if matches!(c.kind, crate::domain::DisputeKind::CorrectionRequest { .. }) =>
        {
            match state.credits.get(&c.credit) {
                Some(credit) if credit.volunteer != *me => Err(Forbidden::NotYours(c.credit)),
                _ => Ok(()),
            }
        }
        other => Err(Forbidden::NotForVolunteers(other.kind())),
    }
}

fn is_attendance(command: &Command) -> bool {
    matches!(
        command,
        Command::SignUp(_)
            | Command::CancelSignUp(_)
            | Command::RecordInsurance(_)
            | Command::CheckIn(_)
            | Command::CheckOut(_)
    )
}

/// Ledger-wide acts: opening, the city's approval level, approving
/// projects, the timer's batch confirmations, checkpoints; and entries
/// made by hand under a typed approver's name.
fn city_only(command: &Command) -> bool {
    use crate::domain::ApprovalLevel;
    match command {
        Command::OpenLedger(_)
        | Command::ApproveProject(_)
        | Command::RejectProject(_)
        | Command::ConfirmDueCredits(_)
        | Command::RecordCheckpoint(_)
        | Command::PublishLedgerKey(_) => true,
        Command::ApproveVolunteer(c) => c.level == ApprovalLevel::City,
        Command::RejectVolunteer(c) => c.level == ApprovalLevel::City,
        Command::ProposeProject(c) => c.proposer == Proposer::City,
        // An entry made by hand under a typed approver's name is for
        // entries approved outside the ledger; the ledger's own admins
        // request theirs and another admin approves.
        Command::BackfillHours(_) | Command::AwardPoints(_) | Command::Reverse(_) => true,
        Command::RegisterUnit(c) => c.parent.is_none(),
        _ => false,
    }
}

fn activity_units(state: &Ledger, activity: &ActivityId) -> Vec<UnitId> {
    state
        .activities
        .get(activity)
        .map(|a| vec![a.activity.organiser.clone()])
        .unwrap_or_default()
}

/// The union whose opinion a registration's approval at `level` is (the
/// registration form's three opinions): the home unit's own at the unit
/// level; at the district or industry level, that of the first
/// district-level union above the home unit (the root's when there is
/// none), so that a grassroots admin cannot give the district's opinion
/// on his own volunteers. The city's is the city's alone (`city_only`).
fn opinion_giver(
    state: &Ledger,
    volunteer: &VolunteerId,
    level: crate::domain::ApprovalLevel,
) -> Vec<UnitId> {
    use crate::domain::ApprovalLevel;
    let home = home_unit(state, volunteer);
    let (ApprovalLevel::DistrictOrIndustry, [home]) = (level, home.as_slice()) else {
        return home;
    };
    let ancestry: Vec<_> = state.ancestry(home).collect();
    let giver = ancestry
        .iter()
        .find(|u| u.unit.kind.is_district_level())
        .or(ancestry.last());
    giver.map(|u| vec![u.unit.id.clone()]).unwrap_or_default()
}

fn home_unit(state: &Ledger, volunteer: &VolunteerId) -> Vec<UnitId> {
    state
        .volunteers
        .get(volunteer)
        .map(|v| vec![v.volunteer.home_unit.clone()])
        .unwrap_or_default()
}

/// The units a command acts on. Things it names that do not exist touch
/// nothing here; the rules then refuse the command for what it is.
pub fn touched_units(state: &Ledger, command: &Command) -> Vec<UnitId> {
    match command {
        Command::OpenLedger(_)
        | Command::ConfirmDueCredits(_)
        | Command::RecordCheckpoint(_)
        | Command::PublishLedgerKey(_) => vec![],
        Command::RegisterUnit(c) => c.parent.iter().cloned().collect(),
        Command::SetQuota(c) => vec![c.unit.clone()],
        Command::RegisterVolunteer(c) => vec![c.home_unit.clone()],
        Command::ApproveVolunteer(c) => opinion_giver(state, &c.volunteer, c.level),
        Command::RejectVolunteer(c) => opinion_giver(state, &c.volunteer, c.level),
        Command::ProposeProject(c) => vec![c.filed_by.clone()],
        Command::ApproveProject(_) | Command::RejectProject(_) => vec![],
        Command::UndertakeProject(c) => vec![c.unit.clone()],
        Command::PublishActivity(c) => {
            let mut units = vec![c.organiser.clone()];
            units.extend(c.co_organisers.iter().cloned());
            units
        }
        Command::CancelActivity(c) => activity_units(state, &c.activity),
        Command::SignUp(c) => activity_units(state, &c.activity),
        Command::CancelSignUp(c) => activity_units(state, &c.activity),
        Command::RecordInsurance(c) => activity_units(state, &c.activity),
        Command::CheckIn(c) => activity_units(state, &c.activity),
        Command::CheckOut(c) => activity_units(state, &c.activity),
        Command::CloseForgottenCheckOuts(c) => activity_units(state, &c.activity),
        Command::BackfillHours(c) => activity_units(state, &c.activity),
        Command::DisputeCredit(c) => credit_units(state, c.credit),
        Command::ReviewCredit(c) => credit_units(state, c.credit),
        Command::ConfirmCredit(c) => credit_units(state, c.credit),
        Command::AwardPoints(c) => home_unit(state, &c.volunteer),
        Command::ListReward(c) => vec![c.unit.clone()],
        Command::RestockReward(c) => state
            .rewards
            .get(&c.reward)
            .map(|r| vec![r.unit.clone()])
            .unwrap_or_default(),
        Command::Redeem(c) => home_unit(state, &c.volunteer),
        Command::Reverse(c) => entry_units(state, &ManualEntry::Reversal { target: c.target }),
        Command::PostWish(c) => vec![c.unit.clone()],
        Command::ClaimWish(c) => wish_units(state, &c.wish),
        Command::FulfilWish(c) => wish_units(state, &c.wish),
        Command::WithdrawWish(c) => wish_units(state, &c.wish),
        Command::StartPairing(c) => vec![c.unit.clone()],
        Command::EndPairing(c) => state
            .pairings
            .get(&c.pairing)
            .map(|p| vec![p.unit.clone()])
            .unwrap_or_default(),
        Command::DeclareCampaign(c) => vec![c.organiser.clone()],
        Command::FileReport(c) => vec![c.unit.clone()],
        Command::RequestEntry(c) => entry_units(state, &c.entry),
        Command::ApproveRequest(ApproveRequest { request })
        | Command::DeclineRequest(DeclineRequest { request, .. }) => state
            .requests
            .get(request)
            .map(|r| entry_units(state, &r.entry))
            .unwrap_or_default(),
    }
}

fn entry_units(state: &Ledger, entry: &ManualEntry) -> Vec<UnitId> {
    state.entry_unit(entry).into_iter().collect()
}

fn credit_units(state: &Ledger, credit: crate::values::CreditId) -> Vec<UnitId> {
    state
        .credits
        .get(&credit)
        .map(|c| activity_units(state, &c.activity))
        .unwrap_or_default()
}

fn wish_units(state: &Ledger, wish: &crate::values::WishId) -> Vec<UnitId> {
    state
        .wishes
        .get(wish)
        .map(|w| vec![w.unit.clone()])
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ApprovalLevel;
    use crate::testing::*;

    fn admin_of(unit: &str) -> Role {
        Role::UnitAdmin {
            unit: unit_id(unit),
        }
    }

    #[test]
    fn unit_admins_act_inside_their_subtree_only() {
        let state = world().state;
        // g1 lies under d1.
        assert_eq!(
            admin_of("d1").permits(&state, &register_volunteer("v9", "g1", 9)),
            Ok(())
        );
        assert_eq!(
            admin_of("d2").permits(&state, &register_volunteer("v9", "g1", 9)),
            Err(Forbidden::OutsideScope(unit_id("g1")))
        );
        assert_eq!(
            admin_of("d2").permits(&state, &approve("v1", ApprovalLevel::Unit)),
            Err(Forbidden::OutsideScope(unit_id("g1")))
        );
        assert_eq!(
            admin_of("d1").permits(&state, &approve("v1", ApprovalLevel::City)),
            Err(Forbidden::CityOnly("approve_volunteer"))
        );
        assert_eq!(Role::CityAdmin.permits(&state, &open_ledger(3)), Ok(()));
    }

    #[test]
    fn the_district_opinion_on_a_registration_is_the_districts_not_the_grassroots_unions() {
        let state = world().state;
        // v1's home is g1, under the district d1.
        assert_eq!(
            admin_of("g1").permits(&state, &approve("v1", ApprovalLevel::Unit)),
            Ok(())
        );
        assert_eq!(
            admin_of("g1").permits(&state, &approve("v1", ApprovalLevel::DistrictOrIndustry)),
            Err(Forbidden::OutsideScope(unit_id("d1")))
        );
        assert_eq!(
            admin_of("d1").permits(&state, &approve("v1", ApprovalLevel::DistrictOrIndustry)),
            Ok(())
        );
        let reject = Command::RejectVolunteer(crate::command::RejectVolunteer {
            volunteer: crate::values::VolunteerId::new("v1").expect("id"),
            level: ApprovalLevel::DistrictOrIndustry,
            reason: crate::values::Text::new("不符合条件").expect("text"),
        });
        assert_eq!(
            admin_of("g1").permits(&state, &reject),
            Err(Forbidden::OutsideScope(unit_id("d1")))
        );
    }

    #[test]
    fn auditors_never_write_and_systems_only_report_attendance() {
        let state = world().state;
        assert_eq!(
            Role::Auditor.permits(&state, &sign_up("a1", "v1")),
            Err(Forbidden::ReadOnly)
        );
        let kiosk = Role::System {
            units: vec![unit_id("d1")],
        };
        assert_eq!(
            kiosk.permits(&state, &check_in("a1", "v1", "2026-03-05T09:00")),
            Ok(())
        );
        assert_eq!(
            kiosk.permits(&state, &register_volunteer("v9", "g1", 9)),
            Err(Forbidden::NotForSystems("register_volunteer"))
        );
        let elsewhere = Role::System {
            units: vec![unit_id("d2")],
        };
        assert_eq!(
            elsewhere.permits(&state, &check_in("a1", "v1", "2026-03-05T09:00")),
            Err(Forbidden::OutsideScope(unit_id("g1")))
        );
    }

    #[test]
    fn volunteers_ask_for_corrections_of_their_own_credits_only() {
        use crate::command::DisputeCredit;
        use crate::domain::DisputeKind;
        use crate::values::{CreditId, Text};
        let state = world_with_credit().state;
        let correction = |credit| {
            Command::DisputeCredit(DisputeCredit {
                credit: CreditId(credit),
                kind: DisputeKind::CorrectionRequest {
                    proposed_minutes: 150,
                },
                reason: Text::new("签退时间记错了").unwrap(),
            })
        };
        let v1 = Role::Volunteer {
            volunteer: vid("v1"),
        };
        let v2 = Role::Volunteer {
            volunteer: vid("v2"),
        };
        assert_eq!(v1.permits(&state, &correction(1)), Ok(()));
        assert_eq!(
            v2.permits(&state, &correction(1)),
            Err(Forbidden::NotYours(CreditId(1)))
        );
        assert_eq!(
            v1.permits(&state, &sign_up("a1", "v1")),
            Err(Forbidden::NotForVolunteers("sign_up"))
        );
        let objection = Command::DisputeCredit(DisputeCredit {
            credit: CreditId(1),
            kind: DisputeKind::Objection,
            reason: Text::new("不同意").unwrap(),
        });
        assert_eq!(
            v1.permits(&state, &objection),
            Err(Forbidden::NotForVolunteers("dispute_credit"))
        );
    }

    #[test]
    fn hand_made_entries_are_requested_and_approved_in_the_units_they_concern() {
        use crate::command::{AwardPoints, RequestEntry};
        use crate::values::{RequestId, Text};
        let award = ManualEntry::Award {
            volunteer: vid("v1"),
            points: 5,
        };
        let request = Command::RequestEntry(RequestEntry {
            entry: award.clone(),
            reason: Text::new("微心愿认领完成").unwrap(),
        });
        let direct = Command::AwardPoints(AwardPoints {
            volunteer: vid("v1"),
            points: 5,
            approver: actor("admin-d1"),
            reason: Text::new("微心愿认领完成").unwrap(),
        });
        let mut world = world().by("admin-g1");
        world.try_run(&request).expect("requested");
        let state = world.state;
        // v1's home is g1, under d1.
        assert_eq!(admin_of("g1").permits(&state, &request), Ok(()));
        assert_eq!(
            admin_of("d2").permits(&state, &request),
            Err(Forbidden::OutsideScope(unit_id("g1")))
        );
        assert_eq!(
            admin_of("d1").permits(&state, &direct),
            Err(Forbidden::CityOnly("award_points"))
        );
        assert_eq!(Role::CityAdmin.permits(&state, &direct), Ok(()));
        let approve = Command::ApproveRequest(ApproveRequest {
            request: RequestId(1),
        });
        assert_eq!(admin_of("d1").permits(&state, &approve), Ok(()));
        assert_eq!(
            admin_of("d2").permits(&state, &approve),
            Err(Forbidden::OutsideScope(unit_id("g1")))
        );
        assert_eq!(
            Role::System {
                units: vec![unit_id("g1")]
            }
            .permits(&state, &approve),
            Err(Forbidden::NotForSystems("approve_request"))
        );
        assert_eq!(
            Role::Volunteer {
                volunteer: vid("v1")
            }
            .permits(&state, &request),
            Err(Forbidden::NotForVolunteers("request_entry"))
        );
        assert_eq!(
            Role::System {
                units: vec![unit_id("g1")]
            }
            .permits(&state, &request),
            Err(Forbidden::NotForSystems("request_entry"))
        );
        let decline = Command::DeclineRequest(crate::command::DeclineRequest {
            request: RequestId(1),
            reason: Text::new("无记录").unwrap(),
        });
        assert_eq!(admin_of("g1").permits(&state, &decline), Ok(()));
        assert_eq!(
            admin_of("d2").permits(&state, &decline),
            Err(Forbidden::OutsideScope(unit_id("g1")))
        );
    }

    #[test]
    fn backfills_and_reversals_are_requested_where_the_activity_was_held() {
        use crate::command::{BackfillHours, RequestEntry, Reverse};
        use crate::domain::EntryRef;
        use crate::values::{CreditId, Text};
        // a1 is held by g1, under d1; C1 is v1's credit there.
        let state = world_with_credit().state;
        let reason = || Text::new("扫码设备故障").unwrap();
        let backfill = Command::RequestEntry(RequestEntry {
            entry: ManualEntry::Backfill {
                volunteer: vid("v2"),
                activity: aid("a1"),
                minutes: 30,
            },
            reason: reason(),
        });
        let reversal = Command::RequestEntry(RequestEntry {
            entry: ManualEntry::Reversal {
                target: EntryRef::Credit(CreditId(1)),
            },
            reason: reason(),
        });
        for asked in [&backfill, &reversal] {
            assert_eq!(admin_of("d1").permits(&state, asked), Ok(()));
            assert_eq!(
                admin_of("d2").permits(&state, asked),
                Err(Forbidden::OutsideScope(unit_id("g1")))
            );
        }
        let direct_backfill = Command::BackfillHours(BackfillHours {
            volunteer: vid("v2"),
            activity: aid("a1"),
            minutes: 30,
            approver: actor("admin-city"),
            reason: reason(),
        });
        let direct_reversal = Command::Reverse(Reverse {
            target: EntryRef::Credit(CreditId(1)),
            approver: actor("admin-city"),
            reason: reason(),
        });
        assert_eq!(
            admin_of("d1").permits(&state, &direct_backfill),
            Err(Forbidden::CityOnly("backfill_hours"))
        );
        assert_eq!(
            admin_of("d1").permits(&state, &direct_reversal),
            Err(Forbidden::CityOnly("reverse"))
        );
        assert_eq!(Role::CityAdmin.permits(&state, &direct_reversal), Ok(()));
    }
}
