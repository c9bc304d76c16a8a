//! The admin web console, served by the service itself: server-rendered
//! pages (no front-end build, no JavaScript needed), Chinese first with an
//! English switch. It reads the same read models as the query API and
//! submits commands through the same writer, with the same rights: an
//! admin sees and acts on his subtree only.
//!
//! Sign-in takes an account's bearer token and keeps it in an HttpOnly,
//! SameSite=Strict cookie, so a page of another site can neither read it
//! nor post a form with it; Secure too when the service is served over
//! HTTPS (`ledger serve --console-secure-cookie`), so that no browser sends
//! it over plain HTTP. `ledger local` serves plain HTTP on loopback, where a
//! Secure cookie would not be kept.

mod activities;
mod audit;
mod boards;
mod dashboard;
mod explain;
mod exports;
mod filter;
mod find;
mod forms;
mod i18n;
mod layout;
mod me;
mod requests;
mod reviews;
mod rewards;
mod units;
mod volunteers;

use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use ledger_core::chain::Head;
use ledger_core::rights::Role;
use maud::html;
use projections::store::Read;
use serde::Deserialize;

use crate::accounts::Principal;
use crate::http::{Api, Refusal};
pub use i18n::Lang;

const TOKEN_COOKIE: &str = "ledger_token";
const LANG_COOKIE: &str = "ledger_lang";

pub fn routes() -> Router<Api> {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::to("/console/dashboard") }),
        )
        .route(
            "/console/",
            get(|| async { Redirect::to("/console/dashboard") }),
        )
        .route("/console/sign-in", get(sign_in_page).post(sign_in))
        .route("/console/sign-out", axum::routing::post(sign_out))
        .route("/console/lang", get(switch_lang))
        .route("/console/style.css", get(layout::stylesheet))
        .route("/console/dashboard", get(dashboard::page))
        .merge(boards::routes())
        .merge(units::routes())
        .merge(volunteers::routes())
        .merge(find::routes())
        .merge(activities::routes())
        .merge(audit::routes())
        .merge(forms::routes())
        .merge(exports::routes())
        .merge(me::routes())
        .merge(reviews::routes())
        .merge(rewards::routes())
        .merge(requests::routes())
}

/// A signed-in admin or auditor, in the language they chose.
pub struct Session {
    pub who: Principal,
    pub lang: Lang,
    /// The path and query of this request, to come back to.
    pub here: String,
}

impl Session {
    pub fn t<'a>(&self, zh: &'a str, en: &'a str) -> &'a str {
        self.lang.t(zh, en)
    }

    /// Names and ID numbers are for admins, within their scope.
    pub fn sees_personal(&self) -> bool {
        matches!(self.who.role, Role::CityAdmin | Role::UnitAdmin { .. })
    }

    pub fn may_write(&self) -> bool {
        matches!(self.who.role, Role::CityAdmin | Role::UnitAdmin { .. })
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn lang_of(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(Lang::parse)
        .unwrap_or(Lang::Zh)
}

impl FromRequestParts<Api> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, api: &Api) -> Result<Session, Response> {
        let here = parts.uri.path_and_query().map_or_else(
            || "/console/dashboard".to_owned(),
            |p| p.as_str().to_owned(),
        );
        let lang = lang_of(&parts.headers);
        let who = cookie(&parts.headers, TOKEN_COOKIE).and_then(|t| api.accounts.by_token(t));
        let Some(who) = who else {
            let next = urlencode(&here);
            return Err(Redirect::to(&format!("/console/sign-in?next={next}")).into_response());
        };
        if matches!(who.role, Role::System { .. } | Role::Volunteer { .. }) {
            let refusal = Refusal(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "publishing systems submit; they do not use the console".into(),
            );
            return Err(layout::error_page(lang, &refusal));
        }
        Ok(Session { who, lang, here })
    }
}

/// Percent-encodes a query value.
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Only paths of the console are followed after sign-in or a language
/// switch, never another site.
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/console/") && !n.starts_with("/console//") => n,
        _ => "/console/dashboard",
    }
}

#[derive(Deserialize)]
struct Next {
    next: Option<String>,
}

async fn sign_in_page(headers: HeaderMap, Query(q): Query<Next>) -> Response {
    layout::sign_in(lang_of(&headers), q.next.as_deref(), None, StatusCode::OK)
}

#[derive(Deserialize)]
struct SignIn {
    token: String,
    next: Option<String>,
}

async fn sign_in(State(api): State<Api>, headers: HeaderMap, Form(f): Form<SignIn>) -> Response {
    let lang = lang_of(&headers);
    let token = f.token.trim();
    let who = api.accounts.by_token(token);
    let usable = who
        .as_ref()
        .is_some_and(|w| !matches!(w.role, Role::System { .. } | Role::Volunteer { .. }));
    // A token goes into a cookie as it is: refuse anything that is not a
    // plain token rather than mangle it.
    let plain = !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic() && b != b';');
    if !usable || !plain {
        let why = lang.t(
            "令牌无效，或该账户不能登录控制台。",
            "Unknown token, or this account cannot use the console.",
        );
        return layout::sign_in(lang, f.next.as_deref(), Some(why), StatusCode::UNAUTHORIZED);
    }
    let mut response = Redirect::to(safe_next(f.next.as_deref())).into_response();
    set_cookie(
        &api,
        &mut response,
        &format!("{TOKEN_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"),
    );
    response
}

async fn sign_out(State(api): State<Api>) -> Response {
    let mut response = Redirect::to("/console/sign-in").into_response();
    set_cookie(
        &api,
        &mut response,
        &format!("{TOKEN_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    response
}

#[derive(Deserialize)]
struct SwitchLang {
    to: String,
    next: Option<String>,
}

async fn switch_lang(State(api): State<Api>, Query(q): Query<SwitchLang>) -> Response {
    let lang = Lang::parse(&q.to).unwrap_or(Lang::Zh);
    let mut response = Redirect::to(safe_next(q.next.as_deref())).into_response();
    set_cookie(
        &api,
        &mut response,
        &format!(
            "{LANG_COOKIE}={}; Path=/; SameSite=Lax; Max-Age=31536000",
            lang.code()
        ),
    );
    response
}

/// Sets a cookie, marked Secure when the service is served over HTTPS.
fn set_cookie(api: &Api, response: &mut Response, value: &str) {
    let value = if api.secure_cookies {
        format!("{value}; Secure")
    } else {
        value.to_owned()
    };
    if let Ok(v) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Runs `f` over the live read models.
pub(crate) fn live<T>(
    api: &Api,
    f: impl FnOnce(&dyn Read, Head) -> Result<T, Refusal>,
) -> Result<T, Refusal> {
    api.read_models
        .live(|tree, head| f(tree, head))
        .map_err(|e| Refusal(StatusCode::SERVICE_UNAVAILABLE, "CHAIN_BROKEN", e))?
}

/// The ledger's offset from UTC, in which its days and times are local.
pub(crate) fn ledger_offset(r: &dyn Read) -> Result<ledger_core::time::UtcOffset, Refusal> {
    Ok(projections::query::config(r)
        .map_err(crate::queries::failed)?
        .map_or(ledger_core::time::UtcOffset(0), |c| c.utc_offset))
}

/// A page or its refusal, rendered in the session's language.
pub(crate) fn render(s: &Session, page: Result<maud::Markup, Refusal>) -> Response {
    match page {
        Ok(markup) => markup.into_response(),
        Err(refusal) => layout::error_page(s.lang, &refusal),
    }
}

/// Shown where a page has nothing to list.
pub fn empty(s: &Session) -> maud::Markup {
    html! { p.empty { (s.t("暂无数据。", "Nothing here yet.")) } }
}
