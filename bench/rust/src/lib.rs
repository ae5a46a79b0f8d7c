//! What the four Rust benchmarks share: `prog N [S]` parsing and the TASKMEM_MEMSTATS report.
use std::time::{Duration, Instant};

/// N and S from the command line (S defaults to 10 seconds), or exit 2 with a usage line.
pub fn args(prog: &str) -> (usize, Duration) {
    let a: Vec<String> = std::env::args().collect();
    let usage = || -> ! {
        eprintln!("usage: {prog} N [S]  (N tasks that each wait S seconds, default 10)");
        std::process::exit(2)
    };
    let n = match a.get(1).map(|s| s.parse::<usize>()) {
        Some(Ok(n)) => n,
        _ => usage(),
    };
    let secs = match a.get(2).map(|s| s.parse::<f64>()) {
        None => 10.0,
        Some(Ok(s)) if s >= 0.0 => s,
        _ => usage(),
    };
    (n, Duration::from_secs_f64(secs))
}

#[repr(C)]
#[derive(Default)]
struct Mallinfo2 {
    arena: usize,    // non-mmapped space allocated (all arenas: brk heap and mmapped heaps)
    ordblks: usize,  // free chunks
    smblks: usize,   // free fastbin blocks
    hblks: usize,    // mmapped chunks
    hblkhd: usize,   // bytes in mmapped chunks
    usmblks: usize,  // unused
    fsmblks: usize,  // bytes in free fastbin blocks
    uordblks: usize, // bytes in use (not mmapped chunks)
    fordblks: usize, // free bytes
    keepcost: usize, // top-most releasable bytes
}

extern "C" {
    fn mallinfo2() -> Mallinfo2; // glibc >= 2.33
}

/// Seconds since this process started (/proc/self/stat starttime, 10 ms ticks), to find the
/// profiler's timeline sample taken at the same moment.
fn uptime() -> f64 {
    let up = std::fs::read_to_string("/proc/uptime").ok().and_then(|s| {
        s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok())
    });
    let start = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| {
        let after = &s[s.rfind(')')? + 1..];
        after.split_whitespace().nth(19).and_then(|v| v.parse::<f64>().ok())
    });
    match (up, start) {
        (Some(up), Some(start)) => up - start / 100.0,
        _ => -1.0,
    }
}

/// A number of /proc/self/status ("Threads:", "RssAnon:" in kB), 0 if it is not there.
fn status(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| {
                    l.strip_prefix(key)
                        .and_then(|v| v.split_whitespace().next())
                        .map(|v| v.parse().ok())
                })
                .flatten()
        })
        .unwrap_or(0)
}

fn threads() -> u64 {
    status("Threads:")
}

/// With TASKMEM_MEMSTATS set, a thread prints glibc malloc's own accounting (Rust has no
/// runtime of its own to ask) as one `MEMSTATS {json}` line on stderr at `start + 0.8 S`,
/// the plateau just before the first tasks finish, or at once if starting them all took
/// longer. Call it once every task has been created.
pub fn report_at_peak(runtime: &'static str, n: usize, start: Instant, s: Duration) {
    if std::env::var_os("TASKMEM_MEMSTATS").is_none() {
        return;
    }
    std::thread::spawn(move || {
        let at = start + s.mul_f64(0.8);
        let now = Instant::now();
        if at > now {
            std::thread::sleep(at - now);
        }
        let m = unsafe { mallinfo2() };
        eprintln!(
            "MEMSTATS {{\"runtime\": \"{runtime}\", \"t_s\": {:.2}, \"tasks\": {n}, \"threads\": {}, \
             \"malloc_arena\": {}, \"malloc_in_use\": {}, \"malloc_free\": {}, \
             \"malloc_mmap_chunks\": {}, \"malloc_mmap_bytes\": {}}}",
            uptime(),
            threads(),
            m.arena,
            m.uordblks,
            m.fordblks,
            m.hblks,
            m.hblkhd
        );
    });
}

/// The networked benchmark's MEMSTATS line (rust_net_server, rust_net_client): glibc malloc's
/// accounting now, with the side ("server" or "client"), the connections it holds and the
/// kernel's count of its anonymous resident bytes (`rss_anon`).
pub fn memstats_now(runtime: &str, side: &str, conns: usize) {
    let m = unsafe { mallinfo2() };
    eprintln!(
        "MEMSTATS {{\"runtime\": \"{runtime}\", \"side\": \"{side}\", \"pid\": {}, \"t_s\": {:.2}, \
         \"conns\": {conns}, \"threads\": {}, \"rss_anon\": {}, \"malloc_arena\": {}, \
         \"malloc_in_use\": {}, \"malloc_free\": {}, \"malloc_mmap_chunks\": {}, \
         \"malloc_mmap_bytes\": {}}}",
        std::process::id(),
        uptime(),
        threads(),
        status("RssAnon:") * 1024,
        m.arena,
        m.uordblks,
        m.fordblks,
        m.hblks,
        m.hblkhd
    );
}

#[repr(C)]
struct Rlimit {
    cur: u64,
    max: u64,
}

extern "C" {
    fn getrlimit(resource: i32, r: *mut Rlimit) -> i32;
    fn setrlimit(resource: i32, r: *const Rlimit) -> i32;
    fn kill(pid: i32, sig: i32) -> i32;
}

/// Lifts the soft limit on open files to the hard one (10k connections need 10k descriptors).
pub fn raise_nofile() {
    const RLIMIT_NOFILE: i32 = 7;
    let mut r = Rlimit { cur: 0, max: 0 };
    unsafe {
        if getrlimit(RLIMIT_NOFILE, &mut r) == 0 && r.cur < r.max {
            r.cur = r.max;
            setrlimit(RLIMIT_NOFILE, &r);
        }
    }
}

/// kill(2): std's Child::kill only sends SIGKILL.
pub fn signal(pid: u32, sig: i32) {
    unsafe {
        kill(pid as i32, sig);
    }
}
