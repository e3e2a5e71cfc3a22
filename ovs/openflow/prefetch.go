package openflow

import (
	"context"
)

// Prefetched is a dump of the bridge's flows (as Digest covers them, in
// normalised form, sorted)
// started ahead of a Sync, so that the comparison a Sync without a trusted
// cache makes (sameFlows) does not wait for it: `flowgate apply` and an
// agent starting onto a programmed bridge decode and compile for a second
// or more, and the dump (0.3 s at 65k flows) runs meanwhile.
type Prefetched struct {
	done  chan struct{}
	lines []string
	err   error
	// from is the programmer that dumped, at its cache version at.
	from *Programmer
	at   uint64
}

// Prefetch starts dumping the bridge's flows and returns at once. Hand the
// result to SetPrefetched of the programmer that will Sync (this one or
// another for the same bridge and cookie mark).
func (p *Programmer) Prefetch(ctx context.Context) *Prefetched {
	p.mu.Lock()
	pre := &Prefetched{done: make(chan struct{}), from: p, at: p.version}
	p.mu.Unlock()
	go func() {
		defer close(pre.done)
		pre.lines, pre.err = p.of.normalizedInstalled(ctx)
	}()
	return pre
}

// wait returns the dump once it is done.
func (pre *Prefetched) wait() ([]string, error) {
	<-pre.done
	return pre.lines, pre.err
}

// Digest is the digest of the prefetched flows (Programmer.Digest's).
func (pre *Prefetched) Digest() (string, error) {
	lines, err := pre.wait()
	if err != nil {
		return "", err
	}
	return digestLines(lines), nil
}

// SetPrefetched makes the next Sync compare with pre's dump instead of
// dumping the bridge again, if it needs a comparison at all and nothing
// was installed through this programmer since. A change someone else
// makes to the bridge after the dump is not seen by that Sync, as one made
// just after a Sync is not: the digest it verifies (VerifiedDigest) is of
// the dumped flows, so a recorded digest still catches it.
func (p *Programmer) SetPrefetched(pre *Prefetched) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.prefetched, p.prefetchedAt = pre, p.version
	if pre != nil && pre.from == p {
		p.prefetchedAt = pre.at // a dump from before this programmer's own last change is stale
	}
}
