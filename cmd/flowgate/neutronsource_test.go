package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/flowgate/flowgate/cmd/flowgate/agent"
	"github.com/flowgate/flowgate/endpoints/files"
	"github.com/flowgate/flowgate/endpoints/state"
	"github.com/flowgate/flowgate/translator/neutron"
)

// TestNeutronSource: the agent's neutronPaths source makes of a directory
// of Neutron JSON exactly the objects `import openstack` converts; a bad
// file is reported with file, object and field and its last good content
// stays; a deleted file takes its objects with it.
func TestNeutronSource(t *testing.T) {
	dir := t.TempDir()
	names := []string{"address-groups.json", "ports.json", "security-groups.json"} // name order
	for _, n := range names {
		data, err := os.ReadFile(neutronSample + n)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, n, string(data))
	}
	writeFile(t, dir, ".ports.json.tmp-1", "{")  // an atomic writer's temporary: skipped
	writeFile(t, dir, "notes.yaml", "not: json") // not Neutron JSON: skipped
	convert := func(names ...string) []any {
		t.Helper()
		var inputs []*neutron.Input
		for _, n := range names {
			data, err := os.ReadFile(filepath.Join(dir, n))
			if err != nil {
				t.Fatal(err)
			}
			in, errs := neutron.Decode(filepath.Join(dir, n), data)
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			inputs = append(inputs, in)
		}
		im, errs := agent.ConvertNeutron(inputs)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		var out []any
		for _, o := range im.Objects() {
			out = append(out, o)
		}
		return out
	}
	// The source's objects carry their documents (served on /objects;
	// TestNeutronObjectsServed); the conversion's are compared without.
	objects := func(snap files.Snapshot) []any {
		var out []any
		for _, o := range snap.Objects {
			o.Document = nil
			out = append(out, o)
		}
		return out
	}

	// A source reads a file only once it has been left alone for
	// files.PollQuiet (it may still be being written).
	settle := func() { time.Sleep(files.PollQuiet + 50*time.Millisecond) }
	settle()
	src := files.NewFormatSource([]string{dir}, agent.NeutronFormat())
	snap := src.Read()
	if len(snap.Problems) > 0 || !snap.Changed {
		t.Fatalf("first read: changed %v, problems %v", snap.Changed, snap.Problems)
	}
	want := convert(names...)
	if len(want) == 0 || !reflect.DeepEqual(objects(snap), want) {
		t.Fatalf("the source's %d objects differ from the import's %d", len(snap.Objects), len(want))
	}

	writeFile(t, dir, "ports.json", `{"ports": [{"id": "p1", "security_groups": 5}]}`)
	settle()
	snap = src.Read()
	if snap.Changed || len(snap.Problems) != 1 ||
		!strings.Contains(snap.Problems[0].Error(), "ports.json:1: Port p1: security_groups: want a list of strings") {
		t.Fatalf("bad ports file: changed %v, problems %v", snap.Changed, snap.Problems)
	}
	if !reflect.DeepEqual(objects(snap), want) {
		t.Fatal("a bad ports file changed the objects in force")
	}

	if err := os.Remove(filepath.Join(dir, "ports.json")); err != nil {
		t.Fatal(err)
	}
	snap = src.Read()
	if !snap.Changed || len(snap.Problems) > 0 || !reflect.DeepEqual(objects(snap), convert("address-groups.json", "security-groups.json")) {
		t.Fatalf("ports file removed: changed %v, problems %v, %d objects", snap.Changed, snap.Problems, len(snap.Objects))
	}
}

// TestNeutronSourceUsesSavedState: the Neutron source shares the policy
// source's last good state: a source started while ports.json is broken
// enforces its saved content; with nothing saved the snapshot is
// incomplete (the agent then programs nothing).
func TestNeutronSourceUsesSavedState(t *testing.T) {
	dir, stateDir := t.TempDir(), t.TempDir()
	for _, n := range []string{"address-groups.json", "ports.json", "security-groups.json"} {
		data, err := os.ReadFile(neutronSample + n)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, n, string(data))
	}
	time.Sleep(files.PollQuiet + 50*time.Millisecond)
	open := func(persist bool) *files.Source {
		src := files.NewFormatSource([]string{dir}, agent.NeutronFormat())
		if persist {
			st, err := state.Open(stateDir)
			if err != nil {
				t.Fatal(err)
			}
			src.Persist(st)
		}
		return src
	}
	good := open(true).Read()
	if len(good.Objects) == 0 || len(good.Problems)+len(good.Incomplete) != 0 {
		t.Fatalf("first read: %d objects, problems %v %v", len(good.Objects), good.Problems, good.Incomplete)
	}
	writeFile(t, dir, "ports.json", `{"ports": [{"id": "9a3c4a8e-0000`)
	time.Sleep(files.PollQuiet + 50*time.Millisecond)
	snap := open(true).Read()
	if len(snap.Incomplete) != 0 || len(snap.Problems) != 1 || len(snap.Objects) != len(good.Objects) {
		t.Fatalf("restarted with ports.json broken: %d objects (want %d), problems %v, incomplete %v",
			len(snap.Objects), len(good.Objects), snap.Problems, snap.Incomplete)
	}
	if snap := open(false).Read(); len(snap.Incomplete) != 1 || !strings.Contains(snap.Incomplete[0].Error(), "ports.json") {
		t.Fatalf("without saved state: incomplete %v", snap.Incomplete)
	}
}

// TestNeutronObjectsServed: the agent's Neutron objects carry the
// documents `import openstack` writes, so /objects serves them, and what
// it serves is the same world: diffing it against the import's YAML
// changes nothing, on every port the sample's rules name.
func TestNeutronObjectsServed(t *testing.T) {
	dir := t.TempDir()
	var inputs []*neutron.Input
	for _, n := range []string{"address-groups.json", "ports.json", "security-groups.json"} {
		data, err := os.ReadFile(neutronSample + n)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, n, string(data))
		in, errs := neutron.Decode(n, data)
		if len(errs) > 0 {
			t.Fatal(errs)
		}
		inputs = append(inputs, in)
	}
	time.Sleep(files.PollQuiet + 50*time.Millisecond)
	snap := files.NewFormatSource([]string{dir}, agent.NeutronFormat()).Read()
	if len(snap.Problems)+len(snap.Incomplete) > 0 || len(snap.Objects) == 0 {
		t.Fatalf("Neutron source: %d objects, problems %v %v", len(snap.Objects), snap.Problems, snap.Incomplete)
	}
	objs := snap.Objects
	for _, o := range objs {
		if len(o.Document) == 0 {
			t.Errorf("%s has no document", o.Ref())
		}
	}
	im, errs := agent.ConvertNeutron(inputs)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	var yaml strings.Builder
	if err := im.WriteYAML(&yaml); err != nil {
		t.Fatal(err)
	}
	imported := writeFile(t, t.TempDir(), "imported.yaml", yaml.String())
	var served agent.EnforcedObjects
	served.Set(objs)
	srv := httptest.NewServer(&served)
	defer srv.Close()
	r := run(t, "diff", "--agent", strings.TrimPrefix(srv.URL, "http://"), "--after", imported,
		"--ports", "22,80,5432,8080", "--protocols", "tcp,icmp", "--extra-addresses", "203.0.113.9,10.0.0.1")
	if r.code != 0 {
		t.Errorf("served Neutron objects against their import: exit %d (%v)\n%s", r.code, r.err, r.stdout)
	}
	// The served world is not empty: against nothing, it differs.
	empty := writeFile(t, t.TempDir(), "empty.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
	if r := run(t, "diff", "--agent", strings.TrimPrefix(srv.URL, "http://"), "--after", empty, "--ports", "22"); r.code != 3 {
		t.Errorf("served Neutron objects against an empty world: exit %d, want 3", r.code)
	}
}
