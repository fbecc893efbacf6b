//! The one back-off: how long to wait after failures in a row before trying again.
//!
//! Used by the Bayeux client (reconnects, with jitter so a fleet does not come back in step),
//! the outbox (a message's next attempt) and the agent's session (a new link after refused
//! handshakes). Pure arithmetic: callers own their failure counts and clocks.

/// Waits that double with every failure in a row, from `initial_ms` up to `max_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub initial_ms: u64,
    pub max_ms: u64,
}

impl Backoff {
    pub const fn new(initial_ms: u64, max_ms: u64) -> Backoff {
        Backoff { initial_ms, max_ms }
    }

    /// The wait after `failures` failures in a row: `initial_ms × 2^(failures − 1)`, capped at
    /// `max_ms`; no failure yet (0) waits as long as the first.
    pub fn delay_ms(&self, failures: u32) -> u64 {
        let exp = failures.saturating_sub(1).min(32);
        self.initial_ms.saturating_mul(1u64 << exp).min(self.max_ms)
    }

    /// [`Backoff::delay_ms`] scaled by a random factor in [½, 1] from `jitter`.
    pub fn jittered_ms(&self, failures: u32, jitter: &mut Jitter) -> u64 {
        let base = self.delay_ms(failures);
        base / 2 + jitter.next_u64() % (base / 2 + 1)
    }
}

/// A small deterministic random source for jitter (xorshift64*); tests pin the seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jitter(u64);

impl Jitter {
    pub fn new(seed: u64) -> Jitter {
        // xorshift must not start at 0.
        Jitter(seed.max(1))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap() {
        let b = Backoff::new(1000, 30_000);
        let waits: Vec<u64> = (0..=7).map(|n| b.delay_ms(n)).collect();
        assert_eq!(
            waits,
            [1000, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]
        );
        assert_eq!(b.delay_ms(u32::MAX), 30_000);
    }

    #[test]
    fn jitter_stays_between_half_and_all_of_the_wait() {
        let b = Backoff::new(100, 1600);
        let mut j = Jitter::new(7);
        for n in 1..40 {
            let d = b.jittered_ms(n, &mut j);
            let base = b.delay_ms(n);
            assert!(d >= base / 2 && d <= base, "{n}: {d} of {base}");
        }
        let mut j = Jitter::new(7);
        let spread: std::collections::BTreeSet<u64> =
            (0..20).map(|_| b.jittered_ms(5, &mut j)).collect();
        assert!(spread.len() > 1, "no jitter: {spread:?}");
    }
}
