package decode

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The projectcalico.org/v3 wire types. Only fields flowgate understands are
// declared, so strict decoding turns every other field into an error that
// names it.

type calicoNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              calicoPolicySpec `json:"spec"`
}

type calicoPolicySpec struct {
	Tier                   string       `json:"tier,omitempty"`
	Order                  *float64     `json:"order,omitempty"`
	Selector               string       `json:"selector,omitempty"`
	Types                  []string     `json:"types,omitempty"`
	Ingress                []calicoRule `json:"ingress,omitempty"`
	Egress                 []calicoRule `json:"egress,omitempty"`
	ServiceAccountSelector string       `json:"serviceAccountSelector,omitempty"`
	PerformanceHints       []string     `json:"performanceHints,omitempty"`
	// Global only.
	NamespaceSelector *string `json:"namespaceSelector,omitempty"`
	DoNotTrack        *bool   `json:"doNotTrack,omitempty"`
	PreDNAT           *bool   `json:"preDNAT,omitempty"`
	ApplyOnForward    *bool   `json:"applyOnForward,omitempty"`
}

type calicoRule struct {
	Action      string           `json:"action"`
	IPVersion   *int             `json:"ipVersion,omitempty"`
	Protocol    *numOrString     `json:"protocol,omitempty"`
	NotProtocol *numOrString     `json:"notProtocol,omitempty"`
	ICMP        *calicoICMP      `json:"icmp,omitempty"`
	NotICMP     *calicoICMP      `json:"notICMP,omitempty"`
	Source      calicoEntityRule `json:"source,omitempty"`
	Destination calicoEntityRule `json:"destination,omitempty"`
	HTTP        *json.RawMessage `json:"http,omitempty"`
	Metadata    *calicoRuleMeta  `json:"metadata,omitempty"`
}

type calicoRuleMeta struct {
	Annotations map[string]string `json:"annotations,omitempty"`
}

type calicoICMP struct {
	Type *int `json:"type,omitempty"`
	Code *int `json:"code,omitempty"`
}

type calicoEntityRule struct {
	Nets              []string               `json:"nets,omitempty"`
	NotNets           []string               `json:"notNets,omitempty"`
	Selector          string                 `json:"selector,omitempty"`
	NotSelector       string                 `json:"notSelector,omitempty"`
	NamespaceSelector string                 `json:"namespaceSelector,omitempty"`
	Ports             []numOrString          `json:"ports,omitempty"`
	NotPorts          []numOrString          `json:"notPorts,omitempty"`
	ServiceAccounts   *calicoServiceAccounts `json:"serviceAccounts,omitempty"`
	Services          *json.RawMessage       `json:"services,omitempty"`
}

type calicoServiceAccounts struct {
	Names    []string `json:"names,omitempty"`
	Selector string   `json:"selector,omitempty"`
}

type calicoTier struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Order         *float64 `json:"order,omitempty"`
		DefaultAction string   `json:"defaultAction,omitempty"`
	} `json:"spec"`
}

type calicoNetworkSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Nets                 []string `json:"nets,omitempty"`
		AllowedEgressDomains []string `json:"allowedEgressDomains,omitempty"`
	} `json:"spec"`
}

type calicoEndpointPort struct {
	Name     string      `json:"name"`
	Protocol numOrString `json:"protocol"`
	Port     int         `json:"port"`
	HostPort int         `json:"hostPort,omitempty"`
	HostIP   string      `json:"hostIP,omitempty"`
}

type calicoHostEndpoint struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Node          string               `json:"node,omitempty"`
		InterfaceName string               `json:"interfaceName,omitempty"`
		ExpectedIPs   []string             `json:"expectedIPs,omitempty"`
		Profiles      []string             `json:"profiles,omitempty"`
		Ports         []calicoEndpointPort `json:"ports,omitempty"`
	} `json:"spec"`
}

type calicoWorkloadEndpoint struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		Orchestrator               string               `json:"orchestrator,omitempty"`
		Workload                   string               `json:"workload,omitempty"`
		Node                       string               `json:"node,omitempty"`
		ContainerID                string               `json:"containerID,omitempty"`
		Pod                        string               `json:"pod,omitempty"`
		Endpoint                   string               `json:"endpoint,omitempty"`
		ServiceAccountName         string               `json:"serviceAccountName,omitempty"`
		IPNetworks                 []string             `json:"ipNetworks,omitempty"`
		IPNATs                     []json.RawMessage    `json:"ipNATs,omitempty"`
		IPv4Gateway                string               `json:"ipv4Gateway,omitempty"`
		IPv6Gateway                string               `json:"ipv6Gateway,omitempty"`
		Profiles                   []string             `json:"profiles,omitempty"`
		InterfaceName              string               `json:"interfaceName,omitempty"`
		MAC                        string               `json:"mac,omitempty"`
		Ports                      []calicoEndpointPort `json:"ports,omitempty"`
		AllowSpoofedSourcePrefixes []string             `json:"allowSpoofedSourcePrefixes,omitempty"`
	} `json:"spec"`
}

// numOrString is a YAML scalar that may be written as a number or a string
// (ports, protocols); it keeps the text so errors can quote it.
type numOrString struct {
	Text     string
	IsNumber bool
	Number   int
	// Invalid holds the JSON of a value that is neither a whole number
	// nor a string. Decoding records it rather than failing, so that the
	// validator can report it under its full field path (a decoding error
	// from UnmarshalJSON carries no path) along with the object's other
	// problems.
	Invalid string
}

// UnmarshalJSON accepts 80, "80", "TCP" and "1000:2000", and records
// anything else in Invalid.
func (n *numOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*n = numOrString{Text: s}
		return nil
	}
	var f float64
	if err := json.Unmarshal(b, &f); err != nil || f != math.Trunc(f) {
		*n = numOrString{Invalid: string(b)}
		return nil
	}
	// Clamp huge numbers into int32 so that range checks still reject them.
	v := int(max(min(f, math.MaxInt32), math.MinInt32))
	*n = numOrString{Text: strconv.Itoa(v), IsNumber: true, Number: v}
	return nil
}

// check reports a value that is neither a whole number nor a string.
func (n numOrString) check() error {
	if n.Invalid != "" {
		return fmt.Errorf("want a whole number or a string, got %s", n.Invalid)
	}
	return nil
}

// MarshalJSON writes the value back as it was given.
func (n numOrString) MarshalJSON() ([]byte, error) {
	switch {
	case n.Invalid != "":
		return []byte(n.Invalid), nil
	case n.IsNumber:
		return []byte(strconv.Itoa(n.Number)), nil
	}
	return json.Marshal(n.Text)
}
