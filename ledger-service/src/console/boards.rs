//! Leaderboards of volunteers and of units, with the query API's filters:
//! scope, period (a campaign window among them) or any range of days,
//! category and metric. Volunteer names are shown to admins only.

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use ledger_core::values::{UnitId, VolunteerId};
use maud::{html, Markup};
use projections::board::Ranked;
use projections::query::{self, Place, UnitView};
use projections::store::Read;
use projections::Metric;

use super::filter::{self, Controls, Filter, FilterForm, PAGE};
use super::layout::{self, hours, Nav};
use super::{empty, live, render, Session};
use crate::http::{Api, Refusal};
use crate::names;
use crate::queries::failed;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/console/leaderboards/volunteers", get(volunteers))
        .route("/console/leaderboards/units", get(units))
}

/// One row of the volunteers' board.
pub struct VolunteerPlace {
    pub place: Place,
    pub number: String,
    pub home_unit: UnitId,
    pub home_unit_name: String,
    pub name: Option<String>,
}

/// A page of the volunteers' board, as the filter asks.
pub async fn volunteer_places(
    api: &Api,
    s: &Session,
    filter: &Filter,
    offset: usize,
    limit: usize,
) -> Result<(UnitId, Vec<VolunteerPlace>), Refusal> {
    let (scope, rows, names) = live(api, |r, _| {
        let scope = filter::scope(r, s, filter.scope.as_ref())?;
        let places = match filter.days {
            Some(days) => query::range_leaderboard(
                r,
                &scope,
                days,
                filter.category,
                filter.metric,
                offset,
                limit,
            ),
            None => query::leaderboard(r, &filter.board(Ranked::Volunteers, &scope, offset, limit)),
        }
        .map_err(failed)?;
        let names = names::Ahead::start(
            s.sees_personal().then_some(&api.personal),
            places.iter().map(|place| place.subject.clone()).collect(),
        );
        let mut rows = Vec::with_capacity(places.len());
        let mut units = super::volunteers::UnitNames::default();
        for place in places {
            let id = VolunteerId::new(&place.subject).map_err(failed)?;
            let card = api
                .read_models
                .card(r, &id)
                .map_err(failed)?
                .ok_or_else(|| failed(format!("{id} is ranked but has no row")))?;
            let unit_name = units.of(r, &card.home_unit)?;
            rows.push((place, card.number, card.home_unit, unit_name));
        }
        Ok((scope, rows, names))
    })?;
    let names = names.wait().await;
    let mut out = Vec::with_capacity(rows.len());
    for ((place, number, home_unit, home_unit_name), name) in rows.into_iter().zip(names) {
        out.push(VolunteerPlace {
            place,
            number,
            home_unit,
            home_unit_name,
            name,
        });
    }
    Ok((scope, out))
}

pub async fn personal_name(api: &Api, volunteer: &str) -> Option<String> {
    let id = VolunteerId::new(volunteer).ok()?;
    api.personal.name(&id).await
}

pub fn score(metric: Metric, score: u64) -> String {
    match metric {
        Metric::Hours => hours(score),
        Metric::Points => score.to_string(),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Board {
    Volunteers,
    Units,
}

/// What both boards show above their table: tabs to switch board with the
/// same filter, the filter, and the export links.
fn head(api: &Api, s: &Session, f: &FilterForm, board: Board) -> Result<Markup, Refusal> {
    let (units, windows) = choices(api, s)?;
    let q = f.query(None, None);
    let (action, export) = match board {
        Board::Volunteers => ("/console/leaderboards/volunteers", "leaderboard"),
        Board::Units => ("/console/leaderboards/units", "evaluation"),
    };
    let controls = Controls {
        action,
        units: &units,
        windows: &windows,
        metric: true,
        // Units are ranked by named periods only.
        days: board == Board::Volunteers,
    };
    Ok(html! {
        p.tabs {
            a href={ "/console/leaderboards/volunteers?" (q) } class=[(board == Board::Volunteers).then_some("active")] {
                (s.t("志愿者排行", "Volunteers"))
            }
            " · "
            a href={ "/console/leaderboards/units?" (q) } class=[(board == Board::Units).then_some("active")] {
                (s.t("单位排行", "Units"))
            }
        }
        (filter::form(s, f, &controls))
        (filter::export_links(s, export, f))
    })
}

async fn volunteers(s: Session, State(api): State<Api>, Query(f): Query<FilterForm>) -> Response {
    let page = async {
        let filter = f.read()?;
        let top = head(&api, &s, &f, Board::Volunteers)?;
        let (_, rows) = volunteer_places(&api, &s, &filter, filter.offset, PAGE).await?;
        let metric = filter.metric;
        let body = html! {
            (top)
            @if rows.is_empty() { (empty(&s)) } @else {
                table #board {
                    thead { tr {
                        th.num { (s.t("名次", "Rank")) }
                        th { (s.t("编号", "Number")) }
                        @if s.sees_personal() { th { (s.t("姓名", "Name")) } }
                        th { (s.t("所属单位", "Home unit")) }
                        th.num { (s.lang.metric(metric)) }
                    } }
                    tbody {
                        @for row in &rows {
                            tr data-volunteer=(row.place.subject) {
                                td.num { (row.place.rank) }
                                td { a href={ "/console/volunteers/" (row.place.subject) } { (row.number) } }
                                @if s.sees_personal() { td { (row.name.as_deref().unwrap_or("—")) } }
                                td { a href={ "/console/units?scope=" (row.home_unit) } title=(row.home_unit) { (row.home_unit_name) } }
                                td.num { (score(metric, row.place.score)) }
                            }
                        }
                    }
                }
            }
            (filter::pager(&s, "/console/leaderboards/volunteers", &f, filter.offset, rows.len()))
        };
        Ok(layout::page(&s, Nav::Leaderboards, s.t("志愿者排行榜", "Volunteer leaderboard"), body))
    }
    .await;
    render(&s, page)
}

/// What a filter's scope and period may be set to.
type Choices = (Vec<(UnitId, String)>, Vec<(String, String)>);

fn choices(api: &Api, s: &Session) -> Result<Choices, Refusal> {
    live(api, |r, _| {
        Ok((filter::scope_choices(r, s)?, filter::campaign_windows(r)?))
    })
}

/// All of a scope's children ranked by the filter's metric, each with its
/// evaluation figures: ties share a rank (1, 2, 2, 4), and children with
/// nothing in the period share the last one, so that the page, its export
/// and each unit's own rank among its siblings agree.
pub fn ranked_children(
    r: &dyn Read,
    s: &Session,
    filter: &Filter,
) -> Result<(UnitView, Vec<(u64, UnitView)>), Refusal> {
    let (scope, kids) = super::units::children(r, s, filter, 0, usize::MAX)?;
    let mut ranked: Vec<(u64, UnitView)> = kids
        .into_iter()
        .map(|v| (rank_by(&v, filter.metric), v))
        .collect();
    ranked.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.unit.cmp(&b.1.unit)));
    Ok((scope, ranked))
}

fn rank_by(v: &UnitView, metric: Metric) -> u64 {
    let rank = v.rank_among_siblings.as_ref().and_then(|r| match metric {
        Metric::Hours => r.hours,
        Metric::Points => r.points,
    });
    // A child always has a parent, and so a rank among its siblings.
    rank.unwrap_or(u64::MAX)
}

/// What a unit scores on the metric the board ranks by.
pub fn unit_score(v: &UnitView, metric: Metric) -> u64 {
    match metric {
        Metric::Hours => v.confirmed_system_minutes + v.confirmed_backfill_minutes,
        Metric::Points => v.points,
    }
}

async fn units(s: Session, State(api): State<Api>, Query(f): Query<FilterForm>) -> Response {
    let page = (|| {
        let filter = f.read()?;
        if filter.days.is_some() {
            return Err(crate::queries::bad(
                "units are ranked by a named period; a range of days is for volunteers",
            ));
        }
        let top = head(&api, &s, &f, Board::Units)?;
        let (_, rows) = live(&api, |r, _| ranked_children(r, &s, &filter))?;
        let rows: Vec<_> = rows.into_iter().skip(filter.offset).take(PAGE).collect();
        let metric = filter.metric;
        let body = html! {
            (top)
            @if rows.is_empty() { (empty(&s)) } @else {
                table #board {
                    thead { tr {
                        th.num { (s.t("名次", "Rank")) }
                        th { (s.t("单位", "Unit")) }
                        th.num { (s.lang.metric(metric)) }
                        th.num { (s.t("活跃志愿者", "Active")) }
                        th.num { (s.t("开展活动", "Activities")) }
                    } }
                    tbody {
                        @for (rank, view) in &rows {
                            tr data-unit=(view.unit) {
                                td.num { (rank) }
                                td { a href={ "/console/units?scope=" (view.unit) } title=(view.unit) { (view.name) } }
                                td.num { (score(metric, unit_score(view, metric))) }
                                td.num { (view.active_volunteers) }
                                td.num { (view.activities_held) }
                            }
                        }
                    }
                }
            }
            (filter::pager(&s, "/console/leaderboards/units", &f, filter.offset, rows.len()))
        };
        Ok(layout::page(
            &s,
            Nav::Leaderboards,
            s.t("单位排行榜", "Unit ranking"),
            body,
        ))
    })();
    render(&s, page)
}
