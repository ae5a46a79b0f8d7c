// go_cgo N: a Go program built with cgo (dynamically linked, as most Go tools Debian ships),
// of known make-up: N goroutines, each main.worker, allocate 64 x 64 KiB in main.alloc and
// touch every page (N x 4 MiB of heap), then it prints Go's HeapInuse and waits a moment.
package main

/*
static int add(int a, int b) { return a + b; }
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

var keep [][]byte

//go:noinline
func alloc(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 4096 {
		b[i] = 1
	}
	return b
}

//go:noinline
func worker(wg *sync.WaitGroup, mu *sync.Mutex) {
	defer wg.Done()
	for i := 0; i < 64; i++ {
		b := alloc(64 << 10)
		mu.Lock()
		keep = append(keep, b)
		mu.Unlock()
	}
}

func main() {
	n, err := strconv.Atoi(os.Args[1])
	if err != nil || n < 1 {
		fmt.Fprintln(os.Stderr, "usage: go_cgo N")
		os.Exit(2)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := 0; i < n; i++ {
		wg.Add(1)
		go worker(&wg, &mu)
	}
	wg.Wait()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("cgo %d HeapInuse %d\n", C.add(1, 2), ms.HeapInuse)
	time.Sleep(200 * time.Millisecond)
}
