// go_stackgrow N DEPTH: N goroutines that each recurse DEPTH+1 frames of over 1 KiB and wait at
// the bottom, so that every stack grows past 32 KiB (taken from heap spans, not the stack pool)
// and cannot shrink: at least N x (DEPTH+1) KiB of goroutine stack, all touched; almost no heap.
// Prints Go's StackInuse and HeapInuse once every goroutine is at the bottom.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"
)

//go:noinline
func recurse(depth int, wg, done *sync.WaitGroup) byte {
	var pad [1024]byte
	pad[depth%1024] = byte(depth)
	if depth == 0 {
		wg.Done()
		done.Wait() // every frame stays live: the stack cannot shrink
		return pad[0]
	}
	return recurse(depth-1, wg, done) + pad[depth%1024]
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: go_stackgrow N DEPTH")
		os.Exit(2)
	}
	n, _ := strconv.Atoi(os.Args[1])
	depth, _ := strconv.Atoi(os.Args[2])
	var wg, done sync.WaitGroup
	done.Add(1)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go recurse(depth, &wg, &done)
	}
	wg.Wait()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("StackInuse %d HeapInuse %d\n", ms.StackInuse, ms.HeapInuse)
	time.Sleep(300 * time.Millisecond)
	done.Done()
}
