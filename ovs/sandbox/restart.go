package sandbox

import (
	"fmt"
	"path/filepath"
)

// RestartOVSDB kills ovsdb-server and starts it again on the same database
// file, as a package upgrade would, so tests can check that OVSDB clients
// (the agent's monitor, ovs-vswitchd itself) reconnect and resynchronise.
// The database contents survive; ovs-vswitchd keeps forwarding meanwhile.
func (o *OVS) RestartOVSDB() error {
	if err := o.killDaemon("ovsdb-server"); err != nil {
		return fmt.Errorf("sandbox: restart ovsdb-server: %w", err)
	}
	if err := o.daemon("ovsdb-server",
		filepath.Join(o.Dir, "conf.db"),
		"--remote=punix:"+filepath.Join(o.Dir, "db.sock"),
		"--pidfile="+filepath.Join(o.Dir, "ovsdb-server.pid"),
		"--log-file="+filepath.Join(o.Dir, "ovsdb-server.log"),
		"--detach", "--no-chdir",
	); err != nil {
		return fmt.Errorf("sandbox: restart ovsdb-server: %w", err)
	}
	return nil
}
