package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/sirupsen/logrus"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/endpoints/ovsbind"
	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/translator/compiler"
)

// applyRecordKey is the bridge's external_ids key where `flowgate apply`
// records the flows it verified: which input they are the compilation of
// (applyFingerprint) and the Digest of the bridge's flows when they were
// found equal to that compilation. A later apply whose fingerprint and
// the bridge's current Digest both match it changes nothing and need not
// decode, compile or compare anything: the compiler is deterministic, so
// the same fingerprint compiles to the same flows, and any flow added,
// deleted or edited since changes the Digest (then apply compiles and
// compares everything, and fixes what differs). Only a Digest of flows
// that Sync compared with the desired set and found equal is recorded
// (openflow.VerifiedDigest) or of the flows a bundle installed
// (openflow.DesiredDigest: computed from the flows, not from a dump after
// the bundle, which a concurrent change could have made wrong).
const applyRecordKey = "flowgate-apply"

// unverified is the Digest of a record without a digest of the desired
// flows (their digest could not be taken).
const unverified = "-"

// applyRecord is what applyRecordKey holds.
type applyRecord struct {
	Fingerprint, Digest string
	Flows, Bound        int
}

func (r applyRecord) String() string {
	return fmt.Sprintf("v1 %s %s %d %d", r.Fingerprint, r.Digest, r.Flows, r.Bound)
}

func parseApplyRecord(s string) (applyRecord, bool) {
	f := strings.Fields(s)
	if len(f) != 5 || f[0] != "v1" {
		return applyRecord{}, false
	}
	flows, err1 := strconv.Atoi(f[3])
	bound, err2 := strconv.Atoi(f[4])
	if err1 != nil || err2 != nil {
		return applyRecord{}, false
	}
	return applyRecord{Fingerprint: f[1], Digest: f[2], Flows: flows, Bound: bound}, true
}

// bridgeLook is what alreadyApplied found.
type bridgeLook struct {
	// applied: the bridge provably holds what ins compile to; rec is
	// its record then.
	applied bool
	rec     applyRecord
	// ins are the inputs as read.
	ins []files.Input
	// found: the bridge exists; ports are its ports as read.
	found bool
	ports []ovsbind.Port
	// pre is a dump of its flows for the full apply's comparison, when
	// flowgate applied this input to the bridge before
	// (openflow.Programmer.Prefetch); stopPrefetch releases it.
	pre          *openflow.Prefetched
	stopPrefetch context.CancelFunc
}

// alreadyApplied reads the inputs (read) and reports whether the bridge
// provably holds what they compile to (see applyRecordKey), reading only:
// it connects to OVSDB without creating or changing anything, reads the
// record and the ports, and dumps the flows once (while the inputs are
// read and hashed). Any problem on the way means "not known": the caller
// then does the full apply with the inputs and ports returned.
func alreadyApplied(ctx context.Context, ovsdbAddr, bridge string, shared *compiler.Shared, args []string, read func() []files.Input) bridgeLook {
	log := logrus.WithField("bridge", bridge)
	db, prog, err := agent.OpenBridgeReadOnly(ctx, ovsdbAddr, bridge, shared, os.Environ())
	if err != nil {
		return bridgeLook{ins: read()}
	}
	defer db.Close()
	e := &agent.Engine{Bridge: bridge, DB: db}
	look := bridgeLook{found: true, ports: e.Ports()}
	value, ok := db.BridgeExternalID(bridge, applyRecordKey)
	if !ok {
		look.ins = read()
		return look
	}
	rec, ok := parseApplyRecord(value)
	if !ok {
		look.ins = read()
		return look
	}
	// Flowgate applied this bridge before: dump its flows while the
	// input is read and hashed. If the input is what was applied, the
	// digest needs them (and, if it differs, the comparison); if not,
	// the flows will most likely be replaced and the dump is stopped.
	pctx, cancel := context.WithCancel(ctx)
	look.pre = prog.Prefetch(pctx)
	look.ins = read()
	fp, fpErr := applyFingerprint(args, look.ins, look.ports)
	if fpErr != nil || fp != rec.Fingerprint {
		cancel()
		look.pre = nil
		return look
	}
	look.stopPrefetch = cancel
	if rec.Digest == unverified {
		return look
	}
	digest, err := look.pre.Digest()
	switch {
	case err != nil:
		log.WithError(err).Debug("cannot digest the bridge's flows; applying in full")
		return look
	case digest != rec.Digest:
		log.Info("the bridge's flows changed since flowgate verified them; compiling and comparing everything")
		return look
	}
	look.applied, look.rec = true, rec
	return look
}

// recordApplied records on the bridge which input its flows are the
// compilation of, and the DesiredDigest of that compilation: from the
// Sync's comparison when it compared every flow (openflow.VerifiedDigest),
// else from desired (the digest of the flows the Sync installed, taken
// while it ran: agent.Engine.BeforeSync). The digest is of what should be
// installed, never of what a dump found, so a change somebody made around
// the bundle is not recorded as right: the next apply finds the bridge's
// digest different and compiles. Without a digest the record says only
// which input was applied (unverified). A failure to record only costs the
// next apply its shortcut.
func recordApplied(ctx context.Context, e *agent.Engine, desired func() (string, error), args []string, ins []files.Input, flows, bound int) {
	digest := e.Prog.VerifiedDigest()
	if digest == "" && desired != nil {
		d, err := desired()
		if err != nil {
			logrus.WithError(err).WithField("bridge", e.Bridge).Warn("cannot digest the installed flows; the next apply compares them")
		}
		digest = d
	}
	if digest == "" {
		digest = unverified
	}
	fp, err := applyFingerprint(args, ins, e.ReplacedPorts())
	if err == nil {
		err = e.DB.SetBridgeExternalID(ctx, e.Bridge, applyRecordKey, applyRecord{Fingerprint: fp, Digest: digest, Flows: flows, Bound: bound}.String())
	}
	if err != nil {
		logrus.WithError(err).WithField("bridge", e.Bridge).Warn("cannot record the verified flows; the next apply compares them again")
	}
}

// digestWhileSyncing makes e digest the flows a full replacement installs
// while the bundle runs (agent.Engine.BeforeSync) and returns the way to
// wait for that digest (nil error and "" when there was no replacement).
func digestWhileSyncing(ctx context.Context, e *agent.Engine) func() (string, error) {
	type result struct {
		digest string
		err    error
	}
	var done chan result
	e.BeforeSync = func(flows []compiler.Flow) {
		flows = slices.Clone(flows)
		done = make(chan result, 1)
		go func() {
			d, err := e.Prog.DesiredDigest(ctx, flows)
			done <- result{d, err}
		}()
	}
	return func() (string, error) {
		if done == nil {
			return "", nil
		}
		r := <-done
		return r.digest, r.err
	}
}
