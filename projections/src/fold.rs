//! Folding one verified event into the read models. Like the core state's
//! `apply`, it is total (an event naming something unknown changes
//! nothing) and deterministic, so a rebuild writes what incremental
//! application wrote.

use std::collections::HashMap;

use ledger_core::chain::Verified;
use ledger_core::domain::{
    AwardBasis, Category, CreditSource, CreditStatus, EntryRef, IdentityCommitment, ManualEntry,
};
use ledger_core::event::*;
use ledger_core::time::{Day, DayRange, UtcOffset};
use ledger_core::values::{CampaignId, UnitId, VolunteerId};
use ledger_core::Event;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::keys::{table, Key};
use crate::period::Period;
use crate::rows::*;
use crate::staged::{move_bytes, FirstTally, StagedRows};
use crate::store::{scan_prefix, Overlay, Read, StoreError};
use crate::tallies::Tallies;

/// History entries per stored chunk.
pub const HISTORY_CHUNK: u64 = 64;

/// What the fold keeps in memory besides the store: the unit tree and the
/// campaign phases (both small, both rebuilt from the store on open) and
/// the ledger's configuration.
#[derive(Clone, Debug, Default)]
pub struct Context {
    pub parents: HashMap<UnitId, Option<UnitId>>,
    pub phases: Vec<(CampaignId, u16, DayRange)>,
    pub config: Option<Config>,
}

impl Context {
    pub fn load<R: Read + ?Sized>(store: &R) -> Result<Context, StoreError> {
        let mut ctx = Context {
            config: get(store, &Key::table(table::CONFIG))?,
            ..Context::default()
        };
        for row in scan_prefix(store, &[table::UNIT], false) {
            let (key, value) = row?;
            let unit: UnitRow = decode(&key, &value)?;
            ctx.parents.insert(unit.unit.id, unit.unit.parent);
        }
        for row in scan_prefix(store, &[table::CAMPAIGN], false) {
            let (key, value) = row?;
            let campaign: CampaignRow = decode(&key, &value)?;
            ctx.add_phases(&campaign);
        }
        Ok(ctx)
    }

    fn add_phases(&mut self, row: &CampaignRow) {
        for (i, phase) in row.campaign.phases.iter().enumerate() {
            self.phases
                .push((row.campaign.id.clone(), i as u16, phase.days));
        }
    }

    /// The unit and its ancestors, nearest first.
    pub fn ancestry(&self, unit: &UnitId) -> Vec<UnitId> {
        let mut out = Vec::new();
        let mut next = Some(unit.clone());
        while let Some(u) = next {
            if out.len() > self.parents.len() || !self.parents.contains_key(&u) {
                break;
            }
            next = self.parents.get(&u).cloned().flatten();
            out.push(u);
        }
        out
    }

    /// Every period a day counts in: calendar ones and campaign phases.
    pub fn periods(&self, day: Day) -> Vec<Period> {
        let mut periods = Period::of_day(day).to_vec();
        for (campaign, phase, days) in &self.phases {
            if days.contains(day) {
                periods.push(Period::Campaign(campaign.clone(), *phase));
            }
        }
        periods
    }

    /// The ledger's offset from UTC (UTC until the ledger is opened).
    pub fn utc_offset(&self) -> UtcOffset {
        self.config.as_ref().map_or(UtcOffset(0), |c| c.utc_offset)
    }

    fn today(&self, verified: &Verified) -> Day {
        verified.record.recorded_at.local_day(self.utc_offset())
    }
}

pub fn decode<T: DeserializeOwned>(key: &[u8], value: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(value).map_err(|e| StoreError::Corrupt {
        key: hex::encode(key),
        reason: e.to_string(),
    })
}

pub fn get<T: DeserializeOwned, R: Read + ?Sized>(
    store: &R,
    key: &Key,
) -> Result<Option<T>, StoreError> {
    store
        .get(key.bytes())?
        .map(|v| decode(key.bytes(), &v))
        .transpose()
}

/// A stored history chunk (none yet: `None`) with `entry` added at the end.
/// The entries before it are not decoded: postcard writes a list as its
/// length, one byte below 128, then each entry, so adding one is counting
/// it and writing it after the others, and the 64th line of a chunk costs
/// no more than the first.
fn append_to_chunk(chunk: Option<Vec<u8>>, entry: &HistoryEntry) -> Option<Vec<u8>> {
    const _: () = assert!(HISTORY_CHUNK < 128);
    let mut chunk = chunk.unwrap_or_else(|| vec![0]);
    let len = chunk.first_mut()?;
    if u64::from(*len) >= HISTORY_CHUNK {
        return None;
    }
    *len += 1;
    postcard::to_extend(entry, chunk).ok()
}

fn put<T: Serialize, B: Read>(store: &mut Overlay<B>, key: Key, row: &T) {
    // Rows are plain data: postcard cannot fail on them.
    let bytes = postcard::to_allocvec(row).unwrap_or_default();
    store.put(key.into_bytes(), bytes);
}

/// A volunteer's tallies as a batch first finds them (none: no row).
fn tallies_of(row: Option<&VolunteerRow>) -> Tallies {
    row.map(|v| v.tallies.clone()).unwrap_or_default()
}

pub fn volunteer_key(v: &VolunteerId) -> Key {
    Key::table(table::VOLUNTEER).str(v.as_str())
}

pub fn member_key(unit: &UnitId, v: &VolunteerId) -> Key {
    Key::table(table::MEMBER).str(unit.as_str()).str(v.as_str())
}

const BY_NUMBER: u8 = 0;
const BY_IDENTITY: u8 = 1;

/// Where the volunteer of a unified number (LYG00000042) is found.
pub fn number_key(number: &str) -> Key {
    Key::table(table::LOOKUP).u8(BY_NUMBER).str(number)
}

/// Where the volunteer registered last under an identity is found.
pub fn identity_key(identity: &IdentityCommitment) -> Key {
    Key::table(table::LOOKUP)
        .u8(BY_IDENTITY)
        .digest(&identity.0)
}

pub fn unit_key(u: &UnitId) -> Key {
    Key::table(table::UNIT).str(u.as_str())
}

pub fn unit_tally_key(u: &UnitId, period: &Period, category: Option<Category>) -> Key {
    Key::table(table::UNIT_TALLY)
        .str(u.as_str())
        .period(period)
        .category(category)
}

pub fn history_key(v: &VolunteerId, chunk: u64) -> Key {
    Key::table(table::HISTORY).str(v.as_str()).u64(chunk)
}

pub fn activity_key(a: &ledger_core::values::ActivityId) -> Key {
    Key::table(table::ACTIVITY).str(a.as_str())
}

pub fn credit_key(c: ledger_core::values::CreditId) -> Key {
    Key::table(table::CREDIT).u64(c.0)
}

pub fn award_key(a: ledger_core::values::AwardId) -> Key {
    Key::table(table::AWARD).u64(a.0)
}

pub fn request_key(r: ledger_core::values::RequestId) -> Key {
    Key::table(table::REQUEST).u64(r.0)
}

pub fn campaign_key(c: &CampaignId) -> Key {
    Key::table(table::CAMPAIGN).str(c.as_str())
}

pub fn reward_key(r: &ledger_core::values::RewardId) -> Key {
    Key::table(table::REWARD).str(r.as_str())
}

const DAY_CREDIT: u8 = 0;
const DAY_AWARD: u8 = 1;

/// A volunteer's change of totals, for their history line.
#[derive(Default)]
struct Effect {
    about: Option<String>,
    minutes: i64,
    pending: i64,
    points: i64,
}

impl Effect {
    fn about(about: impl ToString) -> Effect {
        Effect {
            about: Some(about.to_string()),
            ..Effect::default()
        }
    }
}

pub struct Fold<'a, B> {
    pub store: &'a mut Overlay<B>,
    pub staged: &'a mut StagedRows,
    pub ctx: &'a mut Context,
    pub at: &'a Verified,
}

impl<B: Read> Fold<'_, B> {
    fn stamp(&self) -> Stamp {
        Stamp {
            sequence: self.at.head.sequence,
            at: self.at.record.recorded_at,
            by: self.at.record.actor.clone(),
        }
    }

    pub fn apply(&mut self) -> Result<(), StoreError> {
        let event = &self.at.record.event;
        match event {
            Event::LedgerOpened(e) => {
                let config = Config {
                    ledger: e.ledger.clone(),
                    name: e.name.clone(),
                    utc_offset: e.utc_offset_minutes,
                    objection_window_days: e.objection_window_days,
                };
                put(self.store, Key::table(table::CONFIG), &config);
                self.ctx.config = Some(config);
            }
            Event::UnitRegistered(e) => self.unit_registered(e)?,
            Event::QuotaSet(e) => {
                if let Some(mut row) = get::<UnitRow, _>(self.store, &unit_key(&e.unit))? {
                    row.unit.quota = e.quota;
                    put(self.store, unit_key(&e.unit), &row);
                }
            }
            Event::VolunteerRegistered(e) => self.volunteer_registered(e)?,
            Event::VolunteerApproved(e) => {
                self.with_volunteer(&e.volunteer, |v| {
                    v.status = match e.level.next() {
                        Some(next) => Approval::Awaiting(next),
                        None => Approval::Approved,
                    };
                    Ok(Effect::default())
                })?;
            }
            Event::VolunteerRejected(e) => self.volunteer_rejected(e)?,
            Event::ProjectProposed(_)
            | Event::ProjectApproved(_)
            | Event::ProjectRejected(_)
            | Event::ProjectUndertaken(_)
            | Event::CheckpointRecorded(_)
            | Event::LedgerKeyPublished(_) => {}
            Event::ActivityPublished(e) => self.activity_published(e),
            Event::ActivityCancelled(e) => {
                self.with_activity(&e.activity, |a| a.cancelled = true)?;
            }
            Event::SignedUp(e) => self.signed_up(e)?,
            Event::SignUpCancelled(e) => self.sign_up_cancelled(e)?,
            Event::InsuranceRecorded(e) => {
                self.with_volunteer(&e.volunteer, |_| Ok(Effect::about(&e.activity)))?;
            }
            Event::CheckedIn(e) => self.checked_in(e)?,
            Event::CheckedOut(e) => {
                let key = Key::table(table::SESSION).u64(e.session.0);
                if let Some(s) = get::<SessionRow, _>(self.store, &key)? {
                    self.session_closed(&s)?;
                    self.with_volunteer(&s.volunteer, |_| Ok(Effect::about(&s.activity)))?;
                }
            }
            Event::HoursCredited(e) => self.hours_credited(e)?,
            Event::CreditDisputed(e) => self.credit_disputed(e)?,
            Event::CreditReviewed(e) => {
                self.review_item(e.credit, false)?;
                self.credit_reviewed(e)?
            }
            Event::CreditConfirmed(e) => self.credit_confirmed(e)?,
            Event::PointsAwarded(e) => self.points_awarded(e)?,
            Event::RewardListed(e) => {
                let row = RewardRow {
                    reward: e.reward.clone(),
                    redeemed_quantity: 0,
                    redemptions: 0,
                };
                put(self.store, reward_key(&e.reward.id), &row);
            }
            Event::RewardRestocked(e) => {
                self.with_reward(&e.reward, |r| {
                    r.reward.stock = r.reward.stock.saturating_add(e.quantity)
                })?;
            }
            Event::RewardRedeemed(e) => self.reward_redeemed(e)?,
            Event::EntryReversed(e) => self.entry_reversed(e)?,
            Event::EntryRequested(e) => self.entry_requested(e)?,
            Event::RequestApproved(RequestApproved { request })
            | Event::RequestDeclined(RequestDeclined { request, .. }) => {
                self.store.delete(request_key(*request).into_bytes());
            }
            Event::WishPosted(e) => {
                let wish = ledger_core::domain::Wish {
                    id: e.wish.clone(),
                    unit: e.unit.clone(),
                    title: e.title.clone(),
                    beneficiary_alias: e.beneficiary_alias.clone(),
                    status: ledger_core::domain::WishStatus::Open,
                };
                put(self.store, wish_key(&e.wish), &wish);
            }
            Event::WishClaimed(e) => {
                self.set_wish(&e.wish, |w| {
                    w.status = ledger_core::domain::WishStatus::Claimed(e.volunteer.clone())
                })?;
                self.with_volunteer(&e.volunteer, |_| Ok(Effect::about(&e.wish)))?;
            }
            Event::WishFulfilled(e) => {
                self.set_wish(&e.wish, |w| {
                    w.status = ledger_core::domain::WishStatus::Fulfilled(e.volunteer.clone())
                })?;
                self.with_volunteer(&e.volunteer, |_| Ok(Effect::about(&e.wish)))?;
            }
            Event::WishWithdrawn(e) => {
                self.set_wish(&e.wish, |w| {
                    w.status = ledger_core::domain::WishStatus::Withdrawn
                })?;
            }
            Event::PairingStarted(e) => {
                let pairing = ledger_core::domain::Pairing {
                    id: e.pairing.clone(),
                    volunteer: e.volunteer.clone(),
                    unit: e.unit.clone(),
                    beneficiary_alias: e.beneficiary_alias.clone(),
                    started: e.at,
                    ended: None,
                };
                put(self.store, pairing_key(&e.pairing), &pairing);
                self.with_volunteer(&e.volunteer, |_| Ok(Effect::about(&e.pairing)))?;
            }
            Event::PairingEnded(e) => {
                let key = pairing_key(&e.pairing);
                if let Some(mut p) = get::<ledger_core::domain::Pairing, _>(self.store, &key)? {
                    p.ended = Some(e.at);
                    put(self.store, key, &p);
                    self.with_volunteer(&p.volunteer, |_| Ok(Effect::about(&e.pairing)))?;
                }
            }
            Event::CampaignDeclared(e) => self.campaign_declared(e)?,
            Event::ReportFiled(e) => {
                for file in &e.report.attachments {
                    let key = Key::table(table::ATTACHMENT)
                        .digest(&file.blake3)
                        .str(e.report.unit.as_str());
                    self.store.put(key.into_bytes(), Vec::new());
                }
                let key = campaign_key(&e.report.campaign);
                if let Some(mut c) = get::<CampaignRow, _>(self.store, &key)? {
                    let r = &e.report;
                    c.filings.push(Filing {
                        report: r.id.clone(),
                        unit: r.unit.clone(),
                        kind: r.kind,
                        deadline: r.deadline,
                        title: r.title.clone(),
                        filed_on: r.filed_on,
                        late: r.late,
                        attachments: r.attachments.len() as u32,
                    });
                    put(self.store, key, &c);
                }
            }
        }
        Ok(())
    }

    fn unit_registered(&mut self, e: &UnitRegistered) -> Result<(), StoreError> {
        if let Some(parent) = &e.unit.parent {
            if let Some(mut p) = get::<UnitRow, _>(self.store, &unit_key(parent))? {
                p.children.push(e.unit.id.clone());
                put(self.store, unit_key(parent), &p);
            }
        }
        let row = UnitRow {
            unit: e.unit.clone(),
            children: Vec::new(),
            registered: 0,
        };
        put(self.store, unit_key(&e.unit.id), &row);
        self.ctx
            .parents
            .insert(e.unit.id.clone(), e.unit.parent.clone());
        Ok(())
    }

    fn count_registration(&mut self, home: &UnitId, add: bool) -> Result<(), StoreError> {
        for unit in self.ctx.ancestry(home) {
            if let Some(mut row) = get::<UnitRow, _>(self.store, &unit_key(&unit))? {
                row.registered = if add {
                    row.registered + 1
                } else {
                    row.registered.saturating_sub(1)
                };
                put(self.store, unit_key(&unit), &row);
            }
        }
        Ok(())
    }

    fn volunteer_registered(&mut self, e: &VolunteerRegistered) -> Result<(), StoreError> {
        let row = VolunteerRow {
            volunteer: e.volunteer.clone(),
            number: e.number.0.to_string(),
            home_unit: e.home_unit.clone(),
            membership: e.membership,
            groups: e.groups.clone(),
            specialties: e.specialties.clone(),
            status: Approval::Awaiting(ledger_core::domain::ApprovalLevel::Unit),
            registered_at: self.at.record.recorded_at,
            system_minutes: 0,
            backfill_minutes: 0,
            pending_minutes: 0,
            points_earned: 0,
            points_redeemed: 0,
            activities_attended: 0,
            history_len: 0,
            tallies: Default::default(),
        };
        self.staged
            .volunteers
            .put(volunteer_key(&e.volunteer), row, Tallies::default);
        self.store.put(
            member_key(&e.home_unit, &e.volunteer).into_bytes(),
            Vec::new(),
        );
        put(self.store, number_key(&e.number.0), &e.volunteer);
        // A refused registration frees its identity for another, which
        // then takes the lookup over: the last registration is found.
        put(self.store, identity_key(&e.identity), &e.volunteer);
        self.count_registration(&e.home_unit, true)?;
        self.with_volunteer(&e.volunteer, |_| Ok(Effect::default()))
    }

    fn volunteer_rejected(&mut self, e: &VolunteerRejected) -> Result<(), StoreError> {
        let mut home = None;
        self.with_volunteer(&e.volunteer, |v| {
            v.status = Approval::Rejected(e.level);
            home = Some(v.home_unit.clone());
            // The registrant is told why: the reason goes where his
            // history shows what a row concerns.
            Ok(Effect::about(&e.reason))
        })?;
        match home {
            Some(home) => self.count_registration(&home, false),
            None => Ok(()),
        }
    }

    fn activity_published(&mut self, e: &ActivityPublished) {
        let row = ActivityRow {
            activity: e.activity.clone(),
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
            cancelled: false,
            sign_ups: 0,
            walk_ins: 0,
            attended: 0,
            signed_up_and_came: 0,
            sessions: 0,
            open_sessions: 0,
            confirmed_minutes: 0,
            pending_minutes: 0,
            held_on: None,
        };
        put(self.store, activity_key(&e.activity), &row);
    }

    fn participation(
        &mut self,
        activity: &ledger_core::values::ActivityId,
        volunteer: &VolunteerId,
        f: impl FnOnce(&mut Participation, &mut ActivityRow),
    ) -> Result<(), StoreError> {
        let key = Key::table(table::PARTICIPATION)
            .str(activity.as_str())
            .str(volunteer.as_str());
        let mut p: Participation = get(self.store, &key)?.unwrap_or_default();
        let mut held = None;
        self.with_activity(activity, |a| {
            let was_held = a.held_on.is_some();
            f(&mut p, a);
            if !was_held && a.held_on.is_some() {
                held = Some(a.clone());
            }
        })?;
        put(self.store, key, &p);
        self.store.put(
            Key::table(table::VOLUNTEER_ACTIVITY)
                .str(volunteer.as_str())
                .str(activity.as_str())
                .into_bytes(),
            Vec::new(),
        );
        if let Some(a) = held {
            self.activity_held(&a)?;
        }
        Ok(())
    }

    fn signed_up(&mut self, e: &SignedUp) -> Result<(), StoreError> {
        self.participation(&e.activity, &e.volunteer, |p, a| {
            if !p.signed_up {
                p.signed_up = true;
                p.walk_in = e.walk_in;
                a.sign_ups += 1;
                a.walk_ins += u64::from(e.walk_in);
                a.signed_up_and_came += u64::from(p.sessions > 0);
            }
        })?;
        self.with_volunteer(&e.volunteer, |_| Ok(Effect::about(&e.activity)))
    }

    fn sign_up_cancelled(&mut self, e: &SignUpCancelled) -> Result<(), StoreError> {
        self.participation(&e.activity, &e.volunteer, |p, a| {
            if p.signed_up {
                p.signed_up = false;
                a.sign_ups = a.sign_ups.saturating_sub(1);
                if p.walk_in {
                    a.walk_ins = a.walk_ins.saturating_sub(1);
                }
                if p.sessions > 0 {
                    a.signed_up_and_came = a.signed_up_and_came.saturating_sub(1);
                }
            }
        })?;
        self.with_volunteer(&e.volunteer, |_| Ok(Effect::about(&e.activity)))
    }

    fn checked_in(&mut self, e: &CheckedIn) -> Result<(), StoreError> {
        let session = SessionRow {
            volunteer: e.volunteer.clone(),
            activity: e.activity.clone(),
        };
        put(
            self.store,
            Key::table(table::SESSION).u64(e.session.0),
            &session,
        );
        let offset = self.ctx.utc_offset();
        let mut first_time = false;
        self.participation(&e.activity, &e.volunteer, |p, a| {
            first_time = p.sessions == 0;
            p.sessions += 1;
            p.open += 1;
            a.sessions += 1;
            a.open_sessions += 1;
            if first_time {
                a.attended += 1;
                a.signed_up_and_came += u64::from(p.signed_up);
            }
            if a.held_on.is_none() {
                a.held_on = Some(a.window.start.local_day(offset));
            }
        })?;
        self.with_volunteer(&e.volunteer, |v| {
            v.activities_attended += u64::from(first_time);
            Ok(Effect::about(&e.activity))
        })
    }

    /// An activity counts as held, in the periods of its first day, for its
    /// organiser, each co-organiser, and every unit above them (once each).
    fn activity_held(&mut self, a: &ActivityRow) -> Result<(), StoreError> {
        let Some(day) = a.held_on else { return Ok(()) };
        let mut units: Vec<UnitId> = Vec::new();
        for host in std::iter::once(&a.organiser).chain(&a.co_organisers) {
            for unit in self.ctx.ancestry(host) {
                if !units.contains(&unit) {
                    units.push(unit);
                }
            }
        }
        for period in self.ctx.periods(day) {
            for category in [None, Some(a.category)] {
                for unit in &units {
                    self.unit_tally(unit, &period, category, |t| {
                        t.activities_held += 1;
                        t.featured_held += u64::from(a.featured);
                    })?;
                }
            }
        }
        Ok(())
    }

    fn hours_credited(&mut self, e: &HoursCredited) -> Result<(), StoreError> {
        let Some(category) = self.activity_category(&e.activity)? else {
            return Ok(());
        };
        let row = CreditRow {
            volunteer: e.volunteer.clone(),
            activity: e.activity.clone(),
            category,
            minutes: e.minutes,
            day: e.day,
            system: matches!(e.source, CreditSource::Attendance { .. }),
            status: CreditStatus::Pending,
            credited: self.stamp(),
            confirmed: None,
            dispute: None,
        };
        put(self.store, credit_key(e.credit), &row);
        self.store.put(
            Key::table(table::VOLUNTEER_CREDIT)
                .str(e.volunteer.as_str())
                .u64(e.credit.0)
                .into_bytes(),
            Vec::new(),
        );
        self.store.put(
            Key::table(table::DAY)
                .day(e.day)
                .u8(DAY_CREDIT)
                .u64(e.credit.0)
                .into_bytes(),
            Vec::new(),
        );
        let minutes = i64::from(e.minutes);
        self.with_activity(&e.activity, |a| a.pending_minutes += u64::from(e.minutes))?;
        self.with_volunteer(&e.volunteer, |v| {
            v.pending_minutes += u64::from(e.minutes);
            Ok(Effect {
                pending: minutes,
                ..Effect::about(e.credit)
            })
        })
    }

    fn entry_requested(&mut self, e: &EntryRequested) -> Result<(), StoreError> {
        let row = RequestRow {
            id: e.request,
            entry: e.entry.clone(),
            reason: e.reason.clone(),
            unit: self.entry_unit(&e.entry)?,
            requested: self.stamp(),
        };
        put(self.store, request_key(e.request), &row);
        Ok(())
    }

    /// The unit a hand-made entry concerns, as the core's state finds it:
    /// the organiser of a backfill's activity or of a reversed credit's,
    /// the home unit of the volunteer whose points it changes.
    fn entry_unit(&mut self, entry: &ManualEntry) -> Result<Option<UnitId>, StoreError> {
        let volunteer = match entry {
            ManualEntry::Backfill { activity, .. } => return self.organiser(activity),
            ManualEntry::Award { volunteer, .. } => Some(volunteer.clone()),
            ManualEntry::Reversal { target } => match *target {
                EntryRef::Credit(c) => {
                    let Some(credit) = get::<CreditRow, _>(self.store, &credit_key(c))? else {
                        return Ok(None);
                    };
                    return self.organiser(&credit.activity);
                }
                EntryRef::Award(a) => {
                    get::<AwardRow, _>(self.store, &award_key(a))?.map(|a| a.volunteer)
                }
                EntryRef::Redemption(r) => {
                    get::<RedemptionRow, _>(self.store, &Key::table(table::REDEMPTION).u64(r.0))?
                        .map(|r| r.volunteer)
                }
            },
        };
        let Some(volunteer) = volunteer else {
            return Ok(None);
        };
        let row =
            self.staged
                .volunteers
                .get_mut(self.store, volunteer_key(&volunteer), tallies_of)?;
        Ok(row.as_ref().map(|v| v.home_unit.clone()))
    }

    fn organiser(
        &self,
        activity: &ledger_core::values::ActivityId,
    ) -> Result<Option<UnitId>, StoreError> {
        Ok(get::<ActivityRow, _>(self.store, &activity_key(activity))?.map(|a| a.organiser))
    }

    fn credit_disputed(&mut self, e: &CreditDisputed) -> Result<(), StoreError> {
        let stamp = self.stamp();
        self.with_credit(e.credit, |c| {
            c.status = CreditStatus::InReview;
            c.dispute = Some((e.kind.clone(), e.reason.clone(), stamp));
        })?;
        self.review_item(e.credit, true)
    }

    /// Files a credit in review under its activity's organiser, or takes it
    /// out once reviewed.
    fn review_item(
        &mut self,
        credit: ledger_core::values::CreditId,
        open: bool,
    ) -> Result<(), StoreError> {
        let Some(c) = get::<CreditRow, _>(self.store, &credit_key(credit))? else {
            return Ok(());
        };
        let Some(a) = get::<ActivityRow, _>(self.store, &activity_key(&c.activity))? else {
            return Ok(());
        };
        let key = Key::table(table::REVIEW)
            .str(a.organiser.as_str())
            .u64(credit.0)
            .into_bytes();
        if open {
            self.store.put(key, Vec::new());
        } else {
            self.store.delete(key);
        }
        Ok(())
    }

    fn credit_reviewed(&mut self, e: &CreditReviewed) -> Result<(), StoreError> {
        use ledger_core::command::ReviewOutcome;
        let Some(credit) = get::<CreditRow, _>(self.store, &credit_key(e.credit))? else {
            return Ok(());
        };
        let (new_minutes, status) = match e.outcome {
            ReviewOutcome::Uphold => (credit.minutes, credit.status),
            ReviewOutcome::Amend { minutes } => (minutes, credit.status),
            ReviewOutcome::Void => (0, CreditStatus::Voided),
        };
        let change = i64::from(new_minutes) - i64::from(credit.minutes);
        self.with_credit(e.credit, |c| {
            c.status = status;
            if status != CreditStatus::Voided {
                c.minutes = new_minutes;
            }
        })?;
        self.with_activity(&credit.activity, |a| {
            a.pending_minutes = a.pending_minutes.saturating_add_signed(change)
        })?;
        self.with_volunteer(&credit.volunteer, |v| {
            v.pending_minutes = v.pending_minutes.saturating_add_signed(change);
            Ok(Effect {
                pending: change,
                ..Effect::about(e.credit)
            })
        })
    }

    fn credit_confirmed(&mut self, e: &CreditConfirmed) -> Result<(), StoreError> {
        let Some(credit) = get::<CreditRow, _>(self.store, &credit_key(e.credit))? else {
            return Ok(());
        };
        let stamp = self.stamp();
        self.with_credit(e.credit, |c| {
            c.status = CreditStatus::Confirmed;
            c.confirmed = Some(stamp);
        })?;
        let minutes = u64::from(credit.minutes);
        self.with_activity(&credit.activity, |a| {
            a.pending_minutes = a.pending_minutes.saturating_sub(minutes);
            a.confirmed_minutes += minutes;
        })?;
        let delta = Delta::minutes(credit.system, minutes as i64);
        let periods = self.ctx.periods(credit.day);
        self.with_volunteer(&credit.volunteer, |v| {
            v.pending_minutes = v.pending_minutes.saturating_sub(minutes);
            if credit.system {
                v.system_minutes += minutes;
            } else {
                v.backfill_minutes += minutes;
            }
            Ok(Effect {
                minutes: minutes as i64,
                pending: -(minutes as i64),
                ..Effect::about(e.credit)
            })
        })?;
        self.add_to_tallies(&credit.volunteer, &periods, Some(credit.category), delta)
    }

    fn points_awarded(&mut self, e: &PointsAwarded) -> Result<(), StoreError> {
        let (day, category, credit) = match &e.basis {
            AwardBasis::Credit { credit, .. } => {
                match get::<CreditRow, _>(self.store, &credit_key(*credit))? {
                    Some(c) => (c.day, Some(c.category), Some(*credit)),
                    None => (self.ctx.today(self.at), None, Some(*credit)),
                }
            }
            AwardBasis::Manual(_) => (self.ctx.today(self.at), None, None),
        };
        let row = AwardRow {
            volunteer: e.volunteer.clone(),
            points: e.points,
            day,
            category,
            credit,
            reversed: false,
        };
        put(self.store, award_key(e.award), &row);
        self.store.put(
            Key::table(table::DAY)
                .day(day)
                .u8(DAY_AWARD)
                .u64(e.award.0)
                .into_bytes(),
            Vec::new(),
        );
        let points = e.points as i64;
        self.with_volunteer(&e.volunteer, |v| {
            v.points_earned = v.points_earned.saturating_add(e.points);
            Ok(Effect {
                points,
                ..Effect::about(e.award)
            })
        })?;
        let periods = self.ctx.periods(day);
        self.add_to_tallies(&e.volunteer, &periods, category, Delta::points(points))
    }

    fn reward_redeemed(&mut self, e: &RewardRedeemed) -> Result<(), StoreError> {
        let row = RedemptionRow {
            volunteer: e.volunteer.clone(),
            reward: e.reward.clone(),
            quantity: e.quantity,
            points: e.points,
            reversed: false,
        };
        put(
            self.store,
            Key::table(table::REDEMPTION).u64(e.redemption.0),
            &row,
        );
        self.with_reward(&e.reward, |r| {
            r.reward.stock = r.reward.stock.saturating_sub(u64::from(e.quantity));
            r.redeemed_quantity += u64::from(e.quantity);
            r.redemptions += 1;
        })?;
        self.with_volunteer(&e.volunteer, |v| {
            v.points_redeemed = v.points_redeemed.saturating_add(e.points);
            // The redemption's own id first, as credits and awards show
            // theirs: it is what a reversal names.
            Ok(Effect {
                points: -(e.points as i64),
                ..Effect::about(format!("{} · {}", e.redemption, e.reward))
            })
        })
    }

    fn entry_reversed(&mut self, e: &EntryReversed) -> Result<(), StoreError> {
        match e.target {
            EntryRef::Credit(id) => {
                let Some(credit) = get::<CreditRow, _>(self.store, &credit_key(id))? else {
                    return Ok(());
                };
                if !credit.status.holds_minutes() {
                    return Ok(());
                }
                self.review_item(id, false)?;
                self.with_credit(id, |c| c.status = CreditStatus::Reversed)?;
                let minutes = u64::from(credit.minutes);
                let confirmed = credit.status == CreditStatus::Confirmed;
                self.with_activity(&credit.activity, |a| {
                    if confirmed {
                        a.confirmed_minutes = a.confirmed_minutes.saturating_sub(minutes);
                    } else {
                        a.pending_minutes = a.pending_minutes.saturating_sub(minutes);
                    }
                })?;
                self.with_volunteer(&credit.volunteer, |v| {
                    let mut effect = Effect::about(id);
                    if !confirmed {
                        v.pending_minutes = v.pending_minutes.saturating_sub(minutes);
                        effect.pending = -(minutes as i64);
                    } else {
                        if credit.system {
                            v.system_minutes = v.system_minutes.saturating_sub(minutes);
                        } else {
                            v.backfill_minutes = v.backfill_minutes.saturating_sub(minutes);
                        }
                        effect.minutes = -(minutes as i64);
                    }
                    Ok(effect)
                })?;
                if confirmed {
                    let periods = self.ctx.periods(credit.day);
                    let delta = Delta::minutes(credit.system, -(minutes as i64));
                    self.add_to_tallies(&credit.volunteer, &periods, Some(credit.category), delta)?;
                }
            }
            EntryRef::Award(id) => {
                let Some(award) = get::<AwardRow, _>(self.store, &award_key(id))? else {
                    return Ok(());
                };
                if award.reversed {
                    return Ok(());
                }
                put(
                    self.store,
                    award_key(id),
                    &AwardRow {
                        reversed: true,
                        ..award.clone()
                    },
                );
                let points = award.points as i64;
                self.with_volunteer(&award.volunteer, |v| {
                    v.points_earned = v.points_earned.saturating_sub(award.points);
                    Ok(Effect {
                        points: -points,
                        ..Effect::about(id)
                    })
                })?;
                let periods = self.ctx.periods(award.day);
                self.add_to_tallies(
                    &award.volunteer,
                    &periods,
                    award.category,
                    Delta::points(-points),
                )?;
            }
            EntryRef::Redemption(id) => {
                let key = Key::table(table::REDEMPTION).u64(id.0);
                let Some(r) = get::<RedemptionRow, _>(self.store, &key)? else {
                    return Ok(());
                };
                if r.reversed {
                    return Ok(());
                }
                put(
                    self.store,
                    key,
                    &RedemptionRow {
                        reversed: true,
                        ..r.clone()
                    },
                );
                self.with_reward(&r.reward, |w| {
                    w.reward.stock = w.reward.stock.saturating_add(u64::from(r.quantity));
                    w.redeemed_quantity = w.redeemed_quantity.saturating_sub(u64::from(r.quantity));
                    w.redemptions = w.redemptions.saturating_sub(1);
                })?;
                self.with_volunteer(&r.volunteer, |v| {
                    v.points_redeemed = v.points_redeemed.saturating_sub(r.points);
                    Ok(Effect {
                        points: r.points as i64,
                        ..Effect::about(id)
                    })
                })?;
            }
        }
        Ok(())
    }

    /// A campaign's phases become periods; what was already confirmed on
    /// their days is counted into them, as if they had existed all along.
    fn campaign_declared(&mut self, e: &CampaignDeclared) -> Result<(), StoreError> {
        let row = CampaignRow {
            campaign: e.campaign.clone(),
            filings: Vec::new(),
        };
        put(self.store, campaign_key(&e.campaign.id), &row);
        self.ctx.add_phases(&row);
        for (i, phase) in e.campaign.phases.iter().enumerate() {
            let period = Period::Campaign(e.campaign.id.clone(), i as u16);
            for (kind, id) in day_entries(self.store, phase.days)? {
                self.count_day_entry(kind, id, &period)?;
            }
        }
        Ok(())
    }

    fn count_day_entry(&mut self, kind: u8, id: u64, period: &Period) -> Result<(), StoreError> {
        let periods = std::slice::from_ref(period);
        if kind == DAY_CREDIT {
            let credit = get::<CreditRow, _>(self.store, &Key::table(table::CREDIT).u64(id))?;
            if let Some(c) = credit.filter(|c| c.status == CreditStatus::Confirmed) {
                let delta = Delta::minutes(c.system, i64::from(c.minutes));
                self.add_to_tallies(&c.volunteer, periods, Some(c.category), delta)?;
            }
        } else {
            let award = get::<AwardRow, _>(self.store, &Key::table(table::AWARD).u64(id))?;
            if let Some(a) = award.filter(|a| !a.reversed) {
                let delta = Delta::points(a.points as i64);
                self.add_to_tallies(&a.volunteer, periods, a.category, delta)?;
            }
        }
        Ok(())
    }

    /// Adds `delta` to the volunteer's tallies of `periods` (in all
    /// categories and in `category`) and to every unit above them; the
    /// boards follow when the batch is settled.
    fn add_to_tallies(
        &mut self,
        volunteer: &VolunteerId,
        periods: &[Period],
        category: Option<Category>,
        delta: Delta,
    ) -> Result<(), StoreError> {
        let key = volunteer_key(volunteer);
        let Some(mut v) = self
            .staged
            .volunteers
            .take(self.store, key.clone(), tallies_of)?
        else {
            return Ok(());
        };
        let units = self.ctx.ancestry(&v.home_unit);
        let categories: &[Option<Category>] = match category {
            Some(_) => &[None, category],
            None => &[None],
        };
        for period in periods {
            for &category in categories {
                let tally_key = (period.clone(), category);
                let old = v.tallies.get(&tally_key).copied().unwrap_or_default();
                if self.staged.first_change(&key, &tally_key, &old) {
                    self.staged.move_bytes += 2 * units.len() * move_bytes(volunteer.as_str());
                }
                let new = delta.applied_to(old);
                if new.is_zero() {
                    v.tallies.remove(&tally_key);
                } else {
                    v.tallies.insert(tally_key, new);
                }
                let active = i64::from(new.minutes() > 0) - i64::from(old.minutes() > 0);
                for unit in &units {
                    self.unit_tally(unit, period, category, |t| {
                        t.tally = delta.applied_to(t.tally);
                        t.active_volunteers = t.active_volunteers.saturating_add_signed(active);
                    })?;
                }
            }
        }
        self.staged.volunteers.put(key, v, Tallies::default);
        Ok(())
    }

    fn unit_tally(
        &mut self,
        unit: &UnitId,
        period: &Period,
        category: Option<Category>,
        f: impl FnOnce(&mut UnitTally),
    ) -> Result<(), StoreError> {
        let key = unit_tally_key(unit, period, category);
        let move_bytes_due = &mut self.staged.move_bytes;
        let first = |stored: Option<&UnitTally>| {
            *move_bytes_due += 2 * move_bytes(unit.as_str());
            FirstTally {
                unit: unit.clone(),
                period: period.clone(),
                category,
                tally: stored.map_or_else(Tally::default, |t| t.tally),
            }
        };
        let tally = self
            .staged
            .unit_tallies
            .get_mut(self.store, key, first)?
            .get_or_insert_with(UnitTally::default);
        f(tally);
        Ok(())
    }

    /// Changes a volunteer's row and adds the line for this event to their
    /// history.
    fn with_volunteer(
        &mut self,
        volunteer: &VolunteerId,
        f: impl FnOnce(&mut VolunteerRow) -> Result<Effect, StoreError>,
    ) -> Result<(), StoreError> {
        let key = volunteer_key(volunteer);
        let Some(mut v) = self
            .staged
            .volunteers
            .take(self.store, key.clone(), tallies_of)?
        else {
            return Ok(());
        };
        let effect = f(&mut v)?;
        let chunk_key = history_key(volunteer, v.history_len / HISTORY_CHUNK);
        let entry = HistoryEntry {
            sequence: self.at.head.sequence,
            hash: self.at.head.hash,
            recorded_at: self.at.record.recorded_at,
            kind: self.at.record.event.kind().to_owned(),
            about: effect.about,
            minutes: effect.minutes,
            pending_minutes: effect.pending,
            points: effect.points,
            balance: v.balance(),
        };
        let chunk = self.store.get(chunk_key.bytes())?;
        let chunk = append_to_chunk(chunk, &entry).ok_or_else(|| StoreError::Corrupt {
            key: hex::encode(chunk_key.bytes()),
            reason: "a history chunk is full or does not start with its length".into(),
        })?;
        self.store.put(chunk_key.into_bytes(), chunk);
        v.history_len += 1;
        self.staged.volunteers.put(key, v, Tallies::default);
        Ok(())
    }

    /// One check-in fewer open, for the participant and the activity. The
    /// rows and the activity's index entry were written at the check-in,
    /// so this touches the two counts and nothing else: a check-out is as
    /// common as a check-in.
    fn session_closed(&mut self, s: &SessionRow) -> Result<(), StoreError> {
        let key = Key::table(table::PARTICIPATION)
            .str(s.activity.as_str())
            .str(s.volunteer.as_str());
        if let Some(mut p) = get::<Participation, _>(self.store, &key)? {
            p.open = p.open.saturating_sub(1);
            put(self.store, key, &p);
        }
        self.with_activity(&s.activity, |a| {
            a.open_sessions = a.open_sessions.saturating_sub(1)
        })
    }

    fn with_activity(
        &mut self,
        activity: &ledger_core::values::ActivityId,
        f: impl FnOnce(&mut ActivityRow),
    ) -> Result<(), StoreError> {
        let key = activity_key(activity);
        if let Some(mut a) = get::<ActivityRow, _>(self.store, &key)? {
            f(&mut a);
            put(self.store, key, &a);
        }
        Ok(())
    }

    fn activity_category(
        &self,
        activity: &ledger_core::values::ActivityId,
    ) -> Result<Option<Category>, StoreError> {
        Ok(get::<ActivityRow, _>(self.store, &activity_key(activity))?.map(|a| a.category))
    }

    fn with_credit(
        &mut self,
        credit: ledger_core::values::CreditId,
        f: impl FnOnce(&mut CreditRow),
    ) -> Result<(), StoreError> {
        let key = credit_key(credit);
        if let Some(mut c) = get::<CreditRow, _>(self.store, &key)? {
            f(&mut c);
            put(self.store, key, &c);
        }
        Ok(())
    }

    fn with_reward(
        &mut self,
        reward: &ledger_core::values::RewardId,
        f: impl FnOnce(&mut RewardRow),
    ) -> Result<(), StoreError> {
        let key = reward_key(reward);
        if let Some(mut r) = get::<RewardRow, _>(self.store, &key)? {
            f(&mut r);
            put(self.store, key, &r);
        }
        Ok(())
    }

    fn set_wish(
        &mut self,
        wish: &ledger_core::values::WishId,
        f: impl FnOnce(&mut ledger_core::domain::Wish),
    ) -> Result<(), StoreError> {
        let key = wish_key(wish);
        if let Some(mut w) = get::<ledger_core::domain::Wish, _>(self.store, &key)? {
            f(&mut w);
            put(self.store, key, &w);
        }
        Ok(())
    }
}

pub fn wish_key(w: &ledger_core::values::WishId) -> Key {
    Key::table(table::WISH).str(w.as_str())
}

pub fn pairing_key(p: &ledger_core::values::PairingId) -> Key {
    Key::table(table::PAIRING).str(p.as_str())
}

/// The day-index entries in `days`: which credits and awards fall on them.
pub fn day_entries<R: Read + ?Sized>(
    store: &R,
    days: DayRange,
) -> Result<Vec<(u8, u64)>, StoreError> {
    let from = Key::table(table::DAY).day(days.first).into_bytes();
    let to = Key::table(table::DAY)
        .day(Day(days.last.0.saturating_add(1)))
        .into_bytes();
    store
        .range(&from, &to, false)
        .map(|r| {
            let (k, _) = r?;
            match &k[..] {
                [_, _, _, _, _, kind, id @ ..] if id.len() == 8 => {
                    Ok((*kind, u64::from_be_bytes(id.try_into().unwrap_or_default())))
                }
                _ => Err(StoreError::Corrupt {
                    key: hex::encode(&k),
                    reason: "a malformed day-index key".into(),
                }),
            }
        })
        .collect()
}

pub const DAY_INDEX_CREDIT: u8 = DAY_CREDIT;
pub const DAY_INDEX_AWARD: u8 = DAY_AWARD;

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::time::Timestamp;
    use ledger_core::values::Digest;

    fn entry(n: u64) -> HistoryEntry {
        HistoryEntry {
            sequence: n * 1_000_003,
            hash: Digest([n as u8; 32]),
            recorded_at: Timestamp(1_700_000_000_000 + n as i64),
            kind: format!("kind-{n}"),
            about: (!n.is_multiple_of(3)).then(|| format!("about-{}", n * 77)),
            minutes: n as i64 - 30,
            pending_minutes: -(n as i64) * 1000,
            points: (n as i64) << 40,
            balance: u64::MAX - n,
        }
    }

    /// Appending entry by entry writes the bytes the whole chunk encodes
    /// to, up to a full chunk; a full chunk takes no more.
    #[test]
    fn a_chunk_appended_to_is_the_chunk_encoded_whole() {
        let mut chunk = None;
        let mut entries = Vec::new();
        for n in 0..HISTORY_CHUNK {
            entries.push(entry(n));
            chunk = append_to_chunk(chunk, &entry(n));
            let expected = postcard::to_allocvec(&entries).unwrap();
            assert_eq!(
                chunk.as_deref(),
                Some(&expected[..]),
                "after {} entries",
                n + 1
            );
        }
        assert_eq!(append_to_chunk(chunk, &entry(99)), None);
        assert_eq!(append_to_chunk(Some(Vec::new()), &entry(0)), None);
    }
}
