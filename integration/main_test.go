package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// flowgateBin is the flowgate binary the agent tests run, built once.
var flowgateBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fgbin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	flowgateBin = filepath.Join(dir, "flowgate")
	out, err := exec.Command("go", "build", "-o", flowgateBin, "github.com/flowgate/flowgate/cmd/flowgate").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build flowgate: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
