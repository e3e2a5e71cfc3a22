package ovsdb

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/ovn-org/libovsdb/model"
	libovsdb "github.com/ovn-org/libovsdb/ovsdb"

	"github.com/flowgate/flowgate/ovs/sandbox"
)

// TestModelsMatchSchema validates the hand-written models against the
// schema Open vSwitch ships, without a server: a column renamed or retyped
// upstream fails here rather than at an agent's Connect.
func TestModelsMatchSchema(t *testing.T) {
	b, err := os.ReadFile(sandbox.SchemaPath)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("read schema: %v", err)
		}
		t.Skipf("no Open vSwitch schema: %v", err)
	}
	var schema libovsdb.DatabaseSchema
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatalf("parse %s: %v", sandbox.SchemaPath, err)
	}
	cm, err := clientModel()
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := model.NewDatabaseModel(schema, cm); len(errs) > 0 {
		t.Fatalf("models do not match %s: %v", sandbox.SchemaPath, errs)
	}
}
