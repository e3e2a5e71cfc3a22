package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func TestLoadConf(t *testing.T) {
	c, err := loadConf([]byte(`{"cniVersion":"1.0.0","name":"n","type":"flowgate-cni","ipam":{"type":"host-local"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Bridge != "br-int" || c.OVSDB != "unix:/var/run/openvswitch/db.sock" || c.waitForAgent != 10*time.Second {
		t.Errorf("defaults: %+v", c)
	}
	c, err = loadConf([]byte(`{"type":"flowgate-cni","ovsRunDir":"/run/ovs","waitForAgent":"0s","ipam":{"type":"host-local"}}`))
	if err != nil || c.OVSDB != "unix:/run/ovs/db.sock" || c.waitForAgent != 0 {
		t.Errorf("%+v %v", c, err)
	}
	for _, bad := range []string{
		`{"type":"flowgate-cni"}`,
		`{"type":"flowgate-cni","waitForAgent":"soon","ipam":{"type":"host-local"}}`,
		`{"type":`,
	} {
		if _, err := loadConf([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestPodIdentity(t *testing.T) {
	id, err := podIdentity("IgnoreUnknown=1;K8S_POD_NAMESPACE=prod;K8S_POD_NAME=db-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=u")
	if err != nil || id != "prod/db-0" {
		t.Errorf("%q %v", id, err)
	}
	if _, err := podIdentity("IgnoreUnknown=1;K8S_POD_NAME=db-0"); err == nil {
		t.Error("missing namespace accepted")
	}
}

func TestHostVethName(t *testing.T) {
	a, b := hostVethName("c1", "eth0"), hostVethName("c1", "eth1")
	if a == b || len(a) > 15 || !strings.HasPrefix(a, "fg") || hostVethName("c1", "eth0") != a {
		t.Errorf("%q %q", a, b)
	}
}

func TestRenderConflist(t *testing.T) {
	tmpl, err := os.ReadFile("../../deploy/kubernetes/cni.conflist")
	if err != nil {
		t.Fatal(err)
	}
	out, err := renderConflist(tmpl, []string{"10.244.3.0/24", "fd00::/64"})
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Plugins []struct {
			Type string
			IPAM struct {
				Ranges [][]struct{ Subnet string }
			}
		}
	}
	if err := json.Unmarshal(out, &list); err != nil {
		t.Fatal(err)
	}
	r := list.Plugins[0].IPAM.Ranges
	if list.Plugins[0].Type != "flowgate-cni" || len(r) != 2 || r[0][0].Subnet != "10.244.3.0/24" || r[1][0].Subnet != "fd00::/64" {
		t.Errorf("rendered:\n%s", out)
	}
	if _, err := renderConflist(tmpl, nil); err == nil || !strings.Contains(err.Error(), "no pod CIDR") {
		t.Errorf("no CIDRs: %v", err)
	}
	if _, err := renderConflist(tmpl, []string{"10.0.0.0/33"}); err == nil {
		t.Error("bad CIDR accepted")
	}
}
