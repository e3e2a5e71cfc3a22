package compiler

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestCookieCategoriesDocumented: docs/pipeline.md's cookie row names
// every category the compiler declares, and the shared-mode mark, so the
// bit table cannot drift from the code.
func TestCookieCategoriesDocumented(t *testing.T) {
	data, err := os.ReadFile("../../docs/pipeline.md")
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "| cookie |") {
			row = line
		}
	}
	if row == "" {
		t.Fatal("docs/pipeline.md has no `| cookie |` row")
	}
	seen := map[uint8]bool{}
	for _, c := range Categories {
		if seen[c.Value] {
			t.Errorf("category %#x declared twice", c.Value)
		}
		seen[c.Value] = true
		if !strings.Contains(row, c.Doc) {
			t.Errorf("docs/pipeline.md's cookie row does not name category %q", c.Doc)
		}
	}
	if mark := fmt.Sprintf("0x%x", SharedCookieMark>>32); !strings.Contains(string(data), "`"+mark+"`") {
		t.Errorf("docs/pipeline.md does not name the shared cookie mark %s", mark)
	}
}
