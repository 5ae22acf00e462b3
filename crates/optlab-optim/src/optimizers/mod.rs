//! One optimizer per file. Each declares its hyperparameters once with [`hypers!`](crate::hypers)
//! (torch's names and defaults, ranges, docs), its [`Spec`](crate::Spec) (summary, reference,
//! conventions, parity source and variants) and implements [`Algorithm`](crate::Algorithm).
//!
//! The registry is the list below: adding an optimizer is its file plus one line here.

pub mod common;

/// Declares each optimizer's module and its registry entry, in the order the CLI and the report
/// list them: `module: Type` for an [`Algorithm`](crate::Algorithm) the engine runs, or
/// `module: custom(ENTRY)` for a wrapper with its own builders.
macro_rules! registry {
    ($($module:ident : $head:ident $(($entry:ident))?),+ $(,)?) => {
        $(pub mod $module;)+
        /// Every optimizer, in the order the CLI and the report list them.
        pub static REGISTRY: &[crate::registry::Entry] = &[
            $(registry!(@entry $module $head $(($entry))?)),+
        ];
    };
    (@entry $module:ident custom ($entry:ident)) => { $module::$entry };
    (@entry $module:ident $ty:ident) => { crate::registry::Entry::of::<$module::$ty>() };
}

registry! {
    sgd: Sgd,
    adagrad: Adagrad,
    adadelta: Adadelta,
    rmsprop: Rmsprop,
    adam: Adam,
    adamw: AdamW,
    adamax: Adamax,
    nadam: Nadam,
    radam: Radam,
    adam_scheduled_betas: AdamScheduledBetas,
    adam_skew: AdamSkew,
    adam_third: AdamThird,
    adam_curvature: AdamCurvature,
    adabelief: AdaBelief,
    novograd: NovoGrad,
    yellowfin: YellowFin,
    lion: Lion,
    rprop: Rprop,
    asgd: Asgd,
    adan: Adan,
    lamb: Lamb,
    lars: Lars,
    schedule_free_adamw: ScheduleFreeAdamW,
    schedule_free_sgd: ScheduleFreeSgd,
    adafactor: Adafactor,
    muon: Muon,
    adahessian: AdaHessian,
    sophia: Sophia,
    lbfgs: custom(ENTRY),
    lookahead: custom(ENTRY),
}
