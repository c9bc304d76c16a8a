//! Review items: credits in review (an objection, or a volunteer's own
//! correction request) whose activity a unit of the admin's subtree
//! organised, each with what was asked and a link to decide it.

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use ledger_core::domain::DisputeKind;
use maud::html;
use projections::query;

use super::filter::{self, FilterForm};
use super::layout::{self, hours, local_time, Nav};
use super::{empty, live, render, Session};
use crate::http::Api;
use crate::queries::failed;

/// Review items shown at most; deciding them shortens the list.
const SHOWN: usize = 500;

pub fn routes() -> Router<Api> {
    Router::new().route("/console/reviews", get(page))
}

async fn page(s: Session, State(api): State<Api>, Query(f): Query<FilterForm>) -> Response {
    let page = (|| {
        let filter = f.read()?;
        let (items, offset) = live(&api, |r, _| {
            let scope = filter::scope(r, &s, filter.scope.as_ref())?;
            Ok((
                query::reviews(r, &scope, SHOWN).map_err(failed)?,
                super::ledger_offset(r)?,
            ))
        })?;
        let body = html! {
            @if items.is_empty() { (empty(&s)) } @else {
                table #reviews {
                    thead { tr {
                        th { (s.t("记录编号", "Credit")) }
                        th { (s.t("志愿者", "Volunteer")) }
                        th { (s.t("活动", "Activity")) }
                        th.num { (s.t("记录时长", "Recorded hours")) }
                        th { (s.t("申请", "Asked")) }
                        th { (s.t("理由", "Reason")) }
                        th { (s.t("提出", "Raised")) }
                        th {}
                    } }
                    tbody {
                        @for (id, c) in &items {
                            tr data-credit=(id.0) {
                                td { (id.0) }
                                td { a href={ "/console/volunteers/" (c.volunteer) } { (c.volunteer) } }
                                td { a href={ "/console/activities/" (c.activity) } { (c.activity) } }
                                td.num { (hours(u64::from(c.minutes))) }
                                @match &c.dispute {
                                    Some((kind, reason, stamp)) => {
                                        td { @match kind {
                                            DisputeKind::Objection => (s.t("异议", "Objection")),
                                            DisputeKind::CorrectionRequest { proposed_minutes } => {
                                                (s.t("更正为", "Correct to")) " " (hours(u64::from(*proposed_minutes))) " " (s.t("小时", "h"))
                                            }
                                        } }
                                        td { (reason) }
                                        td { (local_time(stamp.at, offset)) " · " (stamp.by) }
                                    }
                                    None => { td {} td {} td {} }
                                }
                                td { a href={ "/console/forms/confirm-credit?decision=amend&credit=" (id.0)
                                    (c.dispute.as_ref().and_then(|(k, _, _)| match k {
                                        DisputeKind::CorrectionRequest { proposed_minutes } => Some(format!("&minutes={proposed_minutes}")),
                                        DisputeKind::Objection => None,
                                    }).unwrap_or_default()) } { (s.t("复核", "Review")) } }
                            }
                        }
                    }
                }
            }
        };
        Ok(layout::page(
            &s,
            Nav::Reviews,
            s.t("待复核", "Review items"),
            body,
        ))
    })();
    render(&s, page)
}
