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
// cannot be trusted and the flow counts already agree. On a shared bridge
// only our flows are compared: diff-flows cannot filter a bridge, so they
// are dumped with our cookie match into a file first.
func (o *ofctl) sameFlows(ctx context.Context, flows []compiler.Flow) (bool, error) {
	f, err := os.CreateTemp("", "flowgate-flows-*.txt")
	if err != nil {
		return false, fmt.Errorf("diff-flows: %w", err)
	}
	defer os.Remove(f.Name())
	installed := o.bridge
	if o.own != "" {
		dump, err := o.dumpOwn(ctx)
		if err != nil {
			f.Close()
			return false, fmt.Errorf("diff-flows: %w", err)
		}
		defer os.Remove(dump)
		installed = dump
	}
	var buf []byte
	for i := range flows {
		buf = appendLine(buf[:0], "", &flows[i])
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return false, fmt.Errorf("diff-flows: %w", err)
		}
	}
	if err := f.Close(); err != nil {
		return false, fmt.Errorf("diff-flows: %w", err)
	}
	// diff-flows takes files, not stdin; it exits 2 when the sets differ
	// and prints the differences on stdout. Only stdout is read (run drops
	// stderr), so a warning it logs while succeeding is not a difference.
	out, err := o.ofctl(ctx, nil, "diff-flows", installed, f.Name())
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.ExitCode() == 2 {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("diff-flows: %w", err)
	}
	return len(bytes.TrimSpace(out)) == 0, nil
}

// dumpOwn writes our flows, as the bridge prints them, into a temporary
// file diff-flows can read, and returns its name.
func (o *ofctl) dumpOwn(ctx context.Context) (string, error) {
	lines, err := o.dumpFlows(ctx, o.own)
	if err != nil {
		return "", err
	}
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
