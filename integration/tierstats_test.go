package integration

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// securityTierPolicy puts a tier "security" (order 100, default Deny)
// before the default tier: traffic to prod/database from outside prod ends
// in the security tier's default deny; from prod it passes on to the
// default tier, where database-allow-backends allows prod/backend and the
// default tier's default denies prod/frontend.
const securityTierPolicy = `apiVersion: projectcalico.org/v3
kind: Tier
metadata:
  name: security
spec:
  order: 100
---
apiVersion: projectcalico.org/v3
kind: GlobalNetworkPolicy
metadata:
  name: security.prod-only
spec:
  tier: security
  order: 1
  selector: app == 'database'
  types: [Ingress]
  ingress:
  - action: Pass
    source:
      namespaceSelector: env == 'prod'
`

// tierScene starts the backend scene and an agent enforcing its policy
// and securityTierPolicy, with the given agent config lines added; it
// returns the policy directory and the agent's health address.
func tierScene(t *testing.T, extra string) (*Scene, *agentProc, string, string) {
	t.Helper()
	o, s := backendScene(t)
	dir := t.TempDir()
	for _, f := range []string{"world.yaml", "database-allow-backends.yaml"} {
		copyFile(t, filepath.Join(backendSeed, f), filepath.Join(dir, f))
	}
	if err := os.WriteFile(filepath.Join(dir, "security.yaml"), []byte(securityTierPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	health := fmt.Sprintf("127.0.0.1:%d", freePorts(t, 1)[0])
	cfg := fmt.Sprintf("bridge: br-int\ndatapathType: netdev\novsdb: %s\npolicyPaths: [%s]\npollInterval: 100ms\n"+
		"checkInterval: 300ms\nlogLevel: debug\nhealthAddress: %q\nstateDir: %s\n%s", o.DBAddr(), dir, health, t.TempDir(), extra)
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, o, path)
	waitFor(t, "/readyz ok", 20*time.Second, func() bool { code, _ := healthGet(health, "/readyz"); return code == http.StatusOK })
	return s, a, dir, health
}

// tierRow matches the stats table's row of a tier's ingress default.
func tierRow(tier string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^ingress\s+` + tier + `\s+\(end of tier: deny\)`)
}

// TestStatsPerTierDefault: with two tiers ending in deny, real connections
// denied by each tier's default are counted on that tier's default alone
// — in `flowgate stats` (named by its tier), in
// flowgate_default_packets_total{tier} — and trace names the tier.
func TestStatsPerTierDefault(t *testing.T) {
	s, _, dir, health := tierScene(t, "")
	o := s.ovs
	ingressDefault := func(tier string) uint64 {
		t.Helper()
		var n uint64
		found := false
		stats := ruleStats(t, o, dir)
		for _, st := range stats {
			if st.Direction == "ingress" && st.Default == "end of tier: deny" && st.Tier == tier {
				n, found = n+st.Packets, true
			}
		}
		if !found {
			t.Fatalf("stats has no ingress end-of-tier default for tier %q: %+v", tier, stats)
		}
		return n
	}
	db := s.addr("prod/database", 8080)
	if !s.Workloads["prod/backend"].ProbeTCP(db, 2*time.Second) {
		t.Fatal("prod/backend must reach prod/database:8080 (passed by security, allowed in default)")
	}

	// deniedBy opens n connections from `from` that the tier `denier`'s
	// default denies, and checks that they are counted on that tier's
	// default and not on `other`'s. ovs-vswitchd adds a datapath flow's
	// packets to its OpenFlow rules' counters when its revalidators next
	// run (about every 0.5 s), so it waits for the denier's count first.
	deniedBy := func(from, denier, other string, n uint64) {
		t.Helper()
		before, otherBefore := ingressDefault(denier), ingressDefault(other)
		for i := uint64(0); i < n; i++ {
			if s.Workloads[from].ProbeTCP(db, 300*time.Millisecond) {
				t.Fatalf("%s must not reach prod/database:8080 (%s tier default)", from, denier)
			}
		}
		waitFor(t, fmt.Sprintf("the %s tier's default to count %d denied connections", denier, n), 10*time.Second, func() bool {
			return ingressDefault(denier)-before >= n
		})
		if d := ingressDefault(other) - otherBefore; d != 0 {
			t.Errorf("after %d connections denied by the %s tier: %s tier default +%d, want 0", n, denier, other, d)
		}
	}
	deniedBy("dev/backend", "security", "default", 3)   // denied by the security tier's default only
	deniedBy("prod/frontend", "default", "security", 2) // passes security, denied by the default tier's
	sec2, def2 := ingressDefault("security"), ingressDefault("default")

	table, _, code := runFlowgate(t, o, "stats", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "-f", dir)
	if code != 0 || !tierRow("security").MatchString(table) || !tierRow("default").MatchString(table) {
		t.Errorf("stats (table): exit %d, want a row per tier default:\n%s", code, table)
	}
	_, m := healthGet(health, "/metrics")
	for tier, want := range map[string]uint64{"security": sec2, "default": def2} {
		name := fmt.Sprintf(`flowgate_default_packets_total{default="end of tier: deny",direction="ingress",tier=%q}`, tier)
		if v := metricValue(m, name); v < float64(want) {
			t.Errorf("/metrics %s = %v, want >= %d:\n%s", name, v, want, grepLines(m, "flowgate_default_"))
		}
	}

	out, _, _ := runFlowgate(t, o, "trace", "--ovsdb", o.DBAddr(), "--bridge", "br-int", "-f", dir,
		"--from", "dev/backend", "--to", "prod/database", "--port", "8080")
	if !strings.Contains(out, "end of tier security: deny") {
		t.Errorf("trace dev/backend -> prod/database does not name the security tier's default:\n%s", out)
	}
}

// auditFileConfig is the agent config's audit section writing to file,
// with extra lines (indented two spaces) added.
func auditFileConfig(file, extra string) string {
	return fmt.Sprintf("audit:\n  enabled: true\n  destination: file\n  file: %s\n  ratePerSecond: 100\n  burst: 200\n  reportInterval: 1s\n%s", file, extra)
}

// deniedLines counts the audit file's logged denials by source endpoint
// and tier (and the policy, for a Deny rule's).
func deniedLines(t *testing.T, file string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, r := range readAudit(t, file) {
		if r.RuleAction != "Deny" || r.Action != "Deny" {
			t.Errorf("a line that is not a logged denial: %+v", r)
		}
		out[fmt.Sprintf("%s tier=%s policy=%s", r.SrcEndpoint, r.Tier, r.Policy.Name)]++
	}
	return out
}

// TestAuditLogDeniedOptIn: denials are logged exactly where asked. With
// audit.logDeniedTiers [security], a connection the security tier's
// default denies is logged and one the default tier's default denies is
// not; with the annotation flowgate.io/log-denied on the NetworkPolicy
// instead, it is the other way round (the NetworkPolicy isolates
// prod/database, the end of its tier denies prod/frontend); without
// either, nothing is.
func TestAuditLogDeniedOptIn(t *testing.T) {
	denyBoth := func(s *Scene) {
		db := s.addr("prod/database", 8080)
		if !s.Workloads["prod/backend"].ProbeTCP(db, 2*time.Second) {
			t.Fatal("prod/backend must reach prod/database:8080")
		}
		if s.Workloads["dev/backend"].ProbeTCP(db, 300*time.Millisecond) {
			t.Fatal("dev/backend must not reach prod/database:8080 (security tier default)")
		}
		if s.Workloads["prod/frontend"].ProbeTCP(db, 300*time.Millisecond) {
			t.Fatal("prod/frontend must not reach prod/database:8080 (default tier default)")
		}
	}
	cases := []struct {
		name, config string
		annotate     bool
		want         map[string]int
	}{
		{"tier", "  logDeniedTiers: [security]\n", false, map[string]int{"dev/backend tier=security policy=": 1}},
		{"policy annotation", "", true, map[string]int{"prod/frontend tier=default policy=": 1}},
		{"neither", "", false, map[string]int{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "audit.log")
			s, a, dir, _ := tierScene(t, auditFileConfig(file, c.config))
			if c.annotate {
				p := filepath.Join(dir, "database-allow-backends.yaml")
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				n := a.realizations()
				b = []byte(strings.Replace(string(b), "  namespace: prod\n", "  namespace: prod\n  annotations:\n    flowgate.io/log-denied: \"true\"\n", 1))
				if err := os.WriteFile(p, b, 0o644); err != nil {
					t.Fatal(err)
				}
				a.waitRealized(t, "the annotated policy", n)
			}
			waitFor(t, "the audit log's packet-in connection", 15*time.Second, func() bool { return strings.Contains(a.log.String(), auditReadyLine) })
			denyBoth(s)
			if len(c.want) > 0 {
				waitFor(t, "the logged denial", 10*time.Second, func() bool { return len(readAudit(t, file)) >= 1 })
			}
			time.Sleep(time.Second) // a line that should not be there has time to land
			if got := deniedLines(t, file); fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Errorf("logged denials %v, want %v", got, c.want)
			}
		})
	}
}
