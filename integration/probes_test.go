package integration

import (
	"sync"
	"time"
)

// disagreeing makes every case's connection attempt concurrently (16 at a
// time) and returns, in no particular order, the cases whose traffic
// disagreed with want. A disagreeing case is tried again with a longer
// timeout: the first connection after a failed one may wait for ARP, and
// slowness only ever makes an allowed connection look denied.
func disagreeing[C any](cases []C, want func(C) bool, attempt func(c C, timeout time.Duration) bool) []C {
	var mu sync.Mutex
	var bad []C
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for _, c := range cases {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			w := want(c)
			if attempt(c, 300*time.Millisecond) == w || attempt(c, 2*time.Second) == w {
				return
			}
			mu.Lock()
			bad = append(bad, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return bad
}
