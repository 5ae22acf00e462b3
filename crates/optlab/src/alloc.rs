//! The global allocator's policy. The binary allocates through mimalloc (see `main.rs`); by
//! default mimalloc returns freed memory to the kernel a second after it is freed ("purging";
//! 1000 ms in mimalloc v3, which `libmimalloc-sys` builds by default, 10 ms in v2), and a
//! training step frees its activations and gradients (megabytes per layer, in transparent huge
//! pages) long before the next step allocates them again, so every step faulted them in anew and
//! the kernel zeroed them: 24 % of ResNet-18's time was `clear_page_erms` (docs/speed.md,
//! "Networks"). [`keep_freed_memory`] turns purging off, so freed memory is reused by the next
//! step; the process's peak RSS is unchanged (it is set by the largest step), the memory is
//! returned when the process ends.

use std::os::raw::{c_int, c_long};

// The C library of `libmimalloc-sys` (linked through the `mimalloc` crate) defines these; the
// crate's Rust declarations of them sit behind a feature that would add a dependency.
use mimalloc as _;

extern "C" {
    fn mi_option_get(option: c_int) -> c_long;
    fn mi_option_set(option: c_int, value: c_long);
}

/// `mi_option_purge_delay` in `mi_option_t` (the 16th option in mimalloc v2 and v3 alike: the
/// unit test checks its default, 1000 ms in v3 and 10 ms in v2).
const MI_OPTION_PURGE_DELAY: c_int = 15;

/// Turns mimalloc's purging off (`MIMALLOC_PURGE_DELAY=-1`) unless the environment sets
/// `MIMALLOC_PURGE_DELAY` itself. Call once, first thing in `main`.
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: a plain setter of one of mimalloc's global options, valid at any time.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

/// mimalloc's current purge delay in milliseconds (-1: never purge).
pub fn purge_delay_ms() -> i64 {
    // SAFETY: a plain getter of one of mimalloc's global options.
    unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) as i64 }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_option_is_the_purge_delay_and_is_turned_off() {
        // mimalloc's default purge delay (1000 ms in v3, 10 ms in v2): the index names that
        // option, not another.
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            let default = super::purge_delay_ms();
            assert!(default == 1000 || default == 10, "{default}");
            super::keep_freed_memory();
            assert_eq!(super::purge_delay_ms(), -1);
        }
    }
}
