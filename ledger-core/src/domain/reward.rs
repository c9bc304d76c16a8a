use serde::{Deserialize, Serialize};

use crate::values::{RedemptionId, RewardId, Text, UnitId, VolunteerId};

/// An item of the reward catalogue (积分兑换), kept by a unit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reward {
    pub id: RewardId,
    pub unit: UnitId,
    pub name: Text,
    pub cost_points: u64,
    pub stock: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redemption {
    pub id: RedemptionId,
    pub volunteer: VolunteerId,
    pub reward: RewardId,
    pub quantity: u32,
    pub points: u64,
    pub reversed: bool,
}
