//! The ledger's state: everything the rules need to decide the next command.
//! [`Ledger::apply`] folds one event into it; it is total (an event that
//! names something unknown changes nothing) and deterministic, so replaying
//! the chain from empty always yields the same state.

use std::collections::{BTreeMap, BTreeSet};

mod daily;
mod timeline;
mod volunteers;

pub use daily::DailyMinutes;
pub use timeline::{Span, Timeline};
pub use volunteers::Volunteers;

use crate::domain::{
    Activity, Award, AwardBasis, Campaign, Checkpoint, Credit, CreditSource, CreditStatus,
    EntryRef, ManualEntry, Pairing, Project, ProjectStatus, Proposer, Redemption, Report, Request,
    Reward, Session, Unit, Volunteer, VolunteerStatus, Wish, WishStatus,
};
use crate::event::*;
use crate::hashing::Map;
use crate::numbered::Numbered;
use crate::owners::{self, EntryOwners};
use crate::signing::PublicKey;
use crate::time::{Timestamp, UtcOffset};
use crate::values::{
    ActivityId, AwardId, CampaignId, CreditId, LedgerId, PairingId, ProjectId, RedemptionId,
    ReportId, RequestId, RewardId, SessionId, Text, UnitId, VolunteerId, WishId,
};

/// Fixed at genesis; never changes under replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerConfig {
    pub ledger: LedgerId,
    pub name: Text,
    pub objection_window_days: u16,
    pub utc_offset: UtcOffset,
    pub number_prefix: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitState {
    pub unit: Unit,
    pub children: Vec<UnitId>,
    /// Volunteers registered anywhere in this unit's subtree and not rejected.
    pub registered: u64,
}

/// A volunteer's running totals. Minutes and points count only once
/// confirmed; pending minutes are kept apart.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Account {
    pub confirmed_system_minutes: u64,
    pub confirmed_backfill_minutes: u64,
    pub pending_minutes: u64,
    pub points_earned: u64,
    pub points_redeemed: u64,
    /// Minutes held per local day by credits that are not void or reversed.
    pub daily_minutes: DailyMinutes,
    /// Every attendance session, in time order.
    pub timeline: Timeline,
}

impl Account {
    pub fn confirmed_minutes(&self) -> u64 {
        self.confirmed_system_minutes + self.confirmed_backfill_minutes
    }

    pub fn balance(&self) -> u64 {
        self.points_earned.saturating_sub(self.points_redeemed)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolunteerState {
    pub volunteer: Volunteer,
    pub account: Account,
    /// The volunteer's place in the order of registration. The activities'
    /// tables name volunteers by it: four bytes, compared at once, where an
    /// id is a string.
    pub slot: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActivityState {
    pub activity: Activity,
    // Volunteers by slot (`VolunteerState::slot`).
    pub sign_ups: BTreeSet<u32>,
    pub insured: BTreeSet<u32>,
    /// Sessions checked in and not yet out, by volunteer.
    pub open: BTreeMap<u32, SessionId>,
    /// Volunteers with at least one recorded session.
    pub attended: BTreeSet<u32>,
    /// Minutes held per volunteer by live credits (system and backfilled).
    pub credited: BTreeMap<u32, u64>,
}

/// Ledger-assigned numbers, so replay assigns the same ones.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub sessions: u64,
    pub credits: u64,
    pub awards: u64,
    pub redemptions: u64,
    pub volunteers: u64,
    pub requests: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ledger {
    pub config: Option<LedgerConfig>,
    /// Events applied so far; checkpoints commit to a prefix of this length.
    pub events: u64,
    pub units: Map<UnitId, UnitState>,
    // The tables that grow with the chain hold their entries inline in
    // pages (`Paged`), which keep room for at most a page more: volunteers
    // by slot, and the entries the ledger numbers itself by number
    // (`Numbered`). Boxes had done that job before, at a pointer and the
    // allocator's rounding an entry (docs/performance.md).
    pub volunteers: Volunteers,
    pub projects: Map<ProjectId, Project>,
    pub activities: Map<ActivityId, ActivityState>,
    pub sessions: Numbered<SessionId, Session>,
    pub credits: Numbered<CreditId, Credit>,
    /// Pending credits by objection deadline, for confirming in order.
    pub pending_by_deadline: BTreeSet<(Timestamp, CreditId)>,
    pub awards: Numbered<AwardId, Award>,
    pub rewards: Map<RewardId, Reward>,
    pub redemptions: Numbered<RedemptionId, Redemption>,
    pub wishes: Map<WishId, Wish>,
    pub pairings: Map<PairingId, Pairing>,
    /// Each volunteer's pairing not yet ended, by slot: few volunteers
    /// have one, so it is kept here rather than on every account.
    pub active_pairings: Map<u32, PairingId>,
    pub campaigns: Map<CampaignId, Campaign>,
    pub reports: Map<ReportId, Report>,
    pub last_checkpoint: Option<Checkpoint>,
    /// The key that signs checkpoints now.
    pub ledger_key: Option<PublicKey>,
    /// Hand-made entries waiting for a second admin.
    pub requests: BTreeMap<RequestId, Request>,
    pub counters: Counters,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Folds a sequence of events into a fresh state.
    pub fn replay<'a>(events: impl IntoIterator<Item = &'a Event>) -> Ledger {
        let mut state = Ledger::new();
        for event in events {
            state.apply(event);
        }
        state
    }

    /// The unit and its ancestors, nearest first. Stops at a cycle or a
    /// missing parent, which the rules never let in.
    pub fn ancestry<'a>(&'a self, unit: &'a UnitId) -> impl Iterator<Item = &'a UnitState> + 'a {
        let mut next = self.units.get(unit);
        let mut steps = 0usize;
        std::iter::from_fn(move || {
            let current = next?;
            steps += 1;
            if steps > self.units.len() {
                return None;
            }
            next = current.unit.parent.as_ref().and_then(|p| self.units.get(p));
            Some(current)
        })
    }

    /// Whether `unit` is `ancestor` or lies in its subtree.
    pub fn is_within(&self, unit: &UnitId, ancestor: &UnitId) -> bool {
        self.ancestry(unit).any(|u| &u.unit.id == ancestor)
    }

    /// The unit an event concerns most directly (the organiser of its
    /// activity, a volunteer's home unit, the unit it names), for routing
    /// events to subscribers. Ledger-wide events concern none.
    pub fn unit_of(&self, event: &Event) -> Option<UnitId> {
        let home = |v: &VolunteerId| self.home_of(v);
        let organiser = |a: &ActivityId| self.organiser_of(a);
        let credit = |c: &CreditId| self.credits.get(c).and_then(|c| organiser(&c.activity));
        match event {
            Event::LedgerOpened(_)
            | Event::CheckpointRecorded(_)
            | Event::LedgerKeyPublished(_) => None,
            Event::UnitRegistered(e) => Some(e.unit.id.clone()),
            Event::QuotaSet(e) => Some(e.unit.clone()),
            Event::VolunteerRegistered(e) => Some(e.home_unit.clone()),
            Event::VolunteerApproved(e) => home(&e.volunteer),
            Event::VolunteerRejected(e) => home(&e.volunteer),
            Event::ProjectProposed(e) => Some(e.filed_by.clone()),
            Event::ProjectApproved(e) => self.projects.get(&e.project).map(|p| p.filed_by.clone()),
            Event::ProjectRejected(e) => self.projects.get(&e.project).map(|p| p.filed_by.clone()),
            Event::ProjectUndertaken(e) => Some(e.unit.clone()),
            Event::ActivityPublished(e) => Some(e.organiser.clone()),
            Event::ActivityCancelled(e) => organiser(&e.activity),
            Event::SignedUp(e) => organiser(&e.activity),
            Event::SignUpCancelled(e) => organiser(&e.activity),
            Event::InsuranceRecorded(e) => organiser(&e.activity),
            Event::CheckedIn(e) => organiser(&e.activity),
            Event::CheckedOut(e) => self
                .sessions
                .get(&e.session)
                .and_then(|s| organiser(&s.activity)),
            Event::HoursCredited(e) => organiser(&e.activity),
            Event::CreditDisputed(e) => credit(&e.credit),
            Event::CreditReviewed(e) => credit(&e.credit),
            Event::CreditConfirmed(e) => credit(&e.credit),
            Event::PointsAwarded(e) => home(&e.volunteer),
            Event::RewardListed(e) => Some(e.reward.unit.clone()),
            Event::RewardRestocked(e) => self.rewards.get(&e.reward).map(|r| r.unit.clone()),
            Event::RewardRedeemed(e) => home(&e.volunteer),
            Event::EntryReversed(e) => self.entry_unit(&ManualEntry::Reversal { target: e.target }),
            Event::WishPosted(e) => Some(e.unit.clone()),
            Event::WishClaimed(e) => self.wishes.get(&e.wish).map(|w| w.unit.clone()),
            Event::WishFulfilled(e) => self.wishes.get(&e.wish).map(|w| w.unit.clone()),
            Event::WishWithdrawn(e) => self.wishes.get(&e.wish).map(|w| w.unit.clone()),
            Event::PairingStarted(e) => Some(e.unit.clone()),
            Event::PairingEnded(e) => self.pairings.get(&e.pairing).map(|p| p.unit.clone()),
            Event::CampaignDeclared(e) => Some(e.campaign.organiser.clone()),
            Event::ReportFiled(e) => Some(e.report.unit.clone()),
            Event::EntryRequested(e) => self.entry_unit(&e.entry),
            Event::RequestApproved(RequestApproved { request })
            | Event::RequestDeclined(RequestDeclined { request, .. }) => self
                .requests
                .get(request)
                .and_then(|r| self.entry_unit(&r.entry)),
        }
    }

    fn home_of(&self, volunteer: &VolunteerId) -> Option<UnitId> {
        self.volunteers
            .get(volunteer)
            .map(|v| v.volunteer.home_unit.clone())
    }

    fn organiser_of(&self, activity: &ActivityId) -> Option<UnitId> {
        self.activities
            .get(activity)
            .map(|a| a.activity.organiser.clone())
    }

    /// The unit a hand-made entry concerns: the organiser of the activity
    /// its hours are for, or the home unit of the volunteer whose points
    /// it changes. Its rights and its routing follow this unit.
    pub fn entry_unit(&self, entry: &ManualEntry) -> Option<UnitId> {
        let home = |v: &VolunteerId| self.home_of(v);
        let organiser = |a: &ActivityId| self.organiser_of(a);
        match entry {
            ManualEntry::Backfill { activity, .. } => organiser(activity),
            ManualEntry::Award { volunteer, .. } => home(volunteer),
            ManualEntry::Reversal { target } => match target {
                EntryRef::Credit(c) => self.credits.get(c).and_then(|c| organiser(&c.activity)),
                EntryRef::Award(a) => self.awards.get(a).and_then(|a| home(&a.volunteer)),
                EntryRef::Redemption(r) => self.redemptions.get(r).and_then(|r| home(&r.volunteer)),
            },
        }
    }

    /// The pairing `volunteer` is in now, if any.
    pub fn active_pairing(&self, volunteer: &VolunteerState) -> Option<&PairingId> {
        self.active_pairings.get(&volunteer.slot)
    }

    /// The volunteer an event is about, if any (see [`owners::volunteer_of`]).
    /// Read before the event is applied.
    pub fn volunteer_of(&self, event: &Event) -> Option<VolunteerId> {
        owners::volunteer_of(self, event)
    }

    pub fn apply(&mut self, event: &Event) {
        self.events += 1;
        match event {
            Event::LedgerOpened(e) => self.opened(e),
            Event::UnitRegistered(e) => self.unit_registered(e),
            Event::QuotaSet(e) => {
                if let Some(u) = self.units.get_mut(&e.unit) {
                    u.unit.quota = e.quota;
                }
            }
            Event::VolunteerRegistered(e) => self.volunteer_registered(e),
            Event::VolunteerApproved(e) => {
                if let Some(v) = self.volunteers.get_mut(&e.volunteer) {
                    v.volunteer.status = match e.level.next() {
                        Some(next) => VolunteerStatus::AwaitingApproval(next),
                        None => VolunteerStatus::Approved,
                    };
                }
            }
            Event::VolunteerRejected(e) => self.volunteer_rejected(e),
            Event::ProjectProposed(e) => {
                self.projects.insert(
                    e.project.clone(),
                    Project {
                        id: e.project.clone(),
                        title: e.title.clone(),
                        category: e.category,
                        proposer: e.proposer.clone(),
                        filed_by: e.filed_by.clone(),
                        status: match e.proposer {
                            Proposer::City => ProjectStatus::Approved,
                            _ => ProjectStatus::Proposed,
                        },
                        undertakers: Vec::new(),
                    },
                );
            }
            Event::ProjectApproved(e) => {
                self.set_project_status(&e.project, ProjectStatus::Approved)
            }
            Event::ProjectRejected(e) => {
                self.set_project_status(&e.project, ProjectStatus::Rejected)
            }
            Event::ProjectUndertaken(e) => {
                if let Some(p) = self.projects.get_mut(&e.project) {
                    p.undertakers.push(e.unit.clone());
                }
            }
            Event::ActivityPublished(e) => self.activity_published(e),
            Event::ActivityCancelled(e) => {
                if let Some(a) = self.activities.get_mut(&e.activity) {
                    a.activity.cancelled = true;
                }
            }
            Event::SignedUp(e) => {
                if let Some((a, slot)) = self.activity_and_slot(&e.activity, &e.volunteer) {
                    a.sign_ups.insert(slot);
                }
            }
            Event::SignUpCancelled(e) => {
                if let Some((a, slot)) = self.activity_and_slot(&e.activity, &e.volunteer) {
                    a.sign_ups.remove(&slot);
                }
            }
            Event::InsuranceRecorded(e) => {
                if let Some((a, slot)) = self.activity_and_slot(&e.activity, &e.volunteer) {
                    a.insured.insert(slot);
                }
            }
            Event::CheckedIn(e) => self.checked_in(e),
            Event::CheckedOut(e) => self.checked_out(e),
            Event::HoursCredited(e) => self.hours_credited(e),
            Event::CreditDisputed(e) => {
                if let Some(c) = self.credits.get_mut(&e.credit) {
                    self.pending_by_deadline
                        .remove(&(c.objection_deadline, c.id));
                    c.status = CreditStatus::InReview;
                }
            }
            Event::CreditReviewed(e) => self.credit_reviewed(e),
            Event::CreditConfirmed(e) => self.credit_confirmed(e),
            Event::PointsAwarded(e) => self.points_awarded(e),
            Event::RewardListed(e) => {
                self.rewards.insert(e.reward.id.clone(), e.reward.clone());
            }
            Event::RewardRestocked(e) => {
                if let Some(r) = self.rewards.get_mut(&e.reward) {
                    r.stock = r.stock.saturating_add(e.quantity);
                }
            }
            Event::RewardRedeemed(e) => self.reward_redeemed(e),
            Event::EntryReversed(e) => self.entry_reversed(e),
            Event::WishPosted(e) => {
                self.wishes.insert(
                    e.wish.clone(),
                    Wish {
                        id: e.wish.clone(),
                        unit: e.unit.clone(),
                        title: e.title.clone(),
                        beneficiary_alias: e.beneficiary_alias.clone(),
                        status: WishStatus::Open,
                    },
                );
            }
            Event::WishClaimed(e) => {
                self.set_wish_status(&e.wish, WishStatus::Claimed(e.volunteer.clone()))
            }
            Event::WishFulfilled(e) => {
                self.set_wish_status(&e.wish, WishStatus::Fulfilled(e.volunteer.clone()))
            }
            Event::WishWithdrawn(e) => self.set_wish_status(&e.wish, WishStatus::Withdrawn),
            Event::PairingStarted(e) => {
                self.pairings.insert(
                    e.pairing.clone(),
                    Pairing {
                        id: e.pairing.clone(),
                        volunteer: e.volunteer.clone(),
                        unit: e.unit.clone(),
                        beneficiary_alias: e.beneficiary_alias.clone(),
                        started: e.at,
                        ended: None,
                    },
                );
                if let Some(v) = self.volunteers.get(&e.volunteer) {
                    self.active_pairings.insert(v.slot, e.pairing.clone());
                }
            }
            Event::PairingEnded(e) => {
                if let Some(p) = self.pairings.get_mut(&e.pairing) {
                    p.ended = Some(e.at);
                    if let Some(v) = self.volunteers.get(&p.volunteer) {
                        if self.active_pairings.get(&v.slot) == Some(&e.pairing) {
                            self.active_pairings.remove(&v.slot);
                        }
                    }
                }
            }
            Event::CampaignDeclared(e) => {
                self.campaigns
                    .insert(e.campaign.id.clone(), e.campaign.clone());
            }
            Event::ReportFiled(e) => {
                self.reports.insert(e.report.id.clone(), e.report.clone());
            }
            Event::CheckpointRecorded(e) => self.last_checkpoint = Some(e.checkpoint.clone()),
            Event::LedgerKeyPublished(e) => self.ledger_key = Some(e.public_key),
            Event::EntryRequested(e) => {
                self.counters.requests = self.counters.requests.max(e.request.0);
                self.requests.insert(
                    e.request,
                    Request {
                        id: e.request,
                        entry: e.entry.clone(),
                        reason: e.reason.clone(),
                        requested_by: e.requested_by.clone(),
                    },
                );
            }
            Event::RequestApproved(RequestApproved { request })
            | Event::RequestDeclined(RequestDeclined { request, .. }) => {
                self.requests.remove(request);
            }
        }
    }

    fn opened(&mut self, e: &LedgerOpened) {
        self.config = Some(LedgerConfig {
            ledger: e.ledger.clone(),
            name: e.name.clone(),
            objection_window_days: e.objection_window_days,
            utc_offset: e.utc_offset_minutes,
            number_prefix: e.number_prefix.clone(),
        });
    }

    fn unit_registered(&mut self, e: &UnitRegistered) {
        if let Some(parent) = e.unit.parent.as_ref().and_then(|p| self.units.get_mut(p)) {
            parent.children.push(e.unit.id.clone());
        }
        self.units.insert(
            e.unit.id.clone(),
            UnitState {
                unit: e.unit.clone(),
                children: Vec::new(),
                registered: 0,
            },
        );
    }

    fn count_registration(&mut self, home: &UnitId, registered: bool) {
        let chain: Vec<UnitId> = self.ancestry(home).map(|u| u.unit.id.clone()).collect();
        for id in chain {
            if let Some(u) = self.units.get_mut(&id) {
                u.registered = if registered {
                    u.registered + 1
                } else {
                    u.registered.saturating_sub(1)
                };
            }
        }
    }

    /// The activity, to change, and the volunteer's slot; `None` if either
    /// is unknown (which the rules never let an event name).
    fn activity_and_slot(
        &mut self,
        activity: &ActivityId,
        volunteer: &VolunteerId,
    ) -> Option<(&mut ActivityState, u32)> {
        let slot = self.volunteers.get(volunteer)?.slot;
        Some((self.activities.get_mut(activity)?, slot))
    }

    fn volunteer_registered(&mut self, e: &VolunteerRegistered) {
        self.counters.volunteers += 1;
        self.count_registration(&e.home_unit, true);
        self.volunteers.register(VolunteerState {
            volunteer: Volunteer {
                id: e.volunteer.clone(),
                number: e.number.clone(),
                home_unit: e.home_unit.clone(),
                membership: e.membership,
                groups: e.groups.as_slice().into(),
                specialties: e.specialties.as_slice().into(),
                identity: e.identity,
                status: VolunteerStatus::AwaitingApproval(crate::domain::ApprovalLevel::Unit),
            },
            account: Account::default(),
            // The table gives the next slot.
            slot: 0,
        });
    }

    fn volunteer_rejected(&mut self, e: &VolunteerRejected) {
        let Some(v) = self.volunteers.get_mut(&e.volunteer) else {
            return;
        };
        v.volunteer.status = VolunteerStatus::Rejected(e.level);
        // A rejected registration frees its quota place and its identity, so
        // the person may apply again.
        let home = v.volunteer.home_unit.clone();
        let identity = v.volunteer.identity;
        self.volunteers.release(&identity);
        self.count_registration(&home, false);
    }

    fn set_project_status(&mut self, project: &ProjectId, status: ProjectStatus) {
        if let Some(p) = self.projects.get_mut(project) {
            p.status = status;
        }
    }

    fn set_wish_status(&mut self, wish: &WishId, status: WishStatus) {
        if let Some(w) = self.wishes.get_mut(wish) {
            w.status = status;
        }
    }

    fn activity_published(&mut self, e: &ActivityPublished) {
        let activity = Activity {
            id: e.activity.clone(),
            project: e.project.clone(),
            campaign: e.campaign.clone(),
            organiser: e.organiser.clone(),
            co_organisers: e.co_organisers.clone(),
            category: e.category,
            title: e.title.clone(),
            place: e.place.clone(),
            window: e.window,
            capacity: e.capacity,
            featured: e.featured,
            points_rule: e.points_rule,
            auto_check_out: e.auto_check_out,
            insurance_required: e.insurance_required,
            walk_ins: e.walk_ins,
            cancelled: false,
        };
        self.activities.insert(
            e.activity.clone(),
            ActivityState {
                activity,
                sign_ups: BTreeSet::new(),
                insured: BTreeSet::new(),
                open: BTreeMap::new(),
                attended: BTreeSet::new(),
                credited: BTreeMap::new(),
            },
        );
    }

    fn checked_in(&mut self, e: &CheckedIn) {
        self.counters.sessions = self.counters.sessions.max(e.session.0);
        let replaced = self.sessions.insert(
            e.session,
            Session {
                id: e.session,
                volunteer: e.volunteer.clone(),
                activity: e.activity.clone(),
                check_in: e.at,
                check_out: None,
            },
        );
        // The rules never record an id twice; if an event does, the later
        // record wins here as it does in the sessions' table.
        if let Some(old) = replaced {
            if let Some(v) = self.volunteers.get_mut(&old.volunteer) {
                v.account.timeline.remove(old.id, old.check_in);
            }
        }
        if let Some((a, slot)) = self.activity_and_slot(&e.activity, &e.volunteer) {
            a.open.insert(slot, e.session);
            a.attended.insert(slot);
        }
        if let Some(v) = self.volunteers.get_mut(&e.volunteer) {
            v.account.timeline.check_in(e.session, e.at);
        }
    }

    fn checked_out(&mut self, e: &CheckedOut) {
        let Some(session) = self.sessions.get_mut(&e.session) else {
            return;
        };
        session.check_out = Some(e.at);
        let Some(v) = self.volunteers.get_mut(&session.volunteer) else {
            return;
        };
        v.account
            .timeline
            .check_out(e.session, session.check_in, e.at);
        if let Some(a) = self.activities.get_mut(&session.activity) {
            if a.open.get(&v.slot) == Some(&e.session) {
                a.open.remove(&v.slot);
            }
        }
    }

    /// Adds (`add`) or releases the minutes a live credit holds on the
    /// volunteer's day and on the activity.
    fn hold_minutes(&mut self, credit: &Credit, minutes: u64, add: bool) {
        let adjust = |held: &mut u64| {
            *held = if add {
                held.saturating_add(minutes)
            } else {
                held.saturating_sub(minutes)
            }
        };
        let Some(v) = self.volunteers.get_mut(&credit.volunteer) else {
            return;
        };
        v.account.daily_minutes.adjust(credit.day, minutes, add);
        if let Some(a) = self.activities.get_mut(&credit.activity) {
            let held = a.credited.entry(v.slot).or_default();
            adjust(held);
            if *held == 0 {
                a.credited.remove(&v.slot);
            }
        }
    }

    fn hours_credited(&mut self, e: &HoursCredited) {
        self.counters.credits = self.counters.credits.max(e.credit.0);
        let credit = Credit {
            id: e.credit,
            volunteer: e.volunteer.clone(),
            activity: e.activity.clone(),
            minutes: e.minutes,
            day: e.day,
            source: e.source.clone(),
            objection_deadline: e.objection_deadline,
            points_rule: e.points_rule,
            status: CreditStatus::Pending,
            award: None,
        };
        self.hold_minutes(&credit, u64::from(e.minutes), true);
        if let Some(v) = self.volunteers.get_mut(&e.volunteer) {
            v.account.pending_minutes += u64::from(e.minutes);
        }
        self.pending_by_deadline
            .insert((credit.objection_deadline, credit.id));
        self.credits.insert(e.credit, credit);
    }

    fn credit_reviewed(&mut self, e: &CreditReviewed) {
        use crate::command::ReviewOutcome;
        let Some(credit) = self.credits.get(&e.credit).cloned() else {
            return;
        };
        match e.outcome {
            ReviewOutcome::Uphold => {}
            ReviewOutcome::Amend { minutes } => {
                self.hold_minutes(&credit, u64::from(credit.minutes), false);
                self.hold_minutes(&credit, u64::from(minutes), true);
                if let Some(v) = self.volunteers.get_mut(&credit.volunteer) {
                    let pending = &mut v.account.pending_minutes;
                    *pending =
                        pending.saturating_sub(u64::from(credit.minutes)) + u64::from(minutes);
                }
                if let Some(c) = self.credits.get_mut(&e.credit) {
                    c.minutes = minutes;
                }
            }
            ReviewOutcome::Void => {
                self.hold_minutes(&credit, u64::from(credit.minutes), false);
                if let Some(v) = self.volunteers.get_mut(&credit.volunteer) {
                    let pending = &mut v.account.pending_minutes;
                    *pending = pending.saturating_sub(u64::from(credit.minutes));
                }
                if let Some(c) = self.credits.get_mut(&e.credit) {
                    c.status = CreditStatus::Voided;
                }
            }
        }
    }

    fn credit_confirmed(&mut self, e: &CreditConfirmed) {
        let Some(credit) = self.credits.get_mut(&e.credit) else {
            return;
        };
        credit.status = CreditStatus::Confirmed;
        let minutes = u64::from(credit.minutes);
        let system = credit.source.is_system();
        self.pending_by_deadline
            .remove(&(credit.objection_deadline, credit.id));
        if let Some(v) = self.volunteers.get_mut(&credit.volunteer) {
            let account = &mut v.account;
            account.pending_minutes = account.pending_minutes.saturating_sub(minutes);
            if system {
                account.confirmed_system_minutes += minutes;
            } else {
                account.confirmed_backfill_minutes += minutes;
            }
        }
    }

    fn points_awarded(&mut self, e: &PointsAwarded) {
        self.counters.awards = self.counters.awards.max(e.award.0);
        if let AwardBasis::Credit { credit, .. } = &e.basis {
            if let Some(c) = self.credits.get_mut(credit) {
                c.award = Some(e.award);
            }
        }
        if let Some(v) = self.volunteers.get_mut(&e.volunteer) {
            v.account.points_earned = v.account.points_earned.saturating_add(e.points);
        }
        self.awards.insert(
            e.award,
            Award {
                id: e.award,
                volunteer: e.volunteer.clone(),
                points: e.points,
                basis: e.basis.clone(),
                reversed: false,
            },
        );
    }

    fn reward_redeemed(&mut self, e: &RewardRedeemed) {
        self.counters.redemptions = self.counters.redemptions.max(e.redemption.0);
        if let Some(r) = self.rewards.get_mut(&e.reward) {
            r.stock = r.stock.saturating_sub(u64::from(e.quantity));
        }
        if let Some(v) = self.volunteers.get_mut(&e.volunteer) {
            v.account.points_redeemed = v.account.points_redeemed.saturating_add(e.points);
        }
        self.redemptions.insert(
            e.redemption,
            Redemption {
                id: e.redemption,
                volunteer: e.volunteer.clone(),
                reward: e.reward.clone(),
                quantity: e.quantity,
                points: e.points,
                reversed: false,
            },
        );
    }

    fn entry_reversed(&mut self, e: &EntryReversed) {
        match e.target {
            EntryRef::Credit(id) => self.credit_reversed(id),
            EntryRef::Award(id) => {
                let Some(award) = self.awards.get_mut(&id) else {
                    return;
                };
                award.reversed = true;
                if let Some(v) = self.volunteers.get_mut(&award.volunteer) {
                    v.account.points_earned = v.account.points_earned.saturating_sub(award.points);
                }
            }
            EntryRef::Redemption(id) => {
                let Some(redemption) = self.redemptions.get_mut(&id) else {
                    return;
                };
                redemption.reversed = true;
                if let Some(v) = self.volunteers.get_mut(&redemption.volunteer) {
                    v.account.points_redeemed =
                        v.account.points_redeemed.saturating_sub(redemption.points);
                }
                if let Some(r) = self.rewards.get_mut(&redemption.reward) {
                    r.stock = r.stock.saturating_add(u64::from(redemption.quantity));
                }
            }
        }
    }

    fn credit_reversed(&mut self, id: CreditId) {
        let Some(credit) = self.credits.get(&id).cloned() else {
            return;
        };
        if !credit.status.holds_minutes() {
            return;
        }
        let minutes = u64::from(credit.minutes);
        self.hold_minutes(&credit, minutes, false);
        self.pending_by_deadline
            .remove(&(credit.objection_deadline, credit.id));
        if let Some(v) = self.volunteers.get_mut(&credit.volunteer) {
            let account = &mut v.account;
            match (credit.status, &credit.source) {
                (CreditStatus::Confirmed, CreditSource::Attendance { .. }) => {
                    account.confirmed_system_minutes =
                        account.confirmed_system_minutes.saturating_sub(minutes)
                }
                (CreditStatus::Confirmed, CreditSource::Backfill(_)) => {
                    account.confirmed_backfill_minutes =
                        account.confirmed_backfill_minutes.saturating_sub(minutes)
                }
                _ => account.pending_minutes = account.pending_minutes.saturating_sub(minutes),
            }
        }
        if let Some(c) = self.credits.get_mut(&id) {
            c.status = CreditStatus::Reversed;
        }
    }
}

impl EntryOwners for Ledger {
    fn session_owner(&self, id: SessionId) -> Option<&VolunteerId> {
        self.sessions.get(&id).map(|s| &s.volunteer)
    }

    fn credit_owner(&self, id: CreditId) -> Option<&VolunteerId> {
        self.credits.get(&id).map(|c| &c.volunteer)
    }

    fn award_owner(&self, id: AwardId) -> Option<&VolunteerId> {
        self.awards.get(&id).map(|a| &a.volunteer)
    }

    fn redemption_owner(&self, id: RedemptionId) -> Option<&VolunteerId> {
        self.redemptions.get(&id).map(|r| &r.volunteer)
    }

    fn pairing_owner(&self, id: &PairingId) -> Option<&VolunteerId> {
        self.pairings.get(id).map(|p| &p.volunteer)
    }
}
