//! The long-running forms of service: micro-wishes (微心愿) and one-to-one
//! pairings (一助一).

use super::Decider;
use crate::command::{ClaimWish, EndPairing, FulfilWish, PostWish, StartPairing, WithdrawWish};
use crate::domain::{Wish, WishStatus};
use crate::event::*;
use crate::rejection::Rejection;
use crate::values::WishId;

impl Decider<'_> {
    fn wish(&self, id: &WishId) -> Result<&Wish, Rejection> {
        self.state
            .wishes
            .get(id)
            .ok_or_else(|| Rejection::UnknownWish(id.clone()))
    }

    pub(super) fn post_wish(&self, c: &PostWish) -> Result<Vec<Event>, Rejection> {
        if self.state.wishes.contains_key(&c.wish) {
            return Err(Rejection::WishExists(c.wish.clone()));
        }
        self.unit(&c.unit)?;
        Ok(vec![Event::WishPosted(WishPosted {
            wish: c.wish.clone(),
            unit: c.unit.clone(),
            title: c.title.clone(),
            beneficiary_alias: c.beneficiary_alias.clone(),
        })])
    }

    pub(super) fn claim_wish(&self, c: &ClaimWish) -> Result<Vec<Event>, Rejection> {
        let wish = self.wish(&c.wish)?;
        self.approved(&c.volunteer)?;
        if wish.status != WishStatus::Open {
            return Err(Rejection::WishNotOpen(c.wish.clone()));
        }
        Ok(vec![Event::WishClaimed(WishClaimed {
            wish: c.wish.clone(),
            volunteer: c.volunteer.clone(),
        })])
    }

    pub(super) fn fulfil_wish(&self, c: &FulfilWish) -> Result<Vec<Event>, Rejection> {
        let wish = self.wish(&c.wish)?;
        if wish.status != WishStatus::Claimed(c.volunteer.clone()) {
            return Err(Rejection::WishNotClaimedBy {
                wish: c.wish.clone(),
                volunteer: c.volunteer.clone(),
            });
        }
        Ok(vec![Event::WishFulfilled(WishFulfilled {
            wish: c.wish.clone(),
            volunteer: c.volunteer.clone(),
        })])
    }

    pub(super) fn withdraw_wish(&self, c: &WithdrawWish) -> Result<Vec<Event>, Rejection> {
        match self.wish(&c.wish)?.status {
            WishStatus::Open | WishStatus::Claimed(_) => {
                Ok(vec![Event::WishWithdrawn(WishWithdrawn {
                    wish: c.wish.clone(),
                    reason: c.reason.clone(),
                })])
            }
            _ => Err(Rejection::WishNotOpen(c.wish.clone())),
        }
    }

    pub(super) fn start_pairing(&self, c: &StartPairing) -> Result<Vec<Event>, Rejection> {
        if self.state.pairings.contains_key(&c.pairing) {
            return Err(Rejection::PairingExists(c.pairing.clone()));
        }
        let v = self.approved(&c.volunteer)?;
        self.unit(&c.unit)?;
        if let Some(active) = self.state.active_pairing(v) {
            return Err(Rejection::AlreadyPaired {
                volunteer: c.volunteer.clone(),
                pairing: active.clone(),
            });
        }
        Ok(vec![Event::PairingStarted(PairingStarted {
            pairing: c.pairing.clone(),
            volunteer: c.volunteer.clone(),
            unit: c.unit.clone(),
            beneficiary_alias: c.beneficiary_alias.clone(),
            at: self.ctx.now,
        })])
    }

    pub(super) fn end_pairing(&self, c: &EndPairing) -> Result<Vec<Event>, Rejection> {
        let pairing = self
            .state
            .pairings
            .get(&c.pairing)
            .ok_or_else(|| Rejection::UnknownPairing(c.pairing.clone()))?;
        if pairing.ended.is_some() {
            return Err(Rejection::PairingEnded(c.pairing.clone()));
        }
        Ok(vec![Event::PairingEnded(PairingEnded {
            pairing: c.pairing.clone(),
            at: self.ctx.now,
            reason: c.reason.clone(),
        })])
    }
}
