//! Points given by hand, the reward catalogue, redemption, and reversal of
//! any credit, award or redemption by a compensating event.

use super::Decider;
use crate::command::{AwardPoints, ListReward, Redeem, RestockReward, Reverse};
use crate::domain::{Approval, AwardBasis, CreditStatus, EntryRef, Reward};
use crate::event::*;
use crate::rejection::Rejection;
use crate::state::VolunteerState;
use crate::values::{AwardId, RedemptionId, RewardId, VolunteerId};

/// Bounds that catch a slipped digit, not policy.
const MAX_MANUAL_POINTS: u64 = 100_000;
const MAX_REDEEM_QUANTITY: u32 = 1_000;
const MAX_STOCK: u64 = 1_000_000_000;

impl Decider<'_> {
    pub(super) fn award_points(&self, c: &AwardPoints) -> Result<Vec<Event>, Rejection> {
        self.four_eyes(&c.approver)?;
        self.award(
            &c.volunteer,
            c.points,
            Approval {
                approver: c.approver.clone(),
                reason: c.reason.clone(),
            },
        )
    }

    /// Points given by hand, approved by `approval`'s approver.
    pub(super) fn award(
        &self,
        volunteer: &VolunteerId,
        points: u64,
        approval: Approval,
    ) -> Result<Vec<Event>, Rejection> {
        self.approved(volunteer)?;
        if points == 0 || points > MAX_MANUAL_POINTS {
            return Err(Rejection::invalid(
                "points",
                format!("between 1 and {MAX_MANUAL_POINTS}"),
            ));
        }
        Ok(vec![Event::PointsAwarded(PointsAwarded {
            award: AwardId(self.state.counters.awards + 1),
            volunteer: volunteer.clone(),
            points,
            basis: AwardBasis::Manual(Box::new(approval)),
        })])
    }

    fn reward(&self, id: &RewardId) -> Result<&Reward, Rejection> {
        self.state
            .rewards
            .get(id)
            .ok_or_else(|| Rejection::UnknownReward(id.clone()))
    }

    pub(super) fn list_reward(&self, c: &ListReward) -> Result<Vec<Event>, Rejection> {
        if self.state.rewards.contains_key(&c.reward) {
            return Err(Rejection::RewardExists(c.reward.clone()));
        }
        self.unit(&c.unit)?;
        if c.cost_points == 0 || c.cost_points > MAX_MANUAL_POINTS {
            return Err(Rejection::invalid(
                "cost_points",
                format!("between 1 and {MAX_MANUAL_POINTS}"),
            ));
        }
        if c.stock > MAX_STOCK {
            return Err(Rejection::invalid("stock", format!("at most {MAX_STOCK}")));
        }
        Ok(vec![Event::RewardListed(RewardListed {
            reward: Reward {
                id: c.reward.clone(),
                unit: c.unit.clone(),
                name: c.name.clone(),
                cost_points: c.cost_points,
                stock: c.stock,
            },
        })])
    }

    pub(super) fn restock_reward(&self, c: &RestockReward) -> Result<Vec<Event>, Rejection> {
        let reward = self.reward(&c.reward)?;
        let restocked = reward.stock.checked_add(c.quantity);
        if c.quantity == 0 || restocked.is_none_or(|stock| stock > MAX_STOCK) {
            return Err(Rejection::invalid(
                "quantity",
                format!("at least 1, and stock at most {MAX_STOCK}"),
            ));
        }
        Ok(vec![Event::RewardRestocked(RewardRestocked {
            reward: c.reward.clone(),
            quantity: c.quantity,
        })])
    }

    pub(super) fn redeem(&self, c: &Redeem) -> Result<Vec<Event>, Rejection> {
        let v = self.approved(&c.volunteer)?;
        let reward = self.reward(&c.reward)?;
        if !self.state.is_within(&v.volunteer.home_unit, &reward.unit) {
            return Err(Rejection::RewardNotForVolunteer {
                reward: c.reward.clone(),
                unit: reward.unit.clone(),
                volunteer: c.volunteer.clone(),
            });
        }
        if c.quantity == 0 || c.quantity > MAX_REDEEM_QUANTITY {
            return Err(Rejection::invalid(
                "quantity",
                format!("between 1 and {MAX_REDEEM_QUANTITY}"),
            ));
        }
        let quantity = u64::from(c.quantity);
        if reward.stock < quantity {
            return Err(Rejection::OutOfStock {
                reward: c.reward.clone(),
                stock: reward.stock,
                requested: quantity,
            });
        }
        // Both factors are bounded above, so the product cannot overflow.
        let points = reward.cost_points * quantity;
        let balance = v.account.balance();
        if balance < points {
            return Err(Rejection::InsufficientBalance {
                volunteer: c.volunteer.clone(),
                balance,
                required: points,
            });
        }
        Ok(vec![Event::RewardRedeemed(RewardRedeemed {
            redemption: RedemptionId(self.state.counters.redemptions + 1),
            volunteer: c.volunteer.clone(),
            reward: c.reward.clone(),
            quantity: c.quantity,
            points,
        })])
    }

    pub(super) fn reverse(&self, c: &Reverse) -> Result<Vec<Event>, Rejection> {
        self.four_eyes(&c.approver)?;
        self.reversal(
            c.target,
            Approval {
                approver: c.approver.clone(),
                reason: c.reason.clone(),
            },
        )
    }

    /// The compensating entries for `target`, approved by `approval`'s
    /// approver: a confirmed credit's points go with it.
    pub(super) fn reversal(
        &self,
        target: EntryRef,
        approval: Approval,
    ) -> Result<Vec<Event>, Rejection> {
        let reversal = |target| {
            Event::EntryReversed(EntryReversed {
                target,
                approver: approval.approver.clone(),
                reason: approval.reason.clone(),
            })
        };
        match target {
            EntryRef::Credit(id) => {
                let credit = self
                    .state
                    .credits
                    .get(&id)
                    .ok_or(Rejection::UnknownEntry(target))?;
                if !credit.status.holds_minutes() {
                    return Err(Rejection::AlreadyReversed(target));
                }
                let mut events = vec![reversal(target)];
                // The points a confirmed credit earned go with it.
                let award = credit
                    .award
                    .and_then(|a| self.state.awards.get(&a))
                    .filter(|a| !a.reversed && credit.status == CreditStatus::Confirmed);
                if let Some(award) = award {
                    self.can_withdraw(target, self.volunteer(&award.volunteer)?, award.points)?;
                    events.push(reversal(EntryRef::Award(award.id)));
                }
                Ok(events)
            }
            EntryRef::Award(id) => {
                let award = self
                    .state
                    .awards
                    .get(&id)
                    .ok_or(Rejection::UnknownEntry(target))?;
                if award.reversed {
                    return Err(Rejection::AlreadyReversed(target));
                }
                self.can_withdraw(target, self.volunteer(&award.volunteer)?, award.points)?;
                Ok(vec![reversal(target)])
            }
            EntryRef::Redemption(id) => {
                let redemption = self
                    .state
                    .redemptions
                    .get(&id)
                    .ok_or(Rejection::UnknownEntry(target))?;
                if redemption.reversed {
                    return Err(Rejection::AlreadyReversed(target));
                }
                Ok(vec![reversal(target)])
            }
        }
    }

    /// Balances never go below zero, not even through a reversal.
    fn can_withdraw(
        &self,
        entry: EntryRef,
        v: &VolunteerState,
        points: u64,
    ) -> Result<(), Rejection> {
        if v.account.balance() < points {
            return Err(Rejection::ReversalWouldOverdraw {
                entry,
                volunteer: v.volunteer.id.clone(),
            });
        }
        Ok(())
    }
}
