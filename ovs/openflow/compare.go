package openflow

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/flowgate/flowgate/translator/compiler"
)

// sameFlows reports whether the bridge holds exactly flows, cookies
// included, using `ovs-ofctl diff-flows`, which parses both sides into
// OVS's own representation (our match text is not the order OVS prints).
// It costs a dump of the bridge, so Sync uses it only when its cache
// cannot be trusted and the flow counts already agree.
func (o *ofctl) sameFlows(ctx context.Context, flows []compiler.Flow) (bool, error) {
	f, err := os.CreateTemp("", "flowgate-flows-*.txt")
	if err != nil {
		return false, fmt.Errorf("diff-flows: %w", err)
	}
	defer os.Remove(f.Name())
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
	// diff-flows takes files, not stdin; it exits 2 when the sets differ.
	out, err := o.ofctl(ctx, nil, "diff-flows", o.bridge, f.Name())
	if err != nil && !strings.Contains(err.Error(), "exit status 2") {
		return false, fmt.Errorf("diff-flows: %w", err)
	}
	return err == nil && len(bytes.TrimSpace(out)) == 0, nil
}
