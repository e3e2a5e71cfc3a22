package integration

import (
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/translator/policy"
)

// testK8sStaged: staged policies applied with kubectl — the AND/OR trap
// staged over the enforced database policy, and a staged deny-everything —
// are read by the agent (its /objects lists them) and change no
// connection; `flowgate diff` against the agent shows what committing them
// would open and close.
func testK8sStaged(t *testing.T, n *k8sNode) {
	dir := backendSeed
	pods := seedWorld(t, n, dir, []int{8080})
	defer n.deletePods(t, pods)
	policyPath := filepath.Join(dir, "database-allow-backends.yaml")
	n.c.kubectl(t, "", "apply", "-f", policyPath)
	defer n.c.kubectlErr("", "delete", "-f", policyPath)
	db := findPod(t, pods, "prod/database")
	devFront, devBack := findPod(t, pods, "dev/frontend"), findPod(t, pods, "dev/backend")
	prodBack := findPod(t, pods, "prod/backend")
	expect := func() []probeCase {
		return append(n.expectFromCluster(t, pods, policy.TCP, []int{8080}),
			check(devFront, db, 8080, false, "enforced: frontends are not backends"),
			check(devBack, db, 8080, true, "enforced: backends in env=dev namespaces"),
			check(devBack, prodBack, 8080, true, "no policy selects prod/backend"))
	}
	converge(t, "NetworkPolicy enforced", 20*time.Second, expect)

	staged := "../examples/staged/database-allow-backends-trap.yaml"
	n.c.kubectl(t, "", "apply", "-f", staged)
	defer n.c.kubectlErr("", "delete", "-f", staged)
	n.c.kubectl(t, stagedDenyAll, "apply", "-f", "-")
	defer n.c.kubectlErr("", "delete", "stagedglobalnetworkpolicies.projectcalico.org", "deny-everything")
	waitFor(t, "the agent to read both staged policies (/objects)", 20*time.Second, func() bool {
		code, body := getObjects(n.health)
		return code == http.StatusOK && strings.Contains(body, `"StagedGlobalNetworkPolicy"`) && strings.Contains(body, `"StagedKubernetesNetworkPolicy"`)
	})
	time.Sleep(500 * time.Millisecond) // a realization enforcing them would be done by now
	if bad := probe(expect()); len(bad) > 0 {
		t.Fatalf("staged policies changed enforcement: %v", bad)
	}

	out, err := exec.Command(flowgateBin, "diff", "--agent", n.health, "--ports", "8080").Output()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("flowgate diff --agent: %v, want exit 3\n%s", err, out)
	}
	for _, want := range []string{"+ dev/frontend -> prod/database tcp/8080 opened", "- dev/backend -> prod/backend tcp/8080 closed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("flowgate diff --agent lacks %q:\n%s", want, out)
		}
	}
}
