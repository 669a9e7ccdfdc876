//! Patches of contact elements: spatially compact groups, stored contiguously, so the
//! contact kernel can reject a whole group with one bound test before it looks at any of
//! its elements (most of a real patella's 6,052 cartilage elements are millimetres away
//! from the femur at any pose).
//!
//! The grouping is a k-d partition of the element centroids (split at the median of the
//! widest axis, recursively) until a group has at most `max_count` elements and fits in a
//! ball of `max_radius_mm` about its centroid. The leaves, in depth-first order, are the
//! patches; ordering the elements by it also gives the kernel contiguous, cache-friendly
//! element data.

/// One patch: a contiguous range of elements and a ball that contains their centroids.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Patch {
    /// First element (inclusive) and one past the last, in the mesh's element order.
    pub start: u32,
    /// One past the last element.
    pub end: u32,
    /// Centre of the ball, patella frame, mm.
    pub centre: [f64; 3],
    /// Radius of the ball, mm: every element centroid of the patch lies within it.
    pub radius: f64,
}

/// Largest number of elements per patch: small enough that a patch at the contact's edge
/// wastes little work, large enough that the per-patch test is amortised (64 elements of
/// the Lenhart patella cover about 16 mm²).
pub const PATCH_MAX_ELEMENTS: usize = 64;
/// Largest patch radius, mm. The femoral field bounds a patch by its centre's distance less
/// the field's gradient bound times the radius, so a patch is rejected once it is about
/// this far beyond the early-out distance: 1.5 mm (≈ 25 elements of the Lenhart patella)
/// rejects most of the elements 2 mm or more from the femur, at a few hundred patch tests.
pub const PATCH_MAX_RADIUS_MM: f64 = 1.5;

/// The k-d order of `points` (patella frame, mm) and the patch ranges in that order: the
/// element `order[k]` of the input goes to position `k`. Deterministic (ties broken by
/// index).
pub fn kd_order(
    points: &[[f64; 3]],
    max_count: usize,
    max_radius: f64,
) -> (Vec<u32>, Vec<[u32; 2]>) {
    let mut order: Vec<u32> = (0..points.len() as u32).collect();
    let mut ranges = Vec::new();
    split(
        points,
        &mut order,
        0,
        max_count.max(1),
        max_radius,
        &mut ranges,
    );
    (order, ranges)
}

/// The centroid of the listed points and the radius of the ball about it that holds them.
pub fn bounding_ball(
    points: &[[f64; 3]],
    idx: impl Iterator<Item = usize> + Clone,
) -> ([f64; 3], f64) {
    let mut c = [0.0; 3];
    let mut n = 0usize;
    for i in idx.clone() {
        for k in 0..3 {
            c[k] += points[i][k];
        }
        n += 1;
    }
    if n == 0 {
        return (c, 0.0);
    }
    for v in &mut c {
        *v /= n as f64;
    }
    let r2 = idx
        .map(|i| (0..3).map(|k| (points[i][k] - c[k]).powi(2)).sum::<f64>())
        .fold(0.0, f64::max);
    (c, r2.sqrt())
}

fn split(
    points: &[[f64; 3]],
    order: &mut [u32],
    offset: usize,
    max_count: usize,
    max_radius: f64,
    ranges: &mut Vec<[u32; 2]>,
) {
    let (_, radius) = bounding_ball(points, order.iter().map(|&i| i as usize));
    if order.len() <= 1 || (order.len() <= max_count && radius <= max_radius) {
        ranges.push([offset as u32, (offset + order.len()) as u32]);
        return;
    }
    let mut lo = [f64::INFINITY; 3];
    let mut hi = [f64::NEG_INFINITY; 3];
    for &i in order.iter() {
        for k in 0..3 {
            lo[k] = lo[k].min(points[i as usize][k]);
            hi[k] = hi[k].max(points[i as usize][k]);
        }
    }
    let axis = (0..3)
        .max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b])))
        .unwrap_or(0);
    order.sort_by(|&a, &b| {
        points[a as usize][axis]
            .total_cmp(&points[b as usize][axis])
            .then(a.cmp(&b))
    });
    let mid = order.len() / 2;
    let (left, right) = order.split_at_mut(mid);
    split(points, left, offset, max_count, max_radius, ranges);
    split(points, right, offset + mid, max_count, max_radius, ranges);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patches_cover_every_point_once_within_their_limits() {
        // A curved sheet of 2,500 points over 40 × 40 mm.
        let pts: Vec<[f64; 3]> = (0..2500)
            .map(|i| {
                let (u, v) = ((i % 50) as f64 * 0.8, (i / 50) as f64 * 0.8);
                [0.01 * (u - 20.0).powi(2), u, v]
            })
            .collect();
        let (order, ranges) = kd_order(&pts, 64, 3.0);
        let mut seen = vec![false; pts.len()];
        for &i in &order {
            assert!(!seen[i as usize]);
            seen[i as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(ranges.first().unwrap()[0], 0);
        assert_eq!(ranges.last().unwrap()[1] as usize, pts.len());
        for w in ranges.windows(2) {
            assert_eq!(w[0][1], w[1][0], "ranges are contiguous");
        }
        for r in &ranges {
            let idx = (r[0]..r[1]).map(|k| order[k as usize] as usize);
            let (_, radius) = bounding_ball(&pts, idx);
            assert!(r[1] - r[0] <= 64);
            assert!(radius <= 3.0, "{radius}");
        }
        // Deterministic.
        assert_eq!(kd_order(&pts, 64, 3.0), (order, ranges));
    }
}
