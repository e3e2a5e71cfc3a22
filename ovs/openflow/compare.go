package openflow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/flowgate/flowgate/translator/compiler"
)

// sameFlows reports whether the bridge holds exactly flows, cookies
// included, using `ovs-ofctl diff-flows`, which parses both sides into
// OVS's own representation (our match text is not the order OVS prints).
// It costs a dump of the bridge, so Sync uses it only when its cache
// cannot be trusted and the flow counts already agree. The installed
// flows (on a shared bridge only ours: diff-flows cannot filter a bridge)
// are dumped into a file first and diff-flows compares the two files, so
// that when they are the same, digest is the Digest of exactly the flows
// found equal (see VerifiedDigest).
//
// With pre (Programmer.SetPrefetched) the installed flows are those it
// dumped.
func (o *ofctl) sameFlows(ctx context.Context, flows []compiler.Flow, pre *Prefetched) (same bool, digest string, err error) {
	f, err := os.CreateTemp("", "flowgate-flows-*.txt")
	if err != nil {
		return false, "", fmt.Errorf("diff-flows: %w", err)
	}
	defer os.Remove(f.Name())
	var lines []string
	if pre != nil {
		lines, err = pre.wait()
		lines = append([]string(nil), lines...) // digestLines sorts them
	}
	if pre == nil || err != nil {
		lines, err = o.dumpForDigest(ctx)
	}
	if err != nil {
		f.Close()
		return false, "", fmt.Errorf("diff-flows: dump installed flows: %w", err)
	}
	installed, err := writeLines(lines)
	if err != nil {
		f.Close()
		return false, "", fmt.Errorf("diff-flows: %w", err)
	}
	defer os.Remove(installed)
	var buf []byte
	for i := range flows {
		buf = appendLine(buf[:0], "", &flows[i])
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return false, "", fmt.Errorf("diff-flows: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return false, "", fmt.Errorf("diff-flows: %w", err)
	}
	// diff-flows exits 2 when the sets differ and prints the differences
	// on stdout. Only stdout is read (run drops stderr), so a warning it
	// logs while succeeding is not a difference.
	out, err := o.ofctl(ctx, nil, "diff-flows", installed, f.Name())
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 2 {
		return false, "", nil
	}
	if err != nil {
		return false, "", fmt.Errorf("diff-flows: %w", err)
	}
	if len(bytes.TrimSpace(out)) != 0 {
		return false, "", nil
	}
	return true, digestLines(lines), nil
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
