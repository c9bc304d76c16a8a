//! Volunteers' names as leaderboards show them, kept in the instance: a
//! page of twenty would otherwise cost forty reads of the personal store.
//!
//! A name may only be shown while the person has not been erased, so the
//! cache follows the personal store's key bucket: any change to a
//! volunteer's key (a new record, an erasure) drops what is cached for them
//! on every instance that watches. While the watch is down nothing is
//! cached, and a read of the store that an erasure overtook is not
//! remembered, so an erased name outlives its erasure only by the time the
//! watch takes to deliver it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, Weak};
use std::time::Duration;

use async_nats::jetstream::kv;
use futures::StreamExt;
use ledger_core::values::VolunteerId;
use tokio::task::JoinHandle;

use crate::personal::PersonalStore;

/// More names than this and the cache starts again empty: the pages people
/// look at are a few hundred volunteers, and this bounds the memory.
const CAPACITY: usize = 200_000;

/// How long to wait before watching again after the watch failed.
const RETRY: Duration = Duration::from_secs(1);

#[derive(Default)]
pub struct Names {
    state: Mutex<Cached>,
}

#[derive(Default)]
struct Cached {
    /// Whether the key bucket is being watched; nothing is cached otherwise.
    following: bool,
    /// Counts every change seen, so that a read begun before one is not
    /// remembered after it.
    epoch: u64,
    /// A volunteer's name, or that they have none on record.
    names: HashMap<VolunteerId, Option<String>>,
}

/// What a read of the store that missed the cache takes back to
/// [`Names::remember`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(u64);

impl Names {
    /// The cached name (`Ok(None)`: known to have none), or a ticket to
    /// remember what the store says.
    pub fn cached(&self, volunteer: &VolunteerId) -> Result<Option<String>, Ticket> {
        let state = self.lock();
        match state.names.get(volunteer) {
            Some(name) if state.following => Ok(name.clone()),
            _ => Err(Ticket(state.epoch)),
        }
    }

    /// The names of all of `volunteers` (`None`: an id that names no
    /// volunteer, which has no name), if every one is cached; looked up
    /// under one lock, as a page of twenty asks for them together.
    pub fn cached_all(&self, volunteers: &[Option<VolunteerId>]) -> Option<Vec<Option<String>>> {
        let state = self.lock();
        if !state.following {
            return None;
        }
        volunteers
            .iter()
            .map(|volunteer| match volunteer {
                Some(id) => state.names.get(id).cloned(),
                None => Some(None),
            })
            .collect()
    }

    /// Keeps what the store said, unless anything changed since the ticket.
    pub fn remember(&self, volunteer: VolunteerId, name: Option<String>, ticket: Ticket) {
        let mut state = self.lock();
        if !state.following || state.epoch != ticket.0 {
            return;
        }
        if state.names.len() >= CAPACITY {
            state.names.clear();
        }
        state.names.insert(volunteer, name);
    }

    /// A volunteer's record or key changed: whatever was cached is stale.
    pub fn forget(&self, volunteer: &VolunteerId) {
        let mut state = self.lock();
        state.epoch += 1;
        state.names.remove(volunteer);
    }

    fn forget_all(&self, following: bool) {
        let mut state = self.lock();
        state.epoch += 1;
        state.names.clear();
        state.following = following;
    }

    fn lock(&self) -> MutexGuard<'_, Cached> {
        // Every change leaves the map whole, so a panic elsewhere while the
        // lock was held leaves nothing half done.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Names being asked for while a page reads its rows: a leaderboard knows
/// whom it shows as soon as it has scanned its board, so their names'
/// round trips can overlap the reads of their rows.
pub struct Ahead {
    asked: Asked,
    count: usize,
}

enum Asked {
    /// The caller may not see names.
    Nothing,
    /// Every name was in the cache: no task, no wake-up.
    Known(Vec<Option<String>>),
    Fetching(JoinHandle<Vec<Option<String>>>),
}

impl Ahead {
    /// Starts asking for the names of `volunteers`; with no store (the
    /// caller may not see names) nothing is asked.
    pub fn start(store: Option<&PersonalStore>, volunteers: Vec<String>) -> Ahead {
        let count = volunteers.len();
        let asked = match store {
            None => Asked::Nothing,
            Some(store) => match store.cached_names(&volunteers) {
                Some(names) => Asked::Known(names),
                None => {
                    let store = store.clone();
                    Asked::Fetching(tokio::spawn(async move { store.names(&volunteers).await }))
                }
            },
        };
        Ahead { asked, count }
    }

    /// One name or none per volunteer, in order. Names that could not be
    /// fetched are shown as none, as a store that cannot be read is.
    pub async fn wait(self) -> Vec<Option<String>> {
        let names = match self.asked {
            Asked::Nothing => Vec::new(),
            Asked::Known(names) => names,
            Asked::Fetching(task) => task.await.unwrap_or_default(),
        };
        if names.len() == self.count {
            names
        } else {
            vec![None; self.count]
        }
    }
}

/// Watches the key bucket for as long as `names` is in use, forgetting each
/// volunteer whose key changes.
pub async fn follow(keys: kv::Store, names: Weak<Names>) {
    loop {
        match keys.watch_all().await {
            Ok(mut changes) => {
                let Some(cache) = names.upgrade() else { return };
                // Changes made before the watch began are not in it.
                cache.forget_all(true);
                drop(cache);
                while let Some(change) = changes.next().await {
                    let Some(cache) = names.upgrade() else { return };
                    match change.map(|entry| VolunteerId::new(entry.key)) {
                        Ok(Ok(volunteer)) => cache.forget(&volunteer),
                        // A key that names no volunteer: forget everyone
                        // rather than guess whom it meant.
                        Ok(Err(_)) => cache.forget_all(true),
                        Err(e) => {
                            tracing::warn!("watching personal-data keys: {e}");
                            break;
                        }
                    }
                }
            }
            Err(e) => tracing::warn!("cannot watch personal-data keys: {e}"),
        }
        let Some(cache) = names.upgrade() else { return };
        cache.forget_all(false);
        drop(cache);
        tokio::time::sleep(RETRY).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache as it is while the watch is up.
    fn following() -> Names {
        let names = Names::default();
        names.forget_all(true);
        names
    }

    fn v(id: &str) -> VolunteerId {
        VolunteerId::new(id).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_remembered_name_is_served_until_forgotten() {
        let names = following();
        let ticket = names.cached(&v("v1")).expect_err("nothing cached yet");
        names.remember(v("v1"), Some("张三".into()), ticket);
        assert_eq!(names.cached(&v("v1")), Ok(Some("张三".into())));
        names.forget(&v("v1"));
        assert!(names.cached(&v("v1")).is_err());
    }

    #[test]
    fn having_no_name_is_remembered_too() {
        let names = following();
        let ticket = names.cached(&v("v1")).expect_err("nothing cached yet");
        names.remember(v("v1"), None, ticket);
        assert_eq!(names.cached(&v("v1")), Ok(None));
    }

    #[test]
    fn a_read_overtaken_by_an_erasure_is_not_remembered() {
        let names = following();
        let ticket = names.cached(&v("v1")).expect_err("nothing cached yet");
        // The read of the store is under way when the erasure is seen.
        names.forget(&v("v1"));
        names.remember(v("v1"), Some("张三".into()), ticket);
        assert!(names.cached(&v("v1")).is_err());
    }

    #[test]
    fn a_page_is_answered_from_the_cache_only_when_every_name_is_in_it() {
        let names = following();
        for (id, name) in [("v1", Some("张三")), ("v2", None)] {
            let ticket = names.cached(&v(id)).expect_err("nothing cached yet");
            names.remember(v(id), name.map(str::to_owned), ticket);
        }
        let page = [Some(v("v1")), None, Some(v("v2"))];
        assert_eq!(
            names.cached_all(&page),
            Some(vec![Some("张三".to_owned()), None, None])
        );
        assert_eq!(names.cached_all(&[Some(v("v1")), Some(v("v3"))]), None);
        names.forget_all(false);
        assert_eq!(names.cached_all(&page), None, "the watch is down");
    }

    #[test]
    fn nothing_is_cached_while_the_watch_is_down() {
        let names = following();
        let ticket = names.cached(&v("v1")).expect_err("nothing cached yet");
        names.remember(v("v1"), Some("张三".into()), ticket);
        names.forget_all(false);
        let ticket = names.cached(&v("v1")).expect_err("dropped with the watch");
        names.remember(v("v1"), Some("张三".into()), ticket);
        assert!(names.cached(&v("v1")).is_err());
    }

    #[test]
    fn a_full_cache_starts_again() {
        let names = following();
        for i in 0..CAPACITY {
            let id = v(&format!("v{i}"));
            let ticket = names.cached(&id).expect_err("new");
            names.remember(id, None, ticket);
        }
        let ticket = names.cached(&v("last")).expect_err("new");
        names.remember(v("last"), None, ticket);
        assert_eq!(names.cached(&v("last")), Ok(None));
        assert!(names.cached(&v("v0")).is_err());
    }
}
