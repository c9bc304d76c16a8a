//! How read-model keys are laid out. Every key starts with its table's tag
//! byte; strings carry a length byte first, so no key is a prefix of another
//! table's or another row's; numbers are big-endian, so byte order is
//! numeric order.

use ledger_core::domain::Category;
use ledger_core::time::Day;

use crate::period::Period;

/// One tag per table.
pub mod table {
    pub const META: u8 = 0x00;
    pub const CONFIG: u8 = 0x01;
    pub const UNIT: u8 = 0x02;
    pub const VOLUNTEER: u8 = 0x03;
    pub const HISTORY: u8 = 0x04;
    pub const CREDIT: u8 = 0x05;
    pub const SESSION: u8 = 0x06;
    pub const AWARD: u8 = 0x07;
    pub const REDEMPTION: u8 = 0x08;
    pub const ACTIVITY: u8 = 0x09;
    pub const PARTICIPATION: u8 = 0x0A;
    pub const REWARD: u8 = 0x0B;
    pub const CAMPAIGN: u8 = 0x0C;
    pub const WISH: u8 = 0x0D;
    pub const PAIRING: u8 = 0x0E;
    pub const UNIT_TALLY: u8 = 0x10;
    pub const BOARD: u8 = 0x11;
    pub const DAY: u8 = 0x12;
    /// A unit's own volunteers (home unit, volunteer): the roster.
    pub const MEMBER: u8 = 0x13;
    /// A volunteer's credits (volunteer, credit).
    pub const VOLUNTEER_CREDIT: u8 = 0x14;
    /// The activities a volunteer signed up to or attended (volunteer, activity).
    pub const VOLUNTEER_ACTIVITY: u8 = 0x15;
    /// Credits in review, under the unit that organised their activity
    /// (unit, credit): the admins' review items.
    pub const REVIEW: u8 = 0x16;
    /// The units whose reports name a file (hash, unit): who may download it.
    pub const ATTACHMENT: u8 = 0x17;
    /// Hand-made entries waiting for a second admin (request).
    pub const REQUEST: u8 = 0x18;
    /// The volunteer a unified number or an identity commitment names
    /// (kind, number or commitment): how an admin finds a volunteer.
    pub const LOOKUP: u8 = 0x19;
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key(pub Vec<u8>);

pub(crate) const KEY_CAPACITY: usize = 48;

impl Key {
    pub fn table(tag: u8) -> Key {
        // Room for the longest keys (a board page's: an id, a period and an
        // entry) from the start, so a key is built in one allocation.
        let mut bytes = Vec::with_capacity(KEY_CAPACITY);
        bytes.push(tag);
        Key(bytes)
    }

    pub fn str(mut self, s: &str) -> Key {
        // Ids are at most 64 bytes (ledger-core refuses longer ones).
        let len = u8::try_from(s.len()).unwrap_or(u8::MAX);
        self.0.push(len);
        self.0.extend_from_slice(&s.as_bytes()[..usize::from(len)]);
        self
    }

    pub fn u8(mut self, v: u8) -> Key {
        self.0.push(v);
        self
    }

    pub fn u16(mut self, v: u16) -> Key {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn u32(mut self, v: u32) -> Key {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn u64(mut self, v: u64) -> Key {
        self.0.extend_from_slice(&v.to_be_bytes());
        self
    }

    pub fn digest(mut self, d: &ledger_core::values::Digest) -> Key {
        self.0.extend_from_slice(&d.0);
        self
    }

    /// Days order as numbers, negative ones first.
    pub fn day(self, day: Day) -> Key {
        self.u32((day.0 as u32) ^ 0x8000_0000)
    }

    pub fn period(self, period: &Period) -> Key {
        match period {
            Period::All => self.u8(0),
            Period::Year(y) => self.u8(1).u32(*y as u32 ^ 0x8000_0000),
            Period::Quarter(y, q) => self.u8(2).u32(*y as u32 ^ 0x8000_0000).u8(*q),
            Period::Month(y, m) => self.u8(3).u32(*y as u32 ^ 0x8000_0000).u8(*m),
            Period::Campaign(c, phase) => self.u8(4).str(c.as_str()).u16(*phase),
        }
    }

    /// All categories together is 0; a category is 1 + its place in the list.
    pub fn category(self, category: Option<Category>) -> Key {
        self.u8(category.map_or(0, |c| category_index(c) + 1))
    }

    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

fn category_index(category: Category) -> u8 {
    // postcard writes a variant as its index (one byte below 128). Written
    // on the stack: this runs for most keys a confirmed credit touches.
    let mut buf = [0u8; 4];
    postcard::to_slice(&category, &mut buf)
        .ok()
        .and_then(|b| b.first().copied())
        .unwrap_or(u8::MAX - 1)
}

/// The string at the front of `bytes` written by [`Key::str`], and the rest.
pub fn read_str(bytes: &[u8]) -> Option<(&str, &[u8])> {
    let (&len, rest) = bytes.split_first()?;
    let len = usize::from(len);
    if rest.len() < len {
        return None;
    }
    let (s, rest) = rest.split_at(len);
    Some((std::str::from_utf8(s).ok()?, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_order_as_their_values() {
        let a = Key::table(1).day(Day(-3)).into_bytes();
        let b = Key::table(1).day(Day(2)).into_bytes();
        assert!(a < b);
        let y = Key::table(1).period(&Period::Year(2025)).into_bytes();
        let z = Key::table(1).period(&Period::Year(2026)).into_bytes();
        assert!(y < z);
        let k = Key::table(1).str("abc").u8(7).into_bytes();
        let (s, rest) = read_str(&k[1..]).unwrap();
        assert_eq!((s, rest), ("abc", &[7u8][..]));
        assert_ne!(
            Key::table(0).category(Some(Category::CivilityTalk)),
            Key::table(0).category(None)
        );
        assert_ne!(
            Key::table(0).category(Some(Category::CivilityTalk)),
            Key::table(0).category(Some(Category::Other))
        );
    }
}
