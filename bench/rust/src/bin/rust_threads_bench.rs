//! rust_threads_bench N [S]: N OS threads (std's default 2 MiB stacks) that each sleep S seconds
//! (the published Rust threads program).
use std::thread;

fn main() {
    let (n, s) = taskbench::args("rust_threads_bench");
    let start = std::time::Instant::now();
    let mut handles = Vec::with_capacity(n);
    for _ in 0..n {
        handles.push(thread::spawn(move || thread::sleep(s)));
    }
    taskbench::report_at_peak("rust-threads", n, start, s);
    for handle in handles {
        handle.join().unwrap();
    }
}
