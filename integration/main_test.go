package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// flowgateBin is the flowgate binary the agent tests run, built once
// (with the race detector when FLOWGATE_TEST_RACE=1).
var flowgateBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fgbin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	flowgateBin = filepath.Join(dir, "flowgate")
	args := []string{"build", "-o", flowgateBin}
	if os.Getenv("FLOWGATE_TEST_RACE") == "1" {
		// The agents the tests start report data races (with
		// GORACE=halt_on_error=1 they exit, and the test prints their log).
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, "github.com/flowgate/flowgate/cmd/flowgate")...).CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build flowgate: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
