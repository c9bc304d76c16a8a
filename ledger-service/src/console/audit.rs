//! The audit page: where the chain stands, the signed checkpoints, and how
//! far this instance has verified it (every block is verified, links,
//! hashes, checkpoints and seal, before anything of it is shown).

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use maud::html;

use super::layout::{self, Nav};
use super::{empty, render, Session};
use crate::http::{Api, Refusal};

pub fn routes() -> Router<Api> {
    Router::new().route("/console/audit", get(page))
}

/// Checkpoints listed at most.
const CHECKPOINTS: usize = 20;

async fn page(s: Session, State(api): State<Api>) -> Response {
    let page = (|| {
        let verified = api.read_models.head();
        let broken = api.read_models.broken();
        let (checkpoints, key) = api
            .reader
            .proofs(|log| {
                (
                    log.checkpoints()
                        .take(CHECKPOINTS)
                        .cloned()
                        .collect::<Vec<_>>(),
                    log.key(),
                )
            })
            .map_err(|e| {
                Refusal(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "CHAIN_BROKEN",
                    e,
                )
            })?;
        let reader = api.reader.head();
        let body = html! {
            @match &broken {
                Some(why) => p.error #chain-state role="alert" {
                    (s.t("链校验失败，查询已停止：", "The chain is broken; queries stop here: ")) (why)
                },
                None => p.verified #chain-state {
                    "✔ " (s.t("本实例已逐块校验至序号 ", "This instance has verified every block up to sequence "))
                    strong #verified-sequence { (verified.sequence) }
                },
            }
            table.facts {
                tbody {
                    tr { th { (s.t("最新序号", "Head sequence")) } td #head { (reader.sequence) } }
                    tr { th { (s.t("最新哈希", "Head hash")) } td { code { (reader.hash) } } }
                    tr { th { (s.t("台账公钥", "Ledger key")) } td { code { (key.map_or_else(|| "—".to_owned(), |k| k.to_hex())) } } }
                }
            }
            h2 { (s.t("签名检查点", "Signed checkpoints")) }
            @if checkpoints.is_empty() { (empty(&s)) } @else {
                table #checkpoints {
                    thead { tr {
                        th.num { (s.t("覆盖事件数", "Tree size")) }
                        th { (s.t("默克尔根", "Merkle root")) }
                        th { (s.t("签名", "Signed")) }
                    } }
                    tbody {
                        @for c in &checkpoints {
                            tr {
                                td.num { (c.tree_size) }
                                td { code { (c.root) } }
                                td { (if c.signature.is_some() { "✔" } else { "—" }) }
                            }
                        }
                    }
                }
            }
            p.hint { (s.t(
                "审计员无需信任本服务：将上面的台账公钥通过服务之外的渠道（如联合会公告）公布；审计员用 ledger verify --key <公钥> 从数据流独立校验整条链，用 ledger verify-proof 校验包含证明。",
                "Auditors need not trust this service: publish the ledger key above outside it (a federation notice, say); auditors check the whole chain from the stream with ledger verify --key <key>, and an inclusion proof with ledger verify-proof."
            )) }
        };
        Ok(layout::page(&s, Nav::Audit, s.t("审计", "Audit"), body))
    })();
    render(&s, page)
}
