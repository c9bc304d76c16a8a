//! Forms for the everyday commands: give a registration's three opinions,
//! publish an activity, sign a volunteer up or withdraw the sign-up, record
//! a check-in or check-out, review and confirm a credit, list, restock and
//! redeem rewards, reverse an entry with a reason. Each form becomes the
//! same JSON command the API takes, so the rules, the rights and the
//! idempotency are the API's: a form carries a fresh submission key, and
//! sending it twice (a double click, a reload) records it once.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use chacha20poly1305::aead::rand_core::RngCore;
use chacha20poly1305::aead::OsRng;
use ledger_core::time::{Timestamp, UtcOffset};
use ledger_core::values::{
    ActivityId, RewardId, SubmissionKey, Text, UnitId, ValueError, VolunteerId,
};
use ledger_core::Command;
use maud::{html, Markup};
use serde_json::{json, Value};

use super::explain::Explained;
use super::layout::{self, Nav};
use super::{live, urlencode, Lang, Session};
use crate::answer::{Answer, Submission};
use crate::http::{forward, Api, Refusal};
use crate::queries::{failed, not_found};

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/console/forms", get(index))
        .route("/console/forms/{form}", get(show).post(submit))
}

#[derive(Clone, Copy)]
enum Input {
    /// An id the ledger checks as it reads it: checked here first, so
    /// that a refusal names the field.
    Id(fn(&str) -> Result<(), ValueError>),
    /// Free text shown to people (titles, places, reasons).
    Words,
    Number,
    /// A credit, award or redemption as the console shows it (`C290`,
    /// `R3071`) or its bare number.
    Entry,
    /// A local date and time, at the ledger's offset.
    When,
    Category,
    Check,
    Choice(&'static [(&'static str, &'static str, &'static str)]),
}

struct Field {
    name: &'static str,
    zh: &'static str,
    en: &'static str,
    input: Input,
    required: bool,
}

const fn field(name: &'static str, zh: &'static str, en: &'static str, input: Input) -> Field {
    Field {
        name,
        zh,
        en,
        input,
        required: true,
    }
}

const fn optional(name: &'static str, zh: &'static str, en: &'static str, input: Input) -> Field {
    Field {
        name,
        zh,
        en,
        input,
        required: false,
    }
}

type Values = HashMap<String, String>;

/// Why a form could not become a command; nothing was sent.
#[derive(Debug, PartialEq)]
enum FormError {
    /// A required field left empty.
    Missing(&'static str),
    NotNumber(&'static str),
    NotTime(&'static str),
    /// A choice the form's list does not offer.
    NoSuchChoice(&'static str),
    /// An entry number whose letter names another kind than the one chosen.
    OtherKind {
        field: &'static str,
        letter: char,
    },
    Invalid {
        field: &'static str,
        error: ValueError,
    },
    /// The command did not read for a reason the checks above missed.
    Unreadable(String),
}

fn activity_id(s: &str) -> Result<(), ValueError> {
    ActivityId::new(s).map(drop)
}

fn volunteer_id(s: &str) -> Result<(), ValueError> {
    VolunteerId::new(s).map(drop)
}

fn reward_id(s: &str) -> Result<(), ValueError> {
    RewardId::new(s).map(drop)
}

fn unit_id(s: &str) -> Result<(), ValueError> {
    UnitId::new(s).map(drop)
}

fn words(s: &str) -> Result<(), ValueError> {
    Text::new(s).map(drop)
}

/// A form: its fields, the command they make, and where to go once
/// accepted.
struct Spec {
    slug: &'static str,
    zh: &'static str,
    en: &'static str,
    fields: &'static [Field],
    command: fn(&Values, UtcOffset) -> Result<Value, FormError>,
    then: fn(&Values) -> String,
}

// Fields most forms share.
const VOLUNTEER: Field = field(
    "volunteer",
    "志愿者编号",
    "Volunteer",
    Input::Id(volunteer_id),
);
const ACTIVITY: Field = field("activity", "活动编号", "Activity", Input::Id(activity_id));
const REASON: Field = field("reason", "理由", "Reason", Input::Words);

const DECISIONS: &[(&str, &str, &str)] = &[
    (
        "confirm",
        "确认（公示期满）",
        "Confirm (objection window over)",
    ),
    ("uphold", "复核：维持", "Review: uphold"),
    (
        "amend",
        "复核：改为下列时长",
        "Review: amend to the minutes below",
    ),
    ("void", "复核：作废", "Review: void"),
];

const TARGETS: &[(&str, &str, &str)] = &[
    ("credit", "服务时长记录", "Hour credit"),
    ("award", "积分奖励", "Points award"),
    ("redemption", "积分兑换", "Redemption"),
];

/// The three opinions on the registration form (notice 004, 附件2), named
/// as the form names them, in the order they are given; the value is the
/// level as the command names it.
pub(super) const LEVELS: &[(&str, &str, &str)] = &[
    (
        "unit",
        "单位工会意见",
        "The volunteer's own union's opinion",
    ),
    (
        "district_or_industry",
        "区市县总工会、产业工会意见",
        "District, county or industry union's opinion",
    ),
    ("city", "市总工会意见", "City federation's opinion"),
];

const SPECS: &[Spec] = &[
    Spec {
        slug: "approve-volunteer",
        zh: "审批登记：同意",
        en: "Approve a registration",
        fields: &[
            VOLUNTEER,
            field("level", "审批级别", "Opinion of", Input::Choice(LEVELS)),
        ],
        command: |v, _| {
            Ok(
                json!({"type": "approve_volunteer", "volunteer": v["volunteer"],
                "level": level(&v["level"])?}),
            )
        },
        then: |v| format!("/console/volunteers/{}", urlencode(&v["volunteer"])),
    },
    Spec {
        slug: "reject-volunteer",
        zh: "审批登记：不同意",
        en: "Reject a registration",
        fields: &[
            VOLUNTEER,
            field("level", "审批级别", "Opinion of", Input::Choice(LEVELS)),
            REASON,
        ],
        command: |v, _| {
            Ok(
                json!({"type": "reject_volunteer", "volunteer": v["volunteer"],
                "level": level(&v["level"])?, "reason": v["reason"]}),
            )
        },
        then: |v| format!("/console/volunteers/{}", urlencode(&v["volunteer"])),
    },
    Spec {
        slug: "sign-up",
        zh: "报名",
        en: "Sign a volunteer up",
        fields: &[ACTIVITY, VOLUNTEER],
        command: |v, _| {
            Ok(json!({"type": "sign_up", "activity": v["activity"], "volunteer": v["volunteer"]}))
        },
        then: |v| format!("/console/activities/{}", urlencode(&v["activity"])),
    },
    Spec {
        slug: "cancel-sign-up",
        zh: "取消报名",
        en: "Withdraw a sign-up",
        fields: &[ACTIVITY, VOLUNTEER],
        command: |v, _| {
            Ok(
                json!({"type": "cancel_sign_up", "activity": v["activity"], "volunteer": v["volunteer"]}),
            )
        },
        then: |v| format!("/console/activities/{}", urlencode(&v["activity"])),
    },
    Spec {
        slug: "check-in",
        zh: "登记签到",
        en: "Record a check-in",
        fields: &[
            ACTIVITY,
            VOLUNTEER,
            field("at", "签到时间", "Checked in at", Input::When),
        ],
        command: |v, offset| attendance("check_in", v, offset),
        then: |v| format!("/console/activities/{}", urlencode(&v["activity"])),
    },
    Spec {
        slug: "check-out",
        zh: "登记签退",
        en: "Record a check-out",
        fields: &[
            ACTIVITY,
            VOLUNTEER,
            field("at", "签退时间", "Checked out at", Input::When),
        ],
        command: |v, offset| attendance("check_out", v, offset),
        then: |v| format!("/console/volunteers/{}", urlencode(&v["volunteer"])),
    },
    Spec {
        slug: "close-check-outs",
        zh: "关闭未签退记录",
        en: "Close forgotten check-outs",
        fields: &[ACTIVITY],
        command: |v, _| {
            Ok(json!({"type": "close_forgotten_check_outs", "activity": v["activity"]}))
        },
        then: |v| format!("/console/activities/{}", urlencode(&v["activity"])),
    },
    Spec {
        slug: "confirm-credit",
        zh: "审核确认服务时长",
        en: "Review and confirm a credit",
        fields: &[
            field("credit", "记录编号", "Credit", Input::Entry),
            field("decision", "决定", "Decision", Input::Choice(DECISIONS)),
            optional("minutes", "改为（分钟）", "Amended minutes", Input::Number),
            optional(
                "reason",
                "理由（复核时必填）",
                "Reason (for a review)",
                Input::Words,
            ),
        ],
        command: |v, _| {
            let credit = entry(&v["credit"], 'C', "credit")?;
            let decision = v["decision"].as_str();
            if decision == "confirm" {
                return Ok(json!({"type": "confirm_credit", "credit": credit}));
            }
            // A review says why; the ledger would refuse it without.
            let reason = v
                .get("reason")
                .filter(|r| !r.trim().is_empty())
                .ok_or(FormError::Missing("reason"))?;
            let outcome = match decision {
                "uphold" => json!("uphold"),
                "void" => json!("void"),
                "amend" => {
                    let minutes = v.get("minutes").map_or("", String::as_str);
                    json!({"amend": {"minutes": number(minutes, "minutes")?}})
                }
                _ => return Err(FormError::NoSuchChoice("decision")),
            };
            Ok(
                json!({"type": "review_credit", "credit": credit, "outcome": outcome, "reason": reason}),
            )
        },
        then: |v| {
            let credit = entry(&v["credit"], 'C', "credit").unwrap_or_default();
            format!("/console/credits/{credit}")
        },
    },
    Spec {
        slug: "redeem",
        zh: "积分兑换",
        en: "Redeem a reward",
        fields: &[
            VOLUNTEER,
            field("reward", "奖品编号", "Reward", Input::Id(reward_id)),
            field("quantity", "数量", "Quantity", Input::Number),
        ],
        command: |v, _| {
            Ok(
                json!({"type": "redeem", "volunteer": v["volunteer"], "reward": v["reward"],
                "quantity": number(&v["quantity"], "quantity")?}),
            )
        },
        then: |v| format!("/console/volunteers/{}", urlencode(&v["volunteer"])),
    },
    Spec {
        slug: "list-reward",
        zh: "上架奖品",
        en: "List a reward",
        fields: &[
            field("reward", "奖品编号", "Reward id", Input::Id(reward_id)),
            field("unit", "所属单位编号", "Unit", Input::Id(unit_id)),
            field("name", "奖品名称", "Name", Input::Words),
            field("cost_points", "每件所需积分", "Points each", Input::Number),
            field("stock", "库存", "Stock", Input::Number),
        ],
        command: |v, _| {
            Ok(
                json!({"type": "list_reward", "reward": v["reward"], "unit": v["unit"],
                "name": v["name"], "cost_points": number(&v["cost_points"], "cost_points")?,
                "stock": number(&v["stock"], "stock")?}),
            )
        },
        then: |_| REWARDS.to_owned(),
    },
    Spec {
        slug: "restock-reward",
        zh: "补充奖品库存",
        en: "Restock a reward",
        fields: &[
            field("reward", "奖品编号", "Reward", Input::Id(reward_id)),
            field("quantity", "增加数量", "Items added", Input::Number),
        ],
        command: |v, _| {
            Ok(json!({"type": "restock_reward", "reward": v["reward"],
                "quantity": number(&v["quantity"], "quantity")?}))
        },
        then: |_| REWARDS.to_owned(),
    },
    // Hand-made entries are requested here and approved by another admin
    // under 待批准 (docs/operations.md, "Two admins to a hand-made entry").
    Spec {
        slug: "reverse",
        zh: "申请冲正",
        en: "Request a reversal",
        fields: &[
            field("target", "冲正对象", "What", Input::Choice(TARGETS)),
            field("id", "记录编号", "Number", Input::Entry),
            REASON,
        ],
        command: |v, _| {
            let (kind, letter) = match v["target"].as_str() {
                "credit" => ("credit", 'C'),
                "award" => ("award", 'A'),
                "redemption" => ("redemption", 'R'),
                _ => return Err(FormError::NoSuchChoice("target")),
            };
            let target = json!({kind: entry(&v["id"], letter, "id")?});
            Ok(request(json!({"reversal": {"target": target}}), v))
        },
        then: |_| REQUESTS.to_owned(),
    },
    Spec {
        slug: "backfill",
        zh: "申请补录服务时长",
        en: "Request backfilled hours",
        fields: &[
            VOLUNTEER,
            ACTIVITY,
            field("minutes", "时长（分钟）", "Minutes", Input::Number),
            REASON,
        ],
        command: |v, _| {
            let entry = json!({"backfill": {"volunteer": v["volunteer"], "activity": v["activity"],
                "minutes": number(&v["minutes"], "minutes")?}});
            Ok(request(entry, v))
        },
        then: |_| REQUESTS.to_owned(),
    },
    Spec {
        slug: "award",
        zh: "申请积分奖励",
        en: "Request points",
        fields: &[
            VOLUNTEER,
            field("points", "积分", "Points", Input::Number),
            REASON,
        ],
        command: |v, _| {
            let entry = json!({"award": {"volunteer": v["volunteer"],
                "points": number(&v["points"], "points")?}});
            Ok(request(entry, v))
        },
        then: |_| REQUESTS.to_owned(),
    },
    Spec {
        slug: "approve-request",
        zh: "批准申请",
        en: "Approve a request",
        fields: &[field("request", "申请编号", "Request", Input::Entry)],
        command: |v, _| {
            Ok(json!({"type": "approve_request", "request": entry(&v["request"], 'Q', "request")?}))
        },
        then: |_| REQUESTS.to_owned(),
    },
    Spec {
        slug: "decline-request",
        zh: "驳回或撤回申请",
        en: "Decline or withdraw a request",
        fields: &[
            field("request", "申请编号", "Request", Input::Entry),
            REASON,
        ],
        command: |v, _| {
            Ok(
                json!({"type": "decline_request", "request": entry(&v["request"], 'Q', "request")?,
                "reason": v["reason"]}),
            )
        },
        then: |_| REQUESTS.to_owned(),
    },
    Spec {
        slug: "publish-activity",
        zh: "发布活动",
        en: "Publish an activity",
        fields: &[
            field(
                "activity",
                "活动编号",
                "Activity id",
                Input::Id(activity_id),
            ),
            field(
                "organiser",
                "主办单位编号",
                "Organising unit",
                Input::Id(unit_id),
            ),
            field("category", "类别", "Category", Input::Category),
            field("title", "活动名称", "Title", Input::Words),
            field("place", "地点", "Place", Input::Words),
            field("start", "开始", "Starts", Input::When),
            field("end", "结束", "Ends", Input::When),
            optional("capacity", "名额", "Capacity", Input::Number),
            field(
                "points_per_hour",
                "每小时积分",
                "Points per hour",
                Input::Number,
            ),
            optional("featured", "特色活动", "Featured", Input::Check),
            optional("walk_ins", "允许现场参加", "Walk-ins allowed", Input::Check),
        ],
        command: |v, offset| {
            let capacity = match v
                .get("capacity")
                .map(|c| c.trim())
                .filter(|c| !c.is_empty())
            {
                Some(c) => json!(number(c, "capacity")?),
                None => Value::Null,
            };
            Ok(
                json!({"type": "publish_activity", "activity": v["activity"], "project": null,
                "campaign": null, "organiser": v["organiser"], "co_organisers": [],
                "category": v["category"], "title": v["title"], "place": v["place"],
                "window": {"start": when(&v["start"], offset, "start")?, "end": when(&v["end"], offset, "end")?},
                "capacity": capacity, "featured": v.contains_key("featured"),
                "points_rule": {"version": 1, "points_per_hour": number(&v["points_per_hour"], "points_per_hour")?,
                    "coefficient_permille": 1000, "cap_per_credit": null},
                "auto_check_out": "at_activity_end", "insurance_required": false,
                "walk_ins": v.contains_key("walk_ins")}),
            )
        },
        then: |v| format!("/console/activities/{}", urlencode(&v["activity"])),
    },
];

/// Where requests wait for their second admin.
const REQUESTS: &str = "/console/requests";

/// The reward catalogue.
const REWARDS: &str = "/console/rewards";

/// One of the three opinions, as the command names it.
fn level(s: &str) -> Result<&'static str, FormError> {
    LEVELS
        .iter()
        .map(|(value, _, _)| *value)
        .find(|value| *value == s.trim())
        .ok_or(FormError::NoSuchChoice("level"))
}

/// A hand-made entry, requested for another admin to approve.
fn request(entry: Value, v: &Values) -> Value {
    json!({"type": "request_entry", "entry": entry, "reason": v["reason"]})
}

/// A check-in or check-out recorded by hand: no device, no external id.
fn attendance(kind: &str, v: &Values, offset: UtcOffset) -> Result<Value, FormError> {
    Ok(
        json!({"type": kind, "activity": v["activity"], "volunteer": v["volunteer"],
        "at": when(&v["at"], offset, "at")?, "device": null, "external_id": null}),
    )
}

fn number(s: &str, field: &'static str) -> Result<u64, FormError> {
    s.trim().parse().map_err(|_| FormError::NotNumber(field))
}

/// An entry's number as the console shows it (`R3071`) or bare (`3071`);
/// a letter must be the one of the kind chosen.
fn entry(s: &str, letter: char, field: &'static str) -> Result<u64, FormError> {
    let s = s.trim();
    let digits = match s.chars().next() {
        Some(first) if first.is_ascii_alphabetic() => {
            if !first.eq_ignore_ascii_case(&letter) {
                return Err(FormError::OtherKind {
                    field,
                    letter: first.to_ascii_uppercase(),
                });
            }
            &s[first.len_utf8()..]
        }
        _ => s,
    };
    number(digits, field)
}

/// A `datetime-local` value, read at the ledger's offset.
fn when(local: &str, offset: UtcOffset, field: &'static str) -> Result<String, FormError> {
    let naive = chrono::NaiveDateTime::parse_from_str(local.trim(), "%Y-%m-%dT%H:%M")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(local.trim(), "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| FormError::NotTime(field))?;
    let at = naive
        .and_local_timezone(offset.to_chrono())
        .single()
        .ok_or(FormError::NotTime(field))?;
    Timestamp::from_chrono(&at)
        .map(|t| t.to_string())
        .map_err(|_| FormError::NotTime(field))
}

fn spec(slug: &str) -> Result<&'static Spec, Refusal> {
    SPECS
        .iter()
        .find(|s| s.slug == slug)
        .ok_or_else(|| not_found("UNKNOWN_FORM"))
}

/// A random submission key in letters only: ids refuse long runs of
/// digits, which look like ID or phone numbers. A form carries one, so a
/// double click records once and a form filled in again after a refusal
/// is decided afresh.
pub(crate) fn fresh_key() -> String {
    let mut bytes = [0u8; 24];
    OsRng.fill_bytes(&mut bytes);
    let letters: String = bytes.iter().map(|b| char::from(b'a' + b % 26)).collect();
    format!("console-{letters}")
}

/// The forms index's sections: each form, by slug, under the work it
/// belongs to.
const GROUPS: &[(&str, &str, &[&str])] = &[
    (
        "志愿者登记",
        "Registrations",
        &["approve-volunteer", "reject-volunteer"],
    ),
    (
        "活动与考勤",
        "Activities and attendance",
        &[
            "publish-activity",
            "sign-up",
            "cancel-sign-up",
            "check-in",
            "check-out",
            "close-check-outs",
            "confirm-credit",
        ],
    ),
    (
        "积分与奖品",
        "Points and rewards",
        &["redeem", "list-reward", "restock-reward"],
    ),
    (
        "补录、奖励与冲正（须另一位管理员批准）",
        "Hand-made entries (another admin approves)",
        &[
            "backfill",
            "award",
            "reverse",
            "approve-request",
            "decline-request",
        ],
    ),
];

async fn index(s: Session) -> Response {
    let body = html! {
        @for (zh, en, slugs) in GROUPS {
            section.forms {
                h2 { (s.t(zh, en)) }
                ul.forms {
                    @for spec in slugs.iter().filter_map(|slug| spec(slug).ok()) {
                        li { a href={ "/console/forms/" (spec.slug) } { (s.t(spec.zh, spec.en)) } }
                    }
                }
            }
        }
    };
    layout::page(&s, Nav::Forms, s.t("业务办理", "Forms"), body).into_response()
}

fn render_form(
    s: &Session,
    spec: &Spec,
    values: &Values,
    key: &str,
    error: Option<&Explained>,
) -> Markup {
    let lang = s.lang;
    let body = html! {
        @if let Some(e) = error { p.error role="alert" #form-error { (e.markup()) } }
        form.stacked method="post" action={ "/console/forms/" (spec.slug) } {
            input type="hidden" name="key" value=(key);
            @for f in spec.fields {
                @let value = values.get(f.name).map_or("", String::as_str);
                label {
                    (lang.t(f.zh, f.en))
                    (input(lang, f, value))
                }
            }
            button type="submit" { (lang.t("提交", "Submit")) }
        }
    };
    layout::page(s, Nav::Forms, s.t(spec.zh, spec.en), body)
}

fn input(lang: Lang, f: &Field, value: &str) -> Markup {
    match f.input {
        Input::Id(_) | Input::Words | Input::Entry => {
            html! { input type="text" name=(f.name) value=(value) required[f.required]; }
        }
        Input::Number => {
            html! { input type="number" min="0" name=(f.name) value=(value) required[f.required]; }
        }
        Input::When => {
            html! { input type="datetime-local" name=(f.name) value=(value) required[f.required]; }
        }
        Input::Check => {
            html! { input type="checkbox" name=(f.name) value="on" checked[!value.is_empty()]; }
        }
        Input::Category => html! {
            select name=(f.name) {
                @for c in ledger_core::domain::Category::ALL {
                    @let v = super::filter::category_value(c);
                    option value=(v) selected[v == value] { (lang.category(c)) }
                }
            }
        },
        Input::Choice(choices) => html! {
            select name=(f.name) {
                @for (v, zh, en) in choices {
                    option value=(v) selected[*v == value] { (lang.t(zh, en)) }
                }
            }
        },
    }
}

async fn show(s: Session, Path(slug): Path<String>, Query(values): Query<Values>) -> Response {
    match spec(&slug) {
        Ok(spec) if s.may_write() => {
            render_form(&s, spec, &values, &fresh_key(), None).into_response()
        }
        Ok(_) => auditors_read(&s),
        Err(refusal) => layout::error_page(s.lang, &refusal),
    }
}

fn auditors_read(s: &Session) -> Response {
    layout::error_page(
        s.lang,
        &Refusal(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "auditors read; they never write".into(),
        ),
    )
}

async fn submit(
    s: Session,
    State(api): State<Api>,
    Path(slug): Path<String>,
    Form(mut values): Form<Values>,
) -> Response {
    let spec = match spec(&slug) {
        Ok(spec) => spec,
        Err(refusal) => return layout::error_page(s.lang, &refusal),
    };
    if !s.may_write() {
        return auditors_read(&s);
    }
    let key = values.remove("key").unwrap_or_default();
    let unprocessable = |why: Explained, key: &str| {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            render_form(&s, spec, &values, key, Some(&why)),
        )
            .into_response()
    };
    let offset = match live(&api, |r, _| {
        projections::query::config(r)
            .map_err(failed)?
            .map(|c| c.utc_offset)
            .ok_or_else(|| not_found("LEDGER_NOT_OPEN"))
    }) {
        Ok(offset) => offset,
        Err(refusal) => return layout::error_page(s.lang, &refusal),
    };
    let command = checked(spec, &values)
        .and_then(|()| (spec.command)(&values, offset))
        .and_then(|v| {
            serde_json::from_value::<Command>(v).map_err(|e| FormError::Unreadable(e.to_string()))
        });
    let (command, key) = match (command, SubmissionKey::new(key.clone())) {
        (Ok(c), Ok(k)) => (c, k),
        (Err(e), _) => return unprocessable(explain_form(s.lang, spec, &e), &key),
        (_, Err(e)) => {
            let why = Explained::answer(s.lang, "MALFORMED", None, &e.to_string(), None);
            return unprocessable(why, &fresh_key());
        }
    };
    let submission = Submission {
        actor: s.who.actor.clone(),
        role: s.who.role.clone(),
        key: Some(key.clone()),
        command,
    };
    match forward(&api, &submission).await.answer {
        Answer::Accepted { last_sequence, .. } => {
            // Read-your-writes: the next page shows what was just done.
            if let Some(seq) = last_sequence {
                api.read_models.caught_up(seq, Duration::from_secs(5)).await;
            }
            let done = match last_sequence {
                Some(seq) => format!("{} {seq}", s.t("已记录，序号", "Recorded at sequence")),
                None => s
                    .t("已受理，无需记录", "Accepted; nothing to record")
                    .to_owned(),
            };
            let then = (spec.then)(&values);
            let sep = if then.contains('?') { '&' } else { '?' };
            Redirect::to(&format!("{then}{sep}done={}", urlencode(&done))).into_response()
        }
        // Nothing was recorded: a corrected form goes under a new key.
        Answer::Rejected {
            code,
            message,
            field,
        } => {
            let label = field.as_deref().and_then(|f| label_of(s.lang, spec, f));
            let why = Explained::answer(s.lang, &code, label, &message, Some(offset));
            unprocessable(why, &fresh_key())
        }
        // Nothing was recorded either, but the same key may be sent again.
        Answer::Unavailable { message } => {
            let why = Explained::answer(s.lang, "UNAVAILABLE", None, &message, Some(offset));
            unprocessable(why, key.as_str())
        }
    }
}

/// Every field filled in as its kind requires, before a command is made.
fn checked(spec: &Spec, values: &Values) -> Result<(), FormError> {
    for f in spec.fields {
        let value = values.get(f.name).map_or("", |v| v.trim());
        if value.is_empty() {
            if f.required {
                return Err(FormError::Missing(f.name));
            }
            continue;
        }
        let check = match f.input {
            Input::Id(check) => check,
            Input::Words => words,
            _ => continue,
        };
        check(value).map_err(|error| FormError::Invalid {
            field: f.name,
            error,
        })?;
    }
    Ok(())
}

/// The form's label for a field of the form, or for the command field a
/// rejection names: most are the same, a few are named apart (`unit` is
/// the organiser on the activity's form, the unit itself on the reward's).
fn label_of(lang: Lang, spec: &Spec, name: &str) -> Option<&'static str> {
    let alias = match name {
        "target" | "entry" => "id",
        "unit" | "co_organisers" => "organiser",
        "window" => "start",
        "outcome" => "decision",
        "points_rule" => "points_per_hour",
        other => other,
    };
    let of = |name: &str| spec.fields.iter().find(|f| f.name == name);
    of(alias).or_else(|| of(name)).map(|f| lang.t(f.zh, f.en))
}

fn explain_form(lang: Lang, spec: &Spec, e: &FormError) -> Explained {
    let label = |name: &str| label_of(lang, spec, name).unwrap_or("");
    let own = |field: &str, zh: &str, en: &str, detail: &str| Explained {
        sentence: format!("{}{}{}", label(field), lang.t("：", ": "), lang.t(zh, en)),
        code: "MALFORMED".to_owned(),
        detail: detail.to_owned(),
    };
    match e {
        FormError::Missing(field) => own(
            field,
            "必填，请填写。",
            "required: please fill it in.",
            &format!("{field} is required"),
        ),
        FormError::NotNumber(field) => own(
            field,
            "请填写整数。",
            "enter a whole number.",
            &format!("{field}: not a whole number"),
        ),
        FormError::NotTime(field) => own(
            field,
            "请选择日期和时间。",
            "choose a date and a time.",
            &format!("{field}: not a date and time"),
        ),
        FormError::NoSuchChoice(field) => own(
            field,
            "请从列表中选择。",
            "choose one from the list.",
            &format!("{field}: not one of the choices"),
        ),
        FormError::OtherKind { field, letter } => own(
            field,
            "编号的字母与所选的冲正对象不符（C 为服务时长记录，A 为积分奖励，R 为积分兑换）。",
            "the number's letter is not the kind chosen (C a credit, A an award, R a redemption).",
            &format!("{field}: {letter}… is another kind of entry"),
        ),
        FormError::Invalid { field, error } => Explained::value(lang, label(field), error),
        FormError::Unreadable(message) => Explained::answer(lang, "MALFORMED", None, message, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> Values {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The index lists every form once, under one section.
    #[test]
    fn every_form_sits_in_one_section_of_the_index() {
        let listed: Vec<&str> = GROUPS
            .iter()
            .flat_map(|(_, _, slugs)| slugs.iter().copied())
            .collect();
        for spec in SPECS {
            let times = listed.iter().filter(|s| **s == spec.slug).count();
            assert_eq!(times, 1, "{} is listed {times} times", spec.slug);
        }
        assert_eq!(listed.len(), SPECS.len(), "a section names no form");
    }

    /// Every form makes a command the API reads, or says what is wrong.
    #[test]
    fn fresh_keys_are_valid_and_differ() {
        let keys: Vec<String> = (0..200).map(|_| fresh_key()).collect();
        for k in &keys {
            assert!(SubmissionKey::new(k.clone()).is_ok(), "{k}");
        }
        assert_ne!(keys[0], keys[1]);
    }

    /// What the volunteer's ledger shows (`R3071`) is what the reversal
    /// form takes, and so is the bare number.
    #[test]
    fn entries_are_taken_as_shown() {
        assert_eq!(entry("R3071", 'R', "id"), Ok(3071));
        assert_eq!(entry(" r3071 ", 'R', "id"), Ok(3071));
        assert_eq!(entry("3071", 'R', "id"), Ok(3071));
        assert_eq!(
            entry("C290", 'R', "id"),
            Err(FormError::OtherKind {
                field: "id",
                letter: 'C'
            })
        );
        assert_eq!(entry("R", 'R', "id"), Err(FormError::NotNumber("id")));
        let reverse = spec("reverse").unwrap();
        let v = values(&[
            ("target", "redemption"),
            ("id", "R3071"),
            ("reason", "兑换有误"),
        ]);
        let json = (reverse.command)(&v, UtcOffset(480)).unwrap();
        assert_eq!(
            json["entry"],
            json!({"reversal": {"target": {"redemption": 3071}}})
        );
        let approve = spec("approve-request").unwrap();
        let json = (approve.command)(&values(&[("request", "Q12")]), UtcOffset(480)).unwrap();
        assert_eq!(json, json!({"type": "approve_request", "request": 12}));
    }

    /// A value the ledger would refuse is refused here first, naming the
    /// field in the admin's language.
    #[test]
    fn refusals_name_the_field_in_the_admins_language() {
        let publish = spec("publish-activity").unwrap();
        let v = values(&[
            ("activity", "2027春-中山-01"),
            ("organiser", "zhongshan"),
            ("category", "tree_planting"),
            ("title", "植树"),
            ("place", "西山"),
            ("start", "2026-03-12T08:00"),
            ("end", "2026-03-12T11:00"),
            ("points_per_hour", "10"),
        ]);
        let e = checked(publish, &v).unwrap_err();
        let why = explain_form(Lang::Zh, publish, &e);
        assert!(
            why.sentence.starts_with("活动编号：含有“春”"),
            "{}",
            why.sentence
        );
        let review = spec("confirm-credit").unwrap();
        let v = values(&[("credit", "C7"), ("decision", "uphold")]);
        let e = (review.command)(&v, UtcOffset(480)).unwrap_err();
        assert_eq!(e, FormError::Missing("reason"));
        assert_eq!(
            explain_form(Lang::Zh, review, &e).sentence,
            "理由（复核时必填）：必填，请填写。"
        );
        assert_eq!(
            label_of(Lang::Zh, spec("reverse").unwrap(), "target"),
            Some("记录编号")
        );
        assert_eq!(
            label_of(Lang::En, spec("check-in").unwrap(), "at"),
            Some("Checked in at")
        );
        // A rejection naming `unit` names the reward's unit, and the
        // activity's organiser on the form that calls it so.
        assert_eq!(
            label_of(Lang::Zh, spec("list-reward").unwrap(), "unit"),
            Some("所属单位编号")
        );
        assert_eq!(
            label_of(Lang::Zh, spec("publish-activity").unwrap(), "unit"),
            Some("主办单位编号")
        );
        let approve = spec("approve-volunteer").unwrap();
        let e = (approve.command)(
            &values(&[("volunteer", "v1"), ("level", "town")]),
            UtcOffset(480),
        )
        .unwrap_err();
        assert_eq!(
            explain_form(Lang::Zh, approve, &e).sentence,
            "审批级别：请从列表中选择。"
        );
    }

    /// The three opinions are offered by their names on the registration
    /// form, the level asked for chosen.
    #[test]
    fn opinions_are_chosen_by_their_names() {
        let approve = spec("approve-volunteer").unwrap();
        let level = approve.fields.iter().find(|f| f.name == "level").unwrap();
        let zh = input(Lang::Zh, level, "district_or_industry").into_string();
        for name in ["单位工会意见", "区市县总工会、产业工会意见", "市总工会意见"]
        {
            assert!(zh.contains(name), "{zh}");
        }
        assert!(
            zh.contains(
                r#"<option value="district_or_industry" selected>区市县总工会、产业工会意见"#
            ),
            "{zh}"
        );
        let en = input(Lang::En, level, "city").into_string();
        assert!(
            en.contains(r#"<option value="city" selected>City federation's opinion"#),
            "{en}"
        );
    }

    #[test]
    fn forms_make_commands_the_api_reads() {
        let offset = UtcOffset(480);
        let filled = [
            (
                "check-in",
                values(&[
                    ("activity", "a1"),
                    ("volunteer", "v1"),
                    ("at", "2026-03-12T09:00"),
                ]),
            ),
            (
                "check-out",
                values(&[
                    ("activity", "a1"),
                    ("volunteer", "v1"),
                    ("at", "2026-03-12T11:30"),
                ]),
            ),
            (
                "confirm-credit",
                values(&[("credit", "7"), ("decision", "confirm")]),
            ),
            (
                "confirm-credit",
                values(&[
                    ("credit", "7"),
                    ("decision", "amend"),
                    ("minutes", "90"),
                    ("reason", "签退有误"),
                ]),
            ),
            (
                "redeem",
                values(&[("volunteer", "v1"), ("reward", "ticket"), ("quantity", "1")]),
            ),
            (
                "reverse",
                values(&[("target", "award"), ("id", "3"), ("reason", "重复")]),
            ),
            (
                "backfill",
                values(&[
                    ("volunteer", "v1"),
                    ("activity", "a1"),
                    ("minutes", "90"),
                    ("reason", "扫码设备故障"),
                ]),
            ),
            (
                "award",
                values(&[("volunteer", "v1"), ("points", "5"), ("reason", "微心愿")]),
            ),
            ("approve-request", values(&[("request", "Q3")])),
            (
                "decline-request",
                values(&[("request", "3"), ("reason", "无记录")]),
            ),
            (
                "approve-volunteer",
                values(&[("volunteer", "v1"), ("level", "district_or_industry")]),
            ),
            (
                "reject-volunteer",
                values(&[
                    ("volunteer", "v1"),
                    ("level", "city"),
                    ("reason", "不符合条件"),
                ]),
            ),
            (
                "sign-up",
                values(&[("activity", "a1"), ("volunteer", "v1")]),
            ),
            (
                "cancel-sign-up",
                values(&[("activity", "a1"), ("volunteer", "v1")]),
            ),
            (
                "list-reward",
                values(&[
                    ("reward", "book"),
                    ("unit", "g1"),
                    ("name", "工会图书"),
                    ("cost_points", "5"),
                    ("stock", "0"),
                ]),
            ),
            (
                "restock-reward",
                values(&[("reward", "book"), ("quantity", "4")]),
            ),
            (
                "publish-activity",
                values(&[
                    ("activity", "a9"),
                    ("organiser", "g1"),
                    ("category", "tree_planting"),
                    ("title", "植树"),
                    ("place", "西山"),
                    ("start", "2026-03-12T08:00"),
                    ("end", "2026-03-12T11:00"),
                    ("points_per_hour", "10"),
                    ("featured", "on"),
                ]),
            ),
        ];
        let mut made = Vec::new();
        for (slug, v) in filled {
            let spec = spec(slug).unwrap();
            let json = (spec.command)(&v, offset).unwrap();
            let command: Command = serde_json::from_value(json.clone())
                .unwrap_or_else(|e| panic!("{slug}: {e}: {json}"));
            if let Command::CheckIn(c) = &command {
                // 09:00 at UTC+8 is 01:00 UTC.
                assert_eq!(c.at.to_string(), "2026-03-12T01:00:00+00:00");
            }
            made.push(command);
        }
        // Each form makes its own command, with what was filled in.
        use ledger_core::domain::ApprovalLevel;
        assert!(made.iter().any(|c| matches!(c,
            Command::ApproveVolunteer(a) if a.level == ApprovalLevel::DistrictOrIndustry)));
        assert!(made.iter().any(|c| matches!(c,
            Command::RejectVolunteer(r) if r.level == ApprovalLevel::City && r.reason.as_str() == "不符合条件")));
        assert!(made.iter().any(|c| matches!(c,
            Command::SignUp(s) if s.activity.as_str() == "a1" && s.volunteer.as_str() == "v1")));
        assert!(made.iter().any(|c| matches!(c,
            Command::CancelSignUp(s) if s.activity.as_str() == "a1" && s.volunteer.as_str() == "v1")));
        assert!(made.iter().any(|c| matches!(c,
            Command::ListReward(l) if l.reward.as_str() == "book" && l.unit.as_str() == "g1"
                && l.name.as_str() == "工会图书" && l.cost_points == 5 && l.stock == 0)));
        assert!(made.iter().any(|c| matches!(c,
            Command::RestockReward(r) if r.reward.as_str() == "book" && r.quantity == 4)));
        let bad = [
            (
                "check-in",
                values(&[("activity", "a1"), ("volunteer", "v1"), ("at", "yesterday")]),
            ),
            (
                "confirm-credit",
                values(&[("credit", "x"), ("decision", "confirm")]),
            ),
            (
                "confirm-credit",
                values(&[("credit", "7"), ("decision", "amend")]),
            ),
            (
                "reverse",
                values(&[("target", "vote"), ("id", "3"), ("reason", "r")]),
            ),
            (
                "award",
                values(&[("volunteer", "v1"), ("points", "five"), ("reason", "r")]),
            ),
            ("approve-request", values(&[("request", "C3")])),
            (
                "approve-volunteer",
                values(&[("volunteer", "v1"), ("level", "town")]),
            ),
            (
                "list-reward",
                values(&[
                    ("reward", "book"),
                    ("unit", "g1"),
                    ("name", "工会图书"),
                    ("cost_points", "five"),
                    ("stock", "0"),
                ]),
            ),
            (
                "restock-reward",
                values(&[("reward", "book"), ("quantity", "-4")]),
            ),
        ];
        for (slug, v) in bad {
            assert!(
                (spec(slug).unwrap().command)(&v, offset).is_err(),
                "{slug} {v:?}"
            );
        }
    }
}
