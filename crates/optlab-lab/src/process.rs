//! This process and others: the host name, and whether a process id names a live process (used
//! to take over the claims of a killed `optlab run` and to remove the temporary files of a killed
//! `optlab report`).

use std::path::Path;

/// The machine's host name (`/proc/sys/kernel/hostname`, `/etc/hostname`, `$HOSTNAME` or
/// `$COMPUTERNAME`; `unknown-host` when none is readable).
pub fn host_name() -> String {
    for file in ["/proc/sys/kernel/hostname", "/etc/hostname"] {
        if let Ok(s) = std::fs::read_to_string(file) {
            let s = s.trim();
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    for var in ["HOSTNAME", "COMPUTERNAME"] {
        if let Ok(s) = std::env::var(var) {
            if !s.trim().is_empty() {
                return s.trim().to_string();
            }
        }
    }
    "unknown-host".to_string()
}

/// Whether process `pid` of this machine is alive: `Some(true)` or `Some(false)` where the system
/// tells (Linux, through `/proc`; a zombie counts as dead), `None` where it cannot be told.
pub fn pid_alive(pid: u32) -> Option<bool> {
    if pid == std::process::id() {
        return Some(true);
    }
    let proc = Path::new("/proc");
    if !proc.join("self").join("stat").exists() {
        return None;
    }
    match std::fs::read_to_string(proc.join(pid.to_string()).join("stat")) {
        // The state is the first field after the command name in parentheses.
        Ok(stat) => {
            let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
            Some(!matches!(state, Some("Z") | Some("X") | Some("x")))
        }
        Err(_) => Some(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_reaped_child_is_not() {
        assert_eq!(pid_alive(std::process::id()), Some(true));
        if pid_alive(1).is_none() {
            return; // not Linux: nothing more to tell
        }
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        // Reaped: gone (unless the id was reused within these microseconds).
        assert_eq!(pid_alive(pid), Some(false));
        assert_eq!(pid_alive(999_999_999), Some(false));
        assert!(!host_name().is_empty());
    }
}
