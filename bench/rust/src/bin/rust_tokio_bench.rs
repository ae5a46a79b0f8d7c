//! rust_tokio_bench N [S]: N tokio tasks that each sleep S seconds (the published tokio program).
use tokio::time::sleep;

#[tokio::main]
async fn main() {
    let (n, s) = taskbench::args("rust_tokio_bench");
    let start = std::time::Instant::now();
    let mut tasks = Vec::with_capacity(n);
    for _ in 0..n {
        tasks.push(tokio::spawn(async move {
            sleep(s).await;
        }));
    }
    taskbench::report_at_peak("rust-tokio", n, start, s);
    for task in tasks {
        task.await.unwrap();
    }
}
