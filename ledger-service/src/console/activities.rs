//! Activities: those organised or co-organised in the caller's subtree,
//! and one activity's sign-ups, attendance, no-shows and hours, with who
//! took part.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use ledger_core::values::{ActivityId, VolunteerId};
use maud::{html, Markup};
use projections::query;
use projections::rows::{ActivityRow, Participation};
use projections::store::Read;

use super::filter::{self, FilterForm, PAGE};
use super::layout::{self, hours, Nav};
use super::volunteers::UnitNames;
use super::{empty, live, render, Session};
use crate::http::{Api, Refusal};
use crate::queries::{failed, forbidden, may_read, not_found};

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/console/activities", get(list))
        .route("/console/activities/{activity}", get(one))
}

/// Whether the activity is the caller's: organised or co-organised by a
/// unit he reads.
fn hosted_by(r: &dyn Read, s: &Session, a: &ActivityRow) -> Result<bool, Refusal> {
    for unit in std::iter::once(&a.organiser).chain(&a.co_organisers) {
        if may_read(r, &s.who, unit)? {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn list(s: Session, State(api): State<Api>, Query(f): Query<FilterForm>) -> Response {
    let page = (|| {
        let filter = f.read()?;
        let (rows, offset) = live(&api, |r, _| {
            let offset = super::ledger_offset(r)?;
            let scope = filter::scope(r, &s, filter.scope.as_ref())?;
            let mut rows = Vec::new();
            // Newest first: the list an admin works from.
            let mut all = query::activities(r).map_err(failed)?;
            all.sort_by_key(|a| std::cmp::Reverse(a.window.start));
            for a in all {
                let ours = std::iter::once(&a.organiser)
                    .chain(&a.co_organisers)
                    .map(|u| query::is_within(r, u, &scope))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(failed)?
                    .contains(&true);
                if ours && filter.category.is_none_or(|c| c == a.category) {
                    rows.push(a);
                }
            }
            let mut names = UnitNames::default();
            let rows = rows
                .into_iter()
                .skip(filter.offset)
                .take(PAGE)
                .map(|a| Ok((names.of(r, &a.organiser)?, a)))
                .collect::<Result<Vec<_>, Refusal>>()?;
            Ok((rows, offset))
        })?;
        let body = html! {
            p { a href="/console/forms/publish-activity" { (s.t("发布活动", "Publish an activity")) } }
            @if rows.is_empty() { (empty(&s)) } @else {
                table #activities {
                    thead { tr {
                        th { (s.t("活动", "Activity")) }
                        th { (s.t("类别", "Category")) }
                        th { (s.t("主办单位", "Organiser")) }
                        th { (s.t("开始", "Starts")) }
                        th.num { (s.t("报名", "Sign-ups")) }
                        th.num { (s.t("到场", "Attended")) }
                        th.num { (s.t("未到", "No-shows")) }
                        th.num { (s.t("已确认时长", "Confirmed hours")) }
                    } }
                    tbody {
                        @for (organiser, a) in &rows {
                            tr {
                                td { a href={ "/console/activities/" (a.activity) } { (a.title) } }
                                td { (s.lang.category(a.category)) }
                                td.unit title=(a.organiser) { (organiser) }
                                td { (layout::local_time(a.window.start, offset)) }
                                td.num { (a.sign_ups) }
                                td.num { (a.attended) }
                                td.num { (a.no_shows()) }
                                td.num { (hours(a.confirmed_minutes)) }
                            }
                        }
                    }
                }
            }
            (filter::pager(&s, "/console/activities", &f, filter.offset, rows.len()))
        };
        Ok(layout::page(
            &s,
            Nav::Activities,
            s.t("活动", "Activities"),
            body,
        ))
    })();
    render(&s, page)
}

#[derive(serde::Deserialize)]
struct Asked {
    #[serde(default)]
    done: Option<String>,
    /// Where the page of participants starts.
    #[serde(default)]
    offset: usize,
}

/// One participant as the page lists him.
struct Participant {
    volunteer: VolunteerId,
    number: String,
    name: Option<String>,
    came: Participation,
}

async fn one(
    s: Session,
    State(api): State<Api>,
    Path(id): Path<String>,
    Query(asked): Query<Asked>,
) -> Response {
    let page = async {
        let id = ActivityId::new(&id).map_err(|_| not_found("UNKNOWN_ACTIVITY"))?;
        let (a, hosts, offset, came) = live(&api, |r, _| {
            let offset = super::ledger_offset(r)?;
            let a = query::activity(r, &id)
                .map_err(failed)?
                .ok_or_else(|| not_found("UNKNOWN_ACTIVITY"))?;
            if !hosted_by(r, &s, &a)? {
                return Err(forbidden());
            }
            let mut names = UnitNames::default();
            let hosts = std::iter::once(&a.organiser)
                .chain(&a.co_organisers)
                .map(|u| names.of(r, u))
                .collect::<Result<Vec<_>, Refusal>>()?;
            let mut came = Vec::new();
            for (volunteer, p) in query::participants(r, &id, asked.offset, PAGE).map_err(failed)? {
                let number = query::volunteer_card(r, &volunteer)
                    .map_err(failed)?
                    .map_or_else(|| volunteer.to_string(), |c| c.number);
                came.push((volunteer, number, p));
            }
            Ok((a, hosts, offset, came))
        })?;
        let mut participants = Vec::with_capacity(came.len());
        for (volunteer, number, came) in came {
            let name = if s.sees_personal() {
                super::boards::personal_name(&api, volunteer.as_str()).await
            } else {
                None
            };
            participants.push(Participant {
                volunteer,
                number,
                name,
                came,
            });
        }
        let figure = |label: &str, value: String, key: &str| {
            html! { div.card data-figure=(key) { div.label { (label) } div.value { (value) } } }
        };
        let body = html! {
            @if let Some(done) = &asked.done { p.ok role="status" { (done) } }
            p.crumbs {
                (s.lang.category(a.category)) " · " (a.place) " · " (layout::local_time(a.window.start, offset)) " – " (layout::local_time(a.window.end, offset))
                @if a.featured { " · " strong { (s.t("特色活动", "Featured")) } }
                @if a.cancelled { " · " span.error { (s.t("已取消", "Cancelled")) } }
            }
            p.crumbs #organisers { (s.t("主办：", "Organisers: ")) (hosts.join("、")) }
            div.cards {
                (figure(s.t("报名", "Sign-ups"), a.sign_ups.to_string(), "sign-ups"))
                (figure(s.t("现场参加", "Walk-ins"), a.walk_ins.to_string(), "walk-ins"))
                (figure(s.t("到场", "Attended"), a.attended.to_string(), "attended"))
                (figure(s.t("报名未到", "No-shows"), a.no_shows().to_string(), "no-shows"))
                (figure(s.t("签到次数", "Sessions"), a.sessions.to_string(), "sessions"))
                (figure(s.t("未签退", "Not checked out"), a.open_sessions.to_string(), "open"))
                (figure(s.t("已确认时长", "Confirmed hours"), hours(a.confirmed_minutes), "confirmed"))
                (figure(s.t("待确认时长", "Pending hours"), hours(a.pending_minutes), "pending"))
                @if let Some(c) = a.capacity { (figure(s.t("名额", "Capacity"), c.to_string(), "capacity")) }
            }
            @if s.may_write() {
                p {
                    a #sign-up href={ "/console/forms/sign-up?activity=" (a.activity) } { (s.t("报名", "Sign a volunteer up")) }
                    " · "
                    a #cancel-sign-up href={ "/console/forms/cancel-sign-up?activity=" (a.activity) } { (s.t("取消报名", "Withdraw a sign-up")) }
                    " · "
                    a href={ "/console/forms/check-in?activity=" (a.activity) } { (s.t("登记签到", "Record a check-in")) }
                    " · "
                    a href={ "/console/forms/check-out?activity=" (a.activity) } { (s.t("登记签退", "Record a check-out")) }
                    @if a.open_sessions > 0 {
                        " · "
                        a #close-check-outs href={ "/console/forms/close-check-outs?activity=" (a.activity) } {
                            (s.t("关闭未签退记录（按活动的签退规则）", "Close forgotten check-outs (by the activity's rule)"))
                        }
                    }
                }
            }
            h2 { (s.t("参加人员", "Participants")) }
            (participants_table(&s, &participants))
            div.pager {
                @if asked.offset > 0 {
                    a rel="prev" href={ "/console/activities/" (a.activity) "?offset=" (asked.offset.saturating_sub(PAGE)) } { (s.t("上一页", "Previous")) }
                }
                @if participants.len() == PAGE {
                    a rel="next" href={ "/console/activities/" (a.activity) "?offset=" (asked.offset + PAGE) } { (s.t("下一页", "Next")) }
                }
            }
        };
        Ok(layout::page(&s, Nav::Activities, a.title.as_str(), body))
    }
    .await;
    render(&s, page)
}

/// Who signed up or came, how, and how often he checked in.
fn participants_table(s: &Session, participants: &[Participant]) -> Markup {
    if participants.is_empty() {
        return empty(s);
    }
    html! {
        table #participants {
            thead { tr {
                th { (s.t("编号", "Number")) }
                @if s.sees_personal() { th { (s.t("姓名", "Name")) } }
                th { (s.t("参加方式", "How")) }
                th.num { (s.t("签到次数", "Check-ins")) }
                th.num { (s.t("未签退", "Not out")) }
            } }
            tbody {
                @for p in participants {
                    tr data-volunteer=(p.volunteer) {
                        td { a href={ "/console/volunteers/" (p.volunteer) } { (p.number) } }
                        @if s.sees_personal() { td { (p.name.as_deref().unwrap_or("—")) } }
                        td.how {
                            @if p.came.walk_in { (s.t("现场参加", "Walked in")) }
                            @else { (s.t("报名", "Signed up")) }
                        }
                        td.num.sessions { (p.came.sessions) }
                        td.num.open { @if p.came.open > 0 { (p.came.open) } }
                    }
                }
            }
        }
    }
}
