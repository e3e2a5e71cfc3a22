package integration

import (
	"context"
	"fmt"
	"os"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/ovs/sandbox"
	"github.com/flowgate/flowgate/translator/compiler"
	"github.com/flowgate/flowgate/translator/policy"
)

// applyDir makes br-int enforce the policy files of dir as `flowgate
// apply` does (default failsafes, open connections survive), through the
// agent package's Engine: tests whose subject is the enforcement, not the
// command, need no binary. A problem in the input is an error.
func applyDir(o *sandbox.OVS, dir string) error {
	objs, problems := files.Read([]string{dir}, nil)
	if len(problems) > 0 {
		return fmt.Errorf("%s: %v", dir, problems)
	}
	ctx := context.Background()
	db, prog, err := agent.OpenBridge(ctx, o.DBAddr(), "br-int", "netdev", nil, append(os.Environ(), o.Env()...))
	if err != nil {
		return err
	}
	defer db.Close()
	e := &agent.Engine{Bridge: "br-int", DB: db, Prog: prog, Opts: compiler.Options{
		FailsafeInbound: policy.DefaultFailsafeInbound(), FailsafeOutbound: policy.DefaultFailsafeOutbound()}}
	if _, problems, err := e.Replace(ctx, objs); err != nil || len(problems) > 0 {
		return fmt.Errorf("%s: apply: %v %v", dir, err, problems)
	}
	return nil
}
