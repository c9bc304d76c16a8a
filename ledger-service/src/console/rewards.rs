//! The reward catalogue (奖品目录): the rewards the volunteers of the
//! admin's subtree may redeem (kept by its units or by the units above
//! it), with their cost, stock and what has been redeemed, scoped as
//! `/api/v1/rewards` is. From here an admin lists a reward,
//! restocks one, or redeems one for a volunteer.

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::html;
use projections::query;
use serde::Deserialize;

use super::filter::{self, FilterForm, PAGE};
use super::layout::{self, Nav};
use super::volunteers::UnitNames;
use super::{empty, live, render, urlencode, Session};
use crate::http::{Api, Refusal};
use crate::queries::failed;

pub fn routes() -> Router<Api> {
    Router::new().route("/console/rewards", get(page))
}

#[derive(Deserialize)]
struct Done {
    #[serde(default)]
    done: Option<String>,
}

async fn page(
    s: Session,
    State(api): State<Api>,
    Query(f): Query<FilterForm>,
    Query(d): Query<Done>,
) -> Response {
    let page = (|| {
        let filter = f.read()?;
        let rows = live(&api, |r, _| {
            let scope = filter::scope(r, &s, filter.scope.as_ref())?;
            let own = filter::scope(r, &s, None)?;
            let mut names = UnitNames::default();
            query::rewards_within_reach(r, &scope)
                .map_err(failed)?
                .into_iter()
                .skip(filter.offset)
                .take(PAGE)
                .map(|row| {
                    // A reward kept above the admin's units is redeemed from
                    // here, but restocked by its own unit's admins.
                    let restock = query::is_within(r, &row.reward.unit, &own).map_err(failed)?;
                    Ok((names.of(r, &row.reward.unit)?, restock, row))
                })
                .collect::<Result<Vec<_>, Refusal>>()
        })?;
        let body = html! {
            @if let Some(done) = &d.done { p.ok role="status" { (done) } }
            @if s.may_write() {
                p { a #list-reward href="/console/forms/list-reward" { (s.t("上架奖品", "List a reward")) } }
            }
            @if rows.is_empty() { (empty(&s)) } @else {
                table #rewards {
                    thead { tr {
                        th { (s.t("编号", "Id")) }
                        th { (s.t("名称", "Name")) }
                        th { (s.t("所属单位", "Unit")) }
                        th.num { (s.t("每件积分", "Points each")) }
                        th.num { (s.t("库存", "Stock")) }
                        th.num { (s.t("已兑换", "Redeemed")) }
                        @if s.may_write() { th {} }
                    } }
                    tbody {
                        @for (unit, restock, row) in &rows {
                            @let w = &row.reward;
                            tr data-reward=(w.id) {
                                td { (w.id) }
                                td { (w.name) }
                                td.unit title=(w.unit) { (unit) }
                                td.num.cost { (w.cost_points) }
                                td.num.stock { (w.stock) }
                                td.num.redeemed { (row.redeemed_quantity) }
                                @if s.may_write() {
                                    td.actions {
                                        a.redeem href={ "/console/forms/redeem?reward=" (urlencode(w.id.as_str())) } { (s.t("兑换", "Redeem")) }
                                        @if *restock {
                                            " · "
                                            a.restock href={ "/console/forms/restock-reward?reward=" (urlencode(w.id.as_str())) } { (s.t("补充库存", "Restock")) }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            (filter::pager(&s, "/console/rewards", &f, filter.offset, rows.len()))
        };
        Ok(layout::page(
            &s,
            Nav::Rewards,
            s.t("奖品目录", "Reward catalogue"),
            body,
        ))
    })();
    render(&s, page)
}
