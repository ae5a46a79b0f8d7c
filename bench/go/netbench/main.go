// The networked benchmark (issue 17): a net/http server and a load tester that holds N
// keep-alive connections to it on loopback, to measure the memory one connection costs on each
// side. One program, two names (the mode is the name it runs under, so each side has its own
// comm in a profile):
//
//	go_net_server PORT [MAX_S]
//	    serves HTTP/1.1 on 127.0.0.1:PORT (0: any free port) and prints "LISTEN port" on stdout;
//	    GET /?n=K answers K bytes (default 3: "ok\n"). Exits on SIGTERM/SIGINT or after MAX_S
//	    seconds (default 600). SIGUSR1 prints Go's runtime.MemStats as a MEMSTATS line on stderr.
//	go_net_client PORT N SECONDS [BODY [read|unread]]
//	    opens N connections to 127.0.0.1:PORT (0: starts go_net_server from its own directory as
//	    its child on a free port, so that one tree holds both sides), each one request for BODY
//	    bytes whose answer it reads ("read", the default) or leaves in the socket after its
//	    first byte ("unread": the kernel holds the rest), then holds them all SECONDS seconds,
//	    closes them and exits. "UP N" on stderr once all N are up.
//
// With TASKMEM_MEMSTATS set, each side prints MEMSTATS {json} on stderr: the server at start
// (no connection yet), the client and then its child server once all N connections are up.
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// dialers bounds the connects in flight, so that the listener's backlog never overflows (a
// dropped SYN is retried a second later)
const dialers = 64

// uptime is seconds since this process started (/proc/self/stat starttime, 10 ms ticks), to
// find the profiler's timeline sample of the same moment; -1 if unknown.
func uptime() float64 {
	up, err1 := os.ReadFile("/proc/uptime")
	st, err2 := os.ReadFile("/proc/self/stat")
	if err1 != nil || err2 != nil {
		return -1
	}
	u, _ := strconv.ParseFloat(strings.Fields(string(up))[0], 64)
	s := string(st)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	start, _ := strconv.ParseFloat(f[19], 64)
	return u - start/100
}

func memstats(side string, conns int64) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Fprintf(os.Stderr, "MEMSTATS {\"runtime\": \"go\", \"side\": \"%s\", \"pid\": %d, \"t_s\": %.2f, \"conns\": %d, "+
		"\"goroutines\": %d, \"StackInuse\": %d, \"HeapInuse\": %d, \"GCSys\": %d, \"MSpanInuse\": %d, \"Sys\": %d}\n",
		side, os.Getpid(), uptime(), conns, runtime.NumGoroutine(), m.StackInuse, m.HeapInuse, m.GCSys, m.MSpanInuse, m.Sys)
}

// raiseNofile lifts the soft limit on open files to the hard one (10k connections need 10k
// descriptors on each side).
func raiseNofile() {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) == nil && r.Cur < r.Max {
		r.Cur = r.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &r)
	}
}

func usage(name string) {
	if name == "go_net_server" {
		fmt.Fprintln(os.Stderr, "usage: go_net_server PORT [MAX_S]")
	} else {
		fmt.Fprintln(os.Stderr, "usage: go_net_client PORT N SECONDS [BODY [read|unread]]")
	}
	os.Exit(2)
}

func server(args []string) {
	if len(args) < 1 || len(args) > 2 {
		usage("go_net_server")
	}
	port, err := strconv.Atoi(args[0])
	maxS := 600.0
	if len(args) > 1 {
		maxS, err = strconv.ParseFloat(args[1], 64)
	}
	if err != nil || port < 0 || port > 65535 || maxS <= 0 {
		usage("go_net_server")
	}
	raiseNofile()
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_net_server:", err)
		os.Exit(1)
	}
	var conns int64
	body := strings.Repeat("ok\n", 1<<16)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n := 3
			if q := r.URL.Query().Get("n"); q != "" {
				if n, err = strconv.Atoi(q); err != nil || n < 0 || n > len(body) {
					http.Error(w, "n: 0 to 196608 bytes", http.StatusBadRequest)
					return
				}
			}
			w.Header().Set("Content-Length", strconv.Itoa(n))
			io.WriteString(w, body[:n])
		}),
		ConnState: func(c net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				atomic.AddInt64(&conns, 1)
			case http.StateClosed, http.StateHijacked:
				atomic.AddInt64(&conns, -1)
			}
		},
	}
	stats := os.Getenv("TASKMEM_MEMSTATS") != ""
	if stats {
		memstats("server", 0)
	}
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	go func() {
		for s := range sig {
			if s == syscall.SIGUSR1 {
				memstats("server", atomic.LoadInt64(&conns))
				continue
			}
			os.Exit(0)
		}
	}()
	time.AfterFunc(time.Duration(maxS*float64(time.Second)), func() {
		fmt.Fprintln(os.Stderr, "go_net_server: MAX_S reached, exiting")
		os.Exit(0)
	})
	fmt.Printf("LISTEN %d\n", ln.Addr().(*net.TCPAddr).Port)
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "go_net_server:", err)
		os.Exit(1)
	}
}

// startServer runs go_net_server from this program's directory on a free port: the child and
// its port.
func startServer() (*exec.Cmd, int) {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_net_client:", err)
		os.Exit(1)
	}
	cmd := exec.Command(filepath.Join(filepath.Dir(self), "go_net_server"), "0")
	cmd.Stderr = os.Stderr
	// the server ends with the client, however the client ends
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	out, err := cmd.StdoutPipe()
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "go_net_client: go_net_server:", err)
		os.Exit(1)
	}
	var port int
	if _, err := fmt.Fscanf(bufio.NewReader(out), "LISTEN %d\n", &port); err != nil {
		fmt.Fprintln(os.Stderr, "go_net_client: go_net_server did not say its port:", err)
		cmd.Process.Kill()
		os.Exit(1)
	}
	return cmd, port
}

// hold is one connection: a request, its answer read (or its first byte only), then the
// connection held until done is closed.
func hold(addr, req string, unread bool, up *sync.WaitGroup, sem chan struct{}, done chan struct{}, failed *int64) {
	sem <- struct{}{}
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err == nil {
		_, err = io.WriteString(c, req)
	}
	if err == nil {
		if unread {
			var b [1]byte
			_, err = io.ReadFull(c, b[:])
		} else {
			var resp *http.Response
			if resp, err = http.ReadResponse(bufio.NewReader(c), nil); err == nil {
				_, err = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
	<-sem
	if err != nil {
		if atomic.AddInt64(failed, 1) == 1 {
			fmt.Fprintln(os.Stderr, "go_net_client:", err)
		}
	}
	up.Done()
	<-done
	if c != nil {
		c.Close()
	}
}

func client(args []string) {
	if len(args) < 3 || len(args) > 5 {
		usage("go_net_client")
	}
	port, err1 := strconv.Atoi(args[0])
	n, err2 := strconv.Atoi(args[1])
	secs, err3 := strconv.ParseFloat(args[2], 64)
	body, unread := 3, false
	var err4 error
	if len(args) > 3 {
		body, err4 = strconv.Atoi(args[3])
	}
	if len(args) > 4 {
		if args[4] != "read" && args[4] != "unread" {
			usage("go_net_client")
		}
		unread = args[4] == "unread"
	}
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || port < 0 || port > 65535 || n < 0 || secs < 0 ||
		body < 1 || body > 3<<16 {
		usage("go_net_client")
	}
	raiseNofile()
	var srv *exec.Cmd
	if port == 0 {
		srv, port = startServer()
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	req := fmt.Sprintf("GET /?n=%d HTTP/1.1\r\nHost: %s\r\n\r\n", body, addr)
	var up sync.WaitGroup
	var failed int64
	sem, done := make(chan struct{}, dialers), make(chan struct{})
	up.Add(n)
	for i := 0; i < n; i++ {
		go hold(addr, req, unread, &up, sem, done, &failed)
	}
	up.Wait()
	code := 0
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "go_net_client: %d of %d connections failed\n", failed, n)
		code = 1
	} else {
		fmt.Fprintf(os.Stderr, "UP %d t_s=%.2f\n", n, uptime())
		if os.Getenv("TASKMEM_MEMSTATS") != "" {
			memstats("client", int64(n))
			if srv != nil {
				srv.Process.Signal(syscall.SIGUSR1)
			}
		}
		time.Sleep(time.Duration(secs * float64(time.Second)))
	}
	close(done)
	if srv != nil {
		srv.Process.Signal(syscall.SIGTERM)
		srv.Wait()
	}
	os.Exit(code)
}

func main() {
	switch filepath.Base(os.Args[0]) {
	case "go_net_server":
		server(os.Args[1:])
	case "go_net_client":
		client(os.Args[1:])
	default:
		fmt.Fprintln(os.Stderr, "run as go_net_server or go_net_client (the mode is the program's name)")
		os.Exit(2)
	}
}
