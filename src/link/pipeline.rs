//! One direction of an emulated link: frames in through [`Pipeline::handle`], frames out
//! through [`Pipeline::poll_transmit`] when they are due, the next due instant from
//! [`Pipeline::poll_timeout`].
//!
//! ```text
//!  handle(now, pkt)
//!     │ roll the dice: a fixed number of words from each configured stage's stream
//!     ▼
//!   loss ──lost──▶ dropped_loss
//!     ▼
//!   rate + queue ──full, or rate 0──▶ dropped_queue
//!     │ exit: when the bottleneck lets it go (now, if there is no rate)
//!     ▼
//!   reorder? ──yes: departure = exit ───────────────────────────▶ express line ──┐
//!     │ no: departure = max(exit + delay + jitter, previous departure)           ├▶ poll_transmit
//!     └─────────────────────────────────────────────────────────▶ delayed line ──┘
//!   duplicate? a second copy, same departure, right behind the original
//!   corrupt?   per copy handed out: one bit flipped past byte 14
//! ```
//!
//! **Everything is decided in `handle`.** A frame's fate and departure time are computed
//! when it arrives, from the state the frames before it left; `poll_transmit` only hands
//! out what is due. So when and how often the driver polls never changes any outcome, and
//! `poll_timeout` is exact (the earliest departure, no spurious wake-ups).
//!
//! **Order.** The delayed line is FIFO: a frame never departs before the frame delayed
//! before it (netem lets jitter reorder frames, which surprises users; here only `reorder`
//! does). The express line holds frames sent ahead by `reorder`, also in order; the two
//! lines merge by (departure, arrival order). A duplicate follows its original. The price
//! of FIFO: when frames arrive closer together than the jitter spread, a late sample holds
//! back the frames behind it, so observed delays skew above the configured distribution
//! (the distribution is exact for frames spaced wider than the spread).
//!
//! **Time** only moves forward: an instant earlier than one already seen (by `handle` or
//! `poll_transmit`) is taken as the latest one seen. The pipeline never reads a clock.
//!
//! **Determinism.** Each stage draws from its own stream (`rng.rs`) and, while configured,
//! takes a fixed number of words per arriving frame whatever happens to the frame (the loss
//! stage one or two, jitter one, reorder one, duplicate one, corrupt four: a decision and a
//! bit position for the original and for a possible duplicate). So the words a stage uses
//! for the n-th arriving frame depend only on the seed, n and whether the stage is
//! configured: changing the jitter does not move a single loss, and changing the loss does
//! not change the jitter sample of any frame that survives (its departure can still move,
//! through the queue and FIFO order, which the lost frames no longer occupy).
//!
//! **Reconfigure** swaps parameters between two frames: frames already handled keep their
//! fate and departure — except that no delayed frame stays later than the new parameters
//! could delay it: a frame on the delayed line leaves by max(its exit from the rate stage,
//! now) + the new delay + the largest jitter sample (4 × jitter), order kept; so lowering
//! a huge delay takes effect at once instead of leaving the link silent behind frames
//! queued for ages. Streams, counters, loss-model memory, the reorder gap counter, the
//! token bucket's level (capped to the new burst) and the trace position (if the trace is
//! unchanged) carry over. A smaller queue limit only affects admission.
//!
//! Choices the netem model leaves open, documented where they are made: reorder follows
//! netem's gap counter (after `gap − 1` delayed frames every frame is eligible, with
//! probability p, until one goes ahead) but draws its word for every frame; `segments == 0`
//! counts as one packet; a frame's size for the rate stage is max(`wire_bytes`, data
//! length).

use std::collections::VecDeque;
use std::time::Duration;

use super::dist::standard_sample;
use super::loss::{LossModel, prob};
use super::rng::{Rng, Stage, below, open_unit, unit};
use super::shaper::{Backlog, Limit, Shaper};
use super::stats::Counters;
use super::trace::Trace;
use crate::time::Instant;
use crate::topology::{Distribution, Impairment};

/// Bytes of the Ethernet header that corruption leaves intact.
const ETH_HEADER: usize = 14;

/// A frame crossing the link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    pub data: Vec<u8>,
    /// How many wire packets this frame stands for (> 1 for a GSO super-frame the driver
    /// did not segment). Packet counters add this; 0 counts as 1.
    pub segments: u32,
    /// Bytes the frame occupies on the wire, for the rate stage (the larger of this and
    /// `data.len()` is used).
    pub wire_bytes: u64,
}

impl Packet {
    /// A single frame whose wire size is its length.
    pub fn new(data: Vec<u8>) -> Packet {
        let wire_bytes = data.len() as u64;
        Packet {
            data,
            segments: 1,
            wire_bytes,
        }
    }

    fn packets(&self) -> u64 {
        u64::from(self.segments.max(1))
    }
}

/// The per-frame parameters in force, sanitized (probabilities in [0, 1]).
#[derive(Debug)]
struct Params {
    delay_ns: u64,
    jitter_ns: u64,
    dist: Distribution,
    duplicate: f64,
    corrupt: f64,
    reorder: f64,
    gap: u32,
    limit: Limit,
}

/// Counters saturate rather than overflow (no input may panic the relay).
fn bump(counter: &mut u64, n: u64) {
    *counter = counter.saturating_add(n);
}

fn nanos(d: Option<Duration>) -> u64 {
    d.map_or(0, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64)
}

impl Params {
    fn new(cfg: &Impairment, shaper: &Shaper, mtu: u32) -> Params {
        Params {
            delay_ns: nanos(cfg.delay),
            jitter_ns: nanos(cfg.jitter),
            // Normal unless told otherwise (the brief's default; netem's is a table the
            // user loads).
            dist: cfg.distribution.unwrap_or(Distribution::Normal),
            duplicate: prob(cfg.duplicate.unwrap_or(0.0)),
            corrupt: prob(cfg.corrupt.unwrap_or(0.0)),
            reorder: cfg.reorder.map_or(0.0, |r| prob(r.p)),
            gap: cfg.reorder.map_or(1, |r| r.gap.max(1)),
            limit: Limit::resolve(cfg.queue, shaper.rate_bps(), mtu),
        }
    }
}

/// One stream per stage (see `rng.rs`).
#[derive(Debug)]
struct Streams {
    loss: Rng,
    jitter: Rng,
    reorder: Rng,
    duplicate: Rng,
    corrupt: Rng,
}

/// The random words one frame gets from the stages after loss (which draws its own).
/// Probabilities of unconfigured stages read 1.0, which is never below a probability.
struct Dice {
    jitter: u64,
    reorder: f64,
    duplicate: f64,
    corrupt: [u64; 4],
}

#[derive(Debug)]
struct Scheduled {
    departure: Instant,
    /// When the frame left the rate stage (its departure before delay and jitter).
    exit: Instant,
    seq: u64,
    pkt: Packet,
}

/// One direction of an emulated link (see the module documentation).
#[derive(Debug)]
pub struct Pipeline {
    params: Params,
    mtu: u32,
    rng: Streams,
    loss: LossModel,
    shaper: Shaper,
    backlog: Backlog,
    delayed: VecDeque<Scheduled>,
    express: VecDeque<Scheduled>,
    /// Departure of the last frame put on the delayed line.
    last_departure: Instant,
    /// netem's reorder counter: delayed frames since the last one sent ahead.
    reorder_count: u32,
    seq: u64,
    now: Instant,
    counters: Counters,
}

impl Pipeline {
    /// A pipeline for one direction. `mtu` sizes the default burst and queue; `trace`, the
    /// parsed file of `cfg.trace`, replaces `cfg.rate` when present.
    pub fn new(cfg: &Impairment, mtu: u32, seed: u64, trace: Option<Trace>) -> Pipeline {
        let shaper = Shaper::new(cfg.rate, cfg.burst, trace, mtu);
        Pipeline {
            params: Params::new(cfg, &shaper, mtu),
            mtu,
            rng: Streams {
                loss: Rng::stream(seed, Stage::Loss),
                jitter: Rng::stream(seed, Stage::Jitter),
                reorder: Rng::stream(seed, Stage::Reorder),
                duplicate: Rng::stream(seed, Stage::Duplicate),
                corrupt: Rng::stream(seed, Stage::Corrupt),
            },
            loss: LossModel::new(cfg.loss),
            shaper,
            backlog: Backlog::default(),
            delayed: VecDeque::new(),
            express: VecDeque::new(),
            last_departure: Instant::ZERO,
            reorder_count: 0,
            seq: 0,
            now: Instant::ZERO,
            counters: Counters::default(),
        }
    }

    /// Live change at `now`: applies to frames handled from now on, and re-times delayed
    /// frames that the new delay and jitter would have sent earlier; see the module
    /// documentation for what carries over. `trace` is authoritative: `None` means
    /// `cfg.rate` (or no rate) even if `cfg.trace` names a file.
    pub fn reconfigure(&mut self, now: Instant, cfg: &Impairment, trace: Option<Trace>) {
        let now = self.tick(now);
        self.loss.reconfigure(cfg.loss);
        self.shaper
            .reconfigure(cfg.rate, cfg.burst, trace, self.mtu);
        self.params = Params::new(cfg, &self.shaper, self.mtu);
        // The latest departure the new parameters allow after an exit. Exits never decrease
        // along the line, so the capped departures do not either: the order stays.
        let most = Duration::from_nanos(
            self.params
                .delay_ns
                .saturating_add(self.params.jitter_ns.saturating_mul(4)),
        );
        for s in &mut self.delayed {
            s.departure = s.departure.min(s.exit.max(now) + most);
        }
        if let Some(last) = self.delayed.back() {
            self.last_departure = last.departure;
        }
    }

    /// True when `cfg` makes per-packet decisions (loss, duplicate, corrupt, reorder with a
    /// nonzero probability): the driver must then hand in single packets (`segments == 1`),
    /// since a super-frame would be lost, duplicated or corrupted as a whole.
    pub fn needs_per_packet(cfg: &Impairment) -> bool {
        let set = |p: Option<f64>| p.is_some_and(|p| prob(p) > 0.0);
        LossModel::is_active(cfg.loss)
            || set(cfg.duplicate)
            || set(cfg.corrupt)
            || set(cfg.reorder.map(|r| r.p))
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Frames scheduled but not yet handed out.
    pub fn in_flight(&self) -> usize {
        self.delayed.len() + self.express.len()
    }

    /// A frame arrives from the sender side at `now`.
    pub fn handle(&mut self, now: Instant, mut pkt: Packet) {
        let now = self.tick(now);
        let dice = self.roll();
        let packets = pkt.packets();

        if self.loss.lose(&mut self.rng.loss) {
            bump(&mut self.counters.dropped_loss, packets);
            return;
        }

        let Some(exit) = self.rate_stage(now, &pkt) else {
            bump(&mut self.counters.dropped_queue, packets);
            return;
        };

        // Reorder, netem style: after gap − 1 delayed frames, each frame goes ahead with
        // probability p, and the count starts over when one does.
        let ahead = self.params.reorder > 0.0
            && if self.reorder_count >= self.params.gap - 1 && dice.reorder < self.params.reorder {
                self.reorder_count = 0;
                true
            } else {
                self.reorder_count = self.reorder_count.saturating_add(1);
                false
            };
        let departure = if ahead {
            if exit < self.last_departure {
                bump(&mut self.counters.reordered, packets);
            }
            exit
        } else {
            let jitter = self.jitter_ns(dice.jitter);
            let total = (i128::from(self.params.delay_ns) + jitter).max(0);
            let computed = exit + Duration::from_nanos(total.min(i128::from(u64::MAX)) as u64);
            self.last_departure = computed.max(self.last_departure);
            self.last_departure
        };

        let duplicate = (dice.duplicate < self.params.duplicate).then(|| pkt.clone());
        self.corrupt(&mut pkt, dice.corrupt[0], dice.corrupt[1]);
        self.schedule(ahead, departure, exit, pkt);
        if let Some(mut copy) = duplicate {
            bump(&mut self.counters.duplicated, packets);
            self.corrupt(&mut copy, dice.corrupt[2], dice.corrupt[3]);
            self.schedule(ahead, departure, exit, copy);
        }
    }

    /// The next frame due at or before `now`, if any (call until `None`).
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Packet> {
        let now = self.tick(now);
        let express_first = match (self.delayed.front(), self.express.front()) {
            (None, None) => return None,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(d), Some(e)) => (e.departure, e.seq) < (d.departure, d.seq),
        };
        let line = if express_first {
            &mut self.express
        } else {
            &mut self.delayed
        };
        if line.front()?.departure > now {
            return None;
        }
        let pkt = line.pop_front()?.pkt;
        bump(&mut self.counters.passed_packets, pkt.packets());
        bump(&mut self.counters.passed_bytes, pkt.data.len() as u64);
        Some(pkt)
    }

    /// The earliest instant at which `poll_transmit` has something (possibly already past),
    /// or `None` when nothing is scheduled.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let first = |line: &VecDeque<Scheduled>| line.front().map(|s| s.departure);
        match (first(&self.delayed), first(&self.express)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn tick(&mut self, now: Instant) -> Instant {
        self.now = self.now.max(now);
        self.now
    }

    fn roll(&mut self) -> Dice {
        let (p, rng) = (&self.params, &mut self.rng);
        Dice {
            jitter: if p.jitter_ns > 0 {
                rng.jitter.next_u64()
            } else {
                0
            },
            reorder: if p.reorder > 0.0 {
                rng.reorder.next_f64()
            } else {
                1.0
            },
            duplicate: if p.duplicate > 0.0 {
                rng.duplicate.next_f64()
            } else {
                1.0
            },
            corrupt: if p.corrupt > 0.0 {
                std::array::from_fn(|_| rng.corrupt.next_u64())
            } else {
                [u64::MAX; 4]
            },
        }
    }

    /// The rate stage (see `shaper.rs`): when the frame leaves the bottleneck, or `None`
    /// when the queue refuses it.
    fn rate_stage(&mut self, now: Instant, pkt: &Packet) -> Option<Instant> {
        if let Shaper::Unlimited = self.shaper {
            return Some(now); // no rate, no queue
        }
        let bytes = pkt.wire_bytes.max(pkt.data.len() as u64);
        self.backlog.expire(now);
        if !self.backlog.admits(self.params.limit, bytes, pkt.packets()) {
            return None;
        }
        let exit = self.shaper.exit(now, bytes)?;
        if exit > now {
            self.backlog.push(exit, bytes, pkt.packets());
        }
        Some(exit)
    }

    /// A signed jitter sample in ns from one word of the jitter stream.
    fn jitter_ns(&self, word: u64) -> i128 {
        if self.params.jitter_ns == 0 {
            return 0;
        }
        let z = standard_sample(self.params.dist, open_unit(word));
        // |z| ≤ 4, so this stays far inside i128; `as` saturates in any case.
        (z * self.params.jitter_ns as f64).round() as i128
    }

    /// With probability `corrupt`, flips one uniformly chosen bit after the Ethernet header.
    /// Frames of 14 bytes or less have nothing past the header and are left alone.
    fn corrupt(&mut self, pkt: &mut Packet, decide: u64, position: u64) {
        if unit(decide) >= self.params.corrupt || pkt.data.len() <= ETH_HEADER {
            return;
        }
        let bits = (pkt.data.len() - ETH_HEADER) as u64 * 8;
        let bit = below(position, bits);
        pkt.data[ETH_HEADER + (bit / 8) as usize] ^= 1 << (bit % 8);
        bump(&mut self.counters.corrupted, pkt.packets());
    }

    fn schedule(&mut self, ahead: bool, departure: Instant, exit: Instant, pkt: Packet) {
        self.seq += 1;
        let entry = Scheduled {
            departure,
            exit,
            seq: self.seq,
            pkt,
        };
        if ahead {
            self.express.push_back(entry);
        } else {
            self.delayed.push_back(entry);
        }
    }
}
