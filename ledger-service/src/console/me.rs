//! A volunteer's own view, for a phone: balance, star level, credits with
//! the pending ones, upcoming sign-ups, history, the signed statement to
//! download, and a correction request on any credit, which goes on the
//! chain as the volunteer's own request and reaches the admins of the
//! organising unit as a credit in review.
//!
//! The volunteer signs in with a personal link: his id and a token keyed
//! with a key derived from the instance's identity key, so links need no
//! password store and every instance of the ledger accepts the same link.
//! A link names the last day it is valid, under the key, so one that went
//! astray stops opening the volunteer's view; his union hands out another.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Json, Router};
use chrono::{Datelike, NaiveDate, Utc};
use ledger_core::command::DisputeCredit;
use ledger_core::domain::{CreditStatus, DisputeKind, IdentityKey};
use ledger_core::rights::Role;
use ledger_core::time::Day;
use ledger_core::values::{ActorId, CreditId, SubmissionKey, Text, ValueError, VolunteerId};
use ledger_core::Command;
use maud::{html, DOCTYPE};
use projections::query;
use serde::Deserialize;

use super::explain::Explained;
use super::layout::{hours, local_time};
use super::volunteers::credit_status_label;
use super::{live, urlencode, Lang};
use crate::accounts::Principal;
use crate::answer::{Answer, Submission};
use crate::http::{forward, Api, Refusal, StatementForm};
use crate::queries::{failed, not_found};

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/me/{volunteer}/{token}", get(page))
        .route(
            "/me/{volunteer}/{token}/statement.json",
            get(|a, v, p| statement(StatementForm::Json, a, v, p)),
        )
        .route(
            "/me/{volunteer}/{token}/statement.pdf",
            get(|a, v, p| statement(StatementForm::Pdf, a, v, p)),
        )
        .route(
            "/me/{volunteer}/{token}/corrections",
            axum::routing::post(correction),
        )
}

/// How long a personal link handed out today stays valid.
pub const LINK_DAYS: u64 = 180;

/// The personal-link token of `volunteer`, valid to the end of `until`
/// (UTC): the day, then the key's MAC over the id and the day.
pub fn link_token(key: &IdentityKey, volunteer: &VolunteerId, until: NaiveDate) -> String {
    let until = until.format("%Y%m%d").to_string();
    format!("{until}-{}", link_mac(key, volunteer, &until))
}

fn link_mac(key: &IdentityKey, volunteer: &VolunteerId, until: &str) -> String {
    let link_key = blake3::derive_key("union volunteer ledger 2026 personal links", &key.0);
    let mut hasher = blake3::Hasher::new_keyed(&link_key);
    hasher.update(volunteer.as_str().as_bytes());
    hasher.update(&[0]);
    hasher.update(until.as_bytes());
    hex::encode(&hasher.finalize().as_bytes()[..16])
}

/// The path of a volunteer's own view, valid for [`LINK_DAYS`] from
/// today, if this instance can make links.
pub fn link(api: &Api, volunteer: &VolunteerId) -> Option<(String, NaiveDate)> {
    let key = api.identity_key.as_ref()?;
    let until = Utc::now().date_naive() + chrono::Days::new(LINK_DAYS);
    let token = link_token(key, volunteer, until);
    Some((format!("/me/{volunteer}/{token}"), until))
}

/// Why a personal link does not open the volunteer's view.
#[derive(Debug, PartialEq, Eq)]
enum LinkRefused {
    /// Not made with this ledger's key for this volunteer (or mistyped).
    Unknown,
    /// Made for him, but its last day has passed.
    Expired(NaiveDate),
}

/// Whether `token` opens `volunteer`'s view on `today` (UTC).
fn check_link(
    key: &IdentityKey,
    volunteer: &VolunteerId,
    token: &str,
    today: NaiveDate,
) -> Result<(), LinkRefused> {
    let (until, mac) = token.split_once('-').ok_or(LinkRefused::Unknown)?;
    let expected = link_mac(key, volunteer, until);
    // Compared in constant time: the token is a secret.
    let same = expected.len() == mac.len()
        && expected
            .bytes()
            .zip(mac.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(LinkRefused::Unknown);
    }
    let until = NaiveDate::parse_from_str(until, "%Y%m%d").map_err(|_| LinkRefused::Unknown)?;
    if until < today {
        return Err(LinkRefused::Expired(until));
    }
    Ok(())
}

/// The volunteer the link names, if the token is his and still valid.
fn holder(api: &Api, volunteer: &str, token: &str) -> Result<Principal, Refusal> {
    let refused = || {
        Refusal(
            StatusCode::NOT_FOUND,
            "UNKNOWN_LINK",
            "this personal link is not valid".into(),
        )
    };
    let key = api.identity_key.as_ref().ok_or_else(refused)?;
    let volunteer = VolunteerId::new(volunteer).map_err(|_| refused())?;
    match check_link(key, &volunteer, token, Utc::now().date_naive()) {
        Ok(()) => {}
        Err(LinkRefused::Unknown) => return Err(refused()),
        Err(LinkRefused::Expired(until)) => {
            return Err(Refusal(
                StatusCode::GONE,
                "LINK_EXPIRED",
                format!("this personal link was valid until {until}: ask your union for a new one"),
            ))
        }
    }
    let actor = ActorId::new(format!("volunteer-{volunteer}")).map_err(|_| refused())?;
    Ok(Principal {
        actor,
        role: Role::Volunteer { volunteer },
    })
}

#[derive(Deserialize)]
struct View {
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    done: Option<String>,
}

async fn page(
    State(api): State<Api>,
    Path((volunteer, token)): Path<(String, String)>,
    Query(q): Query<View>,
) -> Response {
    let lang = q.lang.as_deref().and_then(Lang::parse).unwrap_or(Lang::Zh);
    let shown = (|| {
        let me = holder(&api, &volunteer, &token)?;
        let Role::Volunteer { volunteer: id } = &me.role else {
            return Err(not_found("UNKNOWN_LINK"));
        };
        let (view, credits, activities, history, offset) = live(&api, |r, _| {
            let (view, _) = query::volunteer(r, id, &projections::Period::All, None)
                .map_err(failed)?
                .ok_or_else(|| not_found("UNKNOWN_VOLUNTEER"))?;
            let credits = query::credits(r, id, 0, 1000).map_err(failed)?;
            let activities = query::activities_of(r, id).map_err(failed)?;
            let from = view.history_entries.saturating_sub(20);
            let history = query::history(r, id, from, 20).map_err(failed)?;
            let concerning = super::volunteers::concerning(r, &history)?;
            let history: Vec<_> = history.into_iter().zip(concerning).collect();
            Ok((view, credits, activities, history, super::ledger_offset(r)?))
        })?;
        let base = format!("/me/{id}/{token}");
        let now = ledger_core::time::Timestamp::from_chrono(&Utc::now()).map_err(failed)?;
        let mut upcoming: Vec<_> = activities
            .iter()
            .filter(|(a, p)| p.signed_up && !a.cancelled && a.window.start > now)
            .collect();
        upcoming.sort_by_key(|(a, _)| a.window.start);
        let (year_start, today) = this_year(now, offset).map_err(failed)?;
        let t = |zh, en| lang.t(zh, en);
        Ok(html! {
            (DOCTYPE)
            html lang=(lang.html()) {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (t("我的志愿服务", "My volunteer service")) }
                    link rel="stylesheet" href="/console/style.css";
                }
                body {
                    main.me {
                        p { a href={ (base) "?lang=" (lang.other().code()) } {
                            (match lang.other() { Lang::Zh => "中文", Lang::En => "English" }) } }
                        h1 { (t("我的志愿服务", "My volunteer service")) " · " (view.number) }
                        @if let Some(done) = &q.done { p.ok role="status" { (done) } }
                        div.cards {
                            div.card { div.label { (t("积分余额", "Balance")) } div.value #balance { (view.balance) } }
                            div.card { div.label { (t("星级", "Star level")) } div.value { (view.star_level) "★" } }
                            div.card { div.label { (t("已确认时长（小时）", "Confirmed hours")) }
                                div.value { (hours(view.confirmed_system_minutes + view.confirmed_backfill_minutes)) } }
                            div.card { div.label { (t("待确认时长（小时）", "Pending hours")) } div.value.pending { (hours(view.pending_minutes)) } }
                        }
                        @if let Some(m) = view.minutes_to_next_star {
                            p.hint { (t("距下一星级还差", "To the next star level:")) " " (hours(m)) " " (t("小时", "hours")) }
                        }
                        h2 { (t("即将参加", "Upcoming sign-ups")) }
                        @if upcoming.is_empty() { p.empty { (t("暂无", "None")) } } @else {
                            ul { @for (a, _) in &upcoming { li { (a.title) " · " (a.place) " · " (local_time(a.window.start, offset)) } } }
                        }
                        h2 { (t("服务时长记录", "My credits")) }
                        @if credits.is_empty() { p.empty { (t("暂无", "None")) } } @else {
                            table #my-credits {
                                thead { tr { th { (t("日期", "Day")) } th { (t("活动", "Activity")) } th.num { (t("小时", "Hours")) } th { (t("状态", "Status")) } th {} } }
                                tbody {
                                    @for (id, c) in credits.iter().rev() {
                                        tr data-credit=(id.0) {
                                            td { (c.day) }
                                            td { (c.activity) }
                                            td.num { (hours(u64::from(c.minutes))) }
                                            td class=[(c.status == CreditStatus::Pending).then_some("pending")] { (credit_status_label(lang, c.status)) }
                                            td {
                                                @if c.status == CreditStatus::Pending {
                                                    details {
                                                        summary { (t("申请更正", "Ask for a correction")) }
                                                        form.stacked method="post" action={ (base) "/corrections" } {
                                                            input type="hidden" name="credit" value=(id.0);
                                                            input type="hidden" name="key" value=(super::forms::fresh_key());
                                                            input type="hidden" name="lang" value=(lang.code());
                                                            label { (t("应为（分钟）", "Should be (minutes)")) input type="number" min="1" name="minutes" required; }
                                                            label { (t("说明", "Why")) input type="text" name="reason" required; }
                                                            button type="submit" { (t("提交", "Send")) }
                                                        }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                        h2 { (t("最近记录", "Latest entries")) }
                        ul.history {
                            @for (h, about) in history.iter().rev() {
                                li { (local_time(h.recorded_at, offset)) " · " (lang.event_kind(&h.kind))
                                    @if let Some(about) = about { " · " (about) }
                                    " · " (t("余额", "balance")) " " (h.balance) }
                            }
                        }
                        p { a href={ (base) "/statement.json?from=" (year_start) "&to=" (today) } download {
                            (t("下载本年度可验证的服务记录证明", "Download this year's verifiable statement")) }
                            " · "
                            a href={ (base) "/statement.pdf?from=" (year_start) "&to=" (today) } target="_blank" {
                                (t("打印版（PDF）", "Printable (PDF)")) } }
                    }
                }
            }
        })
    })();
    match shown {
        Ok(markup) => markup.into_response(),
        Err(refusal) => super::layout::error_page(lang, &refusal),
    }
}

/// The statement period the page offers: from the first of January to
/// today, both in the ledger's days. In UTC+8 the UTC date is still
/// yesterday from midnight to 08:00, and today's events would fall outside.
fn this_year(
    now: ledger_core::time::Timestamp,
    offset: ledger_core::time::UtcOffset,
) -> Result<(Day, Day), ledger_core::time::TimeError> {
    let today = now.local_day(offset);
    Ok((Day::from_ymd(today.to_naive().year(), 1, 1)?, today))
}

/// The holder's own signed statement, as JSON to download (the file
/// `ledger verify-statement` checks) or as a PDF.
async fn statement(
    form: StatementForm,
    State(api): State<Api>,
    Path((volunteer, token)): Path<(String, String)>,
    Query(period): Query<crate::http::Period>,
) -> Response {
    let made = my_statement(&api, &volunteer, &token, &period).await;
    match (form, made) {
        (StatementForm::Json, Ok(statement)) => (
            [(
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"statement-{volunteer}.json\""),
            )],
            Json(statement),
        )
            .into_response(),
        (form, made) => form.respond(&api, made),
    }
}

/// The holder's own signed statement for a period.
async fn my_statement(
    api: &Api,
    volunteer: &str,
    token: &str,
    period: &crate::http::Period,
) -> Result<crate::statement::Statement, crate::http::Refusal> {
    let me = holder(api, volunteer, token)?;
    crate::http::build_statement(api, &me, volunteer.to_owned(), period).await
}

#[derive(Deserialize)]
struct Correction {
    credit: u64,
    minutes: u32,
    reason: String,
    key: String,
    #[serde(default)]
    lang: Option<String>,
}

/// Why a correction request was not recorded.
enum NotSent {
    Refused(Refusal),
    /// A field the ledger would not read, named by its label.
    Value(&'static str, ValueError),
    /// The ledger's answer.
    Rejected {
        code: String,
        message: String,
    },
}

impl From<Refusal> for NotSent {
    fn from(r: Refusal) -> NotSent {
        NotSent::Refused(r)
    }
}

impl NotSent {
    fn page(self, api: &Api, lang: Lang) -> Response {
        let why = match self {
            NotSent::Refused(refusal) => return super::layout::error_page(lang, &refusal),
            NotSent::Value(label, e) => Explained::value(lang, label, &e),
            NotSent::Rejected { code, message } => {
                let offset = live(api, |r, _| super::ledger_offset(r)).ok();
                Explained::answer(lang, &code, None, &message, offset)
            }
        };
        super::layout::explained_page(lang, StatusCode::UNPROCESSABLE_ENTITY, &why)
    }
}

async fn correction(
    State(api): State<Api>,
    Path((volunteer, token)): Path<(String, String)>,
    Form(c): Form<Correction>,
) -> Response {
    let lang = c.lang.as_deref().and_then(Lang::parse).unwrap_or(Lang::Zh);
    let answered: Result<(), NotSent> = async {
        let me = holder(&api, &volunteer, &token)?;
        let reason =
            Text::new(c.reason.clone()).map_err(|e| NotSent::Value(lang.t("说明", "Why"), e))?;
        let command = Command::DisputeCredit(DisputeCredit {
            credit: CreditId(c.credit),
            kind: DisputeKind::CorrectionRequest {
                proposed_minutes: c.minutes,
            },
            reason,
        });
        let key = SubmissionKey::new(format!("{volunteer}-{}", c.key)).map_err(|e| {
            NotSent::Refused(Refusal(
                StatusCode::UNPROCESSABLE_ENTITY,
                "MALFORMED",
                e.to_string(),
            ))
        })?;
        let submission = Submission {
            actor: me.actor,
            role: me.role,
            key: Some(key),
            command,
        };
        match forward(&api, &submission).await.answer {
            Answer::Accepted { last_sequence, .. } => {
                if let Some(seq) = last_sequence {
                    api.read_models.caught_up(seq, Duration::from_secs(5)).await;
                }
                Ok(())
            }
            Answer::Rejected { code, message, .. } => Err(NotSent::Rejected { code, message }),
            Answer::Unavailable { message } => Err(NotSent::Refused(Refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                message,
            ))),
        }
    }
    .await;
    match answered {
        Ok(()) => {
            let done = lang.t(
                "更正申请已提交，等待组织单位复核。",
                "Sent: the organising unit will review it.",
            );
            Redirect::to(&format!(
                "/me/{volunteer}/{token}?lang={}&done={}",
                lang.code(),
                urlencode(done)
            ))
            .into_response()
        }
        Err(not_sent) => not_sent.page(&api, lang),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ledger_core::time::{Timestamp, UtcOffset};

    fn at(rfc3339: &str) -> Timestamp {
        let t = chrono::DateTime::parse_from_rfc3339(rfc3339).expect("a time");
        Timestamp::from_chrono(&t.with_timezone(&Utc)).expect("in range")
    }

    #[test]
    fn a_personal_link_opens_its_volunteers_view_until_its_last_day() {
        let key = IdentityKey([7; 32]);
        let v1 = VolunteerId::new("v1").expect("an id");
        let v2 = VolunteerId::new("v2").expect("an id");
        let day = |d| NaiveDate::from_ymd_opt(2027, 6, d).expect("a day");
        let token = link_token(&key, &v1, day(5));
        assert!(token.starts_with("20270605-"), "{token}");
        assert_eq!(check_link(&key, &v1, &token, day(5)), Ok(()));
        assert_eq!(
            check_link(&key, &v1, &token, day(6)),
            Err(LinkRefused::Expired(day(5)))
        );
        // Another volunteer, another key, a later day written in: refused.
        assert_eq!(
            check_link(&key, &v2, &token, day(1)),
            Err(LinkRefused::Unknown)
        );
        assert_eq!(
            check_link(&IdentityKey([8; 32]), &v1, &token, day(1)),
            Err(LinkRefused::Unknown)
        );
        let extended = token.replacen("20270605", "20990605", 1);
        assert_eq!(
            check_link(&key, &v1, &extended, day(1)),
            Err(LinkRefused::Unknown)
        );
        assert_eq!(
            check_link(&key, &v1, "not-a-token", day(1)),
            Err(LinkRefused::Unknown)
        );
    }

    #[test]
    fn the_statement_runs_to_the_ledgers_today_not_utcs() {
        let beijing = UtcOffset(8 * 60);
        // 01:10 on 1 January in Beijing is still 31 December in UTC.
        let (from, to) = this_year(at("2026-12-31T17:10:00Z"), beijing).expect("a period");
        assert_eq!(from, Day::from_ymd(2027, 1, 1).expect("a day"));
        assert_eq!(to, Day::from_ymd(2027, 1, 1).expect("a day"));
        let (from, to) = this_year(at("2026-11-24T15:59:00Z"), beijing).expect("a period");
        assert_eq!(from, Day::from_ymd(2026, 1, 1).expect("a day"));
        assert_eq!(to, Day::from_ymd(2026, 11, 24).expect("a day"));
    }
}
