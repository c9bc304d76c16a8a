use serde::{Deserialize, Serialize};

use crate::time::{Day, DayRange};
use crate::values::{CampaignId, Digest, ReportId, Text, UnitId};

/// What units report to a campaign's organiser.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// 活动计划表 (notice 002)
    Plan,
    /// 典型案例 with photos (notice 001: by 15 April and 15 July)
    TypicalCase,
    /// 年度总结 (notice 001: by 15 December)
    YearlySummary,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Phase {
    pub name: Text,
    pub days: DayRange,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    pub kind: ReportKind,
    pub due: Day,
}

/// A campaign: the March campaign month, an April–October service season, a
/// year of activities with reporting deadlines.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    pub organiser: UnitId,
    pub name: Text,
    pub phases: Vec<Phase>,
    pub deadlines: Vec<Deadline>,
}

/// A file that belongs to a report. The file itself lives in an object
/// store; the ledger keeps its BLAKE3 hash so anyone can check it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub name: Text,
    pub blake3: Digest,
    pub bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub id: ReportId,
    pub campaign: CampaignId,
    pub unit: UnitId,
    pub deadline: u16,
    pub kind: ReportKind,
    pub title: Text,
    pub attachments: Vec<Attachment>,
    pub filed_on: Day,
    pub late: bool,
}
