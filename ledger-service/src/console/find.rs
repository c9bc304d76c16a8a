//! Finding a volunteer (查找志愿者): by the id the registering system gave,
//! by unified number (LYG00000042) or, for admins, by citizen ID number,
//! which is committed to with the identity key and looked up as the chain
//! carries it. A volunteer outside the admin's units is not found, as one
//! never registered is not, so that the box tells no admin whether a person
//! is registered in another district.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use ledger_core::domain::{
    check_resident_id, normalised_citizen_id, IdentityCommitment, ResidentIdError,
};
use ledger_core::values::VolunteerId;
use maud::{html, Markup};
use projections::query;
use projections::store::Read;
use serde::Deserialize;

use super::layout::{self, Nav};
use super::{live, render, urlencode, Session};
use crate::http::{Api, Refusal};
use crate::queries::{failed, may_read};

pub fn routes() -> Router<Api> {
    Router::new().route("/console/find", get(find))
}

#[derive(Deserialize)]
struct Asked {
    #[serde(default)]
    q: String,
}

/// The search box, as the roster shows it above its table.
pub fn form(s: &Session, typed: &str) -> Markup {
    let hint = if s.sees_personal() {
        s.t(
            "志愿者编号、统一编号或身份证号",
            "Volunteer id, unified number or citizen ID number",
        )
    } else {
        s.t("志愿者编号或统一编号", "Volunteer id or unified number")
    };
    html! {
        form #find method="get" action="/console/find" role="search" {
            label for="find-q" { (s.t("查找志愿者", "Find a volunteer")) }
            input #find-q type="search" name="q" value=(typed) placeholder=(hint) autocomplete="off";
            button type="submit" { (s.t("查找", "Find")) }
        }
    }
}

/// Why nothing was found, in the admin's language.
enum NotFound {
    Nobody,
    /// Typed as a citizen ID number, but not one.
    Mistyped(ResidentIdError),
}

async fn find(s: Session, State(api): State<Api>, Query(asked): Query<Asked>) -> Response {
    let typed = asked.q.trim();
    if typed.is_empty() {
        return Redirect::to("/console/volunteers").into_response();
    }
    let found = live(&api, |r, _| resolve(r, &s, &api, typed));
    let why = match found {
        Ok(Ok(id)) => {
            return Redirect::to(&format!("/console/volunteers/{}", urlencode(id.as_str())))
                .into_response()
        }
        Ok(Err(why)) => why,
        Err(refusal) => return render(&s, Err(refusal)),
    };
    let message = match why {
        NotFound::Nobody => s
            .t(
                "在您管辖的单位中没有找到这位志愿者。",
                "No volunteer of your units matches.",
            )
            .to_owned(),
        NotFound::Mistyped(ResidentIdError::Shape) => s
            .t(
                "身份证号有误：应为17位数字，再加一位数字或X。",
                "Not a valid citizen ID number: 17 digits, then a digit or X.",
            )
            .to_owned(),
        NotFound::Mistyped(ResidentIdError::CheckDigit { found }) => match s.lang {
            super::Lang::Zh => {
                format!("身份证号有误：校验位 {found} 与前17位不符，可能有字符输错。")
            }
            super::Lang::En => format!(
                "Not a valid citizen ID number: the check digit {found} does not match the first 17 digits; a character is mistyped."
            ),
        },
    };
    let body = html! {
        (form(&s, typed))
        p.empty #not-found role="status" { (message) }
    };
    let page = layout::page(
        &s,
        Nav::Volunteers,
        s.t("查找志愿者", "Find a volunteer"),
        body,
    );
    (axum::http::StatusCode::NOT_FOUND, page).into_response()
}

/// The volunteer `typed` names whom the admin may read.
fn resolve(
    r: &dyn Read,
    s: &Session,
    api: &Api,
    typed: &str,
) -> Result<Result<VolunteerId, NotFound>, Refusal> {
    let spelled = normalised_citizen_id(typed);
    let mut candidates = Vec::new();
    if let Ok(id) = VolunteerId::new(typed) {
        candidates.push(id);
    }
    candidates.extend(query::volunteer_by_number(r, &spelled).map_err(failed)?);
    let mut mistyped = None;
    if looks_like_id_number(&spelled) && s.sees_personal() {
        match (check_resident_id(&spelled), &api.identity_key) {
            (Err(why), _) => mistyped = Some(why),
            (Ok(()), Some(key)) => {
                let identity = IdentityCommitment::compute(key, &spelled);
                candidates.extend(query::volunteer_by_identity(r, &identity).map_err(failed)?);
            }
            (Ok(()), None) => {}
        }
    }
    for id in candidates {
        let Some(card) = query::volunteer_card(r, &id).map_err(failed)? else {
            continue;
        };
        if may_read(r, &s.who, &card.home_unit)? {
            return Ok(Ok(id));
        }
    }
    Ok(Err(mistyped.map_or(NotFound::Nobody, NotFound::Mistyped)))
}

/// Whether a normalised entry has the shape of a citizen ID number (17
/// digits and one more character), so that a mistake in it is worth
/// naming. Bytes, not characters: nothing typed is cut inside a character.
fn looks_like_id_number(spelled: &str) -> bool {
    spelled.len() == 18 && spelled.as_bytes()[..17].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::looks_like_id_number;

    #[test]
    fn only_seventeen_digits_and_one_more_look_like_an_id_number() {
        assert!(looks_like_id_number("32070319800101003X"));
        assert!(looks_like_id_number("320703198001010031"));
        assert!(!looks_like_id_number("LYG00000042"));
        assert!(!looks_like_id_number("3207031980010100311"));
        // 15 digits and a character of three bytes: 18 bytes, not cut.
        assert!(!looks_like_id_number("320703198001010张"));
        assert!(!looks_like_id_number("张三李四王五赵六"));
    }
}
