//! One optimizer per file. Each declares its [`Spec`](crate::Spec) (hyperparameters with torch's
//! names and defaults, ranges, conventions) and implements [`Algorithm`](crate::Algorithm).

pub mod common;

pub mod adabelief;
pub mod adadelta;
pub mod adagrad;
pub mod adam;
pub mod adam_curvature;
pub mod adam_scheduled_betas;
pub mod adam_skew;
pub mod adam_third;
pub mod adamax;
pub mod adamw;
pub mod lookahead;
pub mod nadam;
pub mod novograd;
pub mod radam;
pub mod rmsprop;
pub mod sgd;
pub mod yellowfin;
