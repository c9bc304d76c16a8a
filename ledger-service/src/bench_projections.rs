//! `ledger bench projections`: the sled read models, each figure printed
//! beside a raw baseline measured in the same run.
//!
//! A year of a city federation is generated as events (the events the rules
//! would record for it, with the ids and counters they would assign),
//! published to a nats-server of its own, and then: replayed raw, rebuilt
//! into fresh read models, compared with raw sled inserts, and queried.

use std::collections::VecDeque;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use indicatif::{ProgressBar, ProgressStyle};
use ledger_core::chain::Chain;
use ledger_core::domain::{
    made_up_resident_id, ApprovalLevel, AutoCheckOut, AwardBasis, Category, CreditSource,
    Grassroots, Group, IdentityCommitment, IdentityKey, Membership, PointsRule, Source, Unit,
    UnitKind, VolunteerNumber,
};
use ledger_core::event::{
    ActivityPublished, CheckedIn, CheckedOut, CreditConfirmed, HoursCredited, LedgerOpened,
    PointsAwarded, SignedUp, UnitRegistered, VolunteerApproved, VolunteerRegistered,
};
use ledger_core::frame::parse_frame;
use ledger_core::time::{Day, Timestamp, UtcOffset, Window, MICROS_PER_DAY, MICROS_PER_MINUTE};
use ledger_core::values::{
    ActivityId, ActorId, AwardId, CreditId, ExternalRef, LedgerId, SessionId, SubmissionKey, Text,
    UnitId, VolunteerId,
};
use ledger_core::{Event, EventRecord};
use projections::board::Ranked;
use projections::query::{self, BoardQuery};
use projections::{Metric, Period, Projector};

use crate::bench::{quantile, thousands, Scratch};
use crate::local::{free_port, NatsServer};
use crate::seeded::Rng;
use crate::shard::Shard;
use crate::store::ChainStore;

pub const EVENTS_PER_BLOCK: usize = 1_000;
const YEAR: i32 = 2026;
const OFFSET: UtcOffset = UtcOffset::CHINA;
const OBJECTION_WINDOW_DAYS: u16 = 7;
const NUMBER_PREFIX: &str = "SF";
/// One attendance a day at most, and even the keenest volunteer rests.
const MAX_VISITS_PER_VOLUNTEER: u64 = 250;
/// The Pareto index of the 80-20 rule (log₄ 5): most volunteers attend
/// once or never, a few nearly every other day, so the boards have leaders.
const PARETO_ALPHA: f64 = 1.16;
/// Share of a volunteer's attendances at activities of their own district.
const HOME_DISTRICT_SHARE: f64 = 0.7;
/// The raw sled baseline stops here: beyond it the figure no longer moves.
const RAW_KEYS_CAP: u64 = 5_000_000;
const RAW_BATCH: u64 = 10_000;
/// How often an unattended rebuild reports, in blocks.
const REPORT_EVERY_BLOCKS: u64 = 500;

const CATEGORIES: [Category; 18] = Category::ALL;

/// How often each of [`CATEGORIES`] is chosen for an activity: street duty
/// and environment days are common, epidemic control rare.
const CATEGORY_WEIGHTS: [u32; 18] = [8, 10, 12, 3, 5, 8, 4, 3, 6, 2, 4, 3, 4, 5, 3, 4, 3, 2];

const RULES: [PointsRule; 3] = [
    PointsRule {
        version: 1,
        points_per_hour: 10,
        coefficient_permille: 1000,
        cap_per_credit: None,
    },
    // Hardship work weighs more, up to a cap.
    PointsRule {
        version: 1,
        points_per_hour: 10,
        coefficient_permille: 1500,
        cap_per_credit: Some(60),
    },
    PointsRule {
        version: 2,
        points_per_hour: 12,
        coefficient_permille: 1000,
        cap_per_credit: Some(50),
    },
];

const GRASSROOTS_KINDS: [(Grassroots, &str); 5] = [
    (Grassroots::Enterprise, "企业工会"),
    (Grassroots::Community, "社区工会"),
    (Grassroots::Street, "街道工会"),
    (Grassroots::Township, "乡镇工会"),
    (Grassroots::Institution, "机关工会"),
];

const TEAMS: [&str; 3] = ["劳模志愿服务队", "工匠志愿服务队", "巾帼志愿服务队"];

fn label(c: Category) -> &'static str {
    match c {
        Category::CivilityTalk => "文明宣讲",
        Category::TrafficOrder => "文明交通",
        Category::Environment => "环境保护",
        Category::ModelWorkerMentoring => "劳模传帮带",
        Category::WindowService => "窗口服务",
        Category::HardshipCare => "困难帮扶",
        Category::LegalAid => "法律援助",
        Category::PsychologicalSupport => "心理疏导",
        Category::CultureToGrassroots => "文化进基层",
        Category::EpidemicControl => "疫情防控",
        Category::PovertyRelief => "扶贫济困",
        Category::JobFair => "就业招聘",
        Category::FreeClinic => "义诊",
        Category::TreePlanting => "植树",
        Category::Donation => "爱心捐赠",
        Category::MicroWish => "微心愿",
        Category::OneToOne => "结对帮扶",
        Category::Other => "其他",
    }
}

/// The size of the synthetic federation and of its chain.
#[derive(Clone, Debug)]
pub struct Shape {
    pub volunteers: u64,
    /// The chain stops at exactly this many events.
    pub events: u64,
    pub activities: u32,
    pub districts: u32,
    /// On average; districts differ by up to an eighth either way.
    pub grassroots_per_district: u32,
    pub seed: u64,
}

impl Shape {
    pub fn new(volunteers: u64, events: u64) -> Shape {
        Shape {
            volunteers,
            events,
            activities: 20_000,
            districts: 12,
            grassroots_per_district: 80,
            seed: 2026,
        }
    }
}

/// The unit tree's ids, by level, for choosing what to query.
#[derive(Clone, Debug, Default)]
pub struct Units {
    pub city: Option<UnitId>,
    pub districts: Vec<UnitId>,
    pub grassroots: Vec<UnitId>,
    pub teams: Vec<UnitId>,
}

impl Units {
    /// Units whose children are ranked: the city and the districts.
    pub fn parents(&self) -> Vec<UnitId> {
        self.city.iter().chain(&self.districts).cloned().collect()
    }

    /// Units with a rank among their siblings: all but the city.
    pub fn ranked(&self) -> Vec<UnitId> {
        self.districts
            .iter()
            .chain(&self.grassroots)
            .chain(&self.teams)
            .cloned()
            .collect()
    }
}

struct UnitSpec {
    id: UnitId,
    name: Text,
    kind: UnitKind,
    parent: Option<usize>,
    /// The district it is or lies in, by its place among the districts.
    district: Option<usize>,
    admin: ActorId,
}

struct ActivitySpec {
    organiser: usize,
    /// As [`UnitSpec::district`].
    district: Option<usize>,
    day: usize,
    window: Window,
    category: Category,
    featured: bool,
    rule: PointsRule,
}

struct Visit {
    activity: u32,
    volunteer: u32,
    check_in: i64,
    check_out: i64,
}

/// A credit waiting for its objection window to close.
struct Due {
    credit: u64,
    visit: u32,
    minutes: u32,
    deadline: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stage {
    Open,
    Units,
    Volunteers,
    Activities,
    Kiosks,
    Drain,
    Done,
}

pub fn volunteer_id(n: u64) -> anyhow::Result<VolunteerId> {
    Ok(VolunteerId::new(format!("v{n:07}"))?)
}

fn id_err(e: ledger_core::values::ValueError) -> anyhow::Error {
    anyhow::anyhow!("a generated value is invalid: {e}")
}

/// The chain, block by block, as the writer would have recorded it: the
/// ledger opened, the unit tree, every volunteer registered and approved at
/// three levels, the year's activities published, then kiosk traffic in
/// time order (check-ins and check-outs, each credit confirmed by the timer
/// once its objection window closed, with its points).
pub struct Generator {
    shape: Shape,
    rng: Rng,
    units: Vec<UnitSpec>,
    /// Each district's index in `units`.
    district_units: Vec<usize>,
    /// Home unit of each volunteer (an index into `units`).
    homes: Vec<u32>,
    activities: Vec<ActivitySpec>,
    activity_ids: Vec<ActivityId>,
    visits: Vec<Visit>,
    /// (instant, visit × 2 + 1 for a check-out), in time order.
    kiosk: Vec<(i64, u64)>,
    /// Each visit's session, from its check-in on.
    sessions: Vec<u64>,
    due: VecDeque<Due>,
    stage: Stage,
    cursor: usize,
    next_session: u64,
    next_credit: u64,
    next_award: u64,
    queue: VecDeque<EventRecord>,
    clock: i64,
    chain: Chain,
    emitted: u64,
    identity_key: IdentityKey,
    timer: ActorId,
    city_admin: ActorId,
    kiosks: Vec<ActorId>,
}

impl Generator {
    pub fn new(shape: Shape) -> anyhow::Result<Generator> {
        let mut rng = Rng(shape.seed);
        let units = unit_tree(&shape)?;
        let district_units = (0..units.len())
            .filter(|&i| units[i].kind == UnitKind::DistrictFederation)
            .collect();
        let homes = homes(&shape, &units, &mut rng);
        let activities = activities(&shape, &units, &mut rng)?;
        let activity_ids = (0..activities.len())
            .map(|i| ActivityId::new(format!("a{:05}", i + 1)).map_err(id_err))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let start = Day::from_ymd(YEAR - 1, 12, 1)?
            .start(OFFSET)
            .plus_minutes(9 * 60);
        let kiosks = std::iter::once("kiosk-city".to_owned())
            .chain((0..shape.districts).map(|d| format!("kiosk-d{:02}", d + 1)))
            .map(|k| ActorId::new(k).map_err(id_err))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Generator {
            shape,
            rng,
            units,
            district_units,
            homes,
            activities,
            activity_ids,
            visits: Vec::new(),
            kiosk: Vec::new(),
            sessions: Vec::new(),
            due: VecDeque::new(),
            stage: Stage::Open,
            cursor: 0,
            next_session: 0,
            next_credit: 0,
            next_award: 0,
            queue: VecDeque::new(),
            clock: start.0,
            chain: Chain::new(),
            emitted: 0,
            // The commitments only need to differ between volunteers.
            identity_key: IdentityKey([0x5A; 32]),
            timer: ActorId::new("ledger-timer")?,
            city_admin: ActorId::new("admin-city")?,
            kiosks,
        })
    }

    pub fn units(&self) -> Units {
        let mut out = Units::default();
        for u in &self.units {
            match u.kind {
                UnitKind::CityFederation => out.city = Some(u.id.clone()),
                UnitKind::DistrictFederation => out.districts.push(u.id.clone()),
                UnitKind::Grassroots(_) => out.grassroots.push(u.id.clone()),
                _ => out.teams.push(u.id.clone()),
            }
        }
        out
    }

    pub fn unit_count(&self) -> usize {
        self.units.len()
    }

    pub fn activity_count(&self) -> usize {
        self.activities.len()
    }

    /// Attendances planned (known once the kiosk stage began).
    pub fn visit_count(&self) -> usize {
        self.visits.len()
    }

    /// Events before the kiosk traffic.
    fn setup_events(&self) -> u64 {
        1 + self.units.len() as u64 + 4 * self.shape.volunteers + self.activities.len() as u64
    }

    /// The next block's frames and how many events they hold; `None` once
    /// the chain holds `shape.events`.
    pub fn next_block(&mut self) -> anyhow::Result<Option<(Vec<u8>, usize)>> {
        let mut frames = Vec::with_capacity(EVENTS_PER_BLOCK * 256);
        let mut count = 0;
        while count < EVENTS_PER_BLOCK && self.emitted < self.shape.events {
            let Some(record) = self.next_record()? else {
                break;
            };
            self.chain.append(&record, &mut frames)?;
            self.emitted += 1;
            count += 1;
        }
        Ok((count > 0).then_some((frames, count)))
    }

    /// Moves the clock to `at_least`, and on by at least a microsecond.
    fn tick(&mut self, at_least: i64) {
        self.clock = at_least.max(self.clock + 1);
    }

    /// Records the first event of a command, at `at_least` or later.
    fn push(&mut self, at_least: i64, actor: &ActorId, key: Option<String>, event: Event) {
        self.tick(at_least);
        self.push_more(actor, key, event);
    }

    /// Records a further event of the same command, at the same instant.
    fn push_more(&mut self, actor: &ActorId, key: Option<String>, event: Event) {
        self.queue.push_back(EventRecord {
            recorded_at: Timestamp(self.clock),
            actor: actor.clone(),
            submission: key.and_then(|k| SubmissionKey::new(k).ok()),
            event,
        });
    }

    fn next_record(&mut self) -> anyhow::Result<Option<EventRecord>> {
        loop {
            if let Some(record) = self.queue.pop_front() {
                return Ok(Some(record));
            }
            // Setup commands come in from admins a twentieth of a second apart.
            let setup_at = self.clock + 50_000;
            match self.stage {
                Stage::Open => {
                    let event = Event::LedgerOpened(LedgerOpened {
                        ledger: LedgerId::new("bench")?,
                        name: Text::new("示范市职工志愿服务")?,
                        objection_window_days: OBJECTION_WINDOW_DAYS,
                        utc_offset_minutes: OFFSET,
                        number_prefix: NUMBER_PREFIX.into(),
                    });
                    let admin = self.city_admin.clone();
                    self.push(setup_at, &admin, None, event);
                    self.stage = Stage::Units;
                }
                Stage::Units if self.cursor < self.units.len() => {
                    let u = &self.units[self.cursor];
                    let event = Event::UnitRegistered(UnitRegistered {
                        unit: Unit {
                            id: u.id.clone(),
                            name: u.name.clone(),
                            kind: u.kind,
                            parent: u.parent.map(|p| self.units[p].id.clone()),
                            quota: None,
                        },
                    });
                    let admin = self.city_admin.clone();
                    self.push(setup_at, &admin, None, event);
                    self.cursor += 1;
                }
                Stage::Units => self.next_stage(Stage::Volunteers),
                Stage::Volunteers if (self.cursor as u64) < self.shape.volunteers => {
                    self.register(self.cursor, setup_at)?;
                    self.cursor += 1;
                }
                Stage::Volunteers => self.next_stage(Stage::Activities),
                Stage::Activities if self.cursor < self.activities.len() => {
                    self.publish(self.cursor, setup_at)?;
                    self.cursor += 1;
                }
                Stage::Activities => {
                    self.plan_visits();
                    self.next_stage(Stage::Kiosks);
                }
                Stage::Kiosks if self.cursor < self.kiosk.len() => {
                    let (at, code) = self.kiosk[self.cursor];
                    self.confirm_due(at)?;
                    let visit = (code / 2) as usize;
                    if code % 2 == 0 {
                        self.check_in(visit)?;
                    } else {
                        self.check_out(visit)?;
                    }
                    self.cursor += 1;
                }
                Stage::Kiosks => self.next_stage(Stage::Drain),
                Stage::Drain if !self.due.is_empty() => self.confirm_due(i64::MAX)?,
                Stage::Drain => self.next_stage(Stage::Done),
                Stage::Done => return Ok(None),
            }
        }
    }

    fn next_stage(&mut self, stage: Stage) {
        self.stage = stage;
        self.cursor = 0;
    }

    fn register(&mut self, n: usize, at: i64) -> anyhow::Result<()> {
        let volunteer = volunteer_id(n as u64)?;
        let home = self.homes[n] as usize;
        let groups = match self.rng.below(100) {
            0..=2 => vec![Group::ModelWorker],
            3..=4 => vec![Group::UnionCadre],
            5..=9 => vec![Group::Retiree],
            10 => vec![Group::ModelWorker, Group::MayDayMedal],
            11..=12 => vec![Group::MasterCraftsman],
            _ => vec![],
        };
        let membership = if self.rng.chance(0.08) {
            Membership::InvitedNonMember
        } else {
            Membership::Member
        };
        let unit_admin = self.units[home].admin.clone();
        let district_admin = match self.units[home].district {
            Some(d) => self.units[self.district_units[d]].admin.clone(),
            None => self.city_admin.clone(),
        };
        let city_admin = self.city_admin.clone();
        let registered = Event::VolunteerRegistered(Box::new(VolunteerRegistered {
            volunteer: volunteer.clone(),
            number: VolunteerNumber::assign(NUMBER_PREFIX, n as u64 + 1),
            home_unit: self.units[home].id.clone(),
            membership,
            groups,
            specialties: vec![],
            identity: IdentityCommitment::compute(
                &self.identity_key,
                &made_up_resident_id(n as u64),
            ),
        }));
        self.push(at, &unit_admin, None, registered);
        for (level, admin) in [
            (ApprovalLevel::Unit, &unit_admin),
            (ApprovalLevel::DistrictOrIndustry, &district_admin),
            (ApprovalLevel::City, &city_admin),
        ] {
            let approved = Event::VolunteerApproved(VolunteerApproved {
                volunteer: volunteer.clone(),
                level,
            });
            self.push(self.clock + 50_000, admin, None, approved);
        }
        Ok(())
    }

    fn publish(&mut self, i: usize, at: i64) -> anyhow::Result<()> {
        let a = &self.activities[i];
        let organiser = &self.units[a.organiser];
        let event = Event::ActivityPublished(Box::new(ActivityPublished {
            activity: self.activity_ids[i].clone(),
            project: None,
            campaign: None,
            organiser: organiser.id.clone(),
            co_organisers: vec![],
            category: a.category,
            title: Text::new(format!("{}志愿服务第{}场", label(a.category), i + 1))?,
            place: Text::new(format!("{}服务站", organiser.name))?,
            window: a.window,
            capacity: None,
            featured: a.featured,
            points_rule: a.rule,
            auto_check_out: AutoCheckOut::AtActivityEnd,
            insurance_required: false,
            walk_ins: true,
        }));
        let admin = organiser.admin.clone();
        self.push(at, &admin, None, event);
        Ok(())
    }

    /// Kiosk 0 is the city's; district d's is d + 1.
    fn kiosk_of(&self, activity: usize) -> ActorId {
        let district = self.activities[activity]
            .district
            .and_then(|d| self.kiosks.get(d + 1));
        district.unwrap_or(&self.kiosks[0]).clone()
    }

    fn check_in(&mut self, visit: usize) -> anyhow::Result<()> {
        self.next_session += 1;
        let session = self.next_session;
        self.sessions[visit] = session;
        let v = &self.visits[visit];
        let (activity, check_in) = (v.activity as usize, v.check_in);
        let volunteer = volunteer_id(u64::from(v.volunteer))?;
        let kiosk = self.kiosk_of(activity);
        let source = Source {
            system: kiosk.clone(),
            device: ExternalRef::new(format!("gate-{}", activity % 7 + 1)).ok(),
            external_id: ExternalRef::new(format!("in-{session}")).ok(),
        };
        // A walk-in: the kiosk signs the volunteer up as it checks them in,
        // and syncs a couple of seconds later.
        let key = Some(format!("in-{session}"));
        let signed_up = Event::SignedUp(SignedUp {
            activity: self.activity_ids[activity].clone(),
            volunteer: volunteer.clone(),
            walk_in: true,
        });
        self.push(check_in + 2_000_000, &kiosk, key.clone(), signed_up);
        let checked_in = Event::CheckedIn(CheckedIn {
            session: SessionId(session),
            activity: self.activity_ids[activity].clone(),
            volunteer,
            at: Timestamp(check_in),
            source,
        });
        self.push_more(&kiosk, key, checked_in);
        Ok(())
    }

    fn check_out(&mut self, visit: usize) -> anyhow::Result<()> {
        let session = self.sessions[visit];
        let v = &self.visits[visit];
        let (activity, check_in, check_out) = (v.activity as usize, v.check_in, v.check_out);
        let volunteer = volunteer_id(u64::from(v.volunteer))?;
        let a = &self.activities[activity];
        let (window, rule) = (a.window, a.rule);
        let kiosk = self.kiosk_of(activity);
        let minutes = window.overlap_minutes(Timestamp(check_in), Timestamp(check_out)) as u32;
        let key = Some(format!("out-{session}"));
        let checked_out = Event::CheckedOut(CheckedOut {
            session: SessionId(session),
            at: Timestamp(check_out),
            source: Some(Source {
                system: kiosk.clone(),
                device: ExternalRef::new(format!("gate-{}", activity % 7 + 1)).ok(),
                external_id: ExternalRef::new(format!("out-{session}")).ok(),
            }),
        });
        self.push(check_out + 2_000_000, &kiosk, key.clone(), checked_out);
        self.next_credit += 1;
        let credit = self.next_credit;
        let deadline = self.clock + i64::from(OBJECTION_WINDOW_DAYS) * MICROS_PER_DAY;
        let credited = Event::HoursCredited(HoursCredited {
            credit: CreditId(credit),
            volunteer,
            activity: self.activity_ids[activity].clone(),
            minutes,
            day: Timestamp(check_in).local_day(OFFSET),
            source: CreditSource::Attendance {
                session: SessionId(session),
                auto_closed: false,
            },
            objection_deadline: Timestamp(deadline),
            points_rule: rule,
        });
        self.push_more(&kiosk, key, credited);
        self.due.push_back(Due {
            credit,
            visit: visit as u32,
            minutes,
            deadline,
        });
        Ok(())
    }

    /// What the timer confirms by `now`: every credit whose objection
    /// window has closed, oldest first, with the points its rule gives.
    fn confirm_due(&mut self, now: i64) -> anyhow::Result<()> {
        while self.due.front().is_some_and(|d| d.deadline <= now) {
            let Some(due) = self.due.pop_front() else {
                break;
            };
            let v = &self.visits[due.visit as usize];
            let rule = self.activities[v.activity as usize].rule;
            let volunteer = volunteer_id(u64::from(v.volunteer))?;
            let timer = self.timer.clone();
            let confirmed = Event::CreditConfirmed(CreditConfirmed {
                credit: CreditId(due.credit),
                minutes: due.minutes,
            });
            self.push(due.deadline, &timer, None, confirmed);
            let points = rule.points_for(due.minutes);
            if points > 0 {
                self.next_award += 1;
                let awarded = Event::PointsAwarded(PointsAwarded {
                    award: AwardId(self.next_award),
                    volunteer,
                    points,
                    basis: AwardBasis::Credit {
                        credit: CreditId(due.credit),
                        rule,
                    },
                });
                self.push_more(&timer, None, awarded);
            }
        }
        Ok(())
    }

    /// Who attends what, when: enough attendances (six events each) to
    /// fill the event budget, spread over the volunteers with a long tail,
    /// each volunteer at most once a day (so no two sessions overlap and
    /// no daily limit is reached).
    fn plan_visits(&mut self) {
        let budget = self.shape.events.saturating_sub(self.setup_events());
        let wanted = budget.div_ceil(6);
        let rng = &mut self.rng;
        let days = 365usize;
        let districts = self.shape.districts as usize;
        let mut by_day: Vec<Vec<u32>> = vec![Vec::new(); days];
        let mut by_day_district: Vec<Vec<u32>> = vec![Vec::new(); days * districts.max(1)];
        for (i, a) in self.activities.iter().enumerate() {
            by_day[a.day].push(i as u32);
            if let Some(d) = a.district {
                by_day_district[a.day * districts + d].push(i as u32);
            }
        }
        let active_days: Vec<usize> = (0..days).filter(|d| !by_day[*d].is_empty()).collect();
        let span = active_days.len() as u64;
        if span == 0 || wanted == 0 {
            return;
        }
        let cap = MAX_VISITS_PER_VOLUNTEER.min(span);
        let counts = visit_counts(rng, self.shape.volunteers, wanted, cap);
        let mut visits = Vec::with_capacity(wanted as usize);
        for (v, &count) in counts.iter().enumerate() {
            if count == 0 {
                continue;
            }
            let first = rng.below(span);
            let step = coprime_step(rng, span);
            let district = self.units[self.homes[v] as usize].district;
            for k in 0..u64::from(count) {
                let day = active_days[((first + k * step) % span) as usize];
                let local = district
                    .map(|d| &by_day_district[day * districts + d])
                    .filter(|list| !list.is_empty() && rng.chance(HOME_DISTRICT_SHARE));
                let list = local.unwrap_or(&by_day[day]);
                let activity = list[rng.index(list.len())];
                let window = self.activities[activity as usize].window;
                let check_in = window.start.0
                    + rng.between(-30, 15) * MICROS_PER_MINUTE
                    + rng.between(0, 59) * 1_000_000;
                let check_out = window.end.0
                    + rng.between(-30, 20) * MICROS_PER_MINUTE
                    + rng.between(0, 59) * 1_000_000;
                visits.push(Visit {
                    activity,
                    volunteer: v as u32,
                    check_in,
                    check_out,
                });
            }
        }
        let mut kiosk = Vec::with_capacity(visits.len() * 2);
        for (i, v) in visits.iter().enumerate() {
            kiosk.push((v.check_in, 2 * i as u64));
            kiosk.push((v.check_out, 2 * i as u64 + 1));
        }
        kiosk.sort_unstable();
        self.sessions = vec![0; visits.len()];
        self.visits = visits;
        self.kiosk = kiosk;
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// A stride through `0..span` that visits every place once before repeating.
fn coprime_step(rng: &mut Rng, span: u64) -> u64 {
    if span <= 2 {
        return 1;
    }
    loop {
        let step = 1 + rng.below(span - 1);
        if gcd(step, span) == 1 {
            return step;
        }
    }
}

/// How many activities each volunteer attends: Pareto-distributed shares
/// of `wanted`, each at most `cap`, summing to `wanted` (or to all the
/// volunteers can hold).
fn visit_counts(rng: &mut Rng, volunteers: u64, wanted: u64, cap: u64) -> Vec<u16> {
    let n = volunteers as usize;
    if n == 0 {
        return Vec::new();
    }
    let wanted = wanted.min(volunteers * cap);
    let weights: Vec<f64> = (0..n)
        .map(|_| (1.0 - rng.unit()).powf(-1.0 / PARETO_ALPHA))
        .collect();
    let capped = |scale: f64| -> f64 {
        weights
            .iter()
            .map(|w| (w * scale).min(cap as f64))
            .sum::<f64>()
    };
    let (mut low, mut high) = (0.0f64, 1.0f64);
    while capped(high) < wanted as f64 && high < 1e12 {
        high *= 2.0;
    }
    for _ in 0..60 {
        let mid = (low + high) / 2.0;
        if capped(mid) < wanted as f64 {
            low = mid;
        } else {
            high = mid;
        }
    }
    let mut counts: Vec<u16> = weights
        .iter()
        .map(|w| {
            let x = (w * high).min(cap as f64);
            let whole = x.floor();
            let extra = u16::from(rng.chance(x - whole));
            (whole as u16 + extra).min(cap as u16)
        })
        .collect();
    let mut total: u64 = counts.iter().map(|&c| u64::from(c)).sum();
    while total < wanted {
        let i = rng.index(n);
        if u64::from(counts[i]) < cap {
            counts[i] += 1;
            total += 1;
        }
    }
    while total > wanted {
        let i = rng.index(n);
        if counts[i] > 0 {
            counts[i] -= 1;
            total -= 1;
        }
    }
    counts
}

/// One city federation, its districts with their grassroots unions
/// (parents before children, as they must be registered), and a few teams
/// directly under the city.
fn unit_tree(shape: &Shape) -> anyhow::Result<Vec<UnitSpec>> {
    let spec = |id: String, name: String, kind, parent, district| -> anyhow::Result<UnitSpec> {
        Ok(UnitSpec {
            admin: ActorId::new(format!("admin-{id}"))?,
            id: UnitId::new(id)?,
            name: Text::new(name)?,
            kind,
            parent,
            district,
        })
    };
    let mut units = vec![spec(
        "city".into(),
        "示范市总工会".into(),
        UnitKind::CityFederation,
        None,
        None,
    )?];
    let per = shape.grassroots_per_district.max(1);
    let spread = per / 8;
    for d in 0..shape.districts as usize {
        let district = units.len();
        units.push(spec(
            format!("d{:02}", d + 1),
            format!("第{}区总工会", d + 1),
            UnitKind::DistrictFederation,
            Some(0),
            Some(d),
        )?);
        // Districts differ in size, by a fixed pattern so runs agree.
        let count = per - spread + (d as u32 * 7) % (2 * spread + 1);
        for g in 0..count as usize {
            let (kind, name) = GRASSROOTS_KINDS[(d + g) % GRASSROOTS_KINDS.len()];
            units.push(spec(
                format!("d{:02}-g{:03}", d + 1, g + 1),
                format!("第{}区{}{}", d + 1, name, g + 1),
                UnitKind::Grassroots(kind),
                Some(district),
                Some(d),
            )?);
        }
    }
    for (t, name) in TEAMS.iter().enumerate() {
        units.push(spec(
            format!("team-{}", t + 1),
            (*name).to_owned(),
            UnitKind::Team,
            Some(0),
            None,
        )?);
    }
    Ok(units)
}

/// Each volunteer's home unit: a grassroots union, bigger ones (a large
/// enterprise) more likely; one in two hundred belongs to a city team.
fn homes(shape: &Shape, units: &[UnitSpec], rng: &mut Rng) -> Vec<u32> {
    let grassroots: Vec<usize> = (0..units.len())
        .filter(|&i| matches!(units[i].kind, UnitKind::Grassroots(_)))
        .collect();
    let teams: Vec<usize> = (0..units.len())
        .filter(|&i| units[i].kind == UnitKind::Team)
        .collect();
    let mut cumulative = Vec::with_capacity(grassroots.len());
    let mut total = 0.0;
    for _ in &grassroots {
        total += 1.0 + 9.0 * rng.unit().powi(3);
        cumulative.push(total);
    }
    (0..shape.volunteers)
        .map(|_| {
            let home = if !teams.is_empty() && (rng.chance(0.005) || grassroots.is_empty()) {
                teams[rng.index(teams.len())]
            } else {
                let pick = rng.unit() * total;
                let at = cumulative.partition_point(|&c| c <= pick);
                grassroots[at.min(grassroots.len() - 1)]
            };
            home as u32
        })
        .collect()
}

/// The year's activities, in date order (so ids follow the calendar):
/// mostly organised by grassroots unions, some by districts; two to four
/// hours, starting between eight and five local time.
fn activities(
    shape: &Shape,
    units: &[UnitSpec],
    rng: &mut Rng,
) -> anyhow::Result<Vec<ActivitySpec>> {
    let organisers: Vec<usize> = (0..units.len())
        .filter(|&i| {
            matches!(
                units[i].kind,
                UnitKind::Grassroots(_) | UnitKind::DistrictFederation
            )
        })
        .collect();
    let (grassroots, districts): (Vec<usize>, Vec<usize>) = organisers
        .iter()
        .partition(|&&i| matches!(units[i].kind, UnitKind::Grassroots(_)));
    let first_day = Day::from_ymd(YEAR, 1, 1)?;
    let mut out = Vec::with_capacity(shape.activities as usize);
    for _ in 0..shape.activities {
        let pool = if districts.is_empty() || (!grassroots.is_empty() && rng.chance(0.75)) {
            &grassroots
        } else {
            &districts
        };
        if pool.is_empty() {
            bail!("the unit tree has no grassroots or district units to organise activities");
        }
        let organiser = pool[rng.index(pool.len())];
        let day = rng.index(365);
        let category = CATEGORIES[rng.weighted(&CATEGORY_WEIGHTS)];
        let rule = match category {
            Category::HardshipCare | Category::EpidemicControl | Category::PovertyRelief => {
                RULES[1]
            }
            _ if rng.chance(0.2) => RULES[2],
            _ => RULES[0],
        };
        let start = Day(first_day.0 + day as i32)
            .start(OFFSET)
            .plus_minutes(rng.between(16, 34) * 30);
        let end = start.plus_minutes(rng.between(4, 8) * 30);
        out.push(ActivitySpec {
            organiser,
            district: units[organiser].district,
            day,
            window: Window { start, end },
            category,
            featured: rng.chance(0.05),
            rule,
        });
    }
    out.sort_by_key(|a| (a.window.start, a.organiser));
    Ok(out)
}

/// What `ledger bench projections` is asked for.
#[derive(Clone, Debug)]
pub struct Options {
    pub volunteers: u64,
    pub events: u64,
    pub activities: u32,
    /// Where the nats-server, the read models and the raw sled baseline
    /// live; a fresh temporary directory (removed after) when `None`.
    pub data: Option<PathBuf>,
    /// The rebuild commits once this many bytes are staged.
    pub commit_bytes: usize,
    /// Queries of each kind measured.
    pub queries: usize,
}

/// Latencies of one kind of query.
#[derive(Clone, Copy, Debug, Default)]
pub struct Latency {
    pub p50: Duration,
    pub p99: Duration,
    pub queries: usize,
    /// Queries that found something (a board with a place, a row).
    pub found: usize,
}

/// Every figure of one run.
#[derive(Clone, Debug, Default)]
pub struct Figures {
    pub volunteers: u64,
    pub events: u64,
    pub blocks: u64,
    pub units: usize,
    pub activities: usize,
    pub attendances: usize,
    pub chain_bytes: u64,
    pub generate: Duration,
    pub publish: Duration,
    pub stream_disk: u64,
    pub replay: Duration,
    /// The same replay, every frame parsed and its record decoded: the
    /// baseline the rebuild is measured against.
    pub replay_decode: Duration,
    pub rebuild: Duration,
    /// Of the rebuild: verifying and folding (`stage_block`), writing
    /// batches (`commit`), and the final `flush`.
    pub rebuild_stage: Duration,
    pub rebuild_commit: Duration,
    pub rebuild_flush: Duration,
    pub commits: u32,
    pub commit_bytes: usize,
    pub keys: u64,
    pub key_bytes: u64,
    pub value_bytes: u64,
    pub tree_disk: u64,
    pub raw_keys: u64,
    pub raw_insert: Duration,
    pub raw_get: Latency,
    pub leaderboard: Latency,
    pub unit_board: Latency,
    pub unit_view: Latency,
    pub balance: Latency,
    /// The city's all-time leader by hours: id, board minutes, and the
    /// confirmed minutes on their balance.
    pub leader: Option<(String, u64, u64)>,
}

/// A scratch directory, removed when the benchmark made it itself.
/// A panic hook for the run. sled 0.34 panics with its whole tree in the
/// message (gigabytes at full size), and unwinding would format all of it:
/// print the start, stop the nats-server this run started, and exit.
struct PanicGuard {
    previous: Option<PanicHook>,
}

type PanicHook = Box<dyn Fn(&std::panic::PanicHookInfo<'_>) + Send + Sync>;

impl PanicGuard {
    /// `staging` holds the stream sequence of the block being rebuilt (0
    /// outside the rebuild), to say where it failed.
    fn install(
        nats_pid_file: PathBuf,
        scratch: Option<PathBuf>,
        staging: Arc<AtomicU64>,
    ) -> PanicGuard {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let mut start = Truncated(String::new());
            let _ = fmt::write(&mut start, format_args!("{info}"));
            eprintln!("{}", start.0);
            eprintln!("(message cut at {TRUNCATE_AT} bytes)");
            match staging.load(Ordering::Relaxed) {
                0 => eprintln!("ledger bench projections: panicked; stopping"),
                block => eprintln!(
                    "ledger bench projections: the rebuild panicked staging block {block} \
                     ({} events in); stopping",
                    (block - 1) * EVENTS_PER_BLOCK as u64
                ),
            }
            if let Ok(pid) = std::fs::read_to_string(&nats_pid_file) {
                let _ = std::process::Command::new("kill").arg(pid.trim()).status();
            }
            if let Some(dir) = &scratch {
                let _ = std::fs::remove_dir_all(dir);
            }
            std::process::exit(101);
        }));
        PanicGuard {
            previous: Some(previous),
        }
    }
}

impl Drop for PanicGuard {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            let _ = std::panic::take_hook();
            std::panic::set_hook(previous);
        }
    }
}

const TRUNCATE_AT: usize = 2_000;

/// Refuses text past [`TRUNCATE_AT`] bytes, which stops the formatting.
struct Truncated(String);

impl fmt::Write for Truncated {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = TRUNCATE_AT.saturating_sub(self.0.len());
        if s.len() <= room {
            self.0.push_str(s);
            return Ok(());
        }
        let mut cut = room;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        self.0.push_str(&s[..cut]);
        Err(fmt::Error)
    }
}

pub(crate) fn progress(total: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{msg} [{bar:40}] {human_pos}/{human_len} {per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// Bytes the files under `dir` take on disk.
fn disk_usage(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_usage(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// Runs `n` queries; `one` makes up a query, times it alone (not the
/// making up) and says whether it found anything.
fn measure(
    n: usize,
    rng: &mut Rng,
    mut one: impl FnMut(&mut Rng) -> anyhow::Result<(Duration, bool)>,
) -> anyhow::Result<Latency> {
    let mut times = Vec::with_capacity(n);
    let mut found = 0;
    for _ in 0..n {
        let (took, any) = one(rng)?;
        times.push(took);
        found += usize::from(any);
    }
    times.sort_unstable();
    Ok(Latency {
        p50: quantile(&times, 0.50),
        p99: quantile(&times, 0.99),
        queries: n,
        found,
    })
}

fn timed<T>(f: impl FnOnce() -> T) -> (Duration, T) {
    let started = Instant::now();
    let out = f();
    (started.elapsed(), out)
}

pub(crate) fn random_period(rng: &mut Rng) -> Period {
    match rng.below(4) {
        0 => Period::All,
        1 => Period::Year(YEAR),
        2 => Period::Quarter(YEAR, 1 + rng.below(4) as u8),
        _ => Period::Month(YEAR, 1 + rng.below(12) as u8),
    }
}

pub(crate) fn random_category(rng: &mut Rng) -> Option<Category> {
    rng.chance(0.5)
        .then(|| CATEGORIES[rng.index(CATEGORIES.len())])
}

pub(crate) fn random_metric(rng: &mut Rng) -> Metric {
    if rng.chance(0.5) {
        Metric::Hours
    } else {
        Metric::Points
    }
}

pub(crate) fn pick<'a>(rng: &mut Rng, ids: &'a [UnitId]) -> Option<&'a UnitId> {
    ids.get(rng.index(ids.len()))
}

/// A generated chain as published: its size, what it took, and its units.
pub struct Published {
    pub events: u64,
    pub blocks: u64,
    pub chain_bytes: u64,
    pub generate: Duration,
    pub publish: Duration,
    pub units: Units,
    pub unit_count: usize,
    pub activity_count: usize,
    pub visit_count: usize,
    /// When the last event was recorded.
    pub last_recorded_at: Timestamp,
}

/// Generates a federation's chain of `shape` and appends it, block by
/// block, to `store`'s stream (with a progress bar).
pub async fn publish_generated(store: &ChainStore, shape: Shape) -> anyhow::Result<Published> {
    let total = shape.events;
    let mut generator = Generator::new(shape)?;
    let bar = progress(total, "generating and publishing events");
    let (mut events, mut blocks, mut chain_bytes) = (0, 0, 0);
    let (mut generate, mut publish) = (Duration::ZERO, Duration::ZERO);
    let mut last = store.last_sequence().await?;
    loop {
        let (took, block) = timed(|| generator.next_block());
        generate += took;
        let Some((frames, count)) = block? else {
            break;
        };
        chain_bytes += frames.len() as u64;
        let started = Instant::now();
        last = store.append(Bytes::from(frames), last, None).await?;
        publish += started.elapsed();
        blocks += 1;
        events += count as u64;
        bar.inc(count as u64);
    }
    bar.finish_and_clear();
    Ok(Published {
        events,
        blocks,
        chain_bytes,
        generate,
        publish,
        units: generator.units(),
        unit_count: generator.unit_count(),
        activity_count: generator.activity_count(),
        visit_count: generator.visit_count(),
        last_recorded_at: Timestamp(generator.clock),
    })
}

/// Generates the chain, publishes it, and measures replay, rebuild, raw
/// sled inserts and queries.
pub async fn run(o: &Options) -> anyhow::Result<Figures> {
    if o.queries == 0 {
        bail!("--queries must be at least 1");
    }
    let scratch = Scratch::new("projections", o.data.as_deref())?;
    let dir = &scratch.path;
    let pid_file = dir.join("nats-server.pid");
    let server = NatsServer::start_with(
        &dir.join("nats"),
        free_port(),
        &format!("pid_file: \"{}\"", pid_file.display()),
    )
    .context("starting nats-server (scripts/install-nats.sh installs it)")?;
    let staging = Arc::new(AtomicU64::new(0));
    let _panics = PanicGuard::install(
        pid_file,
        scratch.remove.then(|| dir.clone()),
        staging.clone(),
    );
    let client = async_nats::connect(server.url())
        .await
        .with_context(|| format!("connecting to {}", server.url()))?;
    let store = ChainStore::new(
        async_nats::jetstream::new(client.clone()),
        Shard::new(LedgerId::new("bench")?),
    );
    store.ensure(1).await?;
    let mut f = Figures {
        volunteers: o.volunteers,
        commit_bytes: o.commit_bytes,
        ..Figures::default()
    };

    // Generation and publishing: not figures, but a run shows them.
    let mut shape = Shape::new(o.volunteers, o.events);
    shape.activities = o.activities;
    let published = publish_generated(&store, shape).await?;
    f.generate = published.generate;
    f.publish = published.publish;
    f.chain_bytes = published.chain_bytes;
    f.blocks = published.blocks;
    f.events = published.events;
    f.units = published.unit_count;
    f.activities = published.activity_count;
    f.attendances = published.visit_count;
    let units = published.units;
    f.stream_disk = disk_usage(&dir.join("nats"));
    println!(
        "generated {} events ({} MiB of frames) in {:.1} s; published {} blocks in {:.1} s",
        thousands(f.events),
        f.chain_bytes >> 20,
        f.generate.as_secs_f64(),
        thousands(f.blocks),
        f.publish.as_secs_f64()
    );

    // Raw baseline: the ordered consumer, touching nothing.
    let started = Instant::now();
    let (mut messages, mut bytes) = (0u64, 0u64);
    store
        .replay(1, |block| {
            messages += 1;
            bytes += block.frames.len() as u64;
            Ok(())
        })
        .await?;
    f.replay = started.elapsed();
    if messages != f.blocks || bytes != f.chain_bytes {
        bail!(
            "the replay read {messages} messages and {bytes} bytes, but {} and {} were published",
            f.blocks,
            f.chain_bytes
        );
    }
    println!("raw replay: {:.1} s", f.replay.as_secs_f64());

    // Baseline: the same replay, every frame parsed and its record decoded,
    // nothing hashed, checked or kept.
    let started = Instant::now();
    let mut decoded = 0u64;
    let mut unreadable = None;
    store
        .replay(1, |block| {
            let mut rest = &block.frames[..];
            while unreadable.is_none() && !rest.is_empty() {
                match parse_frame(rest) {
                    Ok((frame, after)) => {
                        unreadable = frame.decode().err().map(anyhow::Error::from);
                        decoded += 1;
                        rest = after;
                    }
                    Err(e) => unreadable = Some(e.into()),
                }
            }
            Ok(())
        })
        .await?;
    f.replay_decode = started.elapsed();
    if let Some(e) = unreadable {
        return Err(e.context("decoding the replayed chain"));
    }
    if decoded != f.events {
        bail!(
            "the replay decoded {decoded} events, but {} were published",
            f.events
        );
    }
    println!(
        "raw replay + decode: {:.1} s",
        f.replay_decode.as_secs_f64()
    );

    // The rebuild, as `ledger rebuild` drives it: staged block by block,
    // committed whenever the staged bytes pass the budget.
    let projections_dir = dir.join("projections");
    let mut projector = Projector::open(&projections_dir)?;
    let bar = progress(f.blocks, "rebuilding (blocks)");
    let mut failure = None;
    let started = Instant::now();
    store
        .replay(1, |block| {
            if failure.is_some() {
                return Ok(());
            }
            staging.store(block.stream_sequence, Ordering::Relaxed);
            let (took, staged) = timed(|| {
                projector.stage_block(&block.frames, block.seal.as_ref(), block.stream_sequence)
            });
            f.rebuild_stage += took;
            if let Err(e) = staged {
                failure = Some(e);
                return Ok(());
            }
            if projector.pending_bytes() > o.commit_bytes {
                let (took, committed) = timed(|| projector.commit());
                f.rebuild_commit += took;
                f.commits += 1;
                failure = committed.err();
            }
            bar.inc(1);
            // Unattended (no bar drawn), a long rebuild still says how it goes.
            if bar.is_hidden() && block.stream_sequence % REPORT_EVERY_BLOCKS == 0 {
                let secs = started.elapsed().as_secs_f64();
                let events = projector.head().sequence;
                eprintln!(
                    "rebuild: {} events in {secs:.0} s ({:.0} events/s), {} MiB on disk",
                    thousands(events),
                    events as f64 / secs.max(1e-9),
                    disk_usage(&projections_dir) >> 20
                );
            }
            Ok(())
        })
        .await?;
    if let Some(e) = failure {
        return Err(e.into());
    }
    staging.store(0, Ordering::Relaxed);
    let (took, committed) = timed(|| projector.commit());
    committed?;
    f.rebuild_commit += took;
    f.commits += 1;
    let (took, flushed) = timed(|| projector.flush());
    flushed?;
    f.rebuild_flush = took;
    f.rebuild = started.elapsed();
    bar.finish_and_clear();
    if projector.head().sequence != f.events {
        bail!(
            "the rebuild stands at sequence {}, not {}",
            projector.head().sequence,
            f.events
        );
    }
    println!("rebuild: {:.1} s", f.rebuild.as_secs_f64());

    let reader = projector.reader();
    let tree = reader.read(|tree, _| tree.clone())?;
    for entry in tree.iter() {
        let (k, v) = entry?;
        f.keys += 1;
        f.key_bytes += k.len() as u64;
        f.value_bytes += v.len() as u64;
    }
    f.tree_disk = disk_usage(&projections_dir);

    // Queries, against the rebuilt read models through the reader the
    // service uses (committed state under its gate).
    let mut rng = Rng(0x9E3779B9);
    let n = o.queries;
    let volunteers = o.volunteers.max(1);
    f.raw_get = measure(n, &mut rng, |rng| {
        let key = projections::fold::volunteer_key(&volunteer_id(rng.below(volunteers))?);
        let (took, found) = timed(|| tree.get(key.bytes()));
        Ok((took, found?.is_some()))
    })?;
    let scopes = [
        units.city.iter().cloned().collect::<Vec<_>>(),
        units.districts.clone(),
        units.grassroots.clone(),
    ];
    f.leaderboard = measure(n, &mut rng, |rng| {
        let level = &scopes[rng.index(scopes.len())];
        let Some(scope) = pick(rng, level) else {
            return Ok((Duration::ZERO, false));
        };
        let period = random_period(rng);
        let q = BoardQuery {
            ranked: Ranked::Volunteers,
            metric: random_metric(rng),
            scope,
            period: &period,
            category: random_category(rng),
            offset: 0,
            limit: 20,
        };
        let (took, places) = timed(|| reader.read(|tree, _| query::leaderboard(tree, &q)));
        Ok((took, !places??.is_empty()))
    })?;
    let parents = units.parents();
    f.unit_board = measure(n, &mut rng, |rng| {
        let Some(scope) = pick(rng, &parents) else {
            return Ok((Duration::ZERO, false));
        };
        let period = random_period(rng);
        let q = BoardQuery {
            ranked: Ranked::Units,
            metric: random_metric(rng),
            scope,
            period: &period,
            category: random_category(rng),
            offset: 0,
            limit: 20,
        };
        let (took, places) = timed(|| reader.read(|tree, _| query::leaderboard(tree, &q)));
        Ok((took, !places??.is_empty()))
    })?;
    let ranked_units = units.ranked();
    f.unit_view = measure(n, &mut rng, |rng| {
        let Some(unit) = pick(rng, &ranked_units) else {
            return Ok((Duration::ZERO, false));
        };
        let period = random_period(rng);
        let category = random_category(rng);
        let (took, view) =
            timed(|| reader.read(|tree, _| query::unit(tree, unit, &period, category)));
        let view = view??;
        Ok((took, view.is_some_and(|v| v.rank_among_siblings.is_some())))
    })?;
    f.balance = measure(n, &mut rng, |rng| {
        let id = volunteer_id(rng.below(volunteers))?;
        let (took, view) =
            timed(|| reader.read(|tree, _| query::volunteer(tree, &id, &Period::All, None)));
        Ok((took, view??.is_some()))
    })?;
    if let Some(city) = &units.city {
        let q = BoardQuery {
            ranked: Ranked::Volunteers,
            metric: Metric::Hours,
            scope: city,
            period: &Period::All,
            category: None,
            offset: 0,
            limit: 1,
        };
        let top = query::leaderboard(&tree, &q)?;
        if let Some(place) = top.first() {
            let id = VolunteerId::new(place.subject.clone())?;
            let minutes = query::volunteer(&tree, &id, &Period::All, None)?
                .map(|(v, _)| v.confirmed_system_minutes + v.confirmed_backfill_minutes)
                .unwrap_or_default();
            f.leader = Some((place.subject.clone(), place.score, minutes));
        }
    }
    drop(tree);
    drop(reader);
    drop(projector);

    // Raw baseline for the writes: as many random keys as the rebuild left
    // in its tree, into a fresh sled configured as the projector's is.
    f.raw_keys = f.keys.min(RAW_KEYS_CAP);
    let db = sled::Config::new()
        .path(dir.join("raw-sled"))
        .cache_capacity(512 << 20)
        .open()?;
    let raw = db.open_tree("raw")?;
    let mut left = f.raw_keys;
    let started = Instant::now();
    while left > 0 {
        let count = left.min(RAW_BATCH);
        let mut batch = sled::Batch::default();
        for _ in 0..count {
            let mut key = [0u8; 40];
            for chunk in key.chunks_mut(8) {
                chunk.copy_from_slice(&rng.next_u64().to_le_bytes()[..chunk.len()]);
            }
            batch.insert(&key[..], &[][..]);
        }
        raw.apply_batch(batch)?;
        left -= count;
    }
    db.flush()?;
    f.raw_insert = started.elapsed();
    drop(raw);
    drop(db);
    // Closed before the server stops, so the client does not report it.
    drop(store);
    let _ = tokio::time::timeout(Duration::from_secs(5), client.drain()).await;
    drop(server);
    drop(scratch);
    Ok(f)
}

fn per_sec(count: u64, took: Duration) -> f64 {
    count as f64 / took.as_secs_f64().max(1e-9)
}

fn micros(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

impl fmt::Display for Figures {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        let replay = per_sec(self.events, self.replay);
        let replay_decode = per_sec(self.events, self.replay_decode);
        let rebuild = per_sec(self.events, self.rebuild);
        let raw_keys = per_sec(self.raw_keys, self.raw_insert);
        let rebuild_keys = per_sec(self.keys, self.rebuild);
        let secs = |d: Duration| d.as_secs_f64();
        let share = |d: Duration| 100.0 * secs(d) / secs(self.rebuild).max(1e-9);
        writeln!(out, "== projections benchmark ==")?;
        writeln!(
            out,
            "chain: {} events in {} blocks ({} MiB), {} volunteers, {} units, {} activities, {} attendances; stream {} MiB on disk",
            thousands(self.events),
            thousands(self.blocks),
            self.chain_bytes >> 20,
            thousands(self.volunteers),
            thousands(self.units as u64),
            thousands(self.activities as u64),
            thousands(self.attendances as u64),
            self.stream_disk >> 20,
        )?;
        writeln!(
            out,
            "generate {:.1} s, publish {:.1} s (not figures)",
            secs(self.generate),
            secs(self.publish)
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "raw ordered replay (JetStream):        {:>12} events/s  ({:.1} s, {:.0} MiB/s)",
            thousands(replay as u64),
            secs(self.replay),
            self.chain_bytes as f64 / 1048576.0 / secs(self.replay).max(1e-9)
        )?;
        writeln!(
            out,
            "raw replay + decode (every record):    {:>12} events/s  ({:.1} s)",
            thousands(replay_decode as u64),
            secs(self.replay_decode),
        )?;
        writeln!(
            out,
            "rebuild (replay + verify + fold + sled): {:>10} events/s  ({:.1} s, {:.2} % of raw replay + decode)",
            thousands(rebuild as u64),
            secs(self.rebuild),
            100.0 * rebuild / replay_decode.max(1e-9)
        )?;
        writeln!(
            out,
            "  of which stage_block {:.1} s ({:.0} %), commit {:.1} s ({:.0} %, {} commits at {} MiB staged), flush {:.1} s, reading the stream {:.1} s",
            secs(self.rebuild_stage),
            share(self.rebuild_stage),
            secs(self.rebuild_commit),
            share(self.rebuild_commit),
            self.commits,
            self.commit_bytes >> 20,
            secs(self.rebuild_flush),
            secs(self.rebuild)
                - secs(self.rebuild_stage)
                - secs(self.rebuild_commit)
                - secs(self.rebuild_flush),
        )?;
        writeln!(
            out,
            "  tree: {} keys (mean key {:.0} B, mean value {:.0} B), {} MiB on disk",
            thousands(self.keys),
            self.key_bytes as f64 / self.keys.max(1) as f64,
            self.value_bytes as f64 / self.keys.max(1) as f64,
            self.tree_disk >> 20
        )?;
        writeln!(
            out,
            "raw sled batch inserts ({} random 40-byte keys, empty values, batches of {}): {:>10} keys/s",
            thousands(self.raw_keys),
            thousands(RAW_BATCH),
            thousands(raw_keys as u64)
        )?;
        writeln!(
            out,
            "rebuild, keys left in the tree per second:                                 {:>10} keys/s  ({:.1} % of raw sled)",
            thousands(rebuild_keys as u64),
            100.0 * rebuild_keys / raw_keys.max(1e-9)
        )?;
        writeln!(out)?;
        writeln!(
            out,
            "query latency ({} each, warm)            p50          p99   p50 / raw get   found",
            thousands(self.balance.queries as u64)
        )?;
        let raw = self.raw_get.p50.as_secs_f64().max(1e-12);
        for (name, l) in [
            ("raw sled get (baseline)", &self.raw_get),
            ("leaderboard, top 20 volunteers", &self.leaderboard),
            ("unit ranking, top 20 units", &self.unit_board),
            ("unit view with sibling rank", &self.unit_view),
            ("volunteer balance", &self.balance),
        ] {
            writeln!(
                out,
                "  {:<33} {:>10} {:>12} {:>14.1}x {:>6.1} %",
                name,
                micros(l.p50),
                micros(l.p99),
                l.p50.as_secs_f64() / raw,
                100.0 * l.found as f64 / l.queries.max(1) as f64
            )?;
        }
        if let Some((id, board, balance)) = &self.leader {
            writeln!(
                out,
                "city leader (all time, hours): {id} with {} confirmed minutes on the board, {} on their balance{}",
                thousands(*board),
                thousands(*balance),
                if board == balance { "" } else { "  MISMATCH" }
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::command::{
        ApproveVolunteer, CheckIn, CheckOut, ConfirmDueCredits, OpenLedger, PublishActivity,
        RegisterUnit, RegisterVolunteer,
    };
    use ledger_core::{decide, Command, Context, Ledger};
    use projections::Projection;

    /// The generated chain's records, cut at the budget as blocks are.
    fn records(shape: Shape) -> Vec<EventRecord> {
        let budget = shape.events as usize;
        let mut generator = Generator::new(shape).unwrap();
        let mut out = Vec::new();
        while out.len() < budget {
            match generator.next_record().unwrap() {
                Some(record) => out.push(record),
                None => break,
            }
        }
        out
    }

    /// The command that would have recorded the events from `at` on.
    fn command_for(records: &[EventRecord], at: usize) -> Command {
        let next = || &records[at + 1].event;
        match &records[at].event {
            Event::LedgerOpened(e) => Command::OpenLedger(OpenLedger {
                ledger: e.ledger.clone(),
                name: e.name.clone(),
                objection_window_days: e.objection_window_days,
                utc_offset_minutes: e.utc_offset_minutes,
                number_prefix: e.number_prefix.clone(),
            }),
            Event::UnitRegistered(e) => Command::RegisterUnit(RegisterUnit {
                unit: e.unit.id.clone(),
                name: e.unit.name.clone(),
                kind: e.unit.kind,
                parent: e.unit.parent.clone(),
                quota: e.unit.quota,
            }),
            Event::VolunteerRegistered(e) => Command::RegisterVolunteer(RegisterVolunteer {
                volunteer: e.volunteer.clone(),
                home_unit: e.home_unit.clone(),
                membership: e.membership,
                groups: e.groups.clone(),
                specialties: e.specialties.clone(),
                identity: e.identity,
            }),
            Event::VolunteerApproved(e) => Command::ApproveVolunteer(ApproveVolunteer {
                volunteer: e.volunteer.clone(),
                level: e.level,
            }),
            Event::ActivityPublished(e) => Command::PublishActivity(PublishActivity {
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
                points_rule: e.points_rule,
                auto_check_out: e.auto_check_out,
                insurance_required: e.insurance_required,
                walk_ins: e.walk_ins,
            }),
            Event::SignedUp(e) => {
                let Event::CheckedIn(c) = next() else {
                    panic!("a walk-in sign-up without its check-in at {at}")
                };
                Command::CheckIn(CheckIn {
                    activity: e.activity.clone(),
                    volunteer: e.volunteer.clone(),
                    at: c.at,
                    device: c.source.device.clone(),
                    external_id: c.source.external_id.clone(),
                })
            }
            Event::CheckedOut(e) => {
                let Event::HoursCredited(h) = next() else {
                    panic!("a check-out without its credit at {at}")
                };
                let source = e.source.clone().unwrap();
                Command::CheckOut(CheckOut {
                    activity: h.activity.clone(),
                    volunteer: h.volunteer.clone(),
                    at: e.at,
                    device: source.device,
                    external_id: source.external_id,
                })
            }
            Event::CreditConfirmed(_) => Command::ConfirmDueCredits(ConfirmDueCredits { limit: 1 }),
            other => panic!("the generator records no {} events", other.kind()),
        }
    }

    /// Every event is what the rules record for some command at that
    /// instant, with the ids and counters they assign: a decided replay of
    /// the generated chain gives it back event for event.
    #[test]
    fn the_rules_record_the_generated_chain() {
        let mut shape = Shape::new(300, 8_000);
        shape.activities = 120;
        shape.grassroots_per_district = 6;
        let records = records(shape);
        assert_eq!(records.len(), 8_000);
        let mut state = Ledger::new();
        let mut at = 0;
        while at < records.len() {
            let record = &records[at];
            let ctx = Context {
                now: record.recorded_at,
                actor: record.actor.clone(),
            };
            let command = command_for(&records, at);
            let events = decide(&state, &ctx, &command)
                .unwrap_or_else(|r| panic!("event {} refused: {r:?}\n{command:?}", at + 1));
            // The budget may cut the last command's events short.
            let end = (at + events.len()).min(records.len());
            for (i, event) in events.iter().take(end - at).enumerate() {
                assert_eq!(event, &records[at + i].event, "event {}", at + i + 1);
                assert_eq!(records[at + i].recorded_at, record.recorded_at);
                state.apply(event);
            }
            at = end;
        }
    }

    /// The generator's chain verifies and folds, and the read models it
    /// gives hold what the benchmark queries: the top of the city's board
    /// is a volunteer whose balance says the same.
    #[test]
    fn the_benchmark_queries_read_models_that_hold_the_chain() {
        let mut shape = Shape::new(2_000, 40_000);
        shape.activities = 300;
        let mut generator = Generator::new(shape).unwrap();
        let mut projection = Projection::in_memory();
        let (mut position, mut events) = (0, 0);
        while let Some((frames, count)) = generator.next_block().unwrap() {
            position += 1;
            events += count as u64;
            projection
                .stage_block(&frames, None, position, None)
                .unwrap();
            projection.commit().unwrap();
        }
        assert_eq!(events, 40_000);
        assert_eq!(projection.head().sequence, 40_000);
        assert!(generator.visit_count() > 5_000);

        let city = generator.units().city.unwrap();
        let board = BoardQuery {
            ranked: Ranked::Volunteers,
            metric: Metric::Hours,
            scope: &city,
            period: &Period::All,
            category: None,
            offset: 0,
            limit: 20,
        };
        let top = query::leaderboard(projection.read().unwrap(), &board).unwrap();
        assert_eq!(top.len(), 20);
        let leader = VolunteerId::new(top[0].subject.clone()).unwrap();
        let (view, _) = query::volunteer(projection.read().unwrap(), &leader, &Period::All, None)
            .unwrap()
            .unwrap();
        let confirmed = view.confirmed_system_minutes + view.confirmed_backfill_minutes;
        assert!(confirmed > 0);
        assert_eq!(top[0].score, confirmed);
        // The attendance is skewed: the leader is far keener than most.
        assert!(view.activities_attended >= 10, "{view:?}");
        assert!(view.points_earned > 0);
    }
}
