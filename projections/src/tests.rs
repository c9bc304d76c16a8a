//! The read models against the core state, and against themselves: built
//! block by block or all at once, killed and resumed, cut at a sequence.

use std::collections::{BTreeMap, HashMap};

use ledger_core::chain::Chain;
use ledger_core::command::{DeclareCampaign, FileReport};
use ledger_core::domain::{CreditStatus, Deadline, Phase, ReportKind};
use ledger_core::testing::random::{play, play_on, record, step, Step};
use ledger_core::testing::{actor, text, unit_id, World};
use ledger_core::time::{Day, DayRange, Timestamp};
use ledger_core::values::{CampaignId, ReportId, UnitId};
use ledger_core::{Command, EventRecord};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;

use crate::board::Ranked;
use crate::period::Period;
use crate::projector::{Emptied, Projection, ProjectionError, Projector, Until};
use crate::query::{self, BoardQuery};
use crate::rows::Metric;
use crate::store::{Memory, Read};

fn campaign() -> Command {
    let day = |d| Day::from_ymd(2026, 3, d).unwrap();
    Command::DeclareCampaign(DeclareCampaign {
        campaign: CampaignId::new("lei-feng-2026").unwrap(),
        organiser: unit_id("city"),
        name: text("学雷锋志愿服务月"),
        phases: vec![Phase {
            name: text("三月"),
            days: DayRange {
                first: day(1),
                last: day(5),
            },
        }],
        deadlines: vec![Deadline {
            kind: ReportKind::Plan,
            due: day(10),
        }],
    })
}

fn report() -> Command {
    Command::FileReport(FileReport {
        report: ReportId::new("plan-d1").unwrap(),
        campaign: CampaignId::new("lei-feng-2026").unwrap(),
        unit: unit_id("d1"),
        deadline: 0,
        title: text("活动方案"),
        attachments: vec![],
    })
}

/// A random run with a campaign declared part-way (its window reaches back
/// over credits already confirmed) and a report filed.
fn run(steps: &[(Step, i64)]) -> (World, Vec<EventRecord>) {
    let half = steps.len() / 2;
    let (mut world, mut records) = play(&steps[..half]);
    world.ctx.actor = actor("admin-city");
    for command in [campaign(), report()] {
        if let Ok(events) = world.try_run(&command) {
            records.extend(events.into_iter().map(|e| record(&world, e)));
        }
    }
    play_on(world, records, &steps[half..])
}

fn random_steps(n: usize, seed: u8) -> Vec<(Step, i64)> {
    let mut runner = TestRunner::new_with_rng(
        Default::default(),
        proptest::test_runner::TestRng::from_seed(
            proptest::test_runner::RngAlgorithm::ChaCha,
            &[seed; 32],
        ),
    );
    prop::collection::vec((step(), 0i64..120), n)
        .new_tree(&mut runner)
        .map(|t| t.current())
        .unwrap_or_default()
}

/// The chain cut into blocks of the given sizes (cycled).
fn blocks(records: &[EventRecord], sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut chain = Chain::new();
    let mut out = Vec::new();
    let mut rest = records;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        let mut block = Vec::new();
        for r in &rest[..n] {
            chain.append(r, &mut block).unwrap();
        }
        out.push(block);
        rest = &rest[n..];
        i += 1;
    }
    out
}

fn incrementally(blocks: &[Vec<u8>]) -> Projection<Memory> {
    let mut p = Projection::in_memory();
    for (i, b) in blocks.iter().enumerate() {
        p.stage_block(b, None, i as u64 + 1, None).unwrap();
        p.commit().unwrap();
    }
    p
}

fn at_once(blocks: &[Vec<u8>], until: Option<Until>) -> Projection<Memory> {
    let mut p = Projection::in_memory();
    for (i, b) in blocks.iter().enumerate() {
        p.stage_block(b, None, i as u64 + 1, until).unwrap();
    }
    p
}

fn no_differences<A: Read, B: Read>(a: &A, b: &B) -> BTreeMap<&'static str, usize> {
    query::differences(a, b).unwrap().by_table
}

/// The read models agree with the core state the rules keep.
fn agrees_with_core(p: &mut Projection<Memory>, world: &World) {
    let r = p.read().unwrap();
    let city = unit_id("city");
    let everything = |metric| BoardQuery {
        ranked: Ranked::Volunteers,
        metric,
        scope: &city,
        period: &Period::All,
        category: None,
        offset: 0,
        limit: usize::MAX,
    };
    let hours: HashMap<String, u64> = query::leaderboard(r, &everything(Metric::Hours))
        .unwrap()
        .into_iter()
        .map(|p| (p.subject, p.score))
        .collect();
    let points: HashMap<String, u64> = query::leaderboard(r, &everything(Metric::Points))
        .unwrap()
        .into_iter()
        .map(|p| (p.subject, p.score))
        .collect();
    // Confirmed minutes, recomputed from the credits' final status alone:
    // pending, voided and reversed ones never reach a leaderboard.
    let mut confirmed: HashMap<String, u64> = HashMap::new();
    for c in world.state.credits.values() {
        if c.status == CreditStatus::Confirmed {
            *confirmed
                .entry(c.volunteer.as_str().to_owned())
                .or_default() += u64::from(c.minutes);
        }
    }
    confirmed.retain(|_, m| *m > 0);
    assert_eq!(
        hours, confirmed,
        "the hours board is confirmed minutes only"
    );
    // The requests waiting are the core's, under the units it files them.
    let waiting: Vec<_> = query::requests(r, &city, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|q| (q.id, q.entry, q.unit))
        .collect();
    let core: Vec<_> = world
        .state
        .requests
        .values()
        .map(|q| (q.id, q.entry.clone(), world.state.entry_unit(&q.entry)))
        .collect();
    assert_eq!(waiting, core, "requests waiting");
    for v in world.state.volunteers.values() {
        let id = &v.volunteer.id;
        let (view, _) = query::volunteer(r, id, &Period::All, None)
            .unwrap()
            .unwrap();
        let a = &v.account;
        // Found by unified number, and by identity while the registration
        // holds it (a refused one frees it for a later registration).
        let by_number = query::volunteer_by_number(r, &v.volunteer.number.0).unwrap();
        assert_eq!(by_number.as_ref(), Some(id), "{id} by number");
        let identity = &v.volunteer.identity;
        if let Some(holder) = world.state.volunteers.holding(identity) {
            let found = query::volunteer_by_identity(r, identity).unwrap();
            assert_eq!(
                found.as_ref(),
                Some(&holder.volunteer.id),
                "{id} by identity"
            );
        }
        assert_eq!(
            view.confirmed_system_minutes, a.confirmed_system_minutes,
            "{id}"
        );
        assert_eq!(
            view.confirmed_backfill_minutes, a.confirmed_backfill_minutes,
            "{id}"
        );
        assert_eq!(view.pending_minutes, a.pending_minutes, "{id}");
        assert_eq!(view.points_earned, a.points_earned, "{id}");
        assert_eq!(view.balance, a.balance(), "{id}");
        assert_eq!(
            points.get(id.as_str()).copied().unwrap_or(0),
            a.points_earned,
            "{id}"
        );
        let history = query::history(r, id, 0, usize::MAX).unwrap();
        assert_eq!(history.len() as u64, view.history_entries);
        assert_eq!(history.last().map_or(0, |h| h.balance), a.balance());
        assert!(history.windows(2).all(|w| w[0].sequence < w[1].sequence));
        // A redemption names its own id, which is what a reversal takes.
        for h in history.iter().filter(|h| h.kind == "reward_redeemed") {
            let about = h.about.as_deref().unwrap_or("");
            let id = about.split(" · ").next().unwrap_or("");
            assert!(
                id.strip_prefix('R')
                    .is_some_and(|n| n.parse::<u64>().is_ok()),
                "{about}"
            );
        }
        // Each credit once, as the core has it; confirmed ones say when
        // and by whom.
        let credits = query::credits(r, id, 0, usize::MAX).unwrap();
        let core: Vec<_> = world
            .state
            .credits
            .values()
            .filter(|c| c.volunteer == *id)
            .collect();
        assert_eq!(credits.len(), core.len(), "{id}");
        for (credit, row) in &credits {
            let c = &world.state.credits[credit];
            assert_eq!(row.status, c.status, "{credit:?}");
            // A reversed credit may or may not have been confirmed first.
            if c.status != CreditStatus::Reversed {
                assert_eq!(
                    row.confirmed.is_some(),
                    c.status == CreditStatus::Confirmed,
                    "{credit:?}"
                );
            }
        }
    }
    for (id, u) in &world.state.units {
        let row = query::unit_row(r, id).unwrap().unwrap();
        assert_eq!(row.registered, u.registered, "{id}");
    }
    // Check-ins not yet out are the core's open sessions, by activity and
    // by participant.
    for id in world.state.activities.keys() {
        let mut open: BTreeMap<String, u32> = BTreeMap::new();
        for s in world.state.sessions.values() {
            if s.activity == *id && s.check_out.is_none() {
                *open.entry(s.volunteer.to_string()).or_default() += 1;
            }
        }
        let a = query::activity(r, id).unwrap().unwrap();
        assert_eq!(
            a.open_sessions,
            open.values().map(|n| u64::from(*n)).sum::<u64>(),
            "{id}"
        );
        let served: BTreeMap<String, u32> = query::participants(r, id, 0, usize::MAX)
            .unwrap()
            .into_iter()
            .filter(|(_, p)| p.open > 0)
            .map(|(v, p)| (v.to_string(), p.open))
            .collect();
        assert_eq!(served, open, "{id}");
    }
    // Review items are exactly the credits in review.
    let in_review: std::collections::BTreeSet<_> = world
        .state
        .credits
        .values()
        .filter(|c| c.status == CreditStatus::InReview)
        .map(|c| c.id)
        .collect();
    let listed: std::collections::BTreeSet<_> = query::reviews(r, &city, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(listed, in_review);
    // The roster lists every volunteer once, under the scope, page by page.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = query::roster(r, &city, after.as_ref(), 7).unwrap();
        let Some(last) = page.last() else { break };
        after = Some(query::RosterCursor {
            unit: last.home_unit.clone(),
            volunteer: last.volunteer.clone(),
        });
        paged.extend(page.into_iter().map(|v| v.volunteer));
    }
    let mut everyone: Vec<_> = world.state.volunteers.keys().cloned().collect();
    let mut listed = paged.clone();
    everyone.sort();
    listed.sort();
    listed.dedup();
    assert_eq!(listed.len(), paged.len(), "a volunteer listed twice");
    assert_eq!(listed, everyone);
}

/// Each unit's totals are its own volunteers' plus its children's.
fn roll_ups_add_up(p: &mut Projection<Memory>, world: &World) {
    let r = p.read().unwrap();
    let periods = [
        Period::All,
        Period::Year(2026),
        Period::Month(2026, 3),
        Period::Campaign(CampaignId::new("lei-feng-2026").unwrap(), 0),
    ];
    for period in &periods {
        for (id, unit) in &world.state.units {
            let total = query::unit_tally(r, id, period, None).unwrap();
            let mut minutes = 0;
            let mut points = 0;
            let mut active = 0;
            for child in &unit.children {
                let t = query::unit_tally(r, child, period, None).unwrap();
                minutes += t.tally.minutes();
                points += t.tally.points;
                active += t.active_volunteers;
            }
            for v in world.state.volunteers.values() {
                if &v.volunteer.home_unit == id {
                    let (view, _) = query::volunteer(r, &v.volunteer.id, period, None)
                        .unwrap()
                        .unwrap();
                    minutes += view.in_period.minutes();
                    points += view.in_period.points;
                    active += u64::from(view.in_period.minutes() > 0);
                }
            }
            assert_eq!(total.tally.minutes(), minutes, "{id} {period}");
            assert_eq!(total.tally.points, points, "{id} {period}");
            assert_eq!(total.active_volunteers, active, "{id} {period}");
        }
    }
}

/// The campaign window counts what was confirmed on its days before it was
/// declared, as the day index recomputes it.
fn campaign_window_is_complete(p: &mut Projection<Memory>) {
    let r = p.read().unwrap();
    let city = unit_id("city");
    let days = DayRange {
        first: Day::from_ymd(2026, 3, 1).unwrap(),
        last: Day::from_ymd(2026, 3, 5).unwrap(),
    };
    let period = Period::Campaign(CampaignId::new("lei-feng-2026").unwrap(), 0);
    for metric in Metric::ALL {
        let indexed = query::leaderboard(
            r,
            &BoardQuery {
                ranked: Ranked::Volunteers,
                metric,
                scope: &city,
                period: &period,
                category: None,
                offset: 0,
                limit: 1000,
            },
        )
        .unwrap();
        let computed = query::range_leaderboard(r, &city, days, None, metric, 0, 1000).unwrap();
        assert_eq!(indexed, computed, "{metric:?}");
    }
}

#[test]
fn thousands_of_random_commands_incremental_equals_rebuild() {
    let steps = random_steps(3000, 7);
    let (world, records) = run(&steps);
    assert!(records.len() > 300, "only {} events", records.len());
    let kinds: std::collections::BTreeSet<_> = records.iter().map(|r| r.event.kind()).collect();
    // Attendance too: the arena's season-long activity keeps long runs
    // checking volunteers in and out, so sessions and the system hours
    // they credit are folded, not backfills alone.
    for kind in [
        "signed_up",
        "checked_in",
        "checked_out",
        "credit_confirmed",
        "points_awarded",
        "entry_reversed",
        "campaign_declared",
    ] {
        assert!(kinds.contains(kind), "the run never produced {kind}");
    }
    let chunks = blocks(&records, &[1, 7, 30, 3, 100]);
    let mut incremental = incrementally(&chunks);
    let mut rebuilt = at_once(&chunks, None);
    assert_eq!(
        no_differences(incremental.read().unwrap(), rebuilt.read().unwrap()),
        BTreeMap::new()
    );
    // Block boundaries do not matter either.
    let mut other = at_once(&blocks(&records, &[13]), None);
    let differing = no_differences(incremental.read().unwrap(), other.read().unwrap());
    assert!(differing.keys().all(|t| *t == "meta"), "{differing:?}");
    agrees_with_core(&mut incremental, &world);
    roll_ups_add_up(&mut incremental, &world);
    campaign_window_is_complete(&mut incremental);
    let campaign = query::campaign(
        incremental.read().unwrap(),
        &CampaignId::new("lei-feng-2026").unwrap(),
        Day::from_ymd(2026, 3, 20).unwrap(),
    )
    .unwrap()
    .unwrap();
    assert_eq!(campaign.deadlines[0].filed.len(), 1);
    assert_eq!(campaign.deadlines[0].outstanding, vec![unit_id("d2")]);
    assert!(campaign.deadlines[0].overdue);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Any run, any blocking: incremental equals rebuild, and both agree
    /// with the core state; a state as of sequence N is what the chain up
    /// to N alone gives, whatever came after.
    #[test]
    fn read_models_are_exact(
        steps in prop::collection::vec((step(), 0i64..120), 1..300),
        sizes in prop::collection::vec(1usize..40, 1..5),
        cut in 0.0f64..1.0,
    ) {
        let (world, records) = run(&steps);
        let chunks = blocks(&records, &sizes);
        let mut incremental = incrementally(&chunks);
        let mut rebuilt = at_once(&chunks, None);
        prop_assert_eq!(no_differences(incremental.read().unwrap(), rebuilt.read().unwrap()), BTreeMap::new());
        agrees_with_core(&mut incremental, &world);
        roll_ups_add_up(&mut incremental, &world);

        let n = ((records.len() as f64) * cut) as u64;
        let mut as_of = at_once(&chunks, Some(Until::Sequence(n)));
        prop_assert_eq!(as_of.head().sequence, n);
        let mut prefix = at_once(&blocks(&records[..n as usize], &sizes), None);
        let differing = no_differences(as_of.read().unwrap(), prefix.read().unwrap());
        prop_assert!(differing.keys().all(|t| *t == "meta"), "{:?}", differing);
    }
}

pub(crate) fn scratch_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "projections-test-{name}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// Opens read models a dropped projector had open. sled lets go of its
/// directory lock only once its flusher thread has seen the drop, a moment
/// later, so a test that reopens at once waits for that (at most 10 s).
fn reopen(dir: &std::path::Path) -> Projector {
    when_free(|| Projector::open(dir).map_err(|e| e.to_string()))
}

#[test]
fn killed_mid_batch_it_resumes_exactly() {
    let (_, records) = run(&random_steps(800, 3));
    let chunks = blocks(&records, &[5, 40, 9]);
    let dir = scratch_dir("resume");
    let half = chunks.len() / 2;
    {
        let mut projector = Projector::open(&dir).unwrap();
        for (i, b) in chunks[..half].iter().enumerate() {
            projector.apply_block(b, None, i as u64 + 1).unwrap();
        }
        // Staged but never committed: lost with the process.
        for (i, b) in chunks[half..half + 3].iter().enumerate() {
            projector
                .stage_block(b, None, (half + i) as u64 + 1)
                .unwrap();
        }
    }
    let mut projector = reopen(&dir);
    assert_eq!(projector.position(), half as u64);
    // Offered everything again from the start, it skips what it has.
    for (i, b) in chunks.iter().enumerate() {
        projector.apply_block(b, None, i as u64 + 1).unwrap();
    }
    let mut rebuilt = at_once(&chunks, None);
    let tree = projector.reader().read(|tree, _| tree.clone()).unwrap();
    assert_eq!(
        no_differences(&tree, rebuilt.read().unwrap()),
        BTreeMap::new()
    );
    drop(projector);
    let _ = std::fs::remove_dir_all(&dir);
}

fn log_len(dir: &std::path::Path) -> u64 {
    std::fs::metadata(dir.join("commit.redo")).map_or(0, |m| m.len())
}

/// A commit stopped with some of its writes in the tree: opened again, the
/// read models are whole.
#[test]
fn stopped_while_a_commit_goes_in_it_finishes_it_when_opened() {
    let (_, records) = run(&random_steps(3000, 5));
    let chunks = blocks(&records, &[50, 7, 100]);
    let rebuilt = at_once(&chunks, None).into_memory().unwrap();
    let dir = scratch_dir("redo");
    let half = chunks.len() / 2;
    for stop_after in [0, 1, 999, usize::MAX] {
        let _ = std::fs::remove_dir_all(&dir);
        {
            let mut projector = Projector::open(&dir).unwrap();
            // The first half goes in as one commit, flushed.
            for (i, b) in chunks[..half].iter().enumerate() {
                projector.stage_block(b, None, i as u64 + 1).unwrap();
            }
            projector.commit().unwrap();
            assert!(log_len(&dir) > 0);
            projector.flush().unwrap();
            assert_eq!(log_len(&dir), 0);
            for (i, b) in chunks[half..].iter().enumerate() {
                projector
                    .stage_block(b, None, (half + i) as u64 + 1)
                    .unwrap();
            }
            projector.stop_mid_commit(stop_after).unwrap();
        }
        assert!(log_len(&dir) > 0);
        let projector = reopen(&dir);
        assert_eq!(projector.position(), chunks.len() as u64);
        assert_eq!(log_len(&dir), 0);
        let tree = projector.reader().read(|tree, _| tree.clone()).unwrap();
        assert_eq!(no_differences(&tree, &rebuilt), BTreeMap::new());
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// sled came back from a crash with a later commit and without an earlier
/// one (as an instance killed in the fault-injection test did): opened
/// again, the read models are whole, from the redo log.
#[test]
fn an_earlier_commit_lost_by_sled_is_made_again_when_opened() {
    let (_, records) = run(&random_steps(800, 7));
    let chunks = blocks(&records, &[5, 40, 9]);
    let rebuilt = at_once(&chunks, None).into_memory().unwrap();
    let dir = scratch_dir("lost-commit");
    let rows = |tree: &sled::Tree| -> BTreeMap<Vec<u8>, Vec<u8>> {
        tree.iter()
            .map(|e| e.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
            .collect()
    };
    {
        let mut projector = Projector::open(&dir).unwrap();
        let tree = projector.reader().read(|tree, _| tree.clone()).unwrap();
        let lost = chunks.len() / 3;
        let mut before_lost = BTreeMap::new();
        let mut after_lost = BTreeMap::new();
        for (i, b) in chunks.iter().enumerate() {
            if i == lost {
                before_lost = rows(&tree);
            }
            projector.apply_block(b, None, i as u64 + 1).unwrap();
            if i == lost {
                after_lost = rows(&tree);
            }
        }
        // Every row that commit wrote and no later one did goes back to
        // what it was before it; every later commit, and where the
        // projection stands, is kept.
        let now = rows(&tree);
        let lost_rows = after_lost.keys().filter(|k| {
            after_lost.get(*k) != before_lost.get(*k) && now.get(*k) == after_lost.get(*k)
        });
        for key in lost_rows {
            match before_lost.get(key) {
                Some(value) => tree.insert(key.as_slice(), value.as_slice()).unwrap(),
                None => tree.remove(key.as_slice()).unwrap(),
            };
        }
        assert_ne!(no_differences(&tree, &rebuilt), BTreeMap::new());
        assert!(log_len(&dir) > 0);
    }
    let projector = reopen(&dir);
    assert_eq!(projector.position(), chunks.len() as u64);
    let tree = projector.reader().read(|tree, _| tree.clone()).unwrap();
    assert_eq!(no_differences(&tree, &rebuilt), BTreeMap::new());
    drop(projector);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn it_refuses_to_apply_past_a_broken_link() {
    let (_, records) = run(&random_steps(200, 5));
    let chunks = blocks(&records, &[10]);
    let mut p = Projection::in_memory();
    p.stage_block(&chunks[0], None, 1, None).unwrap();
    let mut bad = chunks[1].clone();
    let middle = bad.len() / 2;
    bad[middle] ^= 0x40;
    let head = p.head();
    match p.stage_block(&bad, None, 2, None) {
        Err(ProjectionError::Broken(e)) => assert!(e.sequence > 10 && e.sequence <= 20),
        other => panic!("a changed byte was applied: {other:?}"),
    }
    assert_eq!(p.head(), head);
    assert!(matches!(
        p.stage_block(&chunks[2], None, 3, None),
        Err(ProjectionError::Broken(_))
    ));
}

#[test]
fn a_state_as_of_a_time_stops_at_that_time() {
    let (_, records) = run(&random_steps(400, 9));
    let chunks = blocks(&records, &[25]);
    let middle: Timestamp = records[records.len() / 2].recorded_at;
    let as_of = at_once(&chunks, Some(Until::Recorded(middle)));
    let last = records
        .iter()
        .rposition(|r| r.recorded_at <= middle)
        .unwrap() as u64
        + 1;
    assert_eq!(as_of.head().sequence, last);
}

#[test]
fn unit_rankings_are_the_siblings_in_order() {
    let (world, records) = run(&random_steps(1500, 11));
    let mut p = at_once(&blocks(&records, &[50]), None);
    let r = p.read().unwrap();
    let city = unit_id("city");
    let board = query::leaderboard(
        r,
        &BoardQuery {
            ranked: Ranked::Units,
            metric: Metric::Hours,
            scope: &city,
            period: &Period::All,
            category: None,
            offset: 0,
            limit: 10,
        },
    )
    .unwrap();
    let mut expected: Vec<(u64, UnitId)> = world.state.units[&city]
        .children
        .iter()
        .map(|c| {
            let t = query::unit_tally(r, c, &Period::All, None).unwrap();
            (t.tally.minutes(), c.clone())
        })
        .filter(|(m, _)| *m > 0)
        .collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    assert!(!expected.is_empty());
    let got: Vec<(u64, UnitId)> = board
        .iter()
        .map(|p| (p.score, UnitId::new(&p.subject).unwrap()))
        .collect();
    assert_eq!(got, expected);
    let first = &expected[0].1;
    let view = query::unit(r, first, &Period::All, None).unwrap().unwrap();
    assert_eq!(view.rank_among_siblings.unwrap().hours, Some(1));
}

/// Ranks are one more than the places that score more, and pages give the
/// ranks the whole board gives (ties themselves: `query`'s tests).
#[test]
fn leaderboard_pages_rank_as_the_whole_board() {
    let (_, records) = run(&random_steps(1500, 11));
    let mut p = at_once(&blocks(&records, &[50]), None);
    let r = p.read().unwrap();
    let city = unit_id("city");
    for (ranked, metric) in [
        (Ranked::Volunteers, Metric::Hours),
        (Ranked::Volunteers, Metric::Points),
        (Ranked::Units, Metric::Hours),
    ] {
        let page = |offset, limit| {
            query::leaderboard(
                r,
                &BoardQuery {
                    ranked,
                    metric,
                    scope: &city,
                    period: &Period::All,
                    category: None,
                    offset,
                    limit,
                },
            )
            .unwrap()
        };
        let whole = page(0, usize::MAX);
        for (i, place) in whole.iter().enumerate() {
            let above = whole.iter().filter(|p| p.score > place.score).count();
            assert_eq!(place.rank, above as u64 + 1, "{place:?}");
            if i > 0 && whole[i - 1].score == place.score {
                assert!(whole[i - 1].subject < place.subject, "ties in id order");
            }
        }
        let paged: Vec<_> = (0..whole.len())
            .step_by(3)
            .flat_map(|offset| page(offset, 3))
            .collect();
        assert_eq!(paged, whole);
    }
}

#[test]
fn events_after_n_leave_a_ranking_as_of_n_unchanged() {
    let (_, records) = run(&random_steps(1200, 13));
    let chunks = blocks(&records, &[20]);
    let n = records.len() as u64 / 2;
    let leaders = |p: &mut Projection<Memory>| {
        let city = unit_id("city");
        query::leaderboard(
            p.read().unwrap(),
            &BoardQuery {
                ranked: Ranked::Volunteers,
                metric: Metric::Points,
                scope: &city,
                period: &Period::Year(2026),
                category: None,
                offset: 0,
                limit: 50,
            },
        )
        .unwrap()
    };
    let before = leaders(&mut at_once(&chunks, Some(Until::Sequence(n))));
    let now = leaders(&mut at_once(&chunks, None));
    let again = leaders(&mut at_once(&chunks, Some(Until::Sequence(n))));
    assert_eq!(before, again);
    // The later events did move the ranking, or this proves nothing.
    assert_ne!(before, now);
}

#[test]
fn a_co_organised_activity_is_held_once_by_each_host_and_each_unit_above() {
    use ledger_core::testing::{check_in, publish, sign_up, world};
    let mut shared = publish("a9", "g1");
    shared.co_organisers = vec![unit_id("d2")];
    shared.featured = true;
    let world = world()
        .run(Command::PublishActivity(shared))
        .at("2026-03-05T09:05")
        .run(sign_up("a9", "v1"))
        .run(check_in("a9", "v1", "2026-03-05T09:05"));
    let records: Vec<EventRecord> = world
        .events
        .iter()
        .map(|e| EventRecord {
            recorded_at: Timestamp(0),
            actor: actor("admin-city"),
            submission: None,
            event: e.clone(),
        })
        .collect();
    let mut p = at_once(&blocks(&records, &[100]), None);
    for (unit, held) in [("g1", 1), ("d1", 1), ("d2", 1), ("city", 1)] {
        let t = query::unit_tally(p.read().unwrap(), &unit_id(unit), &Period::Year(2026), None)
            .unwrap();
        assert_eq!((t.activities_held, t.featured_held), (held, held), "{unit}");
    }
}

/// A unit's catalogue holds the rewards kept inside its subtree and those
/// kept above it, which its volunteers may redeem too; the rules' own
/// test (`is_within` both ways) says which those are.
#[test]
fn a_units_catalogue_holds_the_rewards_its_volunteers_may_redeem() {
    let (world, records) = run(&random_steps(1500, 11));
    let mut p = at_once(&blocks(&records, &[50]), None);
    let r = p.read().unwrap();
    let state = &world.state;
    let mut from_above = 0;
    for unit in state.units.keys() {
        let mut got: Vec<String> = query::rewards_within_reach(r, unit)
            .unwrap()
            .into_iter()
            .map(|row| row.reward.id.to_string())
            .collect();
        got.sort();
        let mut expected: Vec<String> = state
            .rewards
            .values()
            .filter(|w| state.is_within(unit, &w.unit) || state.is_within(&w.unit, unit))
            .map(|w| w.id.to_string())
            .collect();
        expected.sort();
        assert_eq!(got, expected, "the catalogue of {unit}");
        from_above += state
            .rewards
            .values()
            .filter(|w| w.unit != *unit && state.is_within(unit, &w.unit))
            .count();
    }
    assert!(from_above > 0, "no unit has a reward kept above it");
}

/// Opens what sled had open, waiting until it has let go of the
/// directory (at most 10 s).
fn when_free<T>(mut open: impl FnMut() -> Result<T, String>) -> T {
    let started = std::time::Instant::now();
    loop {
        match open() {
            Err(reason)
                if (reason.contains("lock") || reason.contains("another process"))
                    && started.elapsed().as_secs() < 10 =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            opened => return opened.unwrap(),
        }
    }
}

/// Read models an older release built (no layout, or another) are emptied
/// when an instance opens them, and built again to the same rows; this
/// release's are kept as they are.
#[test]
fn read_models_of_another_layout_are_emptied_and_built_again() {
    let (_, records) = run(&random_steps(600, 5));
    let chunks = blocks(&records, &[20]);
    let dir = scratch_dir("layout");
    let open_current =
        || when_free(|| Projector::open_current(&dir, 1 << 20).map_err(|e| e.to_string()));
    let built = {
        let mut projector = Projector::open(&dir).unwrap();
        for (i, b) in chunks.iter().enumerate() {
            projector.apply_block(b, None, i as u64 + 1).unwrap();
        }
        projector.head()
    };
    assert!(built.sequence > 100);
    let mut again = at_once(&chunks, None);
    for older in [None, Some(1u32)] {
        // Opening them applies the redo log's last commits again, and
        // empties it, so that the change below is not undone.
        let (projector, emptied) = open_current();
        assert_eq!(emptied, None, "this release's read models are kept");
        assert_eq!(projector.head(), built);
        drop(projector);
        // As an older release left them.
        {
            let db = when_free(|| sled::open(&dir).map_err(|e| e.to_string()));
            let tree = db.open_tree(crate::projector::TREE).unwrap();
            let key = crate::keys::Key::table(crate::keys::table::META).str("layout");
            match older {
                None => drop(tree.remove(key.bytes()).unwrap()),
                Some(n) => drop(tree.insert(key.bytes(), &n.to_be_bytes()).unwrap()),
            }
            db.flush().unwrap();
        }
        let (mut projector, emptied) = open_current();
        assert_eq!(emptied, Some(Emptied { layout: older }));
        assert_eq!((projector.head().sequence, projector.position()), (0, 0));
        for (i, b) in chunks.iter().enumerate() {
            projector.apply_block(b, None, i as u64 + 1).unwrap();
        }
        assert_eq!(projector.head(), built);
        let differing = projector
            .reader()
            .read(|tree, _| no_differences(tree, again.read().unwrap()))
            .unwrap();
        assert!(differing.keys().all(|t| *t == "meta"), "{differing:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// An activity's participants: who signed up and came (twice), who
/// walked in (signed up by coming), not who withdrew without coming; they add up to the
/// activity's figures, and pages of them are the whole list cut.
#[test]
fn an_activitys_participants_add_up_to_its_figures() {
    use ledger_core::command::CancelSignUp;
    use ledger_core::testing::{check_in, check_out, publish, sign_up, vid, world};
    let mut open = publish("a9", "g1");
    open.walk_ins = true;
    open.capacity = Some(5);
    let world = world()
        .approved_volunteer("v3", "g1", 3)
        .run(Command::PublishActivity(open))
        .at("2026-03-05T08:00")
        .run(sign_up("a9", "v1"))
        .run(sign_up("a9", "v2"))
        .run(Command::CancelSignUp(CancelSignUp {
            activity: ledger_core::testing::aid("a9"),
            volunteer: vid("v2"),
        }))
        .at("2026-03-05T11:30")
        .run(check_in("a9", "v1", "2026-03-05T09:05"))
        .run(check_out("a9", "v1", "2026-03-05T10:00"))
        .run(check_in("a9", "v1", "2026-03-05T10:10"))
        .run(check_out("a9", "v1", "2026-03-05T10:50"))
        .run(check_in("a9", "v3", "2026-03-05T09:30"));
    let records: Vec<EventRecord> = world
        .events
        .iter()
        .map(|e| record(&world, e.clone()))
        .collect();
    let mut p = at_once(&blocks(&records, &[7]), None);
    let r = p.read().unwrap();
    let id = ledger_core::testing::aid("a9");
    let all = query::participants(r, &id, 0, usize::MAX).unwrap();
    let shown: Vec<(String, bool, bool, u32, u32)> = all
        .iter()
        .map(|(v, p)| (v.to_string(), p.signed_up, p.walk_in, p.sessions, p.open))
        .collect();
    // v3 has not checked out.
    assert_eq!(
        shown,
        [
            ("v1".into(), true, false, 2, 0),
            ("v3".into(), true, true, 1, 1)
        ]
    );
    let a = query::activity(r, &id).unwrap().unwrap();
    let count = |f: fn(&crate::rows::Participation) -> bool| {
        all.iter().filter(|(_, p)| f(p)).count() as u64
    };
    assert_eq!(count(|p| p.signed_up), a.sign_ups);
    assert_eq!(count(|p| p.walk_in), a.walk_ins);
    assert_eq!(count(|p| p.sessions > 0), a.attended);
    let sessions: u64 = all.iter().map(|(_, p)| u64::from(p.sessions)).sum();
    assert_eq!(sessions, a.sessions);
    assert_eq!(a.open_sessions, 1);
    let paged: Vec<_> = (0..all.len())
        .flat_map(|offset| query::participants(r, &id, offset, 1).unwrap())
        .collect();
    assert_eq!(paged, all);
}
