//! rust_net_client PORT N SECONDS [BODY [read|unread]]: the networked benchmark's load tester
//! (issue 17), minimal HTTP/1.1 over tokio's TcpStream: N connections to 127.0.0.1:PORT (0:
//! starts rust_net_server from its own directory as its child on a free port, so that one tree
//! holds both sides), a task each that sends one request for BODY bytes, reads the answer
//! ("read", the default) or only its first byte ("unread": the kernel holds the rest), and holds
//! the connection SECONDS seconds. "UP N" on stderr once all N are up; with TASKMEM_MEMSTATS set,
//! a MEMSTATS line then, and SIGUSR1 to its child server for the server's.
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};

/// Connects in flight, so that the listener's backlog never overflows (a dropped SYN is retried
/// a second later).
const DIALERS: usize = 64;
const SIGUSR1: i32 = 10;
const SIGTERM: i32 = 15;
const PR_SET_PDEATHSIG: i32 = 1;

extern "C" {
    fn prctl(option: i32, arg2: u64) -> i32;
}

fn usage() -> ! {
    eprintln!("usage: rust_net_client PORT N SECONDS [BODY [read|unread]]");
    std::process::exit(2)
}

fn fail(what: String) -> ! {
    eprintln!("rust_net_client: {what}");
    std::process::exit(1)
}

/// rust_net_server beside this program on a free port: the child and its port.
fn start_server() -> (std::process::Child, u16) {
    let exe = std::env::current_exe().unwrap_or_else(|e| fail(format!("{e}")));
    let mut cmd = Command::new(exe.with_file_name("rust_net_server"));
    cmd.arg("0").stdout(Stdio::piped());
    // the server ends with the client, however the client ends
    unsafe {
        cmd.pre_exec(|| {
            prctl(PR_SET_PDEATHSIG, SIGTERM as u64);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| fail(format!("rust_net_server: {e}")));
    let mut line = String::new();
    let out = child.stdout.take().expect("piped stdout");
    BufReader::new(out).read_line(&mut line).ok();
    match line
        .trim()
        .strip_prefix("LISTEN ")
        .map(|p| p.parse::<u16>())
    {
        Some(Ok(port)) => (child, port),
        _ => {
            child.kill().ok();
            fail(format!("rust_net_server did not say its port ({line:?})"))
        }
    }
}

/// The answer's end: the headers' length and Content-Length, once the headers are in.
fn answer_len(buf: &[u8]) -> Option<usize> {
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let len = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        if k.eq_ignore_ascii_case("content-length") {
            v.trim().parse::<usize>().ok()
        } else {
            None
        }
    })?;
    Some(end + len)
}

/// One connection: connect, ask, read the answer (or its first byte).
async fn open(addr: String, req: Arc<String>, unread: bool) -> std::io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr.as_str()).await?;
    s.write_all(req.as_bytes()).await?;
    if unread {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await?;
        return Ok(s);
    }
    let mut buf = Vec::with_capacity(4096);
    loop {
        if s.read_buf(&mut buf).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "answer cut short",
            ));
        }
        if let Some(n) = answer_len(&buf) {
            if buf.len() >= n {
                return Ok(s);
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 4 || a.len() > 6 {
        usage();
    }
    let port = a[1].parse::<u16>().unwrap_or_else(|_| usage());
    let n = a[2].parse::<usize>().unwrap_or_else(|_| usage());
    let secs = match a[3].parse::<f64>() {
        Ok(s) if s >= 0.0 => s,
        _ => usage(),
    };
    let body = match a.get(4).map(|s| s.parse::<usize>()) {
        None => 3,
        Some(Ok(b)) if (1..=3 << 16).contains(&b) => b,
        _ => usage(),
    };
    let unread = match a.get(5).map(|s| s.as_str()) {
        None | Some("read") => false,
        Some("unread") => true,
        _ => usage(),
    };
    taskbench::raise_nofile();
    let (mut server, port) = if port == 0 {
        let (c, p) = start_server();
        (Some(c), p)
    } else {
        (None, port)
    };
    let addr = format!("127.0.0.1:{port}");
    let req = Arc::new(format!("GET /?n={body} HTTP/1.1\r\nHost: {addr}\r\n\r\n"));
    let dialers = Arc::new(Semaphore::new(DIALERS));
    let done = Arc::new(Semaphore::new(0)); // closed when the hold is over
    let (up_tx, mut up_rx) = mpsc::unbounded_channel::<Result<(), String>>();
    for _ in 0..n {
        let (addr, req, dialers, done, up) = (
            addr.clone(),
            req.clone(),
            dialers.clone(),
            done.clone(),
            up_tx.clone(),
        );
        tokio::spawn(async move {
            let permit = dialers.acquire_owned().await.expect("dialers never closed");
            let r = open(addr, req, unread).await;
            drop(permit);
            match r {
                Ok(s) => {
                    up.send(Ok(())).ok();
                    let _ = done.acquire().await; // an error once closed: the hold is over
                    drop(s);
                }
                Err(e) => {
                    up.send(Err(e.to_string())).ok();
                }
            }
        });
    }
    drop(up_tx);
    let mut failed = 0usize;
    for _ in 0..n {
        match up_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                failed += 1;
                if failed == 1 {
                    eprintln!("rust_net_client: {e}");
                }
            }
            None => break,
        }
    }
    let mut code = 0;
    if failed > 0 {
        eprintln!("rust_net_client: {failed} of {n} connections failed");
        code = 1;
    } else {
        eprintln!("UP {n}");
        if std::env::var_os("TASKMEM_MEMSTATS").is_some() {
            taskbench::memstats_now("rust-tokio", "client", n);
            if let Some(s) = &server {
                taskbench::signal(s.id(), SIGUSR1);
            }
        }
        tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    }
    done.close();
    if let Some(s) = server.as_mut() {
        taskbench::signal(s.id(), SIGTERM);
        s.wait().ok();
    }
    std::process::exit(code)
}
