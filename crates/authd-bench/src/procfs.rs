//! What the driver reads from /proc: CPU time and resident memory of a process.

use std::time::Instant;

/// CPU seconds (user + system) a process has used, from `/proc/<pid>/stat`.
pub(crate) fn cpu_seconds(pid: u32) -> f64 {
    let path = format!("/proc/{pid}/stat");
    let Ok(stat) = std::fs::read_to_string(path) else {
        return 0.0;
    };
    // Fields after the command name (which may hold spaces) end with ')'.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after ')'.
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) as f64 / hz
}

/// Memory figures of a process in KiB, from `/proc/<pid>/status`.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Memory {
    /// Resident now.
    pub(crate) rss_kib: u64,
    /// Peak resident since the process started.
    pub(crate) hwm_kib: u64,
}

pub(crate) fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Memory {
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
    }
}

/// CPU use of the driver and of a server over a window, as a percentage of one core.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuWindow {
    start: Instant,
    driver: f64,
    server: Option<(u32, f64)>,
}

impl CpuWindow {
    pub(crate) fn start(server: Option<u32>) -> Self {
        Self {
            start: Instant::now(),
            driver: cpu_seconds(std::process::id()),
            server: server.map(|pid| (pid, cpu_seconds(pid))),
        }
    }

    /// (driver %, server %) since `start`.
    pub(crate) fn finish(&self) -> (f64, Option<f64>) {
        let secs = self.start.elapsed().as_secs_f64().max(1e-9);
        let driver = (cpu_seconds(std::process::id()) - self.driver) / secs * 100.0;
        let server = self
            .server
            .map(|(pid, before)| (cpu_seconds(pid) - before) / secs * 100.0);
        (driver, server)
    }
}

/// Raises the open-file limit to its hard maximum (children inherit it); returns it.
pub(crate) fn raise_open_files() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain syscalls on a valid, owned struct.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
    }
    lim.rlim_cur
}
