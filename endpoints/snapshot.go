// Package endpoints holds the sources that discover what policy is enforced
// on and the policy itself — files and directories (endpoints/files), a
// Kubernetes cluster (endpoints/kube), the bridge's ports (endpoints/ovsbind),
// the host's interfaces (endpoints/hostif) — and, here, the contract they
// share: a source emits Snapshots, and Merge combines several sources into
// one stream. The endpoint model itself is pure data and lives with the rest
// of the model in translator/policy.
package endpoints

import (
	"time"

	"github.com/flowgate/flowgate/translator/decode"
)

// Snapshot is what a source emits: every object it has in force, after a
// read or a change. The agent realizes snapshots; it does not care which
// source they came from.
type Snapshot struct {
	// Objects are every object in force, in the source's order.
	Objects []decode.Object
	// Problems are the current problems: unreadable paths and files (or
	// API objects) whose last good objects are kept in force instead.
	Problems []error
	// Incomplete are the inputs with no good state at all — broken, or
	// still being written, since the source started, with no last good
	// content saved either. Objects then lack what they define, so
	// enforcing Objects could enforce less than the bridge does: the
	// agent does not program while any input is incomplete.
	Incomplete []error
	// Changed reports whether the objects in force changed since the
	// previous snapshot.
	Changed bool
	// Took is how long the read took (reading, hashing and decoding what
	// changed), for the agent's latency report.
	Took time.Duration
}
