package agent

import (
	"errors"
	"path/filepath"

	"github.com/sirupsen/logrus"

	"github.com/flowgate/flowgate/endpoints"
	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/endpoints/state"
)

// DefaultStateDir is where the agent keeps each input file's last good
// content (the systemd unit's StateDirectory=flowgate).
const DefaultStateDir = "/var/lib/flowgate"

// persistSource makes src keep its files' last good content under the
// config's stateDir, in <stateDir>/<bridge>/<kind>: one agent per bridge,
// each file source (policy, neutron) apart; the health endpoints report
// its write failures. Without a stateDir, or when it cannot be created, the
// last good state is kept in memory only (logged): the agent still never
// programs a file it has no good state for (inputsIncomplete).
func persistSource(cfg Config, src *files.Source, kind string, h *health) {
	if cfg.StateDir == "" {
		logrus.WithField("source", kind).Warn("no stateDir: last good states are kept in memory only, and a file broken when the agent starts blocks programming")
		return
	}
	dir := filepath.Join(cfg.StateDir, cfg.Bridge, kind)
	st, err := state.Open(dir)
	if err != nil {
		logrus.WithError(err).WithField("source", kind).Error("state directory unusable: last good states are kept in memory only")
		return
	}
	src.Persist(st)
	h.mu.Lock()
	h.stores = append(h.stores, st)
	h.mu.Unlock()
}

// inputsIncomplete reports whether the agent must not program: some input
// file has no good state at all (broken, or still being written, since the
// agent started, with nothing saved in the state directory), so the
// objects in hand could enforce less than the bridge does. It says why in
// the log when that changes, and on /readyz.
func inputsIncomplete(h *health, incomplete []error) bool {
	if h.block(incomplete) {
		for _, err := range incomplete {
			if errors.Is(err, files.ErrBeingWritten) {
				// At start-up, or a new file: read again in a moment.
				logrus.WithError(err).Info("not programming the bridge until an input file is completely written")
				continue
			}
			logrus.WithError(err).Error("not programming the bridge: an input file has no good state to enforce; fix the file (the bridge keeps what it enforces)")
		}
		if len(incomplete) == 0 {
			logrus.Info("every input file has a good state again: programming")
		}
	}
	return len(incomplete) > 0
}

// rereadSources reads every file source again (SIGHUP), as one snapshot.
func rereadSources(srcs []*files.Source) endpoints.Snapshot {
	var all endpoints.Snapshot
	for _, src := range srcs {
		snap := src.Read()
		all.Objects = append(all.Objects, snap.Objects...)
		all.Incomplete = append(all.Incomplete, snap.Incomplete...)
	}
	return all
}
