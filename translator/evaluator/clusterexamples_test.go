package evaluator_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/evaluator"
	"github.com/flowgate/flowgate/translator/evaluator/evaltest"
)

// TestClusterPolicyExamples asserts what examples/cluster-policy says: the
// seed page's AND/OR NetworkPolicy followed by an Admin-tier policy that
// denies what it allows, and by a Baseline-tier policy it overrides.
func TestClusterPolicyExamples(t *testing.T) {
	const knp = "default/prod/knp.default.database-allow-backends ingress[0] Allow"
	cases := map[string][]probe{
		"admin-denies-what-networkpolicy-allows": {
			{"dev/backend", "prod/database", tcp, 8080, false, defAllow, `kube-admin/kcnp.kube-admin.deny-dev-to-databases ingress[0] "deny-from-dev" Deny`},
			{"prod/backend", "prod/database", tcp, 8080, true, defAllow, knp},
			{"dev/frontend", "prod/database", tcp, 8080, false, defAllow, `kube-admin/kcnp.kube-admin.deny-dev-to-databases ingress[0] "deny-from-dev" Deny`},
			{"dev/backend", "prod/frontend", tcp, 8080, true, defAllow, defAllow},
		},
		"networkpolicy-overrides-baseline": {
			{"dev/backend", "prod/database", tcp, 8080, true, defAllow, knp},
			{"dev/backend", "prod/frontend", tcp, 8080, false, defAllow, `kube-baseline/kcnp.kube-baseline.isolate-prod-from-dev ingress[0] "deny-from-dev" Deny`},
			{"staging/backend", "prod/frontend", tcp, 8080, true, defAllow, defAllow},
			{"staging/backend", "prod/database", tcp, 8080, false, defAllow, endOfTier},
		},
	}
	for dir, probes := range cases {
		t.Run(dir, func(t *testing.T) {
			objs, errs := evaltest.DecodeFS(os.DirFS(filepath.Join("../../examples/cluster-policy", dir)), ".")
			w, berrs := decode.Build(objs)
			for _, err := range append(errs, berrs...) {
				t.Fatalf("%s: %v", dir, err)
			}
			checkProbes(t, evaluator.New(w, evaluator.DefaultOptions()), probes)
		})
	}
}
