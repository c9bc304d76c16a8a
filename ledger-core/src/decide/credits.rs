//! The life of a credit after it is recorded: objections and correction
//! requests, review, and confirmation once the objection window closes.

use super::Decider;
use crate::command::{
    ConfirmCredit, ConfirmDueCredits, DisputeCredit, ReviewCredit, ReviewOutcome,
};
use crate::domain::{AwardBasis, Credit, CreditStatus, DisputeKind};
use crate::event::*;
use crate::rejection::Rejection;
use crate::values::AwardId;

/// ConfirmDueCredits confirms at most this many credits in one command.
const MAX_CONFIRM_BATCH: u32 = 1_000;

impl Decider<'_> {
    pub(super) fn dispute_credit(&self, c: &DisputeCredit) -> Result<Vec<Event>, Rejection> {
        let credit = self.credit(c.credit)?;
        if credit.status != CreditStatus::Pending {
            return Err(Rejection::CreditNotPending(c.credit));
        }
        match c.kind {
            // Objections are heard while the credit is posted; the volunteer's
            // own correction request is heard until the credit is confirmed.
            DisputeKind::Objection if self.ctx.now >= credit.objection_deadline => {
                return Err(Rejection::ObjectionWindowClosed {
                    credit: c.credit,
                    closed: credit.objection_deadline,
                })
            }
            DisputeKind::Objection => {}
            DisputeKind::CorrectionRequest { proposed_minutes } => {
                self.amendable(credit, proposed_minutes, "kind")?;
            }
        }
        Ok(vec![Event::CreditDisputed(CreditDisputed {
            credit: c.credit,
            kind: c.kind.clone(),
            reason: c.reason.clone(),
        })])
    }

    pub(super) fn review_credit(&self, c: &ReviewCredit) -> Result<Vec<Event>, Rejection> {
        let credit = self.credit(c.credit)?;
        if credit.status != CreditStatus::InReview {
            return Err(Rejection::CreditNotInReview(c.credit));
        }
        let confirmed_minutes = match c.outcome {
            ReviewOutcome::Uphold => Some(credit.minutes),
            ReviewOutcome::Amend { minutes } => {
                self.amendable(credit, minutes, "outcome")?;
                Some(minutes)
            }
            ReviewOutcome::Void => None,
        };
        let mut events = vec![Event::CreditReviewed(CreditReviewed {
            credit: c.credit,
            outcome: c.outcome,
            reason: c.reason.clone(),
        })];
        if let Some(minutes) = confirmed_minutes {
            let mut next_award = self.state.counters.awards;
            events.extend(self.confirmation(credit, minutes, &mut next_award));
        }
        Ok(events)
    }

    /// New minutes for a credit must be positive and fit the activity's
    /// length and the volunteer's day, counting without the old minutes.
    fn amendable(
        &self,
        credit: &Credit,
        minutes: u32,
        field: &'static str,
    ) -> Result<(), Rejection> {
        if minutes == 0 {
            return Err(Rejection::invalid(
                field,
                "to remove all minutes, void the credit",
            ));
        }
        let old = u64::from(credit.minutes);
        let new = u64::from(minutes);
        let a = self.activity(&credit.activity)?;
        let held = self
            .slot(&credit.volunteer)
            .and_then(|s| a.credited.get(&s))
            .copied()
            .unwrap_or(0);
        let max = a.activity.window.minutes() as u64;
        if held - old.min(held) + new > max {
            return Err(Rejection::ExceedsActivityLength {
                activity: credit.activity.clone(),
                minutes: held - old.min(held) + new,
                max,
            });
        }
        let v = self.volunteer(&credit.volunteer)?;
        let on_day = v
            .account
            .daily_minutes
            .get(&credit.day)
            .copied()
            .unwrap_or(0);
        if on_day - old.min(on_day) + new > super::MAX_DAILY_MINUTES {
            return Err(Rejection::DailyLimitExceeded {
                volunteer: credit.volunteer.clone(),
                minutes: on_day - old.min(on_day) + new,
                max: super::MAX_DAILY_MINUTES,
            });
        }
        Ok(())
    }

    pub(super) fn confirm_credit(&self, c: &ConfirmCredit) -> Result<Vec<Event>, Rejection> {
        let credit = self.credit(c.credit)?;
        if credit.status != CreditStatus::Pending {
            return Err(Rejection::CreditNotPending(c.credit));
        }
        if self.ctx.now < credit.objection_deadline {
            return Err(Rejection::ObjectionWindowOpen {
                credit: c.credit,
                until: credit.objection_deadline,
            });
        }
        let mut next_award = self.state.counters.awards;
        Ok(self.confirmation(credit, credit.minutes, &mut next_award))
    }

    pub(super) fn confirm_due_credits(
        &self,
        c: &ConfirmDueCredits,
    ) -> Result<Vec<Event>, Rejection> {
        if c.limit == 0 || c.limit > MAX_CONFIRM_BATCH {
            return Err(Rejection::invalid(
                "limit",
                format!("between 1 and {MAX_CONFIRM_BATCH}"),
            ));
        }
        let mut next_award = self.state.counters.awards;
        let mut events = Vec::new();
        let due = self
            .state
            .pending_by_deadline
            .iter()
            .take_while(|(deadline, _)| *deadline <= self.ctx.now)
            .take(c.limit as usize);
        for (_, id) in due {
            let credit = self.credit(*id)?;
            events.extend(self.confirmation(credit, credit.minutes, &mut next_award));
        }
        Ok(events)
    }

    /// Confirmation and the points it earns, priced by the rule the credit
    /// carries (not whatever rule the activity has today).
    fn confirmation(&self, credit: &Credit, minutes: u32, next_award: &mut u64) -> Vec<Event> {
        let mut events = vec![Event::CreditConfirmed(CreditConfirmed {
            credit: credit.id,
            minutes,
        })];
        let points = credit.points_rule.points_for(minutes);
        if points > 0 {
            *next_award += 1;
            events.push(Event::PointsAwarded(PointsAwarded {
                award: AwardId(*next_award),
                volunteer: credit.volunteer.clone(),
                points,
                basis: AwardBasis::Credit {
                    credit: credit.id,
                    rule: credit.points_rule,
                },
            }));
        }
        events
    }
}
