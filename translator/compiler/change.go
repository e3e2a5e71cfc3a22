package compiler

import (
	"errors"
	"fmt"

	"github.com/flowgate/flowgate/translator/policy"
)

// Change is one update to the world. Exactly one field is set.
//
// Upserts add an object or replace the one with the same ID; deletes name
// the object by ID. Objects handed in are owned by the compiler from then
// on, like the world given to New: do not modify them afterwards.
type Change struct {
	// UpsertEndpoint adds an endpoint or replaces the one with its ID.
	UpsertEndpoint *policy.Endpoint
	// DeleteEndpoint removes the endpoint with this ID ("namespace/name").
	DeleteEndpoint string

	// UpsertPolicy adds a policy or replaces the one with its ID.
	UpsertPolicy *policy.Policy
	// DeletePolicy removes the policy with this ID.
	DeletePolicy string

	// UpsertNamespace adds a namespace or replaces the one with its name;
	// every endpoint and network set in it sees the new labels.
	UpsertNamespace *policy.Namespace
	// DeleteNamespace removes the namespace with this name.
	DeleteNamespace string

	// UpsertServiceAccount adds a service account or replaces the one with
	// its namespace and name.
	UpsertServiceAccount *policy.ServiceAccount
	// DeleteServiceAccount removes the service account "namespace/name".
	DeleteServiceAccount string

	// UpsertNetworkSet adds a network set or replaces the one with its ID.
	UpsertNetworkSet *policy.NetworkSet
	// DeleteNetworkSet removes the network set with this ID.
	DeleteNetworkSet string

	// UpsertTier adds a tier or replaces the one with its name.
	UpsertTier *policy.Tier
	// DeleteTier removes the tier with this name. Policies in it stay but
	// apply to no endpoint until the tier exists again.
	DeleteTier string

	// Bind makes an endpoint local (or moves it to another port). The
	// endpoint need not exist yet: the binding waits for it.
	Bind *LocalBinding
	// Unbind makes the endpoint with this ID remote.
	Unbind string
}

// LocalBinding binds one endpoint, by ID, to its port on the bridge.
type LocalBinding struct {
	// EndpointID is the endpoint's ID ("namespace/name").
	EndpointID string
	// Binding is the port, MAC and zone the endpoint gets.
	Binding Binding
}

// String describes the change the way errors name it, e.g.
// "upsert endpoint ns/web-1" or "unbind ns/web-1".
func (ch Change) String() string {
	var parts []string
	add := func(verb, kind, id string) { parts = append(parts, verb+" "+kind+" "+id) }
	if e := ch.UpsertEndpoint; e != nil {
		add("upsert", "endpoint", e.ID())
	}
	if ch.DeleteEndpoint != "" {
		add("delete", "endpoint", ch.DeleteEndpoint)
	}
	if p := ch.UpsertPolicy; p != nil {
		add("upsert", "policy", p.ID())
	}
	if ch.DeletePolicy != "" {
		add("delete", "policy", ch.DeletePolicy)
	}
	if ns := ch.UpsertNamespace; ns != nil {
		add("upsert", "namespace", ns.Name)
	}
	if ch.DeleteNamespace != "" {
		add("delete", "namespace", ch.DeleteNamespace)
	}
	if sa := ch.UpsertServiceAccount; sa != nil {
		add("upsert", "service account", sa.Namespace+"/"+sa.Name)
	}
	if ch.DeleteServiceAccount != "" {
		add("delete", "service account", ch.DeleteServiceAccount)
	}
	if s := ch.UpsertNetworkSet; s != nil {
		add("upsert", "network set", s.ID())
	}
	if ch.DeleteNetworkSet != "" {
		add("delete", "network set", ch.DeleteNetworkSet)
	}
	if t := ch.UpsertTier; t != nil {
		add("upsert", "tier", t.Name)
	}
	if ch.DeleteTier != "" {
		add("delete", "tier", ch.DeleteTier)
	}
	if b := ch.Bind; b != nil {
		parts = append(parts, "bind "+b.EndpointID)
	}
	if ch.Unbind != "" {
		parts = append(parts, "unbind "+ch.Unbind)
	}
	switch len(parts) {
	case 0:
		return "empty change"
	case 1:
		return parts[0]
	}
	return fmt.Sprintf("%d changes at once (%s, ...)", len(parts), parts[0])
}

// count is the number of fields set.
func (ch Change) count() int {
	n := 0
	for _, set := range []bool{
		ch.UpsertEndpoint != nil, ch.DeleteEndpoint != "",
		ch.UpsertPolicy != nil, ch.DeletePolicy != "",
		ch.UpsertNamespace != nil, ch.DeleteNamespace != "",
		ch.UpsertServiceAccount != nil, ch.DeleteServiceAccount != "",
		ch.UpsertNetworkSet != nil, ch.DeleteNetworkSet != "",
		ch.UpsertTier != nil, ch.DeleteTier != "",
		ch.Bind != nil, ch.Unbind != "",
	} {
		if set {
			n++
		}
	}
	return n
}

// errNotFound is returned (wrapped) when a change deletes or unbinds
// something that does not exist.
var errNotFound = errors.New("not found")
