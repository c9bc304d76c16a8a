//! Volunteers: the roster of a subtree (paged by cursor, so the millionth
//! row costs what the first does), and one volunteer's page: balance, star
//! level, credits with the pending ones apart, history, and whether the
//! last entry is proven included under a signed checkpoint.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ledger_core::domain::{ApprovalLevel, CreditStatus, VolunteerStatus};
use ledger_core::values::{ActivityId, CreditId, UnitId, VolunteerId};
use maud::{html, Markup};
use projections::query::{self, RosterCursor, VolunteerView};
use projections::rows::{CreditRow, HistoryEntry, VolunteerRow};
use projections::store::Read;
use projections::Period;
use serde::Deserialize;

use super::filter::{self, Controls, Filter, FilterForm, PAGE};
use super::forms::LEVELS;
use super::layout::{self, hours, Nav};
use super::{empty, live, render, Lang, Session};
use crate::http::{Api, Refusal};
use crate::queries::{bad, failed, forbidden, may_read, not_found};

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/console/volunteers", get(roster_page))
        .route("/console/volunteers/{volunteer}", get(volunteer_page))
        .route("/console/credits/{credit}", get(credit_page))
}

#[derive(Deserialize)]
struct Done {
    #[serde(default)]
    done: Option<String>,
}

/// A credit is shown on its volunteer's page.
async fn credit_page(
    s: Session,
    State(api): State<Api>,
    Path(credit): Path<u64>,
    Query(d): Query<Done>,
) -> Response {
    let volunteer = live(&api, |r, _| {
        let row = query::credit(r, CreditId(credit))
            .map_err(failed)?
            .ok_or_else(|| not_found("UNKNOWN_CREDIT"))?;
        readable_volunteer(r, &s, &row.volunteer)?;
        Ok(row.volunteer)
    });
    match volunteer {
        Ok(v) => {
            let done = d
                .done
                .map(|d| format!("?done={}", super::urlencode(&d)))
                .unwrap_or_default();
            axum::response::Redirect::to(&format!("/console/volunteers/{v}{done}")).into_response()
        }
        Err(refusal) => super::layout::error_page(s.lang, &refusal),
    }
}

/// A registration's standing, naming the opinion it awaits or was refused
/// at as the registration form does.
pub fn status_label(lang: Lang, status: VolunteerStatus) -> String {
    match status {
        VolunteerStatus::Approved => lang.t("已批准", "Approved").to_owned(),
        VolunteerStatus::AwaitingApproval(l) => {
            format!("{}：{}", lang.t("待审批", "Awaiting"), opinion(lang, l))
        }
        VolunteerStatus::Rejected(l) => {
            format!("{}：{}", lang.t("未通过", "Refused at"), opinion(lang, l))
        }
    }
}

/// The opinion a level gives on a registration, as the registration form
/// names it.
pub fn opinion(lang: Lang, level: ApprovalLevel) -> &'static str {
    let value = level.to_string();
    LEVELS
        .iter()
        .find(|(v, _, _)| *v == value)
        .map_or("", |(_, zh, en)| lang.t(zh, en))
}

/// The opinions in the order a registration is given them.
const OPINIONS: [ApprovalLevel; 3] = [
    ApprovalLevel::Unit,
    ApprovalLevel::DistrictOrIndustry,
    ApprovalLevel::City,
];

/// The opinion each history row records, if it records one, given how
/// many approvals came before the first row. Opinions are given in order
/// and none after a rejection, so an approval or a rejection is the
/// level after the approvals before it.
fn opinions_of<'a>(
    mut approved_before: usize,
    kinds: impl IntoIterator<Item = &'a str>,
) -> Vec<Option<ApprovalLevel>> {
    kinds
        .into_iter()
        .map(|kind| {
            let level = OPINIONS.get(approved_before).copied();
            match kind {
                "volunteer_approved" => {
                    approved_before += 1;
                    level
                }
                "volunteer_rejected" => level,
                _ => None,
            }
        })
        .collect()
}

/// The opinions a page of the volunteer's history (from `from`) records:
/// the approvals before the page are counted first, up to the three there
/// can be.
fn opinions(
    r: &dyn Read,
    id: &VolunteerId,
    from: u64,
    rows: &[HistoryEntry],
) -> Result<Vec<Option<ApprovalLevel>>, Refusal> {
    let (mut approved, mut at) = (0, 0);
    while at < from && approved < OPINIONS.len() {
        let limit = PAGE.min(usize::try_from(from - at).unwrap_or(PAGE));
        let before = query::history(r, id, at, limit).map_err(failed)?;
        if before.is_empty() {
            break;
        }
        approved += before
            .iter()
            .filter(|h| h.kind == "volunteer_approved")
            .count();
        at += before.len() as u64;
    }
    Ok(opinions_of(approved, rows.iter().map(|h| h.kind.as_str())))
}

pub fn credit_status_label(lang: Lang, status: CreditStatus) -> &'static str {
    match status {
        CreditStatus::Pending => lang.t("待确认", "Pending"),
        CreditStatus::InReview => lang.t("复核中", "In review"),
        CreditStatus::Confirmed => lang.t("已确认", "Confirmed"),
        CreditStatus::Voided => lang.t("已作废", "Voided"),
        CreditStatus::Reversed => lang.t("已冲正", "Reversed"),
    }
}

/// Reads a roster cursor written as `unit/volunteer`.
pub fn cursor(after: &str) -> Result<Option<RosterCursor>, Refusal> {
    let after = after.trim();
    if after.is_empty() {
        return Ok(None);
    }
    let (unit, volunteer) = after
        .split_once('/')
        .ok_or_else(|| bad("after is unit/volunteer"))?;
    Ok(Some(RosterCursor {
        unit: UnitId::new(unit).map_err(|_| bad("after names no unit"))?,
        volunteer: VolunteerId::new(volunteer).map_err(|_| bad("after names no volunteer"))?,
    }))
}

/// A roster row's confirmed minutes in the filter's period and category;
/// all time when the filter names neither.
pub fn roster_minutes(row: &VolunteerRow, filter: &Filter) -> u64 {
    if filter.period == Period::All && filter.category.is_none() {
        return row.confirmed_minutes();
    }
    row.tallies
        .get(&(filter.period.clone(), filter.category))
        .map_or(0, |t| t.minutes())
}

/// What the roster's hours column is headed: all time, or the period the
/// filter names.
pub fn roster_hours_label(lang: Lang, filter: &Filter) -> &'static str {
    if filter.period == Period::All && filter.category.is_none() {
        lang.t("累计已确认时长（小时）", "Confirmed hours, all time")
    } else {
        lang.t("期间已确认时长（小时）", "Confirmed hours in the period")
    }
}

/// The names of the units a list shows, read once each.
#[derive(Default)]
pub struct UnitNames(std::collections::HashMap<UnitId, String>);

impl UnitNames {
    /// The unit's name, or its id when it has none on record.
    pub fn of(&mut self, r: &dyn Read, id: &UnitId) -> Result<String, Refusal> {
        if let Some(name) = self.0.get(id) {
            return Ok(name.clone());
        }
        let name = query::unit_row(r, id)
            .map_err(failed)?
            .map_or_else(|| id.to_string(), |u| u.unit.name.as_str().to_owned());
        self.0.insert(id.clone(), name.clone());
        Ok(name)
    }
}

/// A page of the roster of the filter's scope, after `after`.
pub fn roster(
    r: &dyn Read,
    s: &Session,
    f: &FilterForm,
    limit: usize,
) -> Result<Vec<VolunteerRow>, Refusal> {
    let filter = f.read()?;
    if filter.days.is_some() {
        return Err(bad(
            "the roster counts hours by a named period, not a range of days",
        ));
    }
    let scope = filter::scope(r, s, filter.scope.as_ref())?;
    let after = cursor(&f.after)?;
    if let Some(c) = &after {
        if !query::is_within(r, &c.unit, &scope).map_err(failed)? {
            return Err(bad("after lies outside the scope"));
        }
    }
    query::roster(r, &scope, after.as_ref(), limit).map_err(failed)
}

async fn roster_page(s: Session, State(api): State<Api>, Query(f): Query<FilterForm>) -> Response {
    let page = async {
        let filter = f.read()?;
        let (units, windows, rows) = live(&api, |r, _| {
            let rows = roster(r, &s, &f, PAGE)?;
            let mut names = UnitNames::default();
            let rows = rows
                .into_iter()
                .map(|row| Ok((names.of(r, &row.home_unit)?, row)))
                .collect::<Result<Vec<_>, Refusal>>()?;
            Ok((filter::scope_choices(r, &s)?, filter::campaign_windows(r)?, rows))
        })?;
        let mut names = Vec::with_capacity(rows.len());
        for (_, row) in &rows {
            names.push(if s.sees_personal() {
                super::boards::personal_name(&api, row.volunteer.as_str()).await
            } else {
                None
            });
        }
        let controls = Controls {
            action: "/console/volunteers",
            units: &units,
            windows: &windows,
            metric: false,
            days: false,
        };
        let next = rows
            .last()
            .filter(|_| rows.len() == PAGE)
            .map(|(_, last)| format!("{}/{}", last.home_unit, last.volunteer));
        let body = html! {
            (super::find::form(&s, ""))
            (filter::form(&s, &f, &controls))
            (filter::export_links(&s, "roster", &f))
            @if rows.is_empty() { (empty(&s)) } @else {
                table #roster {
                    thead { tr {
                        th { (s.t("编号", "Number")) }
                        @if s.sees_personal() { th { (s.t("姓名", "Name")) } }
                        th { (s.t("所属单位", "Home unit")) }
                        th { (s.t("状态", "Status")) }
                        th.num #roster-hours { (roster_hours_label(s.lang, &filter)) }
                        th.num { (s.t("待确认时长", "Pending hours")) }
                        th.num { (s.t("积分余额", "Balance")) }
                    } }
                    tbody {
                        @for ((unit, row), name) in rows.iter().zip(&names) {
                            tr data-volunteer=(row.volunteer) {
                                td { a href={ "/console/volunteers/" (row.volunteer) } { (row.number) } }
                                @if s.sees_personal() { td { (name.as_deref().unwrap_or("—")) } }
                                td.unit title=(row.home_unit) { (unit) }
                                td { (status_label(s.lang, row.status.into())) }
                                td.num.hours { (hours(roster_minutes(row, &filter))) }
                                td.num.pending { (hours(row.pending_minutes)) }
                                td.num { (row.balance()) }
                            }
                        }
                    }
                }
            }
            div.pager {
                @if !f.after.is_empty() {
                    a href={ "/console/volunteers?" (f.query(None, None)) } { (s.t("第一页", "First page")) }
                }
                @if let Some(next) = next {
                    a rel="next" href={ "/console/volunteers?" (f.query(None, Some(&next))) } { (s.t("下一页", "Next")) }
                }
            }
        };
        Ok(layout::page(&s, Nav::Volunteers, s.t("志愿者花名册", "Volunteer roster"), body))
    }
    .await;
    render(&s, page)
}

#[derive(Deserialize)]
struct Paging {
    #[serde(default)]
    offset: Option<u64>,
    /// What the last form did, shown once.
    #[serde(default)]
    done: Option<String>,
}

/// What a volunteer's page shows.
struct Account {
    offset: ledger_core::time::UtcOffset,
    unit_name: String,
    view: VolunteerView,
    credits: Vec<(CreditId, CreditRow)>,
    history: Vec<HistoryEntry>,
    /// The opinion each history row records, if any.
    opinions: Vec<Option<ApprovalLevel>>,
    /// What each history row concerns, as a person reads it.
    concerning: Vec<Option<String>>,
}

/// Kinds whose history row concerns an activity (by its id).
const ABOUT_AN_ACTIVITY: [&str; 5] = [
    "signed_up",
    "sign_up_cancelled",
    "insurance_recorded",
    "checked_in",
    "checked_out",
];

/// What each history row concerns, as a person reads it: an activity by its
/// title (its id after), anything else as recorded.
pub fn concerning(r: &dyn Read, rows: &[HistoryEntry]) -> Result<Vec<Option<String>>, Refusal> {
    let mut titles: std::collections::HashMap<&str, String> = Default::default();
    let mut out = Vec::with_capacity(rows.len());
    for h in rows {
        let Some(about) = h.about.as_deref() else {
            out.push(None);
            continue;
        };
        if !ABOUT_AN_ACTIVITY.contains(&h.kind.as_str()) {
            out.push(Some(about.to_owned()));
            continue;
        }
        if !titles.contains_key(about) {
            let title = match ActivityId::new(about) {
                Ok(id) => query::activity(r, &id)
                    .map_err(failed)?
                    .map(|a| format!("{}（{about}）", a.title)),
                Err(_) => None,
            };
            titles.insert(about, title.unwrap_or_else(|| about.to_owned()));
        }
        out.push(titles.get(about).cloned());
    }
    Ok(out)
}

pub fn readable_volunteer(
    r: &dyn Read,
    s: &Session,
    id: &VolunteerId,
) -> Result<VolunteerView, Refusal> {
    let (view, row) = query::volunteer(r, id, &Period::All, None)
        .map_err(failed)?
        .ok_or_else(|| not_found("UNKNOWN_VOLUNTEER"))?;
    if !may_read(r, &s.who, &row.home_unit)? {
        return Err(forbidden());
    }
    Ok(view)
}

async fn volunteer_page(
    s: Session,
    State(api): State<Api>,
    Path(id): Path<String>,
    Query(p): Query<Paging>,
) -> Response {
    let page = async {
        let id = VolunteerId::new(&id).map_err(|_| not_found("UNKNOWN_VOLUNTEER"))?;
        let offset = p.offset.unwrap_or(0);
        let account = live(&api, |r, _| {
            let view = readable_volunteer(r, &s, &id)?;
            let history = query::history(r, &id, offset, PAGE).map_err(failed)?;
            Ok(Account {
                offset: super::ledger_offset(r)?,
                unit_name: UnitNames::default().of(r, &view.home_unit)?,
                credits: query::credits(r, &id, 0, 1000).map_err(failed)?,
                opinions: opinions(r, &id, offset, &history)?,
                concerning: concerning(r, &history)?,
                history,
                view,
            })
        })?;
        let name = if s.sees_personal() {
            super::boards::personal_name(&api, id.as_str()).await
        } else {
            None
        };
        let mark = verified_mark(&api, &s, &account.view);
        let v = &account.view;
        let title = match &name {
            Some(n) => format!("{n}（{}）", v.number),
            None => v.number.clone(),
        };
        let body = html! {
            @if let Some(done) = &p.done { p.ok role="status" { (done) } }
            p.crumbs { (s.t("所属单位：", "Home unit: ")) a href={ "/console/units?scope=" (v.home_unit) } title=(v.home_unit) { (account.unit_name) }
                " · " span #status { (status_label(s.lang, v.status)) } }
            (awaited(&s, v))
            (summary(&s, v))
            (mark)
            @if s.sees_personal() {
                @if let Some((link, until)) = super::me::link(&api, &id) {
                    p.hint { (s.t("本人查看链接（请私下发给志愿者）：", "Personal link (give it to the volunteer privately): "))
                        a #personal-link href=(link) { (link) }
                        " " (s.t("有效期至", "valid until")) " " (until.format("%Y-%m-%d")) }
                }
            }
            p.exports {
                a href={ "/console/exports/hours/" (id) ".xlsx" } download { (s.t("服务时长明细（XLSX）", "Hours (XLSX)")) }
                a href={ "/console/exports/hours/" (id) ".csv" } download { (s.t("服务时长明细（CSV）", "Hours (CSV)")) }
            }
            h2 { (s.t("服务时长记录", "Credits")) }
            (credits(&s, &account.credits, account.offset))
            h2 { (s.t("台账记录", "History")) }
            (history(&s, &account, account.offset))
            div.pager {
                @if offset > 0 {
                    a rel="prev" href={ "/console/volunteers/" (id) "?offset=" (offset.saturating_sub(PAGE as u64)) } { (s.t("上一页", "Previous")) }
                }
                @if offset + (account.history.len() as u64) < v.history_entries {
                    a rel="next" href={ "/console/volunteers/" (id) "?offset=" (offset + PAGE as u64) } { (s.t("下一页", "Next")) }
                }
            }
        };
        Ok(layout::page(&s, Nav::Volunteers, &title, body))
    }
    .await;
    render(&s, page)
}

pub fn summary(s: &Session, v: &VolunteerView) -> Markup {
    let confirmed = v.confirmed_system_minutes + v.confirmed_backfill_minutes;
    let next = v.minutes_to_next_star.map_or_else(
        || s.t("已是最高星级", "top level").to_owned(),
        |m| format!("{} {}", s.t("距下一星级", "to the next:"), hours(m)),
    );
    html! {
        div.cards {
            div.card data-figure="star" { div.label { (s.t("星级", "Star level")) } div.value { (v.star_level) "★" } div.label { (next) } }
            div.card data-figure="hours" { div.label { (s.t("已确认时长（小时）", "Confirmed hours")) } div.value { (hours(confirmed)) } }
            div.card data-figure="backfilled" { div.label { (s.t("其中补录", "of which backfilled")) } div.value { (hours(v.confirmed_backfill_minutes)) } }
            div.card data-figure="pending" { div.label { (s.t("待确认时长", "Pending hours")) } div.value.pending { (hours(v.pending_minutes)) } }
            div.card data-figure="earned" { div.label { (s.t("累计积分", "Points earned")) } div.value { (v.points_earned) } }
            div.card data-figure="redeemed" { div.label { (s.t("已兑换积分", "Points redeemed")) } div.value { (v.points_redeemed) } }
            div.card data-figure="balance" { div.label { (s.t("积分余额", "Balance")) } div.value #balance { (v.balance) } }
            div.card data-figure="attended" { div.label { (s.t("参加活动", "Activities attended")) } div.value { (v.activities_attended) } }
        }
    }
}

fn credits(
    s: &Session,
    rows: &[(CreditId, CreditRow)],
    offset: ledger_core::time::UtcOffset,
) -> Markup {
    if rows.is_empty() {
        return empty(s);
    }
    html! {
        table #credits {
            thead { tr {
                th { (s.t("编号", "Credit")) }
                th { (s.t("活动", "Activity")) }
                th { (s.t("日期", "Day")) }
                th.num { (s.t("时长（小时）", "Hours")) }
                th { (s.t("状态", "Status")) }
                th { (s.t("确认时间", "Verified at")) }
                th { (s.t("确认人", "Verified by")) }
                @if s.may_write() { th {} }
            } }
            tbody {
                @for (id, c) in rows.iter().rev() {
                    tr data-credit=(id.0) {
                        td { (id) }
                        td { a href={ "/console/activities/" (c.activity) } { (c.activity) } }
                        td { (c.day) }
                        td.num { (hours(u64::from(c.minutes))) }
                        td class=[(c.status == CreditStatus::Pending).then_some("pending")] { (credit_status_label(s.lang, c.status)) }
                        td { (c.confirmed.as_ref().map_or_else(String::new, |st| layout::local_time(st.at, offset))) }
                        td { (c.confirmed.as_ref().map_or_else(String::new, |st| st.by.to_string())) }
                        @if s.may_write() {
                            td {
                                @if matches!(c.status, CreditStatus::Pending | CreditStatus::InReview) {
                                    a href={ "/console/forms/confirm-credit?credit=" (id.0) } { (s.t("审核确认", "Review")) }
                                } @else if c.status == CreditStatus::Confirmed {
                                    a href={ "/console/forms/reverse?target=credit&id=" (id) } { (s.t("冲正", "Reverse")) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The opinion a registration awaits, with the forms that give it filled
/// in with the volunteer and the level; the city's is the city's admins'
/// alone.
fn awaited(s: &Session, v: &VolunteerView) -> Markup {
    let VolunteerStatus::AwaitingApproval(level) = v.status else {
        return html! {};
    };
    let city = matches!(s.who.role, ledger_core::rights::Role::CityAdmin);
    if !s.may_write() || (level == ApprovalLevel::City && !city) {
        return html! {};
    }
    let query = format!(
        "volunteer={}&level={level}",
        super::urlencode(v.volunteer.as_str())
    );
    html! {
        p #opinion {
            (s.t("待审批：", "Awaiting: ")) strong { (opinion(s.lang, level)) } " — "
            a #approve href={ "/console/forms/approve-volunteer?" (query) } { (s.t("同意", "Approve")) }
            " · "
            a #reject href={ "/console/forms/reject-volunteer?" (query) } { (s.t("不同意", "Reject")) }
        }
    }
}

fn history(s: &Session, account: &Account, offset: ledger_core::time::UtcOffset) -> Markup {
    let rows = &account.history;
    let opinions = account.opinions.iter().chain(std::iter::repeat(&None));
    let concerning = account.concerning.iter().chain(std::iter::repeat(&None));
    if rows.is_empty() {
        return empty(s);
    }
    html! {
        table #history {
            thead { tr {
                th.num { (s.t("序号", "Sequence")) }
                th { (s.t("时间", "Recorded at")) }
                th { (s.t("事项", "Event")) }
                th.num { (s.t("时长", "Hours")) }
                th.num { (s.t("待确认", "Pending")) }
                th.num { (s.t("积分", "Points")) }
                th.num { (s.t("余额", "Balance")) }
                th { (s.t("哈希", "Hash")) }
            } }
            tbody {
                @for ((h, level), about) in rows.iter().zip(opinions).zip(concerning) {
                    tr {
                        td.num { (h.sequence) }
                        td { (layout::local_time(h.recorded_at, offset)) }
                        td { (s.lang.event_kind(&h.kind))
                            @if let Some(level) = level { " · " (opinion(s.lang, *level)) }
                            @if let Some(a) = about { " · " (a) }
                            @if let Some(r) = redemption_of(h).filter(|_| s.may_write()) {
                                " " a.reverse href={ "/console/forms/reverse?target=redemption&id=" (r) } { (s.t("冲正", "Reverse")) }
                            }
                        }
                        td.num { (signed_hours(h.minutes)) }
                        td.num.pending { (signed_hours(h.pending_minutes)) }
                        td.num { (h.points) }
                        td.num { (h.balance) }
                        td { code title=(h.hash) { (&h.hash.to_string()[..12]) } }
                    }
                }
            }
        }
    }
}

/// The redemption a history row records (`R12`), which the reversal form
/// takes as it is shown.
fn redemption_of(h: &HistoryEntry) -> Option<&str> {
    if h.kind != "reward_redeemed" {
        return None;
    }
    let id = h.about.as_deref()?.split(" · ").next()?;
    id.strip_prefix('R')
        .is_some_and(|n| n.parse::<u64>().is_ok())
        .then_some(id)
}

fn signed_hours(minutes: i64) -> String {
    match minutes {
        0 => String::new(),
        m if m < 0 => format!("−{}", hours(m.unsigned_abs())),
        m => hours(m as u64),
    }
}

/// Whether the volunteer's latest entry is proven to sit under a signed
/// checkpoint: an inclusion proof made from this instance's own copy of the
/// chain and checked against the ledger's key.
pub fn verified_mark(api: &Api, s: &Session, v: &VolunteerView) -> Markup {
    let last = live(api, |r, _| {
        let last = v.history_entries.checked_sub(1);
        match last {
            Some(i) => Ok(query::history(r, &v.volunteer, i, 1).map_err(failed)?.pop()),
            None => Ok(None),
        }
    });
    let Ok(Some(last)) = last else {
        return html! {};
    };
    match prove(api, &last) {
        Ok(size) => html! {
            p.verified #verified data-checkpoint=(size) {
                "✔ " (s.t("最新记录已对照检查点验证：", "Latest entry verified against checkpoint ")) (size)
                " (" (s.t("序号", "sequence")) " " (last.sequence) ")"
            }
        },
        Err(why) => html! {
            p.pending #verified {
                (s.t(
                    "最新记录尚未被签名检查点覆盖，下一个检查点会覆盖它，无需处理。",
                    "The latest entry is not yet under a signed checkpoint; the next one will cover it.",
                ))
                br;
                small.code { (why) }
            }
        },
    }
}

/// The tree size of the checkpoint that proves `entry`, or why none does.
fn prove(api: &Api, entry: &HistoryEntry) -> Result<u64, String> {
    let (doc, key) = api
        .reader
        .proofs(|log| (log.inclusion(entry.sequence, None), log.key()))?;
    let doc = doc.map_err(|e| e.to_string())?;
    let key = key.ok_or("the ledger has no key yet")?;
    if doc.event_hash != entry.hash {
        return Err(format!(
            "the chain holds another hash at sequence {}",
            entry.sequence
        ));
    }
    crate::proofs::verify_inclusion(&doc, &key).map_err(|e| e.to_string())?;
    Ok(doc.checkpoint.tree_size)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each approval in a volunteer's history is the next level's
    /// opinion, a rejection the level it was awaited at, wherever the page
    /// of history starts.
    #[test]
    fn approvals_name_their_level_in_order() {
        use ApprovalLevel::*;
        let kinds = [
            "volunteer_registered",
            "volunteer_approved",
            "volunteer_approved",
            "volunteer_approved",
            "signed_up",
        ];
        assert_eq!(
            opinions_of(0, kinds),
            [None, Some(Unit), Some(DistrictOrIndustry), Some(City), None]
        );
        // A page that starts after the first approval.
        assert_eq!(
            opinions_of(1, kinds[2..].iter().copied()),
            [Some(DistrictOrIndustry), Some(City), None]
        );
        let rejected = [
            "volunteer_registered",
            "volunteer_approved",
            "volunteer_rejected",
        ];
        assert_eq!(
            opinions_of(0, rejected),
            [None, Some(Unit), Some(DistrictOrIndustry)]
        );
        assert_eq!(opinion(Lang::Zh, Unit), "单位工会意见");
        assert_eq!(
            opinion(Lang::Zh, DistrictOrIndustry),
            "区市县总工会、产业工会意见"
        );
        assert_eq!(opinion(Lang::Zh, City), "市总工会意见");
        assert_eq!(opinion(Lang::En, City), "City federation's opinion");
    }
}
