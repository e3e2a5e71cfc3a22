package decode

import "github.com/flowgate/flowgate/translator/policy"

// logDenied reads the policy.LogDeniedAnnotation opt-in of a policy
// object. Any value but "true" or "false" is a warning, not an error: the
// annotation only asks for logging, and refusing the policy for it would
// enforce less.
func logDenied(probs *problems, annotations map[string]string) bool {
	v, ok := annotations[policy.LogDeniedAnnotation]
	if !ok {
		return false
	}
	switch v {
	case "true":
		return true
	case "false":
		return false
	}
	probs.warn("metadata.annotations."+policy.LogDeniedAnnotation, "%q is neither \"true\" nor \"false\": denied connections are not logged for this policy", v)
	return false
}
