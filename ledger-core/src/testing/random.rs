//! Random runs of commands against a small federation, some valid, most
//! not, for property tests here and in the crates that fold the events.

use proptest::prelude::*;

use crate::command::*;
use crate::domain::*;
use crate::event::{Event, EventRecord};
use crate::testing::*;
use crate::time::{Timestamp, Window};
use crate::values::*;

const VOLUNTEERS: [&str; 4] = ["v1", "v2", "v3", "v4"];
const ACTIVITIES: [&str; 3] = ["a1", "a2", "a3"];
const REWARDS: [&str; 2] = ["r1", "r2"];
const APPROVERS: [&str; 2] = ["admin-city", "admin-d1"];

/// world() plus a2 (5 March 10:00–12:00), a3 (6 March 08:00–20:00, walk-ins,
/// 10 points an hour), v3 approved in d2, v4 registered only, rewards r1 and r2.
pub fn arena() -> World {
    let mut a2 = publish("a2", "d2");
    a2.window = Window {
        start: t("2026-03-05T10:00"),
        end: t("2026-03-05T12:00"),
    };
    a2.capacity = None;
    // A season-long activity open to walk-ins, so that long runs go on
    // checking volunteers in and out (and folding their sessions) after
    // the short ones have ended.
    let mut a3 = publish("a3", "city");
    a3.window = Window {
        start: t("2026-03-06T08:00"),
        end: t("2026-06-30T20:00"),
    };
    a3.walk_ins = true;
    a3.capacity = Some(3);
    a3.points_rule.points_per_hour = 10;
    let reward = |id: &str, cost, stock| {
        Command::ListReward(ListReward {
            reward: RewardId::new(id).unwrap(),
            unit: unit_id("city"),
            name: text("纪念品"),
            cost_points: cost,
            stock,
        })
    };
    world()
        .run(Command::PublishActivity(a2))
        .run(Command::PublishActivity(a3))
        .approved_volunteer("v3", "d2", 3)
        .run(register_volunteer("v4", "d2", 4))
        .run(reward("r1", 1, 2))
        .run(reward("r2", 3, 5))
        .at("2026-03-04T08:00")
}

/// A command and how far the clock moves before it.
#[derive(Clone, Debug)]
pub struct Step {
    pub advance_minutes: i64,
    pub actor: &'static str,
    pub command: Command,
}

fn pick<T: Clone + std::fmt::Debug + 'static>(items: &'static [T]) -> impl Strategy<Value = T> {
    prop::sample::select(items)
}

fn entry() -> impl Strategy<Value = EntryRef> {
    prop_oneof![
        (1u64..12).prop_map(|n| EntryRef::Credit(CreditId(n))),
        (1u64..12).prop_map(|n| EntryRef::Award(AwardId(n))),
        (1u64..6).prop_map(|n| EntryRef::Redemption(RedemptionId(n))),
    ]
}

fn manual_entry() -> impl Strategy<Value = ManualEntry> {
    let v = || pick(&VOLUNTEERS).prop_map(vid);
    prop_oneof![
        (v(), pick(&ACTIVITIES).prop_map(aid), 0u32..200).prop_map(
            |(volunteer, activity, minutes)| ManualEntry::Backfill {
                volunteer,
                activity,
                minutes
            }
        ),
        (v(), 0u64..8).prop_map(|(volunteer, points)| ManualEntry::Award { volunteer, points }),
        entry().prop_map(|target| ManualEntry::Reversal { target }),
    ]
}

/// Commands whose `at` is filled in from the clock when the step runs.
fn command() -> impl Strategy<Value = Command> {
    let v = || pick(&VOLUNTEERS).prop_map(vid);
    let a = || pick(&ACTIVITIES).prop_map(aid);
    let approver = || pick(&APPROVERS).prop_map(actor);
    let reason = || Just(text("测试"));
    let placeholder = Timestamp(0);
    prop_oneof![
        3 => (a(), v()).prop_map(|(activity, volunteer)| Command::SignUp(SignUp { activity, volunteer })),
        1 => (a(), v()).prop_map(|(activity, volunteer)| Command::CancelSignUp(CancelSignUp { activity, volunteer })),
        5 => (a(), v()).prop_map(move |(activity, volunteer)| Command::CheckIn(CheckIn {
            activity, volunteer, at: placeholder, device: None, external_id: None })),
        5 => (a(), v()).prop_map(move |(activity, volunteer)| Command::CheckOut(CheckOut {
            activity, volunteer, at: placeholder, device: None, external_id: None })),
        1 => a().prop_map(|activity| Command::CloseForgottenCheckOuts(CloseForgottenCheckOuts { activity })),
        2 => (v(), a(), 0u32..200, approver(), reason()).prop_map(|(volunteer, activity, minutes, approver, reason)|
            Command::BackfillHours(BackfillHours { volunteer, activity, minutes, approver, reason })),
        3 => (1u64..12).prop_map(|n| Command::ConfirmCredit(ConfirmCredit { credit: CreditId(n) })),
        2 => (1u32..6).prop_map(|limit| Command::ConfirmDueCredits(ConfirmDueCredits { limit })),
        1 => (1u64..12, prop::option::of(0u32..200), reason()).prop_map(|(n, minutes, reason)|
            Command::DisputeCredit(DisputeCredit {
                credit: CreditId(n),
                kind: match minutes {
                    Some(proposed_minutes) => DisputeKind::CorrectionRequest { proposed_minutes },
                    None => DisputeKind::Objection,
                },
                reason,
            })),
        1 => (1u64..12, prop_oneof![
                Just(ReviewOutcome::Uphold),
                Just(ReviewOutcome::Void),
                (0u32..200).prop_map(|minutes| ReviewOutcome::Amend { minutes }),
            ], reason()).prop_map(|(n, outcome, reason)|
            Command::ReviewCredit(ReviewCredit { credit: CreditId(n), outcome, reason })),
        2 => (v(), 0u64..8, approver(), reason()).prop_map(|(volunteer, points, approver, reason)|
            Command::AwardPoints(AwardPoints { volunteer, points, approver, reason })),
        4 => (v(), pick(&REWARDS), 0u32..4).prop_map(|(volunteer, reward, quantity)|
            Command::Redeem(Redeem { volunteer, reward: RewardId::new(reward).unwrap(), quantity })),
        1 => (pick(&REWARDS), 0u64..3).prop_map(|(reward, quantity)|
            Command::RestockReward(RestockReward { reward: RewardId::new(reward).unwrap(), quantity })),
        3 => (entry(), approver(), reason()).prop_map(|(target, approver, reason)|
            Command::Reverse(Reverse { target, approver, reason })),
        3 => (manual_entry(), reason()).prop_map(|(entry, reason)|
            Command::RequestEntry(RequestEntry { entry, reason })),
        3 => (1u64..8).prop_map(|n| Command::ApproveRequest(ApproveRequest { request: RequestId(n) })),
        1 => (1u64..8, reason()).prop_map(|(n, reason)|
            Command::DeclineRequest(DeclineRequest { request: RequestId(n), reason })),
    ]
}

pub fn step() -> impl Strategy<Value = Step> {
    (0i64..240, pick(&["admin-city", "kiosk-1"]), command()).prop_map(
        |(advance_minutes, actor, command)| Step {
            advance_minutes,
            actor,
            command,
        },
    )
}

/// Check-in and check-out report a moment up to two hours before now.
pub fn stamp(command: &mut Command, now: Timestamp, back: i64) {
    match command {
        Command::CheckIn(c) => c.at = now.plus_minutes(-back),
        Command::CheckOut(c) => c.at = now.plus_minutes(-back),
        _ => {}
    }
}

/// Plays `steps` against the arena and returns the world after them with
/// every accepted event and the moment it was decided.
pub fn play(steps: &[(Step, i64)]) -> (World, Vec<EventRecord>) {
    let world = arena();
    let records = world
        .events
        .iter()
        .map(|e| record(&world, e.clone()))
        .collect();
    play_on(world, records, steps)
}

/// `event` as the world's clock and actor record it.
pub fn record(world: &World, event: Event) -> EventRecord {
    EventRecord {
        recorded_at: world.ctx.now,
        actor: world.ctx.actor.clone(),
        submission: None,
        event,
    }
}

/// Plays `steps` on from `world`, adding accepted events to `records`
/// under the step's actor.
pub fn play_on(
    mut world: World,
    mut records: Vec<EventRecord>,
    steps: &[(Step, i64)],
) -> (World, Vec<EventRecord>) {
    for (step, back) in steps {
        world.ctx.now = world.ctx.now.plus_minutes(step.advance_minutes);
        world.ctx.actor = actor(step.actor);
        let mut command = step.command.clone();
        stamp(&mut command, world.ctx.now, *back);
        if let Ok(events) = world.try_run(&command) {
            records.extend(events.into_iter().map(|e| record(&world, e)));
        }
    }
    (world, records)
}
