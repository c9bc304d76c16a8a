//! Project-based management: proposals, the city's approval, undertaking.

use super::Decider;
use crate::command::{ApproveProject, ProposeProject, RejectProject, UndertakeProject};
use crate::domain::{Project, ProjectStatus, Proposer};
use crate::event::*;
use crate::rejection::Rejection;
use crate::values::ProjectId;

impl Decider<'_> {
    fn project(&self, id: &ProjectId) -> Result<&Project, Rejection> {
        self.state
            .projects
            .get(id)
            .ok_or_else(|| Rejection::UnknownProject(id.clone()))
    }

    pub(super) fn propose_project(&self, c: &ProposeProject) -> Result<Vec<Event>, Rejection> {
        if self.state.projects.contains_key(&c.project) {
            return Err(Rejection::ProjectExists(c.project.clone()));
        }
        let filer = self.unit(&c.filed_by)?;
        match &c.proposer {
            Proposer::City if !filer.unit.kind.is_root() => {
                return Err(Rejection::invalid(
                    "filed_by",
                    "a city project is filed by the root federation",
                ))
            }
            Proposer::City => {}
            Proposer::Unit(unit) => {
                self.unit(unit)?;
            }
            Proposer::Volunteer(volunteer) => {
                self.approved(volunteer)?;
            }
        }
        Ok(vec![Event::ProjectProposed(ProjectProposed {
            project: c.project.clone(),
            title: c.title.clone(),
            category: c.category,
            proposer: c.proposer.clone(),
            filed_by: c.filed_by.clone(),
        })])
    }

    fn undecided(&self, id: &ProjectId) -> Result<(), Rejection> {
        match self.project(id)?.status {
            ProjectStatus::Proposed => Ok(()),
            _ => Err(Rejection::ProjectDecided(id.clone())),
        }
    }

    pub(super) fn approve_project(&self, c: &ApproveProject) -> Result<Vec<Event>, Rejection> {
        self.undecided(&c.project)?;
        Ok(vec![Event::ProjectApproved(ProjectApproved {
            project: c.project.clone(),
        })])
    }

    pub(super) fn reject_project(&self, c: &RejectProject) -> Result<Vec<Event>, Rejection> {
        self.undecided(&c.project)?;
        Ok(vec![Event::ProjectRejected(ProjectRejected {
            project: c.project.clone(),
            reason: c.reason.clone(),
        })])
    }

    pub(super) fn undertake_project(&self, c: &UndertakeProject) -> Result<Vec<Event>, Rejection> {
        let project = self.project(&c.project)?;
        if project.status != ProjectStatus::Approved {
            return Err(Rejection::ProjectNotApproved(c.project.clone()));
        }
        self.unit(&c.unit)?;
        if project.undertakers.contains(&c.unit) {
            return Err(Rejection::AlreadyUndertaken {
                project: c.project.clone(),
                unit: c.unit.clone(),
            });
        }
        Ok(vec![Event::ProjectUndertaken(ProjectUndertaken {
            project: c.project.clone(),
            unit: c.unit.clone(),
        })])
    }
}
