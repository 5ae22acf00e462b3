//! Renders the sample report (synthetic records, see `tests/common/mod.rs`) into a directory:
//! `cargo run --release -p optlab-report --example sample_report -- /tmp/optlab-sample`.

#[path = "../tests/common/mod.rs"]
mod common;

fn main() {
    let out = std::env::args().nth(1).unwrap_or_else(|| "optlab-sample-report".into());
    let (info, runs) = common::sample();
    match optlab_report::render(&info, &runs, std::path::Path::new(&out)) {
        Ok(r) => {
            println!("{} files; open {}", r.files.len(), r.html.display());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
