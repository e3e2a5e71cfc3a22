package decode

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// checkName validates an object name the way the API server does
// (a DNS subdomain).
func checkName(probs *problems, field, name string) {
	if err := validDNSSubdomain(name); err != nil {
		probs.addErr(field, err)
	}
}

func validDNSSubdomain(s string) error {
	if msgs := validation.IsDNS1123Subdomain(s); len(msgs) > 0 {
		return fmt.Errorf("invalid name %q: %s", s, strings.Join(msgs, "; "))
	}
	return nil
}

func validDNSLabel(s string) error {
	if msgs := validation.IsDNS1123Label(s); len(msgs) > 0 {
		return fmt.Errorf("invalid namespace %q: %s", s, strings.Join(msgs, "; "))
	}
	return nil
}

// checkLabels validates label keys and values as Kubernetes does, in key
// order so the errors come out the same way every time.
func checkLabels(probs *problems, field string, labels map[string]string) {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if msgs := validation.IsQualifiedName(k); len(msgs) > 0 {
			probs.addErr(field+"."+k, errors.New("invalid label key: "+strings.Join(msgs, "; ")))
		}
		if msgs := validation.IsValidLabelValue(labels[k]); len(msgs) > 0 {
			probs.addErr(field+"."+k, fmt.Errorf("invalid label value %q: %s", labels[k], strings.Join(msgs, "; ")))
		}
	}
}
