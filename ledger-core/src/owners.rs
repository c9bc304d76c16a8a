//! Whose entry an event is about. Most events name their volunteer; the
//! rest name a session, credit, award, redemption or pairing recorded
//! earlier, whose volunteer has to be looked up. [`volunteer_of`] answers
//! for any event from [`EntryOwners`], which the full [`crate::Ledger`]
//! implements and so does [`Owners`]: only who owns each entry, a few bytes
//! an entry, for a reader that files events under their volunteer without
//! keeping a replica of the whole state.

use std::collections::HashMap;

use crate::domain::EntryRef;
use crate::event::Event;
use crate::values::{AwardId, CreditId, PairingId, RedemptionId, SessionId, VolunteerId};

/// The volunteer each entry recorded so far belongs to.
pub trait EntryOwners {
    fn session_owner(&self, id: SessionId) -> Option<&VolunteerId>;
    fn credit_owner(&self, id: CreditId) -> Option<&VolunteerId>;
    fn award_owner(&self, id: AwardId) -> Option<&VolunteerId>;
    fn redemption_owner(&self, id: RedemptionId) -> Option<&VolunteerId>;
    fn pairing_owner(&self, id: &PairingId) -> Option<&VolunteerId>;
}

/// The volunteer an event is about, if any: whose registration,
/// attendance, credit, points, redemption, wish or pairing it records.
/// Read from the owners as they stood before the event.
pub fn volunteer_of(owners: &(impl EntryOwners + ?Sized), event: &Event) -> Option<VolunteerId> {
    let owner = match event {
        Event::VolunteerRegistered(e) => Some(&e.volunteer),
        Event::VolunteerApproved(e) => Some(&e.volunteer),
        Event::VolunteerRejected(e) => Some(&e.volunteer),
        Event::SignedUp(e) => Some(&e.volunteer),
        Event::SignUpCancelled(e) => Some(&e.volunteer),
        Event::InsuranceRecorded(e) => Some(&e.volunteer),
        Event::CheckedIn(e) => Some(&e.volunteer),
        Event::CheckedOut(e) => owners.session_owner(e.session),
        Event::HoursCredited(e) => Some(&e.volunteer),
        Event::CreditDisputed(e) => owners.credit_owner(e.credit),
        Event::CreditReviewed(e) => owners.credit_owner(e.credit),
        Event::CreditConfirmed(e) => owners.credit_owner(e.credit),
        Event::PointsAwarded(e) => Some(&e.volunteer),
        Event::RewardRedeemed(e) => Some(&e.volunteer),
        Event::EntryReversed(e) => match e.target {
            EntryRef::Credit(c) => owners.credit_owner(c),
            EntryRef::Award(a) => owners.award_owner(a),
            EntryRef::Redemption(r) => owners.redemption_owner(r),
        },
        Event::WishClaimed(e) => Some(&e.volunteer),
        Event::WishFulfilled(e) => Some(&e.volunteer),
        Event::PairingStarted(e) => Some(&e.volunteer),
        Event::PairingEnded(e) => owners.pairing_owner(&e.pairing),
        _ => None,
    };
    owner.cloned()
}

/// Who owns each entry, and nothing else of the state. Each volunteer gets
/// a slot in the order they first appear ([`Owners::slot_of`]), so that an
/// entry's owner costs four bytes and a reader can keep per-volunteer lists
/// in a `Vec` by slot.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Owners {
    slots: HashMap<VolunteerId, u32>,
    volunteers: Vec<VolunteerId>,
    sessions: Assigned,
    credits: Assigned,
    awards: Assigned,
    redemptions: Assigned,
    pairings: HashMap<PairingId, u32>,
}

impl Owners {
    pub fn new() -> Owners {
        Owners::default()
    }

    /// Learns the entries `event` records, after [`volunteer_of`] has read
    /// it: the same entries the [`crate::Ledger`] records, and like it, the
    /// later of two records of one id wins.
    pub fn record(&mut self, event: &Event) {
        match event {
            Event::CheckedIn(e) => {
                let owner = self.slot(&e.volunteer);
                self.sessions.insert(e.session.0, owner);
            }
            Event::HoursCredited(e) => {
                let owner = self.slot(&e.volunteer);
                self.credits.insert(e.credit.0, owner);
            }
            Event::PointsAwarded(e) => {
                let owner = self.slot(&e.volunteer);
                self.awards.insert(e.award.0, owner);
            }
            Event::RewardRedeemed(e) => {
                let owner = self.slot(&e.volunteer);
                self.redemptions.insert(e.redemption.0, owner);
            }
            Event::PairingStarted(e) => {
                let owner = self.slot(&e.volunteer);
                self.pairings.insert(e.pairing.clone(), owner);
            }
            _ => {}
        }
    }

    /// The volunteer's slot, given to them now if they have none.
    pub fn slot(&mut self, volunteer: &VolunteerId) -> u32 {
        if let Some(&n) = self.slots.get(volunteer) {
            return n;
        }
        // Four bytes a slot: four billion volunteers would take this map
        // alone past 200 GB, so a process never gets to where they run out.
        let n = u32::try_from(self.volunteers.len()).unwrap_or(u32::MAX);
        self.slots.insert(volunteer.clone(), n);
        self.volunteers.push(volunteer.clone());
        n
    }

    /// The volunteer's slot, if they have one.
    pub fn slot_of(&self, volunteer: &VolunteerId) -> Option<u32> {
        self.slots.get(volunteer).copied()
    }

    fn volunteer(&self, n: Option<u32>) -> Option<&VolunteerId> {
        self.volunteers.get(usize::try_from(n?).ok()?)
    }
}

impl EntryOwners for Owners {
    fn session_owner(&self, id: SessionId) -> Option<&VolunteerId> {
        self.volunteer(self.sessions.get(id.0))
    }

    fn credit_owner(&self, id: CreditId) -> Option<&VolunteerId> {
        self.volunteer(self.credits.get(id.0))
    }

    fn award_owner(&self, id: AwardId) -> Option<&VolunteerId> {
        self.volunteer(self.awards.get(id.0))
    }

    fn redemption_owner(&self, id: RedemptionId) -> Option<&VolunteerId> {
        self.volunteer(self.redemptions.get(id.0))
    }

    fn pairing_owner(&self, id: &PairingId) -> Option<&VolunteerId> {
        self.volunteer(self.pairings.get(id).copied())
    }
}

/// A map from ledger-assigned ids to owners' slots. The ledger assigns them
/// counting up from 1, so they are kept in a `Vec` by id; an id out
/// of that order (which the rules never assign, but an event may carry)
/// goes to a map beside it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Assigned {
    in_order: Vec<u32>,
    others: HashMap<u64, u32>,
}

impl Assigned {
    fn insert(&mut self, id: u64, owner: u32) {
        let next = self.in_order.len() as u64 + 1;
        if id == next {
            self.in_order.push(owner);
            if !self.others.is_empty() {
                self.others.remove(&id);
            }
        } else if (1..next).contains(&id) {
            self.in_order[(id - 1) as usize] = owner;
        } else {
            self.others.insert(id, owner);
        }
    }

    fn get(&self, id: u64) -> Option<u32> {
        let slot = id.checked_sub(1).and_then(|i| usize::try_from(i).ok());
        match slot.and_then(|i| self.in_order.get(i)) {
            Some(&owner) => Some(owner),
            None => self.others.get(&id).copied(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever order ids come in, the map answers as a plain map
        /// with the later insert winning.
        #[test]
        fn assigned_ids_read_back_as_a_map(
            inserts in proptest::collection::vec((0u64..40, 0u32..5), 0..80)
        ) {
            let mut assigned = Assigned::default();
            let mut plain = HashMap::new();
            for (id, owner) in inserts {
                assigned.insert(id, owner);
                plain.insert(id, owner);
            }
            for id in 0..45 {
                prop_assert_eq!(assigned.get(id), plain.get(&id).copied(), "id {}", id);
            }
        }
    }

    #[test]
    fn ids_in_order_go_to_the_vec() {
        let mut assigned = Assigned::default();
        for id in 1..=1000 {
            assigned.insert(id, id as u32 % 7);
        }
        assert_eq!(assigned.in_order.len(), 1000);
        assert!(assigned.others.is_empty());
        assert_eq!(assigned.get(500), Some(500 % 7));
        assert_eq!(assigned.get(0), None);
        assert_eq!(assigned.get(1001), None);
    }
}
