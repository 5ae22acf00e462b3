//! optlab experiments: experiment files, the plan of runs, the runner and the results store.
//!
//! [`record`] is the data model every other part shares: the runner produces [`record::RunRecord`]s,
//! the store keeps them, and the report crate renders them.

pub mod record;
