//! The page shell every console page shares: header, navigation, language
//! switch, and the error and sign-in pages. One small stylesheet, no
//! scripts.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use ledger_core::rights::Role;
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::{urlencode, Lang, Session};
use crate::http::Refusal;

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dashboard,
    Leaderboards,
    Units,
    Volunteers,
    Activities,
    Reviews,
    Requests,
    Rewards,
    Audit,
    Forms,
}

impl Nav {
    const ALL: [Nav; 10] = [
        Nav::Dashboard,
        Nav::Leaderboards,
        Nav::Units,
        Nav::Volunteers,
        Nav::Activities,
        Nav::Reviews,
        Nav::Requests,
        Nav::Rewards,
        Nav::Audit,
        Nav::Forms,
    ];

    fn href(self) -> &'static str {
        match self {
            Nav::Dashboard => "/console/dashboard",
            Nav::Leaderboards => "/console/leaderboards/volunteers",
            Nav::Units => "/console/units",
            Nav::Volunteers => "/console/volunteers",
            Nav::Activities => "/console/activities",
            Nav::Reviews => "/console/reviews",
            Nav::Requests => "/console/requests",
            Nav::Rewards => "/console/rewards",
            Nav::Audit => "/console/audit",
            Nav::Forms => "/console/forms",
        }
    }

    fn label(self, lang: Lang) -> &'static str {
        match self {
            Nav::Dashboard => lang.t("概览", "Dashboard"),
            Nav::Leaderboards => lang.t("排行榜", "Leaderboards"),
            Nav::Units => lang.t("单位考核", "Units"),
            Nav::Volunteers => lang.t("志愿者", "Volunteers"),
            Nav::Activities => lang.t("活动", "Activities"),
            Nav::Reviews => lang.t("待复核", "Reviews"),
            Nav::Requests => lang.t("待批准", "Requests"),
            Nav::Rewards => lang.t("奖品目录", "Rewards"),
            Nav::Audit => lang.t("审计", "Audit"),
            Nav::Forms => lang.t("业务办理", "Forms"),
        }
    }
}

fn role_label(lang: Lang, role: &Role) -> String {
    match role {
        Role::CityAdmin => lang.t("市总工会管理员", "City admin").to_owned(),
        Role::UnitAdmin { unit } => format!("{} · {unit}", lang.t("单位管理员", "Unit admin")),
        Role::Auditor => lang.t("审计员", "Auditor").to_owned(),
        Role::System { .. } => lang.t("对接系统", "System").to_owned(),
        Role::Volunteer { volunteer } => format!("{} · {volunteer}", lang.t("志愿者", "Volunteer")),
    }
}

fn head(lang: Lang, title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · " (lang.t("职工志愿服务台账", "Volunteer service ledger")) }
            link rel="stylesheet" href="/console/style.css";
        }
    }
}

fn lang_switch(lang: Lang, here: &str) -> Markup {
    let other = lang.other();
    html! {
        a.lang href={ "/console/lang?to=" (other.code()) "&next=" (urlencode(here)) } {
            (match other { Lang::Zh => "中文", Lang::En => "English" })
        }
    }
}

/// A console page: header, navigation, then `body`.
pub fn page(s: &Session, active: Nav, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(s.lang.html()) {
            (head(s.lang, title))
            body {
                header.top {
                    span.brand { (s.t("职工志愿服务台账", "Volunteer service ledger")) }
                    nav {
                        @for item in Nav::ALL {
                            a href=(item.href()) class=[(item == active).then_some("active")] {
                                (item.label(s.lang))
                            }
                        }
                    }
                    span.who {
                        span.actor { (s.who.actor) } " · " (role_label(s.lang, &s.who.role))
                    }
                    (lang_switch(s.lang, &s.here))
                    form.inline method="post" action="/console/sign-out" {
                        button.link type="submit" { (s.t("退出", "Sign out")) }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

/// Minutes as hours, rounded to one decimal (as the exports round them).
pub fn hours(minutes: u64) -> String {
    let tenths = (minutes * 10 + 30) / 60;
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// A moment as the ledger's local time, to the minute.
pub fn local_time(t: ledger_core::time::Timestamp, offset: ledger_core::time::UtcOffset) -> String {
    t.to_chrono()
        .with_timezone(&offset.to_chrono())
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// A page of its own, without navigation: sign-in and refusals.
fn narrow(lang: Lang, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(lang.html()) {
            (head(lang, title))
            body { main.narrow { (body) } }
        }
    }
}

pub fn error_page(lang: Lang, refusal: &Refusal) -> Response {
    let Refusal(status, code, message) = refusal;
    let why = super::explain::Explained::answer(lang, code, None, message, None);
    explained_page(lang, *status, &why)
}

/// A refusal already explained, on a page of its own.
pub fn explained_page(lang: Lang, status: StatusCode, why: &super::explain::Explained) -> Response {
    let title = match status {
        StatusCode::FORBIDDEN => lang.t("无权查看", "Not yours to see"),
        StatusCode::NOT_FOUND => lang.t("没有找到", "Not found"),
        StatusCode::BAD_REQUEST => lang.t("查询条件有误", "The filter is not understood"),
        StatusCode::SERVICE_UNAVAILABLE => lang.t("暂不可用", "Unavailable"),
        _ => lang.t("出错了", "Something failed"),
    };
    let body = html! {
        h1 { (title) }
        p.error #refusal { (why.markup()) }
        p { a href="/console/dashboard" { (lang.t("返回概览", "Back to the dashboard")) } }
    };
    (status, narrow(lang, title, body)).into_response()
}

pub fn sign_in(
    lang: Lang,
    next: Option<&str>,
    error: Option<&str>,
    status: StatusCode,
) -> Response {
    let here = match next {
        Some(n) => format!("/console/sign-in?next={}", urlencode(n)),
        None => "/console/sign-in".to_owned(),
    };
    let title = lang.t("登录", "Sign in");
    let body = html! {
        p { (lang_switch(lang, &here)) }
        h1 { (lang.t("职工志愿服务台账", "Volunteer service ledger")) }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form method="post" action="/console/sign-in" {
            label for="token" { (lang.t("访问令牌", "Access token")) }
            input #token type="password" name="token" autocomplete="current-password" required;
            @if let Some(n) = next { input type="hidden" name="next" value=(n); }
            button type="submit" { (title) }
        }
        p.hint { (lang.t(
            "令牌由市总工会发放；各单位管理员只能看到本单位及下级单位。",
            "Tokens are issued by the city federation; a unit's admin sees that unit and those under it."
        )) }
    };
    (status, narrow(lang, title, body)).into_response()
}

pub async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        PreEscaped(STYLE).into_string(),
    )
        .into_response()
}

const STYLE: &str = r#"
:root { --ink: #1f2933; --muted: #616e7c; --line: #d9e2ec; --accent: #b42318; --bg: #f7f9fb; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 "PingFang SC", "Noto Sans CJK SC", "Microsoft YaHei", system-ui, sans-serif; color: var(--ink); background: var(--bg); }
header.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; padding: .6rem 1rem; background: #fff; border-bottom: 3px solid var(--accent); }
header.top .brand { font-weight: 700; color: var(--accent); }
header.top nav { display: flex; flex-wrap: wrap; gap: .25rem; flex: 1; }
header.top nav a { padding: .25rem .6rem; border-radius: 4px; text-decoration: none; color: var(--ink); }
header.top nav a.active { background: var(--accent); color: #fff; }
header.top .who { color: var(--muted); font-size: .9em; }
main { padding: 1rem 1.25rem 3rem; max-width: 1200px; }
main.narrow { max-width: 30rem; margin: 3rem auto; background: #fff; padding: 2rem; border: 1px solid var(--line); border-radius: 8px; }
h1 { font-size: 1.4rem; margin: .25rem 0 1rem; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { padding: .35rem .6rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #eef2f6; font-weight: 600; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(11rem, 1fr)); gap: .75rem; margin-bottom: 1rem; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .75rem 1rem; }
.card .label { color: var(--muted); font-size: .85em; }
.card .value { font-size: 1.5rem; font-weight: 700; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; background: #fff; padding: .75rem; border: 1px solid var(--line); border-radius: 8px; margin-bottom: 1rem; }
form.filters label, form.stacked label { display: flex; flex-direction: column; font-size: .85em; color: var(--muted); }
form.stacked { display: grid; gap: .75rem; max-width: 32rem; background: #fff; padding: 1rem; border: 1px solid var(--line); border-radius: 8px; }
input, select, textarea, button { font: inherit; padding: .3rem .5rem; border: 1px solid #bcccdc; border-radius: 4px; }
button { background: var(--accent); color: #fff; border-color: var(--accent); cursor: pointer; }
button.link { background: none; color: var(--muted); border: none; padding: 0; text-decoration: underline; }
form.inline { display: inline; }
form#find { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; margin-bottom: 1rem; }
form#find input { flex: 1 1 14rem; min-width: 0; }
.pager { display: flex; gap: 1rem; margin: .75rem 0; }
.exports { margin: .5rem 0 1rem; display: flex; flex-wrap: wrap; gap: .5rem 1rem; }
.exports a { white-space: nowrap; }
.error { color: var(--accent); font-weight: 600; }
.error small.code { display: block; margin-top: .3em; color: var(--muted, #666); font-weight: 400; font-size: .8em; }
.featured.below, .featured .flag { color: var(--accent); }
.featured .flag { font-size: .8em; }
.ok { color: #05603a; font-weight: 600; }
.pending { color: #b54708; }
.verified { color: #05603a; }
.empty, .hint, .muted { color: var(--muted); }
#requests form.inline { display: inline-flex; gap: .3rem; margin: 0 .3rem .3rem 0; }
.crumbs { color: var(--muted); margin-bottom: .5rem; }
svg.trend { background: #fff; border: 1px solid var(--line); border-radius: 8px; max-width: 100%; height: auto; }
svg.trend rect { fill: var(--accent); }
svg.trend text { font-size: 11px; fill: var(--muted); }
.hint a { overflow-wrap: anywhere; }
@media (max-width: 640px) { main { padding: .75rem; } table { font-size: .9em; display: block; overflow-x: auto; } th, td { padding: .3rem; } }
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_round_to_the_nearest_tenth() {
        assert_eq!(hours(0), "0.0");
        assert_eq!(hours(40), "0.7");
        assert_eq!(hours(52), "0.9");
        assert_eq!(hours(57), "1.0");
        assert_eq!(hours(600), "10.0");
    }
}
