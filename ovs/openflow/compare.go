package openflow

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/flowgate/flowgate/translator/compiler"
)

// sameFlows reports whether the bridge holds exactly flows, cookies
// included. Both sides are put in OVS's normalised form (normalized: the
// parse and print `ovs-ofctl diff-flows` compares with) and compared here;
// the installed side is pre's, when the caller prefetched it while it
// compiled (Programmer.SetPrefetched), or dumped now, in parallel with the
// desired side's parse. It costs a dump of the bridge, so Sync uses it only
// when its cache cannot be trusted and the flow counts already agree.
// When they are the same, digest is their Digest.
func (o *ofctl) sameFlows(ctx context.Context, flows []compiler.Flow, pre *Prefetched) (same bool, digest string, err error) {
	type result struct {
		lines []string
		err   error
	}
	installed := make(chan result, 1)
	go func() {
		if pre != nil {
			if lines, err := pre.wait(); err == nil {
				installed <- result{lines, nil}
				return
			}
		}
		lines, err := o.normalizedInstalled(ctx)
		installed <- result{lines, err}
	}()
	desired, derr := o.normalizedFlows(ctx, flows)
	have := <-installed
	if err := errors.Join(derr, have.err); err != nil {
		return false, "", fmt.Errorf("compare installed flows: %w", err)
	}
	if !slices.Equal(have.lines, desired) {
		return false, "", nil
	}
	return true, digestLines(desired), nil
}

// writeLines writes flow lines, as the bridge printed them, into a
// temporary file diff-flows can read, and returns its name.
func writeLines(lines []string) (string, error) {
	f, err := os.CreateTemp("", "flowgate-installed-*.txt")
	if err != nil {
		return "", err
	}
	_, werr := f.WriteString(strings.Join(lines, "\n") + "\n")
	if err := errors.Join(werr, f.Close()); err != nil {
		os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}
