//! A list of ledger sequences kept as the gaps between them, seven bits a
//! byte (LEB128).
//!
//! The reader keeps one such list for every volunteer, for statements. As
//! a `Vec<u64>` each event cost 8 bytes and each list room to grow by as
//! much again: about 135 MB of the instance's heap at 1M volunteers and
//! 10M events (docs/performance.md, "Volunteers by slot"). The gap between
//! two events of one volunteer is mostly under 2^21, three bytes.

/// Sequences in the order they were pushed. Any `u64` pushed comes back as
/// it went in; rising ones, which is all the reader pushes, are short.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sequences {
    last: u64,
    gaps: Vec<u8>,
}

impl Sequences {
    pub fn push(&mut self, sequence: u64) {
        // Wrapping, so that a sequence below the last still comes back
        // exactly (as a gap of ten bytes) rather than being refused.
        let mut gap = sequence.wrapping_sub(self.last);
        while gap >= 0x80 {
            self.gaps.push((gap as u8 & 0x7f) | 0x80);
            gap >>= 7;
        }
        self.gaps.push(gap as u8);
        self.last = sequence;
    }

    pub fn len(&self) -> usize {
        self.gaps.iter().filter(|&&b| b < 0x80).count()
    }

    pub fn is_empty(&self) -> bool {
        self.gaps.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let mut bytes = self.gaps.iter();
        let mut at = 0u64;
        std::iter::from_fn(move || {
            let mut gap = 0u64;
            let mut shift = 0;
            loop {
                let byte = *bytes.next()?;
                gap |= u64::from(byte & 0x7f).wrapping_shl(shift);
                if byte < 0x80 {
                    break;
                }
                shift += 7;
            }
            at = at.wrapping_add(gap);
            Some(at)
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn of(values: &[u64]) -> Sequences {
        let mut list = Sequences::default();
        for &v in values {
            list.push(v);
        }
        list
    }

    #[test]
    fn rising_sequences_take_a_byte_for_each_seven_bits_of_gap() {
        let list = of(&[1, 2, 129, 129 + 16_384, 129 + 16_384 + 2_097_152]);
        assert_eq!(list.gaps.len(), 1 + 1 + 1 + 3 + 4);
        assert_eq!(list.len(), 5);
        assert_eq!(
            list.iter().collect::<Vec<_>>(),
            [1, 2, 129, 16_513, 2_113_665]
        );
    }

    #[test]
    fn an_empty_list_has_nothing() {
        let list = Sequences::default();
        assert!(list.is_empty());
        assert_eq!(list.len(), 0);
        assert_eq!(list.iter().next(), None);
    }

    proptest! {
        #[test]
        fn any_values_come_back_as_pushed(values in proptest::collection::vec(any::<u64>(), 0..200)) {
            let list = of(&values);
            prop_assert_eq!(list.len(), values.len());
            prop_assert_eq!(list.is_empty(), values.is_empty());
            prop_assert_eq!(list.iter().collect::<Vec<_>>(), values);
        }

        #[test]
        fn rising_values_come_back_as_pushed(gaps in proptest::collection::vec(1u64..5_000_000, 0..200)) {
            let values: Vec<u64> = gaps
                .iter()
                .scan(0u64, |at, gap| {
                    *at += gap;
                    Some(*at)
                })
                .collect();
            let list = of(&values);
            prop_assert!(list.gaps.len() <= 4 * values.len());
            prop_assert_eq!(list.iter().collect::<Vec<_>>(), values);
        }
    }
}
