//! Thinning polylines before they are drawn, so that long runs do not make huge SVG files.
//!
//! - [`thin_indices`]: at most `max` points of a series, keeping the first and the last and, in
//!   each of evenly sized buckets in between, the points with the lowest and highest value
//!   (min–max decimation: spikes and dips survive, nothing is invented).
//! - [`thin_path`]: a 2-D path in pixel units: consecutive points closer than `min_px` to the
//!   last kept one are dropped, then, while more than `max` points are left, Douglas–Peucker
//!   simplification with a growing tolerance (it keeps the turning points of a zig-zag, which
//!   taking every k-th point would not). First and last points and non-finite points (where a
//!   path breaks) are always kept.

/// Most points drawn per series.
pub const MAX_POINTS: usize = 500;
/// Consecutive trajectory points closer than this (in pixels) are merged.
pub const MIN_PX: f64 = 0.5;

/// Indices (increasing) of at most `max.max(4)` of `n` points: the first, the last, and the
/// lowest and highest `key` of each bucket in between. All of them when `n <= max`.
pub fn thin_indices(n: usize, max: usize, key: impl Fn(usize) -> f64) -> Vec<usize> {
    let max = max.max(4);
    if n <= max {
        return (0..n).collect();
    }
    let buckets = (max - 2) / 2;
    let inner = n - 2;
    let mut out = Vec::with_capacity(max);
    out.push(0);
    for b in 0..buckets {
        let (lo, hi) = (1 + inner * b / buckets, 1 + inner * (b + 1) / buckets);
        if lo >= hi {
            continue;
        }
        let (mut imin, mut imax) = (lo, lo);
        for i in lo..hi {
            let v = key(i);
            if v.is_nan() {
                continue;
            }
            let (a, z) = (key(imin), key(imax));
            if a.is_nan() || v < a {
                imin = i;
            }
            if z.is_nan() || v > z {
                imax = i;
            }
        }
        out.push(imin.min(imax));
        if imin != imax {
            out.push(imin.max(imax));
        }
    }
    out.push(n - 1);
    out
}

/// [`thin_indices`] applied to a slice.
pub fn thin_by<T: Copy>(pts: &[T], max: usize, key: impl Fn(&T) -> f64) -> Vec<T> {
    thin_indices(pts.len(), max, |i| key(&pts[i])).into_iter().map(|i| pts[i]).collect()
}

fn finite(p: (f64, f64)) -> bool {
    p.0.is_finite() && p.1.is_finite()
}

/// Distance (in pixels) of `p` from the segment `a–b`.
fn seg_dist(p: (f64, f64), a: (f64, f64), b: (f64, f64)) -> f64 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 { (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / len2).clamp(0.0, 1.0) } else { 0.0 };
    let (qx, qy) = (a.0 + t * dx - p.0, a.1 + t * dy - p.1);
    (qx * qx + qy * qy).sqrt()
}

/// Douglas–Peucker over `pts[lo..=hi]` (all finite): marks the kept points.
fn douglas_peucker(pts: &[(f64, f64)], lo: usize, hi: usize, tol: f64, keep: &mut [bool]) {
    let mut stack = vec![(lo, hi)];
    while let Some((a, b)) = stack.pop() {
        keep[a] = true;
        keep[b] = true;
        if b <= a + 1 {
            continue;
        }
        let (mut far, mut dmax) = (a, -1.0);
        for (i, &p) in pts.iter().enumerate().take(b).skip(a + 1) {
            let d = seg_dist(p, pts[a], pts[b]);
            if d > dmax {
                (far, dmax) = (i, d);
            }
        }
        if dmax > tol {
            stack.push((a, far));
            stack.push((far, b));
        }
    }
}

/// Thins a path given in data units; `px` = pixels per data unit along x and y. See the module
/// docs. The result has at most `max` points, unless more non-finite points than that (each
/// kept) break it.
pub fn thin_path(pts: &[(f64, f64)], px: (f64, f64), min_px: f64, max: usize) -> Vec<(f64, f64)> {
    if pts.len() <= 2 {
        return pts.to_vec();
    }
    let to_px = |p: (f64, f64)| (p.0 * px.0, p.1 * px.1);
    // 1. Radial distance from the last kept point.
    let mut kept: Vec<(f64, f64)> = Vec::with_capacity(pts.len().min(4 * max));
    let last = pts.len() - 1;
    for (i, &p) in pts.iter().enumerate() {
        let keep = match kept.last() {
            None => true,
            Some(&q) if !finite(p) || !finite(q) || i == last => true,
            Some(&q) => {
                let (a, b) = (to_px(p), to_px(q));
                ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt() >= min_px
            }
        };
        if keep {
            kept.push(p);
        }
    }
    if kept.len() <= max {
        return kept;
    }
    // 2. Douglas–Peucker over each finite run, tolerance growing until few enough points remain.
    let scaled: Vec<(f64, f64)> = kept.iter().map(|&p| to_px(p)).collect();
    let mut tol = min_px.max(0.25);
    loop {
        let mut keep = vec![false; scaled.len()];
        let mut start: Option<usize> = None;
        for i in 0..=scaled.len() {
            let ok = i < scaled.len() && finite(scaled[i]);
            match (ok, start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    douglas_peucker(&scaled, s, i - 1, tol, &mut keep);
                    start = None;
                }
                _ => {}
            }
            if i < scaled.len() && !ok {
                keep[i] = true;
            }
        }
        let n = keep.iter().filter(|&&k| k).count();
        if n <= max || tol > 1e12 {
            return kept.iter().zip(&keep).filter(|(_, &k)| k).map(|(&p, _)| p).collect();
        }
        tol *= 1.5;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_series_are_kept_whole() {
        assert_eq!(thin_indices(5, 500, |i| i as f64), vec![0, 1, 2, 3, 4]);
        assert_eq!(thin_indices(0, 500, |_| 0.0), Vec::<usize>::new());
    }

    #[test]
    fn spikes_survive_min_max_thinning() {
        let mut v: Vec<f64> = (0..10_000).map(|i| 1.0 / (1.0 + i as f64)).collect();
        v[4321] = 1e6;
        v[8765] = -3.0;
        let idx = thin_indices(v.len(), 500, |i| v[i]);
        assert!(idx.len() <= 500);
        assert_eq!(idx[0], 0);
        assert_eq!(*idx.last().unwrap(), 9999);
        assert!(idx.contains(&4321) && idx.contains(&8765));
        assert!(idx.windows(2).all(|w| w[0] < w[1]), "increasing");
    }

    #[test]
    fn close_points_merge_and_zigzags_keep_their_turns() {
        // 1000 points within a quarter pixel of each other, then a jump.
        let mut pts: Vec<(f64, f64)> = (0..1000).map(|i| (i as f64 * 1e-4, 0.0)).collect();
        pts.push((5.0, 5.0));
        let t = thin_path(&pts, (2.0, 2.0), 0.5, 500);
        assert_eq!(t.first(), pts.first());
        assert_eq!(t.last(), pts.last());
        assert!(t.len() < 5, "{}", t.len());
        // A zig-zag of 3000 points 10 px apart: thinned to ≤ 500 points, its extreme stays.
        let zig: Vec<(f64, f64)> =
            (0..3000).map(|i| (i as f64, if i % 2 == 0 { 0.0 } else { 10.0 + (i as f64 / 300.0) })).collect();
        let t = thin_path(&zig, (1.0, 1.0), 0.5, 500);
        assert!(t.len() <= 500, "{}", t.len());
        assert_eq!((t[0], *t.last().unwrap()), (zig[0], zig[2999]));
        let top = t.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        assert!(top > 19.9, "the highest turn is kept: {top}");
    }

    #[test]
    fn paths_break_at_non_finite_points() {
        let mut pts: Vec<(f64, f64)> = (0..2000).map(|i| ((i as f64).sin() * 100.0, i as f64)).collect();
        pts[1000] = (f64::NAN, f64::NAN);
        let t = thin_path(&pts, (1.0, 1.0), 0.5, 300);
        assert!(t.len() <= 300);
        assert!(t.iter().any(|p| p.0.is_nan()), "the break is kept");
    }

    proptest! {
        #[test]
        fn thinning_bounds_the_count_and_keeps_the_ends(
            ys in proptest::collection::vec(prop_oneof![Just(f64::NAN), -1e3f64..1e3], 1..3000),
            max in 4usize..600,
        ) {
            let idx = thin_indices(ys.len(), max, |i| ys[i]);
            prop_assert!(idx.len() <= max.max(4));
            prop_assert_eq!(idx[0], 0);
            prop_assert_eq!(*idx.last().unwrap(), ys.len() - 1);
            prop_assert!(idx.windows(2).all(|w| w[0] < w[1]));
            if ys.len() <= max {
                prop_assert_eq!(idx.len(), ys.len());
            }
            let pts: Vec<(f64, f64)> = ys.iter().enumerate().map(|(i, &y)| (i as f64 * 0.3, y)).collect();
            let t = thin_path(&pts, (1.0, 1.0), 0.5, max);
            if ys.iter().all(|y| y.is_finite()) {
                prop_assert!(t.len() <= max, "{} > {}", t.len(), max);
            }
            prop_assert!(t.len() <= pts.len());
            prop_assert_eq!(t[0].0, pts[0].0);
            prop_assert_eq!(t.last().unwrap().0, pts.last().unwrap().0);
        }
    }
}
