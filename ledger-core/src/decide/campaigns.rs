//! Campaigns with phases and reporting deadlines, the reports units file,
//! and checkpoints.

use super::{Decider, MAX_ATTACHMENT_BYTES};
use crate::command::{DeclareCampaign, FileReport, PublishLedgerKey, RecordCheckpoint};
use crate::domain::{Campaign, Report};
use crate::event::*;
use crate::rejection::Rejection;
use crate::signing::{checkpoint_message, rotation_message, verify};

const MAX_PHASES: usize = 24;
const MAX_DEADLINES: usize = 24;
const MAX_ATTACHMENTS: usize = 32;

impl Decider<'_> {
    pub(super) fn declare_campaign(&self, c: &DeclareCampaign) -> Result<Vec<Event>, Rejection> {
        if self.state.campaigns.contains_key(&c.campaign) {
            return Err(Rejection::CampaignExists(c.campaign.clone()));
        }
        self.unit(&c.organiser)?;
        if c.phases.len() > MAX_PHASES || c.deadlines.len() > MAX_DEADLINES {
            return Err(Rejection::invalid(
                "phases",
                format!("at most {MAX_PHASES} phases and {MAX_DEADLINES} deadlines"),
            ));
        }
        if let Some(phase) = c.phases.iter().find(|p| !p.days.is_valid()) {
            return Err(Rejection::invalid(
                "phases",
                format!("phase {} ends before it starts", phase.name),
            ));
        }
        Ok(vec![Event::CampaignDeclared(CampaignDeclared {
            campaign: Campaign {
                id: c.campaign.clone(),
                organiser: c.organiser.clone(),
                name: c.name.clone(),
                phases: c.phases.clone(),
                deadlines: c.deadlines.clone(),
            },
        })])
    }

    pub(super) fn file_report(&self, c: &FileReport) -> Result<Vec<Event>, Rejection> {
        if self.state.reports.contains_key(&c.report) {
            return Err(Rejection::ReportExists(c.report.clone()));
        }
        let campaign = self
            .state
            .campaigns
            .get(&c.campaign)
            .ok_or_else(|| Rejection::UnknownCampaign(c.campaign.clone()))?;
        self.unit(&c.unit)?;
        if !self.state.is_within(&c.unit, &campaign.organiser) {
            return Err(Rejection::invalid(
                "unit",
                format!("{} is not under the campaign's organiser", c.unit),
            ));
        }
        let deadline = campaign
            .deadlines
            .get(usize::from(c.deadline))
            .ok_or_else(|| Rejection::UnknownDeadline {
                campaign: c.campaign.clone(),
                deadline: c.deadline,
            })?;
        if c.attachments.len() > MAX_ATTACHMENTS {
            return Err(Rejection::invalid(
                "attachments",
                format!("at most {MAX_ATTACHMENTS}"),
            ));
        }
        if let Some(a) = c
            .attachments
            .iter()
            .find(|a| a.bytes == 0 || a.bytes > MAX_ATTACHMENT_BYTES)
        {
            return Err(Rejection::invalid(
                "attachments",
                format!("{} must hold between 1 byte and 1 GiB", a.name),
            ));
        }
        let filed_on = self.ctx.now.local_day(self.config.utc_offset);
        Ok(vec![Event::ReportFiled(ReportFiled {
            report: Report {
                id: c.report.clone(),
                campaign: c.campaign.clone(),
                unit: c.unit.clone(),
                deadline: c.deadline,
                kind: deadline.kind,
                title: c.title.clone(),
                attachments: c.attachments.clone(),
                filed_on,
                late: filed_on > deadline.due,
            },
        })])
    }

    /// A checkpoint commits to every event before it, signed by the
    /// ledger's current key. (The root itself is checked by whoever holds
    /// the hashes: the writer that computed it, and every verifier.)
    pub(super) fn record_checkpoint(&self, c: &RecordCheckpoint) -> Result<Vec<Event>, Rejection> {
        let tree_size = c.checkpoint.tree_size;
        let events = self.state.events;
        if tree_size > events {
            return Err(Rejection::CheckpointAhead { tree_size, events });
        }
        if tree_size < events {
            return Err(Rejection::invalid(
                "checkpoint",
                format!("a checkpoint covers every event before it: {events}, not {tree_size}"),
            ));
        }
        let Some(key) = &self.state.ledger_key else {
            return Err(Rejection::invalid(
                "checkpoint",
                "no ledger key is published yet",
            ));
        };
        let signed = c.checkpoint.signature.as_ref().is_some_and(|signature| {
            let message = checkpoint_message(&self.config.ledger, tree_size, &c.checkpoint.root);
            verify(key, &message, signature).is_ok()
        });
        if !signed {
            return Err(Rejection::BadSignature { what: "checkpoint" });
        }
        Ok(vec![Event::CheckpointRecorded(CheckpointRecorded {
            checkpoint: c.checkpoint.clone(),
        })])
    }

    /// The first key stands alone; each later key is endorsed by the current.
    pub(super) fn publish_ledger_key(&self, c: &PublishLedgerKey) -> Result<Vec<Event>, Rejection> {
        match (&self.state.ledger_key, &c.endorsement) {
            (None, None) => {}
            (None, Some(_)) => {
                return Err(Rejection::invalid(
                    "endorsement",
                    "the first key has no key before it to endorse it",
                ))
            }
            (Some(current), endorsement) => {
                let message = rotation_message(&self.config.ledger, &c.public_key);
                let endorsed = endorsement
                    .as_ref()
                    .is_some_and(|sig| verify(current, &message, sig).is_ok());
                if !endorsed {
                    return Err(Rejection::BadSignature {
                        what: "endorsement",
                    });
                }
            }
        }
        Ok(vec![Event::LedgerKeyPublished(LedgerKeyPublished {
            public_key: c.public_key,
            endorsement: c.endorsement,
        })])
    }
}
