//! Property tests of the rules: random sequences of commands against a small
//! federation, some valid, most not, every check-in submitted twice.

use std::collections::HashMap;

use proptest::prelude::*;

use crate::command::*;
use crate::domain::*;
use crate::event::{Event, EventRecord};
use crate::testing::*;
use crate::time::{Timestamp, Window};
use crate::values::*;
use crate::Ledger;

const VOLUNTEERS: [&str; 4] = ["v1", "v2", "v3", "v4"];
const ACTIVITIES: [&str; 3] = ["a1", "a2", "a3"];
const REWARDS: [&str; 2] = ["r1", "r2"];
const APPROVERS: [&str; 2] = ["admin-city", "admin-d1"];

/// world() plus a2 (5 March 10:00–12:00), a3 (6 March 08:00–20:00, walk-ins,
/// 10 points an hour), v3 approved in d2, v4 registered only, rewards r1 and r2.
fn arena() -> World {
    let mut a2 = publish("a2", "d2");
    a2.window = Window {
        start: t("2026-03-05T10:00"),
        end: t("2026-03-05T12:00"),
    };
    a2.capacity = None;
    let mut a3 = publish("a3", "city");
    a3.window = Window {
        start: t("2026-03-06T08:00"),
        end: t("2026-03-06T20:00"),
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
struct Step {
    advance_minutes: i64,
    actor: &'static str,
    command: Command,
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
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (0i64..240, pick(&["admin-city", "kiosk-1"]), command()).prop_map(
        |(advance_minutes, actor, command)| Step {
            advance_minutes,
            actor,
            command,
        },
    )
}

/// Check-in and check-out report a moment up to two hours before now.
fn stamp(command: &mut Command, now: Timestamp, back: i64) {
    match command {
        Command::CheckIn(c) => c.at = now.plus_minutes(-back),
        Command::CheckOut(c) => c.at = now.plus_minutes(-back),
        _ => {}
    }
}

/// Points each volunteer holds, recomputed from the events alone.
fn balances_from_events(events: &[Event]) -> HashMap<VolunteerId, i128> {
    let mut awards = HashMap::new();
    let mut redemptions = HashMap::new();
    let mut balance: HashMap<VolunteerId, i128> = HashMap::new();
    for e in events {
        match e {
            Event::PointsAwarded(a) => {
                awards.insert(a.award, (a.volunteer.clone(), a.points));
                *balance.entry(a.volunteer.clone()).or_default() += i128::from(a.points);
            }
            Event::RewardRedeemed(r) => {
                redemptions.insert(r.redemption, (r.volunteer.clone(), r.points));
                *balance.entry(r.volunteer.clone()).or_default() -= i128::from(r.points);
            }
            Event::EntryReversed(r) => match r.target {
                EntryRef::Award(id) => {
                    let (v, p) = &awards[&id];
                    *balance.entry(v.clone()).or_default() -= i128::from(*p);
                }
                EntryRef::Redemption(id) => {
                    let (v, p) = &redemptions[&id];
                    *balance.entry(v.clone()).or_default() += i128::from(*p);
                }
                EntryRef::Credit(_) => {}
            },
            _ => {}
        }
    }
    balance
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_commands_keep_the_ledger_sound(
        steps in prop::collection::vec((step(), 0i64..120), 1..250)
    ) {
        let base = arena();
        let mut state = base.state.clone();
        let mut events = base.events.clone();
        let mut now = base.ctx.now;
        let mut stock_start: HashMap<RewardId, i128> = HashMap::new();
        for r in state.rewards.values() {
            stock_start.insert(r.id.clone(), i128::from(r.stock));
        }

        for (step, back) in steps {
            now = now.plus_minutes(step.advance_minutes);
            let ctx = crate::Context { now, actor: actor(step.actor) };
            let mut command = step.command;
            stamp(&mut command, now, back);
            let Ok(produced) = crate::decide(&state, &ctx, &command) else { continue };
            for e in &produced {
                state.apply(e);
            }
            events.extend(produced.iter().cloned());

            // A retried check-in never counts twice.
            if let Command::CheckIn(_) = command {
                prop_assert!(produced.iter().any(|e| matches!(e, Event::CheckedIn(_))));
                let retry = crate::decide(&state, &ctx, &command);
                prop_assert!(retry.is_err(), "retry accepted: {:?}", retry);
            }

            for v in state.volunteers.values() {
                let a = &v.account;
                prop_assert!(a.points_redeemed <= a.points_earned, "negative balance for {}", v.volunteer.id);
                prop_assert!(a.daily_minutes.values().all(|m| *m <= 16 * 60));
            }
        }

        // Balances equal a recomputation from the events alone.
        let recomputed = balances_from_events(&events);
        for v in state.volunteers.values() {
            let expected = recomputed.get(&v.volunteer.id).copied().unwrap_or(0);
            prop_assert!(expected >= 0);
            prop_assert_eq!(i128::from(v.account.balance()), expected);
        }
        // Stock never goes below zero and matches the events.
        for r in state.rewards.values() {
            let mut stock = stock_start[&r.id];
            for e in &events {
                match e {
                    Event::RewardRestocked(x) if x.reward == r.id => stock += i128::from(x.quantity),
                    Event::RewardRedeemed(x) if x.reward == r.id => stock -= i128::from(x.quantity),
                    Event::EntryReversed(x) => if let EntryRef::Redemption(id) = x.target {
                        let red = &state.redemptions[&id];
                        if red.reward == r.id { stock += i128::from(red.quantity); }
                    },
                    _ => {}
                }
                prop_assert!(stock >= 0);
            }
            prop_assert_eq!(i128::from(r.stock), stock);
        }
        // One check-in event per session, each session at most one check-out.
        let mut outs: HashMap<SessionId, u32> = HashMap::new();
        for e in &events {
            if let Event::CheckedOut(c) = e { *outs.entry(c.session).or_default() += 1; }
        }
        prop_assert!(outs.values().all(|n| *n == 1));

        // Replaying the events from empty gives the same state.
        prop_assert_eq!(&Ledger::replay(&events), &state);

        // Every event survives the stored encoding and JSON unchanged.
        for (i, event) in events.iter().enumerate() {
            let record = EventRecord { recorded_at: Timestamp(i as i64), actor: actor("x"), submission: None, event: event.clone() };
            let bytes = postcard::to_allocvec(&record).unwrap();
            prop_assert_eq!(&postcard::from_bytes::<EventRecord>(&bytes).unwrap(), &record);
            let json = serde_json::to_string(&record).unwrap();
            prop_assert_eq!(&serde_json::from_str::<EventRecord>(&json).unwrap(), &record);
        }
    }
}

/// The run above must reach the interesting paths, or it proves little.
#[test]
fn random_runs_reach_credits_awards_redemptions_and_reversals() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut kinds = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let steps = prop::collection::vec((step(), 0i64..120), 200)
            .new_tree(&mut runner)
            .unwrap()
            .current();
        let mut world = arena();
        for (step, back) in steps {
            world.ctx.now = world.ctx.now.plus_minutes(step.advance_minutes);
            world.ctx.actor = actor(step.actor);
            let mut command = step.command;
            stamp(&mut command, world.ctx.now, back);
            if let Ok(events) = world.try_run(&command) {
                kinds.extend(events.iter().map(Event::kind));
            }
        }
    }
    for kind in [
        "checked_in",
        "checked_out",
        "hours_credited",
        "credit_confirmed",
        "points_awarded",
        "reward_redeemed",
        "entry_reversed",
        "credit_disputed",
        "credit_reviewed",
        "signed_up",
    ] {
        assert!(
            kinds.contains(kind),
            "random runs never produced {kind}: {kinds:?}"
        );
    }
}
