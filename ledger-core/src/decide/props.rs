//! Property tests of the rules: random sequences of commands against a small
//! federation, some valid, most not, every check-in submitted twice.

use std::collections::HashMap;

use proptest::prelude::*;

use crate::command::*;
use crate::domain::*;
use crate::event::{Event, EventRecord};
use crate::owners::{volunteer_of, Owners};
use crate::testing::random::{arena, stamp, step};
use crate::testing::*;
use crate::time::Timestamp;
use crate::values::*;
use crate::Ledger;

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
        let mut owners = Owners::new();
        base.events.iter().for_each(|e| owners.record(e));
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
                // The owners alone file every event under the volunteer the
                // whole state names.
                prop_assert_eq!(volunteer_of(&owners, e), state.volunteer_of(e), "{:?}", e);
                owners.record(e);
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
