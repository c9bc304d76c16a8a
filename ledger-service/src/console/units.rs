//! The unit tree: a unit's evaluation figures, then its children's, each a
//! link one level down. Registered volunteers are shown against the quota
//! (名额) and featured activities against the two a year required.

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use ledger_core::values::UnitId;
use maud::{html, Markup};
use projections::query::{self, UnitView};
use projections::store::Read;
use projections::Period;

use super::filter::{self, Controls, Filter, FilterForm, PAGE};
use super::layout::{self, hours, Nav};
use super::{empty, live, render, Session};
use crate::http::{Api, Refusal};
use crate::queries::{failed, may_read};

pub fn routes() -> Router<Api> {
    Router::new().route("/console/units", get(page))
}

/// The scope's own figures and a page of its children's.
pub fn children(
    r: &dyn Read,
    s: &Session,
    filter: &Filter,
    offset: usize,
    limit: usize,
) -> Result<(UnitView, Vec<UnitView>), Refusal> {
    let scope = filter::scope(r, s, filter.scope.as_ref())?;
    let view = query::unit(r, &scope, &filter.period, filter.category)
        .map_err(failed)?
        .ok_or_else(|| crate::queries::not_found("UNKNOWN_UNIT"))?;
    let mut out = Vec::new();
    for child in view.children.iter().skip(offset).take(limit) {
        if let Some(v) = query::unit(r, child, &filter.period, filter.category).map_err(failed)? {
            out.push(v);
        }
    }
    Ok((view, out))
}

/// Featured activities held in a year against the two a year notice 000
/// asks of every unit. The requirement is yearly, so a month, a quarter or
/// all time is measured against the year it lies in (for all time, the
/// year of the last event).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Featured {
    pub year: i32,
    pub held: u64,
    pub required: u64,
}

impl Featured {
    pub fn read(r: &dyn Read, unit: &UnitId, year: i32) -> Result<Featured, Refusal> {
        let held = query::unit_tally(r, unit, &Period::Year(year), None)
            .map_err(failed)?
            .featured_held;
        Ok(Featured {
            year,
            held,
            required: query::FEATURED_PER_YEAR,
        })
    }

    pub fn below(&self) -> bool {
        self.held < self.required
    }

    /// `held / required`, flagged when below it.
    pub fn markup(&self, s: &Session) -> Markup {
        html! {
            span.featured class=[self.below().then_some("below")] {
                (self.held) " / " (self.required)
                @if self.below() { " " span.flag { (s.t("未达标", "below")) } }
            }
        }
    }
}

/// The way down from the caller's own scope to `unit`.
fn crumbs(r: &dyn Read, s: &Session, unit: &UnitId) -> Result<Vec<(UnitId, String)>, Refusal> {
    let mut out = Vec::new();
    for id in query::ancestry(r, unit).map_err(failed)? {
        if !may_read(r, &s.who, &id)? {
            break;
        }
        let name = query::unit_row(r, &id)
            .map_err(failed)?
            .map_or_else(|| id.to_string(), |u| u.unit.name.as_str().to_owned());
        out.push((id, name));
    }
    out.reverse();
    Ok(out)
}

async fn page(s: Session, State(api): State<Api>, Query(f): Query<FilterForm>) -> Response {
    let page = (|| {
        let filter = f.read()?;
        if filter.days.is_some() {
            return Err(crate::queries::bad(
                "units are evaluated by a named period, not a range of days",
            ));
        }
        let (units, windows, view, kids, crumbs) = live(&api, |r, _| {
            let (view, kids) = children(r, &s, &filter, filter.offset, PAGE)?;
            let crumbs = crumbs(r, &s, &view.unit)?;
            let year = super::dashboard::year_shown(r, &filter.period);
            let view = (Featured::read(r, &view.unit, year)?, view);
            let kids = kids
                .into_iter()
                .map(|k| Ok((Featured::read(r, &k.unit, year)?, k)))
                .collect::<Result<Vec<_>, Refusal>>()?;
            Ok((
                filter::scope_choices(r, &s)?,
                filter::campaign_windows(r)?,
                view,
                kids,
                crumbs,
            ))
        })?;
        let (featured, view) = view;
        let controls = Controls {
            action: "/console/units",
            units: &units,
            windows: &windows,
            metric: false,
            days: false,
        };
        let body = html! {
            p.crumbs {
                @for (i, (id, name)) in crumbs.iter().enumerate() {
                    @if i > 0 { " › " }
                    a href={ "/console/units?" (f.in_scope(id)) } { (name) }
                }
            }
            (filter::form(&s, &f, &controls))
            (super::dashboard::cards(&s, &view, &featured))
            (filter::export_links(&s, "evaluation", &f))
            p.exports {
                a href={ "/console/exports/quota.xlsx?" (f.query(None, None)) } download {
                    (s.t("名额分配表（XLSX）", "Quota table (XLSX)"))
                }
                a href={ "/console/exports/quota.csv?" (f.query(None, None)) } download {
                    (s.t("名额分配表（CSV）", "Quota table (CSV)"))
                }
                a href={ "/console/exports/roster.xlsx?" (f.query(None, None)) } download {
                    (s.t("花名册（XLSX）", "Roster (XLSX)"))
                }
            }
            h2 { (s.t("下级单位", "Units under it")) }
            @if kids.is_empty() { (empty(&s)) } @else {
                table #units {
                    thead { tr {
                        th { (s.t("单位", "Unit")) }
                        th.num { (s.t("服务时长", "Hours")) }
                        th.num { (s.t("积分", "Points")) }
                        th.num { (s.t("活跃志愿者", "Active")) }
                        th.num { (s.t("登记 / 名额", "Registered / quota")) }
                        th.num { (s.t("人均时长", "Hours per registered")) }
                        th.num { (s.t("开展活动", "Activities")) }
                        th.num { (s.t("特色活动（全年）/ 要求", "Featured (year) / required")) }
                        th.num { (s.t("同级排名", "Rank")) }
                    } }
                    tbody {
                        @for (featured, k) in &kids {
                            tr data-unit=(k.unit) {
                                td { a href={ "/console/units?" (f.in_scope(&k.unit)) } { (k.name) } }
                                td.num { (hours(k.confirmed_system_minutes + k.confirmed_backfill_minutes)) }
                                td.num { (k.points) }
                                td.num { (k.active_volunteers) }
                                td.num { (k.registered_volunteers) @if let Some(q) = k.quota { " / " (q) } }
                                td.num { (format!("{:.2}", k.hours_per_registered)) }
                                td.num { (k.activities_held) }
                                td.num data-figure="featured" { (featured.markup(&s)) }
                                td.num { (k.rank_among_siblings.as_ref().and_then(|r| r.hours).map_or_else(|| "—".to_owned(), |p| p.to_string())) }
                            }
                        }
                    }
                }
            }
            (filter::pager(&s, "/console/units", &f, filter.offset, kids.len()))
        };
        Ok(layout::page(&s, Nav::Units, &view.name, body))
    })();
    render(&s, page)
}
