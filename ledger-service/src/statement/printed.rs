//! What a printed statement says, whatever it is printed on: the
//! certificate fields, one row per event, the totals and the note on how to
//! check it. The HTML page and the PDF lay out the same words.

use ledger_core::domain::ApprovalLevel;
use ledger_core::event::Event;
use ledger_core::frame::parse_frame;
use ledger_core::time::UtcOffset;

use super::Statement;

/// A certificate field: its Chinese label, its English label, its value.
pub(crate) struct Field {
    pub zh: &'static str,
    pub en: &'static str,
    pub value: String,
}

/// One event of the record table.
pub(crate) struct Row {
    pub number: usize,
    /// Local time in China, to the minute.
    pub time: String,
    pub what: String,
    /// Confirmed hours, when the event confirms some.
    pub hours: String,
    /// Points earned (positive) or redeemed (negative), when it moves some.
    pub points: String,
    pub sequence: u64,
}

/// Everything a printed statement says, in print order.
pub(crate) struct Content {
    pub number: String,
    pub fields: Vec<Field>,
    pub rows: Vec<Row>,
    pub totals: String,
    pub verification: String,
}

pub(crate) fn content(statement: &Statement) -> Content {
    Content {
        number: statement.body.certificate.certificate_number.clone(),
        fields: fields(statement),
        rows: rows(statement),
        totals: totals(statement),
        verification: verification(statement),
    }
}

pub(crate) const TITLE: &str = "志愿服务记录证明";
pub(crate) const TITLE_EN: &str = "Volunteer service record certificate";

/// The record table's columns: Chinese and English headings.
pub(crate) const COLUMNS: [(&str, &str); 6] = [
    ("序号", "No."),
    ("时间", "Time"),
    ("事项", "Record"),
    ("时长（小时）", "Hours"),
    ("积分", "Points"),
    ("账本序号", "Ledger seq."),
];

fn fields(statement: &Statement) -> Vec<Field> {
    let b = &statement.body;
    let c = &b.certificate;
    let field = |zh, en, value: &str| Field {
        zh,
        en,
        value: value.to_owned(),
    };
    let mut out = Vec::new();
    if let Some(v) = &c.name {
        out.push(field("姓名", "Name", v));
    }
    if let Some(v) = &c.id_type {
        out.push(field("证件类型", "ID type", v));
    }
    if let Some(v) = &c.id_number {
        out.push(field("证件号码", "ID number", v));
    }
    out.push(field("志愿者编号", "Volunteer number", &c.volunteer_number));
    out.push(field("服务时长（小时）", "Hours", &c.hours));
    out.push(field(
        "记录期间",
        "Period",
        &format!("{} 至 {}", b.from, b.to),
    ));
    out.push(field("出具组织", "Issued by", &c.issuing_organisation));
    out.push(field("出具日期", "Date", &c.date.to_string()));
    if let Some(v) = &c.notes {
        out.push(field("备注", "Notes", v));
    }
    out
}

/// The events as table rows. A frame that does not decode is left out:
/// the page only shows what a verified statement holds, and
/// `verify-statement` is what judges the frames.
fn rows(statement: &Statement) -> Vec<Row> {
    let mut out = Vec::with_capacity(statement.body.events.len());
    for e in &statement.body.events {
        let decoded = hex::decode(&e.frame)
            .ok()
            .and_then(|bytes| parse_frame(&bytes).ok().and_then(|(f, _)| f.decode().ok()));
        let Some(record) = decoded else { continue };
        let (what, minutes, points) = describe(&record.event);
        out.push(Row {
            number: out.len() + 1,
            time: record
                .recorded_at
                .to_chrono()
                .with_timezone(&UtcOffset::CHINA.to_chrono())
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            what,
            hours: minutes
                .map(|m| format!("{:.2}", m as f64 / 60.0))
                .unwrap_or_default(),
            points: points.map(|p| p.to_string()).unwrap_or_default(),
            sequence: e.sequence,
        });
    }
    out
}

fn totals(statement: &Statement) -> String {
    let b = &statement.body;
    format!(
        "合计：确认服务时长 {} 小时，获得积分 {}，兑换积分 {}。",
        b.certificate.hours, b.totals.points_earned, b.totals.points_redeemed
    )
}

/// How to check the statement, with the checkpoint and key it rests on.
fn verification(statement: &Statement) -> String {
    let b = &statement.body;
    format!(
        "核验 / Verification：以上每条记录均附有对账本检查点（{} 条事件，根 {}）的包含证明，\
         整份证明由账本密钥 {} 签名。任何人可用 ledger verify-statement 与该公钥离线核验，无需信任出具方。",
        b.checkpoint.tree_size, b.checkpoint.root, b.public_key
    )
}

/// What an event records, in Chinese: the words, confirmed minutes,
/// points moved.
fn describe(event: &Event) -> (String, Option<u64>, Option<i64>) {
    match event {
        Event::VolunteerRegistered(_) => ("志愿者登记".into(), None, None),
        Event::VolunteerApproved(e) => {
            // The levels as the registration form (notice 004) names them.
            let by = match e.level {
                ApprovalLevel::Unit => "单位工会",
                ApprovalLevel::DistrictOrIndustry => "区市县总工会、产业工会",
                ApprovalLevel::City => "市总工会",
            };
            (format!("审核通过（{by}）"), None, None)
        }
        Event::SignedUp(e) => (format!("报名活动 {}", e.activity), None, None),
        Event::CheckedIn(e) => (format!("签到 {}", e.activity), None, None),
        Event::CheckedOut(_) => ("签退".into(), None, None),
        Event::HoursCredited(e) => (format!("记录服务时长（待确认）{}", e.activity), None, None),
        Event::CreditConfirmed(e) => ("服务时长确认".into(), Some(u64::from(e.minutes)), None),
        Event::PointsAwarded(e) => ("积分奖励".into(), None, Some(e.points as i64)),
        Event::RewardRedeemed(e) => (
            format!("积分兑换 {}", e.reward),
            None,
            Some(-(e.points as i64)),
        ),
        Event::EntryReversed(e) => (format!("冲正：{}", e.reason), None, None),
        Event::CreditDisputed(_) => ("异议或更正申请".into(), None, None),
        Event::CreditReviewed(_) => ("复核".into(), None, None),
        other => (other.kind().replace('_', " "), None, None),
    }
}
