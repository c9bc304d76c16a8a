//! The filters every list shares (scope, period or range of days, category,
//! metric, page), read from the query string as an HTML form sends it:
//! empty fields mean "not set". The same query string drives the page and
//! its exports, so an export holds exactly what the page shows.

use axum::http::StatusCode;
use ledger_core::domain::Category;
use ledger_core::time::{Day, DayRange};
use ledger_core::values::UnitId;
use maud::{html, Markup};
use projections::board::Ranked;
use projections::query::{self, BoardQuery};
use projections::store::Read;
use projections::{Metric, Period};
use serde::Deserialize;

use super::{urlencode, Session};
use crate::http::Refusal;

/// The most rows one page shows.
pub const PAGE: usize = 50;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct FilterForm {
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub period: String,
    #[serde(default)]
    pub category: String,
    #[serde(default)]
    pub metric: String,
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub offset: String,
    /// Where the previous roster page ended: `unit/volunteer`.
    #[serde(default)]
    pub after: String,
}

/// A filter, read and checked.
#[derive(Clone, Debug)]
pub struct Filter {
    pub scope: Option<UnitId>,
    pub period: Period,
    pub days: Option<DayRange>,
    pub category: Option<Category>,
    pub metric: Metric,
    pub offset: usize,
}

impl Filter {
    /// The leaderboard this filter asks for, within `scope`.
    pub fn board<'a>(
        &'a self,
        ranked: Ranked,
        scope: &'a UnitId,
        offset: usize,
        limit: usize,
    ) -> BoardQuery<'a> {
        BoardQuery {
            ranked,
            metric: self.metric,
            scope,
            period: &self.period,
            category: self.category,
            offset,
            limit,
        }
    }
}

fn bad(message: impl Into<String>) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, "BAD_QUERY", message.into())
}

fn set(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()).then_some(s)
}

impl FilterForm {
    pub fn read(&self) -> Result<Filter, Refusal> {
        let scope = set(&self.scope)
            .map(|s| UnitId::new(s).map_err(|_| bad(format!("no such unit: {s}"))))
            .transpose()?;
        let day = |s: &str| Day::parse(s).map_err(|_| bad(format!("not a date (YYYY-MM-DD): {s}")));
        let days = match (set(&self.from), set(&self.to)) {
            (None, None) => None,
            (Some(from), Some(to)) => {
                let (first, last) = (day(from)?, day(to)?);
                if first > last {
                    return Err(bad("the range starts after it ends"));
                }
                Some(DayRange { first, last })
            }
            _ => return Err(bad("a range of days needs both from and to")),
        };
        let period: Period = set(&self.period)
            .unwrap_or("all")
            .parse()
            .map_err(|e: projections::period::PeriodError| bad(e.to_string()))?;
        if days.is_some() && period != Period::All {
            return Err(bad("give a period or a range of days, not both"));
        }
        let category = set(&self.category)
            .map(|c| {
                serde_json::from_value(serde_json::Value::String(c.to_owned()))
                    .map_err(|_| bad(format!("no such category: {c}")))
            })
            .transpose()?;
        let metric = match set(&self.metric) {
            None | Some("hours") => Metric::Hours,
            Some("points") => Metric::Points,
            Some(m) => return Err(bad(format!("no such metric: {m}"))),
        };
        let offset = set(&self.offset)
            .map(|o| o.parse().map_err(|_| bad(format!("not a row number: {o}"))))
            .transpose()?
            .unwrap_or(0);
        Ok(Filter {
            scope,
            period,
            days,
            category,
            metric,
            offset,
        })
    }

    /// This filter moved to another scope, from its first page.
    pub fn in_scope(&self, scope: &UnitId) -> String {
        let moved = FilterForm {
            scope: scope.to_string(),
            offset: String::new(),
            after: String::new(),
            ..self.clone()
        };
        moved.query(None, None)
    }

    /// This filter as a query string, with `offset` and `after` replaced.
    pub fn query(&self, offset: Option<usize>, after: Option<&str>) -> String {
        let mut pairs: Vec<(&str, String)> = vec![
            ("scope", self.scope.clone()),
            ("period", self.period.clone()),
            ("category", self.category.clone()),
            ("metric", self.metric.clone()),
            ("from", self.from.clone()),
            ("to", self.to.clone()),
        ];
        if let Some(o) = offset {
            pairs.push(("offset", o.to_string()));
        }
        if let Some(a) = after {
            pairs.push(("after", a.to_owned()));
        }
        pairs
            .iter()
            .filter(|(_, v)| !v.trim().is_empty())
            .map(|(k, v)| format!("{k}={}", urlencode(v.trim())))
            .collect::<Vec<_>>()
            .join("&")
    }
}

/// The scope a page reads: the one asked for, which must lie inside the
/// caller's, or the caller's own.
pub fn scope(r: &dyn Read, s: &Session, asked: Option<&UnitId>) -> Result<UnitId, Refusal> {
    crate::queries::scope(r, &s.who, asked)
}

/// The units a filter's scope may be set to: the caller's subtree.
pub fn scope_choices(r: &dyn Read, s: &Session) -> Result<Vec<(UnitId, String)>, Refusal> {
    let top = scope(r, s, None)?;
    let units = query::subtree(r, &top).map_err(crate::queries::failed)?;
    let mut out = Vec::with_capacity(units.len());
    for unit in units {
        let name = query::unit_row(r, &unit)
            .map_err(crate::queries::failed)?
            .map_or_else(|| unit.to_string(), |u| u.unit.name.as_str().to_owned());
        out.push((unit, name));
    }
    Ok(out)
}

/// The campaign phases a period may be set to, as `(value, label)`.
pub fn campaign_windows(r: &dyn Read) -> Result<Vec<(String, String)>, Refusal> {
    let mut out = Vec::new();
    for c in query::campaigns(r).map_err(crate::queries::failed)? {
        for (i, phase) in c.campaign.phases.iter().enumerate() {
            out.push((
                Period::Campaign(c.campaign.id.clone(), i as u16).to_string(),
                format!(
                    "{} · {} ({}–{})",
                    c.campaign.name, phase.name, phase.days.first, phase.days.last
                ),
            ));
        }
    }
    Ok(out)
}

pub struct Controls<'a> {
    pub action: &'a str,
    pub units: &'a [(UnitId, String)],
    pub windows: &'a [(String, String)],
    pub metric: bool,
    pub days: bool,
}

/// The filter form, filled in with what is asked now.
pub fn form(s: &Session, f: &FilterForm, c: &Controls<'_>) -> Markup {
    let lang = s.lang;
    html! {
        form.filters method="get" action=(c.action) {
            label { (lang.t("范围（单位及下级）", "Scope (unit and below)"))
                select name="scope" {
                    @for (id, name) in c.units {
                        option value=(id) selected[f.scope == id.as_str()] { (name) }
                    }
                }
            }
            label { (lang.t("期间", "Period"))
                input name="period" list="periods" value=(f.period) placeholder="2026 · 2026-Q2 · 2026-03";
                datalist #periods {
                    option value="all" { (lang.t("全部", "All time")) }
                    @for (value, label) in c.windows { option value=(value) { (label) } }
                }
            }
            @if c.days {
                label { (lang.t("自", "From")) input type="date" name="from" value=(f.from); }
                label { (lang.t("至", "To")) input type="date" name="to" value=(f.to); }
            }
            label { (lang.t("类别", "Category"))
                select name="category" {
                    option value="" { (lang.t("全部类别", "All categories")) }
                    @for cat in ledger_core::domain::Category::ALL {
                        @let value = category_value(cat);
                        option value=(value) selected[f.category == value] { (lang.category(cat)) }
                    }
                }
            }
            @if c.metric {
                label { (lang.t("指标", "Metric"))
                    select name="metric" {
                        option value="hours" selected[f.metric != "points"] { (lang.metric(Metric::Hours)) }
                        option value="points" selected[f.metric == "points"] { (lang.metric(Metric::Points)) }
                    }
                }
            }
            button type="submit" { (lang.t("查询", "Apply")) }
        }
    }
}

pub fn category_value(c: Category) -> String {
    serde_json::to_value(c)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Previous and next links for an offset-paged list.
pub fn pager(s: &Session, path: &str, f: &FilterForm, offset: usize, shown: usize) -> Markup {
    html! {
        div.pager {
            @if offset > 0 {
                a rel="prev" href={ (path) "?" (f.query(Some(offset.saturating_sub(PAGE)), None)) } {
                    (s.t("上一页", "Previous"))
                }
            }
            @if shown == PAGE {
                a rel="next" href={ (path) "?" (f.query(Some(offset + PAGE), None)) } {
                    (s.t("下一页", "Next"))
                }
            }
        }
    }
}

/// Links to the exports of what the page shows.
pub fn export_links(s: &Session, table: &str, f: &FilterForm) -> Markup {
    let q = f.query(None, None);
    let what = match table {
        "leaderboard" => s.t("导出排行榜：", "Export the leaderboard:"),
        "evaluation" => s.t("导出考核表：", "Export the evaluation table:"),
        "roster" => s.t("导出花名册：", "Export the roster:"),
        _ => s.t("导出：", "Export:"),
    };
    html! {
        div.exports {
            span { (what) }
            a href={ "/console/exports/" (table) ".xlsx?" (q) } download { "Excel (XLSX)" }
            a href={ "/console/exports/" (table) ".csv?" (q) } download { "CSV" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_fields_are_unset_and_bad_ones_are_refused() {
        let f = FilterForm::default().read().unwrap();
        assert_eq!(f.period, Period::All);
        assert_eq!(f.metric, Metric::Hours);
        assert!(f.scope.is_none() && f.days.is_none() && f.category.is_none());

        let form = FilterForm {
            period: "2026-03".into(),
            category: "tree_planting".into(),
            metric: "points".into(),
            offset: "50".into(),
            ..FilterForm::default()
        };
        let f = form.read().unwrap();
        assert_eq!(f.period, Period::Month(2026, 3));
        assert_eq!(f.category, Some(Category::TreePlanting));
        assert_eq!(f.metric, Metric::Points);
        assert_eq!(f.offset, 50);
        assert_eq!(
            form.query(Some(100), None),
            "period=2026-03&category=tree_planting&metric=points&offset=100"
        );

        for bad in [
            FilterForm {
                period: "2026-13".into(),
                ..FilterForm::default()
            },
            FilterForm {
                from: "2026-03-01".into(),
                ..FilterForm::default()
            },
            FilterForm {
                from: "2026-03-09".into(),
                to: "2026-03-01".into(),
                ..FilterForm::default()
            },
            FilterForm {
                category: "gardening".into(),
                ..FilterForm::default()
            },
            FilterForm {
                metric: "stars".into(),
                ..FilterForm::default()
            },
            FilterForm {
                offset: "-1".into(),
                ..FilterForm::default()
            },
            FilterForm {
                period: "2026".into(),
                from: "2026-03-01".into(),
                to: "2026-03-02".into(),
                ..FilterForm::default()
            },
        ] {
            let refusal = bad.read().unwrap_err();
            assert_eq!(refusal.0, StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }
}
