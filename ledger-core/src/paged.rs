//! A list that grows a page at a time, its entries held inline.
//!
//! The state's tables that grow with the chain (volunteers, sessions,
//! credits, awards) held each entry in a box of its own, so that a `Vec`'s
//! room for up to as many again cost a pointer a slot rather than an entry.
//! The box cost a pointer and the allocator's rounding for every entry
//! (a 120-byte credit took 136 bytes). Pages of a fixed size hold entries
//! inline and leave room for at most one page's worth; growing never moves
//! an entry.

use std::fmt;

/// Roughly how many bytes a page holds.
const PAGE_BYTES: usize = 64 << 10;

#[derive(Clone, PartialEq, Eq)]
pub struct Paged<T> {
    pages: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Paged<T> {
    fn default() -> Self {
        Paged {
            pages: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Paged<T> {
    /// Entries a page holds: at least one, whatever their size.
    const PER_PAGE: usize = {
        let size = std::mem::size_of::<T>();
        if size == 0 || size >= PAGE_BYTES {
            1
        } else {
            PAGE_BYTES / size
        }
    };

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn push(&mut self, value: T) {
        if self.len.is_multiple_of(Self::PER_PAGE) {
            self.pages.push(Vec::with_capacity(Self::PER_PAGE));
        }
        if let Some(page) = self.pages.last_mut() {
            page.push(value);
        }
        self.len += 1;
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.pages
            .get(i / Self::PER_PAGE)
            .and_then(|page| page.get(i % Self::PER_PAGE))
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.pages
            .get_mut(i / Self::PER_PAGE)
            .and_then(|page| page.get_mut(i % Self::PER_PAGE))
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> + '_ {
        self.pages.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> + '_ {
        self.pages.iter_mut().flatten()
    }
}

impl<T> std::ops::Index<usize> for Paged<T> {
    type Output = T;

    /// Panics past the end, as a slice's index does.
    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(value) => value,
            None => panic!("index {i} past the end of a list of {}", self.len),
        }
    }
}

impl<T: fmt::Debug> fmt::Debug for Paged<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Pushed values read back as a `Vec` of them does, by index and in
        /// order, across pages (a page of 4 KiB entries holds 16).
        #[test]
        fn reads_back_as_a_vec(values in proptest::collection::vec(any::<u16>(), 0..100)) {
            let mut paged = Paged::<[u16; 2048]>::default();
            let mut plain = Vec::new();
            for v in values {
                paged.push([v; 2048]);
                plain.push([v; 2048]);
            }
            prop_assert_eq!(paged.len(), plain.len());
            for i in 0..plain.len() + 2 {
                prop_assert_eq!(paged.get(i), plain.get(i), "index {}", i);
            }
            prop_assert!(paged.iter().eq(plain.iter()));
            if let Some(last) = paged.get_mut(plain.len().wrapping_sub(1)) {
                last[0] = last[0].wrapping_add(1);
                prop_assert_ne!(paged.iter().last(), plain.last());
            }
        }
    }

    #[test]
    fn a_page_holds_about_its_bytes_of_entries() {
        assert_eq!(Paged::<u64>::PER_PAGE, 8192);
        assert_eq!(Paged::<[u8; 100_000]>::PER_PAGE, 1);
        assert_eq!(Paged::<()>::PER_PAGE, 1);
        let mut paged = Paged::<[u8; 40_000]>::default();
        (0..3).for_each(|_| paged.push([0; 40_000]));
        assert_eq!(paged.pages.len(), 3);
        assert!(paged.pages.iter().all(|p| p.capacity() == 1));
    }
}
