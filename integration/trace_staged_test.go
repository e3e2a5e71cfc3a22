package integration

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
)

// TestTraceStagedWouldBe: `flowgate trace` on a bridge enforcing the
// database-allow-backends seed, given the staged AND/OR trap beside it,
// reports what the bridge does now (dev/frontend is denied) and what the
// connection would get with the staged policy committed (allowed, by the
// staged version of the policy), without the staged policy ever reaching
// the bridge.
func TestTraceStagedWouldBe(t *testing.T) {
	o, _ := backendScene(t)
	const staged = "../examples/staged/database-allow-backends-trap.yaml"
	args := []string{"trace", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "-f", backendSeed, "-f", staged,
		"--from", "dev/frontend", "--to", "prod/database", "--port", "8080"}

	out, errOut, code := runFlowgate(t, o, append(args, "-o", "json")...)
	var r agent.TraceResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("trace -o json: %v\n%s\n%s", err, out, errOut)
	}
	if code != 0 || r.Allowed || !r.Agree {
		t.Fatalf("trace: exit %d, bridge allowed %v, agree %v (the staged policy must not be enforced)\n%s", code, r.Allowed, r.Agree, errOut)
	}
	wb := r.WouldBe
	if wb == nil || !wb.Allowed || !wb.Changed || wb.Staged != 1 || wb.Ingress == nil ||
		wb.Ingress.Policy != "prod/knp.default.database-allow-backends" || wb.Ingress.Action != "Allow" {
		t.Fatalf("trace -o json wouldBe = %+v (ingress %+v), want allowed and changed by prod's staged database-allow-backends", wb, wb.Ingress)
	}

	text, _, code := runFlowgate(t, o, args...)
	if code != 0 || !strings.HasPrefix(text, "DENIED") || !strings.Contains(text, "would be ALLOWED with the 1 staged policy committed (changed)") {
		t.Errorf("trace (text): exit %d\n%s", code, text)
	}

	// Without staged input there is no "would be".
	out, _, _ = runFlowgate(t, o, "trace", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "-f", backendSeed,
		"--from", "dev/frontend", "--to", "prod/database", "--port", "8080", "-o", "json")
	if strings.Contains(out, "wouldBe") {
		t.Errorf("trace without staged policies printed wouldBe:\n%s", out)
	}
}
