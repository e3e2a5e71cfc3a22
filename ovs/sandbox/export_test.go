package sandbox

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/flowgate/flowgate/ovs/netdev"
)

// SetTxChecksum exposes the offload switch so the tests can prove that
// turning it off is what makes conntrack work.
func (w *Workload) SetTxChecksum(on bool) error {
	return inNS(w.NetNS, func() error { return netdev.SetTxChecksum("eth0", on) })
}

// OrphanForTest rewrites the instance's registry entry as if the process
// owning it had died, so a test can check that the next Start reaps it.
func (o *OVS) OrphanForTest() error {
	b, err := json.Marshal(record{ID: o.id, Dir: o.Dir, Owner: 0x3fffffff, OwnerStart: "1"})
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(registryDir, o.id), b, 0o644)
}
