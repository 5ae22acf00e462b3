//! The test-function study and the matrix optimizers: Adafactor runs on a test function's point
//! (a vector: its unfactored second moment); Muon, which takes only matrices, is refused with the
//! reason.

use optlab_lab::study::OptimizerSpec;

#[test]
fn adafactor_is_accepted_by_the_study_with_a_tunable_lr() {
    let o = OptimizerSpec::parse("adafactor").unwrap();
    assert!(o.has_lr && !o.fixed_lr && !o.needs_hessian);
    let o = OptimizerSpec::parse("adafactor:lr=0.1:d=2").unwrap();
    assert!(o.fixed_lr);
}

#[test]
fn muon_is_refused_by_the_study_saying_why() {
    let e = OptimizerSpec::parse("muon").unwrap_err().to_string();
    assert!(e.contains("--optimizers `muon`"), "{e}");
    assert!(e.contains("only matrices") && e.contains("test function"), "{e}");
}
