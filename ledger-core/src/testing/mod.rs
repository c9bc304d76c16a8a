//! Test support: a given/when/then harness for the rules, and a small
//! federation to run it against. Compiled for this crate's tests and, with
//! the `testing` feature, for other crates' tests.
//!
//! ```ignore
//! given(world().events())
//!     .at("2026-03-05T09:02")
//!     .when(check_in("a1", "v1", "2026-03-05T09:02"))
//!     .then_rejects("DUPLICATE_CHECK_IN");
//! ```

pub mod random;

use crate::command::*;
use crate::decide::{decide, Context};
use crate::domain::{
    ApprovalLevel, AutoCheckOut, Category, Grassroots, IdentityCommitment, IdentityKey, Membership,
    PointsRule, UnitKind,
};
use crate::event::Event;
use crate::rejection::Rejection;
use crate::state::Ledger;
use crate::time::{Timestamp, UtcOffset, Window};
use crate::values::*;

/// An instant in China Standard Time: `"2026-03-05T09:00"`.
pub fn t(local: &str) -> Timestamp {
    Timestamp::parse(&format!("{local}:00+08:00"))
        .unwrap_or_else(|e| panic!("test time {local:?}: {e}"))
}

pub fn text(s: &str) -> Text {
    Text::new(s).unwrap_or_else(|e| panic!("test text {s:?}: {e}"))
}

pub fn actor(s: &str) -> ActorId {
    ActorId::new(s).unwrap_or_else(|e| panic!("test actor {s:?}: {e}"))
}

pub fn unit_id(s: &str) -> UnitId {
    UnitId::new(s).unwrap_or_else(|e| panic!("test unit {s:?}: {e}"))
}

pub fn vid(s: &str) -> VolunteerId {
    VolunteerId::new(s).unwrap_or_else(|e| panic!("test volunteer {s:?}: {e}"))
}

pub fn aid(s: &str) -> ActivityId {
    ActivityId::new(s).unwrap_or_else(|e| panic!("test activity {s:?}: {e}"))
}

/// The identity-commitment key the tests use.
pub fn test_key() -> IdentityKey {
    IdentityKey([42; 32])
}

/// A commitment standing for a person, to a resident ID number that
/// registration takes; `n` tells people apart.
pub fn person(n: u32) -> IdentityCommitment {
    IdentityCommitment::compute(
        &test_key(),
        &crate::domain::made_up_resident_id(u64::from(n)),
    )
}

pub fn open_ledger(objection_window_days: u16) -> Command {
    Command::OpenLedger(OpenLedger {
        ledger: LedgerId::new("lyg").expect("valid"),
        name: text("连云港市职工志愿服务"),
        objection_window_days,
        utc_offset_minutes: UtcOffset::CHINA,
        number_prefix: "LYG".into(),
    })
}

pub fn register_unit(
    id: &str,
    kind: UnitKind,
    parent: Option<&str>,
    quota: Option<u32>,
) -> Command {
    Command::RegisterUnit(RegisterUnit {
        unit: unit_id(id),
        name: text(&format!("单位 {id}")),
        kind,
        parent: parent.map(unit_id),
        quota,
    })
}

pub fn register_volunteer(id: &str, home: &str, who: u32) -> Command {
    Command::RegisterVolunteer(RegisterVolunteer {
        volunteer: vid(id),
        home_unit: unit_id(home),
        membership: Membership::Member,
        groups: vec![],
        specialties: vec![],
        identity: person(who),
    })
}

pub fn approve(id: &str, level: ApprovalLevel) -> Command {
    Command::ApproveVolunteer(ApproveVolunteer {
        volunteer: vid(id),
        level,
    })
}

/// An activity on 5 March 2026 (学雷锋日), 09:00–11:00, two places.
pub fn publish(id: &str, organiser: &str) -> PublishActivity {
    PublishActivity {
        activity: aid(id),
        project: None,
        campaign: None,
        organiser: unit_id(organiser),
        co_organisers: vec![],
        category: Category::CivilityTalk,
        title: text("文明交通劝导"),
        place: text("海州区解放路路口"),
        window: Window {
            start: t("2026-03-05T09:00"),
            end: t("2026-03-05T11:00"),
        },
        capacity: Some(2),
        featured: false,
        points_rule: PointsRule::STANDARD,
        auto_check_out: AutoCheckOut::AtActivityEnd,
        insurance_required: false,
        walk_ins: false,
    }
}

pub fn sign_up(activity: &str, volunteer: &str) -> Command {
    Command::SignUp(SignUp {
        activity: aid(activity),
        volunteer: vid(volunteer),
    })
}

pub fn check_in(activity: &str, volunteer: &str, at: &str) -> Command {
    Command::CheckIn(CheckIn {
        activity: aid(activity),
        volunteer: vid(volunteer),
        at: t(at),
        device: None,
        external_id: None,
    })
}

pub fn check_out(activity: &str, volunteer: &str, at: &str) -> Command {
    Command::CheckOut(CheckOut {
        activity: aid(activity),
        volunteer: vid(volunteer),
        at: t(at),
        device: None,
        external_id: None,
    })
}

/// A ledger built by running commands through the rules, so every fixture
/// event is one the rules would accept.
#[derive(Clone, Debug)]
pub struct World {
    pub state: Ledger,
    pub events: Vec<Event>,
    pub ctx: Context,
}

impl World {
    pub fn empty() -> World {
        World {
            state: Ledger::new(),
            events: Vec::new(),
            ctx: Context {
                now: t("2026-01-01T08:00"),
                actor: actor("admin-city"),
            },
        }
    }

    pub fn at(mut self, local: &str) -> World {
        self.ctx.now = t(local);
        self
    }

    pub fn by(mut self, who: &str) -> World {
        self.ctx.actor = actor(who);
        self
    }

    /// Runs a command that must be accepted, and records its events.
    pub fn run(mut self, command: Command) -> World {
        if let Err(r) = self.try_run(&command) {
            panic!(
                "fixture command {} rejected: {} ({r})",
                command.kind(),
                r.code()
            );
        }
        self
    }

    /// Runs a command; accepted events are applied and kept.
    pub fn try_run(&mut self, command: &Command) -> Result<Vec<Event>, Rejection> {
        let events = decide(&self.state, &self.ctx, command)?;
        for e in &events {
            self.state.apply(e);
        }
        self.events.extend(events.iter().cloned());
        Ok(events)
    }

    pub fn events(&self) -> Vec<Event> {
        self.events.clone()
    }

    pub fn approved_volunteer(self, id: &str, home: &str, who: u32) -> World {
        self.run(register_volunteer(id, home, who))
            .run(approve(id, ApprovalLevel::Unit))
            .run(approve(id, ApprovalLevel::DistrictOrIndustry))
            .run(approve(id, ApprovalLevel::City))
    }
}

/// A city federation `city` (quota 100) with district `d1` (quota 3) and its
/// community union `g1`, a second district `d2`; volunteers `v1`, `v2`
/// approved in `g1`; activity `a1` (5 March 09:00–11:00, two places) by `g1`.
pub fn world() -> World {
    World::empty()
        .run(open_ledger(3))
        .run(register_unit(
            "city",
            UnitKind::CityFederation,
            None,
            Some(100),
        ))
        .run(register_unit(
            "d1",
            UnitKind::DistrictFederation,
            Some("city"),
            Some(3),
        ))
        .run(register_unit(
            "d2",
            UnitKind::DistrictFederation,
            Some("city"),
            Some(50),
        ))
        .run(register_unit(
            "g1",
            UnitKind::Grassroots(Grassroots::Community),
            Some("d1"),
            None,
        ))
        .approved_volunteer("v1", "g1", 1)
        .approved_volunteer("v2", "g1", 2)
        .run(Command::PublishActivity(publish("a1", "g1")))
}

/// `world()` with `v1` checked in at 09:00 and out at 11:00 (credit C1 pending).
pub fn world_with_credit() -> World {
    world()
        .at("2026-03-04T10:00")
        .run(sign_up("a1", "v1"))
        .at("2026-03-05T11:00")
        .by("kiosk-1")
        .run(check_in("a1", "v1", "2026-03-05T09:00"))
        .run(check_out("a1", "v1", "2026-03-05T11:00"))
        .by("admin-city")
}

/// given(events).when(command).then(events) / .then_rejects(code)
pub fn given(events: impl IntoIterator<Item = Event>) -> Given {
    let events: Vec<Event> = events.into_iter().collect();
    Given {
        state: Ledger::replay(&events),
        ctx: Context {
            now: t("2026-03-05T12:00"),
            actor: actor("admin-city"),
        },
    }
}

pub struct Given {
    state: Ledger,
    ctx: Context,
}

impl Given {
    pub fn at(mut self, local: &str) -> Given {
        self.ctx.now = t(local);
        self
    }

    pub fn by(mut self, who: &str) -> Given {
        self.ctx.actor = actor(who);
        self
    }

    pub fn when(self, command: Command) -> Then {
        let result = decide(&self.state, &self.ctx, &command);
        Then {
            state: self.state,
            result,
        }
    }
}

#[must_use = "a scenario asserts nothing until .then… is called"]
pub struct Then {
    state: Ledger,
    result: Result<Vec<Event>, Rejection>,
}

impl Then {
    pub fn then(self, expected: Vec<Event>) -> Ledger {
        match self.result {
            Ok(events) => {
                assert_eq!(events, expected);
                Self::applied(self.state, &events)
            }
            Err(r) => panic!("expected events, got rejection {}: {r}", r.code()),
        }
    }

    /// Accepted, with events that pass `check`; returns the state after them.
    pub fn then_accepts(self, check: impl FnOnce(&[Event])) -> Ledger {
        match self.result {
            Ok(events) => {
                check(&events);
                Self::applied(self.state, &events)
            }
            Err(r) => panic!("expected acceptance, got rejection {}: {r}", r.code()),
        }
    }

    pub fn then_rejects(self, code: &str) -> Rejection {
        match self.result {
            Ok(events) => panic!("expected rejection {code}, got events {events:?}"),
            Err(r) => {
                assert_eq!(r.code(), code, "rejected, but with: {r}");
                r
            }
        }
    }

    fn applied(mut state: Ledger, events: &[Event]) -> Ledger {
        for e in events {
            state.apply(e);
        }
        state
    }
}
