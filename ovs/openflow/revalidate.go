package openflow

import (
	"context"
	"fmt"
	"time"

	"github.com/flowgate/flowgate/ovs/unixctl"
)

// purgeDatapathFlows drops every cached datapath flow after a bundle
// committed, so the next packet of every flow is translated through the
// new tables.
//
// Measured here (OVS 3.1, userspace datapath): after a bundle replaced the
// policy tables, datapath flows cached for packets recirculated from ct()
// kept the old verdict for seconds, in both directions (a connection the
// new policy denies was still committed, one it allows was still dropped),
// and neither the periodic revalidation nor `revalidator/wait` corrected
// them; `revalidator/purge` does. A purge drops no packet: each flow's next
// packet takes one upcall (tens of microseconds) to install its new
// datapath flow. Established connections are unaffected beyond that.
//
// The commands go straight to ovs-vswitchd's control socket (well under a
// millisecond each on an open connection); only if that fails — the socket
// is not where OVS_RUNDIR says, ovs-vswitchd restarted in between, or it
// has several datapaths and cannot wait on them all — is ovs-appctl run
// (~10 ms), which finds the daemon its own way.
//
// `revalidator/wait` first: the bundle's commit starts a revalidation of
// every cached flow, and a purge issued while that runs dropped packets
// (measured: TestReplacementDropsNoTraffic lost 2–5 of ~1,500 connections
// per phase under load; with ovs-appctl's ~10 ms start the race was
// hidden). Waiting for that round to end takes about as long as it runs.
func (o *ofctl) purgeDatapathFlows(ctx context.Context) error {
	if o.ctl == nil {
		o.ctl = unixctl.New(unixctl.RunDir(o.env), "ovs-vswitchd", 30*time.Second)
	}
	_, err := o.ctl.Call("revalidator/wait")
	if err == nil {
		_, err = o.ctl.Call("revalidator/purge")
	}
	if err == nil {
		return nil
	}
	if _, err := o.run(ctx, nil, "ovs-appctl", "revalidator/purge"); err != nil {
		return fmt.Errorf("purge datapath flows after the bundle: %w", err)
	}
	return nil
}
