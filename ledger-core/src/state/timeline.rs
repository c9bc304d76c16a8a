//! A volunteer's attendance in time order. The overlap rules ask whether a
//! volunteer was somewhere else at a moment or during a span; kept in
//! check-in order, with the longest closed session known, the answer lies
//! among the sessions that began shortly before, not in a whole season's.

use crate::time::Timestamp;
use crate::values::SessionId;

/// One session as the overlap rules see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub check_in: Timestamp,
    pub id: SessionId,
    pub check_out: Option<Timestamp>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Timeline {
    /// Every session, by check-in and then id.
    spans: Vec<Span>,
    /// Sessions not checked out: one or two at most, in practice.
    open: Vec<(Timestamp, SessionId)>,
    /// The longest closed session (microseconds, at least 0), so that no
    /// closed session ends later than this after its check-in.
    longest: i64,
}

impl Timeline {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn spans(&self) -> &[Span] {
        &self.spans
    }

    pub fn check_in(&mut self, id: SessionId, at: Timestamp) {
        let place = self
            .spans
            .partition_point(|s| (s.check_in, s.id) < (at, id));
        self.spans.insert(
            place,
            Span {
                check_in: at,
                id,
                check_out: None,
            },
        );
        self.open.push((at, id));
    }

    /// Closes (or closes again) the session that began at `check_in`.
    pub fn check_out(&mut self, id: SessionId, check_in: Timestamp, at: Timestamp) {
        let Some(place) = self.find(id, check_in) else {
            return;
        };
        self.spans[place].check_out = Some(at);
        self.open.retain(|&(_, open)| open != id);
        self.longest = self.longest.max(at.0.saturating_sub(check_in.0));
    }

    /// Forgets a session, for an id recorded again.
    pub fn remove(&mut self, id: SessionId, check_in: Timestamp) {
        if let Some(place) = self.find(id, check_in) {
            self.spans.remove(place);
        }
        self.open.retain(|&(_, open)| open != id);
    }

    fn find(&self, id: SessionId, check_in: Timestamp) -> Option<usize> {
        self.spans
            .binary_search_by(|s| (s.check_in, s.id).cmp(&(check_in, id)))
            .ok()
    }

    /// Whether the volunteer is attending at `at`: inside a closed session,
    /// or after the start of one still open.
    pub fn busy_at(&self, at: Timestamp) -> bool {
        self.open.iter().any(|&(check_in, _)| check_in <= at)
            || self
                .closed_reaching(at, Bound::Through(at))
                .any(|(_, out)| at < out)
    }

    /// Whether a session other than `id` overlaps `from..to`.
    pub fn overlaps(&self, id: SessionId, from: Timestamp, to: Timestamp) -> bool {
        self.open
            .iter()
            .any(|&(check_in, open)| open != id && check_in < to)
            || self
                .closed_reaching(from, Bound::Before(to))
                .any(|(s, out)| s.id != id && from < out)
    }

    /// The first check-in after `at`.
    pub fn next_check_in_after(&self, at: Timestamp) -> Option<Timestamp> {
        let place = self.spans.partition_point(|s| s.check_in <= at);
        self.spans.get(place).map(|s| s.check_in)
    }

    /// Closed sessions that may end after `from` (those that began more
    /// than `longest` before it cannot) and began before `until`.
    fn closed_reaching(
        &self,
        from: Timestamp,
        until: Bound,
    ) -> impl Iterator<Item = (&Span, Timestamp)> + '_ {
        let earliest = from.0.saturating_sub(self.longest);
        let first = self.spans.partition_point(|s| s.check_in.0 <= earliest);
        let last = self.spans.partition_point(|s| match until {
            Bound::Through(t) => s.check_in <= t,
            Bound::Before(t) => s.check_in < t,
        });
        self.spans[first..last.max(first)]
            .iter()
            .filter_map(|s| s.check_out.map(|out| (s, out)))
    }
}

#[derive(Clone, Copy)]
enum Bound {
    Through(Timestamp),
    Before(Timestamp),
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The rules' questions asked of every session, one by one.
    struct Naive(Vec<Span>);

    impl Naive {
        fn busy_at(&self, at: Timestamp) -> bool {
            self.0.iter().any(|s| match s.check_out {
                Some(out) => s.check_in <= at && at < out,
                None => s.check_in <= at,
            })
        }

        fn overlaps(&self, id: SessionId, from: Timestamp, to: Timestamp) -> bool {
            self.0
                .iter()
                .any(|o| o.id != id && o.check_in < to && o.check_out.is_none_or(|out| from < out))
        }

        fn next_check_in_after(&self, at: Timestamp) -> Option<Timestamp> {
            self.0.iter().map(|s| s.check_in).filter(|&c| c > at).min()
        }
    }

    #[derive(Clone, Debug)]
    enum Step {
        CheckIn(i64),
        /// The n-th session so far, closed after so many minutes (possibly
        /// before its check-in: the timeline keeps what it is told).
        CheckOut(usize, i64),
        Ask(i64, i64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0i64..400).prop_map(Step::CheckIn),
            (0usize..40, -20i64..200).prop_map(|(n, m)| Step::CheckOut(n, m)),
            (0i64..450, 0i64..120).prop_map(|(at, len)| Step::Ask(at, len)),
        ]
    }

    fn minute(m: i64) -> Timestamp {
        Timestamp(m * 60_000_000)
    }

    proptest! {
        /// Whatever sessions come in whatever order, the timeline answers
        /// as asking every session does.
        #[test]
        fn answers_as_every_session_asked(steps in prop::collection::vec(step(), 1..120)) {
            let mut timeline = Timeline::default();
            let mut naive = Naive(Vec::new());
            for step in steps {
                match step {
                    Step::CheckIn(at) => {
                        let id = SessionId(naive.0.len() as u64 + 1);
                        timeline.check_in(id, minute(at));
                        naive.0.push(Span { check_in: minute(at), id, check_out: None });
                    }
                    Step::CheckOut(n, minutes) => {
                        let count = naive.0.len().max(1);
                        let Some(s) = naive.0.get_mut(n % count) else { continue };
                        let out = s.check_in.plus_minutes(minutes);
                        s.check_out = Some(out);
                        timeline.check_out(s.id, s.check_in, out);
                    }
                    Step::Ask(at, len) => {
                        let (from, to) = (minute(at), minute(at + len));
                        prop_assert_eq!(timeline.busy_at(from), naive.busy_at(from), "busy at {}", at);
                        prop_assert_eq!(
                            timeline.next_check_in_after(from),
                            naive.next_check_in_after(from)
                        );
                        for s in &naive.0 {
                            prop_assert_eq!(
                                timeline.overlaps(s.id, from, to),
                                naive.overlaps(s.id, from, to),
                                "session {:?} against {}..{}", s, at, at + len
                            );
                        }
                        prop_assert_eq!(
                            timeline.overlaps(SessionId(0), from, to),
                            naive.overlaps(SessionId(0), from, to)
                        );
                    }
                }
            }
            let mut sorted = naive.0.clone();
            sorted.sort_by_key(|s| (s.check_in, s.id));
            prop_assert_eq!(timeline.spans(), &sorted[..]);
        }
    }

    #[test]
    fn a_removed_session_no_longer_counts() {
        let mut timeline = Timeline::default();
        timeline.check_in(SessionId(1), minute(10));
        assert!(timeline.busy_at(minute(11)));
        timeline.remove(SessionId(1), minute(10));
        assert!(!timeline.busy_at(minute(11)));
        assert!(timeline.is_empty());
    }
}
