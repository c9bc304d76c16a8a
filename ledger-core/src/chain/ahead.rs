//! Preparing frames ahead of their in-order checks, on as many threads as
//! the caller gives.
//!
//! Most of a frame's checks do not depend on the frames before it: its own
//! hash, its Merkle leaf, the Merkle node over it and its left sibling
//! when both are in hand, its body. Only its sequence, its link and the
//! rest of the Merkle frontier do. So the frames are cut into windows, any
//! thread prepares any window, and the calling thread checks the prepared
//! windows in order. The calling thread prepares too whenever the next window in
//! order is not ready yet, so the work balances itself whatever the mix of
//! events or the caller's own work per event.

use std::collections::BTreeMap;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Mutex;

use super::body::Body;
use crate::frame::{self, FrameError, FrameHeader, FrameRef};
use crate::lanes::LANES;
use crate::merkle::{self, Subtree};
use crate::values::Digest;

/// Frames cut and prepared in one go: enough to amortise the hand-over,
/// few enough to stay small.
pub(super) const WINDOW: usize = if cfg!(test) { 256 } else { 512 };

/// Below this many bytes of frames, everything stays on the calling thread:
/// a block as the live stream carries it is done before a thread would
/// have started. (Smaller under test, so that the chains the tests verify
/// cross windows and threads.)
pub(super) const ONE_THREAD_BYTES: usize = if cfg!(test) { 16 << 10 } else { 64 << 10 };

/// A frame with the checks that do not depend on the frames before it done,
/// and what the rest of its checks need (its bytes are not needed again).
pub(super) struct Prepared {
    pub header: FrameHeader,
    pub stored: Digest,
    pub computed: Digest,
    /// The Merkle leaf of the stored hash (used once the hash checks out).
    pub leaf: Digest,
    /// The largest Merkle subtree this frame's leaf closes whose leaves
    /// are all in its window, if there is one (see `hash_subtrees`).
    pub closes: Option<Subtree>,
    pub body: Body,
}

impl Prepared {
    pub fn of(frame: &FrameRef<'_>) -> Prepared {
        Prepared {
            header: frame.header,
            stored: frame.stored_hash,
            computed: frame.computed_hash(),
            leaf: crate::merkle::leaf_hash(&frame.stored_hash),
            closes: None,
            body: Body::of(frame),
        }
    }
}

/// Consecutive frames, prepared.
pub(super) struct Window {
    pub frames: Vec<Prepared>,
    /// Where reading stopped, if at a frame that does not parse.
    pub unreadable: Option<FrameError>,
}

/// Consecutive frames, parsed but not prepared.
struct Cut<'a> {
    index: usize,
    frames: Vec<FrameRef<'a>>,
    /// Where the prepared frames go: a buffer given back by an earlier
    /// window. A window's buffer is large enough for the allocator to map
    /// fresh pages for each new one, which costs more than the checks.
    out: Vec<Prepared>,
    unreadable: Option<FrameError>,
}

impl Cut<'_> {
    fn prepare(self) -> (usize, Window) {
        let mut frames = self.out;
        for group in self.frames.chunks(LANES) {
            prepare_group(group, &mut frames);
        }
        hash_subtrees(&mut frames);
        let window = Window {
            frames,
            unreadable: self.unreadable,
        };
        (self.index, window)
    }
}

/// Prepares consecutive frames: their hashes and leaves several at a time,
/// their bodies one by one.
fn prepare_group(group: &[FrameRef<'_>], out: &mut Vec<Prepared>) {
    let n = group.len();
    let hashed: [&[u8]; LANES] =
        std::array::from_fn(|i| group.get(i).map_or(&[][..], |f| f.hashed));
    let stored: [Digest; LANES] =
        std::array::from_fn(|i| group.get(i).map_or(Digest::ZERO, |f| f.stored_hash));
    let mut computed = [Digest::ZERO; LANES];
    let mut leaves = [Digest::ZERO; LANES];
    frame::hash_frames(&hashed[..n], &mut computed);
    merkle::leaf_hashes(&stored[..n], &mut leaves);
    // Extended rather than pushed one by one: so each frame is built where
    // it stays, not beside the buffer and then copied in.
    out.extend(group.iter().enumerate().map(|(i, frame)| Prepared {
        header: frame.header,
        stored: frame.stored_hash,
        computed: computed[i],
        leaf: leaves[i],
        closes: None,
        body: Body::of(frame),
    }));
}

/// Hashes the Merkle nodes over a window's leaves, level by level, each
/// level several nodes at a time: the frontier, fed one leaf at a time,
/// would hash them one by one on the thread that checks frames in order.
///
/// A frame whose sequence is a multiple of `2^h` closes a subtree of
/// `2^h` leaves (leaf index sequence - 1) when the `2^h - 1` frames before
/// it in the window have the sequences before its own. Those are the
/// frames checked just before it, whose leaves the frontier took last,
/// which is what `push_leaf_closing` asks; and the frontier uses a subtree
/// only where its size says the leaf does close one of that height, so a
/// claimed sequence can make a subtree useless but never wrong.
fn hash_subtrees(frames: &mut [Prepared]) {
    // How many frames, up to and including each, have sequences in a row.
    let mut in_a_row = Vec::with_capacity(frames.len());
    for (i, frame) in frames.iter().enumerate() {
        let follows =
            i > 0 && frames[i - 1].header.sequence.wrapping_add(1) == frame.header.sequence;
        in_a_row.push(if follows { in_a_row[i - 1] + 1 } else { 1u64 });
    }
    // Every frame's largest subtree so far, the leaf itself to begin with.
    let mut tops: Vec<Digest> = frames.iter().map(|f| f.leaf).collect();
    let mut closing: Vec<usize> = (0..frames.len()).collect();
    let mut pairs = Vec::new();
    let mut nodes = Vec::new();
    for height in 1..u64::BITS {
        let span = 1u64 << height;
        closing.retain(|&i| frames[i].header.sequence.is_multiple_of(span) && in_a_row[i] >= span);
        if closing.is_empty() {
            break;
        }
        // The left half ends half a span back; it closed a subtree of the
        // height below (its sequence is an odd multiple of half a span),
        // and none higher, so its top is that subtree's root.
        let half = (span / 2) as usize;
        pairs.clear();
        pairs.extend(closing.iter().map(|&i| (tops[i - half], tops[i])));
        nodes.clear();
        nodes.resize(pairs.len(), Digest::ZERO);
        merkle::node_hashes(&pairs, &mut nodes);
        for (&i, &root) in closing.iter().zip(&nodes) {
            tops[i] = root;
            frames[i].closes = Some(Subtree { height, root });
        }
    }
}

/// Hands out the next window of a buffer. Parsing a frame's length is cheap
/// next to preparing it, so cutting stays behind one lock.
struct Cutter<'a> {
    rest: &'a [u8],
    next: usize,
    done: bool,
    /// Window buffers given back, empty, for the next windows.
    spare: Vec<Vec<Prepared>>,
}

impl<'a> Cutter<'a> {
    fn new(buf: &'a [u8]) -> Cutter<'a> {
        Cutter {
            rest: buf,
            next: 0,
            done: buf.is_empty(),
            spare: Vec::new(),
        }
    }

    fn cut(&mut self) -> Option<Cut<'a>> {
        if self.done {
            return None;
        }
        let mut frames = Vec::with_capacity(WINDOW);
        let mut unreadable = None;
        while frames.len() < WINDOW && !self.rest.is_empty() {
            match frame::parse_frame(self.rest) {
                Ok((frame, rest)) => {
                    frames.push(frame);
                    self.rest = rest;
                }
                Err(e) => {
                    unreadable = Some(e);
                    break;
                }
            }
        }
        self.done = unreadable.is_some() || self.rest.is_empty();
        let index = self.next;
        self.next += 1;
        let out = self.spare.pop().unwrap_or_default();
        Some(Cut {
            index,
            frames,
            out,
            unreadable,
        })
    }
}

fn claim<'a>(cutter: &Mutex<Cutter<'a>>) -> Option<Cut<'a>> {
    lock(cutter).cut()
}

/// Keeps a checked window's buffer for a later window.
fn give_back(cutter: &Mutex<Cutter<'_>>, mut frames: Vec<Prepared>) {
    frames.clear();
    lock(cutter).spare.push(frames);
}

fn lock<'m, 'a>(cutter: &'m Mutex<Cutter<'a>>) -> std::sync::MutexGuard<'m, Cutter<'a>> {
    // A thread that panicked while cutting left nothing half done that
    // matters: the panic itself reaches the caller when the scope ends.
    cutter
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Prepares every window of `buf` on `workers` threads (this one among
/// them) and hands each to `check`, in order, on this thread, to take its
/// frames out of. Stops at the first error `check` returns; the windows are
/// over once one ends in an unreadable frame.
pub(super) fn in_order<E>(
    buf: &[u8],
    workers: usize,
    mut check: impl FnMut(&mut Window) -> Result<(), E>,
) -> Result<(), E> {
    let cutter = Mutex::new(Cutter::new(buf));
    if workers <= 1 || buf.len() < ONE_THREAD_BYTES {
        while let Some(cut) = claim(&cutter) {
            let (_, mut window) = cut.prepare();
            check(&mut window)?;
            give_back(&cutter, window.frames);
        }
        return Ok(());
    }
    std::thread::scope(|scope| {
        let helpers = workers.clamp(2, 64) - 1;
        // Bounded, so that helpers wait rather than pile up windows while
        // this thread's checks (and the caller's work per event) lag.
        let (ready, prepared) = sync_channel(2 * helpers);
        for _ in 0..helpers {
            let ready = ready.clone();
            let cutter = &cutter;
            scope.spawn(move || {
                while let Some(cut) = claim(cutter) {
                    // A closed channel: the checks stopped at an error.
                    if ready.send(cut.prepare()).is_err() {
                        return;
                    }
                }
            });
        }
        drop(ready);
        let mut order = InOrder::new(prepared);
        while let Some(mut window) = order.next(&cutter) {
            check(&mut window)?;
            give_back(&cutter, window.frames);
        }
        Ok(())
    })
}

/// The calling thread's side: windows come back from the helpers in any
/// order and leave in order.
struct InOrder {
    from_helpers: Receiver<(usize, Window)>,
    ready: BTreeMap<usize, Window>,
    next: usize,
}

impl InOrder {
    fn new(from_helpers: Receiver<(usize, Window)>) -> InOrder {
        InOrder {
            from_helpers,
            ready: BTreeMap::new(),
            next: 0,
        }
    }

    /// The next window in order, prepared here if no helper has it ready;
    /// None once all are done.
    fn next(&mut self, cutter: &Mutex<Cutter<'_>>) -> Option<Window> {
        loop {
            self.ready.extend(self.from_helpers.try_iter());
            if let Some(window) = self.ready.remove(&self.next) {
                self.next += 1;
                return Some(window);
            }
            if let Some(cut) = claim(cutter) {
                let (index, window) = cut.prepare();
                self.ready.insert(index, window);
                continue;
            }
            // Every window is cut; the next is with a helper, or there is
            // none left (all helpers gone and nothing ready).
            match self.from_helpers.recv() {
                Ok((index, window)) => {
                    self.ready.insert(index, window);
                }
                Err(_) => return None,
            }
        }
    }
}
