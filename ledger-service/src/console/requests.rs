//! Requests waiting for a second admin: hand-made entries (backfilled
//! hours, points given by hand, reversals) that one admin asked for in the
//! admin's units. Any other admin of those units approves or declines each
//! here; the admin who asked may only withdraw his own.

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use ledger_core::domain::{EntryRef, ManualEntry};
use maud::{html, Markup};
use projections::query;
use projections::rows::RequestRow;
use serde::Deserialize;

use super::forms::fresh_key;
use super::layout::{self, hours, local_time, Nav};
use super::{empty, live, render, Session};
use crate::http::Api;
use crate::queries::failed;

/// Requests shown at most; deciding them shortens the list.
const SHOWN: usize = 500;

pub fn routes() -> Router<Api> {
    Router::new().route("/console/requests", get(page))
}

#[derive(Deserialize)]
struct Asked {
    #[serde(default)]
    scope: Option<ledger_core::values::UnitId>,
    #[serde(default)]
    done: Option<String>,
}

async fn page(s: Session, State(api): State<Api>, Query(asked): Query<Asked>) -> Response {
    let page = (|| {
        let (items, offset) = live(&api, |r, _| {
            let scope = super::filter::scope(r, &s, asked.scope.as_ref())?;
            Ok((
                query::requests(r, &scope, SHOWN).map_err(failed)?,
                super::ledger_offset(r)?,
            ))
        })?;
        let body = html! {
            @if let Some(done) = &asked.done { p.ok role="status" { (done) } }
            p.hint {
                (s.t("补录服务时长、积分奖励和冲正由一名管理员申请，另一名管理员批准后才记入台账。",
                     "Backfilled hours, points given by hand and reversals are requested by one admin and entered only once another admin approves them."))
                " "
                a href="/console/forms/backfill" { (s.t("申请补录", "Request hours")) } " · "
                a href="/console/forms/award" { (s.t("申请积分奖励", "Request points")) } " · "
                a href="/console/forms/reverse" { (s.t("申请冲正", "Request a reversal")) }
            }
            @if items.len() == SHOWN {
                p.hint { (s.t("仅显示最早的 500 项；处理后其余各项会依次显示。",
                              "The oldest 500 are shown; the rest appear as these are decided.")) }
            }
            @if items.is_empty() { (empty(&s)) } @else {
                table #requests {
                    thead { tr {
                        th { (s.t("申请编号", "Request")) }
                        th { (s.t("类别", "Kind")) }
                        th { (s.t("内容", "Entry")) }
                        th { (s.t("理由", "Reason")) }
                        th { (s.t("申请人", "Requested by")) }
                        th {}
                    } }
                    tbody {
                        @for q in &items {
                            tr data-request=(q.id.0) {
                                td { (q.id) }
                                td { (kind(&s, &q.entry)) }
                                td { (entry(&s, &q.entry)) }
                                td { (q.reason) }
                                td { (q.requested.by) " · " (local_time(q.requested.at, offset)) }
                                td { @if s.may_write() { (decide(&s, q)) } }
                            }
                        }
                    }
                }
            }
        };
        Ok(layout::page(
            &s,
            Nav::Requests,
            s.t("待批准", "Requests"),
            body,
        ))
    })();
    render(&s, page)
}

fn kind(s: &Session, entry: &ManualEntry) -> &'static str {
    match entry {
        ManualEntry::Backfill { .. } => s.t("补录服务时长", "Backfilled hours"),
        ManualEntry::Award { .. } => s.t("积分奖励", "Points"),
        ManualEntry::Reversal { .. } => s.t("冲正", "Reversal"),
    }
}

fn entry(s: &Session, entry: &ManualEntry) -> Markup {
    let volunteer = |v: &ledger_core::values::VolunteerId| {
        html! { a href={ "/console/volunteers/" (v) } { (v) } }
    };
    match entry {
        ManualEntry::Backfill {
            volunteer: v,
            activity,
            minutes,
        } => html! {
            (volunteer(v)) " · "
            a href={ "/console/activities/" (activity) } { (activity) } " · "
            (hours(u64::from(*minutes))) " " (s.t("小时", "h"))
        },
        ManualEntry::Award {
            volunteer: v,
            points,
        } => html! { (volunteer(v)) " · " (points) " " (s.t("积分", "points")) },
        ManualEntry::Reversal { target } => match target {
            EntryRef::Credit(c) => html! { a href={ "/console/credits/" (c.0) } { (c) } },
            EntryRef::Award(a) => html! { (a) },
            EntryRef::Redemption(r) => html! { (r) },
        },
    }
}

/// Approve and decline for another admin's request; withdraw for one's own.
fn decide(s: &Session, q: &RequestRow) -> Markup {
    let decline = |label: &str| {
        html! {
            form.inline method="post" action="/console/forms/decline-request" {
                input type="hidden" name="key" value=(fresh_key());
                input type="hidden" name="request" value=(q.id.0);
                input type="text" name="reason" required placeholder=(s.t("理由", "Reason"))
                    aria-label=(s.t("理由", "Reason"));
                button type="submit" name="decline" { (label) }
            }
        }
    };
    if q.requested.by == s.who.actor {
        return html! {
            span.muted { (s.t("待其他管理员批准", "Waiting for another admin")) }
            (decline(s.t("撤回", "Withdraw")))
        };
    }
    html! {
        form.inline method="post" action="/console/forms/approve-request" {
            input type="hidden" name="key" value=(fresh_key());
            input type="hidden" name="request" value=(q.id.0);
            button type="submit" name="approve" { (s.t("批准", "Approve")) }
        }
        (decline(s.t("驳回", "Decline")))
    }
}
