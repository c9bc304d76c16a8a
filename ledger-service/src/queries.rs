//! The query API over the read models: balances and histories, unit
//! roll-ups and rankings, leaderboards, campaigns, activities, rewards,
//! wishes and pairings. Same tokens and scopes as the command API: an
//! admin reads his subtree, auditors read everything but personal fields,
//! publishing systems read nothing. Any answer can be asked as of a ledger
//! sequence (`as_of`) or the end of a day (`as_of_date`).

use std::time::Duration;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use ledger_core::chain::Head;
use ledger_core::domain::Category;
use ledger_core::rights::Role;
use ledger_core::time::{Day, DayRange};
use ledger_core::values::{ActivityId, CampaignId, Digest, UnitId, VolunteerId};
use projections::board::Ranked;
use projections::query::{self, BoardQuery, Place, UnitView};
use projections::rows::VolunteerCard;
use projections::store::Read;
use projections::{Metric, Period, Until};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::accounts::Principal;
use crate::http::{principal, Api, Refusal};
use crate::names;
use crate::read_models::{end_of_day, View};

/// The most rows one page holds.
pub const MAX_LIMIT: usize = 500;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/api/v1/volunteers/{volunteer}/summary", get(volunteer))
        .route("/api/v1/volunteers/{volunteer}/history", get(history))
        .route("/api/v1/units/{unit}/summary", get(unit))
        .route("/api/v1/leaderboards/volunteers", get(volunteer_board))
        .route("/api/v1/leaderboards/units", get(unit_board))
        .route("/api/v1/campaigns/{campaign}/filings", get(campaign))
        .route("/api/v1/activities/{activity}/summary", get(activity))
        .route(
            "/api/v1/activities/{activity}/participants",
            get(participants),
        )
        .route("/api/v1/rewards", get(rewards))
        .route("/api/v1/wishes", get(wishes))
        .route("/api/v1/pairings", get(pairings))
        .route("/api/v1/requests", get(requests))
}

/// The query API's part of the OpenAPI document.
pub fn openapi_paths() -> Value {
    let q = |name: &str, description: &str| json!({"name": name, "in": "query", "required": false, "description": description, "schema": {"type": "string"}});
    let path = |name: &str| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}});
    let as_of = [
        q(
            "as_of",
            "a ledger sequence: the answer as it was right after it",
        ),
        q(
            "as_of_date",
            "YYYY-MM-DD: the answer as at the end of that day (ledger's offset)",
        ),
        q(
            "after",
            "wait up to 5 s until this sequence is applied (read-your-writes)",
        ),
    ];
    let period = q(
        "period",
        "all | 2026 | 2026-Q2 | 2026-03 | campaign:<id>:<phase>; default all",
    );
    let category = q("category", "an activity category (snake_case); default all");
    let metric = q("metric", "hours | points; default hours");
    let scope = q(
        "scope",
        "a unit: its subtree (volunteers) or its children (units); default the caller's",
    );
    let paging = [q("offset", "0-based"), q("limit", "1 to 500; default 20")];
    let responses = |what: &str| {
        json!({
            "200": {"description": what},
            "400": {"description": "a malformed query (code BAD_QUERY)"},
            "401": {"description": "no or unknown token"},
            "403": {"description": "outside the caller's units; publishing systems read nothing"},
            "404": {"description": "no such volunteer, unit, campaign or activity"},
            "409": {"description": "not available as of that point (beyond the head)"},
            "503": {"description": "the chain is broken here (code CHAIN_BROKEN, with the sequence)"}
        })
    };
    let get = |summary: &str, params: Vec<Value>, what: &str| json!({"get": {"summary": summary, "parameters": params, "responses": responses(what)}});
    let with = |mut v: Vec<Value>, more: &[Value]| {
        v.extend_from_slice(more);
        v
    };
    json!({
        "/api/v1/volunteers/{volunteer}/summary": get(
            "A volunteer's hours (system and backfilled), pending hours, points, balance, star level, and totals in a period",
            with(vec![path("volunteer"), period.clone(), category.clone()], &as_of), "the summary"),
        "/api/v1/volunteers/{volunteer}/history": get(
            "A volunteer's events in chain order, each with its sequence, hash, effect and the balance after it",
            with(with(vec![path("volunteer")], &paging), &as_of), "a page of history"),
        "/api/v1/units/{unit}/summary": get(
            "A unit's subtree rolled up: hours, points, active and registered volunteers against quota, hours per registered volunteer, activities and featured activities held, rank among siblings",
            with(vec![path("unit"), period.clone(), category.clone()], &as_of), "the roll-up"),
        "/api/v1/leaderboards/volunteers": get(
            "Volunteers ranked by confirmed hours or points in a unit's subtree, for a named period (an index scan) or any from/to range of days",
            with(with(vec![scope.clone(), period.clone(), category.clone(), metric.clone(),
                q("from", "YYYY-MM-DD, with to: any range of days"), q("to", "YYYY-MM-DD")], &paging), &as_of),
            "a page of places; names only for admins"),
        "/api/v1/leaderboards/units": get(
            "A unit's children ranked by confirmed hours or points: the ranking for evaluations",
            with(with(vec![scope.clone(), period, category, metric], &paging), &as_of), "a page of places with each unit's roll-up"),
        "/api/v1/campaigns/{campaign}/filings": get(
            "Per deadline: the reports filed (late or not) and the organiser's subunits still outstanding",
            with(vec![path("campaign")], &as_of), "the filings"),
        "/api/v1/activities/{activity}/summary": get(
            "Sign-ups, walk-ins, attendance, no-shows, sessions, confirmed and pending minutes",
            with(vec![path("activity")], &as_of), "the activity"),
        "/api/v1/activities/{activity}/participants": get(
            "Who signed up or came, in volunteer id order: each with the unified number, whether signed up or walked in, check-ins, and those not checked out yet",
            with(with(vec![path("activity")], &paging), &as_of), "a page of participants"),
        "/api/v1/rewards": get("Rewards the volunteers in scope may redeem (kept inside scope or by the units above it): stock and redemptions",
            with(with(vec![scope.clone()], &paging), &as_of), "a page of rewards"),
        "/api/v1/wishes": get("Micro-wishes in scope and who claimed or fulfilled them",
            with(with(vec![scope.clone()], &paging), &as_of), "a page of wishes"),
        "/api/v1/pairings": get("One-to-one pairings in scope",
            with(with(vec![scope.clone()], &paging), &as_of), "a page of pairings"),
        "/api/v1/requests": get("Hand-made entries in scope waiting for a second admin's approval, oldest first",
            with(with(vec![scope], &paging), &as_of), "a page of requests"),
    })
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Params {
    period: Option<String>,
    category: Option<Category>,
    metric: Option<Metric>,
    scope: Option<UnitId>,
    from: Option<Day>,
    to: Option<Day>,
    offset: Option<usize>,
    limit: Option<usize>,
    as_of: Option<u64>,
    as_of_date: Option<Day>,
    /// Wait (up to 5 s) until this ledger sequence is applied here.
    after: Option<u64>,
}

type Answer = Result<Response, Refusal>;

fn refuse(status: StatusCode, code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal(status, code, message.into())
}

pub(crate) fn bad(message: impl Into<String>) -> Refusal {
    refuse(StatusCode::BAD_REQUEST, "BAD_QUERY", message)
}

fn unavailable(message: impl Into<String>) -> Refusal {
    refuse(StatusCode::SERVICE_UNAVAILABLE, "CHAIN_BROKEN", message)
}

pub(crate) fn forbidden() -> Refusal {
    refuse(
        StatusCode::FORBIDDEN,
        "FORBIDDEN",
        "outside the units this account reads",
    )
}

pub(crate) fn not_found(code: &'static str) -> Refusal {
    refuse(StatusCode::NOT_FOUND, code, "no such thing in the ledger")
}

pub(crate) fn failed(e: impl std::fmt::Display) -> Refusal {
    refuse(
        StatusCode::INTERNAL_SERVER_ERROR,
        "READ_FAILED",
        e.to_string(),
    )
}

/// Who asks and what: every query's token and parameters, checked before
/// anything is read.
pub(crate) struct Asked {
    who: Principal,
    p: Params,
}

impl FromRequestParts<Api> for Asked {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Asked, Refusal> {
        let who = reader(api, &parts.headers)?;
        let Query(p) = Query::<Params>::from_request_parts(parts, api)
            .await
            .map_err(|e| bad(e.body_text()))?;
        Ok(Asked { who, p })
    }
}

/// Who asks; publishing systems read nothing.
fn reader(api: &Api, headers: &HeaderMap) -> Result<Principal, Refusal> {
    let who = principal(api, headers)
        .map_err(|why| refuse(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", why))?;
    if matches!(who.role, Role::System { .. } | Role::Volunteer { .. }) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "publishing systems submit; they do not read",
        ));
    }
    Ok(who)
}

/// Whether `who` may read things of `unit`.
pub(crate) fn may_read(r: &dyn Read, who: &Principal, unit: &UnitId) -> Result<bool, Refusal> {
    match &who.role {
        Role::CityAdmin | Role::Auditor => Ok(true),
        Role::UnitAdmin { unit: scope } => query::is_within(r, unit, scope).map_err(failed),
        Role::System { .. } | Role::Volunteer { .. } => Ok(false),
    }
}

/// Personal fields (names) are for admins, within their scope.
fn sees_personal(who: &Principal) -> bool {
    matches!(who.role, Role::CityAdmin | Role::UnitAdmin { .. })
}

/// The scope a request reads: the one asked for, which must lie inside the
/// caller's, or the caller's own (the whole ledger for city-wide roles).
pub(crate) fn scope(
    r: &dyn Read,
    who: &Principal,
    asked: Option<&UnitId>,
) -> Result<UnitId, Refusal> {
    let scope = match (asked, &who.role) {
        (Some(s), _) => s.clone(),
        (None, Role::UnitAdmin { unit }) => unit.clone(),
        (None, _) => query::roots(r)
            .map_err(failed)?
            .into_iter()
            .next()
            .ok_or_else(|| not_found("UNKNOWN_UNIT"))?,
    };
    if query::unit_row(r, &scope).map_err(failed)?.is_none() {
        return Err(not_found("UNKNOWN_UNIT"));
    }
    if !may_read(r, who, &scope)? {
        return Err(forbidden());
    }
    Ok(scope)
}

fn period(p: &Params) -> Result<Period, Refusal> {
    p.period
        .as_deref()
        .unwrap_or("all")
        .parse()
        .map_err(|e: projections::period::PeriodError| bad(e.to_string()))
}

fn page(p: &Params) -> Result<(usize, usize), Refusal> {
    let limit = p.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(bad(format!("limit is between 1 and {MAX_LIMIT}")));
    }
    Ok((p.offset.unwrap_or(0), limit))
}

fn as_of(head: Head) -> Value {
    json!({"sequence": head.sequence, "hash": head.hash})
}

// The two busiest replies, leaderboards and rankings, are written from
// types rather than built as `Value`s first: a `Value` gives every field of
// every place (and of every unit's summary) a map entry and allocations of
// its own. Typed, at 300,000 volunteers, the same service served 1.5-1.7
// times the rankings and 1.1-1.2 times the leaderboards a second
// (docs/performance.md). Their fields are in the order the maps of the
// other replies sort keys into, as the `Value`s gave them; a ranking's unit
// summaries are written in their type's order.

/// The head a reply was read at, as `as_of` writes it.
#[derive(Serialize)]
struct AsOf {
    hash: Digest,
    sequence: u64,
}

impl From<Head> for AsOf {
    fn from(head: Head) -> AsOf {
        AsOf {
            hash: head.hash,
            sequence: head.sequence,
        }
    }
}

/// A page of a leaderboard or a ranking.
#[derive(Serialize)]
struct BoardPage<'a, T> {
    as_of: AsOf,
    category: Option<Category>,
    items: Vec<T>,
    metric: Metric,
    next_offset: Option<usize>,
    period: String,
    scope: &'a UnitId,
}

#[derive(Serialize)]
struct VolunteerPlace {
    home_unit: Option<UnitId>,
    name: Option<String>,
    number: Option<String>,
    rank: u64,
    score: u64,
    volunteer: String,
}

#[derive(Serialize)]
struct UnitPlace {
    rank: u64,
    score: u64,
    summary: Option<UnitView>,
    unit: String,
}

/// The state a request reads, chosen by `as_of`, `as_of_date` and `after`,
/// and `f` run over it.
async fn read<T>(
    api: &Api,
    p: &Params,
    f: impl FnOnce(&dyn Read, Head) -> Result<T, Refusal>,
) -> Result<T, Refusal> {
    let models = &api.read_models;
    if let Some(after) = p.after {
        if !models.caught_up(after, Duration::from_secs(5)).await {
            return Err(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                "NOT_YET",
                format!("sequence {after} is not applied here yet"),
            ));
        }
    }
    let until = match (p.as_of, p.as_of_date) {
        (Some(_), Some(_)) => return Err(bad("as_of and as_of_date exclude each other")),
        (Some(n), None) => Some(Until::Sequence(n)),
        (None, Some(day)) => {
            let offset = models
                .live(|tree, _| query::config(tree))
                .map_err(unavailable)?
                .map_err(failed)?
                .map(|c| c.utc_offset)
                .ok_or_else(|| not_found("LEDGER_NOT_OPEN"))?;
            Some(Until::Recorded(end_of_day(day, offset)))
        }
        (None, None) => None,
    };
    match until {
        None => models
            .live(|tree, head| f(tree, head))
            .map_err(unavailable)?,
        Some(until) => {
            let (view, head) = models
                .as_of(until)
                .await
                .map_err(|e| refuse(StatusCode::CONFLICT, "NOT_AVAILABLE_AS_OF", e))?;
            match view {
                View::Live(tree) => f(&tree, head),
                View::Past(memory) => f(memory.as_ref(), head),
            }
        }
    }
}

async fn volunteer(
    State(api): State<Api>,
    Path(id): Path<String>,
    Asked { who, p }: Asked,
) -> Answer {
    let period = period(&p)?;
    let id = VolunteerId::new(id).map_err(|_| not_found("UNKNOWN_VOLUNTEER"))?;
    read(&api, &p, |r, head| {
        let (view, row) = query::volunteer(r, &id, &period, p.category)
            .map_err(failed)?
            .ok_or_else(|| not_found("UNKNOWN_VOLUNTEER"))?;
        if !may_read(r, &who, &row.home_unit)? {
            return Err(forbidden());
        }
        Ok(Json(json!({"as_of": as_of(head), "volunteer": view})).into_response())
    })
    .await
}

async fn history(
    State(api): State<Api>,
    Path(id): Path<String>,
    Asked { who, p }: Asked,
) -> Answer {
    let (offset, limit) = page(&p)?;
    let id = VolunteerId::new(id).map_err(|_| not_found("UNKNOWN_VOLUNTEER"))?;
    read(&api, &p, |r, head| {
        let (view, row) = query::volunteer(r, &id, &Period::All, None)
            .map_err(failed)?
            .ok_or_else(|| not_found("UNKNOWN_VOLUNTEER"))?;
        if !may_read(r, &who, &row.home_unit)? {
            return Err(forbidden());
        }
        let entries = query::history(r, &id, offset as u64, limit).map_err(failed)?;
        let next = offset + entries.len();
        Ok(Json(json!({
            "as_of": as_of(head),
            "volunteer": id,
            "total": view.history_entries,
            "entries": entries,
            "next_offset": (next < view.history_entries as usize).then_some(next),
        }))
        .into_response())
    })
    .await
}

async fn unit(State(api): State<Api>, Path(id): Path<String>, Asked { who, p }: Asked) -> Answer {
    let period = period(&p)?;
    let id = UnitId::new(id).map_err(|_| not_found("UNKNOWN_UNIT"))?;
    read(&api, &p, |r, head| {
        let id = scope(r, &who, Some(&id))?;
        let view = query::unit(r, &id, &period, p.category)
            .map_err(failed)?
            .ok_or_else(|| not_found("UNKNOWN_UNIT"))?;
        Ok(Json(json!({"as_of": as_of(head), "unit": view})).into_response())
    })
    .await
}

/// Volunteers ranked within a unit's subtree, for a named period (an
/// index range scan) or any range of days (`from`, `to`: computed).
async fn volunteer_board(State(api): State<Api>, Asked { who, p }: Asked) -> Answer {
    let (offset, limit) = page(&p)?;
    let metric = p.metric.unwrap_or(Metric::Hours);
    let days = match (p.from, p.to) {
        (Some(first), Some(last)) if first <= last => Some(DayRange { first, last }),
        (None, None) => None,
        _ => return Err(bad("from and to come together, from not after to")),
    };
    if days.is_some() && p.period.is_some() {
        return Err(bad("give a period or from/to, not both"));
    }
    let period = period(&p)?;
    let (head, scope, places, names) = read(&api, &p, |r, head| {
        let scope = scope(r, &who, p.scope.as_ref())?;
        let places = match days {
            Some(days) => {
                query::range_leaderboard(r, &scope, days, p.category, metric, offset, limit)
            }
            None => query::leaderboard(
                r,
                &BoardQuery {
                    ranked: Ranked::Volunteers,
                    metric,
                    scope: &scope,
                    period: &period,
                    category: p.category,
                    offset,
                    limit,
                },
            ),
        }
        .map_err(failed)?;
        let names = names::Ahead::start(
            sees_personal(&who).then_some(&api.personal),
            places.iter().map(|place| place.subject.clone()).collect(),
        );
        let places: Vec<(Place, Option<VolunteerCard>)> = places
            .into_iter()
            .map(|place| {
                let id = VolunteerId::new(&place.subject).map_err(failed)?;
                let card = api.read_models.card(r, &id).map_err(failed)?;
                Ok((place, card))
            })
            .collect::<Result<_, Refusal>>()?;
        Ok((head, scope, places, names))
    })
    .await?;
    let names = names.wait().await;
    let items: Vec<VolunteerPlace> = places
        .into_iter()
        .zip(names)
        .map(|((place, card), name)| {
            let (number, home_unit) = card.map(|c| (c.number, c.home_unit)).unzip();
            VolunteerPlace {
                home_unit,
                name,
                number,
                rank: place.rank,
                score: place.score,
                volunteer: place.subject,
            }
        })
        .collect();
    let full = items.len() == limit;
    Ok(Json(BoardPage {
        as_of: head.into(),
        category: p.category,
        items,
        metric,
        next_offset: full.then_some(offset + limit),
        period: days.map_or_else(
            || period.to_string(),
            |d| format!("{}..{}", d.first, d.last),
        ),
        scope: &scope,
    })
    .into_response())
}

/// A unit's children ranked: the ranking of units for evaluations.
async fn unit_board(State(api): State<Api>, Asked { who, p }: Asked) -> Answer {
    let (offset, limit) = page(&p)?;
    let metric = p.metric.unwrap_or(Metric::Hours);
    let period = period(&p)?;
    read(&api, &p, |r, head| {
        let scope = scope(r, &who, p.scope.as_ref())?;
        let places = query::leaderboard(
            r,
            &BoardQuery {
                ranked: Ranked::Units,
                metric,
                scope: &scope,
                period: &period,
                category: p.category,
                offset,
                limit,
            },
        )
        .map_err(failed)?;
        let full = places.len() == limit;
        // Every unit on the page is a child of the scope: their ranks
        // among siblings come from one read of the scope's boards.
        let siblings = query::Siblings::read(r, &scope, &period, p.category).map_err(failed)?;
        let items = places
            .into_iter()
            .map(|place| {
                let id = UnitId::new(&place.subject).map_err(failed)?;
                let summary = query::unit_row(r, &id)
                    .map_err(failed)?
                    .map(|row| query::unit_with(r, row, &period, p.category, Some(&siblings)))
                    .transpose()
                    .map_err(failed)?;
                Ok(UnitPlace {
                    rank: place.rank,
                    score: place.score,
                    summary,
                    unit: place.subject,
                })
            })
            .collect::<Result<Vec<_>, Refusal>>()?;
        Ok(Json(BoardPage {
            as_of: head.into(),
            category: p.category,
            items,
            metric,
            next_offset: full.then_some(offset + limit),
            period: period.to_string(),
            scope: &scope,
        })
        .into_response())
    })
    .await
}

async fn campaign(
    State(api): State<Api>,
    Path(id): Path<String>,
    Asked { who, p }: Asked,
) -> Answer {
    let id = CampaignId::new(id).map_err(|_| not_found("UNKNOWN_CAMPAIGN"))?;
    read(&api, &p, |r, head| {
        // Lateness is judged as of the day asked for, or the day of the
        // last event applied: never the wall clock, so answers reproduce.
        let day = match p.as_of_date {
            Some(day) => day,
            None => query::last_day(r).map_err(failed)?.unwrap_or(Day(0)),
        };
        let view = query::campaign(r, &id, day)
            .map_err(failed)?
            .ok_or_else(|| not_found("UNKNOWN_CAMPAIGN"))?;
        if !may_read(r, &who, &view.organiser)? {
            return Err(forbidden());
        }
        Ok(Json(json!({"as_of": as_of(head), "campaign": view})).into_response())
    })
    .await
}

async fn activity(
    State(api): State<Api>,
    Path(id): Path<String>,
    Asked { who, p }: Asked,
) -> Answer {
    let id = ActivityId::new(id).map_err(|_| not_found("UNKNOWN_ACTIVITY"))?;
    read(&api, &p, |r, head| {
        let a = readable_activity(r, &who, &id)?;
        let no_shows = a.no_shows();
        Ok(
            Json(json!({"as_of": as_of(head), "activity": a, "no_shows": no_shows}))
                .into_response(),
        )
    })
    .await
}

/// The activity, for those who read its organiser's units.
fn readable_activity(
    r: &dyn Read,
    who: &Principal,
    id: &ActivityId,
) -> Result<projections::rows::ActivityRow, Refusal> {
    let a = query::activity(r, id)
        .map_err(failed)?
        .ok_or_else(|| not_found("UNKNOWN_ACTIVITY"))?;
    if !may_read(r, who, &a.organiser)? {
        return Err(forbidden());
    }
    Ok(a)
}

/// Who took part in an activity, a page at a time, for those who read its
/// organiser's units.
async fn participants(
    State(api): State<Api>,
    Path(id): Path<String>,
    Asked { who, p }: Asked,
) -> Answer {
    let id = ActivityId::new(id).map_err(|_| not_found("UNKNOWN_ACTIVITY"))?;
    let (offset, limit) = page(&p)?;
    read(&api, &p, |r, head| {
        readable_activity(r, &who, &id)?;
        let mut items = Vec::new();
        for (volunteer, came) in query::participants(r, &id, offset, limit).map_err(failed)? {
            let number = query::volunteer_card(r, &volunteer)
                .map_err(failed)?
                .map(|c| c.number);
            items.push(json!({"volunteer": volunteer, "number": number,
                "signed_up": came.signed_up, "walk_in": came.walk_in, "check_ins": came.sessions,
                "not_checked_out": came.open}));
        }
        let next = (items.len() == limit).then_some(offset + limit);
        Ok(
            Json(json!({"as_of": as_of(head), "items": items, "next_offset": next}))
                .into_response(),
        )
    })
    .await
}

/// Rows of a small table that lie inside the caller's scope.
async fn listing<T: serde::Serialize>(
    api: &Api,
    asked: Asked,
    rows: impl FnOnce(&dyn Read) -> Result<Vec<T>, projections::store::StoreError>,
    unit_of: impl Fn(&T) -> Option<&UnitId>,
) -> Answer {
    listing_in(api, asked, |r, scope| {
        let mut inside = Vec::new();
        for row in rows(r)? {
            let Some(unit) = unit_of(&row) else { continue };
            if query::is_within(r, unit, scope)? {
                inside.push(row);
            }
        }
        Ok(inside)
    })
    .await
}

/// Rows a query picks for the caller's scope, a page of them.
async fn listing_in<T: serde::Serialize>(
    api: &Api,
    Asked { who, p }: Asked,
    rows: impl FnOnce(&dyn Read, &UnitId) -> Result<Vec<T>, projections::store::StoreError>,
) -> Answer {
    let (offset, limit) = page(&p)?;
    read(api, &p, |r, head| {
        let scope = scope(r, &who, p.scope.as_ref())?;
        let items = rows(r, &scope).map_err(failed)?;
        let total = items.len();
        let items: Vec<T> = items.into_iter().skip(offset).take(limit).collect();
        let next = offset + items.len();
        Ok(Json(json!({
            "as_of": as_of(head),
            "scope": scope,
            "total": total,
            "items": items,
            "next_offset": (next < total).then_some(next),
        }))
        .into_response())
    })
    .await
}

/// The rewards the scope's volunteers may redeem: those its units keep and
/// those of the units above it.
async fn rewards(State(api): State<Api>, asked: Asked) -> Answer {
    listing_in(&api, asked, |r, scope| {
        query::rewards_within_reach(r, scope)
    })
    .await
}

async fn wishes(State(api): State<Api>, asked: Asked) -> Answer {
    listing(&api, asked, |r| query::wishes(r), |w| Some(&w.unit)).await
}

async fn pairings(State(api): State<Api>, asked: Asked) -> Answer {
    listing(&api, asked, |r| query::pairings(r), |w| Some(&w.unit)).await
}

async fn requests(State(api): State<Api>, asked: Asked) -> Answer {
    listing(
        &api,
        asked,
        |r| query::waiting_requests(r),
        |q| q.unit.as_ref(),
    )
    .await
}
