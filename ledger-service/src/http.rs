//! HTTP for admins (axum): the commands of the domain as JSON, behind bearer
//! tokens with roles. Every instance serves it; commands travel over NATS
//! to whichever instance holds the write lease. The OpenAPI document is at
//! `/api/v1/openapi.json`.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use ledger_core::command::RegisterVolunteer;
use ledger_core::decide::MAX_ATTACHMENT_BYTES;
use ledger_core::domain::{Group, IdentityCommitment, IdentityKey, Membership};
use ledger_core::frame::parse_frame;
use ledger_core::rights::Role;
use ledger_core::values::{Digest, SubmissionKey, Text, UnitId, VolunteerId};
use ledger_core::Command;
use projections::query;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::accounts::{Accounts, Principal};
use crate::answer::{Answer, Reply, Submission};
use crate::attachments::{AttachmentError, AttachmentStore, Spooled};
use crate::personal::{PersonalRecord, PersonalStore};
use crate::proofs::ProofError;
use crate::queries::{failed, forbidden, may_read};
use crate::reader::Reader;
use crate::shard::Shard;
use crate::statement;
use crate::store::ChainStore;
use ledger_core::signing::LedgerSigner;
use std::sync::Arc;

#[derive(Clone)]
pub struct Api {
    pub client: async_nats::Client,
    pub shard: Shard,
    pub store: ChainStore,
    pub accounts: Accounts,
    pub personal: PersonalStore,
    pub attachments: AttachmentStore,
    pub reader: Reader,
    /// This instance's read models (balances, rankings, leaderboards).
    pub read_models: crate::read_models::ReadModels,
    /// The ledger's key, to sign statements (the service that holds it).
    pub signer: Option<Arc<LedgerSigner>>,
    /// The key of identity commitments; without it, registration with
    /// personal data is refused.
    pub identity_key: Option<IdentityKey>,
    /// The font statements are printed in as PDF; without it, PDFs are
    /// refused (the JSON and the web page remain).
    pub statement_font: Option<Arc<statement::StatementFont>>,
    /// The console is served over HTTPS (`ledger serve
    /// --console-secure-cookie`): its cookies are marked Secure.
    pub secure_cookies: bool,
    /// Whether this instance writes now (`/readyz` says so).
    pub role: crate::health::Role,
    /// What this instance's writer answered (`/metrics`).
    pub answers: Arc<crate::metrics::AnswerCounts>,
}

/// The registration form: the non-personal part goes on the chain, the
/// personal part to the erasable store.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Registration {
    key: SubmissionKey,
    volunteer: VolunteerId,
    home_unit: UnitId,
    membership: Membership,
    #[serde(default)]
    groups: Vec<Group>,
    #[serde(default)]
    specialties: Vec<Text>,
    personal: PersonalRecord,
}

pub fn router(api: Api) -> Router {
    Router::new()
        .route("/api/v1/commands", post(submit))
        .route("/api/v1/head", get(head))
        .route("/api/v1/ledger-key", get(ledger_key))
        .route("/api/v1/proofs/inclusion", get(prove_inclusion))
        .route("/api/v1/proofs/consistency", get(prove_consistency))
        .route("/api/v1/volunteers", post(register))
        .route("/api/v1/volunteers/{volunteer}/account", get(account))
        .route(
            "/api/v1/volunteers/{volunteer}/statement",
            get(|a, h, v, p| statement(StatementForm::Json, a, h, v, p)),
        )
        .route(
            "/api/v1/volunteers/{volunteer}/statement.html",
            get(|a, h, v, p| statement(StatementForm::Page, a, h, v, p)),
        )
        .route(
            "/api/v1/volunteers/{volunteer}/statement.pdf",
            get(|a, h, v, p| statement(StatementForm::Pdf, a, h, v, p)),
        )
        .route(
            "/api/v1/attachments/{hash}",
            axum::routing::put(upload).get(download),
        )
        .route(
            "/api/v1/volunteers/{volunteer}/personal",
            get(read_personal).delete(erase_personal),
        )
        .route("/api/v1/openapi.json", get(openapi))
        .merge(crate::queries::routes())
        .merge(crate::console::routes())
        .merge(crate::health::routes())
        .merge(crate::metrics::routes())
        .layer(axum::middleware::map_response(guarded))
        .with_state(api)
}

/// Headers every answer carries: pages and answers hold personal data and
/// tokens' views, so no cache keeps them; no other site frames the console
/// (clickjacking) or sees its addresses (a volunteer's link is a secret);
/// a browser takes each answer as the type it says. A handler that sets
/// one of them itself (a file's type, say) keeps its own.
async fn guarded(mut response: Response) -> Response {
    use axum::http::header::{self, HeaderValue};
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body =
        json!({"status": "rejected", "code": code, "message": message.into(), "field": null});
    (status, Json(body)).into_response()
}

/// The caller, or why not (answered as 401).
pub(crate) fn principal(api: &Api, headers: &HeaderMap) -> Result<Principal, &'static str> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or("a bearer token is required")?;
    api.accounts.by_token(token.trim()).ok_or("unknown token")
}

fn unauthorized(why: &str) -> Response {
    error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", why)
}

async fn submit(State(api): State<Api>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let who = match principal(&api, &headers) {
        Ok(who) => who,
        Err(why) => return unauthorized(why),
    };
    // Read as the intake reads a submission, to the same answers.
    let submission = match crate::intake::read_one(&who, &body) {
        Ok(submission) => submission,
        Err(refused) => return answer_response(refused),
    };
    if let Command::FileReport(report) = &submission.command {
        for a in &report.attachments {
            if api.attachments.size(&a.blake3).await != Some(a.bytes) {
                return error(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "ATTACHMENT_MISSING",
                    format!(
                        "{} ({}, {} bytes) is not uploaded; PUT it to /api/v1/attachments/{} first",
                        a.name, a.blake3, a.bytes, a.blake3
                    ),
                );
            }
        }
    }
    answer_response(forward(&api, &submission).await)
}

fn answer_response(reply: impl Into<Reply>) -> Response {
    let reply = reply.into();
    let status = match &reply.answer {
        Answer::Accepted { .. } => StatusCode::OK,
        Answer::Rejected { code, .. } if code == "FORBIDDEN" => StatusCode::FORBIDDEN,
        Answer::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Answer::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
    };
    (status, Json(reply)).into_response()
}

/// Registers a volunteer: the chain gets the pseudonymous id and a keyed
/// commitment to the ID number; the personal fields are stored encrypted,
/// only once the registration is accepted (so a refusal or a crash never
/// leaves personal data behind without a volunteer).
async fn register(State(api): State<Api>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let who = match principal(&api, &headers) {
        Ok(who) => who,
        Err(why) => return unauthorized(why),
    };
    let form: Registration = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::UNPROCESSABLE_ENTITY, "MALFORMED", e.to_string()),
    };
    let Some(identity_key) = &api.identity_key else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "NO_IDENTITY_KEY",
            "this instance has no identity key configured",
        );
    };
    // One spelling of the number, kept and committed to, so that the
    // duplicate check sees the same person however the number was typed.
    let mut form = form;
    form.personal.citizen_id =
        ledger_core::domain::normalised_citizen_id(&form.personal.citizen_id);
    // Its shape, and its check digit: a mistyped number would stand for
    // somebody else, and slip past the duplicate check.
    if let Err(why) = ledger_core::domain::check_resident_id(&form.personal.citizen_id) {
        let body = json!({"status": "rejected", "code": "MALFORMED",
            "message": format!("personal.citizen_id: {why}"),
            "field": "personal.citizen_id"});
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
    }
    let command = Command::RegisterVolunteer(RegisterVolunteer {
        volunteer: form.volunteer.clone(),
        home_unit: form.home_unit,
        membership: form.membership,
        groups: form.groups,
        specialties: form.specialties,
        identity: IdentityCommitment::compute(identity_key, &form.personal.citizen_id),
    });
    let submission = Submission {
        actor: who.actor,
        role: who.role,
        key: Some(form.key),
        command,
    };
    let reply = forward(&api, &submission).await;
    if reply.answer.is_accepted() {
        match personal_goes_with(&api, &form.volunteer, &reply).await {
            Ok(true) => {
                if let Err(e) = api.personal.put(&form.volunteer, &form.personal).await {
                    return error(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "PERSONAL_STORE",
                        format!(
                            "registered, but the personal record was not stored; send again: {e}"
                        ),
                    );
                }
            }
            Ok(false) => {}
            Err(refusal) => return refusal,
        }
    }
    answer_response(reply.answer)
}

/// Whether the personal record is stored with an accepted registration.
/// A registration recorded now: yes. One answered again (its key was sent
/// before) was perhaps another volunteer's: the answer is the first
/// command's, whatever this one names. So its record is stored only when
/// that first registration was of this volunteer and no record was ever
/// stored for them — the retry of a registration whose record failed to
/// store. A key sent again to name someone else is refused, and an erased
/// person is never brought back.
async fn personal_goes_with(
    api: &Api,
    volunteer: &VolunteerId,
    reply: &Reply,
) -> Result<bool, Response> {
    if !reply.replayed {
        return Ok(true);
    }
    let Answer::Accepted {
        first_sequence: Some(registered_at),
        ..
    } = reply.answer
    else {
        return Ok(false);
    };
    let unavailable = |why: String| error(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", why);
    if !api
        .read_models
        .caught_up(registered_at, Duration::from_secs(5))
        .await
    {
        return Err(unavailable(format!(
            "the read models have not reached sequence {registered_at} yet; send again"
        )));
    }
    let first = api
        .read_models
        .live(|tree, _| query::history(tree, volunteer, 0, 1))
        .map_err(unavailable)?
        .map_err(|e| unavailable(e.to_string()))?;
    let same = first
        .first()
        .is_some_and(|e| e.sequence == registered_at && e.kind == "volunteer_registered");
    if !same {
        return Err(error(
            StatusCode::CONFLICT,
            "KEY_REUSED",
            format!(
                "this submission key registered another volunteer (sequence {registered_at}), not {volunteer}; nothing was stored"
            ),
        ));
    }
    match api.personal.ever_stored(volunteer).await {
        Ok(stored) => Ok(!stored),
        Err(e) => Err(unavailable(e.to_string())),
    }
}

/// Whether `who` may download the file with BLAKE3 `hash`: city-wide
/// roles any file; a unit admin a file that a report of a unit he reads
/// names (one uploaded and not yet named by a report, not yet).
fn may_download(api: &Api, who: &Principal, hash: &Digest) -> Result<bool, Refusal> {
    if matches!(who.role, Role::CityAdmin | Role::Auditor) {
        return Ok(true);
    }
    api.read_models
        .live(|tree, _| {
            let units = query::attachment_units(tree, hash).map_err(failed)?;
            for unit in &units {
                if may_read(tree, who, unit)? {
                    return Ok(true);
                }
            }
            Ok(false)
        })
        .map_err(|broken| Refusal(StatusCode::SERVICE_UNAVAILABLE, "CHAIN_BROKEN", broken))?
}

/// Uploads a report's file under its BLAKE3 hash; bytes that hash to
/// anything else are refused.
async fn upload(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(hash): Path<String>,
    body: axum::body::Body,
) -> Response {
    let who = match principal(&api, &headers) {
        Ok(who) => who,
        Err(why) => return unauthorized(why),
    };
    if !matches!(who.role, Role::CityAdmin | Role::UnitAdmin { .. }) {
        return error(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "report files are uploaded by admins",
        );
    }
    let Ok(claimed) = Digest::from_hex(&hash) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "MALFORMED",
            "the path names a BLAKE3 hash in hex",
        );
    };
    // A file declared larger than any report may name is refused before a
    // byte of it is read; one that turns out larger, as soon as it does.
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_ATTACHMENT_BYTES) {
        return upload_refused(AttachmentError::TooLarge {
            limit: MAX_ATTACHMENT_BYTES,
        });
    }
    let file = match Spooled::from_chunks(body.into_data_stream(), MAX_ATTACHMENT_BYTES).await {
        Ok(file) => file,
        Err(e) => return upload_refused(e),
    };
    let bytes = file.bytes;
    match api.attachments.put(claimed, file).await {
        Ok(()) => Json(json!({"blake3": claimed, "bytes": bytes})).into_response(),
        Err(e) => upload_refused(e),
    }
}

fn upload_refused(e: AttachmentError) -> Response {
    let (status, code) = match e {
        AttachmentError::Mismatch { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, "ATTACHMENT_MISMATCH")
        }
        AttachmentError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "ATTACHMENT_TOO_LARGE"),
        AttachmentError::BrokenOff(_) => (StatusCode::BAD_REQUEST, "UPLOAD_BROKEN_OFF"),
        AttachmentError::Spool(_) | AttachmentError::Store(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "ATTACHMENT_STORE")
        }
    };
    error(status, code, e.to_string())
}

async fn download(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(hash): Path<String>,
) -> Response {
    let who = match principal(&api, &headers) {
        Ok(who) => who,
        Err(why) => return unauthorized(why),
    };
    let no_such = || error(StatusCode::NOT_FOUND, "NO_ATTACHMENT", "no such attachment");
    let Ok(hash) = Digest::from_hex(&hash) else {
        return no_such();
    };
    match may_download(&api, &who, &hash) {
        Ok(true) => {}
        // Not told apart from a file that is not there: a hash is on the
        // chain for anyone to see, what it names is not.
        Ok(false) => return no_such(),
        Err(refusal) => return refusal.into_response(),
    }
    match api.attachments.get(&hash).await {
        Ok(Some(file)) => (
            [
                (
                    axum::http::header::CONTENT_TYPE,
                    "application/octet-stream".to_owned(),
                ),
                (axum::http::header::CONTENT_LENGTH, file.bytes.to_string()),
            ],
            axum::body::Body::from_stream(file.into_chunks()),
        )
            .into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "NO_ATTACHMENT", "no such attachment"),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "ATTACHMENT_STORE",
            e.to_string(),
        ),
    }
}

/// The ledger's public key and its latest checkpoint (no token needed:
/// anyone may check a proof).
async fn ledger_key(State(api): State<Api>) -> Response {
    match api
        .reader
        .proofs(|p| (p.key(), p.latest_checkpoint().cloned()))
    {
        Ok((Some(key), checkpoint)) => {
            Json(json!({"public_key": key, "latest_checkpoint": checkpoint})).into_response()
        }
        Ok((None, _)) => error(
            StatusCode::NOT_FOUND,
            "NO_KEY",
            "the ledger has published no key yet",
        ),
        Err(broken) => error(StatusCode::SERVICE_UNAVAILABLE, "CHAIN_BROKEN", broken),
    }
}

#[derive(Deserialize)]
struct InclusionQuery {
    sequence: u64,
    tree_size: Option<u64>,
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    from: u64,
    to: u64,
}

fn proof_response<T: serde::Serialize>(result: Result<Result<T, ProofError>, String>) -> Response {
    match result {
        Ok(Ok(doc)) => Json(doc).into_response(),
        Ok(Err(e)) => error(StatusCode::NOT_FOUND, "NO_PROOF", e.to_string()),
        Err(broken) => error(StatusCode::SERVICE_UNAVAILABLE, "CHAIN_BROKEN", broken),
    }
}

async fn prove_inclusion(
    State(api): State<Api>,
    axum::extract::Query(q): axum::extract::Query<InclusionQuery>,
) -> Response {
    proof_response(api.reader.proofs(|p| p.inclusion(q.sequence, q.tree_size)))
}

async fn prove_consistency(
    State(api): State<Api>,
    axum::extract::Query(q): axum::extract::Query<ConsistencyQuery>,
) -> Response {
    proof_response(api.reader.proofs(|p| p.consistency(q.from, q.to)))
}

#[derive(Deserialize)]
pub(crate) struct Period {
    pub from: ledger_core::time::Day,
    pub to: ledger_core::time::Day,
}

/// A volunteer's signed, verifiable statement for a period (志愿服务记录证明),
/// in any of its forms.
async fn statement(
    form: StatementForm,
    State(api): State<Api>,
    headers: HeaderMap,
    Path(volunteer): Path<String>,
    axum::extract::Query(period): axum::extract::Query<Period>,
) -> Response {
    let made = statement_for(&api, &headers, volunteer, &period).await;
    form.respond(&api, made)
}

/// The forms a statement is served in.
#[derive(Clone, Copy)]
pub(crate) enum StatementForm {
    /// The signed document itself, what `ledger verify-statement` checks.
    Json,
    /// A printable page, in Chinese.
    Page,
    /// A PDF of the page, with the signed JSON attached.
    Pdf,
}

impl StatementForm {
    /// The statement in this form, or the refusal to make it.
    pub(crate) fn respond(
        self,
        api: &Api,
        made: Result<statement::Statement, Refusal>,
    ) -> Response {
        match (made, self) {
            (Err(refusal), _) => refusal.into_response(),
            (Ok(s), StatementForm::Json) => Json(s).into_response(),
            (Ok(s), StatementForm::Page) => {
                axum::response::Html(statement::render_html(&s)).into_response()
            }
            (Ok(s), StatementForm::Pdf) => pdf_response(api, &s),
        }
    }
}

/// A statement printed as PDF, or why not.
fn pdf_response(api: &Api, statement: &statement::Statement) -> Response {
    let Some(font) = &api.statement_font else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "NO_STATEMENT_FONT",
            "this instance has no font for Chinese to print statements with; start it with --statement-font",
        );
    };
    match crate::cpu::heavy(|| statement::render_pdf(statement, font)) {
        Ok(pdf) => (
            [
                (
                    axum::http::header::CONTENT_TYPE,
                    "application/pdf".to_owned(),
                ),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    format!(
                        "inline; filename=\"statement-{}.pdf\"",
                        statement.body.volunteer
                    ),
                ),
            ],
            pdf,
        )
            .into_response(),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "PDF_FAILED",
            e.to_string(),
        ),
    }
}

async fn statement_for(
    api: &Api,
    headers: &HeaderMap,
    volunteer: String,
    period: &Period,
) -> Result<statement::Statement, Refusal> {
    let who = principal(api, headers)
        .map_err(|why| Refusal(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", why.into()))?;
    build_statement(api, &who, volunteer, period).await
}

/// A volunteer's signed statement, if `who` may read it: admins within
/// their units, auditors, and the volunteer himself.
pub(crate) async fn build_statement(
    api: &Api,
    who: &Principal,
    volunteer: String,
    period: &Period,
) -> Result<statement::Statement, Refusal> {
    let unknown = || {
        Refusal(
            StatusCode::NOT_FOUND,
            "UNKNOWN_VOLUNTEER",
            "no such volunteer".into(),
        )
    };
    let volunteer = VolunteerId::new(volunteer).map_err(|_| unknown())?;
    let signer = api.signer.clone().ok_or_else(|| {
        Refusal(
            StatusCode::SERVICE_UNAVAILABLE,
            "NO_SIGNING_KEY",
            "this instance cannot sign statements".into(),
        )
    })?;
    let broken = |why: String| Refusal(StatusCode::SERVICE_UNAVAILABLE, "CHAIN_BROKEN", why);
    let (visible, number, issuer) = api
        .read_models
        .live(|tree, _| {
            let Some(v) = query::volunteer_card(tree, &volunteer).map_err(failed)? else {
                return Ok(None);
            };
            let visible = match &who.role {
                Role::Volunteer { volunteer: me } => *me == v.volunteer,
                _ => may_read(tree, who, &v.home_unit)?,
            };
            Ok(Some((visible, v.number, issuer_of(tree, &v.home_unit)?)))
        })
        .map_err(broken)??
        .ok_or_else(unknown)?;
    if !visible {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "outside the units this account reads".into(),
        ));
    }
    let inputs = api
        .reader
        .statement_inputs(&volunteer)
        .map_err(|why| Refusal(StatusCode::SERVICE_UNAVAILABLE, "NO_CHECKPOINT", why))?;
    let (ledger, offset) = inputs.ledger.clone();
    let mut events = Vec::new();
    let mut records = Vec::new();
    let mut block_cache: Option<(u64, bytes::Bytes)> = None;
    for (sequence, stream_sequence, proof) in inputs.events {
        if block_cache.as_ref().map(|(s, _)| *s) != Some(stream_sequence) {
            let block = api.store.block(stream_sequence).await.map_err(|e| {
                Refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "UNAVAILABLE",
                    e.to_string(),
                )
            })?;
            block_cache = Some((stream_sequence, block.frames));
        }
        let Some((_, frames)) = &block_cache else {
            continue;
        };
        let mut rest: &[u8] = frames;
        while let Ok((frame, tail)) = parse_frame(rest) {
            if frame.header.sequence == sequence {
                if let Ok(record) = frame.decode() {
                    let day = record.recorded_at.local_day(offset);
                    if period.from <= day && day <= period.to {
                        let frame_hex = hex::encode(&rest[..frame.len()]);
                        events.push(statement::StatementEvent {
                            sequence,
                            frame: frame_hex,
                            proof: proof.clone(),
                        });
                        records.push(record);
                    }
                }
                break;
            }
            rest = tail;
        }
    }
    let totals = statement::totals(&records);
    // Personal certificate fields only for those who may see them.
    let personal = if who.role == Role::CityAdmin {
        api.personal.get(&volunteer).await.ok().flatten()
    } else {
        None
    };
    let issued_at = ledger_core::time::Timestamp::from_chrono(&chrono::Utc::now())
        .unwrap_or(ledger_core::time::Timestamp(0));
    let body = statement::StatementBody {
        format: statement::STATEMENT_FORMAT.into(),
        version: 1,
        ledger: ledger.clone(),
        volunteer: volunteer.clone(),
        from: period.from,
        to: period.to,
        issued_at,
        public_key: inputs.key,
        certificate: statement::Certificate {
            name: personal.as_ref().map(|p| p.name.clone()),
            id_type: personal.as_ref().map(|_| "居民身份证".to_owned()),
            id_number: personal.as_ref().map(|p| p.citizen_id.clone()),
            volunteer_number: number.to_string(),
            hours: format!(
                "{}.{:02}",
                totals.confirmed_minutes / 60,
                totals.confirmed_minutes % 60 * 100 / 60
            ),
            issuing_organisation: issuer.unwrap_or_else(|| ledger.to_string()),
            certificate_number: format!("{}-{}-{}", ledger, volunteer, issued_at.micros()),
            date: issued_at.local_day(offset),
            notes: None,
        },
        checkpoint: inputs.checkpoint,
        events,
        totals,
    };
    Ok(statement::sign(body, &signer))
}

/// Who issues a volunteer's certificate: the federation at the top of his
/// home unit's tree, which keeps the ledger ("whoever records certifies",
/// 2020), by its name.
fn issuer_of(r: &dyn projections::store::Read, home: &UnitId) -> Result<Option<String>, Refusal> {
    let top = query::ancestry(r, home).map_err(failed)?.pop();
    let Some(top) = top else { return Ok(None) };
    Ok(query::unit_row(r, &top)
        .map_err(failed)?
        .map(|u| u.unit.name.as_str().to_owned()))
}

#[derive(Deserialize)]
struct AsOf {
    /// Wait (up to 5 s) until the replica has applied this ledger sequence:
    /// read-your-writes after an accepted command.
    after: Option<u64>,
}

/// A volunteer's account: confirmed hours (system and backfilled apart),
/// pending hours, points earned and redeemed, balance, star level.
async fn account(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(volunteer): Path<String>,
    axum::extract::Query(as_of): axum::extract::Query<AsOf>,
) -> Response {
    let who = match principal(&api, &headers) {
        Ok(who) => who,
        Err(why) => return unauthorized(why),
    };
    if let Some(after) = as_of.after {
        if !api
            .read_models
            .caught_up(after, Duration::from_secs(5))
            .await
        {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "NOT_YET",
                format!("sequence {after} is not applied here yet"),
            );
        }
    }
    let Ok(volunteer) = VolunteerId::new(volunteer) else {
        return error(
            StatusCode::NOT_FOUND,
            "UNKNOWN_VOLUNTEER",
            "no such volunteer",
        );
    };
    let read = api.read_models.live(|tree, head| {
        let Some((v, _)) =
            query::volunteer(tree, &volunteer, &projections::Period::All, None).map_err(failed)?
        else {
            return Ok(None);
        };
        if !may_read(tree, &who, &v.home_unit)? {
            return Err(forbidden());
        }
        Ok(Some(json!({
            "volunteer": v.volunteer,
            "number": v.number,
            "home_unit": v.home_unit,
            "status": v.status,
            "confirmed_system_minutes": v.confirmed_system_minutes,
            "confirmed_backfill_minutes": v.confirmed_backfill_minutes,
            "pending_minutes": v.pending_minutes,
            "points_earned": v.points_earned,
            "points_redeemed": v.points_redeemed,
            "balance": v.balance,
            "star_level": v.star_level,
            "minutes_to_next_star": v.minutes_to_next_star,
            "as_of": {"sequence": head.sequence, "hash": head.hash},
        })))
    });
    match read {
        Err(broken) => error(StatusCode::SERVICE_UNAVAILABLE, "CHAIN_BROKEN", broken),
        Ok(Err(refusal)) => refusal.into_response(),
        Ok(Ok(None)) => error(
            StatusCode::NOT_FOUND,
            "UNKNOWN_VOLUNTEER",
            "no such volunteer",
        ),
        Ok(Ok(Some(body))) => Json(body).into_response(),
    }
}

/// The volunteer whose personal fields a caller asks for, if the caller
/// may handle personal fields at all: the city federation's admins. (Admins
/// of a subtree will, once the read models know each volunteer's unit.)
fn personal_target(
    api: &Api,
    headers: &HeaderMap,
    volunteer: String,
) -> Result<VolunteerId, Refusal> {
    let who = principal(api, headers)
        .map_err(|why| Refusal(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", why.into()))?;
    if who.role != Role::CityAdmin {
        return Err(Refusal(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "personal fields are for the city federation's admins".into(),
        ));
    }
    VolunteerId::new(volunteer).map_err(|_| {
        Refusal(
            StatusCode::NOT_FOUND,
            "UNKNOWN_VOLUNTEER",
            "no such volunteer".into(),
        )
    })
}

/// A request refused before it does anything: status, code, message.
#[derive(Debug)]
pub(crate) struct Refusal(pub StatusCode, pub &'static str, pub String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error(self.0, self.1, self.2)
    }
}

async fn read_personal(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(volunteer): Path<String>,
) -> Response {
    let volunteer = match personal_target(&api, &headers, volunteer) {
        Ok(v) => v,
        Err(refusal) => return refusal.into_response(),
    };
    match api.personal.get(&volunteer).await {
        Ok(Some(record)) => Json(record).into_response(),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            "NO_PERSONAL_RECORD",
            "none stored, or erased",
        ),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "PERSONAL_STORE",
            e.to_string(),
        ),
    }
}

async fn erase_personal(
    State(api): State<Api>,
    headers: HeaderMap,
    Path(volunteer): Path<String>,
) -> Response {
    let volunteer = match personal_target(&api, &headers, volunteer) {
        Ok(v) => v,
        Err(refusal) => return refusal.into_response(),
    };
    match api.personal.erase(&volunteer).await {
        Ok(()) => Json(json!({"erased": volunteer})).into_response(),
        Err(e) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "PERSONAL_STORE",
            e.to_string(),
        ),
    }
}

/// To the instance holding the write lease, over NATS.
pub(crate) async fn forward(api: &Api, submission: &Submission) -> Reply {
    let payload = match serde_json::to_vec(submission) {
        Ok(p) => p,
        Err(e) => return Reply::from(Answer::malformed(e.to_string())),
    };
    let reply = tokio::time::timeout(
        Duration::from_secs(30),
        api.client
            .request(api.shard.writer_subject(), payload.into()),
    )
    .await;
    let unavailable = |message| Reply::from(Answer::Unavailable { message });
    match reply {
        Ok(Ok(message)) => serde_json::from_slice(&message.payload)
            .unwrap_or_else(|e| unavailable(format!("the writer's reply did not read: {e}"))),
        Ok(Err(e)) => unavailable(format!("no writer answered: {e}")),
        Err(_) => unavailable("no writer answered within 30 s; retry with the same key".into()),
    }
}

/// The chain's head as stored: the last frame of the last block.
async fn head(State(api): State<Api>, headers: HeaderMap) -> Response {
    if let Err(why) = principal(&api, &headers) {
        return unauthorized(why);
    }
    let last = match api.store.last_sequence().await {
        Ok(0) => {
            return Json(json!({"sequence": 0, "hash": null, "stream_sequence": 0})).into_response()
        }
        Ok(last) => last,
        Err(e) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                e.to_string(),
            )
        }
    };
    let block = match api.store.block(last).await {
        Ok(b) => b,
        Err(e) => {
            return error(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                e.to_string(),
            )
        }
    };
    let mut rest: &[u8] = &block.frames;
    let mut head = None;
    while let Ok((frame, tail)) = parse_frame(rest) {
        head = Some((frame.header.sequence, frame.stored_hash));
        rest = tail;
    }
    match head {
        Some((sequence, hash)) => {
            Json(json!({"sequence": sequence, "hash": hash, "stream_sequence": last}))
                .into_response()
        }
        None => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "BAD_BLOCK",
            "the last block holds no frame",
        ),
    }
}

async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

/// The OpenAPI 3.1 description of this API. Command bodies are described in
/// full in docs/events.md; here each is an object with a `type`.
pub fn openapi_document() -> Value {
    let mut doc = commands_document();
    if let (Some(paths), Value::Object(reads)) = (
        doc["paths"].as_object_mut(),
        crate::queries::openapi_paths(),
    ) {
        paths.extend(reads);
    }
    doc
}

fn commands_document() -> Value {
    let statement_parameters = json!([
        {"name": "volunteer", "in": "path", "required": true, "schema": {"type": "string"}},
        {"name": "from", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}},
        {"name": "to", "in": "query", "required": true, "schema": {"type": "string", "format": "date"}}
    ]);
    let answer = json!({
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"enum": ["accepted", "rejected", "unavailable"]},
            "first_sequence": {"type": ["integer", "null"]},
            "last_sequence": {"type": ["integer", "null"]},
            "hash": {"type": ["string", "null"], "description": "hex BLAKE3 of the last event's frame"},
            "events": {"type": "integer"},
            "code": {"type": "string", "description": "stable rejection code (docs/events.md)"},
            "message": {"type": "string"},
            "field": {"type": ["string", "null"]},
            "replayed": {"type": "boolean", "description": "present and true when this is the first answer given again to the same key: nothing was recorded now"}
        }
    });
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Union volunteer-service ledger", "version": env!("CARGO_PKG_VERSION")},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Answer": answer,
                "CommandRequest": {
                    "type": "object",
                    "required": ["key", "command"],
                    "additionalProperties": false,
                    "properties": {
                        "key": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,64}$",
                                "description": "idempotency key: a retry with the same key gets the first answer"},
                        "command": {"type": "object", "required": ["type"],
                                    "properties": {"type": {"type": "string"}},
                                    "description": "one command of docs/events.md"}
                    }
                }
            }
        },
        "security": [{"bearer": []}],
        "paths": {
            "/api/v1/commands": {"post": {
                "summary": "Submit one command",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CommandRequest"}}}},
                "responses": {
                    "200": {"description": "accepted", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Answer"}}}},
                    "401": {"description": "no or unknown token"},
                    "403": {"description": "outside the caller's units or role (code FORBIDDEN); nothing recorded"},
                    "422": {"description": "rejected by a rule or malformed; nothing recorded"},
                    "503": {"description": "nothing recorded; retry with the same key"}
                }
            }},
            "/api/v1/volunteers": {"post": {
                "summary": "Register a volunteer: the registration form, personal fields included; only a pseudonymous id and a keyed commitment to the ID number reach the chain",
                "responses": {"200": {"description": "accepted"}, "401": {"description": "no or unknown token"},
                    "403": {"description": "outside the caller's units"}, "409": {"description": "the key registered another volunteer; nothing stored (KEY_REUSED)"},
                    "422": {"description": "rejected or malformed; personal.citizen_id must be a resident ID number whose last character is the check digit of the first 17 (MALFORMED, field personal.citizen_id)"}}
            }},
            "/api/v1/volunteers/{volunteer}/personal": {
                "get": {"summary": "A volunteer's personal fields (city admins)",
                    "parameters": [{"name": "volunteer", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "the record"}, "403": {"description": "not a city admin"}, "404": {"description": "none, or erased"}}},
                "delete": {"summary": "Erase a person: the key of their record is purged (city admins)",
                    "parameters": [{"name": "volunteer", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "erased"}, "403": {"description": "not a city admin"}}}
            },
            "/api/v1/attachments/{hash}": {
                "put": {"summary": "Upload a report's file (up to 1 GiB) under its BLAKE3 hash (hex); other bytes are refused (ATTACHMENT_MISMATCH)",
                    "parameters": [{"name": "hash", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "requestBody": {"content": {"application/octet-stream": {}}},
                    "responses": {"200": {"description": "stored: {blake3, bytes}"}, "400": {"description": "the upload broke off (UPLOAD_BROKEN_OFF)"},
                        "413": {"description": "over 1 GiB (ATTACHMENT_TOO_LARGE), refused as soon as declared or read"},
                        "422": {"description": "the bytes do not hash to the name"}, "503": {"description": "the store does not answer (ATTACHMENT_STORE)"}}},
                "get": {"summary": "Download a file by its hash: city admins and auditors any file, a unit admin a file a report of a unit he reads names",
                    "parameters": [{"name": "hash", "in": "path", "required": true, "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "the bytes"}, "404": {"description": "not stored, or not this caller's to read (NO_ATTACHMENT)"}}}
            },
            "/api/v1/volunteers/{volunteer}/account": {"get": {
                "summary": "A volunteer's account: confirmed hours (system and backfilled), pending hours, points, balance, star level, as of a ledger sequence",
                "parameters": [{"name": "volunteer", "in": "path", "required": true, "schema": {"type": "string"}},
                    {"name": "after", "in": "query", "required": false, "schema": {"type": "integer"},
                     "description": "wait until this ledger sequence is applied (read-your-writes)"}],
                "responses": {"200": {"description": "the account"}, "403": {"description": "outside the caller's units"},
                    "404": {"description": "no such volunteer"}, "503": {"description": "not caught up, or the chain is broken"}}
            }},
            "/api/v1/volunteers/{volunteer}/statement": {"get": {
                "summary": "A volunteer's signed statement for a period (志愿服务记录证明): the events with inclusion proofs against a signed checkpoint; `ledger verify-statement` checks it offline (docs/audit.md)",
                "parameters": statement_parameters,
                "responses": {"200": {"description": "the statement (JSON)"}, "403": {"description": "outside the caller's units"},
                    "404": {"description": "no such volunteer"}, "503": {"description": "no signing key or no checkpoint yet"}}
            }},
            "/api/v1/volunteers/{volunteer}/statement.html": {"get": {
                "summary": "The same statement as a printable page in Chinese",
                "parameters": statement_parameters,
                "responses": {"200": {"description": "text/html"}, "403": {"description": "outside the caller's units"}, "404": {"description": "no such volunteer"}}
            }},
            "/api/v1/volunteers/{volunteer}/statement.pdf": {"get": {
                "summary": "The same statement as an A4 PDF in Chinese, with the signed JSON attached (statement-<volunteer>.json)",
                "parameters": statement_parameters,
                "responses": {"200": {"description": "application/pdf"}, "403": {"description": "outside the caller's units"},
                    "404": {"description": "no such volunteer"}, "503": {"description": "no font for Chinese (code NO_STATEMENT_FONT), no signing key or no checkpoint"}}
            }},
            "/api/v1/ledger-key": {"get": {"summary": "The ledger's ed25519 public key and latest signed checkpoint", "security": [],
                "responses": {"200": {"description": "key and checkpoint"}, "404": {"description": "no key yet"}}}},
            "/api/v1/proofs/inclusion": {"get": {"summary": "Inclusion proof of event `sequence` against a signed checkpoint (the first covering it, or the one over `tree_size` events)", "security": [],
                "parameters": [{"name": "sequence", "in": "query", "required": true, "schema": {"type": "integer"}},
                    {"name": "tree_size", "in": "query", "required": false, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "an InclusionDocument, checkable offline with the public key"}, "404": {"description": "no checkpoint covers it yet"}}}},
            "/api/v1/proofs/consistency": {"get": {"summary": "Consistency proof between the checkpoints over `from` and `to` events", "security": [],
                "parameters": [{"name": "from", "in": "query", "required": true, "schema": {"type": "integer"}},
                    {"name": "to", "in": "query", "required": true, "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "a ConsistencyDocument"}, "404": {"description": "no such checkpoints"}}}},
            "/api/v1/head": {"get": {
                "summary": "The chain's head: last ledger sequence and hash",
                "responses": {"200": {"description": "the head"}, "401": {"description": "no or unknown token"}}
            }},
            "/api/v1/openapi.json": {"get": {"summary": "This document", "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1"}}}},
            "/healthz": {"get": {"summary": "Liveness: the process answers", "security": [],
                "responses": {"200": {"description": "{\"status\": \"alive\"}"}}}},
            "/metrics": {"get": {"summary": "Counters and gauges in Prometheus' text format: submissions by outcome, rejections by code, events recorded, the write lease, NATS, how far the read models are behind", "security": [],
                "responses": {"200": {"description": "text/plain; version=0.0.4"}}}},
            "/readyz": {"get": {"summary": "Readiness: NATS connected and the read models following the stream live; also whether this instance writes", "security": [],
                "responses": {
                    "200": {"description": "ready: {\"ready\": true, \"writer\", \"nats\", \"read_models\", \"reasons\": []}"},
                    "503": {"description": "not ready; reasons among STARTING, NATS_DISCONNECTED, CATCHING_UP, CHAIN_BROKEN"}}}}
        }
    })
}
