//! rust_futures_bench N [S]: N tokio sleeps awaited together by futures::future::join_all, no
//! spawned tasks (the published 2024 "Rust futures" program): the futures live in one Vec.
use tokio::time::sleep;

#[tokio::main]
async fn main() {
    let (n, s) = taskbench::args("rust_futures_bench");
    let start = std::time::Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        tasks.push(sleep(s));
    }
    let all = futures::future::join_all(tasks); // moves every future into a FuturesOrdered
    taskbench::report_at_peak("rust-futures", n, start, s);
    all.await;
}
