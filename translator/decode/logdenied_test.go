package decode_test

import (
	"strings"
	"testing"

	"github.com/flowgate/flowgate/translator/decode"
	"github.com/flowgate/flowgate/translator/policy"
)

// TestLogDeniedAnnotation: flowgate.io/log-denied: "true" on a policy of
// any kind asks for its denials to be logged; absent or "false" does not;
// any other value is a warning naming the field (never an error: the
// policy is enforced all the same).
func TestLogDeniedAnnotation(t *testing.T) {
	docs := map[string]string{
		"NetworkPolicy":        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: np1\n  namespace: prod\nANN\nspec:\n  podSelector: {}\n",
		"Calico NetworkPolicy": "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata:\n  name: c\n  namespace: prod\nANN\nspec:\n  selector: all()\n",
		"GlobalNetworkPolicy":  "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata:\n  name: g\nANN\nspec:\n  selector: all()\n",
		"ClusterNetworkPolicy": strings.TrimSuffix(cnpHeader, "\n") + "\nANN\nspec:\n  tier: Admin\n  priority: 1\n" + nsSubject,
		"AdminNetworkPolicy":   strings.TrimSuffix(anpHeader, "\n") + "\nANN\nspec:\n  priority: 1\n" + nsSubject,
	}
	for kind, doc := range docs {
		for value, want := range map[string]bool{"": false, `"true"`: true, `"false"`: false, `"maybe"`: false} {
			ann := ""
			if value != "" {
				ann = "  annotations:\n    " + policy.LogDeniedAnnotation + ": " + value
			}
			objs, errs := decode.Decode("in.yaml", []byte(strings.Replace(doc, "ANN", ann, 1)))
			if len(errs) > 0 || len(objs) != 1 {
				t.Fatalf("%s %s: errors %v", kind, value, errs)
			}
			if got := objs[0].Value.(*policy.Policy).LogDenied; got != want {
				t.Errorf("%s with %q: LogDenied %v, want %v", kind, value, got, want)
			}
			warned := len(objs[0].Warnings) == 1 && strings.Contains(objs[0].Warnings[0].Error(), "metadata.annotations."+policy.LogDeniedAnnotation)
			if warned != (value == `"maybe"`) {
				t.Errorf("%s with %q: warnings %v", kind, value, objs[0].Warnings)
			}
		}
	}
}
