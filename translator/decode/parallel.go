package decode

import (
	"runtime"
	"sync"
)

// minParallel is the fewest documents or List items decoded in parallel:
// below it starting goroutines costs more than it saves.
const minParallel = 32

// decodeEach decodes n documents or List items with one(i), on every CPU
// when there are many, and returns their objects and errors in input
// order, as decoding them one after the other would: decoding an object
// depends on nothing but its own bytes.
func decodeEach(n int, one func(i int) ([]Object, []error)) ([]Object, []error) {
	objs := make([][]Object, n)
	errs := make([][]error, n)
	workers := runtime.GOMAXPROCS(0)
	if n < minParallel || workers < 2 {
		for i := 0; i < n; i++ {
			objs[i], errs[i] = one(i)
		}
		return flatten(objs), flatten(errs)
	}
	// Small chunks taken in turn keep both cores busy when documents
	// differ in size (a policy is ten times a pod).
	const chunk = 16
	var next int
	var mu sync.Mutex
	take := func() (int, int) {
		mu.Lock()
		defer mu.Unlock()
		from := next
		next = min(n, next+chunk)
		return from, next
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from, to := take()
				if from == to {
					return
				}
				for i := from; i < to; i++ {
					objs[i], errs[i] = one(i)
				}
			}
		}()
	}
	wg.Wait()
	return flatten(objs), flatten(errs)
}

// flatten concatenates parts in order (nil when they are all empty, as
// appending them one by one gives).
func flatten[T any](parts [][]T) []T {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	if n == 0 {
		return nil
	}
	out := make([]T, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}
