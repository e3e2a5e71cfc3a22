package main

import (
	"fmt"
	"os/exec"
	"path"
	"strings"
)

// sharedLibs lists the shared libraries a dynamically linked program
// loads, the program interpreter (ld-linux) included, as ldd resolves them
// on the build host. The vDSO, which the kernel provides, is left out; a
// library ldd cannot find is an error, since the image would not run.
func sharedLibs(prog string) ([]string, error) {
	out, err := exec.Command("ldd", prog).CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a dynamic executable") {
			return nil, nil // static: nothing to bring
		}
		return nil, fmt.Errorf("ldd %s: %w: %s", prog, err, strings.TrimSpace(string(out)))
	}
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case len(f) >= 3 && f[1] == "=>" && f[2] == "not":
			return nil, fmt.Errorf("%s: shared library %s not found", prog, f[0])
		case len(f) >= 3 && f[1] == "=>" && path.IsAbs(f[2]):
			libs = append(libs, f[2])
		case path.IsAbs(f[0]): // the interpreter: "/lib64/ld-linux-x86-64.so.2 (0x...)"
			libs = append(libs, f[0])
		}
	}
	return libs, nil
}
