//! Two admins to a hand-made entry: one requests it, another approves or
//! declines it. The entry is checked when it is requested, so an admin
//! learns at once what could not be entered, and again when it is
//! approved, against the ledger as it stands then.

use super::Decider;
use crate::command::{ApproveRequest, DeclineRequest, RequestEntry};
use crate::domain::{Approval, ManualEntry, Request};
use crate::event::*;
use crate::rejection::Rejection;
use crate::values::RequestId;

impl Decider<'_> {
    pub(super) fn request_entry(&self, c: &RequestEntry) -> Result<Vec<Event>, Rejection> {
        self.no_reversal_waiting(&c.entry)?;
        // Decided as if approved now, by whoever will approve it; only the
        // outcome counts, not the events.
        self.entry(&c.entry, self.approval_of(&c.reason))?;
        Ok(vec![Event::EntryRequested(Box::new(EntryRequested {
            request: RequestId(self.state.counters.requests + 1),
            entry: c.entry.clone(),
            reason: c.reason.clone(),
            requested_by: self.ctx.actor.clone(),
        }))])
    }

    pub(super) fn approve_request(&self, c: &ApproveRequest) -> Result<Vec<Event>, Rejection> {
        let request = self.pending(c.request)?;
        if request.requested_by == self.ctx.actor {
            return Err(Rejection::SelfApproval { field: "request" });
        }
        let mut events = vec![Event::RequestApproved(RequestApproved {
            request: c.request,
        })];
        events.extend(self.entry(&request.entry, self.approval_of(&request.reason))?);
        Ok(events)
    }

    pub(super) fn decline_request(&self, c: &DeclineRequest) -> Result<Vec<Event>, Rejection> {
        self.pending(c.request)?;
        Ok(vec![Event::RequestDeclined(RequestDeclined {
            request: c.request,
            reason: c.reason.clone(),
        })])
    }

    /// One request at a time to reverse an entry: a second could never be
    /// approved once the first was, and would wait for ever.
    fn no_reversal_waiting(&self, entry: &ManualEntry) -> Result<(), Rejection> {
        let ManualEntry::Reversal { target } = entry else {
            return Ok(());
        };
        let waiting = self
            .state
            .requests
            .values()
            .find(|r| matches!(&r.entry, ManualEntry::Reversal { target: t } if t == target));
        match waiting {
            Some(r) => Err(Rejection::ReversalRequested {
                target: *target,
                request: r.id,
            }),
            None => Ok(()),
        }
    }

    fn pending(&self, id: RequestId) -> Result<&Request, Rejection> {
        match self.state.requests.get(&id) {
            Some(request) => Ok(request),
            None if id.0 >= 1 && id.0 <= self.state.counters.requests => {
                Err(Rejection::RequestDecided(id))
            }
            None => Err(Rejection::UnknownRequest(id)),
        }
    }

    /// The approval of the one acting now, for the reason the request gave.
    fn approval_of(&self, reason: &crate::values::Text) -> Approval {
        Approval {
            approver: self.ctx.actor.clone(),
            reason: reason.clone(),
        }
    }

    fn entry(&self, entry: &ManualEntry, approval: Approval) -> Result<Vec<Event>, Rejection> {
        match entry {
            ManualEntry::Backfill {
                volunteer,
                activity,
                minutes,
            } => self.backfill(volunteer, activity, *minutes, approval),
            ManualEntry::Award { volunteer, points } => self.award(volunteer, *points, approval),
            ManualEntry::Reversal { target } => self.reversal(*target, approval),
        }
    }
}
