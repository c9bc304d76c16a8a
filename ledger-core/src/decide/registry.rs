//! Opening the ledger, the unit tree with its quotas, and volunteer
//! registration with its three levels of approval.

use super::{Decider, MAX_OBJECTION_WINDOW_DAYS};
use crate::command::{
    ApproveVolunteer, OpenLedger, RegisterUnit, RegisterVolunteer, RejectVolunteer, SetQuota,
};
use crate::domain::{Unit, VolunteerNumber, VolunteerStatus};
use crate::event::*;
use crate::rejection::Rejection;
use crate::values::UnitId;

/// At most this many groups and specialties on one registration.
const MAX_TAGS: usize = 16;

pub(super) fn open_ledger(c: &OpenLedger) -> Result<Vec<Event>, Rejection> {
    if c.objection_window_days > MAX_OBJECTION_WINDOW_DAYS {
        return Err(Rejection::invalid(
            "objection_window_days",
            format!("at most {MAX_OBJECTION_WINDOW_DAYS} days"),
        ));
    }
    if !c.utc_offset_minutes.is_valid() {
        return Err(Rejection::invalid(
            "utc_offset_minutes",
            "must lie between -720 and +840",
        ));
    }
    let prefix_ok = (2..=8).contains(&c.number_prefix.len())
        && c.number_prefix
            .chars()
            .all(|ch| ch.is_ascii_uppercase() || ch.is_ascii_digit());
    if !prefix_ok {
        return Err(Rejection::invalid(
            "number_prefix",
            "2 to 8 capital letters or digits",
        ));
    }
    Ok(vec![Event::LedgerOpened(LedgerOpened {
        ledger: c.ledger.clone(),
        name: c.name.clone(),
        objection_window_days: c.objection_window_days,
        utc_offset_minutes: c.utc_offset_minutes,
        number_prefix: c.number_prefix.clone(),
    })])
}

impl Decider<'_> {
    pub(super) fn register_unit(&self, c: &RegisterUnit) -> Result<Vec<Event>, Rejection> {
        if self.state.units.contains_key(&c.unit) {
            return Err(Rejection::UnitExists(c.unit.clone()));
        }
        match &c.parent {
            None if !c.kind.is_root() => {
                return Err(Rejection::InvalidParent {
                    parent:
                        "nothing (only a city federation or a provincial industry union is a root)"
                            .into(),
                })
            }
            None => {}
            Some(parent_id) => {
                let parent = self.unit(parent_id)?;
                if !c.kind.may_sit_under(parent.unit.kind) {
                    return Err(Rejection::InvalidParent {
                        parent: format!("{parent_id} ({:?})", parent.unit.kind),
                    });
                }
                if let Some(quota) = c.quota {
                    self.fits_parent_quota(parent_id, None, quota)?;
                }
            }
        }
        Ok(vec![Event::UnitRegistered(UnitRegistered {
            unit: Unit {
                id: c.unit.clone(),
                name: c.name.clone(),
                kind: c.kind,
                parent: c.parent.clone(),
                quota: c.quota,
            },
        })])
    }

    /// The quotas allotted to a parent's children may not add up to more
    /// than the parent's own quota (5,800 shared among the districts).
    fn fits_parent_quota(
        &self,
        parent: &UnitId,
        replacing: Option<&UnitId>,
        quota: u32,
    ) -> Result<(), Rejection> {
        let parent = self.unit(parent)?;
        let Some(parent_quota) = parent.unit.quota else {
            return Ok(());
        };
        let siblings: u64 = parent
            .children
            .iter()
            .filter(|id| Some(*id) != replacing)
            .filter_map(|id| self.state.units.get(id)?.unit.quota)
            .map(u64::from)
            .sum();
        if siblings + u64::from(quota) > u64::from(parent_quota) {
            return Err(Rejection::QuotaExceeded {
                unit: parent.unit.id.clone(),
                quota: parent_quota,
            });
        }
        Ok(())
    }

    pub(super) fn set_quota(&self, c: &SetQuota) -> Result<Vec<Event>, Rejection> {
        let unit = self.unit(&c.unit)?;
        if let Some(quota) = c.quota {
            if unit.registered > u64::from(quota) {
                return Err(Rejection::QuotaBelowRegistered {
                    unit: c.unit.clone(),
                    quota,
                    registered: unit.registered,
                });
            }
            let allotted: u64 = unit
                .children
                .iter()
                .filter_map(|id| self.state.units.get(id)?.unit.quota)
                .map(u64::from)
                .sum();
            if allotted > u64::from(quota) {
                return Err(Rejection::QuotaBelowAllotted {
                    unit: c.unit.clone(),
                    quota,
                    allotted,
                });
            }
            if let Some(parent) = &unit.unit.parent {
                self.fits_parent_quota(parent, Some(&c.unit), quota)?;
            }
        }
        Ok(vec![Event::QuotaSet(QuotaSet {
            unit: c.unit.clone(),
            quota: c.quota,
        })])
    }

    pub(super) fn register_volunteer(
        &self,
        c: &RegisterVolunteer,
    ) -> Result<Vec<Event>, Rejection> {
        if self.state.volunteers.contains_key(&c.volunteer) {
            return Err(Rejection::VolunteerExists(c.volunteer.clone()));
        }
        if self.state.volunteers.holding(&c.identity).is_some() {
            return Err(Rejection::DuplicateIdentity);
        }
        self.unit(&c.home_unit)?;
        if c.groups.len() > MAX_TAGS || c.specialties.len() > MAX_TAGS {
            return Err(Rejection::invalid(
                "groups",
                format!("at most {MAX_TAGS} groups and {MAX_TAGS} specialties"),
            ));
        }
        for u in self.state.ancestry(&c.home_unit) {
            if let Some(quota) = u.unit.quota {
                if u.registered >= u64::from(quota) {
                    return Err(Rejection::QuotaExceeded {
                        unit: u.unit.id.clone(),
                        quota,
                    });
                }
            }
        }
        let mut groups = c.groups.clone();
        groups.sort();
        groups.dedup();
        Ok(vec![Event::VolunteerRegistered(Box::new(
            VolunteerRegistered {
                volunteer: c.volunteer.clone(),
                number: VolunteerNumber::assign(
                    &self.config.number_prefix,
                    self.state.counters.volunteers + 1,
                ),
                home_unit: c.home_unit.clone(),
                membership: c.membership,
                groups,
                specialties: c.specialties.clone(),
                identity: c.identity,
            },
        ))])
    }

    pub(super) fn approve_volunteer(&self, c: &ApproveVolunteer) -> Result<Vec<Event>, Rejection> {
        self.awaiting(&c.volunteer, c.level)?;
        Ok(vec![Event::VolunteerApproved(VolunteerApproved {
            volunteer: c.volunteer.clone(),
            level: c.level,
        })])
    }

    pub(super) fn reject_volunteer(&self, c: &RejectVolunteer) -> Result<Vec<Event>, Rejection> {
        self.awaiting(&c.volunteer, c.level)?;
        Ok(vec![Event::VolunteerRejected(VolunteerRejected {
            volunteer: c.volunteer.clone(),
            level: c.level,
            reason: c.reason.clone(),
        })])
    }

    /// Opinions come in order: unit, then district or industry, then city.
    fn awaiting(
        &self,
        volunteer: &crate::values::VolunteerId,
        level: crate::domain::ApprovalLevel,
    ) -> Result<(), Rejection> {
        match self.volunteer(volunteer)?.volunteer.status {
            VolunteerStatus::AwaitingApproval(expected) if expected == level => Ok(()),
            VolunteerStatus::AwaitingApproval(expected) => Err(Rejection::ApprovalOutOfOrder {
                volunteer: volunteer.clone(),
                expected,
                given: level,
            }),
            _ => Err(Rejection::RegistrationClosed(volunteer.clone())),
        }
    }
}
