//! Check-in, check-out, forgotten check-outs and backfilled hours: the
//! rules that turn attendance into pending hour credits.

use super::{Decider, CHECK_IN_OPENS_MINUTES_BEFORE, MAX_DAILY_MINUTES};
use crate::command::{BackfillHours, CheckIn, CheckOut, CloseForgottenCheckOuts};
use crate::domain::{Approval, AutoCheckOut, CreditSource, Session, Source};
use crate::event::*;
use crate::rejection::Rejection;
use crate::state::{ActivityState, VolunteerState};
use crate::time::Timestamp;
use crate::values::{ActivityId, CreditId, SessionId, VolunteerId};

const MAX_SESSION_MINUTES: i64 = MAX_DAILY_MINUTES as i64;

/// How a session ends: reported by a system, or closed by the ledger.
enum Closing {
    Reported(Source),
    Forgotten,
}

impl Decider<'_> {
    pub(super) fn check_in(&self, c: &CheckIn) -> Result<Vec<Event>, Rejection> {
        let a = self.live_activity(&c.activity)?;
        let v = self.approved(&c.volunteer)?;
        self.not_future("at", c.at)?;
        let window = a.activity.window;
        let opens = window.start.plus_minutes(-CHECK_IN_OPENS_MINUTES_BEFORE);
        if c.at < opens || c.at > window.end {
            return Err(Rejection::OutsideWindow {
                activity: c.activity.clone(),
                at: c.at,
            });
        }
        if a.open.contains_key(&v.slot) {
            return Err(Rejection::DuplicateCheckIn {
                activity: c.activity.clone(),
                volunteer: c.volunteer.clone(),
            });
        }
        if a.activity.insurance_required && !a.insured.contains(&v.slot) {
            return Err(Rejection::NotInsured {
                activity: c.activity.clone(),
                volunteer: c.volunteer.clone(),
            });
        }
        // Attending somewhere else at that moment: inside a closed session,
        // or after the start of one still open.
        if v.account.timeline.busy_at(c.at) {
            return Err(Rejection::OverlappingAttendance {
                volunteer: c.volunteer.clone(),
            });
        }
        let mut events = Vec::with_capacity(2);
        if !a.sign_ups.contains(&v.slot) {
            if !a.activity.walk_ins {
                return Err(Rejection::NotSignedUp {
                    activity: c.activity.clone(),
                    volunteer: c.volunteer.clone(),
                });
            }
            self.may_sign_up(a, v)?;
            events.push(Event::SignedUp(SignedUp {
                activity: c.activity.clone(),
                volunteer: c.volunteer.clone(),
                walk_in: true,
            }));
        }
        events.push(Event::CheckedIn(CheckedIn {
            session: SessionId(self.state.counters.sessions + 1),
            activity: c.activity.clone(),
            volunteer: c.volunteer.clone(),
            at: c.at,
            source: Source {
                system: self.ctx.actor.clone(),
                device: c.device.clone(),
                external_id: c.external_id.clone(),
            },
        }));
        Ok(events)
    }

    pub(super) fn check_out(&self, c: &CheckOut) -> Result<Vec<Event>, Rejection> {
        let a = self.activity(&c.activity)?;
        let v = self.volunteer(&c.volunteer)?;
        let session = a
            .open
            .get(&v.slot)
            .and_then(|id| self.state.sessions.get(id))
            .ok_or_else(|| Rejection::CheckOutWithoutCheckIn {
                activity: c.activity.clone(),
                volunteer: c.volunteer.clone(),
            })?;
        self.not_future("at", c.at)?;
        if c.at < session.check_in {
            return Err(Rejection::NegativeDuration {
                check_in: session.check_in,
                check_out: c.at,
            });
        }
        let source = Source {
            system: self.ctx.actor.clone(),
            device: c.device.clone(),
            external_id: c.external_id.clone(),
        };
        let mut next_credit = self.state.counters.credits;
        self.close_session(
            a,
            v,
            session,
            c.at,
            Closing::Reported(source),
            &mut next_credit,
        )
    }

    /// Closes every forgotten session: all of them once the activity has
    /// ended, and any open longer than a day's limit before that.
    pub(super) fn close_forgotten_check_outs(
        &self,
        c: &CloseForgottenCheckOuts,
    ) -> Result<Vec<Event>, Rejection> {
        let a = self.activity(&c.activity)?;
        let window = a.activity.window;
        let ended = self.ctx.now >= window.end;
        let mut events = Vec::new();
        let mut next_credit = self.state.counters.credits;
        for session_id in a.open.values() {
            let Some(session) = self.state.sessions.get(session_id) else {
                continue;
            };
            let overdue = self.ctx.now >= session.check_in.plus_minutes(MAX_SESSION_MINUTES);
            if !(ended || overdue) {
                continue;
            }
            let v = self.volunteer(&session.volunteer)?;
            let rule_end = match a.activity.auto_check_out {
                AutoCheckOut::AtActivityEnd => window.end,
                AutoCheckOut::AfterMinutes(m) => session.check_in.plus_minutes(i64::from(m)),
            };
            let next_elsewhere = v.account.timeline.next_check_in_after(session.check_in);
            let out = [
                Some(rule_end),
                Some(window.end),
                Some(session.check_in.plus_minutes(MAX_SESSION_MINUTES)),
                next_elsewhere,
            ]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(window.end)
            .max(session.check_in);
            events.extend(self.close_session(
                a,
                v,
                session,
                out,
                Closing::Forgotten,
                &mut next_credit,
            )?);
        }
        if events.is_empty() && !ended {
            return Err(Rejection::ActivityNotEnded(c.activity.clone()));
        }
        Ok(events)
    }

    /// The check-out event and, when service time inside the activity's
    /// window remains, a pending credit for it.
    fn close_session(
        &self,
        a: &ActivityState,
        v: &VolunteerState,
        session: &Session,
        out: Timestamp,
        closing: Closing,
        next_credit: &mut u64,
    ) -> Result<Vec<Event>, Rejection> {
        let length = session.check_in.minutes_until(out);
        if length > MAX_SESSION_MINUTES {
            return Err(Rejection::AbsurdDuration {
                minutes: length,
                max: MAX_SESSION_MINUTES,
            });
        }
        if v.account
            .timeline
            .overlaps(session.id, session.check_in, out)
        {
            return Err(Rejection::OverlappingAttendance {
                volunteer: v.volunteer.id.clone(),
            });
        }
        let window = a.activity.window;
        let day = session.check_in.local_day(self.config.utc_offset);
        let mut minutes = window.overlap_minutes(session.check_in, out) as u64;
        let held_on_day = v.account.daily_minutes.get(&day).copied().unwrap_or(0);
        let held_here = a.credited.get(&v.slot).copied().unwrap_or(0);
        let room_here = (window.minutes() as u64).saturating_sub(held_here);
        let (source, auto_closed) = match closing {
            Closing::Reported(source) => {
                self.within_daily_limit(v, day, minutes)?;
                if minutes > room_here {
                    return Err(Rejection::ExceedsActivityLength {
                        activity: a.activity.id.clone(),
                        minutes: held_here + minutes,
                        max: window.minutes() as u64,
                    });
                }
                (Some(source), false)
            }
            // The ledger's own default never breaks a limit: it credits what fits.
            Closing::Forgotten => {
                minutes = minutes
                    .min(MAX_DAILY_MINUTES.saturating_sub(held_on_day))
                    .min(room_here);
                (None, true)
            }
        };
        let mut events = vec![Event::CheckedOut(CheckedOut {
            session: session.id,
            at: out,
            source,
        })];
        if minutes > 0 {
            *next_credit += 1;
            events.push(Event::HoursCredited(HoursCredited {
                credit: CreditId(*next_credit),
                volunteer: v.volunteer.id.clone(),
                activity: a.activity.id.clone(),
                minutes: minutes as u32,
                day,
                source: CreditSource::Attendance {
                    session: session.id,
                    auto_closed,
                },
                objection_deadline: self.objection_deadline(),
                points_rule: a.activity.points_rule,
            }));
        }
        Ok(events)
    }

    pub(super) fn backfill_hours(&self, c: &BackfillHours) -> Result<Vec<Event>, Rejection> {
        self.four_eyes(&c.approver)?;
        self.backfill(
            &c.volunteer,
            &c.activity,
            c.minutes,
            Approval {
                approver: c.approver.clone(),
                reason: c.reason.clone(),
            },
        )
    }

    /// Backfilled hours, approved by `approval`'s approver.
    pub(super) fn backfill(
        &self,
        volunteer: &VolunteerId,
        activity: &ActivityId,
        minutes: u32,
        approval: Approval,
    ) -> Result<Vec<Event>, Rejection> {
        let v = self.approved(volunteer)?;
        let a = self.live_activity(activity)?;
        let window = a.activity.window;
        if minutes == 0 {
            return Err(Rejection::invalid("minutes", "at least one minute"));
        }
        if self.ctx.now < window.start {
            return Err(Rejection::invalid("activity", "has not started yet"));
        }
        let held = a.credited.get(&v.slot).copied().unwrap_or(0);
        let max = window.minutes() as u64;
        if held + u64::from(minutes) > max {
            return Err(Rejection::ExceedsActivityLength {
                activity: activity.clone(),
                minutes: held + u64::from(minutes),
                max,
            });
        }
        let day = window.start.local_day(self.config.utc_offset);
        self.within_daily_limit(v, day, u64::from(minutes))?;
        Ok(vec![Event::HoursCredited(HoursCredited {
            credit: CreditId(self.state.counters.credits + 1),
            volunteer: volunteer.clone(),
            activity: activity.clone(),
            minutes,
            day,
            source: CreditSource::Backfill(Box::new(approval)),
            objection_deadline: self.objection_deadline(),
            points_rule: a.activity.points_rule,
        })])
    }

    fn objection_deadline(&self) -> Timestamp {
        self.ctx
            .now
            .plus_days(i64::from(self.config.objection_window_days))
    }
}
