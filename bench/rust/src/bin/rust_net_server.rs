//! rust_net_server PORT [MAX_S]: the networked benchmark's server (issue 17), hyper's HTTP/1.1
//! server on tokio, on 127.0.0.1:PORT (0: any free port; "LISTEN port" on stdout). GET /?n=K
//! answers K bytes (default 3: "ok\n"). Exits on SIGTERM/SIGINT or after MAX_S seconds (default
//! 600). With TASKMEM_MEMSTATS set it prints a MEMSTATS line at start; SIGUSR1 prints one.
use hyper::service::{make_service_fn, service_fn};
use hyper::{Body, Request, Response, Server, StatusCode};
use std::convert::Infallible;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};

const MAX_BODY: usize = 3 << 16;

/// Counts the connections alive: one per connection's service, dropped with it.
struct Conn(Arc<AtomicUsize>);

impl Drop for Conn {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

fn usage() -> ! {
    eprintln!("usage: rust_net_server PORT [MAX_S]");
    std::process::exit(2)
}

async fn answer(body: &'static [u8], req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let mut n = 3;
    if let Some(q) = req.uri().query() {
        for kv in q.split('&') {
            if let Some(v) = kv.strip_prefix("n=") {
                match v.parse::<usize>() {
                    Ok(v) if v <= MAX_BODY => n = v,
                    _ => {
                        let mut r = Response::new(Body::from("n: 0 to 196608 bytes\n"));
                        *r.status_mut() = StatusCode::BAD_REQUEST;
                        return Ok(r);
                    }
                }
            }
        }
    }
    Ok(Response::new(Body::from(&body[..n])))
}

#[tokio::main]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 2 || a.len() > 3 {
        usage();
    }
    let port = a[1].parse::<u16>().unwrap_or_else(|_| usage());
    let max_s = match a.get(2).map(|s| s.parse::<f64>()) {
        None => 600.0,
        Some(Ok(s)) if s > 0.0 => s,
        _ => usage(),
    };
    taskbench::raise_nofile();
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| {
        eprintln!("rust_net_server: {e}");
        std::process::exit(1)
    });
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let body: &'static [u8] = "ok\n".repeat(MAX_BODY / 3).into_bytes().leak();
    let conns = Arc::new(AtomicUsize::new(0));
    let stats = std::env::var_os("TASKMEM_MEMSTATS").is_some();
    if stats {
        taskbench::memstats_now("rust-hyper", "server", 0);
    }
    let counted = conns.clone();
    let make = make_service_fn(move |_| {
        counted.fetch_add(1, Ordering::Relaxed);
        let conn = Conn(counted.clone());
        async move {
            Ok::<_, Infallible>(service_fn(move |req| {
                let _alive = &conn;
                answer(body, req)
            }))
        }
    });
    let server = Server::from_tcp(listener).unwrap_or_else(|e| {
        eprintln!("rust_net_server: {e}");
        std::process::exit(1)
    });
    let server = server.http1_only(true).serve(make);
    let mut usr1 = signal(SignalKind::user_defined1()).expect("SIGUSR1");
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT");
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = usr1.recv() => {
                    taskbench::memstats_now("rust-hyper", "server", conns.load(Ordering::Relaxed))
                }
                _ = term.recv() => std::process::exit(0),
                _ = int.recv() => std::process::exit(0),
                _ = tokio::time::sleep(Duration::from_secs_f64(max_s)) => {
                    eprintln!("rust_net_server: MAX_S reached, exiting");
                    std::process::exit(0)
                }
            }
        }
    });
    println!("LISTEN {port}");
    std::io::stdout().flush().ok();
    if let Err(e) = server.await {
        eprintln!("rust_net_server: {e}");
        std::process::exit(1)
    }
}
