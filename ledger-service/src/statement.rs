//! A volunteer's statement (志愿服务记录证明): the volunteer's events in a
//! period, each as its stored frame with an inclusion proof against a signed
//! checkpoint, the totals they add up to, and the certificate fields the
//! regulation names; the whole body signed by the ledger's key. Anyone can
//! check it offline with the ledger's public key and nothing else; removing,
//! adding or altering an event breaks it.

use std::collections::HashMap;

use ledger_core::domain::Checkpoint;
use ledger_core::event::{Event, EventRecord};
use ledger_core::frame::parse_frame;
use ledger_core::merkle::{self, InclusionProof};
use ledger_core::signing::{self, checkpoint_message, statement_message, PublicKey};
use ledger_core::time::{Day, Timestamp, UtcOffset};
use ledger_core::values::{Digest, LedgerId, Signature, VolunteerId};
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub const STATEMENT_FORMAT: &str = "union-volunteer-ledger statement";

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StatementError {
    #[error("the statement's signature does not verify with the given key")]
    BadSignature,
    #[error("the checkpoint's signature does not verify with the given key")]
    BadCheckpoint,
    #[error("event {sequence}: {what}")]
    BadEvent { sequence: u64, what: String },
    #[error("the totals do not add up: stated {stated:?}, the events give {computed:?}")]
    Totals { stated: Totals, computed: Totals },
    #[error("not a statement: {0}")]
    Format(String),
}

/// What the listed events add up to (net of reversals among them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    pub confirmed_minutes: u64,
    pub points_earned: u64,
    pub points_redeemed: u64,
}

/// The certificate fields of the 2015 guidance; personal ones only for
/// roles that may see them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Certificate {
    pub name: Option<String>,
    pub id_type: Option<String>,
    pub id_number: Option<String>,
    pub volunteer_number: String,
    pub hours: String,
    pub issuing_organisation: String,
    pub certificate_number: String,
    pub date: Day,
    pub notes: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementEvent {
    pub sequence: u64,
    /// The stored frame, hex.
    pub frame: String,
    pub proof: InclusionProof,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementBody {
    pub format: String,
    pub version: u32,
    pub ledger: LedgerId,
    pub volunteer: VolunteerId,
    pub from: Day,
    pub to: Day,
    pub issued_at: Timestamp,
    pub checkpoint: Checkpoint,
    pub public_key: PublicKey,
    pub events: Vec<StatementEvent>,
    pub totals: Totals,
    pub certificate: Certificate,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    pub body: StatementBody,
    pub signature: Signature,
}

/// The totals the events themselves give.
pub fn totals(records: &[EventRecord]) -> Totals {
    let mut t = Totals::default();
    let mut credits = HashMap::new();
    let mut awards = HashMap::new();
    let mut redemptions = HashMap::new();
    for r in records {
        match &r.event {
            Event::CreditConfirmed(e) => {
                credits.insert(e.credit, u64::from(e.minutes));
                t.confirmed_minutes += u64::from(e.minutes);
            }
            Event::PointsAwarded(e) => {
                awards.insert(e.award, e.points);
                t.points_earned += e.points;
            }
            Event::RewardRedeemed(e) => {
                redemptions.insert(e.redemption, e.points);
                t.points_redeemed += e.points;
            }
            Event::EntryReversed(e) => match e.target {
                ledger_core::domain::EntryRef::Credit(c) => {
                    t.confirmed_minutes -= credits.remove(&c).unwrap_or(0).min(t.confirmed_minutes)
                }
                ledger_core::domain::EntryRef::Award(a) => {
                    t.points_earned -= awards.remove(&a).unwrap_or(0).min(t.points_earned)
                }
                ledger_core::domain::EntryRef::Redemption(x) => {
                    t.points_redeemed -= redemptions.remove(&x).unwrap_or(0).min(t.points_redeemed)
                }
            },
            _ => {}
        }
    }
    t
}

/// Signs a statement body with the ledger's key.
pub fn sign(body: StatementBody, signer: &signing::LedgerSigner) -> Statement {
    let json = serde_json::to_vec(&body).unwrap_or_default();
    let signature = signer.sign(&statement_message(&body.ledger, &json));
    Statement { body, signature }
}

/// Checks a statement offline with the ledger's public key; returns the
/// totals its events add up to.
pub fn verify(statement: &Statement, key: &PublicKey) -> Result<Totals, StatementError> {
    let body = &statement.body;
    if body.format != STATEMENT_FORMAT || body.version != 1 {
        return Err(StatementError::Format(format!(
            "{} v{}",
            body.format, body.version
        )));
    }
    let json = serde_json::to_vec(body).map_err(|e| StatementError::Format(e.to_string()))?;
    signing::verify(
        key,
        &statement_message(&body.ledger, &json),
        &statement.signature,
    )
    .map_err(|_| StatementError::BadSignature)?;
    let c = &body.checkpoint;
    let signed = c.signature.as_ref().is_some_and(|sig| {
        signing::verify(
            key,
            &checkpoint_message(&body.ledger, c.tree_size, &c.root),
            sig,
        )
        .is_ok()
    });
    if !signed {
        return Err(StatementError::BadCheckpoint);
    }
    let mut records = Vec::with_capacity(body.events.len());
    let mut previous = 0;
    for e in &body.events {
        let bad = |what: &str| StatementError::BadEvent {
            sequence: e.sequence,
            what: what.to_owned(),
        };
        if e.sequence <= previous {
            return Err(bad("events are not in ledger order"));
        }
        previous = e.sequence;
        let bytes = hex::decode(&e.frame).map_err(|_| bad("the frame is not hex"))?;
        let (frame, rest) = parse_frame(&bytes).map_err(|err| bad(&err.to_string()))?;
        if !rest.is_empty() || frame.header.sequence != e.sequence {
            return Err(bad("the frame is not the event at this sequence"));
        }
        let hash: Digest = frame.computed_hash();
        if hash != frame.stored_hash {
            return Err(bad("the frame does not hash to its trailer"));
        }
        if e.proof.index + 1 != e.sequence || e.proof.tree_size != c.tree_size {
            return Err(bad("the proof is for another place or tree"));
        }
        merkle::verify_inclusion(&hash, &e.proof, &c.root)
            .map_err(|err| bad(&format!("not in the checkpoint's tree: {err}")))?;
        records.push(frame.decode().map_err(|err| bad(&err.to_string()))?);
    }
    let computed = totals(&records);
    if computed != body.totals {
        return Err(StatementError::Totals {
            stated: body.totals,
            computed,
        });
    }
    Ok(computed)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// What an event records, in Chinese, for the printed statement.
fn describe(event: &Event) -> (String, Option<u64>, Option<i64>) {
    match event {
        Event::VolunteerRegistered(_) => ("志愿者登记".into(), None, None),
        Event::VolunteerApproved(e) => (format!("审核通过（{:?}）", e.level), None, None),
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

/// A printable page of the statement, in Chinese with English beside it.
pub fn render_html(statement: &Statement) -> String {
    let b = &statement.body;
    let c = &b.certificate;
    let field = |zh: &str, en: &str, value: &str| {
        format!(
            "<tr><th>{zh}<span class=\"en\">{en}</span></th><td>{}</td></tr>",
            escape(value)
        )
    };
    let mut rows = String::new();
    for (i, e) in b.events.iter().enumerate() {
        let decoded = hex::decode(&e.frame)
            .ok()
            .and_then(|bytes| parse_frame(&bytes).ok().and_then(|(f, _)| f.decode().ok()));
        let Some(record) = decoded else { continue };
        let (what, minutes, points) = describe(&record.event);
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"mono\">{}</td></tr>",
            i + 1,
            record
                .recorded_at
                .to_chrono()
                .with_timezone(&UtcOffset::CHINA.to_chrono())
                .format("%Y-%m-%d %H:%M"),
            escape(&what),
            minutes.map(|m| format!("{:.2}", m as f64 / 60.0)).unwrap_or_default(),
            points.map(|p| p.to_string()).unwrap_or_default(),
            e.sequence,
        ));
    }
    format!(
        r#"<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>志愿服务记录证明 · Volunteer service record</title>
<style>
body {{ font-family: "Noto Serif CJK SC", "Songti SC", serif; max-width: 48em; margin: 2em auto; color: #111; }}
h1 {{ text-align: center; letter-spacing: .3em; margin-bottom: 0; }}
.sub {{ text-align: center; color: #555; margin-top: .2em; }}
table {{ border-collapse: collapse; width: 100%; margin: 1em 0; }}
th, td {{ border: 1px solid #999; padding: .35em .5em; text-align: left; vertical-align: top; }}
th {{ width: 12em; background: #f4f4f4; font-weight: normal; }}
.en {{ display: block; font-size: .75em; color: #666; }}
.mono {{ font-family: monospace; font-size: .85em; word-break: break-all; }}
.note {{ font-size: .85em; color: #333; }}
@media print {{ body {{ margin: 0; }} }}
</style></head><body>
<h1>志愿服务记录证明</h1>
<p class="sub">Volunteer service record certificate · 证明编号 {number}</p>
<table>
{name}{id_type}{id_number}{vol}{hours}{period}{org}{date}
</table>
<h2>服务记录 <span class="en">Service records</span></h2>
<table>
<tr><th style="width:3em">序号</th><th style="width:9em">时间</th><th style="width:auto">事项</th><th style="width:5em">时长（小时）</th><th style="width:4em">积分</th><th style="width:5em">账本序号</th></tr>
{rows}
</table>
<p class="note">合计：确认服务时长 {total_hours} 小时，获得积分 {earned}，兑换积分 {redeemed}。</p>
<p class="note">核验 / Verification：以上每条记录均附有对账本检查点（{tree_size} 条事件，根 <span class="mono">{root}</span>）的包含证明，整份证明由账本密钥 <span class="mono">{key}</span> 签名。任何人可用 <code>ledger verify-statement</code> 与该公钥离线核验，无需信任出具方。</p>
</body></html>
"#,
        number = escape(&c.certificate_number),
        name = c
            .name
            .as_deref()
            .map(|v| field("姓名", "Name", v))
            .unwrap_or_default(),
        id_type = c
            .id_type
            .as_deref()
            .map(|v| field("证件类型", "ID type", v))
            .unwrap_or_default(),
        id_number = c
            .id_number
            .as_deref()
            .map(|v| field("证件号码", "ID number", v))
            .unwrap_or_default(),
        vol = field("志愿者编号", "Volunteer number", &c.volunteer_number),
        hours = field("服务时长（小时）", "Hours", &c.hours),
        period = field("记录期间", "Period", &format!("{} 至 {}", b.from, b.to)),
        org = field("出具组织", "Issued by", &c.issuing_organisation),
        date = field("出具日期", "Date", &c.date.to_string()),
        rows = rows,
        total_hours = escape(&c.hours),
        earned = b.totals.points_earned,
        redeemed = b.totals.points_redeemed,
        tree_size = b.checkpoint.tree_size,
        root = b.checkpoint.root,
        key = b.public_key,
    )
}
