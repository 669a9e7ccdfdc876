//! Deterministic, O(1)-memory sampling of variant coordinates: variant `i` of a sweep is
//! computed from `i` alone, so any slice of a sweep (a shard, a resumed remainder) runs the
//! same variants on any machine and thread count, and nothing of size N is ever stored.

/// SplitMix64 finaliser (Steele, Lea & Flood 2014): a bijective 64-bit mixer, the standard
/// seed expander of the xoshiro generators.
#[inline]
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform number in [0, 1) for (seed, axis, variant): counter-based, no state.
pub fn uniform(seed: u64, axis: u64, i: u64) -> f64 {
    let h = splitmix64(seed ^ splitmix64(axis.wrapping_mul(0x5851_f42d_4c95_7f2d) ^ splitmix64(i)));
    (h >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A pseudo-random permutation of `0..n` evaluated at `i` (a keyed 4-round Feistel network
/// on the smallest even-bit power of two ≥ n, with cycle walking back into range;
/// Black & Rogaway 2002). Bijective on `0..n` for every key.
pub fn permute(i: u64, n: u64, key: u64) -> u64 {
    debug_assert!(i < n);
    let bits = (64 - (n.max(2) - 1).leading_zeros()).max(2);
    let half = bits.div_ceil(2);
    let mask = (1u64 << half) - 1;
    let mut x = i;
    loop {
        let (mut l, mut r) = (x >> half, x & mask);
        for round in 0..4u64 {
            let f = splitmix64(key ^ splitmix64(round ^ (r << 8))) & mask;
            (l, r) = (r, l ^ f);
        }
        x = (l << half) | r;
        if x < n {
            return x;
        }
    }
}

/// Latin-hypercube coordinate in [0, 1) of variant `i` of `n` on `axis`: the variants use
/// each of the n strata of every axis exactly once, jittered uniformly inside it.
pub fn latin_hypercube(seed: u64, axis: u64, i: u64, n: u64) -> f64 {
    let key = splitmix64(seed ^ splitmix64(!axis));
    let stratum = permute(i, n, key);
    (stratum as f64 + uniform(seed, axis, i)) / n as f64
}

/// Grid coordinates of variant `i`: mixed radix over the axis lengths, first axis slowest.
pub fn grid_index(mut i: u64, lens: &[u64], out: &mut [u64]) {
    for (k, &len) in lens.iter().enumerate().rev() {
        out[k] = i % len;
        i /= len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_bijection_for_awkward_sizes() {
        for n in [1u64, 2, 3, 7, 64, 100, 1000, 4097] {
            let mut seen = vec![false; n as usize];
            for i in 0..n {
                let p = permute(i, n, 42) as usize;
                assert!(!seen[p], "n {n}: {p} twice");
                seen[p] = true;
            }
        }
    }

    #[test]
    fn latin_hypercube_uses_every_stratum_once_per_axis() {
        let n = 37;
        for axis in 0..3 {
            let mut strata: Vec<u64> = (0..n)
                .map(|i| (latin_hypercube(7, axis, i, n) * n as f64).floor() as u64)
                .collect();
            strata.sort_unstable();
            assert_eq!(strata, (0..n).collect::<Vec<_>>());
        }
        // another seed gives another design
        assert_ne!(latin_hypercube(7, 0, 0, n), latin_hypercube(8, 0, 0, n));
    }

    #[test]
    fn uniform_draws_fill_the_unit_interval() {
        let xs: Vec<f64> = (0..10_000).map(|i| uniform(3, 1, i)).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        let mean = xs.iter().sum::<f64>() / xs.len() as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        let low = xs.iter().filter(|&&x| x < 0.1).count();
        assert!((900..1100).contains(&low), "{low}");
    }

    #[test]
    fn grid_index_is_mixed_radix_first_axis_slowest() {
        let mut out = [0; 3];
        grid_index(0, &[2, 3, 4], &mut out);
        assert_eq!(out, [0, 0, 0]);
        grid_index(1, &[2, 3, 4], &mut out);
        assert_eq!(out, [0, 0, 1]);
        grid_index(23, &[2, 3, 4], &mut out);
        assert_eq!(out, [1, 2, 3]);
        grid_index(4, &[2, 3, 4], &mut out);
        assert_eq!(out, [0, 1, 0]);
    }
}
