package openflow

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// Digest is a hash of the flows the bridge holds now (on a shared bridge,
// the flows with our cookie mark), as ovs-vswitchd prints them without
// statistics, in sorted order: two dumps have one digest exactly when
// they list the same flows, cookies, matches, actions, timeouts and flags.
// `flowgate apply` records the digest of a flow set it verified to be
// what its input compiles to (VerifiedDigest), and a later apply of the
// same input compares the bridge's digest with it instead of compiling and
// comparing every flow again; any flow added, deleted or edited since
// changes the digest. It costs one dump-flows.
func (p *Programmer) Digest(ctx context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	lines, err := p.of.dumpForDigest(ctx)
	if err != nil {
		return "", fmt.Errorf("digest of the flows on %s: %w", p.of.bridge, err)
	}
	return digestLines(lines), nil
}

// VerifiedDigest is the Digest of the bridge's flows as the last Sync
// found them, when that Sync compared every installed flow with the
// desired set and they were the same (it adopted the bridge's flows);
// "" otherwise. A digest taken by dumping after a bundle is never
// reported: a flow changed by someone else between the bundle and the
// dump would be recorded as right.
func (p *Programmer) VerifiedDigest() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.valid {
		return ""
	}
	return p.verified
}

// dumpForDigest lists the flows a digest covers: all of the bridge's, or
// only ours on a shared bridge.
func (o *ofctl) dumpForDigest(ctx context.Context) ([]string, error) {
	args := []string{"--no-stats", "dump-flows", o.bridge}
	if o.own != "" {
		args = append(args, o.own)
	}
	out, err := o.ofctl(ctx, nil, args...)
	if err != nil {
		return nil, err
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); strings.Contains(l, "actions=") {
			lines = append(lines, l)
		}
	}
	return lines, nil
}

// digestLines hashes flow lines in sorted order (dump order is the
// classifier's, not a property of the flow set). It sorts lines.
func digestLines(lines []string) string {
	slices.Sort(lines)
	h := sha256.New()
	for _, l := range lines {
		h.Write([]byte(l))
		h.Write([]byte{'\n'})
	}
	return fmt.Sprintf("%d:%s", len(lines), hex.EncodeToString(h.Sum(nil)))
}
