//! Demo data for `ledger local`, modelled on notice 004 (Dalian, 2012): the
//! city federation, its 19 district and industry unions with their quotas
//! (5,800 places), community and enterprise unions, a model-worker team, a few
//! hundred volunteers approved at three levels, and a season of activities
//! with attendance, confirmed credits, points and redemptions.
//!
//! Every command goes through the real writer under a fixed key, so loading
//! twice records nothing twice.

use chrono::{Duration, Utc};
use ledger_core::command::*;
use ledger_core::domain::{
    made_up_resident_id, ApprovalLevel, AutoCheckOut, Category, Grassroots, Group,
    IdentityCommitment, IdentityKey, ManualEntry, Membership, PointsRule, UnitKind,
};
use ledger_core::rights::Role;
use ledger_core::time::{Timestamp, UtcOffset, Window};
use ledger_core::values::*;
use ledger_core::Command;

use crate::answer::{Answer, Submission};
use crate::sequencer::Writer;

/// 附件1 工会服务帮扶志愿者名额分配表.
const UNIONS: [(&str, &str, UnitKind, u32); 19] = [
    (
        "zhongshan",
        "中山区总工会",
        UnitKind::DistrictFederation,
        300,
    ),
    ("xigang", "西岗区总工会", UnitKind::DistrictFederation, 300),
    (
        "shahekou",
        "沙河口区总工会",
        UnitKind::DistrictFederation,
        300,
    ),
    (
        "ganjingzi",
        "甘井子区总工会",
        UnitKind::DistrictFederation,
        400,
    ),
    ("jinzhou", "金州新区总工会", UnitKind::ZoneFederation, 400),
    (
        "lvshunkou",
        "旅顺口区总工会",
        UnitKind::DistrictFederation,
        300,
    ),
    ("gaoxin", "高新区总工会", UnitKind::ZoneFederation, 300),
    ("baoshui", "保税区总工会", UnitKind::ZoneFederation, 300),
    (
        "wafangdian",
        "瓦房店市总工会",
        UnitKind::CountyFederation,
        300,
    ),
    (
        "pulandian",
        "普兰店市总工会",
        UnitKind::CountyFederation,
        300,
    ),
    ("zhuanghe", "庄河市总工会", UnitKind::CountyFederation, 300),
    ("changhai", "长海县总工会", UnitKind::CountyFederation, 200),
    (
        "changxingdao",
        "长兴岛区总工会",
        UnitKind::ZoneFederation,
        200,
    ),
    (
        "huayuankou",
        "花园口区总工会",
        UnitKind::ZoneFederation,
        200,
    ),
    ("jixie", "机械重工工会", UnitKind::IndustryUnion, 400),
    ("haiyuan", "海员工会", UnitKind::IndustryUnion, 400),
    ("caimao", "财贸工会", UnitKind::IndustryUnion, 300),
    ("qingfang", "轻纺工会", UnitKind::IndustryUnion, 300),
    ("jiaoyu", "教育工会", UnitKind::IndustryUnion, 300),
];

const VOLUNTEERS: usize = 300;
const ACTIVITIES: usize = 24;

fn id<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
    // The demo's own literals are valid by construction.
    r.unwrap_or_else(|e| panic!("demo value: {e:?}"))
}

fn text(s: &str) -> Text {
    id(Text::new(s))
}

fn unit(s: &str) -> UnitId {
    id(UnitId::new(s))
}

fn volunteer(n: usize) -> VolunteerId {
    id(VolunteerId::new(format!("dl-v{n:04}")))
}

/// The grassroots union a demo volunteer belongs to.
fn grassroots_of(n: usize) -> String {
    format!("{}-g{}", UNIONS[n % UNIONS.len()].0, n % 2)
}

fn ts(t: chrono::DateTime<Utc>) -> Timestamp {
    Timestamp::from_chrono(&t).unwrap_or(Timestamp(0))
}

/// Who submits what: (actor, command).
fn script(identity_key: &IdentityKey) -> Vec<(&'static str, Command)> {
    let mut s: Vec<(&'static str, Command)> = Vec::new();
    let admin = "admin-dalian";
    s.push((
        admin,
        Command::OpenLedger(OpenLedger {
            ledger: id(LedgerId::new("dl")),
            name: text("大连市职工志愿服务"),
            // A demo loaded today of a season past: no objection window, so
            // its credits confirm at once and the figures show.
            objection_window_days: 0,
            utc_offset_minutes: UtcOffset::CHINA,
            number_prefix: "DL".into(),
        }),
    ));
    let register = |id_: String, name: String, kind, parent: Option<&str>, quota| {
        Command::RegisterUnit(RegisterUnit {
            unit: unit(&id_),
            name: text(&name),
            kind,
            parent: parent.map(unit),
            quota,
        })
    };
    s.push((
        admin,
        register(
            "dalian".into(),
            "大连市总工会".into(),
            UnitKind::CityFederation,
            None,
            Some(5_800),
        ),
    ));
    s.push((
        admin,
        register(
            "dalian-lm".into(),
            "劳模志愿服务队".into(),
            UnitKind::Team,
            Some("dalian"),
            None,
        ),
    ));
    for (code, name, kind, quota) in UNIONS {
        s.push((
            admin,
            register(code.into(), name.into(), kind, Some("dalian"), Some(quota)),
        ));
        let short = name.trim_end_matches("总工会").trim_end_matches("工会");
        s.push((
            admin,
            register(
                format!("{code}-g0"),
                format!("{short}社区工会"),
                UnitKind::Grassroots(Grassroots::Community),
                Some(code),
                None,
            ),
        ));
        s.push((
            admin,
            register(
                format!("{code}-g1"),
                format!("{short}企业工会"),
                UnitKind::Grassroots(Grassroots::Enterprise),
                Some(code),
                None,
            ),
        ));
    }
    for n in 0..VOLUNTEERS {
        let groups = match n % 10 {
            0 => vec![Group::ModelWorker],
            1 => vec![Group::UnionCadre],
            2 => vec![Group::Retiree],
            _ => vec![],
        };
        s.push((
            admin,
            Command::RegisterVolunteer(RegisterVolunteer {
                volunteer: volunteer(n),
                home_unit: unit(&grassroots_of(n)),
                membership: if n % 7 == 0 {
                    Membership::InvitedNonMember
                } else {
                    Membership::Member
                },
                groups,
                specialties: vec![],
                identity: IdentityCommitment::compute(identity_key, &made_up_resident_id(n as u64)),
            }),
        ));
        for level in [
            ApprovalLevel::Unit,
            ApprovalLevel::DistrictOrIndustry,
            ApprovalLevel::City,
        ] {
            s.push((
                admin,
                Command::ApproveVolunteer(ApproveVolunteer {
                    volunteer: volunteer(n),
                    level,
                }),
            ));
        }
    }
    let categories = [
        Category::TrafficOrder,
        Category::CivilityTalk,
        Category::Environment,
        Category::HardshipCare,
        Category::LegalAid,
        Category::ModelWorkerMentoring,
    ];
    let start_of_season = Utc::now() - Duration::days(60);
    for a in 0..ACTIVITIES {
        let organiser = UNIONS[a % UNIONS.len()].0;
        let start = start_of_season + Duration::days(2 * a as i64) + Duration::hours(1);
        let activity = id(ActivityId::new(format!("dl-a{a:03}")));
        s.push((
            admin,
            Command::PublishActivity(PublishActivity {
                activity: activity.clone(),
                project: None,
                campaign: None,
                organiser: unit(organiser),
                co_organisers: vec![],
                category: categories[a % categories.len()],
                title: text(&format!(
                    "{}职工志愿服务活动第{}场",
                    UNIONS[a % UNIONS.len()].1,
                    a + 1
                )),
                place: text("大连市中山广场"),
                window: Window {
                    start: ts(start),
                    end: ts(start + Duration::hours(3)),
                },
                capacity: Some(40),
                featured: a % 5 == 0,
                points_rule: PointsRule {
                    version: 1,
                    points_per_hour: 10,
                    coefficient_permille: 1000,
                    cap_per_credit: Some(50),
                },
                auto_check_out: AutoCheckOut::AtActivityEnd,
                insurance_required: false,
                walk_ins: true,
            }),
        ));
        // Kiosk records synced after the fact: a dozen volunteers each time.
        for k in 0..12 {
            let v = volunteer((a * 12 + k) % VOLUNTEERS);
            let arrived = start + Duration::minutes(k as i64 % 20);
            let left = start + Duration::minutes(120 + 5 * (k as i64 % 12));
            s.push((
                "kiosk-dl-01",
                Command::CheckIn(CheckIn {
                    activity: activity.clone(),
                    volunteer: v.clone(),
                    at: ts(arrived),
                    device: None,
                    external_id: None,
                }),
            ));
            s.push((
                "kiosk-dl-01",
                Command::CheckOut(CheckOut {
                    activity: activity.clone(),
                    volunteer: v,
                    at: ts(left),
                    device: None,
                    external_id: None,
                }),
            ));
        }
    }
    for _ in 0..((ACTIVITIES * 12) / 200 + 1) {
        s.push((
            "ledger-timer",
            Command::ConfirmDueCredits(ConfirmDueCredits { limit: 200 }),
        ));
    }
    s.push((
        admin,
        Command::ListReward(ListReward {
            reward: id(RewardId::new("dl-ticket")),
            unit: unit("dalian"),
            name: text("工人文化宫电影票"),
            cost_points: 10,
            stock: 500,
        }),
    ));
    for n in (0..ACTIVITIES * 12).step_by(9) {
        s.push((
            admin,
            Command::Redeem(Redeem {
                volunteer: volunteer(n),
                reward: id(RewardId::new("dl-ticket")),
                quantity: 1,
            }),
        ));
    }
    s.extend(requests(admin));
    s
}

/// Points requested by the district admin of 西岗区 for two of its
/// volunteers: the city admin approved one, the other waits under 待批准.
fn requests(admin: &'static str) -> Vec<(&'static str, Command)> {
    let district = "admin-xigang";
    let xigang = UNIONS.iter().position(|u| u.0 == "xigang").unwrap_or(0);
    let award = |n: usize, points: u64, reason: &str| {
        Command::RequestEntry(RequestEntry {
            entry: ManualEntry::Award {
                volunteer: volunteer(n),
                points,
            },
            reason: text(reason),
        })
    };
    vec![
        (district, award(xigang, 5, "微心愿认领完成")),
        (
            admin,
            Command::ApproveRequest(ApproveRequest {
                request: RequestId(1),
            }),
        ),
        (
            district,
            award(xigang + UNIONS.len(), 3, "夏送清凉慰问协助"),
        ),
    ]
}

/// What loading the demo gave.
#[derive(Debug, Default)]
pub struct Loaded {
    pub accepted: usize,
    /// Rejections by code, e.g. a demo loaded twice is all known answers.
    pub rejected: std::collections::BTreeMap<String, usize>,
}

/// Loads the demo through the writer.
pub async fn load(writer: &Writer, identity_key: &IdentityKey) -> Loaded {
    let script = script(identity_key);
    let mut loaded = Loaded::default();
    // Sent in chunks, so the writer packs them into blocks.
    for (chunk_no, chunk) in script.chunks(500).enumerate() {
        let submissions = chunk
            .iter()
            .enumerate()
            .map(|(i, (actor, command))| Submission {
                actor: id(ActorId::new(*actor)),
                role: if actor.starts_with("kiosk") {
                    Role::System {
                        units: vec![unit("dalian")],
                    }
                } else {
                    Role::CityAdmin
                },
                key: Some(id(SubmissionKey::new(format!(
                    "demo-{}",
                    chunk_no * 500 + i
                )))),
                command: command.clone(),
            })
            .collect();
        let answers = writer.submit_many(submissions).await;
        for answer in answers {
            let code = match answer {
                Answer::Accepted { .. } => {
                    loaded.accepted += 1;
                    continue;
                }
                Answer::Rejected { code, .. } => code,
                Answer::Unavailable { .. } => "UNAVAILABLE".to_owned(),
            };
            *loaded.rejected.entry(code).or_default() += 1;
        }
    }
    loaded
}
