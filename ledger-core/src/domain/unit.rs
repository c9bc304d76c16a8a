use serde::{Deserialize, Serialize};

use crate::values::{Text, UnitId};

/// Grassroots unions of the notices: enterprise, community, street and
/// township unions, and those of public institutions (schools, hospitals).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grassroots {
    Enterprise,
    Community,
    Street,
    Township,
    Institution,
}

/// Where a unit sits in the federation's tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// 市总工会: the root of a city's tree.
    CityFederation,
    /// A provincial industry union (notice 003) is the root of a tree too.
    ProvincialIndustryUnion,
    /// 区总工会
    DistrictFederation,
    /// 县总工会
    CountyFederation,
    /// 开放先导区 and similar zone federations.
    ZoneFederation,
    /// 产业工会: machinery, seafarers, finance and trade, education…
    IndustryUnion,
    /// 集团公司工会
    GroupUnion,
    /// 基层工会
    Grassroots(Grassroots),
    /// 志愿服务队
    Team,
    /// 志愿服务分队
    SubTeam,
}

impl UnitKind {
    pub fn is_root(self) -> bool {
        matches!(
            self,
            UnitKind::CityFederation | UnitKind::ProvincialIndustryUnion
        )
    }

    pub fn is_team(self) -> bool {
        matches!(self, UnitKind::Team | UnitKind::SubTeam)
    }

    /// District-level unions: the second approval level of a registration and
    /// the holders of quotas in notice 004.
    pub fn is_district_level(self) -> bool {
        matches!(
            self,
            UnitKind::DistrictFederation
                | UnitKind::CountyFederation
                | UnitKind::ZoneFederation
                | UnitKind::IndustryUnion
        )
    }

    /// Whether a unit of this kind may hang under a unit of `parent` kind.
    pub fn may_sit_under(self, parent: UnitKind) -> bool {
        use UnitKind::*;
        match self {
            CityFederation | ProvincialIndustryUnion => false,
            DistrictFederation | CountyFederation | ZoneFederation => parent == CityFederation,
            IndustryUnion => parent.is_root(),
            GroupUnion | Grassroots(_) => !parent.is_team(),
            Team => !parent.is_team(),
            SubTeam => parent.is_team(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub id: UnitId,
    pub name: Text,
    pub kind: UnitKind,
    pub parent: Option<UnitId>,
    /// Volunteers this unit's subtree may register (名额), if it has a quota.
    pub quota: Option<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tree_shape_of_the_notices() {
        use UnitKind::*;
        assert!(DistrictFederation.may_sit_under(CityFederation));
        assert!(!DistrictFederation.may_sit_under(ProvincialIndustryUnion));
        assert!(IndustryUnion.may_sit_under(ProvincialIndustryUnion));
        assert!(Grassroots(super::Grassroots::Community).may_sit_under(DistrictFederation));
        assert!(!Grassroots(super::Grassroots::Community).may_sit_under(Team));
        assert!(Team.may_sit_under(CityFederation));
        assert!(SubTeam.may_sit_under(Team));
        assert!(SubTeam.may_sit_under(SubTeam));
        assert!(!SubTeam.may_sit_under(GroupUnion));
        assert!(!CityFederation.may_sit_under(CityFederation));
    }
}
