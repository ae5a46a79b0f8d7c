//! rust_async_std_bench N [S]: N async-std tasks that each sleep S seconds (the published
//! async-std program).
use async_std::task;

#[async_std::main]
async fn main() {
    let (n, s) = taskbench::args("rust_async_std_bench");
    let start = std::time::Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        tasks.push(task::spawn(async move {
            task::sleep(s).await;
        }));
    }
    taskbench::report_at_peak("rust-async-std", n, start, s);
    for task in tasks {
        task.await;
    }
}
