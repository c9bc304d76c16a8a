//! Whose entry an event is about. Most events name their volunteer; the
//! rest name a session, credit, award, redemption or pairing recorded
//! earlier, whose volunteer has to be looked up. [`volunteer_of`] answers
//! for any event from [`EntryOwners`], which the full [`crate::Ledger`]
//! implements and so does [`Owners`]: only who owns each entry, a few bytes
//! an entry, for a reader that files events under their volunteer without
//! keeping a replica of the whole state.

use crate::domain::EntryRef;
use crate::event::Event;
use crate::hashing::Map;
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
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Owners {
    slots: Map<VolunteerId, u32>,
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
