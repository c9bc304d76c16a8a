//! The rules: `decide(state, context, command)` turns a command into the
//! events that record it, or a [`Rejection`] that says which rule refused it.
//! It never changes the state; the caller applies the events it returns.
//!
//! One module per area of the notices; this one dispatches and holds the
//! lookups every area shares.

mod activities;
mod attendance;
mod campaigns;
mod credits;
mod points;
mod programmes;
mod projects;
mod registry;
mod requests;

use crate::command::Command;
use crate::domain::{Credit, VolunteerStatus};
use crate::event::Event;
use crate::rejection::Rejection;
use crate::state::{ActivityState, Ledger, LedgerConfig, UnitState, VolunteerState};
use crate::time::Timestamp;
use crate::values::{ActivityId, ActorId, CreditId, UnitId, VolunteerId};

/// No one serves more than 16 hours in a day; no attendance lasts longer.
pub const MAX_DAILY_MINUTES: u64 = 16 * 60;
/// Check-in opens this long before an activity starts.
pub const CHECK_IN_OPENS_MINUTES_BEFORE: i64 = 60;
/// Reported times may run this far ahead of the sequencer's clock.
pub const CLOCK_SKEW_MINUTES: i64 = 5;
pub const MAX_OBJECTION_WINDOW_DAYS: u16 = 30;
/// A report's file is 1 byte to 1 GiB: larger files belong in an archive,
/// not a report. The service refuses larger uploads as they come.
pub const MAX_ATTACHMENT_BYTES: u64 = 1 << 30;

/// Who asks, and the sequencer's clock when it decides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    pub now: Timestamp,
    pub actor: ActorId,
}

pub fn decide(state: &Ledger, ctx: &Context, command: &Command) -> Result<Vec<Event>, Rejection> {
    let Some(config) = state.config.as_ref() else {
        return match command {
            Command::OpenLedger(c) => registry::open_ledger(c),
            _ => Err(Rejection::LedgerNotOpen),
        };
    };
    let d = Decider { state, ctx, config };
    match command {
        Command::OpenLedger(_) => Err(Rejection::LedgerAlreadyOpen),
        Command::RegisterUnit(c) => d.register_unit(c),
        Command::SetQuota(c) => d.set_quota(c),
        Command::RegisterVolunteer(c) => d.register_volunteer(c),
        Command::ApproveVolunteer(c) => d.approve_volunteer(c),
        Command::RejectVolunteer(c) => d.reject_volunteer(c),
        Command::ProposeProject(c) => d.propose_project(c),
        Command::ApproveProject(c) => d.approve_project(c),
        Command::RejectProject(c) => d.reject_project(c),
        Command::UndertakeProject(c) => d.undertake_project(c),
        Command::PublishActivity(c) => d.publish_activity(c),
        Command::CancelActivity(c) => d.cancel_activity(c),
        Command::SignUp(c) => d.sign_up(c),
        Command::CancelSignUp(c) => d.cancel_sign_up(c),
        Command::RecordInsurance(c) => d.record_insurance(c),
        Command::CheckIn(c) => d.check_in(c),
        Command::CheckOut(c) => d.check_out(c),
        Command::CloseForgottenCheckOuts(c) => d.close_forgotten_check_outs(c),
        Command::BackfillHours(c) => d.backfill_hours(c),
        Command::DisputeCredit(c) => d.dispute_credit(c),
        Command::ReviewCredit(c) => d.review_credit(c),
        Command::ConfirmCredit(c) => d.confirm_credit(c),
        Command::ConfirmDueCredits(c) => d.confirm_due_credits(c),
        Command::AwardPoints(c) => d.award_points(c),
        Command::ListReward(c) => d.list_reward(c),
        Command::RestockReward(c) => d.restock_reward(c),
        Command::Redeem(c) => d.redeem(c),
        Command::Reverse(c) => d.reverse(c),
        Command::PostWish(c) => d.post_wish(c),
        Command::ClaimWish(c) => d.claim_wish(c),
        Command::FulfilWish(c) => d.fulfil_wish(c),
        Command::WithdrawWish(c) => d.withdraw_wish(c),
        Command::StartPairing(c) => d.start_pairing(c),
        Command::EndPairing(c) => d.end_pairing(c),
        Command::DeclareCampaign(c) => d.declare_campaign(c),
        Command::FileReport(c) => d.file_report(c),
        Command::RecordCheckpoint(c) => d.record_checkpoint(c),
        Command::PublishLedgerKey(c) => d.publish_ledger_key(c),
        Command::RequestEntry(c) => d.request_entry(c),
        Command::ApproveRequest(c) => d.approve_request(c),
        Command::DeclineRequest(c) => d.decline_request(c),
    }
}

/// A command being decided against one state: the lookups every rule uses.
struct Decider<'a> {
    state: &'a Ledger,
    ctx: &'a Context,
    config: &'a LedgerConfig,
}

impl<'a> Decider<'a> {
    fn unit(&self, id: &UnitId) -> Result<&'a UnitState, Rejection> {
        self.state
            .units
            .get(id)
            .ok_or_else(|| Rejection::UnknownUnit(id.clone()))
    }

    fn volunteer(&self, id: &VolunteerId) -> Result<&'a VolunteerState, Rejection> {
        self.state
            .volunteers
            .get(id)
            .ok_or_else(|| Rejection::UnknownVolunteer(id.clone()))
    }

    /// The volunteer's slot in the activities' tables, if registered.
    fn slot(&self, id: &VolunteerId) -> Option<u32> {
        self.state.volunteers.get(id).map(|v| v.slot)
    }

    /// Only volunteers approved at all three levels serve and earn.
    fn approved(&self, id: &VolunteerId) -> Result<&'a VolunteerState, Rejection> {
        let v = self.volunteer(id)?;
        match v.volunteer.status {
            VolunteerStatus::Approved => Ok(v),
            _ => Err(Rejection::VolunteerNotApproved(id.clone())),
        }
    }

    fn activity(&self, id: &ActivityId) -> Result<&'a ActivityState, Rejection> {
        self.state
            .activities
            .get(id)
            .ok_or_else(|| Rejection::UnknownActivity(id.clone()))
    }

    /// An activity that is not cancelled.
    fn live_activity(&self, id: &ActivityId) -> Result<&'a ActivityState, Rejection> {
        let a = self.activity(id)?;
        if a.activity.cancelled {
            return Err(Rejection::ActivityCancelled(id.clone()));
        }
        Ok(a)
    }

    fn credit(&self, id: CreditId) -> Result<&'a Credit, Rejection> {
        self.state
            .credits
            .get(&id)
            .ok_or(Rejection::UnknownCredit(id))
    }

    /// Reported times may not lie in the future beyond clock skew.
    fn not_future(&self, field: &'static str, at: Timestamp) -> Result<(), Rejection> {
        if at > self.ctx.now.plus_minutes(CLOCK_SKEW_MINUTES) {
            return Err(Rejection::FutureTime {
                field,
                at,
                now: self.ctx.now,
            });
        }
        Ok(())
    }

    /// Manual entries need a second person: the approver is not the actor.
    fn four_eyes(&self, approver: &ActorId) -> Result<(), Rejection> {
        if approver == &self.ctx.actor {
            return Err(Rejection::SelfApproval { field: "approver" });
        }
        Ok(())
    }

    /// The volunteer's minutes on `day` may not pass 16 hours.
    fn within_daily_limit(
        &self,
        v: &VolunteerState,
        day: crate::time::Day,
        adding: u64,
    ) -> Result<(), Rejection> {
        let held = v.account.daily_minutes.get(&day).copied().unwrap_or(0);
        if held + adding > MAX_DAILY_MINUTES {
            return Err(Rejection::DailyLimitExceeded {
                volunteer: v.volunteer.id.clone(),
                minutes: held + adding,
                max: MAX_DAILY_MINUTES,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod props;
