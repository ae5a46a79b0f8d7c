// go_bench N [S]: start N goroutines that each sleep S seconds (default 10), then exit,
// like the published "memory of 1 million concurrent tasks" programs.
// With TASKMEM_MEMSTATS=1 it prints runtime.MemStats (the oracle) once all are started.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// deep recurses d frames before sleeping, so that the goroutine's stack must grow.
//
//go:noinline
func deep(d int, s time.Duration) int {
	var pad [64]byte
	pad[d%64] = byte(d)
	if d == 0 {
		time.Sleep(s)
		return int(pad[0])
	}
	return deep(d-1, s) + int(pad[d%64])
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: go_bench N [S] (env GO_BENCH_DEPTH=D recurses D frames first)")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 0 {
		fmt.Fprintln(os.Stderr, "go_bench: N must be a whole number")
		os.Exit(2)
	}
	secs := 10.0
	if len(os.Args) > 2 {
		if secs, err = strconv.ParseFloat(os.Args[2], 64); err != nil {
			fmt.Fprintln(os.Stderr, "go_bench: S must be a number of seconds")
			os.Exit(2)
		}
	}
	depth, _ := strconv.Atoi(os.Getenv("GO_BENCH_DEPTH"))
	d := time.Duration(secs * float64(time.Second))
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if depth > 0 {
				deep(depth, d)
			} else {
				time.Sleep(d)
			}
		}()
	}
	if os.Getenv("TASKMEM_MEMSTATS") != "" {
		time.Sleep(d / 4) // let deep goroutines reach their sleep
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		fmt.Fprintf(os.Stderr, "MEMSTATS {\"StackInuse\": %d, \"HeapInuse\": %d, \"GCSys\": %d, \"MSpanInuse\": %d, \"Sys\": %d}\n",
			m.StackInuse, m.HeapInuse, m.GCSys, m.MSpanInuse, m.Sys)
	}
	wg.Wait()
}
