//! Publishing activities, sign-ups and insurance.

use super::{Decider, MAX_DAILY_MINUTES};
use crate::command::{CancelActivity, CancelSignUp, PublishActivity, RecordInsurance, SignUp};
use crate::domain::{AutoCheckOut, ProjectStatus};
use crate::event::*;
use crate::rejection::Rejection;
use crate::state::{ActivityState, VolunteerState};

/// An activity (a campaign season of weekend duty, say) lasts at most a year.
const MAX_ACTIVITY_DAYS: i64 = 366;
const MAX_CO_ORGANISERS: usize = 16;

impl Decider<'_> {
    pub(super) fn publish_activity(&self, c: &PublishActivity) -> Result<Vec<Event>, Rejection> {
        if self.state.activities.contains_key(&c.activity) {
            return Err(Rejection::ActivityExists(c.activity.clone()));
        }
        self.unit(&c.organiser)?;
        self.check_co_organisers(c)?;
        if !c.window.is_valid() {
            return Err(Rejection::invalid(
                "window",
                "the end must come after the start",
            ));
        }
        if c.window.minutes() > MAX_ACTIVITY_DAYS * 24 * 60 {
            return Err(Rejection::invalid(
                "window",
                format!("an activity lasts at most {MAX_ACTIVITY_DAYS} days"),
            ));
        }
        if c.capacity == Some(0) {
            return Err(Rejection::invalid("capacity", "at least one place"));
        }
        if !c.points_rule.is_valid() {
            return Err(Rejection::invalid(
                "points_rule",
                "at most 1000 points an hour and a coefficient of at most 10000‰",
            ));
        }
        if let AutoCheckOut::AfterMinutes(m) = c.auto_check_out {
            if m == 0 || u64::from(m) > MAX_DAILY_MINUTES {
                return Err(Rejection::invalid(
                    "auto_check_out",
                    "between 1 and 960 minutes",
                ));
            }
        }
        if let Some(project) = &c.project {
            let p = self
                .state
                .projects
                .get(project)
                .ok_or_else(|| Rejection::UnknownProject(project.clone()))?;
            if p.status != ProjectStatus::Approved {
                return Err(Rejection::ProjectNotApproved(project.clone()));
            }
        }
        if let Some(campaign) = &c.campaign {
            if !self.state.campaigns.contains_key(campaign) {
                return Err(Rejection::UnknownCampaign(campaign.clone()));
            }
        }
        Ok(vec![Event::ActivityPublished(Box::new(
            ActivityPublished {
                activity: c.activity.clone(),
                project: c.project.clone(),
                campaign: c.campaign.clone(),
                organiser: c.organiser.clone(),
                co_organisers: c.co_organisers.clone(),
                category: c.category,
                title: c.title.clone(),
                place: c.place.clone(),
                window: c.window,
                capacity: c.capacity,
                featured: c.featured,
                points_rule: c.points_rule,
                auto_check_out: c.auto_check_out,
                insurance_required: c.insurance_required,
                walk_ins: c.walk_ins,
            },
        ))])
    }

    fn check_co_organisers(&self, c: &PublishActivity) -> Result<(), Rejection> {
        if c.co_organisers.len() > MAX_CO_ORGANISERS {
            return Err(Rejection::invalid(
                "co_organisers",
                format!("at most {MAX_CO_ORGANISERS}"),
            ));
        }
        for (i, unit) in c.co_organisers.iter().enumerate() {
            self.unit(unit)?;
            if unit == &c.organiser || c.co_organisers[..i].contains(unit) {
                return Err(Rejection::invalid(
                    "co_organisers",
                    format!("{unit} is named twice"),
                ));
            }
        }
        Ok(())
    }

    pub(super) fn cancel_activity(&self, c: &CancelActivity) -> Result<Vec<Event>, Rejection> {
        let a = self.live_activity(&c.activity)?;
        if !a.attended.is_empty() {
            return Err(Rejection::invalid(
                "activity",
                "attendance is recorded; reverse credits instead of cancelling",
            ));
        }
        Ok(vec![Event::ActivityCancelled(ActivityCancelled {
            activity: c.activity.clone(),
            reason: c.reason.clone(),
        })])
    }

    /// The checks a sign-up must pass, shared with walk-in check-ins.
    pub(super) fn may_sign_up(
        &self,
        a: &ActivityState,
        v: &VolunteerState,
    ) -> Result<(), Rejection> {
        if a.sign_ups.contains(&v.slot) {
            return Err(Rejection::AlreadySignedUp {
                activity: a.activity.id.clone(),
                volunteer: v.volunteer.id.clone(),
            });
        }
        if let Some(capacity) = a.activity.capacity {
            if a.sign_ups.len() as u64 >= u64::from(capacity) {
                return Err(Rejection::ActivityFull {
                    activity: a.activity.id.clone(),
                    capacity,
                });
            }
        }
        Ok(())
    }

    pub(super) fn sign_up(&self, c: &SignUp) -> Result<Vec<Event>, Rejection> {
        let a = self.live_activity(&c.activity)?;
        let v = self.approved(&c.volunteer)?;
        if self.ctx.now > a.activity.window.end {
            return Err(Rejection::SignUpClosed(c.activity.clone()));
        }
        self.may_sign_up(a, v)?;
        Ok(vec![Event::SignedUp(SignedUp {
            activity: c.activity.clone(),
            volunteer: c.volunteer.clone(),
            walk_in: false,
        })])
    }

    pub(super) fn cancel_sign_up(&self, c: &CancelSignUp) -> Result<Vec<Event>, Rejection> {
        let a = self.activity(&c.activity)?;
        let slot = self.slot(&c.volunteer);
        if !slot.is_some_and(|s| a.sign_ups.contains(&s)) {
            return Err(Rejection::NotSignedUp {
                activity: c.activity.clone(),
                volunteer: c.volunteer.clone(),
            });
        }
        if slot.is_some_and(|s| a.attended.contains(&s)) {
            return Err(Rejection::AlreadyAttended {
                activity: c.activity.clone(),
                volunteer: c.volunteer.clone(),
            });
        }
        Ok(vec![Event::SignUpCancelled(SignUpCancelled {
            activity: c.activity.clone(),
            volunteer: c.volunteer.clone(),
        })])
    }

    pub(super) fn record_insurance(&self, c: &RecordInsurance) -> Result<Vec<Event>, Rejection> {
        self.live_activity(&c.activity)?;
        self.approved(&c.volunteer)?;
        Ok(vec![Event::InsuranceRecorded(InsuranceRecorded {
            activity: c.activity.clone(),
            volunteer: c.volunteer.clone(),
            policy: c.policy.clone(),
        })])
    }
}
