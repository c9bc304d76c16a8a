use serde::{Deserialize, Serialize};

use super::Category;
use crate::values::{ProjectId, Text, UnitId, VolunteerId};

/// Project-based management (项目化管理, notice 004): the city proposes and
/// units undertake, or a unit or volunteer proposes and the city approves.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Proposer {
    City,
    Unit(UnitId),
    Volunteer(VolunteerId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProjectStatus {
    Proposed,
    Approved,
    Rejected,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    pub id: ProjectId,
    pub title: Text,
    pub category: Category,
    pub proposer: Proposer,
    /// The unit that filed the proposal (the city federation for city projects).
    pub filed_by: UnitId,
    pub status: ProjectStatus,
    pub undertakers: Vec<UnitId>,
}
