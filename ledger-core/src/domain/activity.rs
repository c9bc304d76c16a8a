use serde::{Deserialize, Serialize};

use crate::time::Window;
use crate::values::{ActivityId, CampaignId, ProjectId, Text, UnitId};

/// Service lines named in the notices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// 文明知识宣讲
    CivilityTalk,
    /// 交通文明劝导
    TrafficOrder,
    /// 环境保护
    Environment,
    /// 劳模宣讲、传帮带
    ModelWorkerMentoring,
    /// 窗口服务
    WindowService,
    /// 春送岗位、夏送清凉、秋送助学、冬送温暖
    HardshipCare,
    /// 法律援助 (12351)
    LegalAid,
    /// 心理疏导
    PsychologicalSupport,
    /// 文化下基层
    CultureToGrassroots,
    /// 疫情防控
    EpidemicControl,
    /// 扶贫济困
    PovertyRelief,
    /// 招聘会
    JobFair,
    /// 义诊
    FreeClinic,
    /// 植树
    TreePlanting,
    /// 捐赠
    Donation,
    /// 微心愿
    MicroWish,
    /// 一助一结对
    OneToOne,
    Other,
}

impl Category {
    /// Every category, in the order the notices name them.
    pub const ALL: [Category; 18] = [
        Category::CivilityTalk,
        Category::TrafficOrder,
        Category::Environment,
        Category::ModelWorkerMentoring,
        Category::WindowService,
        Category::HardshipCare,
        Category::LegalAid,
        Category::PsychologicalSupport,
        Category::CultureToGrassroots,
        Category::EpidemicControl,
        Category::PovertyRelief,
        Category::JobFair,
        Category::FreeClinic,
        Category::TreePlanting,
        Category::Donation,
        Category::MicroWish,
        Category::OneToOne,
        Category::Other,
    ];
}

/// How points follow from confirmed minutes. The rule is versioned and copied
/// into every event that uses it, so replay never depends on configuration
/// that changed later.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PointsRule {
    pub version: u32,
    pub points_per_hour: u32,
    /// Category coefficient in thousandths (1000 = ×1.0), as in Suzhou's
    /// DB3205/T 1001-2020.
    pub coefficient_permille: u32,
    /// At most this many points from one credit.
    pub cap_per_credit: Option<u32>,
}

impl PointsRule {
    /// One point per hour, no coefficient, no cap: the common default.
    pub const STANDARD: PointsRule = PointsRule {
        version: 1,
        points_per_hour: 1,
        coefficient_permille: 1000,
        cap_per_credit: None,
    };

    pub fn is_valid(&self) -> bool {
        self.points_per_hour <= 1_000 && self.coefficient_permille <= 10_000
    }

    /// Whole points, rounded down: partial points are never paid.
    pub fn points_for(&self, minutes: u32) -> u64 {
        let raw = u64::from(minutes)
            * u64::from(self.points_per_hour)
            * u64::from(self.coefficient_permille)
            / (60 * 1000);
        match self.cap_per_credit {
            Some(cap) => raw.min(u64::from(cap)),
            None => raw,
        }
    }
}

/// How a forgotten check-out is closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AutoCheckOut {
    /// At the activity's end.
    AtActivityEnd,
    /// This many minutes after check-in, but never after the activity's end.
    AfterMinutes(u32),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub id: ActivityId,
    pub project: Option<ProjectId>,
    pub campaign: Option<CampaignId>,
    pub organiser: UnitId,
    pub co_organisers: Vec<UnitId>,
    pub category: Category,
    pub title: Text,
    pub place: Text,
    pub window: Window,
    pub capacity: Option<u32>,
    pub featured: bool,
    pub points_rule: PointsRule,
    pub auto_check_out: AutoCheckOut,
    /// Check-in is refused until the volunteer's insurance is recorded.
    pub insurance_required: bool,
    /// A check-in without a sign-up signs the volunteer up, capacity allowing.
    pub walk_ins: bool,
    pub cancelled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_round_down_and_respect_the_cap() {
        let rule = PointsRule::STANDARD;
        assert_eq!(rule.points_for(59), 0);
        assert_eq!(rule.points_for(150), 2);
        let weighted = PointsRule {
            version: 2,
            points_per_hour: 10,
            coefficient_permille: 1500,
            cap_per_credit: Some(40),
        };
        assert_eq!(weighted.points_for(60), 15);
        assert_eq!(weighted.points_for(600), 40);
    }
}
