//! The dashboard: a subtree's totals for a period, and its confirmed hours
//! month by month as a bar chart drawn on the server (SVG).

use axum::extract::{Query, State};
use axum::response::Response;
use chrono::Datelike;
use maud::{html, Markup};
use projections::query::{self, UnitView};
use projections::Period;

use super::filter::{self, Controls, FilterForm};
use super::layout::{self, hours, Nav};
use super::units::Featured;
use super::{live, render, Session};
use crate::http::Api;
use crate::queries::failed;

pub async fn page(s: Session, State(api): State<Api>, Query(f): Query<FilterForm>) -> Response {
    let page = (|| {
        let filter = f.read()?;
        let (units, windows, view, trend, year, featured) = live(&api, |r, _| {
            let scope = filter::scope(r, &s, filter.scope.as_ref())?;
            let view = query::unit(r, &scope, &filter.period, filter.category)
                .map_err(failed)?
                .ok_or_else(|| crate::queries::not_found("UNKNOWN_UNIT"))?;
            let year = year_shown(r, &filter.period);
            let mut trend = Vec::with_capacity(12);
            for month in 1..=12u8 {
                let t = query::unit_tally(r, &scope, &Period::Month(year, month), filter.category)
                    .map_err(failed)?;
                trend.push(t.tally.minutes());
            }
            let featured = Featured::read(r, &view.unit, year)?;
            Ok((
                filter::scope_choices(r, &s)?,
                filter::campaign_windows(r)?,
                view,
                trend,
                year,
                featured,
            ))
        })?;
        let controls = Controls {
            action: "/console/dashboard",
            units: &units,
            windows: &windows,
            metric: false,
            days: false,
        };
        let body = html! {
            (filter::form(&s, &f, &controls))
            (cards(&s, &view, &featured))
            h2 { (year) " " (s.t("年各月已确认服务时长（小时）", "confirmed hours by month")) }
            (chart(&s, &trend))
        };
        Ok(layout::page(&s, Nav::Dashboard, &view.name, body))
    })();
    render(&s, page)
}

/// The year a period lies in; for all time or a campaign's phase, the
/// year of the last event, never the wall clock: the page reproduces.
pub fn year_shown(r: &dyn projections::store::Read, period: &Period) -> i32 {
    year_of(period)
        .or_else(|| {
            let last = query::last_day(r).ok().flatten()?;
            Some(last.to_naive().year())
        })
        .unwrap_or(1970)
}

fn year_of(period: &Period) -> Option<i32> {
    match period {
        Period::Year(y) | Period::Quarter(y, _) | Period::Month(y, _) => Some(*y),
        Period::All | Period::Campaign(..) => None,
    }
}

fn card(label: &str, value: impl std::fmt::Display, id: &str) -> Markup {
    html! {
        div.card data-figure=(id) {
            div.label { (label) }
            div.value { (value) }
        }
    }
}

pub fn cards(s: &Session, v: &UnitView, featured: &Featured) -> Markup {
    let confirmed = v.confirmed_system_minutes + v.confirmed_backfill_minutes;
    let quota = v.quota.map_or_else(
        || v.registered_volunteers.to_string(),
        |q| format!("{} / {q}", v.registered_volunteers),
    );

    let rank = v.rank_among_siblings.as_ref().map_or_else(
        || "—".to_owned(),
        |r| match r.hours {
            Some(place) => format!("{place} / {}", r.siblings),
            None => format!("— / {}", r.siblings),
        },
    );
    html! {
        div.cards {
            (card(s.t("已确认服务时长（小时）", "Confirmed hours"), hours(confirmed), "hours"))
            (card(s.t("其中补录（小时）", "of which backfilled"), hours(v.confirmed_backfill_minutes), "backfilled"))
            (card(s.t("积分", "Points"), v.points, "points"))
            (card(s.t("活跃志愿者", "Active volunteers"), v.active_volunteers, "active"))
            (card(s.t("登记志愿者 / 名额", "Registered / quota"), quota, "registered"))
            (card(s.t("人均时长（小时）", "Hours per registered"), format!("{:.2}", v.hours_per_registered), "per-registered"))
            (card(s.t("开展活动", "Activities held"), v.activities_held, "activities"))
            div.card data-figure="featured" {
                div.label { (s.t("特色活动（全年）/ 要求", "Featured (year) / required")) }
                div.value { (featured.markup(s)) }
                div.label { (featured.year) (s.t(" 年；本期间 ", "; in the period ")) (v.featured_held) }
            }
            (card(s.t("同级排名（时长）", "Rank among siblings (hours)"), rank, "rank"))
        }
    }
}

/// Twelve bars, one per month, scaled to the highest.
fn chart(s: &Session, minutes: &[u64]) -> Markup {
    const W: u64 = 640;
    const H: u64 = 220;
    const BASE: u64 = 190;
    let top = minutes.iter().copied().max().unwrap_or(0).max(60);
    let slot = W / minutes.len().max(1) as u64;
    html! {
        svg.trend viewBox={ "0 0 " (W) " " (H) } width=(W) height=(H) role="img"
            aria-label=(s.t("各月服务时长", "Hours by month")) {
            @for (i, m) in minutes.iter().enumerate() {
                @let x = i as u64 * slot + 8;
                @let h = m * (BASE - 20) / top;
                rect x=(x) y=(BASE - h) width=(slot - 16) height=(h) {
                    title { (i + 1) " · " (hours(*m)) }
                }
                text x=(x + (slot - 16) / 2) y=(BASE + 16) text-anchor="middle" { (i + 1) }
                @if *m > 0 {
                    text x=(x + (slot - 16) / 2) y=(BASE - h - 4) text-anchor="middle" { (hours(*m)) }
                }
            }
        }
    }
}
