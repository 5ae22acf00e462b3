//! The engine: runs any [`Algorithm`] over named tensors with parameter groups, schedules,
//! gradient checks, a chunked parallel fused pass and named state.

use crate::algorithm::{Algorithm, Buffer, Chunk, StepCtx, TensorStep, MAX_ACC, MAX_BUFFERS};
use crate::error::{OptimError, Result};
use crate::float::Float;
use crate::hyper::{Hyper, Spec};
use crate::layout::Layout;
use crate::optimizer::{NonFinite, OptimConfig, Optimizer, StepOutcome};
pub use crate::schedule::Scheduled;
use crate::simd::Simd;
use crate::state::{GroupState, OptimizerState, TensorState};
use std::marker::PhantomData;

/// Elements per chunk of the parallel pass (f32: 512 KiB per stream). Chosen by measurement:
/// 2^17 was 10-15% faster in total than 2^15 over 1x10M and 200x50k, 1 and 2 threads
/// (`optlab bench step`, alternating builds).
pub const CHUNK: usize = 1 << 17;
/// Below this many elements in a step, everything runs on the calling thread.
pub(crate) const PAR_MIN: usize = 1 << 16;

pub(crate) struct Group {
    pub(crate) base: Hyper,
    pub(crate) eff: Hyper,
    pub(crate) scheduled: Vec<Scheduled>,
    pub(crate) patterns: Vec<String>,
}

impl Group {
    /// The group as saved in a state file.
    pub(crate) fn to_state(&self) -> GroupState {
        GroupState { hyper: self.base.to_pairs(), scheduled: self.scheduled.clone(), patterns: self.patterns.clone() }
    }

    /// A group restored from a state file, checked against the group it replaces.
    pub(crate) fn from_state(gs: &GroupState, spec: &'static Spec, current: &Group) -> Result<Group> {
        let mut base = Hyper::defaults(spec);
        for (k, v) in &gs.hyper {
            base.set_str(k, v).map_err(|e| OptimError::State(format!("group hyperparameters: {e}")))?;
        }
        let mut scheduled = gs.scheduled.clone();
        for s in &mut scheduled {
            s.index = base.index_of(&s.key).map_err(|e| OptimError::State(format!("schedule: {e}")))?;
        }
        if gs.patterns != current.patterns {
            return Err(OptimError::State(format!(
                "parameter group tensors {:?} in the state, {:?} here",
                gs.patterns, current.patterns
            )));
        }
        Ok(Group { eff: base.clone(), base, scheduled, patterns: gs.patterns.clone() })
    }
}

struct Slot<T> {
    group: usize,
    buffers: Vec<Buffer>,
    bufs: Vec<Vec<T>>,
    scalar_names: &'static [(&'static str, f64)],
    scalars: Vec<f64>,
}

#[derive(Clone, Copy)]
struct Ptrs<T> {
    p: *mut T,
    g: *const T,
    h: *const T,
    s: [*mut T; MAX_BUFFERS],
}
unsafe impl<T: Send> Send for Ptrs<T> {}
unsafe impl<T: Sync> Sync for Ptrs<T> {}

#[derive(Clone, Copy)]
struct ChunkDef {
    tensor: u32,
    start: usize,
    end: usize,
}

/// Runs an [`Algorithm`] as an [`Optimizer`].
pub struct Engine<T: Float, A: Algorithm<T>> {
    alg: A,
    layout: Layout,
    groups: Vec<Group>,
    slots: Vec<Slot<T>>,
    chunks: Vec<ChunkDef>,
    chunk_acc: Vec<[f64; MAX_ACC]>,
    chunk_bad: Vec<usize>,
    tensor_acc: Vec<[f64; MAX_ACC]>,
    coefs: Vec<A::Coef>,
    ptrs: Vec<Ptrs<T>>,
    step: u64,
    epoch: u64,
    non_finite: NonFinite,
    clip_norm: Option<f64>,
    clip_value: Option<f64>,
    /// Global gradient norm of the last step, before clipping.
    grad_norm: Option<f64>,
    /// Per-chunk sums of squares of the gradient, from the scan.
    chunk_sq: Vec<f64>,
    /// Clipped gradients (allocated only when clipping is configured).
    clipped: Vec<Vec<T>>,
    pool: Option<rayon::ThreadPool>,
    threads: Option<usize>,
    /// Replaced hyperparameters (group, index in the spec, value): [`Optimizer::override_hyper`].
    overrides: Vec<(usize, usize, f64)>,
    total_len: usize,
    simd: Simd,
    _t: PhantomData<T>,
}

/// Whether a tensor name matches a group pattern: exact, or `*` as a wildcard for any run of
/// characters (`layer1.*`, `*.bias`).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    fn rec(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| rec(rest, &n[i..])),
            Some((c, rest)) => n.first() == Some(c) && rec(rest, &n[1..]),
        }
    }
    rec(pattern.as_bytes(), name.as_bytes())
}

pub(crate) fn build_groups(
    spec: &'static Spec,
    cfg: &OptimConfig,
    layout: &Layout,
) -> Result<(Vec<Group>, Vec<usize>)> {
    let mut default = Hyper::defaults(spec);
    for (k, v) in &cfg.set {
        default.set_str(k, v)?;
    }
    let mut groups = vec![Group { base: default.clone(), eff: default, scheduled: Vec::new(), patterns: Vec::new() }];
    for (gi, g) in cfg.groups.iter().enumerate() {
        if g.tensors.is_empty() {
            return Err(OptimError::Group(format!("group {} lists no tensors", gi + 1)));
        }
        let mut hp = groups[0].base.clone();
        for (k, v) in &g.set {
            hp.set_str(k, v)
                .map_err(|e| OptimError::Group(format!("group {} ({}): {e}", gi + 1, g.tensors.join(", "))))?;
        }
        groups.push(Group { base: hp.clone(), eff: hp, scheduled: Vec::new(), patterns: g.tensors.clone() });
    }
    // Schedules: the default group's apply to every group unless a group schedules the key itself.
    for (gi, group) in groups.iter_mut().enumerate() {
        let mut list: Vec<Scheduled> = Vec::new();
        let own = if gi == 0 { &cfg.schedules } else { &cfg.groups[gi - 1].schedules };
        for s in cfg.schedules.iter().chain(own.iter()) {
            let idx = group.base.index_of(&s.key)?;
            if !spec.hypers[idx].schedulable() {
                return Err(OptimError::NotSchedulable { optimizer: spec.name.into(), key: s.key.clone() });
            }
            let mut s = s.clone();
            s.index = idx;
            list.retain(|x| x.key != s.key);
            list.push(s);
        }
        group.scheduled = list;
    }
    // Tensor -> group: the first group whose pattern matches, else the default group.
    let mut assign = vec![0usize; layout.len()];
    let mut used = vec![false; groups.len()];
    for (ti, t) in layout.tensors().iter().enumerate() {
        if let Some(gi) = groups.iter().skip(1).position(|g| g.patterns.iter().any(|p| pattern_matches(p, &t.name))) {
            assign[ti] = gi + 1;
            used[gi + 1] = true;
        }
    }
    for (gi, g) in groups.iter().enumerate().skip(1) {
        if !used[gi] {
            return Err(OptimError::Group(format!("group {gi} (tensors {}) matches no tensor", g.patterns.join(", "))));
        }
    }
    Ok((groups, assign))
}

impl<T: Float, A: Algorithm<T>> Engine<T, A> {
    /// Builds the engine for a layout and a configuration.
    pub fn new(layout: Layout, cfg: &OptimConfig) -> Result<Self> {
        let spec = A::spec();
        cfg.check_clipping()?;
        let (mut groups, assign) = build_groups(spec, cfg, &layout)?;
        for g in &mut groups {
            A::validate(&g.base)?;
            // Implied schedules (unless the user scheduled the key).
            for (key, sch, per_epoch) in A::implied_schedules(&g.base) {
                if g.scheduled.iter().all(|s| s.key != key) {
                    let index = g.base.index_of(key)?;
                    g.scheduled.push(Scheduled { key: key.to_string(), schedule: sch, per_epoch, index });
                }
            }
        }
        let alg = A::new(&groups[0].base)?;
        let mut slots = Vec::with_capacity(layout.len());
        let mut chunks = Vec::new();
        for (ti, t) in layout.tensors().iter().enumerate() {
            let hp = &groups[assign[ti]].base;
            A::check_tensor(hp, &t.name, &t.shape)?;
            let declared = A::tensor_buffers(hp, &t.shape);
            assert!(declared.len() <= MAX_BUFFERS, "{} declares more than {MAX_BUFFERS} buffers", spec.name);
            assert!(
                A::WHOLE_TENSOR || declared.iter().all(|(_, n)| *n == t.len),
                "{}: element-wise kernels need buffers as long as the tensor",
                spec.name
            );
            let bufs = declared.iter().map(|(b, n)| vec![T::of(b.init); *n]).collect();
            let buffers = declared.into_iter().map(|(b, _)| b).collect();
            let scalar_names = A::scalars(hp);
            slots.push(Slot {
                group: assign[ti],
                buffers,
                bufs,
                scalar_names,
                scalars: scalar_names.iter().map(|s| s.1).collect(),
            });
            let mut s = 0;
            while s < t.len {
                let e = (s + CHUNK).min(t.len);
                chunks.push(ChunkDef { tensor: ti as u32, start: s, end: e });
                s = e;
            }
        }
        let pool = match cfg.threads {
            Some(n) if n > 1 => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| OptimError::Malformed(format!("cannot start {n} threads: {e}")))?,
            ),
            _ => None,
        };
        let total_len = layout.total_len();
        let n = layout.len();
        let n_chunks = chunks.len();
        let clipped = if cfg.clip_norm.is_some() || cfg.clip_value.is_some() {
            layout.tensors().iter().map(|t| vec![T::ZERO; t.len]).collect()
        } else {
            Vec::new()
        };
        Ok(Engine {
            alg,
            layout,
            groups,
            slots,
            chunk_acc: vec![[0.0; MAX_ACC]; chunks.len()],
            chunk_bad: vec![usize::MAX; chunks.len()],
            tensor_acc: vec![[0.0; MAX_ACC]; n],
            chunks,
            coefs: Vec::with_capacity(n),
            ptrs: Vec::with_capacity(n),
            step: 0,
            epoch: 0,
            non_finite: cfg.non_finite,
            clip_norm: cfg.clip_norm,
            clip_value: cfg.clip_value,
            grad_norm: None,
            chunk_sq: vec![0.0; n_chunks],
            clipped,
            pool,
            threads: cfg.threads,
            overrides: Vec::new(),
            total_len,
            simd: cfg.simd.resolve(),
            _t: PhantomData,
        })
    }

    fn parallel(&self) -> bool {
        self.total_len >= PAR_MIN && self.threads != Some(1) && self.chunks.len() > 1
    }

    /// Runs `f` over every chunk index, in parallel where worthwhile, inside one parallel region.
    fn for_chunks<F: Fn(usize) + Sync + Send>(&self, f: F) {
        if !self.parallel() {
            for c in 0..self.chunks.len() {
                f(c);
            }
            return;
        }
        use rayon::prelude::*;
        let run = || (0..self.chunks.len()).into_par_iter().with_min_len(1).for_each(&f);
        match &self.pool {
            Some(p) => p.install(run),
            None => run(),
        }
    }

    fn check_inputs(&self, params: &[&mut [T]], grads: &[&[T]], hess: Option<&[&[T]]>) -> Result<()> {
        let n = self.layout.len();
        if params.len() != n || grads.len() != n {
            return Err(OptimError::Malformed(format!(
                "step got {} parameter and {} gradient tensors, the optimizer was built for {n} ({})",
                params.len(),
                grads.len(),
                self.layout.names().join(", ")
            )));
        }
        let spec = A::spec();
        if spec.needs_hessian && hess.is_none() {
            return Err(OptimError::MissingHessian {
                optimizer: spec.name.into(),
                tensor: self.layout.tensors().first().map(|t| t.name.clone()).unwrap_or_default(),
            });
        }
        if let Some(h) = hess {
            if h.len() != n {
                return Err(OptimError::Malformed(format!("step got {} Hessian diagonals for {n} tensors", h.len())));
            }
        }
        for (ti, t) in self.layout.tensors().iter().enumerate() {
            let check = |what: &str, len: usize| {
                if len != t.len {
                    Err(OptimError::Tensor {
                        tensor: t.name.clone(),
                        what: format!("{what} has {len} elements, expected {} (shape {:?})", t.len, t.shape),
                    })
                } else {
                    Ok(())
                }
            };
            check("parameter", params[ti].len())?;
            check("gradient", grads[ti].len())?;
            if spec.needs_hessian {
                check("Hessian diagonal", hess.unwrap()[ti].len())?;
            }
        }
        Ok(())
    }

    /// Finds the first non-finite gradient (or Hessian) element, scanning chunks in parallel, and
    /// in the same pass the sum of squares of the gradient per chunk (into `chunk_sq`).
    fn find_non_finite(&mut self) -> Option<(usize, usize, bool)> {
        let ptrs = &self.ptrs;
        let chunks = &self.chunks;
        let bad_ptr = SendPtr(self.chunk_bad.as_mut_ptr());
        let sq_ptr = SendPtr(self.chunk_sq.as_mut_ptr());
        let with_h = A::spec().needs_hessian;
        let simd = self.simd;
        self.for_chunks(|c| {
            let d = chunks[c];
            let pt = ptrs[d.tensor as usize];
            let len = d.end - d.start;
            // SAFETY: chunk ranges are within the tensor, checked against the layout.
            let g = unsafe { std::slice::from_raw_parts(pt.g.add(d.start), len) };
            let (bad, sq) = scan_sq::<T>(simd, g);
            unsafe { *sq_ptr.get().add(c) = sq };
            let mut bad = bad.map(|i| i * 2);
            if bad.is_none() && with_h {
                let h = unsafe { std::slice::from_raw_parts(pt.h.add(d.start), len) };
                bad = scan::<T>(simd, h).map(|i| i * 2 + 1);
            }
            unsafe { *bad_ptr.get().add(c) = bad.unwrap_or(usize::MAX) };
        });
        self.chunk_bad
            .iter()
            .zip(&self.chunks)
            .find(|(b, _)| **b != usize::MAX)
            .map(|(b, d)| (d.tensor as usize, d.start + b / 2, b % 2 == 1))
    }

    /// Clips the gradients into `clipped` (by value, then by global norm) and points the step's
    /// gradient pointers at the clipped copies of the tensors it changed. By norm, nothing is
    /// copied on steps where the norm is within the limit.
    fn clip(&mut self) {
        let simd = self.simd;
        let mut coef = match (self.clip_norm, self.grad_norm) {
            (Some(m), Some(n)) => Some(m / (n + 1e-6)).filter(|c| *c < 1.0),
            _ => None,
        };
        let dst: Vec<SendPtr<T>> = self.clipped.iter_mut().map(|b| SendPtr(b.as_mut_ptr())).collect();
        if let Some(v) = self.clip_value {
            let with_sq = self.clip_norm.is_some();
            let sq_ptr = SendPtr(self.chunk_sq.as_mut_ptr());
            let (ptrs, chunks) = (&self.ptrs, &self.chunks);
            let (lo, hi) = (T::of(-v), T::of(v));
            self.for_chunks(|c| {
                let d = chunks[c];
                let len = d.end - d.start;
                // SAFETY: chunk ranges are within the tensor; chunks are disjoint.
                let g = unsafe { std::slice::from_raw_parts(ptrs[d.tensor as usize].g.add(d.start), len) };
                let out = unsafe { std::slice::from_raw_parts_mut(dst[d.tensor as usize].get().add(d.start), len) };
                for (o, &x) in out.iter_mut().zip(g) {
                    *o = if x < lo {
                        lo
                    } else if x > hi {
                        hi
                    } else {
                        x
                    };
                }
                if with_sq {
                    let (_, sq) = scan_sq::<T>(simd, out);
                    unsafe { *sq_ptr.get().add(c) = sq };
                }
            });
            if let Some(m) = self.clip_norm {
                let n = self.chunk_sq.iter().sum::<f64>().sqrt();
                coef = Some(m / (n + 1e-6)).filter(|c| *c < 1.0);
            }
            for (p, b) in self.ptrs.iter_mut().zip(&self.clipped) {
                p.g = b.as_ptr();
            }
        }
        if let Some(k) = coef {
            let k = T::of(k);
            let (ptrs, chunks) = (&self.ptrs, &self.chunks);
            self.for_chunks(|c| {
                let d = chunks[c];
                let len = d.end - d.start;
                // SAFETY: as above; source and destination may be the same buffer (in place).
                let src = ptrs[d.tensor as usize].g;
                let out = dst[d.tensor as usize].get();
                for i in d.start..d.start + len {
                    unsafe { *out.add(i) = *src.add(i) * k };
                }
            });
            for (p, b) in self.ptrs.iter_mut().zip(&self.clipped) {
                p.g = b.as_ptr();
            }
        }
    }

    fn effective_hyper(&mut self) -> Result<()> {
        for g in &mut self.groups {
            // `eff` equals `base` except for scheduled keys, which are overwritten below.
            for s in &g.scheduled {
                let t = if s.per_epoch { self.epoch } else { self.step };
                let base = g.base.f(s.index);
                let v = s.schedule.value(base, t);
                g.base.check_scheduled(s.index, v)?;
                g.eff.values[s.index] = crate::hyper::Value::F(v);
            }
        }
        for &(g, i, v) in &self.overrides {
            self.groups[g].eff.values[i] = crate::hyper::Value::F(v);
        }
        Ok(())
    }
}

/// A pointer shared by parallel tasks that write disjoint elements through it.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr<T>(pub(crate) *mut T);
// SAFETY: every user writes only elements no other task touches (see the uses).
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
impl<T> SendPtr<T> {
    #[inline(always)]
    fn get(self) -> *mut T {
        self.0
    }
    /// The pointer `i` elements on (a method, so that closures capture the whole `SendPtr`).
    #[inline(always)]
    pub(crate) fn at(self, i: usize) -> *mut T {
        self.0.wrapping_add(i)
    }
}

/// Index of the first non-finite element, found with a vectorisable scan.
#[inline(always)]
pub(crate) fn first_non_finite<T: Float>(xs: &[T]) -> Option<usize> {
    const B: usize = 1024;
    for (bi, block) in xs.chunks(B).enumerate() {
        if !T::all_finite(block) {
            return Some(bi * B + block.iter().position(|x| !x.is_finite()).unwrap_or(0));
        }
    }
    None
}

impl<T: Float, A: Algorithm<T>> Optimizer<T> for Engine<T, A> {
    fn spec(&self) -> &'static Spec {
        A::spec()
    }

    fn layout(&self) -> &Layout {
        &self.layout
    }

    fn step(&mut self, params: &mut [&mut [T]], grads: &[&[T]], hess: Option<&[&[T]]>) -> Result<StepOutcome> {
        self.check_inputs(params, grads, hess)?;
        let spec = A::spec();
        self.ptrs.clear();
        for ti in 0..self.slots.len() {
            let slot = &mut self.slots[ti];
            let mut s = [std::ptr::null_mut(); MAX_BUFFERS];
            for (k, b) in slot.bufs.iter_mut().enumerate() {
                s[k] = b.as_mut_ptr();
            }
            let h = match hess {
                Some(h) if spec.needs_hessian => h[ti].as_ptr(),
                _ => std::ptr::null(),
            };
            self.ptrs.push(Ptrs { p: params[ti].as_mut_ptr(), g: grads[ti].as_ptr(), h, s });
        }
        let need_norm = self.non_finite != NonFinite::Unchecked || self.clip_norm.is_some();
        let found = if need_norm { self.find_non_finite() } else { None };
        // Summed in a fixed order, so the norm does not depend on the thread count.
        self.grad_norm = need_norm.then(|| self.chunk_sq.iter().sum::<f64>().sqrt());
        if self.non_finite != NonFinite::Unchecked {
            if let Some((ti, idx, in_h)) = found {
                let name = self.layout.tensors()[ti].name.clone();
                let v = if in_h { hess.unwrap()[ti][idx] } else { grads[ti][idx] };
                match self.non_finite {
                    NonFinite::Skip => return Ok(StepOutcome::Skipped { tensor: name, index: idx }),
                    _ => {
                        let what = if in_h { "Hessian diagonal" } else { "gradient" };
                        return Err(OptimError::NonFinite { what, tensor: name, index: idx, value: format!("{v}") });
                    }
                }
            }
        }
        self.effective_hyper()?;
        if self.clip_norm.is_some() || self.clip_value.is_some() {
            self.clip();
        }
        let step = self.step + 1;

        // Reduction pre-pass (only optimizers that declare one pay for it).
        if A::REDUCE > 0 {
            let acc_ptr = SendPtr(self.chunk_acc.as_mut_ptr());
            {
                let (ptrs, chunks, slots, groups, alg, simd) =
                    (&self.ptrs, &self.chunks, &self.slots, &self.groups, &self.alg, self.simd);
                self.for_chunks(|c| {
                    let d = chunks[c];
                    let mut acc = [0.0; MAX_ACC];
                    let chunk = unsafe {
                        make_chunk(&ptrs[d.tensor as usize], slots[d.tensor as usize].bufs.len(), d.start, d.end)
                    };
                    reduce::<T, A>(simd, alg, &groups[slots[d.tensor as usize].group].eff, step, chunk, &mut acc);
                    unsafe { *acc_ptr.get().add(c) = acc };
                });
            }
            // Summed in a fixed order, so results do not depend on the thread count.
            let acc_t = &mut self.tensor_acc;
            acc_t.iter_mut().for_each(|a| *a = [0.0; MAX_ACC]);
            let mut total = [0.0; MAX_ACC];
            for (d, part) in self.chunks.iter().zip(&self.chunk_acc) {
                for (a, p) in acc_t[d.tensor as usize].iter_mut().zip(part) {
                    *a += p;
                }
            }
            for a in acc_t.iter() {
                for (t, v) in total.iter_mut().zip(a) {
                    *t += v;
                }
            }
            self.alg.begin_step(&self.groups[0].eff, step, &total)?;
        }

        self.coefs.clear();
        for (ti, slot) in self.slots.iter_mut().enumerate() {
            let t = &self.layout.tensors()[ti];
            let ctx = StepCtx { step, len: t.len, tensor: &t.name, acc: self.tensor_acc[ti] };
            let c = self.alg.prepare(&self.groups[slot.group].eff, &ctx, &mut slot.scalars)?;
            self.coefs.push(c);
        }
        if A::WHOLE_TENSOR {
            let (ptrs, slots, coefs, simd, alg) = (&self.ptrs, &self.slots, &self.coefs, self.simd, &self.alg);
            let parallel = self.threads != Some(1);
            let tensors = self.layout.tensors();
            // One tensor's update; tensors are independent (each writes only its own parameter
            // and buffers), so with several threads they run in parallel, and each tensor may
            // split its own work further (`TensorStep::parallel`).
            let one = |ti: usize| {
                let t = &tensors[ti];
                let pt = &ptrs[ti];
                let mut s: [&mut [T]; MAX_BUFFERS] = [&mut [], &mut [], &mut [], &mut []];
                for (k, b) in slots[ti].bufs.iter().enumerate() {
                    // SAFETY: the pointer is this buffer's, of this length, and no other slice of it lives.
                    s[k] = unsafe { std::slice::from_raw_parts_mut(pt.s[k], b.len()) };
                }
                // SAFETY: parameter and gradient lengths were checked against the layout.
                let ts = unsafe {
                    TensorStep {
                        name: &t.name,
                        shape: &t.shape,
                        p: std::slice::from_raw_parts_mut(pt.p, t.len),
                        g: std::slice::from_raw_parts(pt.g, t.len),
                        s,
                        parallel,
                        simd,
                    }
                };
                update_tensor::<T, A>(simd, alg, &coefs[ti], ts);
            };
            let run = || {
                if parallel && tensors.len() > 1 {
                    use rayon::prelude::*;
                    (0..tensors.len()).into_par_iter().for_each(one);
                } else {
                    (0..tensors.len()).for_each(one);
                }
            };
            match &self.pool {
                Some(p) if parallel => p.install(run),
                _ => run(),
            }
        } else {
            let (ptrs, chunks, slots, coefs, simd) = (&self.ptrs, &self.chunks, &self.slots, &self.coefs, self.simd);
            self.for_chunks(|c| {
                let d = chunks[c];
                let ti = d.tensor as usize;
                // SAFETY: chunks are disjoint ranges of distinct tensors' buffers, all of the length checked above.
                let chunk = unsafe { make_chunk(&ptrs[ti], slots[ti].bufs.len(), d.start, d.end) };
                update::<T, A>(simd, &coefs[ti], chunk);
            });
        }
        self.step = step;
        Ok(StepOutcome::Applied)
    }

    /// [`Algorithm::tensor_accesses`] averaged over the tensors, weighted by their sizes.
    fn bytes_per_param(&self) -> f64 {
        let hp = &self.groups[0].base;
        let tensors = self.layout.tensors();
        let total: usize = tensors.iter().map(|t| t.len).sum();
        if total == 0 {
            return (A::accesses_per_param(hp) * T::BYTES) as f64;
        }
        let acc: usize = tensors.iter().map(|t| A::tensor_accesses(hp, &t.shape) * t.len).sum();
        (acc * T::BYTES) as f64 / total as f64
    }

    fn state_elements(&self) -> usize {
        self.slots.iter().flat_map(|s| s.bufs.iter()).map(Vec::len).sum()
    }

    fn last_grad_norm(&self) -> Option<f64> {
        self.grad_norm
    }

    fn steps_taken(&self) -> u64 {
        self.step
    }

    fn override_hyper(&mut self, group: usize, key: &str, value: Option<f64>) -> Result<()> {
        let n = self.groups.len();
        let g = self.groups.get_mut(group).ok_or_else(|| {
            OptimError::Malformed(format!("optimizer `{}` has {n} parameter groups, not group {group}", A::spec().name))
        })?;
        let i = g.base.index_of(key)?;
        if !matches!(g.base.spec.hypers[i].kind, crate::hyper::Kind::Float { .. }) {
            return Err(OptimError::Malformed(format!(
                "hyperparameter `{key}` of optimizer `{}` is not a real number and cannot be replaced",
                A::spec().name
            )));
        }
        if let Some(v) = value {
            g.base.check_scheduled(i, v)?;
        }
        self.overrides.retain(|o| !(o.0 == group && o.1 == i));
        match value {
            Some(v) => self.overrides.push((group, i, v)),
            None => g.eff.values[i] = g.base.values[i],
        }
        Ok(())
    }

    fn has_eval_params(&self) -> bool {
        A::EVAL_PARAMS
    }

    fn eval_params(&self, params: &[&[T]], out: &mut [&mut [T]]) -> Result<bool> {
        if !A::EVAL_PARAMS {
            return Ok(false);
        }
        let n = self.layout.len();
        if params.len() != n || out.len() != n {
            return Err(OptimError::Malformed(format!(
                "eval_params got {} parameter and {} output tensors, the optimizer was built for {n} ({})",
                params.len(),
                out.len(),
                self.layout.names().join(", ")
            )));
        }
        for (ti, t) in self.layout.tensors().iter().enumerate() {
            for (what, len) in [("parameter", params[ti].len()), ("evaluation output", out[ti].len())] {
                if len != t.len {
                    return Err(OptimError::Tensor {
                        tensor: t.name.clone(),
                        what: format!("{what} has {len} elements, expected {} (shape {:?})", t.len, t.shape),
                    });
                }
            }
        }
        for (ti, slot) in self.slots.iter().enumerate() {
            if self.step == 0 {
                out[ti].copy_from_slice(params[ti]);
            } else {
                let bufs: Vec<&[T]> = slot.bufs.iter().map(|b| &b[..]).collect();
                A::eval_params(&self.groups[slot.group].eff, params[ti], &bufs, out[ti]);
            }
        }
        Ok(true)
    }

    fn epochs_taken(&self) -> u64 {
        self.epoch
    }

    fn end_epoch(&mut self) {
        self.epoch += 1;
    }

    fn report_metric(&mut self, metric: f64) {
        let (step, epoch) = (self.step, self.epoch);
        for g in &mut self.groups {
            for s in &mut g.scheduled {
                s.schedule.observe(metric, if s.per_epoch { epoch } else { step });
            }
        }
    }

    fn current(&self, group: usize, key: &str) -> Option<f64> {
        let g = self.groups.get(group)?;
        let i = g.base.spec.index(key)?;
        if let Some(o) = self.overrides.iter().find(|o| o.0 == group && o.1 == i) {
            return Some(o.2);
        }
        let mut v = g.base.f(i);
        for s in &g.scheduled {
            if s.index == i {
                v = s.schedule.value(v, if s.per_epoch { self.epoch } else { self.step });
            }
        }
        Some(v)
    }

    fn groups(&self) -> usize {
        self.groups.len()
    }

    fn hyper(&self, group: usize) -> Option<&Hyper> {
        self.groups.get(group).map(|g| &g.base)
    }

    fn state(&self) -> OptimizerState<T> {
        OptimizerState {
            optimizer: A::spec().name.to_string(),
            dtype: T::NAME.to_string(),
            step: self.step,
            epoch: self.epoch,
            groups: self.groups.iter().map(Group::to_state).collect(),
            global: self.alg.global_state(),
            tensors: self
                .layout
                .tensors()
                .iter()
                .zip(&self.slots)
                .map(|(t, s)| TensorState {
                    name: t.name.clone(),
                    shape: t.shape.clone(),
                    group: s.group,
                    scalars: s.scalar_names.iter().map(|n| n.0.to_string()).zip(s.scalars.iter().copied()).collect(),
                    buffers: s.buffers.iter().map(|b| b.name.to_string()).zip(s.bufs.iter().cloned()).collect(),
                })
                .collect(),
            inner: None,
        }
    }

    fn load_state(&mut self, st: &OptimizerState<T>) -> Result<()> {
        let spec = A::spec();
        st.check_names(spec.name, &self.layout)?;
        let st = &st.ordered(&self.layout)?;
        if st.groups.len() != self.groups.len() {
            return Err(OptimError::State(format!(
                "state has {} parameter groups, the optimizer has {}",
                st.groups.len(),
                self.groups.len()
            )));
        }
        // Validate everything before changing anything.
        let mut new_groups = Vec::with_capacity(st.groups.len());
        for (gi, gs) in st.groups.iter().enumerate() {
            new_groups.push(Group::from_state(gs, spec, &self.groups[gi])?);
        }
        for (ts, slot) in st.tensors.iter().zip(&self.slots) {
            if ts.group != slot.group {
                return Err(OptimError::State(format!(
                    "tensor `{}` is in group {} in the state, in group {} here",
                    ts.name, ts.group, slot.group
                )));
            }
            let want: Vec<&str> = slot.buffers.iter().map(|b| b.name).collect();
            let got: Vec<&str> = ts.buffers.iter().map(|(n, _)| n.as_str()).collect();
            if want != got {
                return Err(OptimError::State(format!(
                    "tensor `{}`: state buffers {:?}, the optimizer expects {:?}",
                    ts.name, got, want
                )));
            }
            for ((b, src), dst) in ts.buffers.iter().zip(&slot.bufs) {
                if src.len() != dst.len() {
                    return Err(OptimError::State(format!(
                        "tensor `{}`: buffer `{b}` has {} elements in the state, the optimizer expects {}",
                        ts.name,
                        src.len(),
                        dst.len()
                    )));
                }
            }
            let want_s: Vec<&str> = slot.scalar_names.iter().map(|s| s.0).collect();
            let got_s: Vec<&str> = ts.scalars.iter().map(|(n, _)| n.as_str()).collect();
            if want_s != got_s {
                return Err(OptimError::State(format!(
                    "tensor `{}`: scalar state {:?}, the optimizer expects {:?}",
                    ts.name, got_s, want_s
                )));
            }
        }
        self.alg.load_global_state(&st.global)?;
        for (ts, slot) in st.tensors.iter().zip(&mut self.slots) {
            for ((_, src), dst) in ts.buffers.iter().zip(&mut slot.bufs) {
                dst.copy_from_slice(src);
            }
            for ((_, v), dst) in ts.scalars.iter().zip(&mut slot.scalars) {
                *dst = *v;
            }
        }
        self.groups = new_groups;
        self.step = st.step;
        self.epoch = st.epoch;
        Ok(())
    }
}

/// Builds a chunk from raw pointers.
///
/// # Safety
/// `start..end` must lie within every buffer behind `p`, and no two live chunks may overlap.
#[inline(always)]
unsafe fn make_chunk<'a, T>(p: &Ptrs<T>, nbufs: usize, start: usize, end: usize) -> Chunk<'a, T> {
    let len = end - start;
    let mut s: [&'a mut [T]; MAX_BUFFERS] = [&mut [], &mut [], &mut [], &mut []];
    for (k, slot) in s.iter_mut().enumerate().take(nbufs) {
        *slot = std::slice::from_raw_parts_mut(p.s[k].add(start), len);
    }
    Chunk {
        p: std::slice::from_raw_parts_mut(p.p.add(start), len),
        g: std::slice::from_raw_parts(p.g.add(start), len),
        h: if p.h.is_null() { &[] } else { std::slice::from_raw_parts(p.h.add(start), len) },
        s,
    }
}

/// Chunks shorter than this run the baseline kernel inline (bit-identical, see [`crate::simd`]).
const SMALL: usize = 64;

/// The algorithm's kernel, compiled for the chosen instruction set (see [`crate::simd`]), in its
/// short or general form ([`Algorithm::simple`]).
#[inline(always)]
fn update<T: Float, A: Algorithm<T>>(simd: Simd, c: &A::Coef, ch: Chunk<'_, T>) {
    if A::simple(c) {
        update_form::<T, A, true>(simd, c, ch)
    } else {
        update_form::<T, A, false>(simd, c, ch)
    }
}

#[inline(always)]
fn update_form<T: Float, A: Algorithm<T>, const S: bool>(simd: Simd, c: &A::Coef, ch: Chunk<'_, T>) {
    // Tiny tensors gain nothing from wide vectors; the inlined baseline kernel saves a call.
    if ch.p.len() < SMALL {
        return A::update::<S>(c, ch);
    }
    match simd {
        // SAFETY: `Simd::resolve` returned these only where the CPU has the features.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { isa::update_avx512::<T, A, S>(c, ch) },
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { isa::update_avx2::<T, A, S>(c, ch) },
        _ => A::update::<S>(c, ch),
    }
}

/// A whole-tensor update, compiled for the chosen instruction set (bit-identical results).
#[inline(always)]
fn update_tensor<T: Float, A: Algorithm<T>>(simd: Simd, a: &A, c: &A::Coef, t: TensorStep<'_, T>) {
    match simd {
        // SAFETY: `Simd::resolve` returned these only where the CPU has the features.
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { isa::update_tensor_avx512::<T, A>(a, c, t) },
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { isa::update_tensor_avx2::<T, A>(a, c, t) },
        _ => a.update_tensor(c, t),
    }
}

#[inline(always)]
fn reduce<T: Float, A: Algorithm<T>>(
    simd: Simd,
    a: &A,
    hp: &Hyper,
    step: u64,
    ch: Chunk<'_, T>,
    acc: &mut [f64; MAX_ACC],
) {
    match simd {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { isa::reduce_avx512::<T, A>(a, hp, step, ch, acc) },
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { isa::reduce_avx2::<T, A>(a, hp, step, ch, acc) },
        _ => a.reduce(hp, step, ch, acc),
    }
}

/// The first non-finite element (if any) and the sum of squares (in f64 across blocks of 1024;
/// NaN when an element is non-finite), in one vectorisable pass.
#[inline(always)]
pub(crate) fn first_non_finite_sq<T: Float>(xs: &[T]) -> (Option<usize>, f64) {
    const B: usize = 1024;
    const L: usize = 16;
    let mut total = 0.0f64;
    for (bi, block) in xs.chunks(B).enumerate() {
        let mut acc = [T::ZERO; L];
        let mut it = block.chunks_exact(L);
        for c in &mut it {
            for i in 0..L {
                acc[i] += c[i] * c[i];
            }
        }
        let mut s = T::ZERO;
        for a in acc {
            s += a;
        }
        for &x in it.remainder() {
            s += x * x;
        }
        let s = s.to_f64();
        if s.is_finite() {
            total += s;
            continue;
        }
        if let Some(i) = block.iter().position(|x| !x.is_finite()) {
            return (Some(bi * B + i), f64::NAN);
        }
        // Finite elements whose squares overflow `T`: this block in f64.
        total += block.iter().map(|x| x.to_f64() * x.to_f64()).sum::<f64>();
    }
    (None, total)
}

#[inline(always)]
fn scan_sq<T: Float>(simd: Simd, xs: &[T]) -> (Option<usize>, f64) {
    if xs.len() < SMALL {
        let bad = xs.iter().position(|x| !x.is_finite());
        let sq = if bad.is_some() { f64::NAN } else { xs.iter().map(|x| x.to_f64() * x.to_f64()).sum() };
        return (bad, sq);
    }
    match simd {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { isa::scan_sq_avx512(xs) },
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { isa::scan_sq_avx2(xs) },
        _ => first_non_finite_sq(xs),
    }
}

#[inline(always)]
fn scan<T: Float>(simd: Simd, xs: &[T]) -> Option<usize> {
    if xs.len() < SMALL {
        return xs.iter().position(|x| !x.is_finite());
    }
    match simd {
        #[cfg(target_arch = "x86_64")]
        Simd::Avx512 => unsafe { isa::scan_avx512(xs) },
        #[cfg(target_arch = "x86_64")]
        Simd::Avx2 => unsafe { isa::scan_avx2(xs) },
        _ => first_non_finite(xs),
    }
}

#[cfg(target_arch = "x86_64")]
mod isa {
    use super::*;

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn update_avx2<T: Float, A: Algorithm<T>, const S: bool>(c: &A::Coef, ch: Chunk<'_, T>) {
        A::update::<S>(c, ch)
    }
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
    pub(super) unsafe fn update_avx512<T: Float, A: Algorithm<T>, const S: bool>(c: &A::Coef, ch: Chunk<'_, T>) {
        A::update::<S>(c, ch)
    }
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn update_tensor_avx2<T: Float, A: Algorithm<T>>(a: &A, c: &A::Coef, t: TensorStep<'_, T>) {
        a.update_tensor(c, t)
    }
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
    pub(super) unsafe fn update_tensor_avx512<T: Float, A: Algorithm<T>>(a: &A, c: &A::Coef, t: TensorStep<'_, T>) {
        a.update_tensor(c, t)
    }
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn reduce_avx2<T: Float, A: Algorithm<T>>(
        a: &A,
        hp: &Hyper,
        step: u64,
        ch: Chunk<'_, T>,
        acc: &mut [f64; MAX_ACC],
    ) {
        a.reduce(hp, step, ch, acc)
    }
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
    pub(super) unsafe fn reduce_avx512<T: Float, A: Algorithm<T>>(
        a: &A,
        hp: &Hyper,
        step: u64,
        ch: Chunk<'_, T>,
        acc: &mut [f64; MAX_ACC],
    ) {
        a.reduce(hp, step, ch, acc)
    }
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn scan_sq_avx2<T: Float>(xs: &[T]) -> (Option<usize>, f64) {
        first_non_finite_sq(xs)
    }
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
    pub(super) unsafe fn scan_sq_avx512<T: Float>(xs: &[T]) -> (Option<usize>, f64) {
        first_non_finite_sq(xs)
    }
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn scan_avx2<T: Float>(xs: &[T]) -> Option<usize> {
        first_non_finite(xs)
    }
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
    pub(super) unsafe fn scan_avx512<T: Float>(xs: &[T]) -> Option<usize> {
        first_non_finite(xs)
    }
}
