//! Whose entry an event is about. Most events name their volunteer; the
//! rest name a session, credit, award, redemption or pairing recorded
//! earlier, whose volunteer has to be looked up. [`volunteer_of`] answers
//! for any event from [`EntryOwners`], which the full [`crate::Ledger`]
//! implements and so does [`Owners`]: only who owns each entry, a few bytes
//! an entry, for a reader that files events under their volunteer without
//! keeping a replica of the whole state.

use std::fmt;

use crate::domain::EntryRef;
use crate::event::Event;
use crate::hashing::{Map, SlotIndex};
use crate::numbered::Numbered;
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
#[derive(Clone, Default)]
pub struct Owners {
    /// The slot of each volunteer in `volunteers`: four bytes an entry,
    /// where a map by id kept a second copy of every 24-byte id.
    slots: SlotIndex,
    volunteers: Vec<VolunteerId>,
    sessions: Numbered<SessionId, u32>,
    credits: Numbered<CreditId, u32>,
    awards: Numbered<AwardId, u32>,
    redemptions: Numbered<RedemptionId, u32>,
    pairings: Map<PairingId, u32>,
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
                self.sessions.insert(e.session, owner);
            }
            Event::HoursCredited(e) => {
                let owner = self.slot(&e.volunteer);
                self.credits.insert(e.credit, owner);
            }
            Event::PointsAwarded(e) => {
                let owner = self.slot(&e.volunteer);
                self.awards.insert(e.award, owner);
            }
            Event::RewardRedeemed(e) => {
                let owner = self.slot(&e.volunteer);
                self.redemptions.insert(e.redemption, owner);
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
        if let Some(n) = self.slot_of(volunteer) {
            return n;
        }
        // Four bytes a slot: four billion volunteers would take this map
        // alone past 200 GB, so a process never gets to where they run out.
        let n = u32::try_from(self.volunteers.len()).unwrap_or(u32::MAX);
        let volunteers = &self.volunteers;
        self.slots
            .insert_new(volunteer, n, |s| &volunteers[s as usize]);
        self.volunteers.push(volunteer.clone());
        n
    }

    /// The volunteer's slot, if they have one.
    pub fn slot_of(&self, volunteer: &VolunteerId) -> Option<u32> {
        self.slots.find(volunteer, |s| &self.volunteers[s as usize])
    }

    fn volunteer(&self, n: Option<u32>) -> Option<&VolunteerId> {
        self.volunteers.get(usize::try_from(n?).ok()?)
    }
}

impl PartialEq for Owners {
    /// The same volunteers in the same slots, owning the same entries (the
    /// slots' index follows from the volunteers).
    fn eq(&self, other: &Owners) -> bool {
        self.volunteers == other.volunteers
            && self.sessions == other.sessions
            && self.credits == other.credits
            && self.awards == other.awards
            && self.redemptions == other.redemptions
            && self.pairings == other.pairings
    }
}

impl Eq for Owners {}

impl fmt::Debug for Owners {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Owners")
            .field("volunteers", &self.volunteers)
            .field("sessions", &self.sessions)
            .field("credits", &self.credits)
            .field("awards", &self.awards)
            .field("redemptions", &self.redemptions)
            .field("pairings", &self.pairings)
            .finish()
    }
}

impl EntryOwners for Owners {
    fn session_owner(&self, id: SessionId) -> Option<&VolunteerId> {
        self.volunteer(self.sessions.get(&id).copied())
    }

    fn credit_owner(&self, id: CreditId) -> Option<&VolunteerId> {
        self.volunteer(self.credits.get(&id).copied())
    }

    fn award_owner(&self, id: AwardId) -> Option<&VolunteerId> {
        self.volunteer(self.awards.get(&id).copied())
    }

    fn redemption_owner(&self, id: RedemptionId) -> Option<&VolunteerId> {
        self.volunteer(self.redemptions.get(&id).copied())
    }

    fn pairing_owner(&self, id: &PairingId) -> Option<&VolunteerId> {
        self.volunteer(self.pairings.get(id).copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::vid;

    #[test]
    fn volunteers_get_slots_in_the_order_they_first_appear() {
        let mut owners = Owners::new();
        for n in 0..1000u32 {
            assert_eq!(owners.slot(&vid(&format!("v{n}"))), n);
        }
        for n in [0u32, 1, 500, 999] {
            let id = vid(&format!("v{n}"));
            assert_eq!(owners.slot_of(&id), Some(n));
            assert_eq!(owners.slot(&id), n, "asking again gives the same slot");
            assert_eq!(owners.volunteer(Some(n)), Some(&id));
        }
        assert_eq!(owners.slot_of(&vid("v1000")), None);
        assert_eq!(owners.volunteer(Some(1000)), None);
        let mut other = Owners::new();
        for n in 0..1000u32 {
            other.slot(&vid(&format!("v{n}")));
        }
        assert_eq!(owners, other);
        other.slot(&vid("v1000"));
        assert_ne!(owners, other);
    }
}
