//! A tiny deterministic random generator: SplitMix64 with Box–Muller normals.
//!
//! Enough for synthetic data whose only requirement is "same seed, same
//! values, on every platform"; not for anything statistical or secure. Kept
//! in-crate so the sample bytes never change with a dependency upgrade.

use std::f64::consts::TAU;

/// SplitMix64 stream (Steele, Lea & Flood 2014) with a cached spare normal.
pub(crate) struct Rng {
    state: u64,
    spare: Option<f64>,
}

impl Rng {
    /// A generator seeded with `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            state: seed,
            spare: None,
        }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub(crate) fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (mean 0, standard deviation 1), Box–Muller.
    pub(crate) fn normal(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        // 1 - u is in (0, 1], so the logarithm is finite.
        let r = (-2.0 * (1.0 - self.uniform()).ln()).sqrt();
        let theta = TAU * self.uniform();
        self.spare = Some(r * theta.sin());
        r * theta.cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.normal().to_bits(), b.normal().to_bits());
        }
        assert_ne!(Rng::new(7).uniform(), Rng::new(8).uniform());
    }

    #[test]
    fn moments_are_plausible() {
        let mut rng = Rng::new(42);
        let n = 100_000;
        let (mut sum, mut sum2, mut umin, mut umax) = (0.0, 0.0, 1.0_f64, 0.0_f64);
        for _ in 0..n {
            let z = rng.normal();
            sum += z;
            sum2 += z * z;
            let u = rng.uniform();
            umin = umin.min(u);
            umax = umax.max(u);
        }
        let mean = sum / f64::from(n);
        let var = sum2 / f64::from(n) - mean * mean;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
        assert!((0.0..0.001).contains(&umin) && (0.999..1.0).contains(&umax));
    }
}
