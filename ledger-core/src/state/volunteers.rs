//! The volunteers, in the order they registered, with two indexes of four
//! bytes a slot: by id, and by identity commitment.
//!
//! A map keyed by id kept a copy of every id (24 bytes) beside a pointer in
//! each of its slots, and the identities' map a 32-byte commitment and
//! another id: at 1M volunteers about 160 MiB of the writer's state for
//! what a slot number and a look at the entry answer as well
//! (docs/performance.md, service memory). The entries sit in a `Vec` by
//! slot, which is also the number the activities' tables name them by.

use std::fmt;

use crate::domain::IdentityCommitment;
use crate::hashing::SlotIndex;
use crate::paged::Paged;
use crate::state::VolunteerState;
use crate::values::VolunteerId;

#[derive(Clone, Default)]
pub struct Volunteers {
    /// Every registration, by slot. A later registration of an id already
    /// registered (which the rules refuse, but an event may carry) takes a
    /// new slot and the id's index entry; the earlier one stays here,
    /// reachable by its slot only.
    by_slot: Paged<VolunteerState>,
    /// The latest slot of each id.
    by_id: SlotIndex,
    /// The slot holding each identity commitment, while it is held: a
    /// rejected registration gives its identity up.
    by_identity: SlotIndex,
    /// Slots that lost their id to a later registration.
    superseded: usize,
}

impl Volunteers {
    pub fn len(&self) -> usize {
        self.by_slot.len() - self.superseded
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, id: &VolunteerId) -> Option<&VolunteerState> {
        let slot = self.slot_of(id)?;
        self.by_slot.get(slot as usize)
    }

    pub fn get_mut(&mut self, id: &VolunteerId) -> Option<&mut VolunteerState> {
        let slot = self.slot_of(id)?;
        self.by_slot.get_mut(slot as usize)
    }

    pub fn contains_key(&self, id: &VolunteerId) -> bool {
        self.slot_of(id).is_some()
    }

    /// The registration in `slot`, whether or not its id was registered
    /// again since.
    pub fn by_slot(&self, slot: u32) -> Option<&VolunteerState> {
        self.by_slot.get(slot as usize)
    }

    /// The volunteer holding `identity`, if any registration holds it.
    pub fn holding(&self, identity: &IdentityCommitment) -> Option<&VolunteerState> {
        let slot = self
            .by_identity
            .find(identity, |s| identity_at(&self.by_slot, s))?;
        self.by_slot.get(slot as usize)
    }

    /// Registers `state` in the next slot, which it returns (and sets in
    /// `state.slot`). The id and the identity now name this registration.
    pub fn register(&mut self, mut state: VolunteerState) -> u32 {
        // Four billion registrations would take this state past a terabyte,
        // so a process never gets to where slots run out.
        let slot = u32::try_from(self.by_slot.len()).unwrap_or(u32::MAX);
        state.slot = slot;
        let by_slot = &self.by_slot;
        let earlier = self
            .by_id
            .set(&state.volunteer.id, slot, |s| id_at(by_slot, s));
        if earlier.is_some() {
            self.superseded += 1;
        }
        self.by_identity
            .set(&state.volunteer.identity, slot, |s| identity_at(by_slot, s));
        self.by_slot.push(state);
        slot
    }

    /// Frees `identity` for another registration.
    pub fn release(&mut self, identity: &IdentityCommitment) {
        let by_slot = &self.by_slot;
        self.by_identity
            .remove(identity, |s| identity_at(by_slot, s));
    }

    /// Every volunteer by their latest registration, in the order of their slots.
    pub fn values(&self) -> impl Iterator<Item = &VolunteerState> {
        self.by_slot
            .iter()
            .filter(move |v| self.superseded == 0 || self.slot_of(&v.volunteer.id) == Some(v.slot))
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut VolunteerState> {
        let (by_id, superseded) = (&self.by_id, self.superseded);
        let by_slot = &self.by_slot;
        // Which slots are current is read before any entry is lent out.
        let current: Vec<bool> = if superseded == 0 {
            Vec::new()
        } else {
            by_slot
                .iter()
                .map(|v| by_id.find(&v.volunteer.id, |s| id_at(by_slot, s)) == Some(v.slot))
                .collect()
        };
        self.by_slot
            .iter_mut()
            .enumerate()
            .filter(move |(i, _)| current.get(*i).copied().unwrap_or(true))
            .map(|(_, v)| v)
    }

    /// Each volunteer's id with their entry, as a map of them would give.
    pub fn iter(&self) -> impl Iterator<Item = (&VolunteerId, &VolunteerState)> {
        self.values().map(|v| (&v.volunteer.id, v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &VolunteerId> {
        self.values().map(|v| &v.volunteer.id)
    }

    fn slot_of(&self, id: &VolunteerId) -> Option<u32> {
        self.by_id.find(id, |s| id_at(&self.by_slot, s))
    }

    /// The identity index as the slots it holds, in order, for comparing.
    fn identity_slots(&self) -> Vec<u32> {
        let mut slots: Vec<u32> = self.by_identity.slots().collect();
        slots.sort_unstable();
        slots
    }
}

// The keys the two indexes read at a slot.
fn id_at(by_slot: &Paged<VolunteerState>, slot: u32) -> &VolunteerId {
    &by_slot[slot as usize].volunteer.id
}

fn identity_at(by_slot: &Paged<VolunteerState>, slot: u32) -> &IdentityCommitment {
    &by_slot[slot as usize].volunteer.identity
}

impl PartialEq for Volunteers {
    /// The same registrations in the same slots, holding the same identities
    /// (the id index follows from the slots).
    fn eq(&self, other: &Volunteers) -> bool {
        self.by_slot == other.by_slot && self.identity_slots() == other.identity_slots()
    }
}

impl Eq for Volunteers {}

impl fmt::Debug for Volunteers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.values()).finish()
    }
}

impl std::ops::Index<&VolunteerId> for Volunteers {
    type Output = VolunteerState;

    /// Panics if `id` is not registered, like a map's index.
    fn index(&self, id: &VolunteerId) -> &VolunteerState {
        match self.get(id) {
            Some(v) => v,
            None => panic!("no volunteer {id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::domain::{ApprovalLevel, Membership, VolunteerNumber};
    use crate::event::{Event, VolunteerRegistered, VolunteerRejected};
    use crate::testing::{person, text, unit_id, vid};
    use crate::Ledger;

    fn registered(id: &str, who: u32) -> Event {
        Event::VolunteerRegistered(Box::new(VolunteerRegistered {
            volunteer: vid(id),
            number: VolunteerNumber(format!("N{who}").into()),
            home_unit: unit_id("u"),
            membership: Membership::Member,
            groups: Vec::new(),
            specialties: Vec::new(),
            identity: person(who),
        }))
    }

    fn rejected(id: &str) -> Event {
        Event::VolunteerRejected(VolunteerRejected {
            volunteer: vid(id),
            level: ApprovalLevel::Unit,
            reason: text("no"),
        })
    }

    fn holder(state: &Ledger, who: u32) -> Option<String> {
        let v = state.volunteers.holding(&person(who))?;
        Some(v.volunteer.id.as_str().to_owned())
    }

    #[test]
    fn volunteers_are_found_by_id_and_by_identity_in_slot_order() {
        let events: Vec<Event> = (0..1000).map(|n| registered(&format!("v{n}"), n)).collect();
        let state = Ledger::replay(&events);
        assert_eq!(state.volunteers.len(), 1000);
        for n in [0u32, 1, 511, 999] {
            let v = &state.volunteers[&vid(&format!("v{n}"))];
            assert_eq!(v.slot, n);
            assert_eq!(state.volunteers.by_slot(n).map(|v| v.slot), Some(n));
            assert_eq!(holder(&state, n), Some(format!("v{n}")));
        }
        assert!(state.volunteers.get(&vid("v1000")).is_none());
        assert_eq!(holder(&state, 1000), None);
        let order: Vec<u32> = state.volunteers.values().map(|v| v.slot).collect();
        assert_eq!(order, (0..1000).collect::<Vec<u32>>());
    }

    #[test]
    fn a_rejected_registration_gives_up_its_identity_and_keeps_its_id() {
        let mut state = Ledger::replay(&[registered("a", 1), registered("b", 2), rejected("a")]);
        assert_eq!(holder(&state, 1), None);
        assert_eq!(holder(&state, 2), Some("b".to_owned()));
        assert!(state.volunteers.contains_key(&vid("a")));
        state.apply(&registered("c", 1));
        assert_eq!(holder(&state, 1), Some("c".to_owned()));
    }

    /// What the rules never let in still folds the way a map would: the
    /// later registration of an id or an identity wins.
    #[test]
    fn a_later_registration_of_an_id_or_identity_takes_it_over() {
        let state = Ledger::replay(&[registered("a", 1), registered("b", 1), registered("a", 3)]);
        assert_eq!(state.volunteers.len(), 2);
        assert_eq!(state.volunteers[&vid("a")].slot, 2);
        assert_eq!(state.volunteers[&vid("a")].volunteer.identity, person(3));
        assert_eq!(holder(&state, 1), Some("b".to_owned()));
        assert_eq!(holder(&state, 3), Some("a".to_owned()));
        let ids: Vec<&str> = state.volunteers.keys().map(|id| id.as_str()).collect();
        assert_eq!(ids, ["b", "a"]);
        let mut copy = state.clone();
        assert_eq!(copy.volunteers.values_mut().count(), 2);
        assert_eq!(copy, state);
        // The first "a" is still in its slot, for the activities' tables.
        assert_eq!(
            state.volunteers.by_slot(0).map(|v| v.volunteer.identity),
            Some(person(1))
        );
    }
}
