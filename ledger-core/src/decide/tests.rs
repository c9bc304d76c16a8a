//! Given events, when a command, then events or a rejection code. Every
//! rejection code in `rejection.rs` has a `then_rejects` here (a test below
//! checks that).

use crate::command::*;
use crate::domain::*;
use crate::event::*;
use crate::signing::{checkpoint_message, rotation_message, LedgerSigner};
use crate::testing::*;
use crate::time::{Day, DayRange, Window};
use crate::values::*;

fn w() -> Vec<Event> {
    world().events()
}

fn wc() -> Vec<Event> {
    world_with_credit().events()
}

fn credit(n: u64) -> CreditId {
    CreditId(n)
}

fn confirm(n: u64) -> Command {
    Command::ConfirmCredit(ConfirmCredit { credit: credit(n) })
}

fn reverse(target: EntryRef, approver: &str) -> Command {
    Command::Reverse(Reverse {
        target,
        approver: actor(approver),
        reason: text("记录有误"),
    })
}

fn redeem(volunteer: &str, reward: &str, quantity: u32) -> Command {
    Command::Redeem(Redeem {
        volunteer: vid(volunteer),
        reward: RewardId::new(reward).unwrap(),
        quantity,
    })
}

fn list_reward(id: &str, cost: u64, stock: u64) -> Command {
    Command::ListReward(ListReward {
        reward: RewardId::new(id).unwrap(),
        unit: unit_id("city"),
        name: text("电影票"),
        cost_points: cost,
        stock,
    })
}

/// `world_with_credit()` with C1 confirmed (2 points) and a reward `r1`
/// costing 1 point, stock 1.
fn confirmed_world() -> World {
    world_with_credit()
        .at("2026-03-08T12:00")
        .run(confirm(1))
        .run(list_reward("r1", 1, 1))
}

fn backfill(volunteer: &str, activity: &str, minutes: u32, approver: &str) -> Command {
    Command::BackfillHours(BackfillHours {
        volunteer: vid(volunteer),
        activity: aid(activity),
        minutes,
        approver: actor(approver),
        reason: text("扫码设备故障，补录"),
    })
}

fn dispute(n: u64, kind: DisputeKind) -> Command {
    Command::DisputeCredit(DisputeCredit {
        credit: credit(n),
        kind,
        reason: text("签退时间不对"),
    })
}

fn review(n: u64, outcome: ReviewOutcome) -> Command {
    Command::ReviewCredit(ReviewCredit {
        credit: credit(n),
        outcome,
        reason: text("核实后处理"),
    })
}

// ---- the ledger and the unit tree ----

#[test]
fn nothing_before_the_ledger_opens() {
    given([])
        .when(register_unit("city", UnitKind::CityFederation, None, None))
        .then_rejects("LEDGER_NOT_OPEN");
}

#[test]
fn the_ledger_opens_once() {
    given(w())
        .when(open_ledger(3))
        .then_rejects("LEDGER_ALREADY_OPEN");
}

#[test]
fn opening_checks_its_settings() {
    given([])
        .when(open_ledger(31))
        .then_rejects("INVALID_VALUE");
    let mut bad_prefix = open_ledger(3);
    if let Command::OpenLedger(c) = &mut bad_prefix {
        c.number_prefix = "lyg".into();
    }
    let r = given([]).when(bad_prefix).then_rejects("INVALID_VALUE");
    assert_eq!(r.field(), Some("number_prefix"));
}

#[test]
fn units_hang_under_known_parents_of_the_right_kind() {
    given(w())
        .when(register_unit("x", UnitKind::Team, Some("nowhere"), None))
        .then_rejects("UNKNOWN_UNIT");
    given(w())
        .when(register_unit(
            "d1",
            UnitKind::DistrictFederation,
            Some("city"),
            None,
        ))
        .then_rejects("UNIT_EXISTS");
    given(w())
        .when(register_unit(
            "x",
            UnitKind::DistrictFederation,
            Some("g1"),
            None,
        ))
        .then_rejects("INVALID_PARENT");
    given(w())
        .when(register_unit("x", UnitKind::GroupUnion, None, None))
        .then_rejects("INVALID_PARENT");
    given(w())
        .when(register_unit("t1", UnitKind::Team, Some("g1"), None))
        .then_accepts(|e| assert_eq!(e.len(), 1));
}

#[test]
fn children_quotas_fit_the_parents() {
    // city has 100; d1 holds 3 and d2 50, so 47 remain.
    given(w())
        .when(register_unit(
            "d3",
            UnitKind::IndustryUnion,
            Some("city"),
            Some(48),
        ))
        .then_rejects("QUOTA_EXCEEDED");
    given(w())
        .when(register_unit(
            "d3",
            UnitKind::IndustryUnion,
            Some("city"),
            Some(47),
        ))
        .then_accepts(|_| {});
    given(w())
        .when(Command::SetQuota(SetQuota {
            unit: unit_id("city"),
            quota: Some(52),
        }))
        .then_rejects("QUOTA_BELOW_ALLOTTED");
    given(w())
        .when(Command::SetQuota(SetQuota {
            unit: unit_id("d1"),
            quota: Some(1),
        }))
        .then_rejects("QUOTA_BELOW_REGISTERED");
}

// ---- volunteers ----

#[test]
fn registration_is_refused_beyond_the_quota() {
    let full = world().run(register_volunteer("v3", "g1", 3)).events();
    let r = given(full)
        .when(register_volunteer("v4", "g1", 4))
        .then_rejects("QUOTA_EXCEEDED");
    assert!(matches!(
        r,
        crate::Rejection::QuotaExceeded { quota: 3, .. }
    ));
}

#[test]
fn a_person_registers_once() {
    let r = given(w())
        .when(register_volunteer("v9", "d2", 1))
        .then_rejects("DUPLICATE_IDENTITY");
    // Whoever registers learns that the person is registered, not as whom.
    assert_eq!(r, crate::Rejection::DuplicateIdentity);
    assert_eq!(
        r.to_string(),
        "this person is already registered in this ledger"
    );
    assert!(!r.to_string().contains("v1"), "{r}");
    given(w())
        .when(register_volunteer("v1", "d2", 9))
        .then_rejects("VOLUNTEER_EXISTS");
}

#[test]
fn registration_assigns_the_next_unified_number() {
    given(w())
        .when(register_volunteer("v3", "d2", 3))
        .then_accepts(|e| match &e[0] {
            Event::VolunteerRegistered(r) => assert_eq!(r.number.0, "LYG00000003"),
            other => panic!("unexpected {other:?}"),
        });
}

#[test]
fn three_opinions_in_order() {
    let registered = world().run(register_volunteer("v3", "d2", 3)).events();
    given(registered.clone())
        .when(approve("v3", ApprovalLevel::City))
        .then_rejects("APPROVAL_OUT_OF_ORDER");
    given(registered.clone())
        .when(sign_up("a1", "v3"))
        .then_rejects("VOLUNTEER_NOT_APPROVED");
    given(w())
        .when(approve("v1", ApprovalLevel::Unit))
        .then_rejects("REGISTRATION_CLOSED");
    given(w())
        .when(approve("nobody", ApprovalLevel::Unit))
        .then_rejects("UNKNOWN_VOLUNTEER");
    let state = given(registered)
        .when(approve("v3", ApprovalLevel::Unit))
        .then_accepts(|_| {});
    assert_eq!(
        state.volunteers[&vid("v3")].volunteer.status,
        VolunteerStatus::AwaitingApproval(ApprovalLevel::DistrictOrIndustry)
    );
}

#[test]
fn a_rejected_registration_frees_its_place_and_identity() {
    let full = world().run(register_volunteer("v3", "g1", 3));
    let rejected = full
        .run(Command::RejectVolunteer(RejectVolunteer {
            volunteer: vid("v3"),
            level: ApprovalLevel::Unit,
            reason: text("材料不全"),
        }))
        .events();
    given(rejected)
        .when(register_volunteer("v3b", "g1", 3))
        .then_accepts(|_| {});
}

// ---- projects ----

fn propose(id: &str, proposer: Proposer, filed_by: &str) -> Command {
    Command::ProposeProject(ProposeProject {
        project: ProjectId::new(id).unwrap(),
        title: text("职工法律援助进社区"),
        category: Category::LegalAid,
        proposer,
        filed_by: unit_id(filed_by),
    })
}

#[test]
fn city_projects_are_approved_and_others_wait_for_the_city() {
    let state = given(w())
        .when(propose("p1", Proposer::City, "city"))
        .then_accepts(|_| {});
    assert_eq!(
        state.projects[&ProjectId::new("p1").unwrap()].status,
        ProjectStatus::Approved
    );
    given(w())
        .when(propose("p1", Proposer::City, "d1"))
        .then_rejects("INVALID_VALUE");
    let proposed = world()
        .run(propose("p2", Proposer::Unit(unit_id("g1")), "g1"))
        .events();
    given(proposed.clone())
        .when(Command::UndertakeProject(UndertakeProject {
            project: ProjectId::new("p2").unwrap(),
            unit: unit_id("g1"),
        }))
        .then_rejects("PROJECT_NOT_APPROVED");
    given(proposed.clone())
        .when(propose("p2", Proposer::City, "city"))
        .then_rejects("PROJECT_EXISTS");
    let approved = world()
        .run(propose("p2", Proposer::Unit(unit_id("g1")), "g1"))
        .run(Command::ApproveProject(ApproveProject {
            project: ProjectId::new("p2").unwrap(),
        }));
    given(approved.events())
        .when(Command::ApproveProject(ApproveProject {
            project: ProjectId::new("p2").unwrap(),
        }))
        .then_rejects("PROJECT_DECIDED");
    let undertaken = approved.run(Command::UndertakeProject(UndertakeProject {
        project: ProjectId::new("p2").unwrap(),
        unit: unit_id("g1"),
    }));
    given(undertaken.events())
        .when(Command::UndertakeProject(UndertakeProject {
            project: ProjectId::new("p2").unwrap(),
            unit: unit_id("g1"),
        }))
        .then_rejects("ALREADY_UNDERTAKEN");
    given(w())
        .when(Command::ApproveProject(ApproveProject {
            project: ProjectId::new("p9").unwrap(),
        }))
        .then_rejects("UNKNOWN_PROJECT");
}

// ---- activities and sign-ups ----

#[test]
fn activities_need_sound_terms() {
    given(w())
        .when(Command::PublishActivity(publish("a1", "g1")))
        .then_rejects("ACTIVITY_EXISTS");
    let mut backwards = publish("a2", "g1");
    backwards.window = Window {
        start: t("2026-03-05T11:00"),
        end: t("2026-03-05T09:00"),
    };
    given(w())
        .when(Command::PublishActivity(backwards))
        .then_rejects("INVALID_VALUE");
    let mut twice = publish("a2", "g1");
    twice.co_organisers = vec![unit_id("g1")];
    given(w())
        .when(Command::PublishActivity(twice))
        .then_rejects("INVALID_VALUE");
    let mut campaign = publish("a2", "g1");
    campaign.campaign = Some(CampaignId::new("c9").unwrap());
    given(w())
        .when(Command::PublishActivity(campaign))
        .then_rejects("UNKNOWN_CAMPAIGN");
}

#[test]
fn sign_ups_respect_capacity() {
    let signed = world()
        .approved_volunteer("v3", "g1", 3)
        .at("2026-03-04T10:00")
        .run(sign_up("a1", "v1"))
        .run(sign_up("a1", "v2"))
        .events();
    let r = given(signed.clone())
        .at("2026-03-04T10:00")
        .when(sign_up("a1", "v3"))
        .then_rejects("ACTIVITY_FULL");
    assert_eq!(r.field(), Some("activity"));
    given(signed)
        .at("2026-03-04T10:00")
        .when(sign_up("a1", "v1"))
        .then_rejects("ALREADY_SIGNED_UP");
}

#[test]
fn sign_up_closes_when_the_activity_ends() {
    given(w())
        .at("2026-03-05T11:01")
        .when(sign_up("a1", "v1"))
        .then_rejects("SIGN_UP_CLOSED");
    given(w())
        .when(sign_up("a9", "v1"))
        .then_rejects("UNKNOWN_ACTIVITY");
}

#[test]
fn a_cancelled_activity_takes_no_one() {
    let cancelled = world()
        .run(Command::CancelActivity(CancelActivity {
            activity: aid("a1"),
            reason: text("暴雨"),
        }))
        .events();
    given(cancelled)
        .at("2026-03-04T10:00")
        .when(sign_up("a1", "v1"))
        .then_rejects("ACTIVITY_CANCELLED");
}

#[test]
fn withdrawing_a_sign_up_is_only_for_those_signed_up_and_absent() {
    let cancel = |v: &str| {
        Command::CancelSignUp(CancelSignUp {
            activity: aid("a1"),
            volunteer: vid(v),
        })
    };
    given(w()).when(cancel("v1")).then_rejects("NOT_SIGNED_UP");
    given(wc())
        .when(cancel("v1"))
        .then_rejects("ALREADY_ATTENDED");
}

// ---- attendance ----

#[test]
fn check_in_then_check_out_records_a_pending_credit() {
    let signed = world()
        .at("2026-03-04T10:00")
        .run(sign_up("a1", "v1"))
        .events();
    let state = given(signed)
        .at("2026-03-05T09:02")
        .by("kiosk-1")
        .when(check_in("a1", "v1", "2026-03-05T09:02"))
        .then(vec![Event::CheckedIn(CheckedIn {
            session: SessionId(1),
            activity: aid("a1"),
            volunteer: vid("v1"),
            at: t("2026-03-05T09:02"),
            source: Source {
                system: actor("kiosk-1"),
                device: None,
                external_id: None,
            },
        })]);
    let after_in: Vec<Event> = world()
        .at("2026-03-04T10:00")
        .run(sign_up("a1", "v1"))
        .at("2026-03-05T09:02")
        .by("kiosk-1")
        .run(check_in("a1", "v1", "2026-03-05T09:02"))
        .events();
    assert_eq!(crate::Ledger::replay(&after_in), state);
    given(after_in)
        .at("2026-03-05T10:40")
        .by("kiosk-1")
        .when(check_out("a1", "v1", "2026-03-05T10:40"))
        .then(vec![
            Event::CheckedOut(CheckedOut {
                session: SessionId(1),
                at: t("2026-03-05T10:40"),
                source: Some(Source {
                    system: actor("kiosk-1"),
                    device: None,
                    external_id: None,
                }),
            }),
            Event::HoursCredited(HoursCredited {
                credit: credit(1),
                volunteer: vid("v1"),
                activity: aid("a1"),
                minutes: 98,
                day: Day::from_ymd(2026, 3, 5).unwrap(),
                source: CreditSource::Attendance {
                    session: SessionId(1),
                    auto_closed: false,
                },
                objection_deadline: t("2026-03-08T10:40"),
                points_rule: PointsRule::STANDARD,
            }),
        ]);
}

#[test]
fn only_time_inside_the_window_is_credited() {
    let early = world()
        .at("2026-03-04T10:00")
        .run(sign_up("a1", "v1"))
        .at("2026-03-05T08:30")
        .run(check_in("a1", "v1", "2026-03-05T08:30"))
        .events();
    given(early)
        .at("2026-03-05T11:30")
        .when(check_out("a1", "v1", "2026-03-05T11:30"))
        .then_accepts(|e| match &e[1] {
            Event::HoursCredited(c) => assert_eq!(c.minutes, 120),
            other => panic!("unexpected {other:?}"),
        });
}

fn signed_in_world() -> World {
    world()
        .at("2026-03-04T10:00")
        .run(sign_up("a1", "v1"))
        .at("2026-03-05T09:00")
        .run(check_in("a1", "v1", "2026-03-05T09:00"))
}

#[test]
fn check_in_rules() {
    given(w())
        .at("2026-03-05T09:00")
        .when(check_in("a1", "v1", "2026-03-05T09:00"))
        .then_rejects("NOT_SIGNED_UP");
    let signed = world()
        .at("2026-03-04T10:00")
        .run(sign_up("a1", "v1"))
        .events();
    given(signed.clone())
        .at("2026-03-05T08:00")
        .when(check_in("a1", "v1", "2026-03-05T07:59"))
        .then_rejects("OUTSIDE_WINDOW");
    given(signed.clone())
        .at("2026-03-05T12:00")
        .when(check_in("a1", "v1", "2026-03-05T11:01"))
        .then_rejects("OUTSIDE_WINDOW");
    given(signed)
        .at("2026-03-05T09:00")
        .when(check_in("a1", "v1", "2026-03-05T09:30"))
        .then_rejects("FUTURE_TIME");
    given(signed_in_world().events())
        .at("2026-03-05T09:01")
        .when(check_in("a1", "v1", "2026-03-05T09:01"))
        .then_rejects("DUPLICATE_CHECK_IN");
}

#[test]
fn walk_ins_sign_up_on_arrival() {
    let mut open_door = publish("a2", "g1");
    open_door.walk_ins = true;
    let events = world().run(Command::PublishActivity(open_door)).events();
    given(events)
        .at("2026-03-05T09:00")
        .when(check_in("a2", "v1", "2026-03-05T09:00"))
        .then_accepts(|e| {
            assert!(matches!(&e[0], Event::SignedUp(s) if s.walk_in));
            assert!(matches!(&e[1], Event::CheckedIn(_)));
        });
}

#[test]
fn insurance_is_required_where_the_activity_says() {
    let mut insured_only = publish("a2", "g1");
    insured_only.insurance_required = true;
    let base = world()
        .run(Command::PublishActivity(insured_only))
        .at("2026-03-04T10:00")
        .run(sign_up("a2", "v1"));
    given(base.events())
        .at("2026-03-05T09:00")
        .when(check_in("a2", "v1", "2026-03-05T09:00"))
        .then_rejects("NOT_INSURED");
    let insured = base
        .run(Command::RecordInsurance(RecordInsurance {
            activity: aid("a2"),
            volunteer: vid("v1"),
            policy: ExternalRef::new("PICC-2026-0305-01").unwrap(),
        }))
        .events();
    given(insured)
        .at("2026-03-05T09:00")
        .when(check_in("a2", "v1", "2026-03-05T09:00"))
        .then_accepts(|_| {});
}

#[test]
fn check_out_rules() {
    let signed = world()
        .at("2026-03-04T10:00")
        .run(sign_up("a1", "v1"))
        .events();
    given(signed)
        .when(check_out("a1", "v1", "2026-03-05T11:00"))
        .then_rejects("CHECK_OUT_WITHOUT_CHECK_IN");
    given(signed_in_world().events())
        .when(check_out("a1", "v1", "2026-03-05T08:59"))
        .then_rejects("NEGATIVE_DURATION");
    given(signed_in_world().events())
        .at("2026-03-06T02:00")
        .when(check_out("a1", "v1", "2026-03-06T01:01"))
        .then_rejects("ABSURD_DURATION");
    // A retried check-out finds the session already closed.
    given(wc())
        .when(check_out("a1", "v1", "2026-03-05T11:00"))
        .then_rejects("CHECK_OUT_WITHOUT_CHECK_IN");
}

/// `world()` plus activity `a2` (5 March 10:00–12:00) that v1 signed up for.
fn two_activities() -> World {
    let mut second = publish("a2", "d2");
    second.window = Window {
        start: t("2026-03-05T10:00"),
        end: t("2026-03-05T12:00"),
    };
    world()
        .run(Command::PublishActivity(second))
        .at("2026-03-04T10:00")
        .run(sign_up("a1", "v1"))
        .run(sign_up("a2", "v1"))
}

#[test]
fn one_volunteer_is_in_one_place_at_a_time() {
    let in_a1 =
        two_activities()
            .at("2026-03-05T09:00")
            .run(check_in("a1", "v1", "2026-03-05T09:00"));
    given(in_a1.events())
        .at("2026-03-05T10:30")
        .when(check_in("a2", "v1", "2026-03-05T10:30"))
        .then_rejects("OVERLAPPING_ATTENDANCE");
    // An offline kiosk syncs a later session first; the earlier one may not
    // then be closed across it.
    let synced_late = two_activities()
        .at("2026-03-05T12:00")
        .run(check_in("a2", "v1", "2026-03-05T10:30"))
        .run(check_in("a1", "v1", "2026-03-05T09:00"))
        .events();
    given(synced_late.clone())
        .at("2026-03-05T12:00")
        .when(check_out("a1", "v1", "2026-03-05T10:45"))
        .then_rejects("OVERLAPPING_ATTENDANCE");
    given(synced_late)
        .at("2026-03-05T12:00")
        .when(check_out("a1", "v1", "2026-03-05T10:30"))
        .then_accepts(|_| {});
    // A session reported in full after the fact still holds its time.
    let was_in_a1 = two_activities()
        .at("2026-03-05T12:00")
        .run(check_in("a1", "v1", "2026-03-05T09:00"))
        .run(check_out("a1", "v1", "2026-03-05T10:40"))
        .events();
    given(was_in_a1.clone())
        .at("2026-03-05T12:00")
        .when(check_in("a2", "v1", "2026-03-05T10:39"))
        .then_rejects("OVERLAPPING_ATTENDANCE");
    given(was_in_a1)
        .at("2026-03-05T12:00")
        .when(check_in("a2", "v1", "2026-03-05T10:40"))
        .then_accepts(|_| {});
}

/// Activity `long` lasting all of 5 March, that v1 signed up for.
fn long_day() -> World {
    let mut long = publish("long", "g1");
    long.window = Window {
        start: t("2026-03-05T00:00"),
        end: t("2026-03-05T23:59"),
    };
    world()
        .run(Command::PublishActivity(long))
        .at("2026-03-04T10:00")
        .run(sign_up("long", "v1"))
}

#[test]
fn no_one_serves_more_than_sixteen_hours_a_day() {
    let served = long_day()
        .at("2026-03-05T23:00")
        .run(check_in("long", "v1", "2026-03-05T00:30"))
        .run(check_out("long", "v1", "2026-03-05T16:00"))
        .run(check_in("long", "v1", "2026-03-05T17:00"))
        .events();
    given(served)
        .at("2026-03-05T23:00")
        .when(check_out("long", "v1", "2026-03-05T18:00"))
        .then_rejects("DAILY_LIMIT_EXCEEDED");
}

#[test]
fn forgotten_check_outs_close_by_the_activitys_rule() {
    given(signed_in_world().events())
        .at("2026-03-05T10:00")
        .when(Command::CloseForgottenCheckOuts(CloseForgottenCheckOuts {
            activity: aid("a1"),
        }))
        .then_rejects("ACTIVITY_NOT_ENDED");
    given(signed_in_world().events())
        .at("2026-03-05T20:00")
        .by("ledger-timer")
        .when(Command::CloseForgottenCheckOuts(CloseForgottenCheckOuts {
            activity: aid("a1"),
        }))
        .then_accepts(|e| {
            assert!(matches!(&e[0], Event::CheckedOut(c) if c.source.is_none() && c.at == t("2026-03-05T11:00")));
            match &e[1] {
                Event::HoursCredited(c) => {
                    assert_eq!(c.minutes, 120);
                    assert!(matches!(c.source, CreditSource::Attendance { auto_closed: true, .. }));
                }
                other => panic!("unexpected {other:?}"),
            }
        });
}

#[test]
fn a_forgotten_check_out_is_open_to_a_correction_request() {
    let closed = signed_in_world()
        .at("2026-03-05T20:00")
        .run(Command::CloseForgottenCheckOuts(CloseForgottenCheckOuts {
            activity: aid("a1"),
        }));
    let requested = closed.by("v1-self").run(dispute(
        1,
        DisputeKind::CorrectionRequest {
            proposed_minutes: 60,
        },
    ));
    let state = given(requested.events())
        .at("2026-03-06T09:00")
        .when(review(1, ReviewOutcome::Amend { minutes: 60 }))
        .then_accepts(|e| assert!(matches!(&e[1], Event::CreditConfirmed(c) if c.minutes == 60)));
    let account = &state.volunteers[&vid("v1")].account;
    assert_eq!(account.confirmed_system_minutes, 60);
    assert_eq!(account.pending_minutes, 0);
    assert_eq!(account.points_earned, 1);
}

// ---- backfilled hours ----

#[test]
fn backfill_needs_a_second_person_and_fits_the_activity() {
    given(w())
        .when(backfill("v2", "a1", 60, "admin-city"))
        .then_rejects("SELF_APPROVAL");
    given(w())
        .when(backfill("v2", "a1", 121, "admin-d1"))
        .then_rejects("EXCEEDS_ACTIVITY_LENGTH");
    given(wc())
        .when(backfill("v1", "a1", 1, "admin-d1"))
        .then_rejects("EXCEEDS_ACTIVITY_LENGTH");
    given(w())
        .when(backfill("v2", "a1", 0, "admin-d1"))
        .then_rejects("INVALID_VALUE");
    let state = given(w())
        .when(backfill("v2", "a1", 90, "admin-d1"))
        .then_accepts(|e| {
            assert!(matches!(&e[0], Event::HoursCredited(c) if !c.source.is_system()))
        });
    assert_eq!(state.volunteers[&vid("v2")].account.pending_minutes, 90);
}

// ---- requests: one admin asks for a hand-made entry, another decides ----

fn request(entry: ManualEntry) -> Command {
    Command::RequestEntry(RequestEntry {
        entry,
        reason: text("扫码设备故障，补录"),
    })
}

fn award_of(volunteer: &str, points: u64) -> ManualEntry {
    ManualEntry::Award {
        volunteer: vid(volunteer),
        points,
    }
}

fn backfill_of(volunteer: &str, activity: &str, minutes: u32) -> ManualEntry {
    ManualEntry::Backfill {
        volunteer: vid(volunteer),
        activity: aid(activity),
        minutes,
    }
}

fn approve_request(n: u64) -> Command {
    Command::ApproveRequest(ApproveRequest {
        request: RequestId(n),
    })
}

fn decline_request(n: u64) -> Command {
    Command::DeclineRequest(DeclineRequest {
        request: RequestId(n),
        reason: text("无相关记录"),
    })
}

#[test]
fn a_request_waits_and_another_admin_makes_the_entry() {
    let requested = world()
        .by("admin-d1")
        .run(request(award_of("v1", 5)))
        .events();
    given(w())
        .by("admin-d1")
        .when(request(award_of("v1", 5)))
        .then(vec![Event::EntryRequested(Box::new(EntryRequested {
            request: RequestId(1),
            entry: award_of("v1", 5),
            reason: text("扫码设备故障，补录"),
            requested_by: actor("admin-d1"),
        }))]);
    let own = given(requested.clone())
        .by("admin-d1")
        .when(approve_request(1))
        .then_rejects("SELF_APPROVAL");
    assert_eq!(own.field(), Some("request"));
    given(requested.clone())
        .by("admin-city")
        .when(approve_request(2))
        .then_rejects("UNKNOWN_REQUEST");
    let state = given(requested.clone())
        .by("admin-city")
        .when(approve_request(1))
        .then(vec![
            Event::RequestApproved(RequestApproved {
                request: RequestId(1),
            }),
            Event::PointsAwarded(PointsAwarded {
                award: AwardId(1),
                volunteer: vid("v1"),
                points: 5,
                basis: AwardBasis::Manual(Box::new(Approval {
                    approver: actor("admin-city"),
                    reason: text("扫码设备故障，补录"),
                })),
            }),
        ]);
    assert_eq!(state.volunteers[&vid("v1")].account.balance(), 5);
    assert!(state.requests.is_empty());
    let approved = world()
        .by("admin-d1")
        .run(request(award_of("v1", 5)))
        .by("admin-city")
        .run(approve_request(1))
        .events();
    given(approved.clone())
        .by("admin-d2")
        .when(approve_request(1))
        .then_rejects("REQUEST_DECIDED");
    given(approved)
        .by("admin-d2")
        .when(decline_request(1))
        .then_rejects("REQUEST_DECIDED");
}

#[test]
fn a_request_is_refused_at_once_when_its_entry_could_not_be_made() {
    given(w())
        .by("admin-d1")
        .when(request(backfill_of("v2", "a1", 121)))
        .then_rejects("EXCEEDS_ACTIVITY_LENGTH");
    given(w())
        .by("admin-d1")
        .when(request(award_of("v1", 0)))
        .then_rejects("INVALID_VALUE");
    given(w())
        .by("admin-d1")
        .when(request(ManualEntry::Reversal {
            target: EntryRef::Award(AwardId(7)),
        }))
        .then_rejects("UNKNOWN_ENTRY");
}

#[test]
fn an_approval_checks_the_entry_again_and_a_refused_one_stays_open() {
    // Each backfill fits the two-hour activity alone; not both.
    let both = world()
        .at("2026-03-05T12:00")
        .by("admin-d1")
        .run(request(backfill_of("v2", "a1", 90)))
        .run(request(backfill_of("v2", "a1", 60)))
        .by("admin-city")
        .run(approve_request(1))
        .events();
    given(both.clone())
        .by("admin-city")
        .when(approve_request(2))
        .then_rejects("EXCEEDS_ACTIVITY_LENGTH");
    let state = given(both)
        .by("admin-city")
        .when(decline_request(2))
        .then(vec![Event::RequestDeclined(RequestDeclined {
            request: RequestId(2),
            reason: text("无相关记录"),
        })]);
    assert!(state.requests.is_empty());
    let credit = &state.credits[&credit(1)];
    assert_eq!(credit.minutes, 90);
    assert!(
        matches!(&credit.source, CreditSource::Backfill(a) if a.approver == actor("admin-city"))
    );
}

#[test]
fn the_requesting_admin_may_withdraw_his_request() {
    let requested = world_with_credit()
        .by("admin-d1")
        .run(request(ManualEntry::Reversal {
            target: EntryRef::Credit(credit(1)),
        }));
    let state = given(requested.events())
        .by("admin-d1")
        .when(decline_request(1))
        .then_accepts(|e| assert!(matches!(&e[0], Event::RequestDeclined(_))));
    assert!(state.requests.is_empty());
    assert!(state.credits[&credit(1)].status.holds_minutes());
    let withdrawn = requested.run(decline_request(1)).events();
    given(withdrawn.clone())
        .by("admin-city")
        .when(approve_request(1))
        .then_rejects("REQUEST_DECIDED");
    // Withdrawn, the reversal may be asked for again.
    given(withdrawn)
        .by("admin-d1")
        .when(request(ManualEntry::Reversal {
            target: EntryRef::Credit(credit(1)),
        }))
        .then_accepts(|e| {
            assert!(matches!(&e[0], Event::EntryRequested(r) if r.request == RequestId(2)))
        });
}

#[test]
fn one_request_at_a_time_reverses_an_entry() {
    let reversal = || {
        request(ManualEntry::Reversal {
            target: EntryRef::Credit(credit(1)),
        })
    };
    let requested = world_with_credit().by("admin-d1").run(reversal()).events();
    let r = given(requested)
        .by("admin-d2")
        .when(reversal())
        .then_rejects("REVERSAL_REQUESTED");
    assert_eq!(r.field(), Some("entry"));
}

// ---- the life of a credit ----

#[test]
fn a_credit_confirms_only_after_its_objection_window() {
    given(wc())
        .at("2026-03-08T10:59")
        .when(confirm(1))
        .then_rejects("OBJECTION_WINDOW_OPEN");
    let state = given(wc())
        .at("2026-03-08T11:00")
        .by("ledger-timer")
        .when(confirm(1))
        .then(vec![
            Event::CreditConfirmed(CreditConfirmed {
                credit: credit(1),
                minutes: 120,
            }),
            Event::PointsAwarded(PointsAwarded {
                award: AwardId(1),
                volunteer: vid("v1"),
                points: 2,
                basis: AwardBasis::Credit {
                    credit: credit(1),
                    rule: PointsRule::STANDARD,
                },
            }),
        ]);
    let account = &state.volunteers[&vid("v1")].account;
    assert_eq!(account.confirmed_minutes(), 120);
    assert_eq!(account.balance(), 2);
    given(confirmed_world().events())
        .at("2026-03-09T00:00")
        .when(confirm(1))
        .then_rejects("CREDIT_NOT_PENDING");
    given(wc()).when(confirm(7)).then_rejects("UNKNOWN_CREDIT");
}

#[test]
fn due_credits_confirm_in_deadline_order() {
    let two = world_with_credit()
        .at("2026-03-06T09:00")
        .run(backfill("v2", "a1", 60, "admin-d1"))
        .events();
    given(two.clone())
        .at("2026-03-08T12:00")
        .when(Command::ConfirmDueCredits(ConfirmDueCredits { limit: 10 }))
        .then_accepts(|e| {
            assert_eq!(e.len(), 2);
            assert!(matches!(&e[0], Event::CreditConfirmed(c) if c.credit == credit(1)));
        });
    given(two.clone())
        .at("2026-03-09T12:00")
        .when(Command::ConfirmDueCredits(ConfirmDueCredits { limit: 10 }))
        .then_accepts(|e| {
            let awards: Vec<_> = e
                .iter()
                .filter_map(|e| match e {
                    Event::PointsAwarded(a) => Some(a.award),
                    _ => None,
                })
                .collect();
            assert_eq!(awards, vec![AwardId(1), AwardId(2)]);
        });
    given(two)
        .when(Command::ConfirmDueCredits(ConfirmDueCredits { limit: 0 }))
        .then_rejects("INVALID_VALUE");
}

#[test]
fn objections_are_heard_while_the_credit_is_posted() {
    given(wc())
        .at("2026-03-08T11:00")
        .when(dispute(1, DisputeKind::Objection))
        .then_rejects("OBJECTION_WINDOW_CLOSED");
    let objected = world_with_credit()
        .at("2026-03-06T09:00")
        .run(dispute(1, DisputeKind::Objection));
    given(objected.events())
        .at("2026-03-09T09:00")
        .when(confirm(1))
        .then_rejects("CREDIT_NOT_PENDING");
    given(objected.events())
        .when(dispute(1, DisputeKind::Objection))
        .then_rejects("CREDIT_NOT_PENDING");
    given(wc())
        .when(review(1, ReviewOutcome::Uphold))
        .then_rejects("CREDIT_NOT_IN_REVIEW");
    let state = given(objected.events())
        .when(review(1, ReviewOutcome::Void))
        .then_accepts(|e| assert_eq!(e.len(), 1));
    let account = &state.volunteers[&vid("v1")].account;
    assert_eq!(account.pending_minutes, 0);
    assert_eq!(account.confirmed_minutes(), 0);
    assert!(account.daily_minutes.is_empty());
}

#[test]
fn an_amendment_fits_the_activity() {
    let objected = world_with_credit()
        .at("2026-03-06T09:00")
        .run(dispute(1, DisputeKind::Objection))
        .events();
    given(objected)
        .when(review(1, ReviewOutcome::Amend { minutes: 121 }))
        .then_rejects("EXCEEDS_ACTIVITY_LENGTH");
}

// ---- points, rewards, redemption ----

#[test]
fn manual_points_need_a_second_person() {
    let award = |approver: &str, points: u64| {
        Command::AwardPoints(AwardPoints {
            volunteer: vid("v1"),
            points,
            approver: actor(approver),
            reason: text("微心愿认领完成"),
        })
    };
    given(w())
        .when(award("admin-city", 5))
        .then_rejects("SELF_APPROVAL");
    given(w())
        .when(award("admin-d1", 0))
        .then_rejects("INVALID_VALUE");
    let state = given(w()).when(award("admin-d1", 5)).then_accepts(|_| {});
    assert_eq!(state.volunteers[&vid("v1")].account.balance(), 5);
}

#[test]
fn redemption_needs_balance_and_stock() {
    given(confirmed_world().events())
        .when(redeem("v1", "r9", 1))
        .then_rejects("UNKNOWN_REWARD");
    given(confirmed_world().events())
        .when(list_reward("r1", 1, 1))
        .then_rejects("REWARD_EXISTS");
    given(confirmed_world().events())
        .when(redeem("v1", "r1", 2))
        .then_rejects("OUT_OF_STOCK");
    given(confirmed_world().events())
        .when(redeem("v2", "r1", 1))
        .then_rejects("INSUFFICIENT_BALANCE");
    // A district's own reward is for its own volunteers: v1's home lies
    // under d1, not d2.
    let mut events = confirmed_world().events();
    events.push(Event::RewardListed(RewardListed {
        reward: crate::domain::Reward {
            id: RewardId::new("r2").unwrap(),
            unit: unit_id("d2"),
            name: text("区工人文化宫门票"),
            cost_points: 1,
            stock: 5,
        },
    }));
    given(events)
        .when(redeem("v1", "r2", 1))
        .then_rejects("REWARD_NOT_FOR_VOLUNTEER");
    let state = given(confirmed_world().events())
        .when(redeem("v1", "r1", 1))
        .then_accepts(|_| {});
    assert_eq!(state.volunteers[&vid("v1")].account.balance(), 1);
    assert_eq!(state.rewards[&RewardId::new("r1").unwrap()].stock, 0);
}

#[test]
fn restocking_is_bounded_and_cannot_wrap() {
    let restock = |quantity| {
        Command::RestockReward(RestockReward {
            reward: RewardId::new("r1").unwrap(),
            quantity,
        })
    };
    given(confirmed_world().events())
        .when(restock(u64::MAX))
        .then_rejects("INVALID_VALUE");
    given(confirmed_world().events())
        .when(restock(0))
        .then_rejects("INVALID_VALUE");
}

#[test]
fn reversals_compensate_and_never_overdraw() {
    let redeemed = confirmed_world()
        .run(Command::RestockReward(RestockReward {
            reward: RewardId::new("r1").unwrap(),
            quantity: 1,
        }))
        .run(redeem("v1", "r1", 2));
    given(redeemed.events())
        .when(reverse(EntryRef::Credit(credit(1)), "admin-d1"))
        .then_rejects("REVERSAL_WOULD_OVERDRAW");
    given(redeemed.events())
        .when(reverse(EntryRef::Award(AwardId(1)), "admin-city"))
        .then_rejects("SELF_APPROVAL");
    given(redeemed.events())
        .when(reverse(EntryRef::Award(AwardId(9)), "admin-d1"))
        .then_rejects("UNKNOWN_ENTRY");
    let refunded = redeemed.run(reverse(EntryRef::Redemption(RedemptionId(1)), "admin-d1"));
    given(refunded.events())
        .when(reverse(EntryRef::Redemption(RedemptionId(1)), "admin-d1"))
        .then_rejects("ALREADY_REVERSED");
    let state = given(refunded.events())
        .when(reverse(EntryRef::Credit(credit(1)), "admin-d1"))
        .then_accepts(|e| {
            assert_eq!(e.len(), 2, "the credit and the points it earned");
            assert!(
                matches!(&e[1], Event::EntryReversed(r) if r.target == EntryRef::Award(AwardId(1)))
            );
        });
    let account = &state.volunteers[&vid("v1")].account;
    assert_eq!(account.balance(), 0);
    assert_eq!(account.confirmed_minutes(), 0);
    assert_eq!(state.rewards[&RewardId::new("r1").unwrap()].stock, 2);
}

#[test]
fn points_are_priced_by_the_rule_carried_in_the_credit() {
    let mut rich = publish("a2", "g1");
    rich.points_rule = PointsRule {
        version: 7,
        points_per_hour: 10,
        coefficient_permille: 1500,
        cap_per_credit: Some(25),
    };
    let events = world()
        .run(Command::PublishActivity(rich))
        .at("2026-03-04T10:00")
        .run(sign_up("a2", "v1"))
        .at("2026-03-05T11:00")
        .run(check_in("a2", "v1", "2026-03-05T09:00"))
        .run(check_out("a2", "v1", "2026-03-05T11:00"))
        .events();
    given(events)
        .at("2026-03-09T00:00")
        .when(confirm(1))
        .then_accepts(|e| {
            assert!(matches!(&e[1], Event::PointsAwarded(a) if a.points == 25
                && matches!(a.basis, AwardBasis::Credit { rule, .. } if rule.version == 7)))
        });
}

// ---- wishes and pairings ----

fn wish_id() -> WishId {
    WishId::new("w1").unwrap()
}

fn post_wish() -> Command {
    Command::PostWish(PostWish {
        wish: wish_id(),
        unit: unit_id("g1"),
        title: text("一套初中数学辅导书"),
        beneficiary_alias: text("困难职工子女小王"),
    })
}

#[test]
fn wishes_are_claimed_once_and_fulfilled_by_the_claimer() {
    let claim = |v: &str| {
        Command::ClaimWish(ClaimWish {
            wish: wish_id(),
            volunteer: vid(v),
        })
    };
    let fulfil = |v: &str| {
        Command::FulfilWish(FulfilWish {
            wish: wish_id(),
            volunteer: vid(v),
        })
    };
    given(w()).when(claim("v1")).then_rejects("UNKNOWN_WISH");
    let posted = world().run(post_wish());
    given(posted.events())
        .when(post_wish())
        .then_rejects("WISH_EXISTS");
    let claimed = posted.run(claim("v1"));
    given(claimed.events())
        .when(claim("v2"))
        .then_rejects("WISH_NOT_OPEN");
    given(claimed.events())
        .when(fulfil("v2"))
        .then_rejects("WISH_NOT_CLAIMED_BY");
    given(claimed.events())
        .when(fulfil("v1"))
        .then_accepts(|_| {});
}

#[test]
fn one_pairing_at_a_time() {
    let start = |id: &str| {
        Command::StartPairing(StartPairing {
            pairing: PairingId::new(id).unwrap(),
            volunteer: vid("v1"),
            unit: unit_id("g1"),
            beneficiary_alias: text("困难职工老李"),
        })
    };
    let end = || {
        Command::EndPairing(EndPairing {
            pairing: PairingId::new("p1").unwrap(),
            reason: text("帮扶对象已脱困"),
        })
    };
    given(w()).when(end()).then_rejects("UNKNOWN_PAIRING");
    let paired = world().run(start("p1"));
    given(paired.events())
        .when(start("p1"))
        .then_rejects("PAIRING_EXISTS");
    given(paired.events())
        .when(start("p2"))
        .then_rejects("ALREADY_PAIRED");
    let ended = paired.run(end());
    given(ended.events())
        .when(end())
        .then_rejects("PAIRING_ENDED");
    given(ended.events()).when(start("p2")).then_accepts(|_| {});
}

// ---- campaigns and reports ----

fn declare() -> Command {
    let day = |m, d| Day::from_ymd(2026, m, d).unwrap();
    Command::DeclareCampaign(DeclareCampaign {
        campaign: CampaignId::new("2026").unwrap(),
        organiser: unit_id("city"),
        name: text("2026年职工志愿服务"),
        phases: vec![
            Phase {
                name: text("学雷锋志愿服务月"),
                days: DayRange {
                    first: day(3, 1),
                    last: day(3, 31),
                },
            },
            Phase {
                name: text("服务季"),
                days: DayRange {
                    first: day(4, 1),
                    last: day(10, 31),
                },
            },
        ],
        deadlines: vec![
            Deadline {
                kind: ReportKind::TypicalCase,
                due: day(4, 15),
            },
            Deadline {
                kind: ReportKind::YearlySummary,
                due: day(12, 15),
            },
        ],
    })
}

fn file(report: &str, deadline: u16) -> Command {
    Command::FileReport(FileReport {
        report: ReportId::new(report).unwrap(),
        campaign: CampaignId::new("2026").unwrap(),
        unit: unit_id("g1"),
        deadline,
        title: text("社区志愿服务典型案例"),
        attachments: vec![Attachment {
            name: text("photo-1.jpg"),
            blake3: Digest::of(b"photo bytes"),
            bytes: 11,
        }],
    })
}

#[test]
fn reports_answer_a_deadline_and_are_marked_late_after_it() {
    given(w())
        .when(file("r1", 0))
        .then_rejects("UNKNOWN_CAMPAIGN");
    let declared = world().run(declare());
    given(declared.events())
        .when(declare())
        .then_rejects("CAMPAIGN_EXISTS");
    given(declared.events())
        .when(file("r1", 2))
        .then_rejects("UNKNOWN_DEADLINE");
    let on_time = |e: &[Event]| assert!(matches!(&e[0], Event::ReportFiled(r) if !r.report.late));
    given(declared.events())
        .at("2026-04-15T23:00")
        .when(file("r1", 0))
        .then_accepts(on_time);
    given(declared.events())
        .at("2026-04-16T00:01")
        .when(file("r1", 0))
        .then_accepts(|e| assert!(matches!(&e[0], Event::ReportFiled(r) if r.report.late)));
    let filed = declared.at("2026-04-01T10:00").run(file("r1", 0));
    given(filed.events())
        .when(file("r1", 1))
        .then_rejects("REPORT_EXISTS");
}

// ---- checkpoints and the ledger's key ----

fn ledger_id() -> LedgerId {
    LedgerId::new("lyg").unwrap()
}

fn publish_key(key: &LedgerSigner, endorsed_by: Option<&LedgerSigner>) -> Command {
    let public_key = key.public_key();
    Command::PublishLedgerKey(PublishLedgerKey {
        public_key,
        endorsement: endorsed_by.map(|e| e.sign(&rotation_message(&ledger_id(), &public_key))),
    })
}

fn checkpoint(tree_size: u64, signer: &LedgerSigner) -> Command {
    let root = Digest::of(b"a root");
    Command::RecordCheckpoint(RecordCheckpoint {
        checkpoint: Checkpoint {
            tree_size,
            root,
            signature: Some(signer.sign(&checkpoint_message(&ledger_id(), tree_size, &root))),
        },
    })
}

#[test]
fn checkpoints_cover_every_event_before_them_and_carry_the_keys_signature() {
    let key = LedgerSigner::from_secret(&[5; 32]);
    let n = w().len() as u64;
    given(w())
        .when(checkpoint(n, &key))
        .then_rejects("INVALID_VALUE");
    let keyed = world().run(publish_key(&key, None)).events();
    let n = keyed.len() as u64;
    given(keyed.clone())
        .when(checkpoint(n + 1, &key))
        .then_rejects("CHECKPOINT_AHEAD");
    given(keyed.clone())
        .when(checkpoint(n - 1, &key))
        .then_rejects("INVALID_VALUE");
    let stranger = LedgerSigner::from_secret(&[6; 32]);
    given(keyed.clone())
        .when(checkpoint(n, &stranger))
        .then_rejects("BAD_SIGNATURE");
    let state = given(keyed).when(checkpoint(n, &key)).then_accepts(|_| {});
    assert_eq!(state.last_checkpoint.unwrap().tree_size, n);
}

#[test]
fn keys_rotate_only_with_the_current_keys_endorsement() {
    let first = LedgerSigner::from_secret(&[5; 32]);
    let second = LedgerSigner::from_secret(&[6; 32]);
    given(w())
        .when(publish_key(&first, Some(&second)))
        .then_rejects("INVALID_VALUE");
    let keyed = world().run(publish_key(&first, None)).events();
    given(keyed.clone())
        .when(publish_key(&second, None))
        .then_rejects("BAD_SIGNATURE");
    given(keyed.clone())
        .when(publish_key(&second, Some(&second)))
        .then_rejects("BAD_SIGNATURE");
    let state = given(keyed)
        .when(publish_key(&second, Some(&first)))
        .then_accepts(|_| {});
    assert_eq!(state.ledger_key, Some(second.public_key()));
}

/// Every code the rules can answer is exercised above and documented.
#[test]
fn every_rejection_code_is_tested_and_documented() {
    let rejection = include_str!("../rejection.rs");
    let tests = include_str!("tests.rs");
    let docs = include_str!("../../../docs/events.md");
    let codes: Vec<&str> = rejection
        .lines()
        .filter_map(|l| l.split("=> \"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .filter(|c| c.chars().all(|ch| ch.is_ascii_uppercase() || ch == '_'))
        .collect();
    assert!(codes.len() > 60, "found only {} codes", codes.len());
    for code in codes {
        assert!(
            tests.contains(&format!("then_rejects(\"{code}\")")),
            "no test rejects with {code}"
        );
        assert!(
            docs.contains(&format!("`{code}`")),
            "docs/events.md lacks {code}"
        );
    }
}
