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

use crate::event::EventRecord;
use crate::frame::{self, BodyError, FrameError, FrameHeader, FrameRef};
use crate::lanes::LANES;
use crate::merkle;
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
    /// The node over the frame before's leaf and this one's, if hashed
    /// ahead.
    pub pair: Option<Digest>,
    pub body: Result<EventRecord, BodyError>,
}

impl Prepared {
    pub fn of(frame: &FrameRef<'_>) -> Prepared {
        Prepared {
            header: frame.header,
            stored: frame.stored_hash,
            computed: frame.computed_hash(),
            leaf: crate::merkle::leaf_hash(&frame.stored_hash),
            pair: None,
            body: frame.decode(),
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
        for group in self.frames.chunks(GROUP) {
            prepare_group(group, &mut frames);
        }
        let window = Window {
            frames,
            unreadable: self.unreadable,
        };
        (self.index, window)
    }
}

/// Frames whose hashes are taken together: two lanes' worth of frames and
/// leaves give one lanes' worth of pairs (see `lanes`).
const GROUP: usize = 2 * LANES;

/// Prepares consecutive frames: their hashes, leaves and the nodes over
/// each pair of sibling leaves several at a time, their bodies one by one.
fn prepare_group(group: &[FrameRef<'_>], out: &mut Vec<Prepared>) {
    let n = group.len();
    let hashed: [&[u8]; GROUP] =
        std::array::from_fn(|i| group.get(i).map_or(&[][..], |f| f.hashed));
    let stored: [Digest; GROUP] =
        std::array::from_fn(|i| group.get(i).map_or(Digest::ZERO, |f| f.stored_hash));
    let mut computed = [Digest::ZERO; GROUP];
    let mut leaves = [Digest::ZERO; GROUP];
    frame::hash_frames(&hashed[..n], &mut computed);
    merkle::leaf_hashes(&stored[..n], &mut leaves);
    // A frame whose sequence is even is a right sibling (leaf index
    // sequence - 1) when the frame before it is its left one. The frame
    // before it here is the one checked just before it, whose leaf the
    // frontier took last, which is what `push_leaf_paired` asks; and the
    // frontier uses the pair only where it does pair those two leaves, so
    // a claimed sequence can make a pair useless but never wrong.
    let mut pairs = [(Digest::ZERO, Digest::ZERO); LANES];
    let mut right = [usize::MAX; LANES];
    let mut count = 0;
    for i in 1..n {
        let sequence = group[i].header.sequence;
        if sequence.is_multiple_of(2)
            && group[i - 1].header.sequence.wrapping_add(1) == sequence
            && count < LANES
        {
            pairs[count] = (leaves[i - 1], leaves[i]);
            right[count] = i;
            count += 1;
        }
    }
    let mut nodes = [Digest::ZERO; LANES];
    merkle::node_hashes(&pairs[..count], &mut nodes);
    let mut paired = [None; GROUP];
    for (i, node) in right[..count].iter().zip(nodes) {
        paired[*i] = Some(node);
    }
    for (i, frame) in group.iter().enumerate() {
        out.push(Prepared {
            header: frame.header,
            stored: frame.stored_hash,
            computed: computed[i],
            leaf: leaves[i],
            pair: paired[i],
            body: frame.decode(),
        });
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
