//! The contact Jacobian's per-element sums in four lanes.
//!
//! Per element in contact the Jacobian takes 67 products and sums (the overlap stiffness's
//! upper triangle Σ w g gᵀ, 21; the geometric term Σ r fᵀ and Σ f·r, 10; on a mesh field
//! the surface terms, 36, from a 3×3 and a 3×6 product). Done one element at a time in
//! scalar code they were most of what a Jacobian evaluation costs beyond the wrench.
//! Here every sum is kept as four partial sums: the j-th element the evaluation adds goes
//! to lane j mod 4, the elements wait in a group of four, and a full group is added to
//! its lanes at once — in AVX2 lanes where the CPU has them, else lane by lane with the
//! same IEEE operations in the same order (no fused multiply-add: Rust never contracts),
//! so both give the same bits (a NaN's payload aside, should one arise). The lanes are
//! added (l0 + l1) + (l2 + l3) at the end. The order depends only on the sequence of
//! elements in contact, which every kernel (full, warm, vector, portable) visits in
//! element order, so they all agree bit for bit.
//!
//! The surface terms: the element force's change as its point x slides over the surface
//! (the overlap term is its change with the depth): ∂f/∂x = M = p·A·∂n/∂x + A·∂p/∂h·n ∂tᵀ
//! (the normal turning; the femoral layer thinning), x moving by δt + δω × r. Rows: force
//! M·[I, −[r]×], moment [r]×·M·[I, −[r]×]. The overlap's own gradient is taken as the
//! normal (the field's gradient norm is 1 within 0.05 in contact; its direction's
//! difference from the interpolated normal moved the running-peak Jacobian by < 0.3 %).
//! An element without derivatives (a coarse-grid sample) adds zeros, which leave every
//! lane's bits as they were (lanes start at +0 and never hold −0); with an infinite load
//! (a layer of zero thickness, which the model's ranges exclude) that would be NaN.

use crate::geometry::femur_mesh::FieldDerivative;

/// Lanes per group.
pub(crate) const LANES: usize = 4;

/// One element's inputs to the Jacobian: the overlap stiffness weight w = A·∂p/∂d, the
/// load p·A, the femoral layer's weight A·∂p/∂h (times the layer's share), the normal n
/// and the lever r (femur frame), and the surface's derivatives (zero without them).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ElementTerms {
    pub w: f64,
    pub load: f64,
    pub dload_dh: f64,
    pub n: [f64; 3],
    pub r: [f64; 3],
    pub dv: FieldDerivative,
}

/// The four lanes of every Jacobian sum, and the group waiting to be added.
#[derive(Debug, Clone)]
pub(crate) struct JacobianLanes {
    /// Whether groups are added in AVX2 lanes (same bits as the scalar lanes).
    vector: bool,
    /// Whether the surface terms are summed.
    surface: bool,
    /// Upper triangle of Σ w g gᵀ (g = (n, r × n)), per lane.
    k: [[f64; LANES]; 21],
    /// Σ r fᵀ (row-major 3×3) and Σ f·r, per lane.
    rf: [[f64; LANES]; 9],
    fr: [f64; LANES],
    /// The surface terms, row-major 6×6, per lane.
    kc: [[f64; LANES]; 36],
    /// The waiting group, structure of arrays by lane.
    group: Group,
    /// Elements waiting (0 … 3).
    waiting: usize,
}

/// A group of four elements' [`ElementTerms`], one array per quantity, indexed by lane.
#[derive(Debug, Clone, Copy, Default)]
struct Group {
    w: [f64; LANES],
    load: [f64; LANES],
    dload_dh: [f64; LANES],
    n: [[f64; LANES]; 3],
    r: [[f64; LANES]; 3],
    dn: [[[f64; LANES]; 3]; 3],
    dt: [[f64; LANES]; 3],
}

/// The summed Jacobian parts: the upper triangle of Σ w g gᵀ, Σ r fᵀ, Σ f·r and the
/// surface terms (row-major).
pub(crate) struct JacobianSums {
    pub k: [f64; 21],
    pub rf: [f64; 9],
    pub fr: f64,
    pub kc: [f64; 36],
}

impl JacobianLanes {
    pub(crate) fn new(vector: bool, surface: bool) -> Self {
        Self {
            vector,
            surface,
            k: [[0.0; LANES]; 21],
            rf: [[0.0; LANES]; 9],
            fr: [0.0; LANES],
            kc: [[0.0; LANES]; 36],
            group: Group::default(),
            waiting: 0,
        }
    }

    /// Empties the lanes for a new evaluation.
    pub(crate) fn reset(&mut self, vector: bool, surface: bool) {
        self.vector = vector;
        self.surface = surface;
        self.k = [[0.0; LANES]; 21];
        self.rf = [[0.0; LANES]; 9];
        self.fr = [0.0; LANES];
        self.kc = [[0.0; LANES]; 36];
        self.waiting = 0;
    }

    /// Whether the surface terms are summed.
    #[inline]
    pub(crate) fn surface(&self) -> bool {
        self.surface
    }

    /// Adds the next element in contact.
    #[inline]
    pub(crate) fn push(&mut self, e: &ElementTerms) {
        let l = self.waiting;
        let g = &mut self.group;
        g.w[l] = e.w;
        g.load[l] = e.load;
        g.n[0][l] = e.n[0];
        g.n[1][l] = e.n[1];
        g.n[2][l] = e.n[2];
        g.r[0][l] = e.r[0];
        g.r[1][l] = e.r[1];
        g.r[2][l] = e.r[2];
        if self.surface {
            g.dload_dh[l] = e.dload_dh;
            for i in 0..3 {
                for k in 0..3 {
                    g.dn[i][k][l] = e.dv.normal[i][k];
                }
                g.dt[i][l] = e.dv.thickness[i];
            }
        }
        self.waiting += 1;
        if self.waiting == LANES {
            self.add_group();
            self.waiting = 0;
        }
    }

    /// Adds the full waiting group to the lanes.
    #[inline]
    fn add_group(&mut self) {
        #[cfg(target_arch = "x86_64")]
        if self.vector {
            // SAFETY: `vector` is set only when AVX2 is present.
            unsafe { self.add_group_avx2() };
            return;
        }
        for l in 0..LANES {
            self.add_lane(l);
        }
    }

    /// Adds lane `l` of the waiting group: the operations of [`Self::add_group_avx2`] for
    /// one lane, in the same order.
    #[inline]
    #[allow(clippy::needless_range_loop)] // the 6×6 upper triangle and 3×6 blocks, indexed
    fn add_lane(&mut self, l: usize) {
        let gr = &self.group;
        let (w, load) = (gr.w[l], gr.load[l]);
        let n = [gr.n[0][l], gr.n[1][l], gr.n[2][l]];
        let [rx, ry, rz] = [gr.r[0][l], gr.r[1][l], gr.r[2][l]];
        let f3 = [load * n[0], load * n[1], load * n[2]];
        let g = [
            n[0],
            n[1],
            n[2],
            ry * n[2] - rz * n[1],
            rz * n[0] - rx * n[2],
            rx * n[1] - ry * n[0],
        ];
        let mut idx = 0;
        for r in 0..6 {
            let wg = w * g[r];
            for c in r..6 {
                self.k[idx][l] += wg * g[c];
                idx += 1;
            }
        }
        let r3 = [rx, ry, rz];
        for r in 0..3 {
            for c in 0..3 {
                self.rf[3 * r + c][l] += r3[r] * f3[c];
            }
        }
        self.fr[l] += f3[0] * rx + f3[1] * ry + f3[2] * rz;
        if !self.surface {
            return;
        }
        // M = load·∂n/∂x + (A·∂p/∂h)·n ∂tᵀ; MB = [M, −M[r]×] (3×6); rows of the surface
        // terms: MB, then [r]×·MB.
        let dh = gr.dload_dh[l];
        let mut mb = [[0.0; 6]; 3];
        for r in 0..3 {
            let m: [f64; 3] =
                std::array::from_fn(|c| load * gr.dn[r][c][l] + dh * n[r] * gr.dt[c][l]);
            mb[r] = [
                m[0],
                m[1],
                m[2],
                -(m[1] * rz - m[2] * ry),
                -(m[2] * rx - m[0] * rz),
                -(m[0] * ry - m[1] * rx),
            ];
        }
        for c in 0..6 {
            let (a0, a1, a2) = (mb[0][c], mb[1][c], mb[2][c]);
            self.kc[c][l] += a0;
            self.kc[6 + c][l] += a1;
            self.kc[12 + c][l] += a2;
            self.kc[18 + c][l] += ry * a2 - rz * a1;
            self.kc[24 + c][l] += rz * a0 - rx * a2;
            self.kc[30 + c][l] += rx * a1 - ry * a0;
        }
    }

    /// [`Self::add_lane`] for the four lanes at once.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(clippy::needless_range_loop)] // as add_lane
    unsafe fn add_group_avx2(&mut self) {
        use std::arch::x86_64::*;
        let ld = |a: &[f64; LANES]| _mm256_loadu_pd(a.as_ptr());
        let acc = |s: &mut [f64; LANES], v: __m256d| {
            _mm256_storeu_pd(
                s.as_mut_ptr(),
                _mm256_add_pd(_mm256_loadu_pd(s.as_ptr()), v),
            )
        };
        let (mul, sub) = (
            |a: __m256d, b: __m256d| _mm256_mul_pd(a, b),
            |a: __m256d, b: __m256d| _mm256_sub_pd(a, b),
        );
        let Self {
            k: ks,
            rf: rfs,
            fr: frs,
            kc: kcs,
            group: gr,
            surface,
            ..
        } = self;
        let (w, load) = (ld(&gr.w), ld(&gr.load));
        let n = [ld(&gr.n[0]), ld(&gr.n[1]), ld(&gr.n[2])];
        let [rx, ry, rz] = [ld(&gr.r[0]), ld(&gr.r[1]), ld(&gr.r[2])];
        let f3 = [mul(load, n[0]), mul(load, n[1]), mul(load, n[2])];
        let g = [
            n[0],
            n[1],
            n[2],
            sub(mul(ry, n[2]), mul(rz, n[1])),
            sub(mul(rz, n[0]), mul(rx, n[2])),
            sub(mul(rx, n[1]), mul(ry, n[0])),
        ];
        let mut idx = 0;
        for r in 0..6 {
            let wg = mul(w, g[r]);
            for c in r..6 {
                acc(&mut ks[idx], mul(wg, g[c]));
                idx += 1;
            }
        }
        let r3 = [rx, ry, rz];
        for r in 0..3 {
            for c in 0..3 {
                acc(&mut rfs[3 * r + c], mul(r3[r], f3[c]));
            }
        }
        let fr = _mm256_add_pd(
            _mm256_add_pd(mul(f3[0], rx), mul(f3[1], ry)),
            mul(f3[2], rz),
        );
        acc(frs, fr);
        if !*surface {
            return;
        }
        let dh = ld(&gr.dload_dh);
        let neg = |v: __m256d| _mm256_xor_pd(v, _mm256_set1_pd(-0.0));
        let mut mb = [[_mm256_setzero_pd(); 6]; 3];
        for r in 0..3 {
            let dhn = mul(dh, n[r]);
            let m: [__m256d; 3] = std::array::from_fn(|c| {
                _mm256_add_pd(mul(load, ld(&gr.dn[r][c])), mul(dhn, ld(&gr.dt[c])))
            });
            mb[r] = [
                m[0],
                m[1],
                m[2],
                neg(sub(mul(m[1], rz), mul(m[2], ry))),
                neg(sub(mul(m[2], rx), mul(m[0], rz))),
                neg(sub(mul(m[0], ry), mul(m[1], rx))),
            ];
        }
        for c in 0..6 {
            let (a0, a1, a2) = (mb[0][c], mb[1][c], mb[2][c]);
            acc(&mut kcs[c], a0);
            acc(&mut kcs[6 + c], a1);
            acc(&mut kcs[12 + c], a2);
            acc(&mut kcs[18 + c], sub(mul(ry, a2), mul(rz, a1)));
            acc(&mut kcs[24 + c], sub(mul(rz, a0), mul(rx, a2)));
            acc(&mut kcs[30 + c], sub(mul(rx, a1), mul(ry, a0)));
        }
    }

    /// Adds the elements still waiting (lane by lane) and sums the lanes,
    /// (l0 + l1) + (l2 + l3).
    pub(crate) fn finish(&mut self) -> JacobianSums {
        for l in 0..self.waiting {
            self.add_lane(l);
        }
        let sum = |s: &[f64; LANES]| (s[0] + s[1]) + (s[2] + s[3]);
        JacobianSums {
            k: std::array::from_fn(|i| sum(&self.k[i])),
            rf: std::array::from_fn(|i| sum(&self.rf[i])),
            fr: sum(&self.fr),
            kc: std::array::from_fn(|i| sum(&self.kc[i])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Elements with scattered values: the vector and lane-by-lane paths give the same
    /// bits, and the sums equal a plain sum within rounding.
    #[test]
    fn vector_and_scalar_lanes_agree_bit_for_bit() {
        let mut uniform = crate::math::uniform_stream(0x2545_f491_4f6c_dd1d);
        let mut next = || uniform() * 2.0 - 1.0;
        let elements: Vec<ElementTerms> = (0..103)
            .map(|_| ElementTerms {
                w: 100.0 * next().abs(),
                load: 10.0 * next().abs(),
                dload_dh: next(),
                n: [next(), next(), next()],
                r: [20.0 * next(), 20.0 * next(), 20.0 * next()],
                dv: FieldDerivative {
                    normal: [
                        [next(), next(), next()],
                        [next(), next(), next()],
                        [next(), next(), next()],
                    ],
                    thickness: [next(), next(), next()],
                },
            })
            .collect();
        let run = |vector: bool| {
            let mut lanes = JacobianLanes::new(!vector, false);
            lanes.reset(vector, true);
            for e in &elements {
                lanes.push(e);
            }
            lanes.finish()
        };
        let scalar = run(false);
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            let v = run(true);
            assert!(scalar
                .k
                .iter()
                .zip(&v.k)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
            assert!(scalar
                .rf
                .iter()
                .zip(&v.rf)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
            assert_eq!(scalar.fr.to_bits(), v.fr.to_bits());
            assert!(scalar
                .kc
                .iter()
                .zip(&v.kc)
                .all(|(a, b)| a.to_bits() == b.to_bits()));
        }
        // Against a plain sum: the first entry of Σ w g gᵀ is Σ w n_x².
        let plain: f64 = elements.iter().map(|e| e.w * e.n[0] * e.n[0]).sum();
        assert!((scalar.k[0] - plain).abs() <= 1e-12 * plain.abs().max(1.0));
        // Σ f·r.
        let plain: f64 = elements
            .iter()
            .map(|e| (0..3).map(|i| e.load * e.n[i] * e.r[i]).sum::<f64>())
            .sum();
        assert!((scalar.fr - plain).abs() <= 1e-11 * plain.abs().max(1.0));
    }
}
