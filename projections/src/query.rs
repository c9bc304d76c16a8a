//! Answers from the read models: what the query API serves. Every function
//! reads committed rows (or a state as of the past); none writes.

use std::collections::{BTreeMap, HashMap};

use ledger_core::domain::{
    Category, CreditStatus, IdentityCommitment, Pairing, ReportKind, StarLevel, UnitKind,
    VolunteerStatus, Wish,
};
use ledger_core::time::{Day, DayRange};
use ledger_core::values::{ActivityId, CampaignId, CreditId, RewardId, UnitId, VolunteerId};
use serde::Serialize;

use crate::board::{self, Board, Ranked, Standing};
use crate::fold::{
    activity_key, award_key, campaign_key, credit_key, day_entries, decode, get, history_key,
    identity_key, member_key, number_key, reward_key, unit_key, unit_tally_key, volunteer_key,
    DAY_INDEX_AWARD, DAY_INDEX_CREDIT, HISTORY_CHUNK,
};
use crate::keys::table;
use crate::period::Period;
use crate::rows::*;
use crate::store::{scan_prefix, Read, StoreError};

/// Featured activities a unit must hold each year (notice 004).
pub const FEATURED_PER_YEAR: u64 = 2;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VolunteerView {
    pub volunteer: VolunteerId,
    pub number: String,
    pub home_unit: UnitId,
    pub status: VolunteerStatus,
    pub confirmed_system_minutes: u64,
    pub confirmed_backfill_minutes: u64,
    pub pending_minutes: u64,
    pub points_earned: u64,
    pub points_redeemed: u64,
    pub balance: u64,
    pub star_level: u8,
    pub minutes_to_next_star: Option<u64>,
    pub activities_attended: u64,
    pub history_entries: u64,
    /// The volunteer's totals in the period and category asked for.
    pub period: String,
    pub category: Option<Category>,
    pub in_period: Tally,
}

pub fn volunteer<R: Read + ?Sized>(
    r: &R,
    id: &VolunteerId,
    period: &Period,
    category: Option<Category>,
) -> Result<Option<(VolunteerView, VolunteerRow)>, StoreError> {
    let Some(v) = get::<VolunteerRow, _>(r, &volunteer_key(id))? else {
        return Ok(None);
    };
    let confirmed = v.confirmed_minutes();
    let view = VolunteerView {
        volunteer: v.volunteer.clone(),
        number: v.number.clone(),
        home_unit: v.home_unit.clone(),
        status: v.status.into(),
        confirmed_system_minutes: v.system_minutes,
        confirmed_backfill_minutes: v.backfill_minutes,
        pending_minutes: v.pending_minutes,
        points_earned: v.points_earned,
        points_redeemed: v.points_redeemed,
        balance: v.balance(),
        star_level: StarLevel::for_minutes(confirmed).0,
        minutes_to_next_star: StarLevel::minutes_to_next(confirmed),
        activities_attended: v.activities_attended,
        history_entries: v.history_len,
        period: period.to_string(),
        category,
        in_period: v
            .tallies
            .get(&(period.clone(), category))
            .copied()
            .unwrap_or_default(),
    };
    Ok(Some((view, v)))
}

/// What a leaderboard shows of a volunteer: id, number and home unit.
pub fn volunteer_card<R: Read + ?Sized>(
    r: &R,
    id: &VolunteerId,
) -> Result<Option<VolunteerCard>, StoreError> {
    get(r, &volunteer_key(id))
}

/// History entries `from..from + limit` (0-based, in chain order).
pub fn history<R: Read + ?Sized>(
    r: &R,
    id: &VolunteerId,
    from: u64,
    limit: usize,
) -> Result<Vec<HistoryEntry>, StoreError> {
    let mut out = Vec::new();
    let mut chunk = from / HISTORY_CHUNK;
    let mut skip = (from % HISTORY_CHUNK) as usize;
    while out.len() < limit {
        let Some(entries) = get::<Vec<HistoryEntry>, _>(r, &history_key(id, chunk))? else {
            break;
        };
        out.extend(entries.into_iter().skip(skip).take(limit - out.len()));
        skip = 0;
        chunk += 1;
    }
    Ok(out)
}

/// Where a roster page ends: the next page starts after this volunteer of
/// this unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RosterCursor {
    pub unit: UnitId,
    pub volunteer: VolunteerId,
}

/// The volunteers whose home unit lies in `scope`'s subtree, unit by unit
/// (the scope first, then its subtree depth first, children in the order
/// they were registered), each unit's in id order: at most `limit` of them
/// after `after`. A page costs its own rows, not the rows before it.
pub fn roster<R: Read + ?Sized>(
    r: &R,
    scope: &UnitId,
    after: Option<&RosterCursor>,
    limit: usize,
) -> Result<Vec<VolunteerRow>, StoreError> {
    let units = subtree(r, scope)?;
    let start = match after {
        Some(c) => match units.iter().position(|u| *u == c.unit) {
            Some(at) => at,
            None => return Ok(Vec::new()),
        },
        None => 0,
    };
    let mut out = Vec::new();
    for unit in &units[start..] {
        let prefix = crate::keys::Key::table(table::MEMBER)
            .str(unit.as_str())
            .into_bytes();
        let from = match after {
            Some(c) if c.unit == *unit => {
                let mut k = member_key(unit, &c.volunteer).into_bytes();
                k.push(0);
                k
            }
            _ => prefix.clone(),
        };
        let end = crate::store::prefix_end(&prefix).unwrap_or_else(|| vec![0xFF; 256]);
        for entry in r.range(&from, &end, false) {
            if out.len() == limit {
                return Ok(out);
            }
            let (key, _) = entry?;
            let id = crate::keys::read_str(&key[prefix.len()..])
                .and_then(|(id, _)| VolunteerId::new(id).ok())
                .ok_or_else(|| StoreError::Corrupt {
                    key: hex::encode(&key),
                    reason: "a roster key does not name a volunteer".into(),
                })?;
            if let Some(row) = get::<VolunteerRow, _>(r, &volunteer_key(&id))? {
                out.push(row);
            }
        }
    }
    Ok(out)
}

/// `scope` and every unit under it, depth first.
pub fn subtree<R: Read + ?Sized>(r: &R, scope: &UnitId) -> Result<Vec<UnitId>, StoreError> {
    let mut out = Vec::new();
    let mut stack = vec![scope.clone()];
    while let Some(unit) = stack.pop() {
        if out.contains(&unit) {
            continue;
        }
        if let Some(row) = unit_row(r, &unit)? {
            stack.extend(row.children.iter().rev().cloned());
            out.push(unit);
        }
    }
    Ok(out)
}

/// The activities a volunteer signed up to or attended, with what he did
/// there, in id order.
pub fn activities_of<R: Read + ?Sized>(
    r: &R,
    id: &VolunteerId,
) -> Result<Vec<(ActivityRow, Participation)>, StoreError> {
    let prefix = crate::keys::Key::table(table::VOLUNTEER_ACTIVITY)
        .str(id.as_str())
        .into_bytes();
    let mut out = Vec::new();
    for entry in scan_prefix(r, &prefix, false) {
        let (key, _) = entry?;
        let Some(activity) =
            crate::keys::read_str(&key[prefix.len()..]).and_then(|(a, _)| ActivityId::new(a).ok())
        else {
            return Err(StoreError::Corrupt {
                key: hex::encode(&key),
                reason: "an activity index key does not name an activity".into(),
            });
        };
        let participation = crate::keys::Key::table(table::PARTICIPATION)
            .str(activity.as_str())
            .str(id.as_str());
        if let (Some(a), Some(p)) = (
            get::<ActivityRow, _>(r, &activity_key(&activity))?,
            get::<Participation, _>(r, &participation)?,
        ) {
            out.push((a, p));
        }
    }
    Ok(out)
}

/// Who took part in an activity, by volunteer id, from the `offset`-th on:
/// each volunteer signed up or come (a withdrawn sign-up with no check-in
/// is left out), with how he came and his check-ins.
pub fn participants<R: Read + ?Sized>(
    r: &R,
    activity: &ActivityId,
    offset: usize,
    limit: usize,
) -> Result<Vec<(VolunteerId, Participation)>, StoreError> {
    let prefix = crate::keys::Key::table(table::PARTICIPATION)
        .str(activity.as_str())
        .into_bytes();
    let mut out = Vec::new();
    let mut skipped = 0;
    for entry in scan_prefix(r, &prefix, false) {
        if out.len() == limit {
            break;
        }
        let (key, value) = entry?;
        let p: Participation = decode(&key, &value)?;
        if !p.signed_up && p.sessions == 0 {
            continue;
        }
        if skipped < offset {
            skipped += 1;
            continue;
        }
        let volunteer = crate::keys::read_str(&key[prefix.len()..])
            .and_then(|(v, _)| VolunteerId::new(v).ok())
            .ok_or_else(|| StoreError::Corrupt {
                key: hex::encode(&key),
                reason: "a participation key does not name a volunteer".into(),
            })?;
        out.push((volunteer, p));
    }
    Ok(out)
}

/// The credits in review whose activity a unit of `scope`'s subtree
/// organised: what its admins have to decide.
pub fn reviews<R: Read + ?Sized>(
    r: &R,
    scope: &UnitId,
    limit: usize,
) -> Result<Vec<(CreditId, CreditRow)>, StoreError> {
    let mut out = Vec::new();
    for unit in subtree(r, scope)? {
        let prefix = crate::keys::Key::table(table::REVIEW)
            .str(unit.as_str())
            .into_bytes();
        for entry in scan_prefix(r, &prefix, false) {
            if out.len() == limit {
                return Ok(out);
            }
            let (key, _) = entry?;
            let credit = credit_at_end(&key, prefix.len())?;
            if let Some(row) = self::credit(r, credit)? {
                out.push((credit, row));
            }
        }
    }
    Ok(out)
}

/// The hand-made entries waiting for a second admin whose unit lies in
/// `scope`'s subtree, oldest first.
pub fn requests<R: Read + ?Sized>(
    r: &R,
    scope: &UnitId,
    limit: usize,
) -> Result<Vec<RequestRow>, StoreError> {
    let units = subtree(r, scope)?;
    let mut rows = waiting_requests(r)?;
    rows.retain(|q| q.unit.as_ref().is_some_and(|u| units.contains(u)));
    rows.truncate(limit);
    Ok(rows)
}

/// Every hand-made entry waiting for a second admin, oldest first: few at
/// any time, as each is decided and leaves the table.
pub fn waiting_requests<R: Read + ?Sized>(r: &R) -> Result<Vec<RequestRow>, StoreError> {
    scan_prefix(r, &[table::REQUEST], false)
        .map(|entry| {
            let (key, value) = entry?;
            crate::fold::decode(&key, &value)
        })
        .collect()
}

/// The credit id an index key ends with, after its `prefix_len` bytes.
/// The units whose reports name the file with BLAKE3 `hash`.
pub fn attachment_units<R: Read + ?Sized>(
    r: &R,
    hash: &ledger_core::values::Digest,
) -> Result<Vec<UnitId>, StoreError> {
    let prefix = crate::keys::Key::table(table::ATTACHMENT)
        .digest(hash)
        .into_bytes();
    let mut units = Vec::new();
    for entry in scan_prefix(r, &prefix, false) {
        let (key, _) = entry?;
        let unit = key
            .get(prefix.len() + 1..)
            .and_then(|id| std::str::from_utf8(id).ok())
            .and_then(|id| UnitId::new(id).ok())
            .ok_or_else(|| StoreError::Corrupt {
                key: hex::encode(&key),
                reason: "a report file's key does not end in a unit id".into(),
            })?;
        units.push(unit);
    }
    Ok(units)
}

fn credit_at_end(key: &[u8], prefix_len: usize) -> Result<CreditId, StoreError> {
    key.get(prefix_len..)
        .and_then(|rest| <[u8; 8]>::try_from(rest).ok())
        .map(|b| CreditId(u64::from_be_bytes(b)))
        .ok_or_else(|| StoreError::Corrupt {
            key: hex::encode(key),
            reason: "an index key does not end in a credit id".into(),
        })
}

pub fn credit<R: Read + ?Sized>(r: &R, id: CreditId) -> Result<Option<CreditRow>, StoreError> {
    get(r, &credit_key(id))
}

/// A volunteer's credits, oldest first: `limit` of them from `offset`.
pub fn credits<R: Read + ?Sized>(
    r: &R,
    id: &VolunteerId,
    offset: usize,
    limit: usize,
) -> Result<Vec<(CreditId, CreditRow)>, StoreError> {
    let prefix = crate::keys::Key::table(table::VOLUNTEER_CREDIT)
        .str(id.as_str())
        .into_bytes();
    let mut out = Vec::new();
    for entry in scan_prefix(r, &prefix, false).skip(offset).take(limit) {
        let (key, _) = entry?;
        let credit = credit_at_end(&key, prefix.len())?;
        if let Some(row) = get::<CreditRow, _>(r, &credit_key(credit))? {
            out.push((credit, row));
        }
    }
    Ok(out)
}

/// The volunteer a unified number names.
pub fn volunteer_by_number<R: Read + ?Sized>(
    r: &R,
    number: &str,
) -> Result<Option<VolunteerId>, StoreError> {
    get(r, &number_key(number))
}

/// The volunteer registered last under an identity commitment.
pub fn volunteer_by_identity<R: Read + ?Sized>(
    r: &R,
    identity: &IdentityCommitment,
) -> Result<Option<VolunteerId>, StoreError> {
    get(r, &identity_key(identity))
}

pub fn unit_row<R: Read + ?Sized>(r: &R, id: &UnitId) -> Result<Option<UnitRow>, StoreError> {
    get(r, &unit_key(id))
}

/// The unit and its ancestors, nearest first.
pub fn ancestry<R: Read + ?Sized>(r: &R, id: &UnitId) -> Result<Vec<UnitId>, StoreError> {
    let mut out: Vec<UnitId> = Vec::new();
    let mut next = Some(id.clone());
    while let Some(u) = next {
        if out.contains(&u) {
            break;
        }
        let Some(row) = unit_row(r, &u)? else { break };
        next = row.unit.parent;
        out.push(u);
    }
    Ok(out)
}

pub fn is_within<R: Read + ?Sized>(
    r: &R,
    unit: &UnitId,
    scope: &UnitId,
) -> Result<bool, StoreError> {
    Ok(ancestry(r, unit)?.contains(scope))
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SiblingRank {
    pub hours: Option<u64>,
    pub points: Option<u64>,
    pub siblings: usize,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitView {
    pub unit: UnitId,
    pub name: String,
    pub kind: UnitKind,
    pub parent: Option<UnitId>,
    pub children: Vec<UnitId>,
    pub quota: Option<u32>,
    pub registered_volunteers: u64,
    pub period: String,
    pub category: Option<Category>,
    pub confirmed_system_minutes: u64,
    pub confirmed_backfill_minutes: u64,
    pub points: u64,
    pub active_volunteers: u64,
    /// Confirmed hours per registered volunteer, to two decimals.
    pub hours_per_registered: f64,
    pub activities_held: u64,
    pub featured_held: u64,
    /// Featured activities required in the period (years only).
    pub featured_required: Option<u64>,
    /// Place among the parent's children (1 is first), by hours and by points.
    pub rank_among_siblings: Option<SiblingRank>,
}

pub fn unit_tally<R: Read + ?Sized>(
    r: &R,
    id: &UnitId,
    period: &Period,
    category: Option<Category>,
) -> Result<UnitTally, StoreError> {
    Ok(get(r, &unit_tally_key(id, period, category))?.unwrap_or_default())
}

pub fn unit<R: Read + ?Sized>(
    r: &R,
    id: &UnitId,
    period: &Period,
    category: Option<Category>,
) -> Result<Option<UnitView>, StoreError> {
    let Some(row) = unit_row(r, id)? else {
        return Ok(None);
    };
    let siblings = match &row.unit.parent {
        None => None,
        Some(parent) => Some(Siblings::read(r, parent, period, category)?),
    };
    unit_with(r, row, period, category, siblings.as_ref()).map(Some)
}

/// A unit and its siblings ranked by both metrics: read once for a whole
/// ranking of units rather than once for each unit in it.
pub struct Siblings {
    count: usize,
    by_hours: Vec<Standing>,
    by_points: Vec<Standing>,
}

impl Siblings {
    /// The children of `parent`, ranked.
    pub fn read<R: Read + ?Sized>(
        r: &R,
        parent: &UnitId,
        period: &Period,
        category: Option<Category>,
    ) -> Result<Siblings, StoreError> {
        let count = unit_row(r, parent)?.map_or(0, |p| p.children.len());
        let ranked = |metric| {
            let board = Board {
                ranked: Ranked::Units,
                metric,
                scope: parent,
                period,
                category,
            };
            board::top(r, &board, 0, count.max(1))
        };
        Ok(Siblings {
            count,
            by_hours: ranked(Metric::Hours)?,
            by_points: ranked(Metric::Points)?,
        })
    }

    /// Ties share a place (1, 2, 2, 4); a sibling with nothing confirmed is
    /// not on the board and shares the place after all that are.
    fn rank(&self, id: &UnitId) -> SiblingRank {
        let place = |standings: &[Standing]| {
            let score = standings
                .iter()
                .find(|s| s.subject == id.as_str())
                .map_or(0, |s| s.score);
            let above = standings.iter().filter(|s| s.score > score).count();
            Some(above as u64 + 1)
        };
        SiblingRank {
            hours: place(&self.by_hours),
            points: place(&self.by_points),
            siblings: self.count,
        }
    }
}

/// A unit's roll-up, with its rank among `siblings` (its parent's children,
/// already read; `None` for a unit without a parent).
pub fn unit_with<R: Read + ?Sized>(
    r: &R,
    row: UnitRow,
    period: &Period,
    category: Option<Category>,
    siblings: Option<&Siblings>,
) -> Result<UnitView, StoreError> {
    let t = unit_tally(r, &row.unit.id, period, category)?;
    let rank_among_siblings = siblings.map(|s| s.rank(&row.unit.id));
    let hours_per_registered = (t.tally.minutes() * 100 / 60)
        .checked_div(row.registered)
        .map_or(0.0, |centi| centi as f64 / 100.0);
    Ok(UnitView {
        unit: row.unit.id.clone(),
        name: row.unit.name.as_str().to_owned(),
        kind: row.unit.kind,
        parent: row.unit.parent.clone(),
        children: row.children.clone(),
        quota: row.unit.quota,
        registered_volunteers: row.registered,
        period: period.to_string(),
        category,
        confirmed_system_minutes: t.tally.system_minutes,
        confirmed_backfill_minutes: t.tally.backfill_minutes,
        points: t.tally.points,
        active_volunteers: t.active_volunteers,
        hours_per_registered,
        activities_held: t.activities_held,
        featured_held: t.featured_held,
        featured_required: matches!(period, Period::Year(_)).then_some(FEATURED_PER_YEAR),
        rank_among_siblings,
    })
}

/// One place on a leaderboard.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Place {
    /// 1 is first; equal scores share a rank (1, 2, 2, 4) and are listed
    /// by id.
    pub rank: u64,
    pub subject: String,
    /// Confirmed minutes or points.
    pub score: u64,
}

pub struct BoardQuery<'a> {
    pub ranked: Ranked,
    pub metric: Metric,
    pub scope: &'a UnitId,
    pub period: &'a Period,
    pub category: Option<Category>,
    pub offset: usize,
    pub limit: usize,
}

/// A page of a named period's leaderboard: a range scan of its index.
pub fn leaderboard<R: Read + ?Sized>(r: &R, q: &BoardQuery<'_>) -> Result<Vec<Place>, StoreError> {
    let board = Board {
        ranked: q.ranked,
        metric: q.metric,
        scope: q.scope,
        period: q.period,
        category: q.category,
    };
    let standings = board::top(r, &board, q.offset, q.limit)?;
    let above = match standings.first() {
        Some(first) if q.offset > 0 => board::count_above(r, &board, first.score)?,
        _ => 0,
    };
    Ok(competition_ranks(standings, q.offset, above))
}

/// Standard competition ranking (1, 2, 2, 4): equal scores share a place,
/// one more than the number of places that score more, as commendations
/// rank ties (并列). `standings` are in board order from place `offset`
/// (0-based), and `above` places score more than the first of them.
pub fn competition_ranks(standings: Vec<Standing>, offset: usize, above: u64) -> Vec<Place> {
    let mut rank = above + 1;
    let mut last = None;
    standings
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            if last.is_some_and(|l| l != s.score) {
                rank = (offset + i + 1) as u64;
            }
            last = Some(s.score);
            Place {
                rank,
                subject: s.subject,
                score: s.score,
            }
        })
        .collect()
}

/// A page of the volunteers' leaderboard over any range of days, computed
/// from the day index: its cost grows with the credits in the range, which
/// is why the named periods have boards of their own.
pub fn range_leaderboard<R: Read + ?Sized>(
    r: &R,
    scope: &UnitId,
    days: DayRange,
    category: Option<Category>,
    metric: Metric,
    offset: usize,
    limit: usize,
) -> Result<Vec<Place>, StoreError> {
    let mut totals: HashMap<VolunteerId, u64> = HashMap::new();
    for (kind, id) in day_entries(r, days)? {
        let (volunteer, score) = if kind == DAY_INDEX_CREDIT {
            let Some(c) = get::<CreditRow, _>(r, &credit_key(ledger_core::values::CreditId(id)))?
            else {
                continue;
            };
            let counts = c.status == CreditStatus::Confirmed
                && metric == Metric::Hours
                && category.is_none_or(|cat| cat == c.category);
            (c.volunteer, if counts { u64::from(c.minutes) } else { 0 })
        } else if kind == DAY_INDEX_AWARD {
            let Some(a) = get::<AwardRow, _>(r, &award_key(ledger_core::values::AwardId(id)))?
            else {
                continue;
            };
            let counts = !a.reversed
                && metric == Metric::Points
                && category.is_none_or(|cat| a.category == Some(cat));
            (a.volunteer, if counts { a.points } else { 0 })
        } else {
            continue;
        };
        if score > 0 {
            *totals.entry(volunteer).or_default() += score;
        }
    }
    let mut homes: HashMap<UnitId, bool> = HashMap::new();
    let mut ranked = Vec::new();
    for (volunteer, score) in totals {
        let Some(v) = volunteer_card(r, &volunteer)? else {
            continue;
        };
        let inside = match homes.get(&v.home_unit) {
            Some(inside) => *inside,
            None => {
                let inside = is_within(r, &v.home_unit, scope)?;
                homes.insert(v.home_unit.clone(), inside);
                inside
            }
        };
        if inside {
            ranked.push((score, volunteer));
        }
    }
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let standings = ranked
        .into_iter()
        .map(|(score, v)| Standing {
            subject: v.as_str().to_owned(),
            score,
        })
        .collect();
    Ok(competition_ranks(standings, 0, 0)
        .into_iter()
        .skip(offset)
        .take(limit)
        .collect())
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeadlineStatus {
    pub deadline: u16,
    pub kind: ReportKind,
    pub due: Day,
    pub filed: Vec<Filing>,
    /// The organiser's direct subunits that have filed nothing for it.
    pub outstanding: Vec<UnitId>,
    /// Whether `as_of` is past the due day (outstanding ones are late).
    pub overdue: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CampaignView {
    pub campaign: CampaignId,
    pub name: String,
    pub organiser: UnitId,
    pub phases: Vec<(String, DayRange)>,
    pub as_of: Day,
    pub deadlines: Vec<DeadlineStatus>,
}

pub fn campaign<R: Read + ?Sized>(
    r: &R,
    id: &CampaignId,
    as_of: Day,
) -> Result<Option<CampaignView>, StoreError> {
    let Some(row) = get::<CampaignRow, _>(r, &campaign_key(id))? else {
        return Ok(None);
    };
    let c = &row.campaign;
    let expected = unit_row(r, &c.organiser)?.map_or_else(Vec::new, |u| u.children);
    let deadlines = c
        .deadlines
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let filed: Vec<Filing> = row
                .filings
                .iter()
                .filter(|f| usize::from(f.deadline) == i)
                .cloned()
                .collect();
            let outstanding = expected
                .iter()
                .filter(|u| !filed.iter().any(|f| &f.unit == *u))
                .cloned()
                .collect();
            DeadlineStatus {
                deadline: i as u16,
                kind: d.kind,
                due: d.due,
                filed,
                outstanding,
                overdue: as_of > d.due,
            }
        })
        .collect();
    Ok(Some(CampaignView {
        campaign: c.id.clone(),
        name: c.name.as_str().to_owned(),
        organiser: c.organiser.clone(),
        phases: c
            .phases
            .iter()
            .map(|p| (p.name.as_str().to_owned(), p.days))
            .collect(),
        as_of,
        deadlines,
    }))
}

pub fn activity<R: Read + ?Sized>(
    r: &R,
    id: &ActivityId,
) -> Result<Option<ActivityRow>, StoreError> {
    get(r, &activity_key(id))
}

pub fn reward<R: Read + ?Sized>(r: &R, id: &RewardId) -> Result<Option<RewardRow>, StoreError> {
    get(r, &reward_key(id))
}

/// Every row of one table, decoded.
fn table_rows<T: serde::de::DeserializeOwned, R: Read + ?Sized>(
    r: &R,
    tag: u8,
) -> Result<Vec<T>, StoreError> {
    scan_prefix(r, &[tag], false)
        .map(|e| e.and_then(|(k, v)| decode(&k, &v)))
        .collect()
}

pub fn rewards<R: Read + ?Sized>(r: &R) -> Result<Vec<RewardRow>, StoreError> {
    table_rows(r, table::REWARD)
}

/// The rewards the volunteers of `scope`'s subtree may redeem, with those
/// kept inside it: a reward kept by a unit above the scope is open to
/// every volunteer below that unit, so an admin of a district sees the
/// city's rewards beside his own units'.
pub fn rewards_within_reach<R: Read + ?Sized>(
    r: &R,
    scope: &UnitId,
) -> Result<Vec<RewardRow>, StoreError> {
    let above = ancestry(r, scope)?;
    let mut out = Vec::new();
    for row in rewards(r)? {
        if above.contains(&row.reward.unit) || is_within(r, &row.reward.unit, scope)? {
            out.push(row);
        }
    }
    Ok(out)
}

pub fn activities<R: Read + ?Sized>(r: &R) -> Result<Vec<ActivityRow>, StoreError> {
    table_rows(r, table::ACTIVITY)
}

pub fn wishes<R: Read + ?Sized>(r: &R) -> Result<Vec<Wish>, StoreError> {
    table_rows(r, table::WISH)
}

pub fn pairings<R: Read + ?Sized>(r: &R) -> Result<Vec<Pairing>, StoreError> {
    table_rows(r, table::PAIRING)
}

pub fn campaigns<R: Read + ?Sized>(r: &R) -> Result<Vec<CampaignRow>, StoreError> {
    table_rows(r, table::CAMPAIGN)
}

/// Units with no parent: the top of each federation in this ledger.
pub fn roots<R: Read + ?Sized>(r: &R) -> Result<Vec<UnitId>, StoreError> {
    Ok(table_rows::<UnitRow, _>(r, table::UNIT)?
        .into_iter()
        .filter(|u| u.unit.parent.is_none())
        .map(|u| u.unit.id)
        .collect())
}

/// The local day of the last event applied, at the ledger's offset.
pub fn last_day<R: Read + ?Sized>(r: &R) -> Result<Option<Day>, StoreError> {
    let meta: Option<Meta> = get(r, &crate::keys::Key::table(table::META))?;
    let offset = config(r)?.map(|c| c.utc_offset);
    Ok(match (meta.and_then(|m| m.recorded_at), offset) {
        (Some(at), Some(offset)) => Some(at.local_day(offset)),
        _ => None,
    })
}

/// The ledger's configuration, once it is open.
pub fn config<R: Read + ?Sized>(r: &R) -> Result<Option<Config>, StoreError> {
    get(r, &crate::keys::Key::table(table::CONFIG))
}

/// Where two sets of read models differ: rows by table, and the first few
/// rows named, so that a rebuild that disagrees says where.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Differences {
    pub by_table: BTreeMap<&'static str, usize>,
    /// The first [`NAMED_DIFFERENCES`] differing rows, in key order.
    pub named: Vec<Difference>,
}

/// How many differing rows [`differences`] names.
pub const NAMED_DIFFERENCES: usize = 8;

/// One row that differs between two sets of read models.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub key: Vec<u8>,
    pub side: Side,
}

/// Where a differing row is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    OnlyFirst,
    OnlySecond,
    /// In both, with different values.
    Both,
}

impl Differences {
    pub fn is_empty(&self) -> bool {
        self.by_table.is_empty()
    }

    fn add(&mut self, key: &[u8], side: Side) {
        let table = key.first().map_or("unknown", |&tag| table_name(tag));
        *self.by_table.entry(table).or_default() += 1;
        if self.named.len() < NAMED_DIFFERENCES {
            self.named.push(Difference {
                key: key.to_vec(),
                side,
            });
        }
    }
}

impl std::fmt::Display for Differences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tables: Vec<String> = self
            .by_table
            .iter()
            .map(|(table, rows)| format!("{table} {rows}"))
            .collect();
        write!(f, "rows by table: {}", tables.join(", "))?;
        for d in &self.named {
            write!(f, "\n  {d}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (tag, rest) = self.key.split_first().unwrap_or((&u8::MAX, &[]));
        // Keys are length-prefixed ids and big-endian numbers: ids read as
        // text, the rest as escapes.
        let rest: String = rest
            .iter()
            .flat_map(|&b| std::ascii::escape_default(b))
            .map(char::from)
            .collect();
        let side = match self.side {
            Side::OnlyFirst => "only in the first",
            Side::OnlySecond => "only in the second",
            Side::Both => "values differ",
        };
        write!(f, "{} \"{rest}\": {side}", table_name(*tag))
    }
}

/// Where two sets of read models differ, over every row: the check that a
/// rebuild equals the incrementally built state.
pub fn differences<A: Read + ?Sized, B: Read + ?Sized>(
    a: &A,
    b: &B,
) -> Result<Differences, StoreError> {
    let mut out = Differences::default();
    let mut left = a.range(&[], &[0xFF; 8], false).peekable();
    let mut right = b.range(&[], &[0xFF; 8], false).peekable();
    loop {
        match (left.peek(), right.peek()) {
            (None, None) => break,
            (Some(Err(_)), _) => {
                return Err(left.next().and_then(|e| e.err()).unwrap_or_else(broken))
            }
            (_, Some(Err(_))) => {
                return Err(right.next().and_then(|e| e.err()).unwrap_or_else(broken))
            }
            (Some(Ok((lk, lv))), Some(Ok((rk, rv)))) if lk == rk => {
                if lv != rv {
                    out.add(lk, Side::Both);
                }
                left.next();
                right.next();
            }
            (Some(Ok((lk, _))), Some(Ok((rk, _)))) if lk < rk => {
                out.add(lk, Side::OnlyFirst);
                left.next();
            }
            (_, Some(Ok((rk, _)))) => {
                out.add(rk, Side::OnlySecond);
                right.next();
            }
            (Some(Ok((lk, _))), None) => {
                out.add(lk, Side::OnlyFirst);
                left.next();
            }
        }
    }
    Ok(out)
}

fn broken() -> StoreError {
    StoreError::Corrupt {
        key: String::new(),
        reason: "a read failed".into(),
    }
}

pub fn table_name(tag: u8) -> &'static str {
    match tag {
        table::META => "meta",
        table::CONFIG => "config",
        table::UNIT => "units",
        table::VOLUNTEER => "volunteers",
        table::HISTORY => "histories",
        table::CREDIT => "credits",
        table::SESSION => "sessions",
        table::AWARD => "awards",
        table::REDEMPTION => "redemptions",
        table::ACTIVITY => "activities",
        table::PARTICIPATION => "participations",
        table::REWARD => "rewards",
        table::CAMPAIGN => "campaigns",
        table::WISH => "wishes",
        table::PAIRING => "pairings",
        table::UNIT_TALLY => "unit tallies",
        table::BOARD => "leaderboards",
        table::DAY => "day index",
        table::MEMBER => "rosters",
        table::VOLUNTEER_CREDIT => "credits by volunteer",
        table::VOLUNTEER_ACTIVITY => "activities by volunteer",
        table::REVIEW => "review items",
        table::ATTACHMENT => "report files",
        table::REQUEST => "requests waiting",
        table::LOOKUP => "volunteer lookups",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::Key;
    use crate::store::Memory;

    fn standings(scores: &[u64]) -> Vec<Standing> {
        scores
            .iter()
            .enumerate()
            .map(|(i, score)| Standing {
                subject: format!("v{i}"),
                score: *score,
            })
            .collect()
    }

    fn ranks(places: Vec<Place>) -> Vec<u64> {
        places.into_iter().map(|p| p.rank).collect()
    }

    /// Ties share a place and the next place skips (1, 2, 2, 4), on the
    /// first page and on a later one that starts inside a tie.
    #[test]
    fn ties_share_a_rank() {
        let all = competition_ranks(standings(&[9, 7, 7, 5, 5, 5, 1]), 0, 0);
        assert_eq!(ranks(all), [1, 2, 2, 4, 4, 4, 7]);
        // Places 5 to 7 (0-based 4..): three places score more than 5.
        let page = competition_ranks(standings(&[5, 5, 1]), 4, 3);
        assert_eq!(ranks(page), [4, 4, 7]);
    }

    /// A board of 200 volunteers on five scores, so that ties run across
    /// pages of every size: each page ranks as the whole board does.
    #[test]
    fn pages_that_start_inside_a_tie_share_its_rank() {
        let city = UnitId::new("city").unwrap();
        let board = Board {
            ranked: Ranked::Volunteers,
            metric: Metric::Points,
            scope: &city,
            period: &Period::All,
            category: None,
        };
        let mut store = crate::store::Overlay::new(Memory::default());
        let mut moves = board::Moves::default();
        for n in 0..200u64 {
            moves.record(&board, &format!("v{n:03}"), 0, 1 + n % 5);
        }
        moves.write(&mut store).unwrap();
        let page = |offset, limit| {
            leaderboard(
                &store,
                &BoardQuery {
                    ranked: Ranked::Volunteers,
                    metric: Metric::Points,
                    scope: &city,
                    period: &Period::All,
                    category: None,
                    offset,
                    limit,
                },
            )
            .unwrap()
        };
        let whole = page(0, usize::MAX);
        let ranks: Vec<u64> = whole.iter().map(|p| p.rank).collect();
        let expected: Vec<u64> = (0..200).map(|i| (i / 40) * 40 + 1).collect();
        assert_eq!(ranks, expected);
        assert!(whole
            .windows(2)
            .all(|w| w[0].score > w[1].score || w[0].subject < w[1].subject));
        for size in [1, 7, 40, 64] {
            let paged: Vec<Place> = (0..200)
                .step_by(size)
                .flat_map(|offset| page(offset, size))
                .collect();
            assert_eq!(paged, whole, "pages of {size}");
        }
    }

    fn rows(keys: &[(Key, &[u8])]) -> Memory {
        Memory(
            keys.iter()
                .map(|(k, v)| (k.0.clone(), v.to_vec()))
                .collect(),
        )
    }

    #[test]
    fn differing_rows_are_counted_by_table_and_named() {
        let participation = |v: &str| Key::table(table::PARTICIPATION).str("act-1").str(v);
        let a = rows(&[
            (Key::table(table::META), b"m"),
            (participation("v-1"), b"signed up"),
            (participation("v-2"), b"came"),
            (Key::table(table::SESSION).u64(7), b"s"),
        ]);
        let b = rows(&[
            (Key::table(table::META), b"m"),
            (participation("v-2"), b"came twice"),
            (participation("v-3"), b"signed up"),
        ]);
        let d = differences(&a, &b).unwrap();
        assert_eq!(
            d.by_table,
            BTreeMap::from([("participations", 3), ("sessions", 1)])
        );
        let sides: Vec<_> = d.named.iter().map(|n| n.side).collect();
        assert_eq!(
            sides,
            // Sessions (tag 6) sort before participations (tag 10).
            [
                Side::OnlyFirst,
                Side::OnlyFirst,
                Side::Both,
                Side::OnlySecond
            ]
        );
        let text = d.to_string();
        assert!(
            text.contains(r#"participations "\x05act-1\x03v-2": values differ"#),
            "{text}"
        );
        assert!(differences(&a, &a).unwrap().is_empty());
        assert!(differences(&b, &a).unwrap().named[0].side == Side::OnlySecond);
    }

    #[test]
    fn only_the_first_few_are_named() {
        let many: Vec<_> = (0..20u64)
            .map(|i| (Key::table(table::CREDIT).u64(i), &b"c"[..]))
            .collect();
        let d = differences(&rows(&many), &Memory::default()).unwrap();
        assert_eq!(d.by_table, BTreeMap::from([("credits", 20)]));
        assert_eq!(d.named.len(), NAMED_DIFFERENCES);
    }
}
