package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/flowgate/flowgate/ovs/openflow"
	"github.com/flowgate/flowgate/ovs/ovsdb"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/policy"
)

// OpenBridge connects to OVSDB, makes sure the bridge exists and its
// tables are named, and returns a flow programmer for it. With shared set
// only flowgate's placed tables are named and the programmer owns only
// flows with flowgate's cookie mark. The programmer runs ovs-ofctl with
// env (the commands pass os.Environ(), so OVS_RUNDIR finds the daemon).
func OpenBridge(ctx context.Context, addr, bridge, datapathType string, shared *compiler.Shared, env []string) (*ovsdb.Client, *openflow.Programmer, error) {
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	db, err := ovsdb.Connect(cctx, addr)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to OVSDB %s: %w", addr, err)
	}
	if err := db.EnsureBridge(cctx, bridge, datapathType); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("bridge %s: %w", bridge, err)
	}
	names := map[uint8]string{}
	for _, t := range compiler.Tables {
		names[t.ID] = t.Name
	}
	if shared != nil {
		names = shared.TableNames()
	}
	if err := db.NameTables(cctx, bridge, names); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("name tables of %s: %w", bridge, err)
	}
	prog := openflow.NewProgrammer(bridge, env)
	if shared != nil {
		prog.Share(compiler.SharedCookieMark, compiler.SharedCookieMask, shared.ForeignTables())
	}
	return db, prog, nil
}

// OpenBridgeReadOnly connects to OVSDB and to an existing bridge for tools
// that only read (status): unlike OpenBridge it creates nothing, adds no
// OpenFlow version and names no table, and a missing bridge is an error at
// once.
func OpenBridgeReadOnly(ctx context.Context, addr, bridge string, shared *compiler.Shared, env []string) (*ovsdb.Client, *openflow.Programmer, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	db, err := ovsdb.Connect(cctx, addr)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to OVSDB %s: %w", addr, err)
	}
	if !db.HasBridge(bridge) {
		db.Close()
		return nil, nil, fmt.Errorf("bridge %s does not exist in OVSDB %s (status only reads; flowgate apply or the agent creates it)", bridge, addr)
	}
	prog := openflow.NewProgrammer(bridge, env)
	if shared != nil {
		prog.Share(compiler.SharedCookieMark, compiler.SharedCookieMask, shared.ForeignTables())
	}
	return db, prog, nil
}

// CompilerOptions turns failsafe settings into compiler options.
func CompilerOptions(inbound, outbound string) (compiler.Options, error) {
	in, err := policy.ParseFailsafes(inbound)
	if err != nil {
		return compiler.Options{}, fmt.Errorf("failsafe inbound: %w", err)
	}
	out, err := policy.ParseFailsafes(outbound)
	if err != nil {
		return compiler.Options{}, fmt.Errorf("failsafe outbound: %w", err)
	}
	return compiler.Options{FailsafeInbound: in, FailsafeOutbound: out}, nil
}
