//! Fixtures shared by the binary's integration tests: the `optlab` process, its successful
//! output, and small data sets in the real formats. Each test crate uses some of them.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;

/// The `optlab` binary built for these tests.
pub fn optlab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_optlab"))
}

/// Runs `cmd`, asserts that it succeeded (printing both streams if not), returns its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run optlab");
    assert!(
        out.status.success(),
        "optlab failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The five CIFAR-10 training batches (`n` records each) and the test batch (`test` records).
pub fn cifar_dir(dir: &Path, n: usize, test: usize) {
    let batch = |n: usize, seed: usize| -> Vec<u8> {
        (0..n)
            .flat_map(|k| {
                std::iter::once((k % 10) as u8).chain((0..3072).map(move |i| ((i * 31 + k * 7 + seed) % 256) as u8))
            })
            .collect()
    };
    std::fs::create_dir_all(dir).unwrap();
    for i in 1..=5 {
        std::fs::write(dir.join(format!("data_batch_{i}.bin")), batch(n, i)).unwrap();
    }
    std::fs::write(dir.join("test_batch.bin"), batch(test, 9)).unwrap();
}
