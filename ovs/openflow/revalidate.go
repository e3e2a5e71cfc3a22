package openflow

import (
	"context"
	"fmt"
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
func (o *ofctl) purgeDatapathFlows(ctx context.Context) error {
	if _, err := o.run(ctx, nil, "ovs-appctl", "revalidator/purge"); err != nil {
		return fmt.Errorf("purge datapath flows after the bundle: %w", err)
	}
	return nil
}
